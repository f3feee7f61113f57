// See rich_text_replay.h.
#include "support/rich_text_replay.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "support/hex.h"
#include "support/vectors.h"

namespace am::test {

using nlohmann::json;

Document rich_text_doc(char actor_letter) {
  return Document(DocumentOptions{ActorId::from_hex(std::string(32, actor_letter)), TextUnit::kUtf16});
}

ObjId rich_text_of(const Document& d) {
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
  if (v.size() == 1 && v.contains("$bytes")) return Hydrated::of(hex(v["$bytes"].get<std::string>()));
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

namespace {

// A mark value as the reference's JS import stores it (numbers as for block scalars).
ScalarValue mark_value(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  return untag(v).scalar;
}

// The desired spans of an updateSpans call (block values tagged).
std::vector<Span> spans_of(const json& list) {
  std::vector<Span> out;
  for (const json& x : list) {
    Span s;
    if (x["type"] == "block") {
      s.kind = Span::Kind::kBlock;
      s.block = untag(x["value"]).map;
    } else {
      s.text = x["value"].get<std::string>();
      if (x.contains("marks")) {
        for (const auto& [name, value] : x["marks"].items()) s.marks.emplace(name, mark_value(value));
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

// updateSpans with the call's config, if any.
Status update_spans(Document& d, const ObjId& text, const json& c) {
  ExpandMark fallback = ExpandMark::kAfter;
  std::map<std::string, ExpandMark> per_mark;
  if (c.contains("config")) {
    const json& cfg = c["config"];
    if (cfg.contains("defaultExpand")) fallback = expand_of(cfg["defaultExpand"].get<std::string>());
    if (cfg.contains("perMarkExpand")) {
      for (const auto& [name, e] : cfg["perMarkExpand"].items()) per_mark.emplace(name, expand_of(e.get<std::string>()));
    }
  }
  return d.update_spans(text, spans_of(c["spans"]), fallback, per_mark);
}

// One call of a step through Document's API.
Status call(Document& d, const json& c) {
  const std::string fn = c["fn"];
  if (fn == "init") {
    AM_TRY_ASSIGN(const ObjId text, d.put_object(ObjId::root(), "text", ObjType::kText));
    return d.splice_text(text, 0, 0, c["text"].get<std::string>());
  }
  const ObjId text = rich_text_of(d);
  if (fn == "splice") return d.splice_text(text, c["index"], c["del"], c["text"].get<std::string>());
  if (fn == "splitBlock") return d.split_block(text, c["index"], untag(c["block"]).map).map([](const ObjId&) {});
  if (fn == "updateBlock") return d.update_block(text, c["index"], untag(c["block"]).map).map([](const ObjId&) {});
  if (fn == "joinBlock") return d.join_block(text, c["index"]);
  if (fn == "mark") {
    return d.mark(text, c["start"], c["end"], expand_of(c["expand"].get<std::string>()), c["name"].get<std::string>(), mark_value(c["value"]));
  }
  if (fn == "unmark") return d.unmark(text, c["start"], c["end"], expand_of(c["expand"].get<std::string>()), c["name"].get<std::string>());
  if (fn == "updateSpans") return update_spans(d, text, c);
  if (fn == "updateSpansRoundTrip") {
    AM_TRY_ASSIGN(const std::vector<Span> now, d.spans(text));
    return d.update_spans(text, now);
  }
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
  return normalise(json::parse(spans ? to_json(*spans) : std::string("null")));
}

std::vector<ChangeHash> heads_of(const json& hexes) {
  std::vector<ChangeHash> out;
  for (const json& h : hexes) out.push_back(*ChangeHash::from_hex(h.get<std::string>()));
  return out;
}

}  // namespace

void replay_rich_text_vector(const std::string& name) {
  SCOPED_TRACE(name);
  const json v = load_vector(name);
  ASSERT_TRUE(v.is_object());
  std::map<std::string, Document> docs;
  docs.emplace("a", rich_text_doc('a'));
  docs.emplace("b", rich_text_doc('b'));
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
      // JS makes no change when the calls wrote nothing; otherwise the change must be the
      // reference's byte for byte (the hash covers the bytes; the hex shows where they differ).
      const std::optional<ChangeHash> made = d.commit_if_pending(CommitOptions{std::nullopt, 0});
      if (s["hash"].is_null()) {
        EXPECT_FALSE(made.has_value()) << "wrote " << d.pending_ops() << " ops where the reference wrote none";
      } else {
        ASSERT_TRUE(made.has_value()) << "wrote nothing where the reference made " << s["hash"];
        EXPECT_EQ(made->to_hex(), s["hash"].get<std::string>());
        for (const json& ch : v["changes"]) {
          if (ch["hash"] != s["hash"]) continue;
          EXPECT_EQ(to_hex(*d.get_last_local_change()), ch["hex"].get<std::string>());
        }
      }
    }
    EXPECT_EQ(d.heads(), heads_of(s["heads"]));
    EXPECT_EQ(spans_json(d.spans(rich_text_of(d))), normalise(s["spans"]));
    EXPECT_EQ(d.text(rich_text_of(d)).value(), s["text"].get<std::string>());
  }
  // The merged document: its spans now and at the heads of every step, and block() at every index.
  Document& all = docs.at("a");
  ASSERT_TRUE(all.merge(docs.at("b")));
  const ObjId text = rich_text_of(all);
  EXPECT_EQ(spans_json(all.spans(text)), normalise(v["extra"]["spans"]));
  for (const json& s : steps) EXPECT_EQ(spans_json(all.spans_at(text, heads_of(s["heads"]))), normalise(s["spans"]));
  const json& blocks = v["extra"]["blocks"];
  ASSERT_EQ(blocks.size(), all.length(text).value() + 1);
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const auto b = all.block(text, i);
    ASSERT_TRUE(b);
    const json got = *b ? json::parse(to_json(Hydrated::map_of(**b))) : json(nullptr);
    EXPECT_EQ(normalise(got), normalise(blocks[i])) << "block(" << i << ")";
  }
  // The reference's changes applied newest first (each waits for its deps): the same spans.
  std::vector<Bytes> changes;
  for (const json& c : v["changes"]) changes.insert(changes.begin(), hex(c["hex"].get<std::string>()));
  Document fresh = rich_text_doc('f');
  ASSERT_TRUE(fresh.apply_changes(changes));
  EXPECT_EQ(spans_json(fresh.spans(rich_text_of(fresh))), normalise(v["extra"]["spans"]));
}

}  // namespace am::test
