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

}  // namespace
}  // namespace am
