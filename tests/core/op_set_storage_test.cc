// The compact storage of the op set: OpValue (values inline or on the heap), SmallVec (one-pointer
// lists), InlineIndexList (a map key's ops) and OpIdIndex (op id -> index).
#include "core/opset/op_set.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <bit>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace am::core {
namespace {

std::vector<ScalarValue> sample_values() {
  return {Null{},
          true,
          false,
          std::int64_t{0},
          std::int64_t{-1},
          std::numeric_limits<std::int64_t>::min(),
          std::numeric_limits<std::uint64_t>::max(),
          3.25,
          -0.0,
          0.1,  // every mantissa bit set somewhere: not inline
          std::numeric_limits<double>::infinity(),
          std::string(),
          std::string("a"),
          std::string("\xf0\x9f\x98\x80"),
          std::string(7, 'w'),  // the longest inline string
          std::string(8, 'v'),
          std::string(14, 'x'),
          std::string(15, 'y'),
          std::string(1000, 'z'),
          Bytes{},
          Bytes{1, 2, 3},
          Bytes(7, 6),
          Bytes(8, 5),
          Bytes(14, 7),
          Bytes(15, 8),
          // Numbers at the edges of the 56 inline bits.
          (std::int64_t{1} << 55) - 1,
          std::int64_t{1} << 55,
          -(std::int64_t{1} << 55),
          -(std::int64_t{1} << 55) - 1,
          (std::uint64_t{1} << 56) - 1,
          std::uint64_t{1} << 56,
          Counter{-5},
          Counter{std::numeric_limits<std::int64_t>::max()},
          Counter{-(std::int64_t{1} << 55) - 1},
          Timestamp{1700000000000},
          Timestamp{std::numeric_limits<std::int64_t>::min()},
          UnknownValue{12, Bytes{9, 9}}};
}

TEST(OpValue, EveryKindRoundTripsThroughCopiesAndMoves) {
  for (const ScalarValue& v : sample_values()) {
    SCOPED_TRACE(v.index());
    const OpValue a(v);
    EXPECT_EQ(a.get(), v);
    EXPECT_EQ(a.index(), v.index());
    EXPECT_EQ(a.is_string(), std::holds_alternative<std::string>(v));
    EXPECT_EQ(a.is_counter(), std::holds_alternative<Counter>(v));
    if (const auto* s = std::get_if<std::string>(&v)) {
      EXPECT_EQ(a.str(), *s);
    }
    if (const auto* c = std::get_if<Counter>(&v)) {
      EXPECT_EQ(a.int_value(), c->value);
    }
    OpValue b(a);  // copy
    EXPECT_EQ(b.get(), v);
    OpValue c(std::move(b));  // move
    EXPECT_EQ(c.get(), v);
    EXPECT_TRUE(b.is_null());  // NOLINT(bugprone-use-after-move): moved-from is null
    OpValue d(ScalarValue{std::string(100, 'q')});
    d = c;  // copy-assign over a heap value
    EXPECT_EQ(d.get(), v);
    d = OpValue(ScalarValue{std::int64_t{1}});  // move-assign
    EXPECT_EQ(d.get(), ScalarValue{std::int64_t{1}});
    d = d;  // self-assignment keeps the value
    EXPECT_EQ(d.get(), ScalarValue{std::int64_t{1}});
  }
}

// Whatever the bits, a number comes back as it went in, inline or in a cell (doubles compared
// bit for bit, so that NaN payloads count too).
RC_GTEST_PROP(OpValue, NumbersAndStringsRoundTrip,
              (std::int64_t i, std::uint64_t u, std::uint64_t double_bits, const std::string& s)) {
  const std::int64_t shifted = i >> *rc::gen::inRange(0, 63);  // small magnitudes too
  RC_ASSERT(OpValue(ScalarValue{shifted}).get() == ScalarValue{shifted});
  RC_ASSERT(OpValue(ScalarValue{Counter{shifted}}).int_value() == shifted);
  RC_ASSERT(OpValue(ScalarValue{Timestamp{i}}).get() == ScalarValue{Timestamp{i}});
  RC_ASSERT(OpValue(ScalarValue{u}).get() == ScalarValue{u});
  RC_ASSERT(OpValue(ScalarValue{u >> 8}).int_value() == static_cast<std::int64_t>(u >> 8));
  for (const std::uint64_t bits : {double_bits, double_bits & ~std::uint64_t{0xff}}) {
    const ScalarValue back = OpValue(ScalarValue{std::bit_cast<double>(bits)}).get();
    RC_ASSERT(std::holds_alternative<double>(back));
    RC_ASSERT(std::bit_cast<std::uint64_t>(std::get<double>(back)) == bits);
  }
  const OpValue text = OpValue::string(s);
  RC_ASSERT(text.is_string());
  RC_ASSERT(text.str() == s);
  const OpValue copy = text;
  RC_ASSERT(copy.str() == s);
  const Bytes b(s.begin(), s.end());
  RC_ASSERT(OpValue::bytes(b).get() == ScalarValue{b});
}

TEST(SmallVec, InsertsKeepOrderAndCopiesAreIndependent) {
  SmallVec<std::uint32_t> v;
  EXPECT_TRUE(v.empty());
  EXPECT_EQ(v.begin(), v.end());
  std::vector<std::uint32_t> model;
  for (std::uint32_t i = 0; i < 100; ++i) {
    const std::size_t pos = (i * 7) % (model.size() + 1);
    v.insert(pos, i);
    model.insert(model.begin() + static_cast<std::ptrdiff_t>(pos), i);
  }
  EXPECT_EQ(std::vector<std::uint32_t>(v.begin(), v.end()), model);
  SmallVec<std::uint32_t> copy(v);
  copy.push_back(1000);
  EXPECT_EQ(v.size(), 100u);
  EXPECT_EQ(copy.size(), 101u);
  SmallVec<std::uint32_t> moved(std::move(copy));
  EXPECT_EQ(moved.size(), 101u);
  v = moved;
  EXPECT_EQ(std::vector<std::uint32_t>(v.begin(), v.end()),
            std::vector<std::uint32_t>(moved.begin(), moved.end()));
  const std::span<const std::uint32_t> s = v;
  EXPECT_EQ(s.size(), 101u);
}

// A map key's op list holds two in place, then moves to the heap: every size across that edge,
// inserts anywhere, and copies and moves in both representations stay independent and equal.
RC_GTEST_PROP(InlineIndexList, AgreesWithAVectorAcrossTheInlineEdge, (const std::vector<std::uint8_t>& positions)) {
  InlineIndexList list;
  std::vector<std::uint32_t> model;
  std::uint32_t next = 0;
  for (const std::uint8_t p : positions) {
    const std::size_t pos = p % (model.size() + 1);
    list.insert(pos, next);
    model.insert(model.begin() + static_cast<std::ptrdiff_t>(pos), next);
    ++next;
    RC_ASSERT(std::vector<std::uint32_t>(list.begin(), list.end()) == model);
    RC_ASSERT(list.back() == model.back());
    InlineIndexList copy(list);
    copy.push_back(9999);
    RC_ASSERT(list.size() == model.size());
    RC_ASSERT(copy.size() == model.size() + 1 && copy[model.size()] == 9999u);
    InlineIndexList assigned;
    assigned.push_back(1);
    assigned.push_back(2);
    assigned.push_back(3);
    assigned = list;
    const std::span<const std::uint32_t> s = assigned;
    RC_ASSERT(std::vector<std::uint32_t>(s.begin(), s.end()) == model);
    InlineIndexList moved(std::move(copy));
    RC_ASSERT(moved.size() == model.size() + 1);
    RC_ASSERT(copy.empty());  // NOLINT(bugprone-use-after-move): a moved-from list is empty
    copy = std::move(moved);
    RC_ASSERT(copy.size() == model.size() + 1 && moved.empty());  // NOLINT(bugprone-use-after-move)
  }
}

RC_GTEST_PROP(OpIdIndex, AgreesWithAMap, (const std::vector<std::pair<std::uint8_t, std::uint16_t>>& ids)) {
  OpIdIndex index;
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint32_t> model;
  std::uint32_t next = 0;
  for (const auto& [actor, counter] : ids) {
    const OpId id{static_cast<std::uint32_t>(counter) + 1u, actor % 5u};
    const bool added = index.insert(id, next);
    RC_ASSERT(added == model.emplace(std::make_pair(id.counter, id.actor), next).second);
    ++next;
  }
  RC_ASSERT(index.size() == model.size());
  for (std::uint32_t a = 0; a < 6; ++a) {
    for (std::uint32_t c = 0; c < 70000; c += 97) {
      const auto it = model.find({c, a});
      const auto found = index.find(OpId{c, a});
      RC_ASSERT(found.has_value() == (it != model.end()));
      if (found) RC_ASSERT(*found == it->second);
    }
  }
  for (const auto& [key, value] : model) RC_ASSERT(index.find(OpId{key.first, key.second}) == std::optional<std::uint32_t>(value));
}

// The shapes real histories give: per actor, runs of consecutive counters with short gaps
// (deletes are not stored), long gaps (other actors' ops in between), interleaved actors, and
// the ids no valid history gives (below an actor's latest run) which still must be found.
TEST(OpIdIndex, RunsGapsAndIdsOutOfOrder) {
  OpIdIndex index;
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint32_t> model;
  std::uint32_t next = 0;
  auto add = [&](std::uint32_t actor, std::uint32_t counter) {
    const bool added = index.insert(OpId{counter, actor}, next);
    EXPECT_EQ(added, model.emplace(std::make_pair(counter, actor), next).second) << actor << " " << counter;
    ++next;
  };
  for (std::uint32_t c = 1; c <= 100; ++c) add(0, c);          // one run
  for (std::uint32_t c = 103; c <= 110; ++c) add(0, c);        // a short gap: same run
  for (std::uint32_t c = 111; c <= 150; ++c) add(1, c);        // another actor
  for (std::uint32_t c = 500; c <= 520; c += 2) add(0, c);     // a long gap, then holes
  add(0, 101);                                                  // a gap's slot, filled late
  add(0, 300);                                                  // between runs: out of order
  add(0, 300);                                                  // and a duplicate of it
  add(0, 50);                                                   // a duplicate in a run
  add(0, UINT32_MAX);                                           // the last counter there is
  add(2, 7);
  EXPECT_EQ(index.size(), model.size());
  for (std::uint32_t a = 0; a < 4; ++a) {
    for (std::uint32_t c : {0u, 1u, 2u, 50u, 100u, 101u, 102u, 103u, 110u, 111u, 150u, 151u, 299u, 300u,
                            301u, 499u, 500u, 501u, 520u, 521u, 1000u, UINT32_MAX - 1, UINT32_MAX}) {
      const auto it = model.find({c, a});
      const auto found = index.find(OpId{c, a});
      EXPECT_EQ(found.has_value(), it != model.end()) << a << " " << c;
      if (found && it != model.end()) {
        EXPECT_EQ(*found, it->second);
      }
    }
  }
}

// Successors live in pages made on first use: an op of a page never made, or past the last
// page, has none; a copy (a fork's op set) is deep.
TEST(SuccessorTable, PagesAreMadeOnFirstUseAndCopiesAreIndependent) {
  SuccessorTable table;
  EXPECT_TRUE(table.of(0).empty());
  EXPECT_TRUE(table.of(UINT32_MAX).empty());
  table.to_add(5).push_back(OpId{7, 0});
  table.to_add(70).push_back(OpId{8, 1});
  table.to_add(70).push_back(OpId{9, 1});  // two: a heap block
  ASSERT_EQ(table.of(5).size(), 1u);
  EXPECT_EQ(table.of(5)[0], (OpId{7, 0}));
  ASSERT_EQ(table.of(70).size(), 2u);
  EXPECT_EQ(table.of(70)[1], (OpId{9, 1}));
  for (const std::uint32_t none : {0u, 4u, 6u, 31u, 32u, 63u, 64u, 69u, 71u, 96u, 100000u}) {
    EXPECT_TRUE(table.of(none).empty()) << none;
  }

  SuccessorTable copy = table;
  copy.to_add(5).push_back(OpId{10, 0});
  copy.to_add(200).push_back(OpId{11, 0});
  EXPECT_EQ(table.of(5).size(), 1u);
  EXPECT_TRUE(table.of(200).empty());
  EXPECT_EQ(copy.of(5).size(), 2u);
  EXPECT_EQ(copy.of(70).size(), 2u);
  table = copy;
  EXPECT_EQ(table.of(200).size(), 1u);
  const SuccessorTable moved = std::move(copy);
  EXPECT_EQ(moved.of(5).size(), 2u);
  EXPECT_EQ(moved.of(200)[0], (OpId{11, 0}));
}

}  // namespace
}  // namespace am::core
