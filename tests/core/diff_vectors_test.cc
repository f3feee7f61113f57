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

TEST(DiffVectors, DiffGivesTheReferencesPatchesBetweenAnyTwoStates) {
  std::size_t compared = 0;
  std::size_t unmark_differences = 0;
  for (const char* name : {"diff_structure", "diff_conflicts", "diff_random", "diff_marks"}) {
    SCOPED_TRACE(name);
    const json v = test::load_vector(name);
    ASSERT_TRUE(v.is_object());
    auto doc = Document::load(test::hex(v["save_hex"].get<std::string>()));
    ASSERT_TRUE(doc) << doc.error().to_string();
    for (const json& d : v["extra"]["diffs"]) {
      auto patches = doc->diff(heads_of(d["from"]), heads_of(d["to"]));
      ASSERT_TRUE(patches) << patches.error().to_string();
      const json ours = test::normalise(json::parse(patches_to_json(*patches)));
      const json theirs = test::normalise(d["patches"]);
      ++compared;
      if (ours == theirs) continue;
      // Known gap (docs/architecture.md, "Historical reads and diffs"): where an unmark and the mark it covers both
      // come after `from`, the reference reports the unmark on fewer elements than we do. Every
      // other difference fails, and so does a growing number of these.
      ++unmark_differences;
      EXPECT_EQ(test::without_unmarks(ours), test::without_unmarks(theirs)) << "from " << d["from"] << " to " << d["to"];
    }
  }
  EXPECT_GE(compared, 80u);
  EXPECT_LE(unmark_differences, 4u);
}

}  // namespace
}  // namespace am
