#include "am/document.h"
#include "core/storage/change.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "support/hex.h"
#include "support/vectors.h"

namespace am {
namespace {

using nlohmann::json;

ActorId actor(std::string_view hex) { return *ActorId::from_hex(hex); }
Document doc_with(std::string_view actor_hex) { return Document(DocumentOptions{actor(actor_hex), TextUnit::kUtf16}); }
std::string json_of(const Document& d) { return d.to_json().value(); }

// ---- semantics -----------------------------------------------------------------------------

TEST(Document, PutGetAndJson) {
  Document d = doc_with("aaaa");
  ASSERT_TRUE(d.put(ObjId::root(), "x", std::int64_t{1}));
  ASSERT_TRUE(d.put(ObjId::root(), "s", std::string("hi")));
  auto list = d.put_object(ObjId::root(), "l", ObjType::kList);
  ASSERT_TRUE(list);
  ASSERT_TRUE(d.insert(*list, 0, true));
  ASSERT_TRUE(d.insert(*list, 1, Null{}));
  ASSERT_TRUE(d.insert(*list, 0, 2.5));
  EXPECT_EQ(json_of(d), R"({"l":[2.5,true,null],"s":"hi","x":1})");
  EXPECT_EQ(d.length(*list).value(), 3u);
  EXPECT_EQ(d.get(ObjId::root(), "x").value(), std::optional<Value>(ScalarValue{std::int64_t{1}}));
  EXPECT_FALSE(d.get(ObjId::root(), "missing").value().has_value());
  EXPECT_FALSE(d.insert(*list, 5, Null{}));  // past the end
  EXPECT_FALSE(d.put(*list, "k", Null{}));    // a list has no keys
}

TEST(Document, ConcurrentMapPutsGreatestOpIdWinsAndAllAreExposed) {
  Document a = doc_with("aaaa");
  ASSERT_TRUE(a.put(ObjId::root(), "k", std::int64_t{1}));
  a.commit();
  Document b = a.fork(actor("bbbb"));
  ASSERT_TRUE(a.put(ObjId::root(), "k", std::string("A")));
  ASSERT_TRUE(b.put(ObjId::root(), "k", std::string("B")));
  a.commit();
  b.commit();
  ASSERT_TRUE(a.merge(b));
  ASSERT_TRUE(b.merge(a));
  // Same counter (2): actor bbbb > aaaa wins, on both sides.
  EXPECT_EQ(json_of(a), R"({"k":"B"})");
  EXPECT_EQ(json_of(b), json_of(a));
  const auto all = a.get_all(ObjId::root(), "k").value();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].op_id, "2@aaaa");
  EXPECT_EQ(all[1].op_id, "2@bbbb");
  EXPECT_EQ(a.heads(), b.heads());
  // Deleting the conflicted key removes both values.
  ASSERT_TRUE(a.remove(ObjId::root(), "k"));
  a.commit();
  EXPECT_EQ(json_of(a), "{}");
}

// Writes to one key keep their whole history (save, reads at old heads) while current reads
// skip the overwritten part; a late concurrent write that sorts before the live ops shows.
TEST(Document, ALateConcurrentWriteToAKeyWithLongHistoryIsSeen) {
  Document a = doc_with("aaaa");
  ASSERT_TRUE(a.put(ObjId::root(), "k", std::int64_t{0}));
  a.commit();
  Document b = a.fork(actor("bbbb"));
  const auto start = a.heads();
  for (std::int64_t i = 1; i <= 100; ++i) {
    ASSERT_TRUE(a.put(ObjId::root(), "k", i));
    a.commit();
  }
  ASSERT_TRUE(b.put(ObjId::root(), "k", std::string("B")));  // counter 2: sorts before a's latest
  b.commit();
  ASSERT_TRUE(a.merge(b));
  ASSERT_TRUE(b.merge(a));
  for (const Document* d : {&a, &b}) {
    EXPECT_EQ(json_of(*d), R"({"k":100})");
    const auto all = d->get_all(ObjId::root(), "k").value();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].op_id, "2@bbbb");
    EXPECT_EQ(all[1].op_id, "101@aaaa");
    EXPECT_EQ(d->get_at(ObjId::root(), "k", start).value(), std::optional<Value>(ScalarValue{std::int64_t{0}}));
  }
  ASSERT_TRUE(b.put(ObjId::root(), "k", std::string("last")));  // preds: both live ops
  b.commit();
  EXPECT_EQ(b.get_all(ObjId::root(), "k").value().size(), 1u);
  ASSERT_TRUE(a.merge(b));
  EXPECT_EQ(json_of(a), R"({"k":"last"})");
  auto loaded = Document::load(a.save());
  ASSERT_TRUE(loaded);
  EXPECT_EQ(json_of(*loaded), R"({"k":"last"})");
}

// fork copies the committed state; it equals replaying the changes, and the two then diverge.
TEST(Document, ForkIsTheCommittedStateAndThenIndependent) {
  Document a = doc_with("aaaa");
  auto text = a.put_object(ObjId::root(), "t", ObjType::kText);
  ASSERT_TRUE(text);
  ASSERT_TRUE(a.splice_text(*text, 0, 0, "hello"));
  ASSERT_TRUE(a.put(ObjId::root(), "n", std::int64_t{1}));
  a.commit();
  auto loaded = Document::load(a.save());  // a loaded history builds its change chunks lazily
  ASSERT_TRUE(loaded);
  for (Document* d : {&a, &*loaded}) {
    Document f = d->fork(actor("ffff"));
    EXPECT_EQ(f.heads(), d->heads());
    // Nothing of the fork is saved yet: its first incremental save holds every change.
    auto from_increment = Document::load(f.save_incremental());
    ASSERT_TRUE(from_increment);
    EXPECT_EQ(json_of(*from_increment), json_of(*d));
    EXPECT_EQ(f.save(), d->save());
    EXPECT_EQ(f.get_changes(), d->get_changes());
    ASSERT_TRUE(f.splice_text(*text, 5, 0, " fork"));
    f.commit();
    ASSERT_TRUE(d->put(ObjId::root(), "n", std::int64_t{2}));
    d->commit();
    EXPECT_EQ(json_of(f), R"({"n":1,"t":"hello fork"})");
    ASSERT_TRUE(d->merge(f));
    EXPECT_EQ(json_of(*d), R"({"n":2,"t":"hello fork"})");
  }
  // An open transaction stays out of the fork.
  ASSERT_TRUE(a.put(ObjId::root(), "uncommitted", true));
  Document f = a.fork();
  EXPECT_EQ(json_of(f), R"({"n":2,"t":"hello fork"})");
  a.commit();
  EXPECT_NE(f.heads(), a.heads());
}

TEST(Document, CountersAddConcurrentIncrements) {
  Document a = doc_with("aaaa");
  ASSERT_TRUE(a.put(ObjId::root(), "c", Counter{10}));
  a.commit();
  Document b = a.fork(actor("bbbb"));
  ASSERT_TRUE(a.increment(ObjId::root(), "c", 5));
  ASSERT_TRUE(b.increment(ObjId::root(), "c", -3));
  a.commit();
  b.commit();
  ASSERT_TRUE(a.merge(b));
  EXPECT_EQ(json_of(a), R"({"c":12})");
  EXPECT_FALSE(a.increment(ObjId::root(), "missing", 1));
}

TEST(Document, ConcurrentInsertsAtTheSamePlaceOrderByDescendingOpId) {
  Document a = doc_with("aaaa");
  auto list = a.put_object(ObjId::root(), "l", ObjType::kList).value();
  a.commit();
  Document b = a.fork(actor("bbbb"));
  ASSERT_TRUE(a.insert(list, 0, std::string("a")));
  ASSERT_TRUE(b.insert(list, 0, std::string("b")));
  a.commit();
  b.commit();
  ASSERT_TRUE(a.merge(b));
  ASSERT_TRUE(b.merge(a));
  EXPECT_EQ(json_of(a), R"({"l":["b","a"]})");
  EXPECT_EQ(json_of(b), json_of(a));
}

TEST(Document, TextIndexesCountUtf16UnitsByDefault) {
  Document d = doc_with("aaaa");
  auto text = d.put_object(ObjId::root(), "t", ObjType::kText).value();
  ASSERT_TRUE(d.splice_text(text, 0, 0, "h\xc3\xa9\xf0\x9f\x91\x8d"));  // "hé👍"
  EXPECT_EQ(d.length(text).value(), 4u);
  // Inside the surrogate pair means after it, as in the reference (its query_insert_at).
  ASSERT_TRUE(d.splice_text(text, 3, 0, "x"));
  EXPECT_EQ(d.text(text).value(), "h\xc3\xa9\xf0\x9f\x91\x8dx");
  ASSERT_TRUE(d.splice_text(text, 5, 0, "!"));
  ASSERT_TRUE(d.splice_text(text, 1, 1, ""));
  // A deletion starting inside the pair starts after it.
  ASSERT_TRUE(d.splice_text(text, 2, 1, ""));
  EXPECT_EQ(d.text(text).value(), "h\xf0\x9f\x91\x8d!");
  d.commit();
  Document cp(DocumentOptions{actor("bbbb"), TextUnit::kCodePoint});
  ASSERT_TRUE(cp.merge(d));
  EXPECT_EQ(cp.length(text).value(), 3u);
}

TEST(Document, RollbackDiscardsPendingOps) {
  Document d = doc_with("aaaa");
  ASSERT_TRUE(d.put(ObjId::root(), "a", std::int64_t{1}));
  d.commit();
  ASSERT_TRUE(d.put(ObjId::root(), "b", std::int64_t{2}));
  ASSERT_TRUE(d.remove(ObjId::root(), "a"));
  EXPECT_EQ(json_of(d), R"({"b":2})");
  EXPECT_EQ(d.rollback(), 2u);
  EXPECT_EQ(json_of(d), R"({"a":1})");
  ASSERT_TRUE(d.put(ObjId::root(), "c", std::int64_t{3}));
  d.commit();
  EXPECT_EQ(json_of(d), R"({"a":1,"c":3})");
  EXPECT_EQ(d.change_count(), 2u);
}

TEST(Document, EmptyCommitsAndOwnPreviousChangeDependency) {
  Document a = doc_with("aaaa");
  const ChangeHash h1 = a.commit();  // empty change
  EXPECT_EQ(a.heads(), std::vector<ChangeHash>{h1});
  Document b = a.fork(actor("bbbb"));
  ASSERT_TRUE(b.put(ObjId::root(), "x", true));
  b.commit();
  ASSERT_TRUE(a.merge(b));
  ASSERT_TRUE(a.put(ObjId::root(), "y", false));
  a.commit();
  EXPECT_EQ(a.change_count(), 3u);
  EXPECT_EQ(a.heads().size(), 1u);
}

TEST(Document, ChangesWithMissingDepsWaitInTheQueue) {
  Document a = doc_with("aaaa");
  ASSERT_TRUE(a.put(ObjId::root(), "x", std::int64_t{1}));
  a.commit();
  ASSERT_TRUE(a.put(ObjId::root(), "x", std::int64_t{2}));
  a.commit();
  const auto changes = a.get_changes();
  Document b = doc_with("bbbb");
  ASSERT_TRUE(b.apply_changes(std::vector<Bytes>{changes[1]}));
  EXPECT_EQ(json_of(b), "{}");
  EXPECT_EQ(b.get_missing_deps().size(), 1u);
  ASSERT_TRUE(b.apply_changes(std::vector<Bytes>{changes[0]}));
  EXPECT_EQ(json_of(b), R"({"x":2})");
  EXPECT_TRUE(b.get_missing_deps().empty());
  EXPECT_EQ(b.heads(), a.heads());
  // Applying again is a no-op.
  ASSERT_TRUE(b.apply_changes(std::vector<Bytes>{changes[0], changes[1]}));
  EXPECT_EQ(b.change_count(), 2u);
  EXPECT_EQ(a.get_changes({a.heads()}).size(), 0u);
  EXPECT_EQ(a.get_changes(std::vector<ChangeHash>{b.heads()}).size(), 0u);
}

TEST(Document, SecondChangeWithTheSameActorAndSeqIsRejected) {
  Document a = doc_with("aaaa");
  ASSERT_TRUE(a.put(ObjId::root(), "x", std::int64_t{1}));
  a.commit();
  Document a2 = doc_with("aaaa");  // same actor, different history
  ASSERT_TRUE(a2.put(ObjId::root(), "x", std::int64_t{2}));
  a2.commit();
  const Status s = a.merge(a2);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kCorruption);
  EXPECT_EQ(json_of(a), R"({"x":1})");
}

TEST(Document, GarbageChangesAreErrorsAndChangeNothing) {
  Document a = doc_with("aaaa");
  ASSERT_TRUE(a.put(ObjId::root(), "x", std::int64_t{1}));
  a.commit();
  Bytes garbage = test::hex("856f4a83 00000000 01 03 010203");
  EXPECT_FALSE(a.apply_changes(garbage));
  EXPECT_EQ(json_of(a), R"({"x":1})");
}

// A splice places each element after the one before it without searching the index (when the
// sequence has no marks); these pin that it makes the very ops one insert per element makes.
// The base has another actor's element right after the splice point, which the spliced text
// must go before, and an emoji whose two UTF-16 units the splice point falls between.
Document text_base(std::string_view actor_hex, ObjId* text) {
  Document a = doc_with("aaaa");
  *text = a.put_object(ObjId::root(), "t", ObjType::kText).value();
  EXPECT_TRUE(a.splice_text(*text, 0, 0, "x\xF0\x9F\x98\x80z"));  // x, an emoji (two UTF-16 units), z
  a.commit(CommitOptions{std::nullopt, 0});
  Document other = a.fork(actor("cccc"));
  EXPECT_TRUE(other.splice_text(*text, 3, 0, "w"));  // after the emoji
  other.commit(CommitOptions{std::nullopt, 0});
  Document b = a.fork(actor(actor_hex));
  EXPECT_TRUE(b.merge(other));
  return b;
}

TEST(Document, SpliceTextMakesTheOpsOfOneInsertPerCharacter) {
  const std::string inserted = "h\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80!";  // 1-, 2-, 3- and 4-byte code points
  ObjId text;
  Document spliced = text_base("bbbb", &text);
  Document one_by_one = text_base("bbbb", &text);
  // Index 2 is inside the emoji: the text goes after it, as insertion() places it.
  ASSERT_TRUE(spliced.splice_text(text, 2, 1, inserted));
  std::size_t at = 3;  // after the emoji's second unit
  for (const std::string_view cp : {"h", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "!"}) {
    ASSERT_TRUE(one_by_one.insert(text, at, std::string(cp)));
    at += cp.size() == 4 ? 2 : 1;
  }
  ASSERT_TRUE(one_by_one.remove(text, at));  // the other actor's "w"
  spliced.commit(CommitOptions{std::nullopt, 0});
  one_by_one.commit(CommitOptions{std::nullopt, 0});
  EXPECT_EQ(spliced.text(text).value(), one_by_one.text(text).value());
  EXPECT_EQ(spliced.text(text).value(), "x\xF0\x9F\x98\x80" + inserted + "z");
  EXPECT_EQ(spliced.save(), one_by_one.save());
}

TEST(Document, ListSpliceMakesTheOpsOfOneInsertPerElement) {
  auto build = [](bool splice) {
    Document d = doc_with("aaaa");
    const ObjId list = d.put_object(ObjId::root(), "l", ObjType::kList).value();
    EXPECT_TRUE(d.insert(list, 0, std::int64_t{1}));
    EXPECT_TRUE(d.insert(list, 1, std::int64_t{2}));
    const std::vector<ScalarValue> values{std::string("a"), true, 2.5, Null{}, std::int64_t{-7}};
    if (splice) {
      EXPECT_TRUE(d.splice(list, 1, 1, values));
    } else {
      for (std::size_t i = 0; i < values.size(); ++i) EXPECT_TRUE(d.insert(list, 1 + i, values[i]));
      EXPECT_TRUE(d.remove(list, 1 + values.size()));
    }
    d.commit(CommitOptions{std::nullopt, 0});
    return d;
  };
  Document spliced = build(true);
  Document one_by_one = build(false);
  EXPECT_EQ(json_of(spliced), R"({"l":[1,"a",true,2.5,null,-7]})");
  EXPECT_EQ(spliced.save(), one_by_one.save());
}

// ---- fork: copy on write --------------------------------------------------------------------
// A fork shares the op set with the document it came from until either writes. Every local write
// method, on either side, must copy first and leave the other document as it was; the writer must
// end up as if it had never shared (the same edit on a document that was never forked).

struct ForkBase {
  Document doc = doc_with("aaaa");
  ObjId text, list, map;
  ForkBase() {
    map = doc.put_object(ObjId::root(), "m", ObjType::kMap).value();
    list = doc.put_object(ObjId::root(), "l", ObjType::kList).value();
    text = doc.put_object(ObjId::root(), "t", ObjType::kText).value();
    EXPECT_TRUE(doc.put(map, "a", std::string("x")));
    EXPECT_TRUE(doc.put(map, "c", Counter{1}));
    EXPECT_TRUE(doc.splice(list, 0, 0, {std::int64_t{1}, std::int64_t{2}, std::int64_t{3}}));
    EXPECT_TRUE(doc.splice_text(text, 0, 0, "hello"));
    EXPECT_TRUE(doc.mark(text, 1, 3, ExpandMark::kAfter, "bold", true));
    doc.commit(CommitOptions{std::nullopt, 0});
  }
};

using ForkEdit = std::function<void(Document&, const ForkBase&)>;

std::vector<std::pair<std::string, ForkEdit>> local_write_methods() {
  return {
      {"put", [](Document& d, const ForkBase& b) { EXPECT_TRUE(d.put(b.map, "k", std::int64_t{9})); }},
      {"put_object", [](Document& d, const ForkBase& b) { EXPECT_TRUE(d.put_object(b.map, "o", ObjType::kMap)); }},
      {"insert", [](Document& d, const ForkBase& b) { EXPECT_TRUE(d.insert(b.list, 1, std::int64_t{7})); }},
      {"insert_object", [](Document& d, const ForkBase& b) { EXPECT_TRUE(d.insert_object(b.list, 0, ObjType::kList)); }},
      {"remove", [](Document& d, const ForkBase& b) { EXPECT_TRUE(d.remove(b.map, "a")); }},
      {"increment", [](Document& d, const ForkBase& b) { EXPECT_TRUE(d.increment(b.map, "c", 5)); }},
      {"splice", [](Document& d, const ForkBase& b) { EXPECT_TRUE(d.splice(b.list, 1, 1, {true, false})); }},
      {"splice_text", [](Document& d, const ForkBase& b) { EXPECT_TRUE(d.splice_text(b.text, 2, 2, "XYZ")); }},
      {"update_text", [](Document& d, const ForkBase& b) { EXPECT_TRUE(d.update_text(b.text, "help, world")); }},
      {"mark", [](Document& d, const ForkBase& b) { EXPECT_TRUE(d.mark(b.text, 0, 4, ExpandMark::kNone, "em", true)); }},
      {"unmark", [](Document& d, const ForkBase& b) { EXPECT_TRUE(d.unmark(b.text, 0, 5, ExpandMark::kAfter, "bold")); }},
      {"split_block", [](Document& d, const ForkBase& b) {
         EXPECT_TRUE(d.split_block(b.text, 2, Block{{"type", Hydrated::of(std::string("paragraph"))}}));
       }},
      {"update_spans", [](Document& d, const ForkBase& b) {
         Span bold;
         bold.text = "hel";
         bold.marks = {{"bold", true}};
         Span plain;
         plain.text = "lo!";
         EXPECT_TRUE(d.update_spans(b.text, {bold, plain}));
       }},
  };
}

TEST(DocumentFork, EachLocalWriteOnEitherSideLeavesTheOtherAsItWas) {
  for (const auto& [name, edit] : local_write_methods()) {
    for (const bool fork_writes : {false, true}) {
      SCOPED_TRACE(name + (fork_writes ? " on the fork" : " on the original"));
      ForkBase base;
      const Bytes before = base.doc.save();
      const std::string before_json = json_of(base.doc);
      const std::vector<Span> before_spans = base.doc.spans(base.text).value();
      Document fork = base.doc.fork(actor("aaaa"));  // same actor: the writer's bytes compare below
      Document& writer = fork_writes ? fork : base.doc;
      const Document& other = fork_writes ? base.doc : fork;
      edit(writer, base);
      writer.commit(CommitOptions{std::nullopt, 0});
      EXPECT_EQ(json_of(other), before_json);
      EXPECT_EQ(other.save(), before);
      ForkBase never_forked;
      edit(never_forked.doc, never_forked);
      never_forked.doc.commit(CommitOptions{std::nullopt, 0});
      EXPECT_NE(writer.save(), before);
      EXPECT_EQ(json_of(writer), json_of(never_forked.doc));
      EXPECT_EQ(writer.spans(base.text).value(), never_forked.doc.spans(never_forked.text).value());
      EXPECT_EQ(other.spans(base.text).value(), before_spans);
      EXPECT_EQ(writer.save(), never_forked.doc.save());
    }
  }
}

TEST(DocumentFork, BothSidesWriteAndMergeAndTheOriginalMayGoFirst) {
  auto original = std::make_unique<ForkBase>();
  Document fork = original->doc.fork(actor("bbbb"));
  Document fork_of_fork = fork.fork(actor("cccc"));  // three documents share one op set
  ASSERT_TRUE(original->doc.splice_text(original->text, 0, 0, "A"));
  ASSERT_TRUE(fork.splice_text(original->text, 5, 0, "B"));
  original->doc.commit();
  fork.commit();
  ASSERT_TRUE(fork.merge(original->doc));
  const ObjId text = original->text;
  original.reset();  // the fork outlives the document it came from
  EXPECT_EQ(fork.text(text).value(), "AhelloB");
  EXPECT_EQ(fork_of_fork.text(text).value(), "hello");
  ASSERT_TRUE(fork_of_fork.merge(fork));
  EXPECT_EQ(fork_of_fork.text(text).value(), "AhelloB");
  auto reloaded = Document::load(fork_of_fork.save());
  ASSERT_TRUE(reloaded);
  EXPECT_EQ(json_of(*reloaded), json_of(fork));
}

// fork_at() at the current heads of a linear history takes fork()'s path (sharing, not
// replaying): the same independence holds, and other heads still replay.
TEST(DocumentFork, ForkAtTheCurrentHeadsIsAForkAndOtherHeadsReplay) {
  ForkBase base;
  const std::vector<ChangeHash> first = base.doc.heads();
  ASSERT_TRUE(base.doc.put(base.map, "later", true));
  base.doc.commit(CommitOptions{std::nullopt, 0});
  std::vector<ChangeHash> now = base.doc.heads();
  std::reverse(now.begin(), now.end());
  Document at_now = base.doc.fork_at(now, actor("bbbb")).value();
  Document at_first = base.doc.fork_at(first, actor("cccc")).value();
  EXPECT_EQ(json_of(at_now), json_of(base.doc));
  EXPECT_EQ(at_first.get(base.map, "later").value(), std::nullopt);
  ASSERT_TRUE(at_now.put(base.map, "mine", std::int64_t{1}));
  at_now.commit(CommitOptions{std::nullopt, 0});
  EXPECT_EQ(base.doc.get(base.map, "mine").value(), std::nullopt);
  EXPECT_EQ(at_now.actor(), actor("bbbb"));
  Document forked = base.doc.fork(actor("bbbb"));
  ASSERT_TRUE(forked.put(base.map, "mine", std::int64_t{1}));
  forked.commit(CommitOptions{std::nullopt, 0});
  EXPECT_EQ(at_now.save(), forked.save());
}

// The diff cursor's touch log lives in the op set, which the copy on write copies: incremental
// patches stay exact on the document that had the cursor and on its fork.
TEST(DocumentFork, IncrementalPatchesStayExactOnBothSides) {
  ForkBase base;
  base.doc.update_diff_cursor();
  Document fork = base.doc.fork(actor("bbbb"));
  ASSERT_TRUE(base.doc.put(base.map, "k", std::int64_t{1}));
  base.doc.commit();
  Document incoming = base.doc.fork(actor("cccc"));
  ASSERT_TRUE(incoming.put(base.map, "z", std::int64_t{2}));
  incoming.commit();
  ASSERT_TRUE(base.doc.merge(incoming));  // not a local edit: patches come from the touch log
  const std::vector<Patch> patches = base.doc.diff_incremental();
  std::set<std::string> keys;
  for (const Patch& p : patches) {
    if (!p.path.empty()) {
      if (const auto* k = std::get_if<std::string>(&p.path.back())) keys.insert(*k);
    }
  }
  EXPECT_EQ(keys, (std::set<std::string>{"k", "z"}));
  ASSERT_TRUE(fork.put(base.map, "f", std::int64_t{3}));
  fork.commit();
  const std::vector<Patch> fork_patches = fork.diff_incremental();  // no cursor: the whole document
  EXPECT_GE(fork_patches.size(), 5u);
}

// ---- against the JS reference --------------------------------------------------------------

// Vectors the editing API cannot replay: changes JS could not decode (ints past 2^53) and
// tables, which the JS API can no longer create.
bool uses_unimplemented(const json& v) {
  for (const auto& c : v["changes"]) {
    if (c["decoded"].is_null()) return true;
    for (const auto& op : c["decoded"]["ops"]) {
      if (op["action"] == "makeTable") return true;
    }
  }
  return false;
}

using test::normalise;

std::vector<Bytes> vector_changes(const json& v) {
  std::vector<Bytes> out;
  for (const auto& c : v["changes"]) out.push_back(test::hex(c["hex"].get<std::string>()));
  return out;
}

TEST(DocumentVectors, ApplyingJsChangesGivesJsJsonHeadsAndMarksInAnyOrder) {
  int checked = 0;
  int marks_checked = 0;
  int marks_at_checked = 0;
  for (const std::string& name : test::vector_names()) {
    const json v = test::load_vector(name);
    if (!v.contains("changes") || v["changes"].empty() || uses_unimplemented(v)) continue;
    SCOPED_TRACE(name);
    auto changes = vector_changes(v);
    std::vector<std::string> heads;
    for (int order = 0; order < 3; ++order) {
      if (order == 1) std::reverse(changes.begin(), changes.end());
      if (order == 2) std::shuffle(changes.begin(), changes.end(), std::mt19937(1234));
      Document d = doc_with("ffff");
      const Status s = d.apply_changes(changes);
      ASSERT_TRUE(s) << s.error().to_string();
      EXPECT_TRUE(d.get_missing_deps().empty());
      EXPECT_EQ(normalise(json::parse(json_of(d))), normalise(v["json"])) << "order " << order;
      std::vector<std::string> got;
      for (const auto& h : d.heads()) got.push_back(h.to_hex());
      EXPECT_EQ(json(got), v["heads"]);
      if (v["extra"].contains("marks") && v["json"].contains("text")) {
        const ObjId text = std::get<ObjectRef>(*d.get(ObjId::root(), "text").value()).id;
        // A value as the vectors map it (through a document's JSON).
        auto value_json = [](const ScalarValue& value) {
          Document tmp;
          (void)tmp.put(ObjId::root(), "v", value);
          return json::parse(tmp.to_json().value())["v"];
        };
        json marks = json::array();
        const std::vector<Mark> got_marks = d.marks(text).value();
        for (const Mark& m : got_marks) {
          marks.push_back({{"name", m.name}, {"value", value_json(m.value)}, {"start", m.start}, {"end", m.end}});
        }
        EXPECT_EQ(normalise(marks), normalise(v["extra"]["marks"])) << "order " << order;
        // JS marksAt at every element index, past the end included.
        const json& want_at = v["extra"].value("marks_at", json::array());
        for (std::size_t i = 0; i < want_at.size(); ++i) {
          json got_at = json::object();
          const auto got_marks_here = d.get_marks(text, i);
          ASSERT_TRUE(got_marks_here) << got_marks_here.error().to_string();
          for (const auto& [name, value] : *got_marks_here) got_at[name] = value_json(value);
          EXPECT_EQ(normalise(got_at), normalise(want_at[i])) << v["name"] << " marksAt " << i;
        }
        if (!want_at.empty()) ++marks_at_checked;
        ++marks_checked;
      }
    }
    ++checked;
  }
  EXPECT_GE(checked, 20);
  EXPECT_GE(marks_checked, 5);
  EXPECT_GE(marks_at_checked, 6);
}

ScalarValue value_from(const json& v) {
  const std::string type = v["datatype"];
  const json& val = v["value"];
  auto big_int = [&]() -> std::int64_t {
    return val.is_string() ? std::stoll(val.get<std::string>()) : val.get<std::int64_t>();
  };
  if (type == "null") return Null{};
  if (type == "boolean") return val.get<bool>();
  if (type == "int") return big_int();
  if (type == "uint") return val.is_string() ? std::stoull(val.get<std::string>()) : val.get<std::uint64_t>();
  if (type == "counter") return Counter{big_int()};
  if (type == "timestamp") return Timestamp{big_int()};
  if (type == "str") return val.get<std::string>();
  if (type == "bytes") return test::hex(val.get<std::string>());
  if (type == "float64") {
    if (val.is_string()) {
      const std::string s = val;
      if (s == "NaN") return std::nan("");
      if (s == "Infinity") return HUGE_VAL;
      if (s == "-Infinity") return -HUGE_VAL;
      return -0.0;
    }
    return val.get<double>();
  }
  if (type.rfind("unknown", 0) == 0) {
    return UnknownValue{static_cast<std::uint8_t>(std::stoi(type.substr(7))), test::hex(val.get<std::string>())};
  }
  ADD_FAILURE() << "unknown datatype " << type;
  return Null{};
}

std::optional<ObjType> make_type(const std::string& action) {
  if (action == "makeMap") return ObjType::kMap;
  if (action == "makeList") return ObjType::kList;
  if (action == "makeText") return ObjType::kText;
  if (action == "makeTable") return ObjType::kTable;
  return std::nullopt;
}

// The index at which an element inserted after `elem` lands: after it if it is visible,
// at its position if it has no width (a mark boundary or a deleted element).
Result<std::size_t> index_after(Document& d, const ObjId& obj, const std::string& elem) {
  if (elem == "_head") return std::size_t{0};
  AM_TRY_ASSIGN(const std::size_t at, d.get_cursor_position(obj, elem));
  auto here = d.get_cursor(obj, at);
  if (!here || *here != elem) return at;
  AM_TRY_ASSIGN(auto current, d.get(obj, at));
  std::size_t width = 1;
  const auto* s = current ? std::get_if<ScalarValue>(&*current) : nullptr;
  if (s && std::holds_alternative<std::string>(*s) && d.object_type(obj).value() == ObjType::kText) {
    const std::string& str = std::get<std::string>(*s);
    width = 0;
    for (std::size_t i = 0; i < str.size(); ++i) {
      const auto c = static_cast<unsigned char>(str[i]);
      if ((c & 0xc0) != 0x80) width += c >= 0xf0 ? 2 : 1;
    }
  }
  return at + width;
}

ExpandMark expand_of(bool begin, bool end) {
  if (begin && end) return ExpandMark::kBoth;
  if (begin) return ExpandMark::kBefore;
  if (end) return ExpandMark::kAfter;
  return ExpandMark::kNone;
}

// A delete whose pred is only some of the values at `prop` resolves a conflict: it is what a put
// of the winning value writes (the reference's resolve_action), so it is replayed as that put.
Status replay_delete(Document& d, const ObjId& obj, const Prop& prop, const json& op) {
  AM_TRY_ASSIGN(const auto all, d.get_all(obj, prop));
  if (op["pred"].size() >= all.size()) return d.remove(obj, prop);
  AM_TRY_ASSIGN(const auto winner, d.get(obj, prop));
  const auto* scalar = winner ? std::get_if<ScalarValue>(&*winner) : nullptr;
  if (scalar == nullptr) return fail(Error::unsupported("a conflict-resolving delete under an object"));
  return d.put(obj, prop, *scalar);
}

// Re-creates one JS change through the C++ editing API: the ops say what the JS API call did.
// A markBegin is replayed together with the markEnd that follows it (`next`); `own_id` is the
// markBegin's op id, which a markEnd anchored right after its begin (an empty or reversed mark)
// names as its elemId.
Status replay_op(Document& d, const json& op, const json* next, const std::string& own_id) {
  const ObjId obj = *ObjId::parse(op["obj"].get<std::string>());
  const std::string action = op["action"];
  const auto type = make_type(action);
  if (op.contains("key")) {
    const std::string key = op["key"];
    if (type) return d.put_object(obj, key, *type).map([](const ObjId&) {});
    if (action == "set") return d.put(obj, key, value_from(op["value"]));
    if (action == "del") return replay_delete(d, obj, key, op);
    if (action == "inc") return d.increment(obj, key, std::get<std::int64_t>(value_from(op["value"])));
    return fail(Error::unsupported(action));
  }
  const std::string elem = op["elemId"];
  if (action == "markEnd") return {};  // replayed with its markBegin
  if (action == "markBegin") {
    if (!next || (*next)["action"] != "markEnd") return fail(Error::unsupported("markBegin without markEnd"));
    AM_TRY_ASSIGN(const std::size_t start, index_after(d, obj, elem));
    const ExpandMark expand = expand_of(op.value("expand", false), next->value("expand", false));
    std::size_t end = start;  // an end after its begin: start == end, or any end < start for kNone
    if ((*next)["elemId"] != own_id) {
      AM_TRY_ASSIGN(end, index_after(d, obj, (*next)["elemId"].get<std::string>()));
    } else if (expand == ExpandMark::kNone) {
      end = 0;
    }
    return d.mark(obj, start, end, expand,
                  op["name"].get<std::string>(), value_from(op["value"]));
  }
  if (op.value("insert", false)) {
    AM_TRY_ASSIGN(const std::size_t index, index_after(d, obj, elem));
    if (type) return d.insert_object(obj, index, *type).map([](const ObjId&) {});
    return d.insert(obj, index, value_from(op["value"]));
  }
  AM_TRY_ASSIGN(const std::size_t at, d.get_cursor_position(obj, elem));
  if (type) return d.put_object(obj, at, *type).map([](const ObjId&) {});
  if (action == "set") return d.put(obj, at, value_from(op["value"]));
  if (action == "del") return replay_delete(d, obj, at, op);
  if (action == "inc") return d.increment(obj, at, std::get<std::int64_t>(value_from(op["value"])));
  return fail(Error::unsupported(action));
}

TEST(DocumentVectors, LocalEditsProduceByteIdenticalChanges) {
  int checked = 0;
  for (const std::string& name : test::vector_names()) {
    const json v = test::load_vector(name);
    if (!v.contains("changes") || uses_unimplemented(v)) continue;
    // A changeAt change is numbered after the whole document, not after its deps, so a commit at
    // its deps cannot remake it; change_at_test.cc replays those vectors through change_at.
    if (name.starts_with("change_at_")) continue;
    SCOPED_TRACE(name);
    const auto& changes = v["changes"];
    std::map<std::string, std::size_t> index_of;
    for (std::size_t i = 0; i < changes.size(); ++i) index_of[changes[i]["hash"]] = i;
    for (std::size_t i = 0; i < changes.size(); ++i) {
      const json& c = changes[i];
      const json& dec = c["decoded"];
      if (dec.contains("extra_bytes") && !dec["extra_bytes"].get<std::string>().empty()) continue;
      // The document as its author saw it: every ancestor of the change's deps.
      std::set<std::size_t> ancestors;
      std::vector<std::size_t> stack;
      for (const auto& dep : dec["deps"]) stack.push_back(index_of.at(dep));
      while (!stack.empty()) {
        const std::size_t k = stack.back();
        stack.pop_back();
        if (!ancestors.insert(k).second) continue;
        for (const auto& dep : changes[k]["decoded"]["deps"]) stack.push_back(index_of.at(dep));
      }
      std::vector<Bytes> before;
      for (std::size_t k : ancestors) before.push_back(test::hex(changes[k]["hex"].get<std::string>()));
      Document d = doc_with(dec["actor"].get<std::string>());
      ASSERT_TRUE(d.apply_changes(before));
      const auto& ops = dec["ops"];
      for (std::size_t k = 0; k < ops.size(); ++k) {
        const json& op = ops[k];
        const std::string own_id = std::to_string(dec["startOp"].get<std::uint64_t>() + k) + "@" + dec["actor"].get<std::string>();
        const Status s = replay_op(d, op, k + 1 < ops.size() ? &ops[k + 1] : nullptr, own_id);
        ASSERT_TRUE(s) << "change " << i << ": " << s.error().to_string() << " op " << op.dump();
      }
      CommitOptions opts;
      opts.time = dec["time"].get<std::int64_t>();
      if (dec["message"].is_string()) opts.message = dec["message"].get<std::string>();
      const ChangeHash h = d.commit(opts);
      EXPECT_EQ(h.to_hex(), c["hash"].get<std::string>()) << "change " << i << " " << dec.dump();
      EXPECT_EQ(to_hex(*d.get_last_local_change()), c["hex"].get<std::string>()) << "change " << i;
      ++checked;
    }
  }
  EXPECT_GE(checked, 30);
}

// ---- convergence property ------------------------------------------------------------------

RC_GTEST_PROP(DocumentProperty, ReplicasConvergeWhateverTheDeliveryOrder, ()) {
  const int actors = *rc::gen::inRange(2, 5);
  const int rounds = *rc::gen::inRange(1, 30);
  const auto seed = *rc::gen::arbitrary<std::uint32_t>();
  RC_TAG(seed);
  std::mt19937 rng(seed);
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  std::vector<Document> docs;
  for (int i = 0; i < actors; ++i) {
    docs.emplace_back(DocumentOptions{ActorId{Bytes{static_cast<std::uint8_t>(0x10 + i)}}, TextUnit::kUtf16});
  }
  // Shared structure first, so that concurrent edits hit the same objects.
  ObjId list = docs[0].put_object(ObjId::root(), "list", ObjType::kList).value();
  ObjId text = docs[0].put_object(ObjId::root(), "text", ObjType::kText).value();
  RC_ASSERT(docs[0].put(ObjId::root(), "counter", Counter{0}));
  docs[0].commit();
  for (int i = 1; i < actors; ++i) RC_ASSERT(docs[static_cast<std::size_t>(i)].merge(docs[0]));
  static const std::vector<std::string> kKeys{"a", "b", "c"};
  for (int round = 0; round < rounds; ++round) {
    for (auto& d : docs) {
      const int edits = static_cast<int>(pick(4));
      for (int e = 0; e < edits; ++e) {
        const std::size_t len = d.length(list).value();
        const std::size_t tlen = d.length(text).value();
        switch (pick(8)) {
          case 0: RC_ASSERT(d.put(ObjId::root(), kKeys[pick(3)], std::int64_t(rng() % 100))); break;
          case 1: RC_ASSERT(d.remove(ObjId::root(), kKeys[pick(3)])); break;
          case 2: RC_ASSERT(d.insert(list, pick(len + 1), std::int64_t(rng() % 100))); break;
          case 3: if (len) RC_ASSERT(d.remove(list, pick(len))); break;
          case 4: if (len) RC_ASSERT(d.put(list, pick(len), std::string("x"))); break;
          case 5: RC_ASSERT(d.increment(ObjId::root(), "counter", 1)); break;
          case 6: {
            // Rich text: a mark or unmark over a random range, any expand mode. Positions are
            // UTF-16 units, so a range may split a surrogate pair: that is refused, not a crash.
            if (tlen < 2) break;
            const std::size_t start = pick(tlen - 1);
            const std::size_t end = start + 1 + pick(tlen - start);
            const auto expand = static_cast<ExpandMark>(pick(4));
            const std::string name = pick(2) ? "bold" : "link";
            if (pick(4) == 0) {
              (void)d.unmark(text, start, end, expand, name);
            } else {
              (void)d.mark(text, start, end, expand, name, ScalarValue{std::int64_t(pick(3))});
            }
            break;
          }
          default: {
            const std::size_t pos = d.text(text).value().empty() ? 0 : pick(tlen + 1);
            (void)d.splice_text(text, pos, pick(2), pick(2) ? "h\xc3\xa9" : "\xf0\x9f\x98\x80");
          }
        }
      }
      d.commit_if_pending();
    }
    // Random partial exchange.
    const std::size_t from = pick(docs.size()), to = pick(docs.size());
    if (from != to) RC_ASSERT(docs[to].merge(docs[from]));
  }
  // Full exchange in random batch orders, by raw change bytes.
  for (auto& d : docs) {
    std::vector<Bytes> all;
    for (auto& other : docs) {
      for (auto& c : other.get_changes()) all.push_back(c);
    }
    std::shuffle(all.begin(), all.end(), rng);
    RC_ASSERT(d.apply_changes(all));
  }
  for (std::size_t i = 1; i < docs.size(); ++i) {
    RC_ASSERT(docs[i].heads() == docs[0].heads());
    RC_ASSERT(docs[i].to_json().value() == docs[0].to_json().value());
    RC_ASSERT(docs[i].marks(text).value() == docs[0].marks(text).value());
    for (const auto& k : kKeys) {
      const auto a = docs[i].get_all(ObjId::root(), k).value();
      const auto b = docs[0].get_all(ObjId::root(), k).value();
      RC_ASSERT(a.size() == b.size());
      for (std::size_t j = 0; j < a.size(); ++j) RC_ASSERT(a[j].op_id == b[j].op_id);
    }
  }
}

}  // namespace
}  // namespace am

namespace am {
namespace {

TEST(Document, PredInAnotherObjectIsRejectedNotACrash) {
  // Two lists; a delete in the second whose pred is an element of the first.
  Document a(DocumentOptions{*ActorId::from_hex("aaaa"), TextUnit::kUtf16});
  const ObjId l1 = a.put_object(ObjId::root(), "l1", ObjType::kList).value();
  const ObjId l2 = a.put_object(ObjId::root(), "l2", ObjType::kList).value();
  ASSERT_TRUE(a.insert(l1, 0, std::int64_t{1}));
  ASSERT_TRUE(a.insert(l2, 0, std::int64_t{2}));
  a.commit();
  storage::Change bad;
  bad.actors = {test::hex("bbbb"), test::hex("aaaa")};
  bad.seq = 1;
  bad.start_op = 5;
  bad.deps = a.heads();
  storage::ChangeOp del;
  del.obj = storage::ChangeOpId{2, 1};                 // l2
  del.key = storage::ElemKey{storage::ChangeOpId{4, 1}};  // l2's element
  del.action = storage::Action::kDelete;
  del.pred = {storage::ChangeOpId{3, 1}};             // l1's element
  bad.ops.push_back(del);
  const auto sc = storage::encode_change(bad);
  const Status s = a.apply_changes(std::vector<Bytes>{sc.chunk});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kCorruption);
  EXPECT_EQ(a.to_json().value(), R"({"l1":[1],"l2":[2]})");
}

TEST(Document, ABatchThatFailsPartWayLeavesTheDocumentAsItWas) {
  Document a(DocumentOptions{*ActorId::from_hex("aaaa"), TextUnit::kUtf16});
  const ObjId l1 = a.put_object(ObjId::root(), "l1", ObjType::kList).value();
  const ObjId l2 = a.put_object(ObjId::root(), "l2", ObjType::kList).value();
  ASSERT_TRUE(a.insert(l1, 0, std::int64_t{1}));
  ASSERT_TRUE(a.insert(l2, 0, std::int64_t{2}));
  a.commit();
  const auto heads_before = a.heads();
  // A good change from bbbb, then a bad one that depends on it.
  Document b = a.fork(*ActorId::from_hex("bbbb"));
  ASSERT_TRUE(b.put(ObjId::root(), "x", std::int64_t{7}));
  b.commit();
  const Bytes good = *b.get_last_local_change();
  storage::Change bad;
  bad.actors = {test::hex("bbbb"), test::hex("aaaa")};
  bad.seq = 2;
  bad.start_op = 6;
  bad.deps = b.heads();
  storage::ChangeOp del;
  del.obj = storage::ChangeOpId{2, 1};
  del.key = storage::ElemKey{storage::ChangeOpId{4, 1}};
  del.action = storage::Action::kDelete;
  del.pred = {storage::ChangeOpId{3, 1}};  // an element of the other list
  bad.ops.push_back(del);
  const Bytes bad_chunk = storage::encode_change(bad).chunk;
  const Status s = a.apply_changes(std::vector<Bytes>{good, bad_chunk});
  ASSERT_FALSE(s);
  EXPECT_EQ(a.heads(), heads_before);
  EXPECT_EQ(a.change_count(), 1u);
  EXPECT_EQ(a.to_json().value(), R"({"l1":[1],"l2":[2]})");
  // And the document still works: the good change alone applies.
  ASSERT_TRUE(a.apply_changes(std::vector<Bytes>{good}));
  EXPECT_EQ(a.to_json().value(), R"({"l1":[1],"l2":[2],"x":7})");
}

}  // namespace
}  // namespace am

namespace am {
namespace {

TEST(Document, IntegerIndexesNeedNoCast) {
  Document d(DocumentOptions{*ActorId::from_hex("aaaa"), TextUnit::kUtf16});
  const ObjId list = d.put_object(ObjId::root(), "l", ObjType::kList).value();
  ASSERT_TRUE(d.insert(list, 0, std::int64_t{1}));
  ASSERT_TRUE(d.insert(list, 1, std::int64_t{2}));
  ASSERT_TRUE(d.put(list, 0, std::int64_t{3}));
  EXPECT_EQ(d.get(list, 0).value(), std::optional<Value>(ScalarValue{std::int64_t{3}}));
  ASSERT_TRUE(d.remove(list, 0));
  EXPECT_EQ(d.to_json().value(), R"({"l":[2]})");
  ASSERT_TRUE(d.put(ObjId::root(), "k", true));  // string literals still mean keys
  ASSERT_TRUE(d.remove(ObjId::root(), "k"));
}

}  // namespace
}  // namespace am
