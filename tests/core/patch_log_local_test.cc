// Document::diff_incremental after local edits: the reference's patchCallback logs a local change
// op by op (golden vectors patch_callback_local*, tools/jsref/vectors/patch_log_local.mjs). Each
// local step's ops are performed here through the Document API; the change must be the one JS
// made, byte for byte, and the patches the ones its callback got.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <iostream>
#include <string>
#include <vector>

#include "am/document.h"
#include "am/rich_text.h"
#include "support/hex.h"
#include "support/rich_text_replay.h"
#include "support/vectors.h"

namespace am {
namespace {

using nlohmann::json;

Prop prop_of(const json& p) { return p.is_string() ? Prop(p.get<std::string>()) : Prop(p.get<std::size_t>()); }

ObjId object_at(const Document& doc, const json& path) {
  ObjId at = ObjId::root();
  for (const json& key : path) at = std::get<ObjectRef>(**doc.get(at, prop_of(key))).id;
  return at;
}

ScalarValue scalar_of(const json& v) {
  if (v.is_null()) return Null{};
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_string()) return v.get<std::string>();
  ADD_FAILURE() << "unexpected value " << v;
  return Null{};
}

// A JS value as a block holds it: strings become text objects, as JS's splitBlock writes them.
Hydrated hydrated_of(const json& v) {
  if (v.is_string()) return Hydrated::text_of(v.get<std::string>());
  if (v.is_array()) {
    std::vector<Hydrated> items;
    for (const json& e : v) items.push_back(hydrated_of(e));
    return Hydrated::list_of(std::move(items));
  }
  if (v.is_object()) {
    std::map<std::string, Hydrated> entries;
    for (const auto& [k, e] : v.items()) entries.emplace(k, hydrated_of(e));
    return Hydrated::map_of(std::move(entries));
  }
  return Hydrated::of(scalar_of(v));
}

// A number as JS writes it inside an inserted list element or a nested object: 0 there becomes a
// float64 (probed with the pinned package: insertAt(0, 0) and {q: 0} write 0.0; x.a = 0 an int).
ScalarValue nested_scalar_of(const json& v) {
  if (v.is_number_integer() && v.get<std::int64_t>() == 0) return 0.0;
  return scalar_of(v);
}

// Performs one op record of the vector (the same edit the JS proxy made).
void perform(Document& doc, const json& op) {
  SCOPED_TRACE("op " + op.dump());
  const std::string kind = op["op"];
  const ObjId obj = object_at(doc, op["path"]);
  if (kind == "put") {
    ASSERT_TRUE(doc.put(obj, prop_of(op["prop"]), scalar_of(op["value"])));
  } else if (kind == "putMap" || kind == "insertMap") {
    auto made = kind == "putMap" ? doc.put_object(obj, prop_of(op["prop"]), ObjType::kMap)
                                 : doc.insert_object(obj, op["prop"].get<std::size_t>(), ObjType::kMap);
    ASSERT_TRUE(made);
    ASSERT_TRUE(doc.put(*made, kind == "putMap" ? "v" : "q", nested_scalar_of(op["value"])));
  } else if (kind == "putText") {
    auto made = doc.put_object(obj, prop_of(op["prop"]), ObjType::kText);
    ASSERT_TRUE(made);
    ASSERT_TRUE(doc.splice_text(*made, 0, 0, op["value"].get<std::string>()));
  } else if (kind == "insert") {
    ASSERT_TRUE(doc.insert(obj, op["prop"].get<std::size_t>(), nested_scalar_of(op["value"])));
  } else if (kind == "delete") {
    ASSERT_TRUE(doc.remove(obj, prop_of(op["prop"])));
  } else if (kind == "splice") {
    ASSERT_TRUE(doc.splice_text(obj, op["prop"].get<std::size_t>(), op["del"].get<std::size_t>(),
                                op["text"].get<std::string>()));
  } else if (kind == "inc") {
    ASSERT_TRUE(doc.increment(obj, prop_of(op["prop"]), op["by"].get<std::int64_t>()));
  } else if (kind == "mark") {
    ASSERT_TRUE(doc.mark(obj, op["start"], op["end"], test::expand_of(op["expand"]), op["name"].get<std::string>(),
                         scalar_of(op["value"])));
  } else if (kind == "unmark") {
    ASSERT_TRUE(doc.unmark(obj, op["start"], op["end"], test::expand_of(op["expand"]), op["name"].get<std::string>()));
  } else if (kind == "splitBlock") {
    Block block;
    for (const auto& [k, v] : op["block"].items()) block.emplace(k, hydrated_of(v));
    ASSERT_TRUE(doc.split_block(obj, op["prop"].get<std::size_t>(), block));
  } else if (kind == "updateText") {
    ASSERT_TRUE(doc.update_text(obj, op["text"].get<std::string>()));
  } else {
    FAIL() << "unknown op " << op;
  }
}

class LocalPatchLogVectors : public ::testing::TestWithParam<const char*> {};

TEST_P(LocalPatchLogVectors, LocalChangesGiveTheReferencesChangeAndPatches) {
  const json v = test::load_vector(GetParam());
  ASSERT_TRUE(v.is_object());
  std::cout << GetParam() << ": seed " << v["extra"]["seed"] << "\n";
  DocumentOptions opts;
  opts.actor = *ActorId::from_hex("0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d");
  Document doc(opts);
  std::vector<Bytes> init;
  for (const auto& h : v["extra"]["init"]) init.push_back(test::hex(h.get<std::string>()));
  ASSERT_TRUE(doc.apply_changes(init));
  doc.update_diff_cursor();
  std::size_t step = 0, local = 0, patches = 0;
  for (const json& s : v["extra"]["steps"]) {
    SCOPED_TRACE("step " + std::to_string(step++));
    if (s.contains("changes")) {
      std::vector<Bytes> changes;
      for (const auto& h : s["changes"]) changes.push_back(test::hex(h.get<std::string>()));
      ASSERT_TRUE(doc.apply_changes(changes));
      (void)doc.diff_incremental();  // received patches are patch_log_test's subject
      continue;
    }
    for (const json& op : s["ops"]) {
      perform(doc, op);
      if (HasFatalFailure()) return;
    }
    CommitOptions commit;
    commit.time = 0;
    doc.commit(commit);
    ASSERT_EQ(to_hex(doc.get_last_local_change().value()), s["change"].get<std::string>()) << "ops " << s["ops"];
    const json ours = test::normalise(json::parse(patches_to_json(doc.diff_incremental())));
    EXPECT_EQ(ours, test::normalise(s["patches"])) << "ops " << s["ops"];
    ++local;
    patches += s["patches"].size();
  }
  EXPECT_GE(local, 50u);
  EXPECT_GE(patches, 100u);
  EXPECT_EQ(doc.heads().size(), v["heads"].size());
}

INSTANTIATE_TEST_SUITE_P(Seeds, LocalPatchLogVectors,
                         ::testing::Values("patch_callback_local", "patch_callback_local_2", "patch_callback_local_3"));

// After a received change, the patches come from the states again (the log of local edits no
// longer tells everything), and local edits after the next cursor are logged again.
TEST(LocalPatchLog, AReceivedChangeMakesThePatchesComeFromStates) {
  DocumentOptions a_opts;
  a_opts.actor = ActorId::from_hex(std::string(32, 'a'));
  Document a(a_opts);
  ASSERT_TRUE(a.put(ObjId::root(), "k", std::int64_t{1}));
  a.commit();
  Document b = a.fork(ActorId::from_hex(std::string(32, 'b')));
  ASSERT_TRUE(b.put(ObjId::root(), "k", std::int64_t{2}));
  b.commit();
  a.update_diff_cursor();
  // Two puts to one key in one local change are two patches (the reference's local log)...
  ASSERT_TRUE(a.put(ObjId::root(), "k", std::int64_t{3}));
  ASSERT_TRUE(a.put(ObjId::root(), "k", std::int64_t{4}));
  a.commit();
  EXPECT_EQ(json::parse(patches_to_json(a.diff_incremental())),
            json::parse(R"([{"action":"put","path":["k"],"value":3},{"action":"put","path":["k"],"value":4}])"));
  // ...but mixed with a received change, the change of state is reported.
  ASSERT_TRUE(a.put(ObjId::root(), "j", std::int64_t{5}));
  ASSERT_TRUE(a.put(ObjId::root(), "j", std::int64_t{6}));
  ASSERT_TRUE(a.merge(b));
  const json mixed = json::parse(patches_to_json(a.diff_incremental()));
  auto full = a.diff({}, a.heads());
  ASSERT_TRUE(full);
  for (const json& p : mixed) {
    if (p.contains("value")) {
      EXPECT_NE(p["value"], 5) << "a superseded local put was reported: " << mixed;
    }
  }
  EXPECT_FALSE(mixed.empty());
  ASSERT_TRUE(a.put(ObjId::root(), "j", std::int64_t{7}));
  ASSERT_TRUE(a.put(ObjId::root(), "j", std::int64_t{8}));
  EXPECT_EQ(json::parse(patches_to_json(a.diff_incremental())),
            json::parse(R"([{"action":"put","path":["j"],"value":7},{"action":"put","path":["j"],"value":8}])"));
}

// A put of the value a key already has writes nothing; with concurrent values it writes only the
// delete of the others, and reports nothing (the reference's resolve_action).
TEST(LocalPatchLog, APutOfTheSameValueWritesNothingOrResolvesTheConflict) {
  DocumentOptions a_opts;
  a_opts.actor = ActorId::from_hex(std::string(32, 'a'));
  Document a(a_opts);
  ASSERT_TRUE(a.put(ObjId::root(), "k", std::int64_t{1}));
  a.commit();
  ASSERT_TRUE(a.put(ObjId::root(), "k", std::int64_t{1}));
  EXPECT_EQ(a.pending_ops(), 0u);
  Document b = a.fork(ActorId::from_hex(std::string(32, 'b')));
  ASSERT_TRUE(b.put(ObjId::root(), "k", std::int64_t{2}));
  b.commit();
  ASSERT_TRUE(a.put(ObjId::root(), "k", std::int64_t{0}));
  a.commit();
  ASSERT_TRUE(a.merge(b));
  ASSERT_EQ(a.get_all(ObjId::root(), "k")->size(), 2u);
  const auto winner = *a.get(ObjId::root(), "k");
  a.update_diff_cursor();
  ASSERT_TRUE(a.put(ObjId::root(), "k", std::get<ScalarValue>(*winner)));
  EXPECT_EQ(a.pending_ops(), 1u);
  a.commit();
  EXPECT_EQ(a.get_all(ObjId::root(), "k")->size(), 1u);
  EXPECT_EQ(*a.get(ObjId::root(), "k"), winner);
  EXPECT_EQ(patches_to_json(a.diff_incremental()), "[]");
}

}  // namespace
}  // namespace am
