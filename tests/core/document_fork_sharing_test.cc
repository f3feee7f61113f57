// A fork shares its op set until a write (document_impl.h, own_opset): calls that end up
// writing nothing (refused, or asking for what is already there) must not copy it. And fork_at
// against the reference: the order its copy applies and saves the changes in.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "am/change.h"
#include "am/document.h"
#include "core/document_impl.h"
#include "support/hex.h"
#include "support/vectors.h"

namespace am {
namespace {

ActorId actor(std::string_view hex) { return *ActorId::from_hex(hex); }

bool share_op_set(const Document& a, const Document& b) {
  return &detail::DocumentAccess::impl(a).opset() == &detail::DocumentAccess::impl(b).opset();
}

TEST(DocumentForkSharing, CallsThatWriteNothingCopyNothing) {
  Document doc(DocumentOptions{actor("aaaa"), TextUnit::kUtf16});
  const ObjId map = doc.put_object(ObjId::root(), "m", ObjType::kMap).value();
  const ObjId text = doc.put_object(ObjId::root(), "t", ObjType::kText).value();
  ASSERT_TRUE(doc.put(map, "a", std::string("x")));
  ASSERT_TRUE(doc.splice_text(text, 0, 0, "hello"));
  doc.commit();
  Document fork = doc.fork(actor("bbbb"));
  ASSERT_TRUE(share_op_set(doc, fork));

  EXPECT_TRUE(fork.update_text(text, "hello"));          // the text already there
  EXPECT_TRUE(fork.put(map, "a", std::string("x")));     // the value already there
  EXPECT_TRUE(fork.remove(map, "missing"));               // nothing to remove
  EXPECT_FALSE(fork.join_block(text, 99));                // out of bounds
  EXPECT_FALSE(fork.split_block(text, 99, Block{}));
  EXPECT_FALSE(fork.update_block(text, 99, Block{}));
  EXPECT_TRUE(fork.update_spans(text, fork.spans(text).value()));  // the spans already there
  EXPECT_TRUE(share_op_set(doc, fork));

  // A write copies, and only the writer changes.
  EXPECT_TRUE(fork.update_text(text, "hello!"));
  EXPECT_FALSE(share_op_set(doc, fork));
  EXPECT_EQ(fork.text(text).value(), "hello!");
  EXPECT_EQ(doc.text(text).value(), "hello");
}

// The first write copies the op set with its successor table (core/opset/successors.h): the
// successors it had (a space deleted before the fork) go with the copy, those the fork then adds
// (a delete, an overwrite, an increment) are the fork's only, and each side reads and saves its
// own state, at its heads and at older ones.
TEST(DocumentForkSharing, SuccessorsAddedAfterTheCopyStayOnTheWritersSide) {
  Document doc(DocumentOptions{actor("aaaa"), TextUnit::kUtf16});
  const ObjId text = doc.put_object(ObjId::root(), "t", ObjType::kText).value();
  ASSERT_TRUE(doc.splice_text(text, 0, 0, "hello  world"));
  ASSERT_TRUE(doc.put(ObjId::root(), "k", std::string("v0")));
  doc.commit();
  ASSERT_TRUE(doc.splice_text(text, 5, 1, ""));
  ASSERT_TRUE(doc.put(ObjId::root(), "k", std::string("v1")));
  ASSERT_TRUE(doc.put(ObjId::root(), "c", Counter{5}));
  doc.commit();
  const Bytes saved = doc.save();
  const std::vector<ChangeHash> before = doc.heads();
  Document fork = doc.fork(actor("bbbb"));
  ASSERT_TRUE(share_op_set(doc, fork));
  ASSERT_TRUE(fork.splice_text(text, 5, 6, ""));
  ASSERT_TRUE(fork.put(ObjId::root(), "k", std::string("v2")));
  ASSERT_TRUE(fork.increment(ObjId::root(), "c", 3));
  fork.commit();
  EXPECT_FALSE(share_op_set(doc, fork));

  EXPECT_EQ(doc.text(text).value(), "hello world");
  EXPECT_EQ(doc.get(ObjId::root(), "k").value(), std::optional<Value>(ScalarValue{std::string("v1")}));
  EXPECT_EQ(doc.get(ObjId::root(), "c").value(), std::optional<Value>(ScalarValue{Counter{5}}));
  EXPECT_EQ(doc.save(), saved);
  EXPECT_EQ(fork.text(text).value(), "hello");
  EXPECT_EQ(fork.get(ObjId::root(), "k").value(), std::optional<Value>(ScalarValue{std::string("v2")}));
  EXPECT_EQ(fork.get(ObjId::root(), "c").value(), std::optional<Value>(ScalarValue{Counter{8}}));
  // Reads at the heads before the fork's change go through the successors' ids.
  EXPECT_EQ(fork.text_at(text, before).value(), "hello world");
  EXPECT_EQ(fork.get_at(ObjId::root(), "k", before).value(), std::optional<Value>(ScalarValue{std::string("v1")}));
  EXPECT_EQ(fork.get_at(ObjId::root(), "c", before).value(), std::optional<Value>(ScalarValue{Counter{5}}));
  const Document reloaded = Document::load(fork.save()).value();
  EXPECT_EQ(reloaded.text(text).value(), "hello");
  EXPECT_EQ(reloaded.save(), fork.save());
}

// The diff cursor's touch log belongs to the document, not to the op set: moving, using or
// dropping a cursor copies nothing, and the patches after a write stay those of a full diff.
TEST(DocumentForkSharing, DiffCursorsCopyNothing) {
  Document doc(DocumentOptions{actor("aaaa"), TextUnit::kUtf16});
  const ObjId text = doc.put_object(ObjId::root(), "t", ObjType::kText).value();
  ASSERT_TRUE(doc.splice_text(text, 0, 0, "hello"));
  doc.commit();
  Document fork = doc.fork(actor("bbbb"));
  ASSERT_TRUE(share_op_set(doc, fork));

  doc.update_diff_cursor();
  fork.update_diff_cursor();
  EXPECT_TRUE(doc.diff_incremental().empty());
  EXPECT_TRUE(fork.diff_incremental().empty());
  fork.reset_diff_cursor();
  fork.update_diff_cursor();
  EXPECT_TRUE(share_op_set(doc, fork));

  // A remote change on one side: its patches come from the touch log, and equal a full diff.
  Document remote = doc.fork(actor("cccc"));
  ASSERT_TRUE(remote.splice_text(text, 5, 0, " world"));
  remote.commit();
  const std::vector<ChangeHash> before = doc.heads();
  ASSERT_TRUE(doc.apply_changes(remote.get_changes(before)));
  const std::vector<Patch> incremental = doc.diff_incremental();
  const std::vector<Patch> full = doc.diff(before, doc.heads()).value();
  ASSERT_FALSE(incremental.empty());
  EXPECT_EQ(patches_to_json(incremental), patches_to_json(full));
  // The fork saw none of it.
  EXPECT_TRUE(fork.diff_incremental().empty());
  EXPECT_EQ(fork.text(text).value(), "hello");
}

// fork_at against the golden vector fork_at_concurrent (tools/jsref/vectors/fork_at.mjs): at each
// head set the copy applies the changes in the reference's order, so it saves the same bytes. The
// generator makes sure that most of these orders differ from the document's own.
TEST(DocumentForkAt, TheCopyAppliesAndSavesTheChangesInTheReferenceOrder) {
  const nlohmann::json v = test::load_vector("fork_at_concurrent");
  ASSERT_TRUE(v.is_object());
  const Document doc = Document::load(test::hex(v["save_hex"].get<std::string>())).value();
  const auto hashes_in_order = [](const Document& d) {
    std::vector<std::string> out;
    for (const Bytes& c : d.get_changes()) out.push_back(decode_change(c, false).value().hash.to_hex());
    return out;
  };
  const std::vector<std::string> own_order = hashes_in_order(doc);
  ASSERT_EQ(own_order.size(), v["changes"].size());
  for (const nlohmann::json& f : v["extra"]["forks"]) {
    SCOPED_TRACE(f["heads"].dump());
    std::vector<ChangeHash> heads;
    for (const nlohmann::json& h : f["heads"]) heads.push_back(*ChangeHash::from_hex(h.get<std::string>()));
    const Document copy = doc.fork_at(heads, actor(std::string(32, 'e'))).value();
    const std::vector<std::string> order = hashes_in_order(copy);
    EXPECT_EQ(order, f["change_order"].get<std::vector<std::string>>());
    EXPECT_EQ(to_hex(copy.save_no_compress()), f["save_nocompress_hex"].get<std::string>());
    // Only a copy in the document's own order may share its op set.
    EXPECT_EQ(share_op_set(doc, copy), order == own_order);
  }
}

// A linear history replays in its own order: fork_at at its heads is fork(), sharing the op set.
TEST(DocumentForkAt, AtTheHeadsOfALinearHistoryItSharesTheOpSet) {
  Document doc(DocumentOptions{actor("aaaa")});
  for (std::int64_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(doc.put(ObjId::root(), "x", i));
    doc.commit();
  }
  const Document at_heads = doc.fork_at(doc.heads(), actor("bbbb")).value();
  EXPECT_TRUE(share_op_set(doc, at_heads));
  EXPECT_EQ(at_heads.save(), doc.fork(actor("bbbb")).save());
}

}  // namespace
}  // namespace am
