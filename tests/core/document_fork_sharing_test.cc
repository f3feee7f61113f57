// A fork shares its op set until a write (document_impl.h, own_opset): calls that end up
// writing nothing (refused, or asking for what is already there) must not copy it.
#include <gtest/gtest.h>

#include <string>

#include "am/document.h"
#include "core/document_impl.h"

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

}  // namespace
}  // namespace am
