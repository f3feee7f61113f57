// Cursors in every form the reference produces and accepts (getCursor with move "after" and
// "before", "start"/"end", a cursor at the length, splice at a cursor), checked against the
// golden vector "cursors" of tools/jsref/gen-vectors.mjs.
#include <gtest/gtest.h>

#include <string>

#include "am/document.h"
#include "support/hex.h"
#include "support/vectors.h"

namespace am {
namespace {

using nlohmann::json;

Status apply(Document& d, const json& change) { return d.apply_changes(std::vector<Bytes>{test::hex(change["hex"].get<std::string>())}); }

std::vector<std::size_t> positions(const Document& d, const ObjId& text, const json& cursors) {
  std::vector<std::size_t> out;
  for (const json& c : cursors) {
    const auto at = d.get_cursor_position(text, c["cursor"].get<std::string>());
    EXPECT_TRUE(at) << c["cursor"] << ": " << (at ? "" : at.error().message);
    out.push_back(at ? *at : SIZE_MAX);
  }
  return out;
}

TEST(CursorVectors, CursorsTheirPositionsAndASpliceAtACursorMatchTheReference) {
  const json v = test::load_vector("cursors");
  ASSERT_TRUE(v.is_object());
  const json& changes = v["changes"];
  ASSERT_EQ(changes.size(), 4u);
  Document d;
  d.set_actor(*ActorId::from_hex(std::string(32, 'a')));
  ASSERT_TRUE(apply(d, changes[0]));
  const auto text_value = d.get(ObjId::root(), "text");
  ASSERT_TRUE(text_value && *text_value);
  const ObjId text = std::get<ObjectRef>(**text_value).id;

  for (const json& c : v["extra"]["cursors"]) {
    const std::string want = c["cursor"];
    if (c["index"] == "start") {
      EXPECT_EQ(kCursorStart, want);
      continue;
    }
    const std::size_t index = c["index"] == "end" ? d.length(text).value() : c["index"].get<std::size_t>();
    const CursorMove move = c.value("move", "after") == "before" ? CursorMove::kBefore : CursorMove::kAfter;
    const auto got = d.get_cursor(text, index, move);
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(*got, want) << "index " << c["index"] << " move " << c.value("move", "after");
  }

  ASSERT_TRUE(apply(d, changes[1]));  // "ab" and "ef" deleted
  EXPECT_EQ(positions(d, text, v["extra"]["cursors"]),
            v["extra"]["positions"]["after_delete"].get<std::vector<std::size_t>>());

  ASSERT_TRUE(apply(d, changes[2]));  // B's concurrent "XY"
  const std::string splice_cursor = v["extra"]["splice_cursor"];
  const auto cursor = d.get_cursor(text, 3, CursorMove::kBefore);
  ASSERT_TRUE(cursor);
  EXPECT_EQ(*cursor, splice_cursor);
  ASSERT_TRUE(d.splice_text_at_cursor(text, splice_cursor, 0, "Z"));
  CommitOptions at_zero;
  at_zero.time = 0;
  const ChangeHash made = d.commit(at_zero);
  EXPECT_EQ(made.to_hex(), changes[3]["hash"].get<std::string>());  // byte-identical change
  EXPECT_EQ(d.text(text).value(), v["extra"]["text"].get<std::string>());
  EXPECT_EQ(positions(d, text, v["extra"]["cursors"]),
            v["extra"]["positions"]["at_end"].get<std::vector<std::size_t>>());
}

// A cursor whose element was deleted: "after" resolves to where the next visible element now
// starts; "before" resolves to the nearest element up its insertion chain (the element it was
// inserted after, and so on; a mark's start counts as hidden) that is still visible, or 0. Golden
// vector "cursors_deleted_chain": the chain differs from the text order, so "the previous visible
// element" gives other answers (e.g. step 4, the cursor before "b" of "aQXYb..." resolves to 0).
TEST(CursorVectors, CursorsOnDeletedElementsFollowTheReferenceAlongTheInsertionChain) {
  const json v = test::load_vector("cursors_deleted_chain");
  ASSERT_TRUE(v.is_object());
  const json& changes = v["changes"];
  const json& extra = v["extra"];
  ASSERT_EQ(changes.size(), extra["positions"].size());
  Document d;
  d.set_actor(*ActorId::from_hex(std::string(32, 'a')));
  ObjId text;
  for (std::size_t step = 0; step < changes.size(); ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    ASSERT_TRUE(apply(d, changes[step]));
    if (step == 0) {
      const auto text_value = d.get(ObjId::root(), "text");
      ASSERT_TRUE(text_value && *text_value);
      text = std::get<ObjectRef>(**text_value).id;
    }
    ASSERT_EQ(d.text(text).value(), extra["texts"][step].get<std::string>());
    for (const json& c : extra["cursors"]) {
      if (c["step"].get<std::size_t>() != step) continue;
      const CursorMove move = c["move"] == "before" ? CursorMove::kBefore : CursorMove::kAfter;
      const auto got = d.get_cursor(text, c["index"].get<std::size_t>(), move);
      ASSERT_TRUE(got) << got.error().message;
      EXPECT_EQ(*got, c["cursor"].get<std::string>()) << "index " << c["index"] << " move " << c["move"];
    }
    const json& want = extra["positions"][step];
    for (std::size_t i = 0; i < want.size(); ++i) {
      if (want[i].is_null()) continue;
      const json& c = extra["cursors"][i];
      const auto at = d.get_cursor_position(text, c["cursor"].get<std::string>());
      ASSERT_TRUE(at) << c["cursor"] << ": " << at.error().message;
      EXPECT_EQ(*at, want[i].get<std::size_t>()) << "cursor " << c["cursor"] << " (index " << c["index"] << " at step "
                                                 << c["step"] << ", move " << c["move"] << ")";
    }
  }
}

TEST(Cursor, MalformedOrForeignCursorsAreRefusedWithTheirText) {
  Document d;
  const ObjId text = d.put_object(ObjId::root(), "t", ObjType::kText).value();
  const ObjId map = d.put_object(ObjId::root(), "m", ObjType::kMap).value();
  ASSERT_TRUE(d.splice_text(text, 0, 0, "hello"));
  for (const std::string& bad : std::vector<std::string>{"", "-", "--2@aa", "zz", "2@", "99@" + std::string(32, 'a'), "-e"}) {
    const auto r = d.get_cursor_position(text, bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find(bad), std::string::npos) << r.error().message;
  }
  EXPECT_FALSE(d.get_cursor_position(map, kCursorStart));  // not a sequence
  EXPECT_EQ(d.get_cursor_position(text, kCursorEnd).value(), 5u);
  ASSERT_TRUE(d.splice_text_at_cursor(text, kCursorEnd, 0, "!"));
  ASSERT_TRUE(d.splice_text_at_cursor(text, kCursorStart, 0, ">"));
  EXPECT_EQ(d.text(text).value(), ">hello!");
}

}  // namespace
}  // namespace am
