// Document::diff against the reference's A.diff: the golden vectors diff_* record the patches
// JS gives between pairs of heads of one history (tools/jsref/vectors/diff.mjs).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "am/document.h"
#include "support/hex.h"
#include "support/vectors.h"

namespace am {
namespace {

using nlohmann::json;

std::vector<ChangeHash> heads_of(const json& list) {
  std::vector<ChangeHash> out;
  for (const auto& h : list) out.push_back(*ChangeHash::from_hex(h.get<std::string>()));
  return out;
}

// Compares Document::diff with every diff of vector `name`; returns how many it compared.
std::size_t expect_reference_diffs(const char* name) {
  SCOPED_TRACE(name);
  const json v = test::load_vector(name);
  EXPECT_TRUE(v.is_object());
  if (!v.is_object()) return 0;
  auto doc = Document::load(test::hex(v["save_hex"].get<std::string>()));
  EXPECT_TRUE(doc) << doc.error().to_string();
  if (!doc) return 0;
  std::size_t compared = 0;
  for (const json& d : v["extra"]["diffs"]) {
    auto patches = doc->diff(heads_of(d["from"]), heads_of(d["to"]));
    EXPECT_TRUE(patches) << patches.error().to_string();
    if (!patches) continue;
    EXPECT_EQ(test::normalise(json::parse(patches_to_json(*patches))), test::normalise(d["patches"]))
        << "from " << d["from"] << " to " << d["to"];
    ++compared;
  }
  return compared;
}

TEST(DiffVectors, DiffGivesTheReferencesPatchesBetweenAnyTwoStates) {
  std::size_t compared = 0;
  for (const char* name : {"diff_structure", "diff_conflicts", "diff_conflict_flags", "diff_random", "diff_marks", "diff_unmarks"}) {
    compared += expect_reference_diffs(name);
  }
  EXPECT_GE(compared, 110u);
}

// The rule the reference follows for unmarks (vector diff_unmarks): text unmarked (a null mark
// value) and text never marked are alike, so an unmark shows in a mark patch (value null) only
// where the other state has that mark, and a mark with an unmark inside it, both made after
// `from`, reports just the still-marked parts.
TEST(DiffVectors, AnUnmarkIsReportedOnlyWhereTheOtherStateHasTheMark) {
  EXPECT_EQ(expect_reference_diffs("diff_unmarks"), 30u);
  const json v = test::load_vector("diff_unmarks");
  ASSERT_TRUE(v.is_object());
  auto doc = Document::load(test::hex(v["save_hex"].get<std::string>()));
  ASSERT_TRUE(doc);
  // States: [empty, h1 "abcdefghij", h2 mark b 0..8, h3 unmark b 2..4 and i 6..9, h4, h5]; the
  // pairs run from each to every other, so pair 7 is h1 -> h3 and pair 12 is h2 -> h3.
  const json& diffs = v["extra"]["diffs"];
  const auto expect_pair = [&](std::size_t i, const char* reference) {
    const json want = test::normalise(json::parse(reference));
    ASSERT_EQ(test::normalise(diffs[i]["patches"]), want) << "the vector no longer shows the rule";
    auto patches = doc->diff(heads_of(diffs[i]["from"]), heads_of(diffs[i]["to"]));
    ASSERT_TRUE(patches);
    EXPECT_EQ(test::normalise(json::parse(patches_to_json(*patches))), want);
  };
  // Mark and unmark both new: the unmarked 2..4 and the never-marked i are left out.
  expect_pair(7, R"([{"action":"mark","path":["t"],"marks":[
    {"name":"b","value":true,"start":0,"end":2},{"name":"b","value":true,"start":4,"end":8}]}])");
  // Only the unmark new: null where b was, nothing for i.
  expect_pair(12, R"([{"action":"mark","path":["t"],"marks":[{"name":"b","value":null,"start":2,"end":4}]}])");
}

}  // namespace
}  // namespace am
