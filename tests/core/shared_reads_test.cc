// Document::text_shared, map_range_shared and list_range_shared: the same value while the object is unchanged, a
// fresh one after any op on it, whichever way the op arrives (local edit, received change, merge,
// rollback, load).
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>

#include "am/document.h"

namespace am {
namespace {

ActorId actor(std::string_view hex) { return *ActorId::from_hex(hex); }

struct TwoTexts {
  Document doc{DocumentOptions{actor("aaaa")}};
  ObjId text;
  ObjId other;
  TwoTexts() {
    text = doc.put_object(ObjId::root(), "text", ObjType::kText).value();
    other = doc.put_object(ObjId::root(), "other", ObjType::kText).value();
    EXPECT_TRUE(doc.splice_text(text, 0, 0, "hello"));
    EXPECT_TRUE(doc.splice_text(other, 0, 0, "other"));
    doc.commit();
  }
};

TEST(TextShared, SameStringUntilTheObjectChanges) {
  TwoTexts t;
  const auto first = t.doc.text_shared(t.text).value();
  EXPECT_EQ(*first, "hello");
  EXPECT_EQ(t.doc.text_shared(t.text).value(), first);  // the same string, not a copy

  // An edit of another object leaves it.
  ASSERT_TRUE(t.doc.splice_text(t.other, 0, 0, "an"));
  ASSERT_TRUE(t.doc.put(ObjId::root(), "k", std::int64_t{1}));
  t.doc.commit();
  EXPECT_EQ(t.doc.text_shared(t.text).value(), first);

  // An edit of the object gives a new string; the old one stays as it was for its holders.
  ASSERT_TRUE(t.doc.splice_text(t.text, 5, 0, "!"));
  const auto second = t.doc.text_shared(t.text).value();
  EXPECT_NE(second, first);
  EXPECT_EQ(*second, "hello!");
  EXPECT_EQ(*first, "hello");
  // A delete too (it stores no op, it hides one).
  ASSERT_TRUE(t.doc.splice_text(t.text, 0, 1, ""));
  EXPECT_EQ(*t.doc.text_shared(t.text).value(), "ello!");
  EXPECT_EQ(*t.doc.text_shared(t.other).value(), "another");
}

TEST(TextShared, RollbackCommitMergeAndReceivedChanges) {
  TwoTexts t;
  ASSERT_TRUE(t.doc.splice_text(t.text, 0, 0, "oh "));
  EXPECT_EQ(*t.doc.text_shared(t.text).value(), "oh hello");
  t.doc.rollback();
  EXPECT_EQ(*t.doc.text_shared(t.text).value(), "hello");

  Document peer = t.doc.fork(actor("bbbb"));
  ASSERT_TRUE(peer.splice_text(t.text, 5, 0, " world"));
  peer.commit();
  const auto before = t.doc.text_shared(t.text).value();
  ASSERT_TRUE(t.doc.apply_changes(peer.get_changes(t.doc.heads())));
  EXPECT_EQ(*t.doc.text_shared(t.text).value(), "hello world");
  EXPECT_EQ(*before, "hello");

  ASSERT_TRUE(peer.splice_text(t.text, 0, 1, "J"));
  peer.commit();
  ASSERT_TRUE(t.doc.merge(peer));
  EXPECT_EQ(*t.doc.text_shared(t.text).value(), "Jello world");

  Document loaded = Document::load(t.doc.save()).value();
  EXPECT_EQ(*loaded.text_shared(t.text).value(), "Jello world");
  ASSERT_TRUE(peer.splice_text(t.text, 11, 0, "!"));
  peer.commit();
  ASSERT_TRUE(loaded.load_incremental(peer.save_incremental()));
  EXPECT_EQ(*loaded.text_shared(t.text).value(), "Jello world!");
}

TEST(TextShared, ForksThatShareAnOpSetKeepTheirOwnTexts) {
  TwoTexts t;
  const auto original = t.doc.text_shared(t.text).value();
  Document fork = t.doc.fork(actor("cccc"));
  EXPECT_EQ(*fork.text_shared(t.text).value(), "hello");
  ASSERT_TRUE(fork.splice_text(t.text, 0, 5, "bye"));  // copies the shared op set
  EXPECT_EQ(*fork.text_shared(t.text).value(), "bye");
  EXPECT_EQ(t.doc.text_shared(t.text).value(), original);
  ASSERT_TRUE(t.doc.splice_text(t.text, 0, 0, "x"));
  EXPECT_EQ(*t.doc.text_shared(t.text).value(), "xhello");
  EXPECT_EQ(*fork.text_shared(t.text).value(), "bye");
}

TEST(TextShared, RefusesWhatTextRefuses) {
  TwoTexts t;
  EXPECT_FALSE(t.doc.text_shared(ObjId::root()));
  const ObjId list = t.doc.put_object(ObjId::root(), "list", ObjType::kList).value();
  EXPECT_FALSE(t.doc.text_shared(list));
  EXPECT_FALSE(t.doc.text_shared(*ObjId::parse("99@aaaa")));
}

// Random edits on three texts of two documents that exchange changes, text_shared read at
// random points: always what text() builds, and the same string while text() is the same
// and nothing touched the object.
TEST(TextShared, AgreesWithTextUnderRandomEditsAndSync) {
  const unsigned seed = std::random_device{}();
  std::printf("TextShared seed %u\n", seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  TwoTexts t;
  const ObjId third = t.doc.put_object(ObjId::root(), "third", ObjType::kText).value();
  t.doc.commit();
  Document peer = t.doc.fork(actor("dddd"));
  const ObjId texts[] = {t.text, t.other, third};
  for (int step = 0; step < 400; ++step) {
    Document& d = rng() % 2 ? t.doc : peer;
    const ObjId& obj = texts[rng() % 3];
    switch (rng() % 5) {
      case 0:
      case 1: {
        const std::size_t len = d.length(obj).value();
        const std::size_t pos = rng() % (len + 1);
        const std::size_t del = std::min<std::size_t>(rng() % 3, len - pos);
        ASSERT_TRUE(d.splice_text(obj, pos, del, std::string(rng() % 3, static_cast<char>('a' + rng() % 26))));
        break;
      }
      case 2: d.commit(); break;
      case 3: {
        t.doc.commit();
        peer.commit();
        Document& to = rng() % 2 ? t.doc : peer;
        const Document& from = &to == &t.doc ? peer : t.doc;
        ASSERT_TRUE(to.apply_changes(from.get_changes(to.heads())));
        break;
      }
      case 4: if (rng() % 4 == 0) d.rollback(); break;
    }
    for (const Document* r : {&t.doc, &peer}) {
      const ObjId& read = texts[rng() % 3];
      const auto a = r->text_shared(read).value();
      const auto b = r->text_shared(read).value();
      ASSERT_EQ(*a, r->text(read).value()) << "step " << step;
      ASSERT_EQ(a, b) << "step " << step;
    }
  }
}

TEST(MapRangeShared, SameEntriesUntilTheMapChanges) {
  Document doc(DocumentOptions{actor("aaaa")});
  const ObjId map = doc.put_object(ObjId::root(), "m", ObjType::kMap).value();
  ASSERT_TRUE(doc.put(map, "a", std::string("x")));
  ASSERT_TRUE(doc.put(map, "n", Counter{1}));
  const ObjId inner = doc.put_object(map, "inner", ObjType::kMap).value();
  doc.commit();
  const auto first = doc.map_range_shared(map).value();
  EXPECT_EQ(*first, doc.map_range(map).value());
  EXPECT_EQ(doc.map_range_shared(map).value(), first);
  // An edit inside a nested object is not an edit of the map (its entry names the object).
  ASSERT_TRUE(doc.put(inner, "deep", std::int64_t{1}));
  EXPECT_EQ(doc.map_range_shared(map).value(), first);
  // An increment, a put and a delete are.
  ASSERT_TRUE(doc.increment(map, "n", 2));
  const auto incremented = doc.map_range_shared(map).value();
  EXPECT_NE(incremented, first);
  EXPECT_EQ(*incremented, doc.map_range(map).value());
  ASSERT_TRUE(doc.remove(map, "a"));
  EXPECT_EQ(*doc.map_range_shared(map).value(), doc.map_range(map).value());
  EXPECT_EQ(doc.map_range_shared(map).value()->size(), 2u);
  EXPECT_EQ(first->size(), 3u);  // the first holder's entries are as they were
  // The root is a map; a text is not.
  EXPECT_EQ(*doc.map_range_shared(ObjId::root()).value(), doc.map_range(ObjId::root()).value());
  const ObjId text = doc.put_object(ObjId::root(), "t", ObjType::kText).value();
  EXPECT_FALSE(doc.map_range_shared(text));
}

// A list's items: the same vector while the list is unchanged, a fresh one after an insert,
// a put or a delete of an item; an edit inside a nested object is not an edit of the list.
TEST(ListRangeShared, SameItemsUntilTheListChanges) {
  Document doc(DocumentOptions{actor("aaaa"), TextUnit::kUtf16});
  const ObjId list = doc.put_object(ObjId::root(), "l", ObjType::kList).value();
  ASSERT_TRUE(doc.splice(list, 0, 0, {ScalarValue{std::int64_t{1}}, ScalarValue{std::int64_t{2}}}));
  const ObjId inner = doc.insert_object(list, 2, ObjType::kMap).value();
  doc.commit();
  const auto first = doc.list_range_shared(list).value();
  EXPECT_EQ(*first, doc.list_range(list).value());
  EXPECT_EQ(first->size(), 3u);
  EXPECT_EQ(doc.list_range_shared(list).value(), first);
  ASSERT_TRUE(doc.put(inner, "deep", std::int64_t{1}));
  EXPECT_EQ(doc.list_range_shared(list).value(), first);
  ASSERT_TRUE(doc.put(list, 0, std::int64_t{10}));
  const auto put = doc.list_range_shared(list).value();
  EXPECT_NE(put, first);
  EXPECT_EQ(*put, doc.list_range(list).value());
  ASSERT_TRUE(doc.remove(list, std::size_t{1}));
  EXPECT_EQ(*doc.list_range_shared(list).value(), doc.list_range(list).value());
  EXPECT_EQ(doc.list_range_shared(list).value()->size(), 2u);
  EXPECT_EQ(first->size(), 3u);  // the first holder's items are as they were
  // A text's characters too; a map is refused.
  const ObjId text = doc.put_object(ObjId::root(), "t", ObjType::kText).value();
  ASSERT_TRUE(doc.splice_text(text, 0, 0, "hi"));
  EXPECT_EQ(*doc.list_range_shared(text).value(), doc.list_range(text).value());
  EXPECT_FALSE(doc.list_range_shared(ObjId::root()));
}

// A text and a map of one object index space, read alternately: each kind is kept apart.
TEST(MapRangeShared, KeptApartFromTexts) {
  TwoTexts t;
  const auto root = t.doc.map_range_shared(ObjId::root()).value();
  const auto text = t.doc.text_shared(t.text).value();
  EXPECT_EQ(t.doc.map_range_shared(ObjId::root()).value(), root);
  EXPECT_EQ(t.doc.text_shared(t.text).value(), text);
  ASSERT_TRUE(t.doc.put(ObjId::root(), "k", std::int64_t{1}));
  EXPECT_NE(t.doc.map_range_shared(ObjId::root()).value(), root);
  EXPECT_EQ(t.doc.text_shared(t.text).value(), text);
}

}  // namespace
}  // namespace am
