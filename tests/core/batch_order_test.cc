// The reference's rules that the corpus test (corpus_test.cc) showed we broke: the order in which
// a batch of changes is applied (it decides the saved change order, hence the saved bytes), and
// the refusal of documents whose mark ops are out of order.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "am/document.h"

namespace am {
namespace {

namespace fs = std::filesystem;

ActorId actor(std::string_view hex) { return *ActorId::from_hex(hex); }

Bytes concat(const std::vector<Bytes>& parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Four changes: a, then b depending on a (actor aa); c, concurrent with both, then d depending on
// c (actor cc).
struct Abc {
  Bytes a, b, c, d;
};
Abc make_abc() {
  Document one(DocumentOptions{actor("aa")});
  EXPECT_TRUE(one.put(ObjId::root(), "x", std::int64_t{1}));
  one.commit();
  EXPECT_TRUE(one.put(ObjId::root(), "x", std::int64_t{2}));
  one.commit();
  Document two(DocumentOptions{actor("cc")});
  EXPECT_TRUE(two.put(ObjId::root(), "y", std::int64_t{3}));
  two.commit();
  EXPECT_TRUE(two.put(ObjId::root(), "y", std::int64_t{4}));
  two.commit();
  const auto ab = one.get_changes();
  const auto cd = two.get_changes();
  EXPECT_EQ(ab.size(), 2u);
  EXPECT_EQ(cd.size(), 2u);
  return Abc{ab.at(0), ab.at(1), cd.at(0), cd.at(1)};
}

// The reference applies a batch in Kahn order: first every change whose dependencies were
// already applied, in arrival order (a, c), then those they made ready (b). Arrival order
// (a, b, c) would save the changes in another order than the reference does.
TEST(BatchOrder, ApplyChangesTakesReadyChangesBeforeTheOnesTheyEnable) {
  const Abc x = make_abc();
  Document doc;
  ASSERT_TRUE(doc.apply_changes(std::vector<Bytes>{x.a, x.b, x.c}));
  EXPECT_EQ(doc.get_changes(), (std::vector<Bytes>{x.a, x.c, x.b}));

  Document bytes_doc;  // the same through the concatenated-chunks overload
  ASSERT_TRUE(bytes_doc.apply_changes(concat({x.a, x.b, x.c})));
  EXPECT_EQ(bytes_doc.get_changes(), (std::vector<Bytes>{x.a, x.c, x.b}));
}

TEST(BatchOrder, LoadOfChangeChunksUsesTheBatchOrder) {
  const Abc x = make_abc();
  auto doc = Document::load(concat({x.a, x.b, x.c}));
  ASSERT_TRUE(doc) << doc.error().to_string();
  EXPECT_EQ(doc->get_changes(), (std::vector<Bytes>{x.a, x.c, x.b}));

  Document incremental;
  ASSERT_TRUE(incremental.load_incremental(concat({x.a, x.b, x.c})));
  EXPECT_EQ(incremental.get_changes(), (std::vector<Bytes>{x.a, x.c, x.b}));
}

// A queued change and the ones arriving later form one batch: d, queued first, is taken as soon
// as c is, before b (arrival order, pass after pass, would give c, a, b, d).
TEST(BatchOrder, QueuedChangesJoinTheNextBatchInQueueOrder) {
  const Abc x = make_abc();
  Document doc;
  ASSERT_TRUE(doc.apply_changes(std::vector<Bytes>{x.d}));  // waits for c
  EXPECT_TRUE(doc.get_changes().empty());
  ASSERT_EQ(doc.get_missing_deps().size(), 1u);
  ASSERT_TRUE(doc.apply_changes(std::vector<Bytes>{x.c, x.a, x.b}));
  EXPECT_EQ(doc.get_changes(), (std::vector<Bytes>{x.c, x.a, x.d, x.b}));
  EXPECT_TRUE(doc.get_missing_deps().empty());
}

// A failed batch leaves the document and its queue as they were.
TEST(BatchOrder, FailedBatchKeepsTheQueue) {
  const Abc x = make_abc();
  Document doc;
  ASSERT_TRUE(doc.apply_changes(std::vector<Bytes>{x.c}));
  ASSERT_TRUE(doc.apply_changes(std::vector<Bytes>{x.b}));  // waits for a
  // A change with c's actor and seq but other content: applying it must fail, after a.
  Document clash(DocumentOptions{actor("cc")});
  ASSERT_TRUE(clash.put(ObjId::root(), "other", std::int64_t{9}));
  clash.commit();
  EXPECT_FALSE(doc.apply_changes(std::vector<Bytes>{x.a, clash.get_changes().at(0)}));
  EXPECT_EQ(doc.get_changes(), (std::vector<Bytes>{x.c}));
  ASSERT_TRUE(doc.apply_changes(std::vector<Bytes>{x.a}));  // b still waited: both apply
  EXPECT_EQ(doc.get_changes(), (std::vector<Bytes>{x.c, x.a, x.b}));
}

// A document chunk loaded into a document that has changes is a batch too (Kahn order, not the
// stored order); loaded into an empty document it keeps its stored order, as load() does.
TEST(BatchOrder, DocumentChunkIntoNonEmptyDocumentIsABatch) {
  const Abc x = make_abc();
  Document saver;
  ASSERT_TRUE(saver.apply_changes(std::vector<Bytes>{x.a, x.b}));
  ASSERT_TRUE(saver.apply_changes(std::vector<Bytes>{x.c}));
  ASSERT_EQ(saver.get_changes(), (std::vector<Bytes>{x.a, x.b, x.c}));
  const Bytes saved = saver.save();

  Document empty;
  ASSERT_TRUE(empty.load_incremental(saved));
  EXPECT_EQ(empty.get_changes(), (std::vector<Bytes>{x.a, x.b, x.c}));

  Document other(DocumentOptions{actor("ee")});
  ASSERT_TRUE(other.put(ObjId::root(), "e", std::int64_t{5}));
  other.commit();
  const Bytes e = other.get_changes().at(0);
  ASSERT_TRUE(other.load_incremental(saved));
  EXPECT_EQ(other.get_changes(), (std::vector<Bytes>{e, x.a, x.c, x.b}));
}

// Upstream's fixture: a mark end that comes before its begin in document order. The reference
// refuses it ("invalid mark operation order"); loading it would write a file JS cannot open.
TEST(MarkOrder, DocumentWithMarkEndBeforeItsBeginIsRefused) {
  const fs::path file = fs::path(AM_SOURCE_DIR) / "data" / "battery" / "fixture-broken_zero_width_mark.automerge";
  std::ifstream in(file, std::ios::binary);
  ASSERT_TRUE(in) << file;
  const Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto doc = Document::load(bytes);
  ASSERT_FALSE(doc);
  const std::string message = doc.error().to_string();
  EXPECT_NE(message.find("invalid mark operation order"), std::string::npos) << message;
  EXPECT_NE(message.find("occurs before mark begin"), std::string::npos) << message;

  Document into;
  EXPECT_FALSE(into.load_incremental(bytes));
  EXPECT_FALSE(into.apply_changes(bytes));
}

// Marks made the normal way (begin before end, same object) still load.
TEST(MarkOrder, WellFormedMarksLoad) {
  Document doc(DocumentOptions{actor("ab")});
  auto text = doc.put_object(ObjId::root(), "t", ObjType::kText);
  ASSERT_TRUE(text);
  ASSERT_TRUE(doc.splice_text(*text, 0, 0, "hello world"));
  ASSERT_TRUE(doc.mark(*text, 0, 5, ExpandMark::kBoth, "bold", true));
  ASSERT_TRUE(doc.mark(*text, 3, 4, ExpandMark::kNone, "italic", true));
  doc.commit();
  auto again = Document::load(doc.save());
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(again->heads(), doc.heads());
}

}  // namespace
}  // namespace am
