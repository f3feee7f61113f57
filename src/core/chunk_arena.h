// Append-only storage for the bytes of change chunks (History's arena).
//
// Bytes once written never move: they live in blocks that are filled and never reallocated.
// One growing buffer cost a copy of everything and a fresh set of page faults at every
// doubling, about half of a commit's time on the per-edit editing trace. Blocks grow
// geometrically up to kMaxBlock so that a document of a few changes stays a few KiB.
// A view stays valid until truncate() cuts below it or the arena is destroyed. Copies are deep.
// Internal to am_core; not thread-safe.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "am/bytes.h"

namespace am::core {

class ChunkArena {
 public:
  /// Where bytes are: a block and a range in it. `block == kNowhere` = not stored.
  struct Loc {
    std::uint32_t block = kNowhere;
    std::uint32_t pos = 0;
    std::uint32_t size = 0;
    bool stored() const { return block != kNowhere; }
    std::uint64_t end_key() const { return (std::uint64_t{block} << 32) | (std::uint64_t{pos} + size); }
  };
  static constexpr std::uint32_t kNowhere = UINT32_MAX;
  static constexpr std::size_t kMinBlock = 1024;
  static constexpr std::size_t kMaxBlock = std::size_t{1} << 20;

  /// Stores a copy of `bytes`. REQUIRES: bytes.size() < 4 GiB.
  Loc append(ByteView bytes) {
    if (blocks_.empty() || room() < bytes.size()) start_block(bytes.size());
    Bytes& b = blocks_.back();
    const Loc loc{static_cast<std::uint32_t>(blocks_.size() - 1), static_cast<std::uint32_t>(b.size()),
                  static_cast<std::uint32_t>(bytes.size())};
    b.insert(b.end(), bytes.begin(), bytes.end());  // within capacity: never reallocates
    return loc;
  }

  ByteView view(const Loc& loc) const { return ByteView(blocks_[loc.block]).subspan(loc.pos, loc.size); }

  /// Makes room for `bytes` more bytes in one block (a hint before many appends).
  void reserve(std::size_t bytes) {
    if (blocks_.empty() || room() < bytes) start_block(bytes);
  }

  /// Keeps only what ends at or before `last` (the stored Loc that ends last among those kept);
  /// no argument drops everything. Capacity is kept for later appends.
  void truncate(const Loc* last = nullptr) {
    if (last == nullptr || !last->stored()) {
      blocks_.clear();
      return;
    }
    blocks_.resize(last->block + std::size_t{1});
    blocks_.back().resize(std::size_t{last->pos} + last->size);
  }

  /// The bytes held (sum of block capacities), for memory reports.
  std::size_t capacity() const {
    std::size_t n = 0;
    for (const Bytes& b : blocks_) n += b.capacity();
    return n;
  }

 private:
  std::size_t room() const { return blocks_.back().capacity() - blocks_.back().size(); }

  void start_block(std::size_t at_least) {
    const std::size_t previous = blocks_.empty() ? 0 : blocks_.back().capacity();
    const std::size_t grown = std::clamp(previous * 2, kMinBlock, kMaxBlock);
    blocks_.emplace_back();
    blocks_.back().reserve(std::max(grown, at_least));
  }

  std::vector<Bytes> blocks_;
};

}  // namespace am::core
