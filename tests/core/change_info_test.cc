// Reading history (am/change.h, Document::history/inspect_change) against the reference's
// decodeChange output recorded in every golden vector.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>

#include <nlohmann/json.hpp>

#include "am/change.h"
#include "am/document.h"
#include "support/hex.h"
#include "support/vectors.h"

namespace am {
namespace {

using nlohmann::json;

// An op value in the vectors' tagged form ({"datatype": T, "value": V}; see gen-vectors.mjs).
json tagged(const ScalarValue& v) {
  struct Visit {
    json operator()(Null) const { return {{"datatype", "null"}, {"value", nullptr}}; }
    json operator()(bool b) const { return {{"datatype", "boolean"}, {"value", b}}; }
    json operator()(std::int64_t i) const { return {{"datatype", "int"}, {"value", i}}; }
    json operator()(std::uint64_t u) const { return {{"datatype", "uint"}, {"value", u}}; }
    json operator()(double d) const {
      if (std::isnan(d)) return {{"datatype", "float64"}, {"value", "NaN"}};
      if (std::isinf(d)) return {{"datatype", "float64"}, {"value", d > 0 ? "Infinity" : "-Infinity"}};
      if (d == 0 && std::signbit(d)) return {{"datatype", "float64"}, {"value", "-0"}};
      return {{"datatype", "float64"}, {"value", d}};
    }
    json operator()(const std::string& s) const { return {{"datatype", "str"}, {"value", s}}; }
    json operator()(const Bytes& b) const { return {{"datatype", "bytes"}, {"value", to_hex(b)}}; }
    json operator()(Counter c) const { return {{"datatype", "counter"}, {"value", c.value}}; }
    json operator()(Timestamp t) const { return {{"datatype", "timestamp"}, {"value", t.millis}}; }
    json operator()(const UnknownValue& u) const {
      return {{"datatype", "unknown" + std::to_string(u.type_code)}, {"value", to_hex(u.bytes)}};
    }
  };
  return std::visit(Visit{}, v);
}

json op_json(const ChangeOpInfo& op) {
  json j = {{"action", action_name(op.action)}, {"obj", op.obj}, {"pred", op.pred}};
  if (op.key) j["key"] = *op.key;
  if (op.elem_id) j["elemId"] = *op.elem_id;
  if (op.insert) j["insert"] = true;
  if (op.mark_name) j["name"] = *op.mark_name;
  if (op.action == ChangeOpInfo::Action::kMarkBegin || op.action == ChangeOpInfo::Action::kMarkEnd) {
    j["expand"] = op.expand;
  }
  if (op.value) j["value"] = tagged(*op.value);
  return j;
}

json change_json(const ChangeInfo& c, bool with_ops) {
  json deps = json::array();
  for (const auto& d : c.deps) deps.push_back(d.to_hex());
  json j = {{"actor", c.actor}, {"hash", c.hash.to_hex()}, {"seq", c.seq}, {"startOp", c.start_op},
            {"time", c.time}, {"message", c.message ? json(*c.message) : json(nullptr)}, {"deps", deps}};
  if (with_ops) {
    json ops = json::array();
    for (const auto& op : c.ops) ops.push_back(op_json(op));
    j["ops"] = ops;
  }
  if (!c.extra_bytes.empty()) {
    j["extra_bytes"] = to_hex(c.extra_bytes);
    if (c.author) j["author"] = to_hex(*c.author);
  }
  return j;
}

// The vector's decodeChange output without the ops (for the metadata-only history).
json without_ops(json decoded) {
  decoded.erase("ops");
  return decoded;
}

TEST(ChangeInfoVectors, HistoryIsTheReferencesGetAllChangesDecoded) {
  std::size_t checked = 0;
  for (const std::string& name : test::vector_names()) {
    SCOPED_TRACE(name);
    const json v = test::load_vector(name);
    ASSERT_TRUE(v.is_object());
    auto doc = Document::load(test::hex(v["save_hex"].get<std::string>()));
    ASSERT_TRUE(doc) << doc.error().to_string();
    const std::vector<ChangeInfo> full = doc->history(true);
    const std::vector<ChangeInfo> meta = doc->history(false);
    const json& changes = v["changes"];
    ASSERT_EQ(full.size(), changes.size());
    ASSERT_EQ(meta.size(), changes.size());
    for (std::size_t i = 0; i < full.size(); ++i) {
      SCOPED_TRACE(i);
      const json& expected = changes[i];
      EXPECT_EQ(full[i].hash.to_hex(), expected["hash"].get<std::string>());
      EXPECT_EQ(meta[i].op_count, full[i].ops.size());
      EXPECT_EQ(full[i].op_count, full[i].ops.size());
      const json& decoded = expected["decoded"];
      if (decoded.is_null()) continue;  // the reference itself could not decode it (ints past 2^53)
      EXPECT_EQ(test::normalise(change_json(full[i], true)), test::normalise(decoded));
      EXPECT_EQ(change_json(meta[i], false), without_ops(decoded));
      ++checked;
    }
  }
  EXPECT_GT(checked, 100u);  // the vectors hold a few hundred changes
}

TEST(ChangeInfo, InspectChangeFindsAppliedChangesOnly) {
  Document d(DocumentOptions{ActorId::from_hex("aabb"), TextUnit::kUtf16, kDefaultMaxInflatedBytes});
  ASSERT_TRUE(d.put(ObjId::root(), "x", std::int64_t{1}));
  const ChangeHash first = d.commit(CommitOptions{"first", 7});
  ASSERT_TRUE(d.put(ObjId::root(), "x", std::int64_t{2}));
  const ChangeHash second = d.commit();
  const auto info = d.inspect_change(second);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->seq, 2u);
  EXPECT_EQ(info->actor, "aabb");
  EXPECT_EQ(info->deps, std::vector<ChangeHash>{first});
  ASSERT_EQ(info->ops.size(), 1u);
  EXPECT_EQ(info->ops[0].pred, std::vector<std::string>{"1@aabb"});
  const auto head = d.history(false);
  ASSERT_EQ(head.size(), 2u);
  EXPECT_EQ(head[0].message, std::optional<std::string>("first"));
  EXPECT_EQ(head[0].time, 7);
  ChangeHash unknown;
  unknown.bytes.fill(0x5a);
  EXPECT_FALSE(d.inspect_change(unknown));
}

std::int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::int64_t time_of_last_change(const Document& d) { return d.history(false).back().time; }

TEST(CommitTime, DefaultsToNowAsTheReferenceDoes) {
  Document d;
  const std::int64_t before = unix_seconds();
  ASSERT_TRUE(d.put(ObjId::root(), "x", std::int64_t{1}));
  d.commit();
  const std::int64_t after = unix_seconds();
  EXPECT_GE(time_of_last_change(d), before);
  EXPECT_LE(time_of_last_change(d), after);
  ASSERT_TRUE(d.put(ObjId::root(), "x", std::int64_t{2}));
  d.commit(CommitOptions{std::nullopt, 0});  // an explicit time, 0 included, wins
  EXPECT_EQ(time_of_last_change(d), 0);
}

TEST(CommitTime, AFixedClockMakesReproducibleChangesAndIsKeptByCopies) {
  auto make = [](std::int64_t t) {
    DocumentOptions o;
    o.actor = ActorId::from_hex("cafe");
    o.commit_clock = [t] { return t; };
    Document d(o);
    EXPECT_TRUE(d.put(ObjId::root(), "x", std::int64_t{1}));
    d.commit();
    return d;
  };
  Document a = make(1234);
  EXPECT_EQ(time_of_last_change(a), 1234);
  EXPECT_EQ(a.heads(), make(1234).heads());  // same clock, same bytes, same hash
  EXPECT_NE(a.heads(), make(1235).heads());  // the time is part of the change

  Document f = a.fork(ActorId::from_hex("beef"));
  ASSERT_TRUE(f.put(ObjId::root(), "y", std::int64_t{2}));
  f.commit();
  EXPECT_EQ(time_of_last_change(f), 1234);

  LoadOptions lo;
  lo.commit_clock = [] { return std::int64_t{99}; };
  auto loaded = Document::load(a.save(), lo);
  ASSERT_TRUE(loaded);
  ASSERT_TRUE(loaded->put(ObjId::root(), "z", std::int64_t{3}));
  loaded->commit();
  EXPECT_EQ(time_of_last_change(*loaded), 99);

  loaded->set_commit_clock({});  // back to the system clock
  const std::int64_t before = unix_seconds();
  ASSERT_TRUE(loaded->put(ObjId::root(), "z", std::int64_t{4}));
  loaded->commit();
  EXPECT_GE(time_of_last_change(*loaded), before);
}

TEST(ChangeInfo, GarbageIsACorruptionErrorNotACrash) {
  const Bytes garbage = {0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 1, 5, 1, 2};
  const auto r = decode_change(garbage);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kCorruption);
}

}  // namespace
}  // namespace am
