// The rules of the reference's patches for received changes, one small batch per rule (golden
// vectors patch_rules_*, tools/jsref/vectors/patch_rules.mjs): Document::diff_incremental gives
// what the reference's patchCallback gives a document receiving the batch, and Document::diff
// what its A.diff gives between the states before and after.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "am/document.h"
#include "support/hex.h"
#include "support/vectors.h"

namespace am {
namespace {

using nlohmann::json;

struct Received {
  json log;   // diff_incremental
  json diff;  // diff(before, after)
};

// Applies a case's `base`, then its `changes`, to a fresh document.
Received receive(const json& c) {
  Document doc;
  std::vector<Bytes> base, batch;
  for (const auto& h : c["base"]) base.push_back(test::hex(h.get<std::string>()));
  for (const auto& h : c["changes"]) batch.push_back(test::hex(h.get<std::string>()));
  EXPECT_TRUE(doc.apply_changes(base));
  (void)doc.diff_incremental();  // the cursor now at the base state
  const std::vector<ChangeHash> before = doc.heads();
  EXPECT_TRUE(doc.apply_changes(batch));
  Received out;
  out.log = test::normalise(json::parse(patches_to_json(doc.diff_incremental())));
  auto full = doc.diff(before, doc.heads());
  EXPECT_TRUE(full) << full.error().to_string();
  out.diff = full ? test::normalise(json::parse(patches_to_json(*full))) : json();
  return out;
}

const json* find_case(const json& v, const std::string& name) {
  for (const json& c : v["extra"]["cases"]) {
    if (c["name"] == name) return &c;
  }
  ADD_FAILURE() << "no case '" << name << "' in " << v["name"];
  return nullptr;
}

class PatchRuleVectors : public ::testing::TestWithParam<const char*> {};

TEST_P(PatchRuleVectors, ReceivedBatchesGiveTheReferencesPatches) {
  const json v = test::load_vector(GetParam());
  ASSERT_TRUE(v.is_object());
  std::size_t compared = 0;
  for (const json& c : v["extra"]["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const Received got = receive(c);
    // Where the reference's log panics (patches null), ours gives what its diff gives.
    const json& log = c["patches"].is_null() ? c["diff"] : c["patches"];
    EXPECT_EQ(got.log, test::normalise(log)) << "diff_incremental";
    EXPECT_EQ(got.diff, test::normalise(c["diff"])) << "diff";
    ++compared;
  }
  EXPECT_GE(compared, 8u);
}

INSTANTIATE_TEST_SUITE_P(Vectors, PatchRuleVectors, ::testing::Values("patch_rules_counter", "patch_rules_text"));

// Checks that case `name` of vector `vector` still shows `rule` (the reference's patches, in both
// its log and its diff), and that ours are the same.
void expect_rule(const char* vector, const std::string& name, const char* rule) {
  SCOPED_TRACE(name);
  const json v = test::load_vector(vector);
  ASSERT_TRUE(v.is_object());
  const json* c = find_case(v, name);
  ASSERT_NE(c, nullptr);
  const json want = test::normalise(json::parse(rule));
  if (!(*c)["patches"].is_null()) {
    ASSERT_EQ(test::normalise((*c)["patches"]), want) << "the vector no longer shows the rule";
  }
  ASSERT_EQ(test::normalise((*c)["diff"]), want) << "the vector no longer shows the rule";
  const Received got = receive(*c);
  EXPECT_EQ(got.log, want);
  EXPECT_EQ(got.diff, want);
}

// A counter that gains a concurrent (losing) value in the batch that increments it: the reference
// reports the conflict only, where it had none, and nothing where it had one already (the
// increment shows in neither); a list element is flagged either way.
TEST(PatchRules, ACounterGainingAValueWhileIncrementedReportsNoIncrement) {
  expect_rule("patch_rules_counter", "increment and a lower concurrent value",
              R"([{"action":"conflict","path":["c"]},{"action":"conflict","path":["l",0]}])");
  expect_rule("patch_rules_counter", "conflicted: increment and another lower value",
              R"([{"action":"conflict","path":["l",0]}])");
}

// A counter whose losers go in the batch that increments it: an increment, not a put again.
TEST(PatchRules, ACounterLosingItsLosersWhileIncrementedReportsTheIncrement) {
  expect_rule("patch_rules_counter", "conflicted: increment and the loser deleted",
              R"([{"action":"inc","path":["c"],"value":5},{"action":"inc","path":["l",0],"value":5}])");
}

// A text character is flagged when it first gains a concurrent (losing) value, as a map key is;
// and when its losers go it is not put again (where a map key and a list element are): the
// reference's diff reports nothing for it (its log panics there, so ours follows its diff).
TEST(PatchRules, ATextCharacterFollowsTheMapKeysConflictRuleButIsNotPutAgain) {
  expect_rule("patch_rules_text", "gains a lower concurrent value",
              R"([{"action":"conflict","path":["k"]},{"action":"conflict","path":["t",1]},
                  {"action":"conflict","path":["l",1]}])");
  expect_rule("patch_rules_text", "conflicted: gains another lower value", R"([{"action":"conflict","path":["l",1]}])");
  expect_rule("patch_rules_text", "the losers go",
              R"([{"action":"put","path":["k"],"value":"H"},{"action":"put","path":["l",1],"value":"H"}])");
}

}  // namespace
}  // namespace am
