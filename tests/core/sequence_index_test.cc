#include "core/opset/sequence_index.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace am::core {
namespace {

using Handle = SequenceIndex::Handle;
constexpr Handle kNone = SequenceIndex::kNone;
constexpr WidthUnit kUnits[] = {WidthUnit::kChars, WidthUnit::kUtf16};
constexpr std::uint32_t kLeaf = SequenceIndex::kLeafCapacity;
constexpr std::uint32_t kInner = SequenceIndex::kInnerCapacity;

std::uint32_t width_in(SeqWidth w, WidthUnit u) { return u == WidthUnit::kChars ? w.chars : w.utf16; }

// The naive model: the sequence as a vector of handles, widths by handle.
struct Model {
  std::vector<Handle> order;
  std::vector<SeqWidth> width;  // by handle
  std::vector<bool> present;    // by handle

  void add(std::size_t pos, Handle h, SeqWidth w) {
    order.insert(order.begin() + static_cast<std::ptrdiff_t>(pos), h);
    if (h >= width.size()) {
      width.resize(h + 1);
      present.resize(h + 1);
    }
    width[h] = w;
    present[h] = true;
  }
  std::size_t pos_of(Handle h) const {
    for (std::size_t i = 0; i < order.size(); ++i) {
      if (order[i] == h) return i;
    }
    return order.size();
  }
  std::uint64_t total(WidthUnit u) const {
    std::uint64_t t = 0;
    for (const Handle h : order) t += width_in(width[h], u);
    return t;
  }
  // Handle covering each visible offset, in unit u.
  std::vector<Handle> offsets(WidthUnit u) const {
    std::vector<Handle> out;
    for (const Handle h : order) out.insert(out.end(), width_in(width[h], u), h);
    return out;
  }
};

// Compares every query of `idx` with the model. Returns the first mismatch, or "".
std::string check_all(const SequenceIndex& idx, const Model& m) {
  const std::string inv = idx.check_invariants();
  if (!inv.empty()) return "invariant: " + inv;
  const std::size_t n = m.order.size();
  if (idx.size() != n) return "size";
  if (idx.first() != (n == 0 ? kNone : m.order[0])) return "first";
  if (idx.at(n) != kNone || idx.at(n + 100) != kNone) return "at past the end";
  std::vector<Handle> walked;
  idx.for_each([&](Handle h) { walked.push_back(h); });
  if (walked != m.order) return "for_each order";
  std::vector<Handle> visible, expected_visible;
  idx.for_each_visible([&](Handle h) { visible.push_back(h); });
  for (const Handle h : m.order) {
    if (m.width[h].chars != 0) expected_visible.push_back(h);
  }
  if (visible != expected_visible) return "for_each_visible";
  std::uint64_t off[2] = {0, 0};
  for (std::size_t i = 0; i < n; ++i) {
    const Handle h = m.order[i];
    const std::string where = " at index " + std::to_string(i);
    if (!idx.contains(h)) return "contains" + where;
    if (idx.at(i) != h) return "at" + where;
    if (idx.index_of(h) != i) return "index_of" + where;
    if (idx.width_of(h) != m.width[h]) return "width_of" + where;
    if (idx.offset_of(h, WidthUnit::kChars) != off[0]) return "offset_of chars" + where;
    if (idx.offset_of(h, WidthUnit::kUtf16) != off[1]) return "offset_of utf16" + where;
    if (idx.next(h) != (i + 1 < n ? m.order[i + 1] : kNone)) return "next" + where;
    if (idx.prev(h) != (i > 0 ? m.order[i - 1] : kNone)) return "prev" + where;
    off[0] += m.width[h].chars;
    off[1] += m.width[h].utf16;
  }
  for (Handle h = 0; h < m.present.size() + 3; ++h) {
    const bool present = h < m.present.size() && m.present[h];
    if (idx.contains(h) != present) return "contains " + std::to_string(h);
  }
  for (const WidthUnit u : kUnits) {
    const std::vector<Handle> by_off = m.offsets(u);
    const std::string unit = u == WidthUnit::kChars ? " chars" : " utf16";
    if (idx.total_width(u) != by_off.size()) return "total_width" + unit;
    for (std::uint64_t o = 0; o < by_off.size() + 2; ++o) {
      const Handle want = o < by_off.size() ? by_off[o] : kNone;
      if (idx.find_by_offset(o, u) != want) return "find_by_offset" + unit + " " + std::to_string(o);
      const Handle want_before = o == 0 || o > by_off.size() ? kNone : by_off[o - 1];
      if (idx.last_visible_before(o, u) != want_before) {
        return "last_visible_before" + unit + " " + std::to_string(o);
      }
    }
  }
  return {};
}

// Checks a few queries cheaply: totals, size, and the elements around index i.
std::string check_sample(const SequenceIndex& idx, const Model& m, std::size_t i) {
  if (idx.size() != m.order.size()) return "size";
  for (const WidthUnit u : kUnits) {
    if (idx.total_width(u) != m.total(u)) return "total_width";
  }
  if (m.order.empty()) return {};
  i %= m.order.size();
  const Handle h = m.order[i];
  if (idx.at(i) != h || idx.index_of(h) != i) return "at/index_of at " + std::to_string(i);
  std::uint64_t off[2] = {0, 0};
  for (std::size_t j = 0; j < i; ++j) {
    off[0] += m.width[m.order[j]].chars;
    off[1] += m.width[m.order[j]].utf16;
  }
  for (const WidthUnit u : kUnits) {
    const std::uint64_t o = off[u == WidthUnit::kChars ? 0 : 1];
    if (idx.offset_of(h, u) != o) return "offset_of at " + std::to_string(i);
    if (width_in(m.width[h], u) > 0 && idx.find_by_offset(o, u) != h) {
      return "find_by_offset at " + std::to_string(i);
    }
  }
  return {};
}

SeqWidth w(std::uint32_t chars, std::uint32_t utf16) { return SeqWidth{chars, utf16}; }
SeqWidth w1() { return SeqWidth{1, 1}; }

// ---- unit tests -------------------------------------------------------------------------------

TEST(SequenceIndex, AssignInOrderBuildsEveryLevelAndTakesEditsAfter) {
  // Sizes around a leaf's fill (56), an inner node's fill (28 leaves), and a third level.
  const std::uint32_t fill = kLeaf - kLeaf / 8;
  const std::uint32_t inner_fill = kInner - kInner / 8;
  for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{fill}, std::size_t{fill + 1},
                              std::size_t{fill * inner_fill}, std::size_t{fill * inner_fill + 1},
                              std::size_t{fill * inner_fill * inner_fill + 3}}) {
    SCOPED_TRACE("n = " + std::to_string(n));
    SequenceIndex idx;
    Model m;
    auto width_of = [](Handle h) { return h % 5 == 0 ? w(0, 0) : (h % 7 == 0 ? w(1, 2) : w1()); };
    idx.assign_in_order(n, width_of);
    for (Handle h = 0; h < n; ++h) m.add(h, h, width_of(h));
    if (n <= 2000) {
      ASSERT_EQ(check_all(idx, m), "");
    } else {
      ASSERT_EQ(idx.check_invariants(), "");
      for (std::size_t i = 0; i < n; i += n / 97) ASSERT_EQ(check_sample(idx, m, i), "");
    }
    // Edits after the build: inserts at the front, the end and the middle, and a width change.
    std::mt19937 rng(static_cast<std::uint32_t>(n));
    for (Handle h = static_cast<Handle>(n); h < n + 300; ++h) {
      const std::size_t pos = h % 3 == 0 ? 0 : (h % 3 == 1 ? m.order.size() : rng() % (m.order.size() + 1));
      idx.insert(pos, h, w1());
      m.add(pos, h, w1());
    }
    idx.set_width(static_cast<Handle>(n / 2), w(3, 3));
    m.width[n / 2] = w(3, 3);
    ASSERT_EQ(idx.check_invariants(), "");
    for (std::size_t i = 0; i < m.order.size(); i += 1 + m.order.size() / 61) ASSERT_EQ(check_sample(idx, m, i), "");
  }
}

TEST(SequenceIndex, EmptyIndex) {
  const SequenceIndex idx;
  EXPECT_EQ(idx.size(), 0u);
  EXPECT_TRUE(idx.empty());
  EXPECT_EQ(idx.total_width(WidthUnit::kChars), 0u);
  EXPECT_EQ(idx.total_width(WidthUnit::kUtf16), 0u);
  EXPECT_EQ(idx.first(), kNone);
  EXPECT_EQ(idx.at(0), kNone);
  EXPECT_FALSE(idx.contains(0));
  EXPECT_FALSE(idx.contains(kNone));
  EXPECT_EQ(idx.find_by_offset(0, WidthUnit::kChars), kNone);
  EXPECT_EQ(idx.last_visible_before(0, WidthUnit::kChars), kNone);
  EXPECT_EQ(idx.last_visible_before(1, WidthUnit::kUtf16), kNone);
  EXPECT_EQ(idx.check_invariants(), "");
}

TEST(SequenceIndex, SingleElement) {
  SequenceIndex idx;
  idx.insert(0, 7, w(1, 2));
  EXPECT_EQ(idx.size(), 1u);
  EXPECT_TRUE(idx.contains(7));
  EXPECT_FALSE(idx.contains(6));  // handles below an inserted one are not implied
  EXPECT_EQ(idx.first(), 7u);
  EXPECT_EQ(idx.next(7), kNone);
  EXPECT_EQ(idx.prev(7), kNone);
  EXPECT_EQ(idx.index_of(7), 0u);
  EXPECT_EQ(idx.offset_of(7, WidthUnit::kChars), 0u);
  EXPECT_EQ(idx.width_of(7), w(1, 2));
  EXPECT_EQ(idx.find_by_offset(0, WidthUnit::kUtf16), 7u);
  EXPECT_EQ(idx.find_by_offset(1, WidthUnit::kUtf16), 7u);
  EXPECT_EQ(idx.find_by_offset(2, WidthUnit::kUtf16), kNone);
  EXPECT_EQ(idx.find_by_offset(1, WidthUnit::kChars), kNone);
  EXPECT_EQ(idx.last_visible_before(1, WidthUnit::kChars), 7u);
  EXPECT_EQ(idx.last_visible_before(2, WidthUnit::kChars), kNone);  // past the end
  EXPECT_EQ(idx.last_visible_before(2, WidthUnit::kUtf16), 7u);
  EXPECT_EQ(idx.check_invariants(), "");
}

TEST(SequenceIndex, InsertAtFrontBackAndMiddle) {
  SequenceIndex idx;
  Model m;
  idx.insert(0, 0, w1());  m.add(0, 0, w1());   // [0]
  idx.insert(1, 1, w1());  m.add(1, 1, w1());   // [0 1] back
  idx.insert(0, 2, w1());  m.add(0, 2, w1());   // [2 0 1] front
  idx.insert(1, 3, w1());  m.add(1, 3, w1());   // [2 3 0 1] middle
  idx.insert_after(kNone, 4, w1());  m.add(0, 4, w1());  // front
  idx.insert_after(1, 5, w1());  m.add(m.pos_of(1) + 1, 5, w1());  // after the last
  idx.insert_after(2, 6, w1());  m.add(m.pos_of(2) + 1, 6, w1());
  EXPECT_EQ(m.order, (std::vector<Handle>{4, 2, 6, 3, 0, 1, 5}));
  EXPECT_EQ(check_all(idx, m), "");
}

TEST(SequenceIndex, InsertAfterIntoEmptyIndex) {
  SequenceIndex idx;
  idx.insert_after(kNone, 0, w1());
  idx.insert_after(kNone, 1, w1());
  EXPECT_EQ(idx.at(0), 1u);
  EXPECT_EQ(idx.at(1), 0u);
  EXPECT_EQ(idx.check_invariants(), "");
}

TEST(SequenceIndex, ZeroWidthElementsAreSkippedByOffsets) {
  SequenceIndex idx;
  Model m;
  // [a:0 b:1 c:0 d:0 e:2 f:0]
  const SeqWidth widths[] = {w(0, 0), w(1, 1), w(0, 0), w(0, 0), w(2, 3), w(0, 0)};
  for (Handle h = 0; h < 6; ++h) {
    idx.insert(h, h, widths[h]);
    m.add(h, h, widths[h]);
  }
  EXPECT_EQ(idx.total_width(WidthUnit::kChars), 3u);
  EXPECT_EQ(idx.total_width(WidthUnit::kUtf16), 4u);
  EXPECT_EQ(idx.find_by_offset(0, WidthUnit::kChars), 1u);  // not the zero-width 0
  EXPECT_EQ(idx.find_by_offset(1, WidthUnit::kChars), 4u);  // not the zero-width 2, 3
  EXPECT_EQ(idx.find_by_offset(2, WidthUnit::kChars), 4u);
  EXPECT_EQ(idx.find_by_offset(3, WidthUnit::kChars), kNone);
  EXPECT_EQ(idx.find_by_offset(3, WidthUnit::kUtf16), 4u);
  EXPECT_EQ(idx.last_visible_before(0, WidthUnit::kChars), kNone);
  EXPECT_EQ(idx.last_visible_before(1, WidthUnit::kChars), 1u);
  EXPECT_EQ(idx.last_visible_before(3, WidthUnit::kChars), 4u);
  EXPECT_EQ(idx.offset_of(2, WidthUnit::kChars), 1u);
  EXPECT_EQ(idx.offset_of(5, WidthUnit::kUtf16), 4u);
  EXPECT_EQ(check_all(idx, m), "");
}

TEST(SequenceIndex, AllZeroWidth) {
  SequenceIndex idx;
  for (Handle h = 0; h < 500; ++h) idx.insert(h / 2, h, w(0, 0));
  EXPECT_EQ(idx.total_width(WidthUnit::kChars), 0u);
  EXPECT_EQ(idx.find_by_offset(0, WidthUnit::kChars), kNone);
  EXPECT_EQ(idx.last_visible_before(1, WidthUnit::kChars), kNone);
  EXPECT_EQ(idx.offset_of(idx.at(499), WidthUnit::kUtf16), 0u);
  EXPECT_EQ(idx.check_invariants(), "");
}

// Handles 0 .. n - 1 in order, each of width 1, in both.
void fill_ones(SequenceIndex& idx, Model& m, Handle n) {
  for (Handle h = 0; h < n; ++h) {
    idx.insert(h, h, w1());
    m.add(h, h, w1());
  }
}

TEST(SequenceIndex, SetWidthUpdatesOffsetsAndTotals) {
  SequenceIndex idx;
  Model m;
  fill_ones(idx, m, 1000);
  idx.set_width(10, w(0, 0));  // delete
  m.width[10] = w(0, 0);
  idx.set_width(500, w(3, 5));  // grow
  m.width[500] = w(3, 5);
  idx.set_width(999, w(0, 2));  // units change independently
  m.width[999] = w(0, 2);
  EXPECT_EQ(idx.total_width(WidthUnit::kChars), 1000u);  // -1 +2 -1
  EXPECT_EQ(idx.total_width(WidthUnit::kUtf16), 1004u);  // -1 +4 +1
  EXPECT_EQ(idx.find_by_offset(10, WidthUnit::kChars), 11u);
  EXPECT_EQ(check_all(idx, m), "");
  idx.set_width(10, w1());  // undelete
  m.width[10] = w1();
  idx.set_width(500, w(3, 5));  // unchanged
  EXPECT_EQ(check_all(idx, m), "");
}

// A leaf keeps a width in a byte up to 254; wider ones are kept by handle. Either unit may be
// the wide one, and an element goes from narrow to wide and back; a copy keeps them.
TEST(SequenceIndex, WidthsPastAByteAreKeptExactly) {
  SequenceIndex idx;
  Model m;
  fill_ones(idx, m, 1000);
  const std::vector<std::pair<Handle, SeqWidth>> steps = {
      {500, w(254, 254)}, {500, w(255, 1)}, {999, w(0, 100000)}, {3, w(70000, 70000)},
      {500, w(1, 1)},     {3, w(2, 2)},     {3, w(256, 2)}};
  for (const auto& [h, width] : steps) {
    idx.set_width(h, width);
    m.width[h] = width;
    ASSERT_EQ(check_all(idx, m), "");
    EXPECT_EQ(idx.width_of(h).chars, width.chars);
    EXPECT_EQ(idx.width_of(h).utf16, width.utf16);
  }
  // Splits move wide elements between leaves.
  for (Handle h = 1000; h < 1200; ++h) {
    const SeqWidth width = h % 7 == 0 ? w(300, 600) : w1();
    idx.insert(3, h, width);
    m.add(3, h, width);
  }
  EXPECT_EQ(check_all(idx, m), "");
  const SequenceIndex copy = idx;
  EXPECT_EQ(check_all(copy, m), "");
}

// Sizes around the leaf and inner-node capacities, filled from the back, the front and the middle.
TEST(SequenceIndex, SplitsAtCapacityBoundaries) {
  const std::size_t sizes[] = {kLeaf - 1, kLeaf, kLeaf + 1, 2 * kLeaf, 2 * kLeaf + 1,
                               std::size_t{kLeaf} * kInner + 1, std::size_t{kLeaf} * kInner * 3};
  for (const std::size_t n : sizes) {
    for (int where = 0; where < 4; ++where) {
      SequenceIndex idx;
      Model m;
      Handle prev = kNone;
      for (Handle h = 0; h < n; ++h) {
        const SeqWidth wh = w(h % 3 == 0 ? 0 : 1, h % 5 == 0 ? 2 : 1);
        switch (where) {
          case 0:  // append with insert(size)
            idx.insert(h, h, wh);
            m.add(h, h, wh);
            break;
          case 1:  // prepend
            idx.insert(0, h, wh);
            m.add(0, h, wh);
            break;
          case 2:  // middle
            idx.insert(h / 2, h, wh);
            m.add(h / 2, h, wh);
            break;
          default:  // typing with insert_after
            idx.insert_after(prev, h, wh);
            m.add(h, h, wh);
            prev = h;
            break;
        }
      }
      ASSERT_EQ(check_all(idx, m), "") << "n=" << n << " where=" << where;
    }
  }
}

TEST(SequenceIndex, HandlesWithGaps) {
  SequenceIndex idx;
  idx.insert(0, 1000, w1());
  idx.insert(0, 3, w1());
  EXPECT_TRUE(idx.contains(3));
  EXPECT_TRUE(idx.contains(1000));
  EXPECT_FALSE(idx.contains(4));
  EXPECT_FALSE(idx.contains(1001));
  EXPECT_EQ(idx.index_of(1000), 1u);
  EXPECT_EQ(idx.check_invariants(), "");
}

TEST(SequenceIndex, ReserveAndCopy) {
  SequenceIndex idx;
  idx.reserve(10000);
  for (Handle h = 0; h < 3000; ++h) idx.insert(h / 3, h, w1());
  const SequenceIndex copy = idx;
  for (Handle h = 3000; h < 4000; ++h) idx.insert(0, h, w1());
  EXPECT_EQ(copy.size(), 3000u);
  EXPECT_FALSE(copy.contains(3000));
  EXPECT_EQ(copy.check_invariants(), "");
  EXPECT_EQ(idx.size(), 4000u);
  EXPECT_EQ(idx.index_of(copy.at(0)), 1000u);
  EXPECT_EQ(idx.check_invariants(), "");
}

#ifndef NDEBUG
TEST(SequenceIndexDeathTest, PreconditionsAreAsserted) {
  SequenceIndex idx;
  idx.insert(0, 0, w1());
  EXPECT_DEATH(idx.insert(0, 0, w1()), "");        // inserted twice
  EXPECT_DEATH(idx.insert(5, 1, w1()), "");        // position past the end
  EXPECT_DEATH(idx.insert_after(9, 1, w1()), "");  // unknown predecessor
  EXPECT_DEATH(idx.set_width(9, w1()), "");        // unknown handle
}
#endif

// ---- model tests ------------------------------------------------------------------------------

struct Op {
  int kind = 0;        // 0-2 insert, 3-5 insert_after, 6-7 set_width, 8 typing burst, 9 random burst
  std::uint32_t a = 0; // position / handle selector, burst length
  SeqWidth width;
};

// Applies op to both the index and the model. Handles are dense except for an occasional gap.
void apply(const Op& op, SequenceIndex& idx, Model& m, Handle& next_handle) {
  const std::size_t n = m.order.size();
  auto fresh = [&] {
    const Handle h = next_handle;
    next_handle += (op.a % 13 == 0) ? 2 : 1;
    return h;
  };
  switch (op.kind) {
    case 0: case 1: case 2: {
      const std::size_t pos = op.a % (n + 1);
      const Handle h = fresh();
      idx.insert(pos, h, op.width);
      m.add(pos, h, op.width);
      break;
    }
    case 3: case 4: case 5: {
      const std::size_t k = op.a % (n + 1);  // k == n: at the front
      const Handle prev = k == n ? kNone : m.order[k];
      const Handle h = fresh();
      idx.insert_after(prev, h, op.width);
      m.add(k == n ? 0 : k + 1, h, op.width);
      break;
    }
    case 6: case 7: {
      if (n == 0) break;
      const Handle h = m.order[op.a % n];
      idx.set_width(h, op.width);
      m.width[h] = op.width;
      break;
    }
    default: {  // bursts of 1..300 inserts with varied widths
      const std::uint32_t len = 1 + (op.a >> 8) % 300;
      std::uint32_t r = op.a;
      std::size_t pos = op.a % (n + 1);
      for (std::uint32_t i = 0; i < len; ++i) {
        r = r * 1664525u + 1013904223u;
        // Now and then a width past what a leaf's byte holds (kept apart by handle).
        const SeqWidth wi = (r >> 12) % 64 == 0 ? SeqWidth{255 + (r >> 20) % 3, 300 + (r >> 24) % 4}
                                                : SeqWidth{(r >> 20) % 3, (r >> 24) % 4};
        const Handle h = fresh();
        if (op.kind == 8) {
          idx.insert(pos, h, wi);
          m.add(pos, h, wi);
          ++pos;
        } else {
          const std::size_t p = (r >> 4) % (m.order.size() + 1);
          idx.insert(p, h, wi);
          m.add(p, h, wi);
        }
      }
      break;
    }
  }
}

// A width below `small`, or one a leaf's byte cannot hold (254 is the largest it holds).
rc::Gen<std::uint32_t> gen_width(std::uint32_t small) {
  return rc::gen::weightedOneOf<std::uint32_t>(
      {{6, rc::gen::inRange<std::uint32_t>(0, small)}, {1, rc::gen::element<std::uint32_t>(254, 255, 256, 100000)}});
}

// Selectors are drawn from the whole uint32 range at every size (rapidcheck scales ranges down
// with the size, which would keep positions at the front and bursts short); they still shrink.
rc::Gen<Op> gen_op() {
  return rc::gen::map(
      rc::gen::tuple(rc::gen::resize(100, rc::gen::inRange(0, 10)),
                     rc::gen::resize(100, rc::gen::inRange<std::uint32_t>(0, UINT32_MAX)),
                     gen_width(3), gen_width(5)),
      [](const std::tuple<int, std::uint32_t, std::uint32_t, std::uint32_t>& t) {
        return Op{std::get<0>(t), std::get<1>(t), SeqWidth{std::get<2>(t), std::get<3>(t)}};
      });
}

RC_GTEST_PROP(SequenceIndexProperty, MatchesNaiveModel, ()) {
  const auto ops = *rc::gen::container<std::vector<Op>>(gen_op());
  SequenceIndex idx;
  Model m;
  Handle next_handle = 0;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    apply(ops[i], idx, m, next_handle);
    RC_ASSERT(check_sample(idx, m, ops[i].a / 7 + i) == std::string());
  }
  RC_ASSERT(check_all(idx, m) == std::string());
  RC_TAG(m.order.size() <= kLeaf                  ? "root leaf"
         : m.order.size() <= std::size_t{kLeaf} * kInner ? "leaf splits"
                                                         : "inner splits");
}

// Larger and deeper than rapidcheck's sizes reach: several levels of inner nodes.
TEST(SequenceIndex, MatchesNaiveModelOnLongRandomRun) {
  std::mt19937 rng(12345);
  SequenceIndex idx;
  Model m;
  Handle next_handle = 0;
  for (int i = 0; i < 1000; ++i) {
    Op op;
    op.kind = static_cast<int>(rng() % 10);
    op.a = static_cast<std::uint32_t>(rng());
    op.width = SeqWidth{static_cast<std::uint32_t>(rng() % 3), static_cast<std::uint32_t>(rng() % 5)};
    if (rng() % 20 == 0) op.width = SeqWidth{static_cast<std::uint32_t>(250 + rng() % 10), 70000};
    apply(op, idx, m, next_handle);
    ASSERT_EQ(check_sample(idx, m, rng()), "") << "step " << i;
    if (i % 250 == 249) {
      ASSERT_EQ(check_all(idx, m), "") << "step " << i;
    }
  }
  EXPECT_GT(m.order.size(), std::size_t{kLeaf} * kInner * 4);
}

// 300,000 inserts at random positions, each checked at once, then the whole sequence walked.
TEST(SequenceIndex, ManyRandomInsertsStayConsistent) {
  constexpr Handle kCount = 300000;
  std::mt19937_64 rng(99);
  SequenceIndex idx;
  for (Handle h = 0; h < kCount; ++h) {
    const std::uint64_t r = rng();
    const SeqWidth wh{static_cast<std::uint32_t>(r % 4 == 0 ? 0 : 1),
                      static_cast<std::uint32_t>(r % 4 == 0 ? 0 : 1 + (r >> 8) % 2)};
    if ((r >> 16) % 2 == 0) {
      const std::size_t pos = static_cast<std::size_t>((r >> 20) % (idx.size() + 1));
      idx.insert(pos, h, wh);
      ASSERT_EQ(idx.index_of(h), pos);
    } else {
      const Handle prev = h == 0 ? kNone : static_cast<Handle>((r >> 20) % h);
      const std::size_t want = prev == kNone ? 0 : idx.index_of(prev) + 1;
      idx.insert_after(prev, h, wh);
      ASSERT_EQ(idx.at(want), h);
    }
  }
  ASSERT_EQ(idx.check_invariants(), "");
  ASSERT_EQ(idx.size(), kCount);

  std::uint64_t off[2] = {0, 0};
  Handle before = kNone;
  Handle h = idx.first();
  for (std::size_t i = 0; i < kCount; ++i) {
    ASSERT_NE(h, kNone);
    ASSERT_EQ(idx.at(i), h);
    ASSERT_EQ(idx.index_of(h), i);
    ASSERT_EQ(idx.prev(h), before);
    ASSERT_EQ(idx.offset_of(h, WidthUnit::kChars), off[0]);
    ASSERT_EQ(idx.offset_of(h, WidthUnit::kUtf16), off[1]);
    const SeqWidth wh = idx.width_of(h);
    if (wh.chars > 0) {
      ASSERT_EQ(idx.find_by_offset(off[0], WidthUnit::kChars), h);
    }
    if (wh.utf16 > 0) {
      ASSERT_EQ(idx.find_by_offset(off[1] + wh.utf16 - 1, WidthUnit::kUtf16), h);
    }
    off[0] += wh.chars;
    off[1] += wh.utf16;
    before = h;
    h = idx.next(h);
  }
  EXPECT_EQ(h, kNone);
  EXPECT_EQ(idx.total_width(WidthUnit::kChars), off[0]);
  EXPECT_EQ(idx.total_width(WidthUnit::kUtf16), off[1]);
}

}  // namespace
}  // namespace am::core
