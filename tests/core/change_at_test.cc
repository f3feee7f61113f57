// Document::change_at against the golden vectors change_at_* of tools/jsref/vectors/change_at.mjs:
// every step of the JS script is replayed on C++ documents (one per peer), and each changeAt must
// make the byte-identical change, heads and JSON; then API edges the vectors do not cover.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "am/document.h"
#include "support/vectors.h"

namespace am {
namespace {

using nlohmann::json;
using test::normalise;

CommitOptions at_zero() {
  CommitOptions o;
  o.time = 0;
  return o;
}

std::vector<ChangeHash> hashes(const json& list) {
  std::vector<ChangeHash> out;
  for (const json& h : list) out.push_back(*ChangeHash::from_hex(h.get<std::string>()));
  return out;
}

std::vector<std::string> hex_of(const std::vector<ChangeHash>& list) {
  std::vector<std::string> out;
  for (const ChangeHash& h : list) out.push_back(h.to_hex());
  return out;
}

// The object at `path` (map keys from the root); the root when any step is missing (the edit then fails).
ObjId resolve(const Document& d, const json& path) {
  ObjId o = ObjId::root();
  for (const json& key : path) {
    const auto v = d.get(o, key.get<std::string>());
    if (!v || !*v || !std::holds_alternative<ObjectRef>(**v)) return ObjId::root();
    o = std::get<ObjectRef>(**v).id;
  }
  return o;
}

ScalarValue scalar(const json& v) {
  if (v.is_boolean()) return v.get<bool>();
  return v.get<std::int64_t>();
}

ExpandMark expand_of(const std::string& s) {
  if (s == "before") return ExpandMark::kBefore;
  if (s == "both") return ExpandMark::kBoth;
  if (s == "none") return ExpandMark::kNone;
  return ExpandMark::kAfter;
}

// One edit of the script's little language (see change_at.mjs).
Status apply_edit(Document& d, const json& e) {
  const std::string op = e[0];
  const ObjId obj = resolve(d, e[1]);
  if (op == "put") return d.put(obj, e[2].get<std::string>(), scalar(e[3]));
  if (op == "make_map") {
    AM_TRY_STATUS(d.put_object(obj, e[2].get<std::string>(), ObjType::kMap));
    return {};
  }
  if (op == "make_text") {
    AM_TRY_ASSIGN(const ObjId text, d.put_object(obj, e[2].get<std::string>(), ObjType::kText));
    return d.splice_text(text, 0, 0, e[3].get<std::string>());
  }
  if (op == "del") return d.remove(obj, e[2].get<std::string>());
  if (op == "splice") return d.splice_text(obj, e[2].get<std::size_t>(), e[3].get<std::size_t>(), e[4].get<std::string>());
  if (op == "mark") {
    return d.mark(obj, e[2].get<std::size_t>(), e[3].get<std::size_t>(), expand_of(e[4]), e[5].get<std::string>(),
                  scalar(e[6]));
  }
  return fail(Error::invalid_argument("edit", op));
}

Status apply_edits(Document& d, const json& edits) {
  for (const json& e : edits) AM_TRY_STATUS(apply_edit(d, e));
  return {};
}

std::string last_local_hex(const Document& d) {
  const auto c = d.get_last_local_change();
  return c ? to_hex(*c) : std::string();
}

void check_change_at(Document& d, const json& step) {
  const auto r = d.change_at(hashes(step["heads"]), [&](Document& at) { return apply_edits(at, step["edits"]); },
                             at_zero());
  ASSERT_TRUE(r) << r.error().message;
  if (step["new_heads"].is_null()) {
    EXPECT_FALSE(r->change.has_value());
    EXPECT_TRUE(r->new_heads.empty());
  } else {
    ASSERT_TRUE(r->change.has_value());
    EXPECT_EQ(hex_of(r->new_heads), step["new_heads"].get<std::vector<std::string>>());
    EXPECT_EQ(r->change->to_hex(), step["new_heads"][0].get<std::string>());
    const auto bytes = d.get_change_by_hash(*r->change);
    ASSERT_TRUE(bytes.has_value());
    EXPECT_EQ(to_hex(*bytes), step["change"]["hex"].get<std::string>());
  }
  EXPECT_EQ(hex_of(d.heads()), step["heads_after"].get<std::vector<std::string>>());
  EXPECT_EQ(normalise(json::parse(d.to_json().value())), normalise(step["json_after"]));
  if (step["last_local"].is_null()) {
    EXPECT_EQ(last_local_hex(d), "");
  } else {
    const auto want = d.get_change_by_hash(*ChangeHash::from_hex(step["last_local"].get<std::string>()));
    ASSERT_TRUE(want.has_value());
    EXPECT_EQ(last_local_hex(d), to_hex(*want));
  }
}

// Replays the vector's steps; returns the peers' documents at the end.
std::map<std::string, Document> replay(const json& v) {
  std::map<std::string, Document> peers;
  for (const auto& [name, actor] : v["extra"]["peers"].items()) {
    DocumentOptions o;
    o.actor = ActorId::from_hex(actor.get<std::string>());
    peers.emplace(name, Document(o));
  }
  int index = 0;
  for (const json& step : v["extra"]["steps"]) {
    SCOPED_TRACE("step " + std::to_string(index++) + ": " + step.dump());
    Document& d = peers.at(step["peer"].get<std::string>());
    const std::string op = step["op"];
    if (op == "change") {
      const Status s = apply_edits(d, step["edits"]);
      EXPECT_TRUE(s) << s.error().message;
      d.commit(at_zero());
    } else if (op == "merge") {
      EXPECT_TRUE(d.merge(peers.at(step["from"].get<std::string>())));
    } else {
      check_change_at(d, step);
    }
    EXPECT_EQ(hex_of(d.heads()), step["heads_after"].get<std::vector<std::string>>());
  }
  return peers;
}

// Replays a vector and checks peer A against the vector's document.
std::map<std::string, Document> check_vector(const std::string& name) {
  SCOPED_TRACE(name);
  const json v = test::load_vector(name);
  if (!v.is_object()) return {};
  std::map<std::string, Document> peers = replay(v);
  const Document& a = peers.at("A");
  EXPECT_EQ(hex_of(a.heads()), v["heads"].get<std::vector<std::string>>());
  std::vector<std::string> want;
  for (const json& c : v["changes"]) want.push_back(c["hex"]);
  std::vector<std::string> got;
  for (const Bytes& c : a.get_changes()) got.push_back(to_hex(c));
  EXPECT_EQ(got, want);
  EXPECT_EQ(to_hex(a.save_no_compress()), v["save_nocompress_hex"].get<std::string>());
  EXPECT_EQ(normalise(json::parse(a.to_json().value())), normalise(v["json"]));
  return peers;
}

TEST(ChangeAtVectors, OwnActorIdleSinceTheHeadsAuthorsTheChange) { check_vector("change_at_own_actor_idle"); }

TEST(ChangeAtVectors, BusyOwnActorGivesDerivedActorsLevelByLevel) { check_vector("change_at_own_actor_busy"); }

TEST(ChangeAtVectors, TextSplicesAndMarksAtOldIndexes) {
  auto peers = check_vector("change_at_text");
  if (peers.empty()) return;
  const json v = test::load_vector("change_at_text");
  const Document& a = peers.at("A");
  const ObjId text = resolve(a, json::array({"text"}));
  json marks = json::array();
  const auto got = a.marks(text);
  ASSERT_TRUE(got);
  for (const Mark& m : *got) {
    marks.push_back({{"name", m.name}, {"value", std::get<bool>(m.value)}, {"start", m.start}, {"end", m.end}});
  }
  EXPECT_EQ(marks, v["extra"]["marks"]);
}

TEST(ChangeAtVectors, NestedMapWithAConcurrentPeerThatAlsoChangesAt) {
  auto peers = check_vector("change_at_map_concurrent_peer");
  if (peers.empty()) return;
  const json v = test::load_vector("change_at_map_concurrent_peer");
  EXPECT_EQ(normalise(json::parse(peers.at("B").to_json().value())), normalise(v["extra"]["json_b"]));
}

TEST(ChangeAtVectors, CurrentHeadsInOrderArePlainChangeOtherwiseIsolated) {
  check_vector("change_at_current_heads");
}

// ---- edges ----------------------------------------------------------------------------------

Document doc_with(std::string_view actor_hex) {
  DocumentOptions o;
  o.actor = ActorId::from_hex(actor_hex);
  return Document(o);
}

TEST(ChangeAt, UnknownHeadsAreInvalidArgumentAndChangeNothing) {
  Document d = doc_with("aaaa");
  ASSERT_TRUE(d.put(ObjId::root(), "x", std::int64_t{1}));
  d.commit();
  const auto before = d.heads();
  ChangeHash unknown;
  unknown.bytes.fill(0x11);
  bool ran = false;
  const auto r = d.change_at({unknown}, [&](Document&) { ran = true; return Status{}; });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(ran);
  EXPECT_EQ(d.heads(), before);
}

TEST(ChangeAt, AnEditErrorOrACommitInsideChangesNothing) {
  Document d = doc_with("aaaa");
  ASSERT_TRUE(d.put(ObjId::root(), "x", std::int64_t{1}));
  const ChangeHash h1 = d.commit();
  ASSERT_TRUE(d.put(ObjId::root(), "x", std::int64_t{2}));
  d.commit();
  const auto before = d.heads();
  const auto failed = d.change_at({h1}, [](Document& at) {
    EXPECT_TRUE(at.put(ObjId::root(), "y", std::int64_t{1}));
    return Status(fail(Error::invalid_argument("test", "edit gives up")));
  });
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message, Error::invalid_argument("test", "edit gives up").message);
  const auto committed = d.change_at({h1}, [](Document& at) {
    EXPECT_TRUE(at.put(ObjId::root(), "y", std::int64_t{1}));
    at.commit();
    return Status{};
  });
  ASSERT_FALSE(committed);
  EXPECT_EQ(committed.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(d.heads(), before);
  EXPECT_EQ(d.to_json().value(), R"({"x":2})");
}

TEST(ChangeAt, EditSeesTheDocumentAtTheHeadsAndAPendingTransactionIsCommittedFirst) {
  Document d = doc_with("aaaa");
  ASSERT_TRUE(d.put(ObjId::root(), "x", std::int64_t{1}));
  const ChangeHash h1 = d.commit();
  ASSERT_TRUE(d.put(ObjId::root(), "x", std::int64_t{2}));  // left pending
  std::string seen;
  const auto r = d.change_at({h1}, [&](Document& at) {
    seen = at.to_json().value();
    return at.put(ObjId::root(), "y", std::int64_t{3});
  });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(seen, R"({"x":1})");
  EXPECT_EQ(d.change_count(), 3u);
  EXPECT_EQ(d.to_json().value(), R"({"x":2,"y":3})");
  ASSERT_EQ(d.heads().size(), 2u);
  const auto info = d.inspect_change(*r->change);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->deps, std::vector<ChangeHash>{h1});
  EXPECT_EQ(info->start_op, 3u);  // after the pending op that was committed first
}

}  // namespace
}  // namespace am
