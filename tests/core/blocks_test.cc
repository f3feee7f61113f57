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
#include "support/hex.h"
#include "support/vectors.h"

namespace am {
namespace {

using nlohmann::json;

const char kBlockChar[] = "\xef\xbf\xbc";  // U+FFFC, what text() shows for a block

Document doc_of(char actor_letter) {
  return Document(DocumentOptions{ActorId::from_hex(std::string(32, actor_letter)), TextUnit::kUtf16});
}

ObjId text_of(const Document& d) {
  const auto v = d.get(ObjId::root(), "text");
  if (!v || !*v) return ObjId::root();
  return std::get<ObjectRef>(**v).id;
}

// A block value in the vectors' tagged JSON (see rich_text.mjs): {"$raw": s} a string scalar, a
// plain string a text, {"$date": ms}, {"$bytes": hex}; numbers as the reference's JS import
// stores them (a positive integer is an int, any other number a float64).
Hydrated untag(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return Hydrated::of(Null{});
    case json::value_t::boolean: return Hydrated::of(v.get<bool>());
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: {
      const auto n = v.get<std::int64_t>();
      return n > 0 ? Hydrated::of(n) : Hydrated::of(static_cast<double>(n));
    }
    case json::value_t::number_float: return Hydrated::of(v.get<double>());
    case json::value_t::string: return Hydrated::text_of(v.get<std::string>());
    case json::value_t::array: {
      std::vector<Hydrated> items;
      for (const json& e : v) items.push_back(untag(e));
      return Hydrated::list_of(std::move(items));
    }
    default: break;
  }
  if (v.size() == 1 && v.contains("$raw")) return Hydrated::of(v["$raw"].get<std::string>());
  if (v.size() == 1 && v.contains("$date")) return Hydrated::of(Timestamp{v["$date"].get<std::int64_t>()});
  if (v.size() == 1 && v.contains("$bytes")) return Hydrated::of(test::hex(v["$bytes"].get<std::string>()));
  std::map<std::string, Hydrated> entries;
  for (const auto& [key, value] : v.items()) entries.emplace(key, untag(value));
  return Hydrated::map_of(std::move(entries));
}

ExpandMark expand_of(const std::string& s) {
  if (s == "before") return ExpandMark::kBefore;
  if (s == "both") return ExpandMark::kBoth;
  if (s == "none") return ExpandMark::kNone;
  return ExpandMark::kAfter;
}

ScalarValue mark_value(const json& v) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_string()) return v.get<std::string>();
  return v.get<std::int64_t>();
}

// One call of a step through Document's API.
Status call(Document& d, const json& c) {
  const std::string fn = c["fn"];
  if (fn == "init") {
    AM_TRY_ASSIGN(const ObjId text, d.put_object(ObjId::root(), "text", ObjType::kText));
    return d.splice_text(text, 0, 0, c["text"].get<std::string>());
  }
  const ObjId text = text_of(d);
  if (fn == "splice") return d.splice_text(text, c["index"], c["del"], c["text"].get<std::string>());
  if (fn == "splitBlock") return d.split_block(text, c["index"], untag(c["block"]).map).map([](const ObjId&) {});
  if (fn == "updateBlock") return d.update_block(text, c["index"], untag(c["block"]).map).map([](const ObjId&) {});
  if (fn == "joinBlock") return d.join_block(text, c["index"]);
  if (fn == "mark") {
    return d.mark(text, c["start"], c["end"], expand_of(c["expand"].get<std::string>()), c["name"].get<std::string>(), mark_value(c["value"]));
  }
  if (fn == "unmark") return d.unmark(text, c["start"], c["end"], expand_of(c["expand"].get<std::string>()), c["name"].get<std::string>());
  if (fn == "initList") {
    AM_TRY_ASSIGN(const ObjId list, d.put_object(ObjId::root(), "list", ObjType::kList));
    for (std::size_t i = 0; i < c["values"].size(); ++i) AM_TRY_STATUS(d.insert(list, i, c["values"][i].get<std::int64_t>()));
    return {};
  }
  if (fn == "listSplice") {
    const auto list = d.get(ObjId::root(), "list");
    if (!list || !*list) return fail(Error::invalid_argument("listSplice", "no list"));
    std::vector<ScalarValue> values;
    for (const json& x : c["values"]) values.emplace_back(x.get<std::int64_t>());
    return d.splice(std::get<ObjectRef>(**list).id, c["index"], c["del"], values);
  }
  return fail(Error::unsupported(fn));
}

json spans_json(const Result<std::vector<Span>>& spans) {
  EXPECT_TRUE(spans) << spans.error().to_string();
  return test::normalise(json::parse(spans ? to_json(*spans) : std::string("null")));
}

std::vector<ChangeHash> heads_of(const json& hexes) {
  std::vector<ChangeHash> out;
  for (const json& h : hexes) out.push_back(*ChangeHash::from_hex(h.get<std::string>()));
  return out;
}

void replay_vector(const std::string& name) {
  SCOPED_TRACE(name);
  const json v = test::load_vector(name);
  ASSERT_TRUE(v.is_object());
  std::map<std::string, Document> docs;
  docs.emplace("a", doc_of('a'));
  docs.emplace("b", doc_of('b'));
  const json& steps = v["extra"]["steps"];
  ASSERT_FALSE(steps.empty());
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const json& s = steps[i];
    SCOPED_TRACE("step " + std::to_string(i) + " " + s.dump().substr(0, 300));
    Document& d = docs.at(s["doc"]);
    if (s.contains("merge")) {
      ASSERT_TRUE(d.merge(docs.at(s["merge"])));
    } else {
      for (const json& c : s["calls"]) {
        const Status st = call(d, c);
        ASSERT_TRUE(st) << st.error().to_string() << " in " << c.dump();
      }
      EXPECT_EQ(d.commit(CommitOptions{std::nullopt, 0}).to_hex(), s["hash"].get<std::string>());
    }
    EXPECT_EQ(d.heads(), heads_of(s["heads"]));
    EXPECT_EQ(spans_json(d.spans(text_of(d))), test::normalise(s["spans"]));
    EXPECT_EQ(d.text(text_of(d)).value(), s["text"].get<std::string>());
  }
  // The merged document: its spans now and at the heads of every step, and block() at every index.
  Document& all = docs.at("a");
  ASSERT_TRUE(all.merge(docs.at("b")));
  const ObjId text = text_of(all);
  EXPECT_EQ(spans_json(all.spans(text)), test::normalise(v["extra"]["spans"]));
  for (const json& s : steps) EXPECT_EQ(spans_json(all.spans_at(text, heads_of(s["heads"]))), test::normalise(s["spans"]));
  const json& blocks = v["extra"]["blocks"];
  ASSERT_EQ(blocks.size(), all.length(text).value() + 1);
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const auto b = all.block(text, i);
    ASSERT_TRUE(b);
    const json got = *b ? json::parse(to_json(Hydrated::map_of(**b))) : json(nullptr);
    EXPECT_EQ(test::normalise(got), test::normalise(blocks[i])) << "block(" << i << ")";
  }
  // The reference's changes applied newest first (each waits for its deps): the same spans.
  std::vector<Bytes> changes;
  for (const json& c : v["changes"]) changes.insert(changes.begin(), test::hex(c["hex"].get<std::string>()));
  Document fresh = doc_of('f');
  ASSERT_TRUE(fresh.apply_changes(changes));
  EXPECT_EQ(spans_json(fresh.spans(text_of(fresh))), test::normalise(v["extra"]["spans"]));
}

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
