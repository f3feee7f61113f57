// NodePool: an append-only array of trivially copyable nodes that never moves them.
// Internal to am_core; not thread-safe.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

#include "core/util/big_alloc.h"

namespace am::core {

/// Nodes by index in blocks that double in size (kFirst, kFirst, 2 kFirst, 4 kFirst, ...): a
/// sequence with a few elements costs one small block, a long text a handful of big ones. Growing
/// never copies a node (a vector of 784-byte leaves copied them all on every growth, which was a
/// tenth of loading a long text) and a block's unused tail is never written, so it costs address
/// space, not memory; big blocks are huge pages (allocate_big). Index arithmetic: one bit_width and two loads. Copies are deep. Value type.
template <class T, std::size_t kFirst = 1>
class NodePool {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);
  static_assert(std::has_single_bit(kFirst));

 public:
  NodePool() = default;
  NodePool(const NodePool& o) { copy_from(o); }
  NodePool(NodePool&&) noexcept = default;
  NodePool& operator=(const NodePool& o) {
    if (this != &o) {
      blocks_.clear();
      size_ = 0;
      copy_from(o);
    }
    return *this;
  }
  NodePool& operator=(NodePool&&) noexcept = default;

  std::size_t size() const { return size_; }
  T& operator[](std::size_t i) { return blocks_[block_of(i)][offset_in_block(i)]; }
  const T& operator[](std::size_t i) const { return blocks_[block_of(i)][offset_in_block(i)]; }

  /// Appends a value-initialised node; returns its index.
  std::size_t emplace_back() {
    const std::size_t i = size_;
    const std::size_t b = block_of(i);
    if (b == blocks_.size()) {
      blocks_.emplace_back(static_cast<T*>(allocate_block(b)), Free{sizeof(T) * block_size(b)});
    }
    ::new (&blocks_[b][offset_in_block(i)]) T();
    ++size_;
    return i;
  }

 private:
  static_assert(alignof(T) <= alignof(std::max_align_t));
  // Blocks come from allocate_big, whose free needs the size.
  struct Free {
    std::size_t bytes = 0;
    void operator()(T* p) const { free_big(p, bytes); }
  };
  static void* allocate_block(std::size_t b) { return allocate_big(sizeof(T) * block_size(b)); }
  static constexpr std::size_t kShift = std::bit_width(kFirst) - 1;

  // Block 0 holds [0, kFirst); block b >= 1 holds [kFirst 2^(b-1), kFirst 2^b).
  static std::size_t block_of(std::size_t i) {
    return i < kFirst ? 0 : static_cast<std::size_t>(std::bit_width(i)) - kShift;
  }
  static std::size_t offset_in_block(std::size_t i) {
    return i < kFirst ? i : i - (std::size_t{1} << (std::bit_width(i) - 1));
  }
  static std::size_t block_size(std::size_t b) { return b == 0 ? kFirst : kFirst << (b - 1); }

  void copy_from(const NodePool& o) {
    for (std::size_t b = 0; b < o.blocks_.size(); ++b) {
      blocks_.emplace_back(static_cast<T*>(allocate_block(b)), Free{sizeof(T) * block_size(b)});
      const std::size_t first = b == 0 ? 0 : kFirst << (b - 1);
      const std::size_t used = o.size_ - first < block_size(b) ? o.size_ - first : block_size(b);
      std::memcpy(static_cast<void*>(blocks_[b].get()), o.blocks_[b].get(), sizeof(T) * used);
    }
    size_ = o.size_;
  }

  std::vector<std::unique_ptr<T[], Free>> blocks_;
  std::size_t size_ = 0;
};

}  // namespace am::core
