// Rich-text blocks and spans (Document::split_block, join_block, update_block, block, spans,
// spans_at): the reference's scripted histories replayed call by call (golden vectors of
// tools/jsref/vectors/rich_text.mjs: identical change hashes, equal spans after every step and at
// every earlier heads), edge cases, and a convergence property over random histories.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <random>
#include <string>

#include "am/document.h"
#include "support/rich_text_replay.h"
#include "support/vectors.h"

namespace am {
namespace {

const char kBlockChar[] = "\xef\xbf\xbc";  // U+FFFC, what text() shows for a block

Document doc_of(char actor_letter) { return test::rich_text_doc(actor_letter); }
void replay_vector(const std::string& name) { test::replay_rich_text_vector(name); }

TEST(BlocksVectors, SplitJoinUpdateGiveTheReferencesBytesAndSpans) { replay_vector("blocks_split_join_update"); }
TEST(BlocksVectors, ConcurrentBlockEditsMergeAsTheReferenceMergesThem) { replay_vector("blocks_concurrent"); }
TEST(BlocksVectors, SplicesInsertBeforeTheyDeleteAsTheReferenceDoes) { replay_vector("splice_insert_then_delete"); }
TEST(BlocksVectors, SeededRandomHistoriesMatchTheReferenceAtEveryStep) {
  int replayed = 0;
  for (const std::string& name : test::vector_names()) {
    if (!name.starts_with("rich_text_random_")) continue;
    replay_vector(name);
    ++replayed;
  }
  EXPECT_GE(replayed, 6);
}

// ---- semantics and edge cases ----------------------------------------------------------------

TEST(Blocks, BlockKeepsTextApartFromStringScalarsAndNestedValues) {
  Document d = doc_of('a');
  const ObjId text = d.put_object(ObjId::root(), "text", ObjType::kText).value();
  ASSERT_TRUE(d.splice_text(text, 0, 0, "ab"));
  Block b{{"type", Hydrated::of(std::string("p"))},
          {"name", Hydrated::text_of("x\xc3\xa9")},
          {"parents", Hydrated::list_of({Hydrated::of(std::string("ul")), Hydrated::text_of("ol")})},
          {"attrs", Hydrated::map_of({{"n", Hydrated::of(std::int64_t{3})}, {"c", Hydrated::of(Counter{2})}})}};
  const auto id = d.split_block(text, 1, b);
  ASSERT_TRUE(id) << id.error().to_string();
  EXPECT_EQ(d.text(text).value(), std::string("a") + kBlockChar + "b");
  EXPECT_EQ(d.length(text).value(), 3u);
  const auto read = d.block(text, 1);
  ASSERT_TRUE(read && *read);
  EXPECT_EQ(**read, b);
  Block other = b;
  other["type"] = Hydrated::text_of("p");  // a text "p" is not the string "p"
  EXPECT_NE(**read, other);
  EXPECT_EQ(d.block(text, 0).value(), std::nullopt);  // a character
  EXPECT_EQ(d.block(text, 3).value(), std::nullopt);  // the end
  EXPECT_EQ(d.block(text, 99).value(), std::nullopt);
  d.commit();
  const auto at = d.spans_at(text, d.heads());
  ASSERT_TRUE(at);
  ASSERT_EQ(at->size(), 3u);
  EXPECT_EQ((*at)[1].kind, Span::Kind::kBlock);
  EXPECT_EQ((*at)[1].block, b);
}

TEST(Blocks, OutOfBoundsIndexesAndNonTextObjectsAreErrors) {
  Document d = doc_of('a');
  const ObjId text = d.put_object(ObjId::root(), "text", ObjType::kText).value();
  const ObjId list = d.put_object(ObjId::root(), "list", ObjType::kList).value();
  ASSERT_TRUE(d.splice_text(text, 0, 0, "xyz"));
  EXPECT_FALSE(d.split_block(text, 4, {}));
  EXPECT_TRUE(d.split_block(text, 3, {}));  // appending is fine
  EXPECT_FALSE(d.join_block(text, 4));
  EXPECT_FALSE(d.update_block(text, 4, {}));
  EXPECT_FALSE(d.split_block(list, 0, {}));
  EXPECT_FALSE(d.spans(list));
  EXPECT_FALSE(d.spans(ObjId::root()));
  // join_block deletes a character as readily as a block (the reference does not check).
  ASSERT_TRUE(d.join_block(text, 1));
  EXPECT_EQ(d.text(text).value(), std::string("xz") + kBlockChar);
  // update_block replaces a character by a block.
  ASSERT_TRUE(d.update_block(text, 0, {{"type", Hydrated::of(std::string("h"))}}));
  EXPECT_EQ(d.text(text).value(), std::string(kBlockChar) + "z" + kBlockChar);
}

TEST(Spans, RunsSplitAtBlocksAndMarkChangesAndBlocksCarryNoMarks) {
  Document d = doc_of('a');
  const ObjId text = d.put_object(ObjId::root(), "text", ObjType::kText).value();
  EXPECT_TRUE(d.spans(text).value().empty());
  ASSERT_TRUE(d.splice_text(text, 0, 0, "abcdef"));
  ASSERT_TRUE(d.split_block(text, 3, {}));  // "abc" block "def"
  ASSERT_TRUE(d.mark(text, 1, 6, ExpandMark::kAfter, "b", true));
  ASSERT_TRUE(d.mark(text, 0, 2, ExpandMark::kNone, "i", true));
  ASSERT_TRUE(d.unmark(text, 0, 2, ExpandMark::kNone, "i"));  // null winners are no marks
  const std::vector<Span> spans = d.spans(text).value();
  ASSERT_EQ(spans.size(), 5u) << to_json(spans);
  EXPECT_EQ(to_json(spans), R"([{"type":"text","value":"a"},{"type":"text","value":"bc","marks":{"b":true}},)"
                            R"({"type":"block","value":{}},{"type":"text","value":"de","marks":{"b":true}},)"
                            R"({"type":"text","value":"f"}])");
  // Deleting everything leaves no spans.
  ASSERT_TRUE(d.splice_text(text, 0, 7, ""));
  EXPECT_TRUE(d.spans(text).value().empty());
}

// ---- property: replicas converge, and spans agree with text() and get_marks() ------------------

RC_GTEST_PROP(SpansProperty, ReplicasAgreeAndSpansMatchTextAndMarks, ()) {
  const auto seed = *rc::gen::arbitrary<std::uint32_t>();
  RC_TAG(seed);
  std::mt19937 rng(seed);
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  std::vector<Document> docs;
  for (char c : {'1', '2', '3'}) docs.push_back(doc_of(c));
  const ObjId text = docs[0].put_object(ObjId::root(), "text", ObjType::kText).value();
  RC_ASSERT(docs[0].splice_text(text, 0, 0, "hello"));
  docs[0].commit();
  for (std::size_t i = 1; i < docs.size(); ++i) RC_ASSERT(docs[i].merge(docs[0]));
  const int rounds = *rc::gen::inRange(1, 25);
  for (int round = 0; round < rounds; ++round) {
    Document& d = docs[pick(docs.size())];
    for (std::size_t e = 0, n = 1 + pick(3); e < n; ++e) {
      const std::size_t len = d.length(text).value();
      switch (pick(6)) {
        case 0: (void)d.splice_text(text, pick(len + 1), 0, pick(2) ? "x" : "\xf0\x9f\x98\x80"); break;
        case 1: if (len) (void)d.splice_text(text, pick(len), 1, ""); break;
        case 2: (void)d.split_block(text, pick(len + 1), {{"type", Hydrated::of(std::string(pick(2) ? "p" : "h"))}}); break;
        case 3: if (len) (void)d.join_block(text, pick(len)); break;
        case 4: if (len) (void)d.update_block(text, pick(len), {{"n", Hydrated::of(std::int64_t(pick(3)))}}); break;
        default:
          if (len >= 2) {
            const std::size_t start = pick(len - 1);
            (void)d.mark(text, start, start + 1 + pick(len - start), static_cast<ExpandMark>(pick(4)),
                         pick(2) ? "b" : "i", pick(3) ? ScalarValue{true} : ScalarValue{Null{}});
          }
      }
    }
    d.commit_if_pending();
    if (pick(3) == 0) RC_ASSERT(docs[pick(docs.size())].merge(docs[pick(docs.size())]));
  }
  for (auto& d : docs) {
    for (auto& other : docs) RC_ASSERT(d.merge(other));
  }
  const std::vector<Span> spans = docs[0].spans(text).value();
  for (const auto& d : docs) RC_ASSERT(d.spans(text).value() == spans);
  // Spans, read back, are text(); each run's marks are those get_marks() gives its elements;
  // consecutive text runs differ in their marks.
  std::string joined;
  std::size_t element = 0;
  for (std::size_t i = 0; i < spans.size(); ++i) {
    const Span& s = spans[i];
    if (s.kind == Span::Kind::kBlock) {
      joined += kBlockChar;
      RC_ASSERT(docs[0].get_marks(text, element).has_value());
      ++element;
      continue;
    }
    if (i > 0 && spans[i - 1].kind == Span::Kind::kText) RC_ASSERT(spans[i - 1].marks != s.marks);
    joined += s.text;
    for (std::size_t k = 0; k < s.text.size(); ++k) {
      if ((static_cast<unsigned char>(s.text[k]) & 0xC0) == 0x80) continue;  // one element per code point
      RC_ASSERT(docs[0].get_marks(text, element).value() == s.marks);
      ++element;
    }
  }
  RC_ASSERT(joined == docs[0].text(text).value());
}

}  // namespace
}  // namespace am
