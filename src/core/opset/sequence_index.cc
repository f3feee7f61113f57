#include "core/opset/sequence_index.h"

#include <algorithm>

#include <cassert>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace am::core {

// ---- small helpers ----------------------------------------------------------------------------

std::uint32_t SequenceIndex::slot_in_leaf(const Leaf& leaf, Handle h) {
#if defined(__SSE2__)
  // 16 items per step, compared four at a time without a branch per item (every step reads
  // inside items: kLeafCapacity is a multiple of 16); items past size are masked off.
  static_assert(kLeafCapacity % 16 == 0);
  const __m128i key = _mm_set1_epi32(static_cast<int>(h));
  for (std::uint32_t i = 0; i < leaf.size; i += 16) {
    unsigned mask = 0;
    for (unsigned k = 0; k < 4; ++k) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(leaf.items.data() + i + 4 * k));
      mask |= static_cast<unsigned>(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(v, key)))) << (4 * k);
    }
    if (leaf.size - i < 16) mask &= (1u << (leaf.size - i)) - 1;
    if (mask != 0) return i + static_cast<std::uint32_t>(__builtin_ctz(mask));
  }
#else
  for (std::uint32_t i = 0; i < leaf.size; ++i) {
    if (leaf.items[i] == h) return i;
  }
#endif
  assert(false && "SequenceIndex: handle missing from its leaf");
  return leaf.size;
}

std::uint32_t SequenceIndex::slot_in_parent(const Inner& parent, NodeId child) {
  for (std::uint32_t i = 0; i < parent.size; ++i) {
    if (parent.child[i] == child) return i;
  }
  assert(false && "SequenceIndex: node missing from its parent");
  return parent.size;
}

SequenceIndex::NodeId SequenceIndex::parent_of(NodeId node, bool is_leaf) const {
  return is_leaf ? leaves_[node].parent : inners_[node].parent;
}

void SequenceIndex::set_parent(NodeId node, bool is_leaf, NodeId parent) {
  if (is_leaf) {
    leaves_[node].parent = parent;
  } else {
    inners_[node].parent = parent;
  }
}

SequenceIndex::NodeId SequenceIndex::new_leaf() { return static_cast<NodeId>(leaves_.emplace_back()); }

SequenceIndex::NodeId SequenceIndex::new_inner() { return static_cast<NodeId>(inners_.emplace_back()); }

void SequenceIndex::reserve(std::size_t n) { leaf_of_.reserve(n); }  // the node pools never move

// ---- updates ----------------------------------------------------------------------------------

void SequenceIndex::build_levels_over_leaves() {
  constexpr std::uint32_t kFill = kInnerCapacity - kInnerCapacity / 8;
  // The nodes of the level being grouped, with their totals.
  std::vector<NodeId> level(leaves_.size());
  std::vector<Totals> totals(leaves_.size());
  for (NodeId id = 0; id < leaves_.size(); ++id) {
    const Leaf& leaf = leaves_[id];
    level[id] = id;
    totals[id].count = leaf.size;
    for (std::uint32_t i = 0; i < leaf.size; ++i) {
      totals[id].sum[0] += width_in(leaf, 0, i);
      totals[id].sum[1] += width_in(leaf, 1, i);
    }
  }
  bool children_are_leaves = true;
  height_ = 0;
  while (level.size() > 1) {
    std::vector<NodeId> up;
    std::vector<Totals> up_totals;
    for (std::size_t first = 0; first < level.size(); first += kFill) {
      const NodeId id = new_inner();
      Inner& node = inners_[id];
      node.leaf_children = children_are_leaves;
      Totals t;
      const auto count = static_cast<std::uint32_t>(std::min<std::size_t>(kFill, level.size() - first));
      for (std::uint32_t i = 0; i < count; ++i) {
        const Totals& c = totals[first + i];
        node.child[i] = level[first + i];
        node.count[i] = c.count;
        node.sum[0][i] = c.sum[0];
        node.sum[1][i] = c.sum[1];
        set_parent(level[first + i], children_are_leaves, id);
        t.count += c.count;
        t.sum[0] += c.sum[0];
        t.sum[1] += c.sum[1];
      }
      node.size = count;
      up.push_back(id);
      up_totals.push_back(t);
    }
    level = std::move(up);
    totals = std::move(up_totals);
    children_are_leaves = false;
    ++height_;
  }
  root_ = level.front();
}

void SequenceIndex::insert(std::size_t pos, Handle h, SeqWidth w) {
  assert(pos <= size_);
  if (root_ == kNoNode) {
    root_ = new_leaf();
    height_ = 0;
  }
  // Descend by element count. A position on the boundary between two children goes to the end
  // of the left one, so that typing at a cursor appends to the leaf holding the previous element.
  NodeId node = root_;
  std::size_t rem = pos;
  for (std::uint32_t level = height_; level > 0; --level) {
    const Inner& n = inners_[node];
    std::uint32_t i = 0;
    while (i + 1 < n.size && rem > n.count[i]) {
      rem -= n.count[i];
      ++i;
    }
    node = n.child[i];
  }
  insert_in_leaf(node, static_cast<std::uint32_t>(rem), h, w);
}

void SequenceIndex::insert_after(Handle prev, Handle h, SeqWidth w) {
  if (prev == kNone) {
    if (root_ == kNoNode) {
      root_ = new_leaf();
      height_ = 0;
    }
    insert_in_leaf(0, 0, h, w);  // leaves_[0] is the leftmost leaf
    return;
  }
  assert(contains(prev));
  const NodeId leaf = leaf_of_[prev];
  insert_in_leaf(leaf, slot_in_leaf(leaves_[leaf], prev) + 1, h, w);
}

void SequenceIndex::insert_in_leaf(NodeId leaf, std::uint32_t slot, Handle h, SeqWidth w) {
  assert(h != kNone);
  assert(!contains(h) && "SequenceIndex: handle inserted twice");
  if (h >= leaf_of_.size()) leaf_of_.resize(std::size_t{h} + 1, kNoNode);

  if (leaves_[leaf].size == kLeafCapacity) {
    // Split before inserting: the sums above stay valid, and the new element is added after.
    // Split at the insertion point (within [1/8, 7/8] of the leaf): typing continues at the end
    // of the left part, and the leaves it fills end up 7/8 full, where splitting in half would
    // leave a half-full leaf behind every 32 characters typed mid-text.
    const std::uint32_t mid = std::clamp(slot, kLeafCapacity / 8, kLeafCapacity - kLeafCapacity / 8);
    const NodeId right = split_leaf(leaf, mid);
    if (slot > mid) {
      leaf = right;
      slot -= mid;
    }
  }

  Leaf& l = leaves_[leaf];
  assert(slot <= l.size);
  for (std::uint32_t i = l.size; i > slot; --i) {
    l.items[i] = l.items[i - 1];
    l.width[0][i] = l.width[0][i - 1];
    l.width[1][i] = l.width[1][i - 1];
  }
  l.items[slot] = h;
  store_width(l, slot, w);
  ++l.size;
  leaf_of_[h] = leaf;

  add_to_ancestors(leaf, 1, w.chars, w.utf16);
  ++size_;
  total_[0] += w.chars;
  total_[1] += w.utf16;
}

void SequenceIndex::set_width(Handle h, SeqWidth w) {
  assert(contains(h));
  const NodeId leaf = leaf_of_[h];
  Leaf& l = leaves_[leaf];
  const std::uint32_t slot = slot_in_leaf(l, h);
  const SeqWidth old = width_in(l, slot);
  if (old.chars == w.chars && old.utf16 == w.utf16) return;
  // Differences modulo 2^64: adding them to the unsigned sums gives the exact new sums.
  const std::uint64_t dchars = std::uint64_t{w.chars} - std::uint64_t{old.chars};
  const std::uint64_t dutf16 = std::uint64_t{w.utf16} - std::uint64_t{old.utf16};
  store_width(l, slot, w);
  add_to_ancestors(leaf, 0, dchars, dutf16);
  total_[0] += dchars;
  total_[1] += dutf16;
}

void SequenceIndex::store_wide_width(Leaf& leaf, std::uint32_t i, SeqWidth w) {
  leaf.width[0][i] = leaf.width[1][i] = kWide;
  wide_[leaf.items[i]] = {w.chars, w.utf16};
}

void SequenceIndex::add_to_ancestors(NodeId leaf, std::uint32_t dcount, std::uint64_t dchars,
                                     std::uint64_t dutf16) {
  NodeId node = leaf;
  NodeId p = leaves_[leaf].parent;
  while (p != kNoNode) {
    Inner& n = inners_[p];
    const std::uint32_t s = slot_in_parent(n, node);
    n.count[s] += dcount;
    n.sum[0][s] += dchars;
    n.sum[1][s] += dutf16;
    node = p;
    p = n.parent;
  }
}

SequenceIndex::NodeId SequenceIndex::split_leaf(NodeId leaf, std::uint32_t mid) {
  const NodeId right = new_leaf();  // may move leaves_: take references only after this
  Leaf& l = leaves_[leaf];
  Leaf& r = leaves_[right];
  assert(mid <= l.size);
  Totals moved;
  for (std::uint32_t i = mid; i < l.size; ++i) {
    const std::uint32_t j = i - mid;
    r.items[j] = l.items[i];
    r.width[0][j] = l.width[0][i];  // a wide entry stays in wide_: it is kept by handle
    r.width[1][j] = l.width[1][i];
    moved.sum[0] += width_in(l, 0, i);
    moved.sum[1] += width_in(l, 1, i);
    leaf_of_[l.items[i]] = right;
  }
  moved.count = l.size - mid;
  r.size = moved.count;
  l.size = mid;
  r.prev = leaf;
  r.next = l.next;
  if (l.next != kNoNode) leaves_[l.next].prev = right;
  l.next = right;
  insert_child_after(leaf, /*is_leaf=*/true, right, moved);
  return right;
}

SequenceIndex::NodeId SequenceIndex::split_inner(NodeId node, std::uint32_t mid) {
  const NodeId right = new_inner();  // may move inners_: take references only after this
  Inner& n = inners_[node];
  Inner& r = inners_[right];
  assert(mid <= n.size);
  r.leaf_children = n.leaf_children;
  Totals moved;
  for (std::uint32_t i = mid; i < n.size; ++i) {
    const std::uint32_t j = i - mid;
    r.child[j] = n.child[i];
    r.count[j] = n.count[i];
    r.sum[0][j] = n.sum[0][i];
    r.sum[1][j] = n.sum[1][i];
    moved.count += n.count[i];
    moved.sum[0] += n.sum[0][i];
    moved.sum[1] += n.sum[1][i];
    set_parent(n.child[i], n.leaf_children, right);
  }
  r.size = n.size - mid;
  n.size = mid;
  insert_child_after(node, /*is_leaf=*/false, right, moved);
  return right;
}

// Adds `right`, which holds `moved` taken from the end of `left`, as the next sibling of `left`.
// Called during a split, before the new element is counted, so the tree's totals are exact.
void SequenceIndex::insert_child_after(NodeId left, bool is_leaf, NodeId right,
                                       const Totals& moved) {
  NodeId p = parent_of(left, is_leaf);
  if (p == kNoNode) {  // `left` was the root: grow a level
    const NodeId root = new_inner();
    Inner& n = inners_[root];
    n.leaf_children = is_leaf;
    n.size = 2;
    n.child[0] = left;
    n.count[0] = static_cast<std::uint32_t>(size_) - moved.count;
    n.sum[0][0] = total_[0] - moved.sum[0];
    n.sum[1][0] = total_[1] - moved.sum[1];
    n.child[1] = right;
    n.count[1] = moved.count;
    n.sum[0][1] = moved.sum[0];
    n.sum[1][1] = moved.sum[1];
    set_parent(left, is_leaf, root);
    set_parent(right, is_leaf, root);
    root_ = root;
    ++height_;
    return;
  }
  if (inners_[p].size == kInnerCapacity) {
    const std::uint32_t slot = slot_in_parent(inners_[p], left) + 1;
    const std::uint32_t mid =
        slot == kInnerCapacity ? kInnerCapacity - kInnerCapacity / 8 : kInnerCapacity / 2;
    const NodeId q = split_inner(p, mid);
    if (slot > mid) p = q;  // `left` moved to the new node
  }
  Inner& n = inners_[p];
  const std::uint32_t s = slot_in_parent(n, left);
  n.count[s] -= moved.count;
  n.sum[0][s] -= moved.sum[0];
  n.sum[1][s] -= moved.sum[1];
  for (std::uint32_t i = n.size; i > s + 1; --i) {
    n.child[i] = n.child[i - 1];
    n.count[i] = n.count[i - 1];
    n.sum[0][i] = n.sum[0][i - 1];
    n.sum[1][i] = n.sum[1][i - 1];
  }
  n.child[s + 1] = right;
  n.count[s + 1] = moved.count;
  n.sum[0][s + 1] = moved.sum[0];
  n.sum[1][s + 1] = moved.sum[1];
  ++n.size;
  set_parent(right, is_leaf, p);
}

// ---- queries ----------------------------------------------------------------------------------

SeqWidth SequenceIndex::width_of(Handle h) const {
  assert(contains(h));
  const Leaf& l = leaves_[leaf_of_[h]];
  return width_in(l, slot_in_leaf(l, h));
}

std::size_t SequenceIndex::index_of(Handle h) const {
  assert(contains(h));
  NodeId node = leaf_of_[h];
  std::size_t index = slot_in_leaf(leaves_[node], h);
  NodeId p = leaves_[node].parent;
  while (p != kNoNode) {
    const Inner& n = inners_[p];
    for (std::uint32_t i = 0; n.child[i] != node; ++i) {
      assert(i + 1 < n.size);
      index += n.count[i];
    }
    node = p;
    p = n.parent;
  }
  return index;
}

std::uint64_t SequenceIndex::offset_of(Handle h, WidthUnit u) const {
  assert(contains(h));
  const unsigned k = unit_index(u);
  NodeId node = leaf_of_[h];
  const Leaf& l = leaves_[node];
  std::uint64_t off = 0;
  for (std::uint32_t i = 0; l.items[i] != h; ++i) {
    assert(i + 1 < l.size);
    off += width_in(l, k, i);
  }
  NodeId p = l.parent;
  while (p != kNoNode) {
    const Inner& n = inners_[p];
    for (std::uint32_t i = 0; n.child[i] != node; ++i) {
      assert(i + 1 < n.size);
      off += n.sum[k][i];
    }
    node = p;
    p = n.parent;
  }
  return off;
}

SequenceIndex::Handle SequenceIndex::at(std::size_t pos) const {
  if (pos >= size_) return kNone;
  NodeId node = root_;
  std::size_t rem = pos;
  for (std::uint32_t level = height_; level > 0; --level) {
    const Inner& n = inners_[node];
    std::uint32_t i = 0;
    while (rem >= n.count[i]) {
      rem -= n.count[i];
      ++i;
      assert(i < n.size);
    }
    node = n.child[i];
  }
  assert(rem < leaves_[node].size);
  return leaves_[node].items[rem];
}

SequenceIndex::Handle SequenceIndex::next(Handle h) const {
  assert(contains(h));
  const Leaf& l = leaves_[leaf_of_[h]];
  const std::uint32_t slot = slot_in_leaf(l, h);
  if (slot + 1 < l.size) return l.items[slot + 1];
  return l.next == kNoNode ? kNone : leaves_[l.next].items[0];
}

SequenceIndex::Handle SequenceIndex::prev(Handle h) const {
  assert(contains(h));
  const Leaf& l = leaves_[leaf_of_[h]];
  const std::uint32_t slot = slot_in_leaf(l, h);
  if (slot > 0) return l.items[slot - 1];
  if (l.prev == kNoNode) return kNone;
  const Leaf& p = leaves_[l.prev];
  return p.items[p.size - 1];
}

SequenceIndex::Handle SequenceIndex::find_by_offset(std::uint64_t off, WidthUnit u) const {
  const unsigned k = unit_index(u);
  if (off >= total_[k]) return kNone;
  // Children (and elements) of width 0 never satisfy off < width, so they are skipped.
  NodeId node = root_;
  for (std::uint32_t level = height_; level > 0; --level) {
    const Inner& n = inners_[node];
    std::uint32_t i = 0;
    while (off >= n.sum[k][i]) {
      off -= n.sum[k][i];
      ++i;
      assert(i < n.size);
    }
    node = n.child[i];
  }
  const Leaf& l = leaves_[node];
  std::uint32_t i = 0;
  while (off >= width_in(l, k, i)) {
    off -= width_in(l, k, i);
    ++i;
    assert(i < l.size);
  }
  return l.items[i];
}

SequenceIndex::Handle SequenceIndex::last_visible_before(std::uint64_t off, WidthUnit u) const {
  if (off == 0) return kNone;
  return find_by_offset(off - 1, u);
}

// ---- invariants -------------------------------------------------------------------------------

std::string SequenceIndex::check_invariants() const {
  if (root_ == kNoNode) {
    if (size_ != 0 || total_[0] != 0 || total_[1] != 0) return "empty index with nonzero totals";
    for (const NodeId l : leaf_of_) {
      if (l != kNoNode) return "empty index maps a handle";
    }
    return {};
  }
  std::string err;
  std::size_t mapped = 0;
  for (const NodeId l : leaf_of_) mapped += l != kNoNode ? 1 : 0;
  if (mapped != size_) return "handle map holds " + std::to_string(mapped) + " handles, size " +
                              std::to_string(size_);

  NodeId expect_prev_leaf = kNoNode;
  std::size_t leaves_seen = 0;
  // Recursive check of a subtree: returns its totals, appends the first violation to err.
  auto check = [&](auto&& self, NodeId node, std::uint32_t level, NodeId parent) -> Totals {
    Totals t;
    if (!err.empty()) return t;
    if (level == 0) {
      if (node >= leaves_.size()) {
        err = "leaf id out of range";
        return t;
      }
      const Leaf& l = leaves_[node];
      const std::string where = "leaf " + std::to_string(node) + ": ";
      if (l.parent != parent) err = where + "wrong parent";
      if (l.size == 0 || l.size > kLeafCapacity) err = where + "bad size";
      if (l.prev != expect_prev_leaf) err = where + "wrong prev link";
      if (expect_prev_leaf == kNoNode && node != 0) err = where + "leftmost leaf is not leaf 0";
      if (expect_prev_leaf != kNoNode && leaves_[expect_prev_leaf].next != node) {
        err = where + "wrong next link in predecessor";
      }
      expect_prev_leaf = node;
      ++leaves_seen;
      for (std::uint32_t i = 0; i < l.size && err.empty(); ++i) {
        const Handle h = l.items[i];
        if (h >= leaf_of_.size() || leaf_of_[h] != node) err = where + "handle map disagrees";
        if ((l.width[0][i] == kWide) != (l.width[1][i] == kWide) ||
            (l.width[0][i] == kWide && !wide_.contains(h))) {
          err = where + "wide width not kept";
          break;
        }
        t.sum[0] += width_in(l, 0, i);
        t.sum[1] += width_in(l, 1, i);
      }
      t.count = l.size;
      return t;
    }
    if (node >= inners_.size()) {
      err = "inner id out of range";
      return t;
    }
    const Inner& n = inners_[node];
    const std::string where = "inner " + std::to_string(node) + ": ";
    if (n.parent != parent) err = where + "wrong parent";
    if (n.size == 0 || n.size > kInnerCapacity || (parent == kNoNode && n.size < 2)) {
      err = where + "bad size";
    }
    if (n.leaf_children != (level == 1)) err = where + "wrong leaf_children flag";
    for (std::uint32_t i = 0; i < n.size && err.empty(); ++i) {
      const Totals c = self(self, n.child[i], level - 1, node);
      if (err.empty() &&
          (c.count != n.count[i] || c.sum[0] != n.sum[0][i] || c.sum[1] != n.sum[1][i])) {
        err = where + "child " + std::to_string(i) + " totals disagree";
      }
      t.count += c.count;
      t.sum[0] += c.sum[0];
      t.sum[1] += c.sum[1];
    }
    return t;
  };
  const Totals all = check(check, root_, height_, kNoNode);
  if (!err.empty()) return err;
  if (all.count != size_) return "size disagrees with the tree";
  if (all.sum[0] != total_[0] || all.sum[1] != total_[1]) return "totals disagree with the tree";
  if (leaves_[expect_prev_leaf].next != kNoNode) return "rightmost leaf has a next link";
  if (leaves_seen != leaves_.size()) return "unreachable leaves";
  return {};
}

}  // namespace am::core
