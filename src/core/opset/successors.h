// SuccList and SuccessorTable: the successors of an op set's ops (the ops that overwrote or
// deleted them, or incremented a counter). Internal to am_core; not thread-safe.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/opset/op_id_index.h"

namespace am::core {

/// An op's successors in one word: none, or one op id held inline (most ops that have any: a
/// deleted character has its delete), or more in a heap block of size, capacity and items. Ids
/// are read by value. Value type.
class SuccList {
 public:
  SuccList() = default;
  SuccList(const SuccList& o) { copy_from(o); }
  SuccList(SuccList&& o) noexcept : w_(o.w_) { o.w_ = 0; }
  SuccList& operator=(const SuccList& o) {
    if (this != &o) {
      release();
      copy_from(o);
    }
    return *this;
  }
  SuccList& operator=(SuccList&& o) noexcept {
    if (this != &o) {
      release();
      w_ = o.w_;
      o.w_ = 0;
    }
    return *this;
  }
  ~SuccList() { release(); }

  std::size_t size() const { return w_ == 0 ? 0 : inline_one() ? 1 : heap()->size; }
  bool empty() const { return w_ == 0; }
  OpId operator[](std::size_t i) const {
    if (inline_one()) return OpId{static_cast<std::uint32_t>(w_ >> 1), static_cast<std::uint32_t>(w_ >> 33)};
    return items()[i];
  }
  void push_back(OpId id) {
    if (w_ == 0 && id.actor < (1u << 31)) {
      w_ = (std::uint64_t{id.actor} << 33) | (std::uint64_t{id.counter} << 1) | 1u;
      return;
    }
    const std::uint32_t n = static_cast<std::uint32_t>(size());
    if (w_ == 0 || inline_one() || heap()->cap == n) {
      Header* q = allocate(n < 2 ? 4 : n * 2);
      for (std::uint32_t i = 0; i < n; ++i) reinterpret_cast<OpId*>(q + 1)[i] = (*this)[i];
      q->size = n;
      release();
      w_ = reinterpret_cast<std::uintptr_t>(q);
    }
    items()[n] = id;
    heap()->size = n + 1;
  }

  class Iterator {
   public:
    using value_type = OpId;
    using difference_type = std::ptrdiff_t;
    Iterator() = default;
    Iterator(const SuccList* l, std::size_t i) : l_(l), i_(i) {}
    OpId operator*() const { return (*l_)[i_]; }
    Iterator& operator++() {
      ++i_;
      return *this;
    }
    Iterator operator++(int) {
      Iterator t = *this;
      ++i_;
      return t;
    }
    friend bool operator==(const Iterator& a, const Iterator& b) { return a.i_ == b.i_; }

   private:
    const SuccList* l_ = nullptr;
    std::size_t i_ = 0;
  };
  Iterator begin() const { return Iterator(this, 0); }
  Iterator end() const { return Iterator(this, size()); }

 private:
  struct alignas(8) Header {
    std::uint32_t size = 0;
    std::uint32_t cap = 0;
  };
  bool inline_one() const { return (w_ & 1u) != 0; }
  Header* heap() const { return reinterpret_cast<Header*>(static_cast<std::uintptr_t>(w_)); }
  OpId* items() const { return reinterpret_cast<OpId*>(heap() + 1); }
  static Header* allocate(std::uint32_t cap) {
    auto* h = static_cast<Header*>(::operator new(sizeof(Header) + sizeof(OpId) * cap));
    h->cap = cap;
    h->size = 0;
    return h;
  }
  void release() {
    if (w_ != 0 && !inline_one()) ::operator delete(heap());
    w_ = 0;
  }
  void copy_from(const SuccList& o) {
    if (o.w_ == 0 || o.inline_one()) {
      w_ = o.w_;
      return;
    }
    Header* q = allocate(o.heap()->size);
    q->size = o.heap()->size;
    std::copy(o.items(), o.items() + q->size, reinterpret_cast<OpId*>(q + 1));
    w_ = reinterpret_cast<std::uintptr_t>(q);
  }
  std::uint64_t w_ = 0;  // 0: empty; low bit 1: one id (counter << 1, actor << 33); else a Header*
};

/// The successor lists of an op set's ops, by op index. Most ops of most documents have none (a
/// text typed and never deleted from), so the lists live in pages of kPageSize, a page made when
/// one of its ops first gets a successor. Where successors are dense (a text mostly deleted) a
/// list costs its 8 bytes and a page pointer; where there are none an op costs its share of a
/// page pointer (a quarter of a byte), not the 8 bytes a list in every op cost before.
/// Copies are deep. Value type; not thread-safe.
class SuccessorTable {
 public:
  static constexpr std::uint32_t kPageSize = 32;

  SuccessorTable() = default;
  SuccessorTable(const SuccessorTable& o) { copy_from(o); }
  SuccessorTable(SuccessorTable&&) noexcept = default;
  SuccessorTable& operator=(const SuccessorTable& o) {
    if (this != &o) {
      pages_.clear();
      copy_from(o);
    }
    return *this;
  }
  SuccessorTable& operator=(SuccessorTable&&) noexcept = default;

  /// Sizes the table for ops [0, n) (a hint: a page is still made only on first use).
  void reserve(std::size_t n) { pages_.reserve((n + kPageSize - 1) / kPageSize); }

  /// The successors of op `op`, in the order they were added (empty when it has none).
  const SuccList& of(std::uint32_t op) const {
    const SuccList* list = find(op);
    return list ? *list : kNoSuccessors;
  }
  /// The same, or null when the op's page was never made (it has none): for a loop over every
  /// op (save), one test instead of reading an empty list.
  const SuccList* find(std::uint32_t op) const {
    const std::size_t p = op / kPageSize;
    return p < pages_.size() && pages_[p] ? &pages_[p]->lists[op % kPageSize] : nullptr;
  }
  /// The successors of op `op`, to add to; its page is made on first use.
  SuccList& to_add(std::uint32_t op) {
    const std::size_t p = op / kPageSize;
    if (p >= pages_.size()) pages_.resize(p + 1);
    if (!pages_[p]) pages_[p] = std::make_unique<Page>();
    return pages_[p]->lists[op % kPageSize];
  }

 private:
  struct Page {
    std::array<SuccList, kPageSize> lists;
  };
  void copy_from(const SuccessorTable& o) {
    pages_.resize(o.pages_.size());
    for (std::size_t p = 0; p < o.pages_.size(); ++p) {
      if (o.pages_[p]) pages_[p] = std::make_unique<Page>(*o.pages_[p]);
    }
  }
  inline static const SuccList kNoSuccessors{};
  std::vector<std::unique_ptr<Page>> pages_;
};

}  // namespace am::core
