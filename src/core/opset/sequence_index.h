// Positional index for list and text objects.
//
// A list or text object is a sequence of elements in document (RGA) order. Elements are never
// removed: a deleted element stays in the sequence with width 0. Every element has a width in two
// units, `chars` (1 for a visible list element, the number of Unicode code points for text, 0 when
// deleted or for a mark boundary) and `utf16` (UTF-16 code units). The CRDT refers to elements by
// a Handle it chooses (dense: 0, 1, 2, ...); the index maps between handles, element indexes and
// visible offsets in either unit.
#pragma once

#include <algorithm>
#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/opset/node_pool.h"
#include "core/util/big_alloc.h"

namespace am::core {

/// The width of one sequence element in both units. Value type.
struct SeqWidth {
  std::uint32_t chars = 0;
  std::uint32_t utf16 = 0;

  friend bool operator==(const SeqWidth&, const SeqWidth&) = default;
};

/// Which width a visible offset counts in.
enum class WidthUnit : std::uint8_t { kChars = 0, kUtf16 = 1 };

/// An order-statistic B+tree over the elements of one sequence.
///
/// Leaves hold up to kLeafCapacity handles with their widths; inner nodes hold up to
/// kInnerCapacity children with each child's element count and width sums in both units. Nodes
/// live in two pools (NodePool: blocks that never move) and refer to each other by index; every
/// node knows its parent and every leaf its neighbours; a handle -> leaf array makes
/// index_of/offset_of a walk up the tree.
/// A full leaf splits at the insertion point, kept within [1/8, 7/8] of the leaf, so that typing
/// (anywhere in the text) leaves leaves 7/8 full; a full inner node splits in half, or keeps 7/8
/// when the new entry goes at its very end.
///
/// Complexity (n elements, B = kLeafCapacity): insert, insert_after, set_width, index_of,
/// offset_of, at, find_by_offset, last_visible_before: O(log n + B). size, total_width, contains,
/// first: O(1). width_of, next, prev: O(B), independent of n. Memory: about 12-20 bytes per
/// element (a byte per width unit in the leaves, the handle and its leaf). Nothing is allocated
/// per operation in the steady state: the pools add blocks of doubling size, and reserve() sizes
/// the handle map up front.
///
/// Handles are chosen by the caller and used as array indexes: keep them dense. Preconditions
/// (REQUIRES below) are internal-API contracts checked only by debug assertions.
///
/// Ownership: a plain value that owns its storage; copyable and movable.
/// Thread safety: not thread-safe; concurrent const calls on a shared object are safe.
class SequenceIndex {
 public:
  using Handle = std::uint32_t;
  static constexpr Handle kNone = UINT32_MAX;
  static constexpr std::uint32_t kLeafCapacity = 64;
  static constexpr std::uint32_t kInnerCapacity = 32;

  /// Number of elements, visible or not.
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  /// Sum of the widths of all elements in unit u.
  std::uint64_t total_width(WidthUnit u) const { return total_[unit_index(u)]; }

  /// Inserts h so that afterwards index_of(h) == pos.
  /// REQUIRES: pos <= size(), h != kNone, !contains(h).
  void insert(std::size_t pos, Handle h, SeqWidth w);
  /// Inserts h directly after prev, or at the front when prev == kNone.
  /// REQUIRES: prev == kNone or contains(prev); h != kNone, !contains(h).
  void insert_after(Handle prev, Handle h, SeqWidth w);
  /// Changes the width of an element (e.g. to 0 when it is deleted); O(1) beyond finding h when
  /// the width is unchanged. REQUIRES: contains(h).
  void set_width(Handle h, SeqWidth w);

  /// REQUIRES: contains(h).
  SeqWidth width_of(Handle h) const;
  bool contains(Handle h) const { return h < leaf_of_.size() && leaf_of_[h] != kNoNode; }
  /// Element index of h (counting visible and invisible elements). REQUIRES: contains(h).
  std::size_t index_of(Handle h) const;
  /// Sum of the widths in unit u of the elements before h. REQUIRES: contains(h).
  std::uint64_t offset_of(Handle h, WidthUnit u) const;
  /// The element at index pos; kNone if pos >= size().
  Handle at(std::size_t pos) const;

  /// The first element; kNone when empty.
  Handle first() const { return size_ == 0 ? kNone : leaves_[0].items[0]; }
  /// The element after / before h; kNone at the ends. REQUIRES: contains(h).
  Handle next(Handle h) const;
  Handle prev(Handle h) const;
  /// Walks the elements in order, leaf by leaf: every step O(1), unlike next(), which finds its
  /// element's slot first (O(B), and a cache miss in the handle map). Invalidated by any change.
  class Iterator {
   public:
    using value_type = Handle;
    using difference_type = std::ptrdiff_t;
    Iterator() = default;
    Handle operator*() const { return index_->leaves_[leaf_].items[slot_]; }
    /// The element's width (what width_of would return), without a lookup.
    SeqWidth width() const { return index_->width_in(index_->leaves_[leaf_], slot_); }
    Iterator& operator++() {
      const Leaf& l = index_->leaves_[leaf_];
      if (++slot_ == l.size) {
        leaf_ = l.next;
        slot_ = 0;
      }
      return *this;
    }
    friend bool operator==(const Iterator& a, const Iterator& b) {
      return a.leaf_ == b.leaf_ && a.slot_ == b.slot_;
    }

   private:
    friend class SequenceIndex;
    Iterator(const SequenceIndex* index, std::uint32_t leaf) : index_(index), leaf_(leaf) {}
    const SequenceIndex* index_ = nullptr;
    std::uint32_t leaf_ = UINT32_MAX;  // kNoNode at the end
    std::uint32_t slot_ = 0;
  };
  Iterator begin() const { return Iterator(this, size_ == 0 ? kNoNode : 0); }  // leaf 0 is leftmost
  /// An iterator at h: O(B). REQUIRES: contains(h).
  Iterator iterator_at(Handle h) const {
    Iterator it(this, leaf_of_[h]);
    it.slot_ = slot_in_leaf(leaves_[leaf_of_[h]], h);
    return it;
  }
  Iterator end() const { return Iterator(this, kNoNode); }

  /// Calls f(handles) with the elements of each leaf in turn, in order: every element once,
  /// O(n) in all, unlike n calls of next(); a caller can prefetch ahead within a leaf.
  template <class F>
  void for_each_leaf(F&& f) const {
    if (size_ == 0) return;
    for (NodeId n = 0; n != kNoNode; n = leaves_[n].next) {  // leaves_[0] is the leftmost leaf
      const Leaf& leaf = leaves_[n];
      if (leaf.next != kNoNode) {  // leaves are scattered in their pool: fetch the next one's items
        const Leaf& next = leaves_[leaf.next];
        for (std::uint32_t i = 0; i < kLeafCapacity; i += 16) __builtin_prefetch(&next.items[i]);
        __builtin_prefetch(&next.size);
      }
      f(std::span<const Handle>(leaf.items.data(), leaf.size));
    }
  }
  /// Calls f(h) for every element in order.
  template <class F>
  void for_each(F&& f) const {
    for_each_leaf([&](std::span<const Handle> handles) {
      for (const Handle h : handles) f(h);
    });
  }

  /// Calls f(h) for every element of non-zero width in chars, in order, skipping subtrees
  /// whose elements are all of width 0: O(visible elements + the leaves holding them) where
  /// a walk of every element is O(n) (most of a long-edited text is deleted characters).
  template <class F>
  void for_each_visible(F&& f) const {
    if (size_ == 0 || total_[0] == 0) return;
    visible_below(root_, height_ == 0, f);
  }

  /// The element that holds visible offset `off`: the first element e with width(e, u) > 0 and
  /// offset_of(e, u) <= off < offset_of(e, u) + width(e, u). kNone if off >= total_width(u).
  Handle find_by_offset(std::uint64_t off, WidthUnit u) const;
  /// The visible element (width > 0) that covers offset off - 1, i.e. the element to insert after
  /// when inserting at visible offset off. kNone when off == 0 or off > total_width(u).
  Handle last_visible_before(std::uint64_t off, WidthUnit u) const;

  /// Fills an empty index with the handles 0 .. n-1 in that order, handle h with width_at(h):
  /// leaves 7/8 full (room to type without splitting at once), every level built once, O(n),
  /// where n insert_after calls would walk up the tree each. REQUIRES: empty(), no node yet.
  template <class WidthAt>
  void assign_in_order(std::size_t n, WidthAt&& width_at);

  /// Sizes the handle map for n elements (a hint; the index grows past it as needed).
  void reserve(std::size_t n);

  /// For tests: checks every structural invariant (counts, sums, parent and sibling links, the
  /// handle -> leaf map) in O(n). Returns an empty string if all hold, else the first violation.
  std::string check_invariants() const;

 private:
  using NodeId = std::uint32_t;
  static constexpr NodeId kNoNode = UINT32_MAX;

  static constexpr unsigned unit_index(WidthUnit u) { return static_cast<unsigned>(u); }

  // Widths are stored per unit so that a scan in one unit reads contiguous memory, a byte each:
  // an element is one character or list item (width 0 to 2), and a document has a leaf per ~56
  // elements, 400 bytes instead of 784 with 32-bit widths. A width of kWide or more is kept in
  // wide_, by handle, with kWide in both bytes.
  static constexpr std::uint8_t kWide = 0xFF;
  struct Leaf {
    NodeId parent = kNoNode;
    NodeId prev = kNoNode;
    NodeId next = kNoNode;
    std::uint32_t size = 0;
    std::array<Handle, kLeafCapacity> items{};
    std::array<std::array<std::uint8_t, kLeafCapacity>, 2> width{};
  };
  struct Inner {
    NodeId parent = kNoNode;
    std::uint32_t size = 0;
    bool leaf_children = false;
    std::array<NodeId, kInnerCapacity> child{};
    std::array<std::uint32_t, kInnerCapacity> count{};
    std::array<std::array<std::uint64_t, kInnerCapacity>, 2> sum{};
  };
  // Element count and width sums of a run of entries being moved between nodes.
  struct Totals {
    std::uint32_t count = 0;
    std::array<std::uint64_t, 2> sum{};
  };

  template <class F>
  void visible_below(NodeId node, bool is_leaf, F& f) const {
    if (is_leaf) {
      const Leaf& leaf = leaves_[node];
      for (std::uint32_t i = 0; i < leaf.size; ++i) {
        if (width_in(leaf, 0, i) != 0) f(leaf.items[i]);
      }
      return;
    }
    const Inner& inner = inners_[node];  // recursion as deep as the tree (a few levels)
    for (std::uint32_t i = 0; i < inner.size; ++i) {
      if (inner.sum[0][i] != 0) visible_below(inner.child[i], inner.leaf_children, f);
    }
  }
  // The width of the element in slot i of `leaf`, in unit k or both.
  std::uint32_t width_in(const Leaf& leaf, unsigned k, std::uint32_t i) const {
    const std::uint8_t w = leaf.width[k][i];
    if (w != kWide) [[likely]] return w;
    const auto it = wide_.find(leaf.items[i]);
    assert(it != wide_.end());
    return it->second[k];
  }
  SeqWidth width_in(const Leaf& leaf, std::uint32_t i) const {
    return {width_in(leaf, 0, i), width_in(leaf, 1, i)};
  }
  // Sets the width of slot i, whose handle is set (inline: assign_in_order stores millions).
  void store_width(Leaf& leaf, std::uint32_t i, SeqWidth w) {
    if (w.chars < kWide && w.utf16 < kWide) [[likely]] {
      leaf.width[0][i] = static_cast<std::uint8_t>(w.chars);
      leaf.width[1][i] = static_cast<std::uint8_t>(w.utf16);
      if (!wide_.empty()) [[unlikely]] wide_.erase(leaf.items[i]);  // it may have been wide
      return;
    }
    store_wide_width(leaf, i, w);
  }
  void store_wide_width(Leaf& leaf, std::uint32_t i, SeqWidth w);
  static std::uint32_t slot_in_leaf(const Leaf& leaf, Handle h);
  static std::uint32_t slot_in_parent(const Inner& parent, NodeId child);
  NodeId parent_of(NodeId node, bool is_leaf) const;
  void set_parent(NodeId node, bool is_leaf, NodeId parent);
  NodeId new_leaf();
  NodeId new_inner();

  void insert_in_leaf(NodeId leaf, std::uint32_t slot, Handle h, SeqWidth w);
  NodeId split_leaf(NodeId leaf, std::uint32_t mid);
  NodeId split_inner(NodeId node, std::uint32_t mid);
  void insert_child_after(NodeId left, bool is_leaf, NodeId right, const Totals& moved);
  // assign_in_order, above the leaves: the inner levels over leaves 0 .. leaves_.size()-1.
  void build_levels_over_leaves();
  void add_to_ancestors(NodeId leaf, std::uint32_t dcount, std::uint64_t dchars,
                        std::uint64_t dutf16);

  NodePool<Leaf, 1> leaves_;      // leaves_[0], once created, is always the leftmost leaf
  NodePool<Inner, 1> inners_;
  BigVector<NodeId> leaf_of_;   // handle -> leaf holding it, kNoNode if absent
  std::unordered_map<Handle, std::array<std::uint32_t, 2>> wide_;  // widths of kWide or more
  NodeId root_ = kNoNode;
  std::uint32_t height_ = 0;      // levels of inner nodes above the leaves
  std::size_t size_ = 0;
  std::array<std::uint64_t, 2> total_{};
};

template <class WidthAt>
void SequenceIndex::assign_in_order(std::size_t n, WidthAt&& width_at) {
  if (n == 0) return;
  constexpr std::uint32_t kFill = kLeafCapacity - kLeafCapacity / 8;
  leaf_of_.assign(n, kNoNode);
  NodeId prev = kNoNode;
  for (std::size_t first = 0; first < n; first += kFill) {
    const NodeId id = new_leaf();
    Leaf& leaf = leaves_[id];
    leaf.prev = prev;
    if (prev != kNoNode) leaves_[prev].next = id;
    const auto count = static_cast<std::uint32_t>(std::min<std::size_t>(kFill, n - first));
    for (std::uint32_t i = 0; i < count; ++i) {
      const auto h = static_cast<Handle>(first + i);
      const SeqWidth w = width_at(h);
      leaf.items[i] = h;
      store_width(leaf, i, w);
      total_[0] += w.chars;
      total_[1] += w.utf16;
      leaf_of_[h] = id;
    }
    leaf.size = count;
    prev = id;
  }
  size_ = n;
  build_levels_over_leaves();
}

}  // namespace am::core
