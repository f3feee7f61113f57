// Document::update_spans (JS updateSpans) and marks over empty or reversed ranges: the reference's
// scripted histories (tools/jsref/vectors/rich_text.mjs, update_spans_* and marks_*) replayed call
// by call with byte-identical changes and equal spans after every step, plus edge cases.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "am/document.h"
#include "support/rich_text_replay.h"
#include "support/vectors.h"

namespace am {
namespace {

TEST(UpdateSpansVectors, BasicEditsGiveTheReferencesBytesAndSpans) {
  test::replay_rich_text_vector("update_spans_basic");
}
// Named after the reference bugs they pin: a removed grapheme cluster loses only its first code
// point (and the index drifts into surrogate pairs), a shrinking list loses its first elements.
TEST(UpdateSpansVectors, ReferenceBugsGraphemeDeleteAndListShrinkAreReproduced) {
  test::replay_rich_text_vector("update_spans_bugs");
}
TEST(UpdateSpansVectors, RoundTripSplitsAMarkOverABlockAndBlocksMergePerKey) {
  test::replay_rich_text_vector("update_spans_round_trip");
}

// A conflicted key makes a block differ from the same value without the conflict, and the
// in-place update then deletes the losing values.
TEST(UpdateSpansVectors, ConflictedBlockKeysAreResolvedAsTheReferenceResolvesThem) {
  test::replay_rich_text_vector("update_spans_conflicts");
}
TEST(UpdateSpansVectors, SeededRandomMutationsOfTheSpansMatchTheReferenceAtEveryStep) {
  int replayed = 0;
  for (const std::string& name : test::vector_names()) {
    if (!name.starts_with("update_spans_random_")) continue;
    test::replay_rich_text_vector(name);
    ++replayed;
  }
  EXPECT_GE(replayed, 5);
}
TEST(MarkRangesVectors, EmptyAndReversedMarksWriteTheReferencesOps) {
  test::replay_rich_text_vector("marks_empty_and_reversed");
}

// ---- semantics and edge cases ----------------------------------------------------------------

Span text_span(std::string s, std::map<std::string, ScalarValue> marks = {}) {
  Span out;
  out.text = std::move(s);
  out.marks = std::move(marks);
  return out;
}

Span block_span(Block b) {
  Span out;
  out.kind = Span::Kind::kBlock;
  out.block = std::move(b);
  return out;
}

TEST(UpdateSpans, ReachesTheDesiredSpansAndWritesNothingWhenAlreadyThere) {
  Document d = test::rich_text_doc('a');
  const ObjId text = d.put_object(ObjId::root(), "text", ObjType::kText).value();
  const std::vector<Span> want{block_span({{"type", Hydrated::of(std::string("h1"))}}), text_span("ab"),
                               text_span("c\xf0\x9f\x98\x80", {{"b", true}})};
  ASSERT_TRUE(d.update_spans(text, want));
  EXPECT_EQ(d.spans(text).value(), want);
  d.commit();
  ASSERT_TRUE(d.update_spans(text, want));
  EXPECT_EQ(d.pending_ops(), 0u);
  // Code points as the text unit: the same spans come out (a block is one unit in either).
  Document cp(DocumentOptions{ActorId::from_hex(std::string(32, 'c')), TextUnit::kCodePoint});
  const ObjId t2 = cp.put_object(ObjId::root(), "text", ObjType::kText).value();
  ASSERT_TRUE(cp.update_spans(t2, want));
  EXPECT_EQ(cp.spans(t2).value(), want);
}

TEST(UpdateSpans, RefusesNonTextObjectsAndInvalidUtf8) {
  Document d = test::rich_text_doc('a');
  const ObjId list = d.put_object(ObjId::root(), "list", ObjType::kList).value();
  const ObjId text = d.put_object(ObjId::root(), "text", ObjType::kText).value();
  EXPECT_FALSE(d.update_spans(list, {text_span("x")}));
  EXPECT_FALSE(d.update_spans(ObjId::root(), {text_span("x")}));
  EXPECT_FALSE(d.update_spans(text, {text_span("\xff")}));
  EXPECT_EQ(d.text(text).value(), "");
}

TEST(UpdateSpans, ConfigChoosesTheExpandOfEachMark) {
  Document d = test::rich_text_doc('a');
  const ObjId text = d.put_object(ObjId::root(), "text", ObjType::kText).value();
  ASSERT_TRUE(d.update_spans(text, {text_span("ab", {{"b", true}, {"i", true}})}, ExpandMark::kNone,
                             {{"i", ExpandMark::kBoth}}));
  // Typing at either edge joins "i" (both) but not "b" (none).
  ASSERT_TRUE(d.splice_text(text, 2, 0, "z"));
  ASSERT_TRUE(d.splice_text(text, 0, 0, "y"));
  const std::vector<Span> got = d.spans(text).value();
  ASSERT_EQ(got.size(), 3u) << to_json(got);
  EXPECT_EQ(got[0], text_span("y", {{"i", true}}));
  EXPECT_EQ(got[1], text_span("ab", {{"b", true}, {"i", true}}));
  EXPECT_EQ(got[2], text_span("z", {{"i", true}}));
}

TEST(MarkRanges, EmptyAndReversedRangesAreAcceptedAsInJs) {
  Document d = test::rich_text_doc('a');
  const ObjId text = d.put_object(ObjId::root(), "text", ObjType::kText).value();
  ASSERT_TRUE(d.splice_text(text, 0, 0, "abcd"));
  d.commit();
  ASSERT_TRUE(d.mark(text, 2, 2, ExpandMark::kNone, "b", true));
  EXPECT_EQ(d.pending_ops(), 0u);  // empty and expanding nowhere: nothing
  ASSERT_TRUE(d.mark(text, 2, 2, ExpandMark::kAfter, "b", true));
  EXPECT_EQ(d.pending_ops(), 2u);
  ASSERT_TRUE(d.mark(text, 3, 1, ExpandMark::kNone, "i", true));
  EXPECT_EQ(d.pending_ops(), 4u);
  EXPECT_TRUE(d.marks(text).value().empty());  // such marks cover nothing
  EXPECT_FALSE(d.mark(text, 5, 5, ExpandMark::kAfter, "b", true));  // past the end, as JS
  EXPECT_FALSE(d.mark(text, 5, 3, ExpandMark::kAfter, "b", true));
  EXPECT_FALSE(d.mark(text, 3, 9, ExpandMark::kAfter, "b", true));
  EXPECT_TRUE(d.unmark(text, 4, 4, ExpandMark::kBoth, "b"));
}

}  // namespace
}  // namespace am
