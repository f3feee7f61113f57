#include "core/storage/change.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/encoding/column_spec.h"
#include "core/encoding/leb128.h"
#include "core/encoding/rle.h"
#include "core/storage/chunk.h"
#include "core/util/deflate.h"
#include "support/hex.h"
#include "support/vectors.h"

namespace am::storage {
namespace {

using nlohmann::json;
using test::hex;

// ---- converting decoded changes to the vectors' JSON form -------------------------------------

std::string opid_json(const Change& c, const ChangeOpId& id) {
  return std::to_string(id.counter) + "@" + to_hex(c.actors.at(id.actor));
}

const char* action_name(const ChangeOp& op) {
  switch (op.action) {
    case Action::kMakeMap: return "makeMap";
    case Action::kSet: return "set";
    case Action::kMakeList: return "makeList";
    case Action::kDelete: return "del";
    case Action::kMakeText: return "makeText";
    case Action::kIncrement: return "inc";
    case Action::kMakeTable: return "makeTable";
    case Action::kMark: return op.mark_name ? "markBegin" : "markEnd";
  }
  return "?";
}

// Integers beyond 2^53-1 are decimal strings in the vectors.
template <class T>
json int_json(T v) {
  constexpr std::int64_t kMaxSafe = (std::int64_t{1} << 53) - 1;
  if constexpr (std::is_signed_v<T>) {
    if (v > kMaxSafe || v < -kMaxSafe) return std::to_string(v);
  } else {
    if (v > static_cast<std::uint64_t>(kMaxSafe)) return std::to_string(v);
  }
  return v;
}

json value_json(const ScalarValue& v) {
  struct Visitor {
    json operator()(Null) const { return {{"datatype", "null"}, {"value", nullptr}}; }
    json operator()(bool b) const { return {{"datatype", "boolean"}, {"value", b}}; }
    json operator()(std::int64_t i) const { return {{"datatype", "int"}, {"value", int_json(i)}}; }
    json operator()(std::uint64_t u) const { return {{"datatype", "uint"}, {"value", int_json(u)}}; }
    json operator()(double d) const {
      json value;
      if (std::isnan(d)) {
        value = "NaN";
      } else if (std::isinf(d)) {
        value = d > 0 ? "Infinity" : "-Infinity";
      } else if (d == 0 && std::signbit(d)) {
        value = "-0";
      } else {
        value = d;
      }
      return {{"datatype", "float64"}, {"value", value}};
    }
    json operator()(const std::string& s) const { return {{"datatype", "str"}, {"value", s}}; }
    json operator()(const Bytes& b) const { return {{"datatype", "bytes"}, {"value", to_hex(b)}}; }
    json operator()(Counter c) const {
      return {{"datatype", "counter"}, {"value", int_json(c.value)}};
    }
    json operator()(Timestamp t) const {
      return {{"datatype", "timestamp"}, {"value", int_json(t.millis)}};
    }
    json operator()(const UnknownValue& u) const {
      return {{"datatype", "unknown" + std::to_string(u.type_code)}, {"value", to_hex(u.bytes)}};
    }
  };
  return std::visit(Visitor{}, v);
}

json op_json(const Change& c, const ChangeOp& op) {
  json j = json::object();
  j["action"] = action_name(op);
  j["obj"] = op.obj ? opid_json(c, *op.obj) : "_root";
  if (const auto* s = std::get_if<std::string>(&op.key)) {
    j["key"] = *s;
  } else {
    const ElemKey& e = std::get<ElemKey>(op.key);
    j["elemId"] = e.is_head() ? "_head" : opid_json(c, e.elem);
  }
  if (op.insert) j["insert"] = true;
  const bool has_value = op.action == Action::kSet || op.action == Action::kIncrement ||
                         (op.action == Action::kMark && op.mark_name);
  if (has_value) j["value"] = value_json(op.value);
  if (op.action == Action::kMark) {
    if (op.mark_name) j["name"] = *op.mark_name;
    j["expand"] = op.expand;
  }
  json pred = json::array();
  for (const ChangeOpId& p : op.pred) pred.push_back(opid_json(c, p));
  j["pred"] = pred;
  return j;
}

json deps_json(const Change& c) {
  json deps = json::array();
  for (const ChangeHash& h : c.deps) deps.push_back(h.to_hex());
  return deps;
}

// An op with actor indexes replaced by actor bytes, for comparing across actor tables.
struct ResolvedId {
  std::uint64_t counter;
  Bytes actor;
  friend auto operator<=>(const ResolvedId&, const ResolvedId&) = default;
};
struct ResolvedOp {
  std::optional<ResolvedId> obj;
  std::optional<std::string> map_key;
  std::optional<ResolvedId> elem;  // counter 0 with an empty actor for HEAD
  bool insert;
  Action action;
  ScalarValue value;
  std::vector<ResolvedId> pred;  // sorted
  bool expand;
  std::optional<std::string> mark_name;
  friend bool operator==(const ResolvedOp&, const ResolvedOp&) = default;
};

std::vector<ResolvedOp> resolve(const Change& c) {
  std::vector<ResolvedOp> out;
  auto id = [&](const ChangeOpId& i) { return ResolvedId{i.counter, c.actors.at(i.actor)}; };
  for (const ChangeOp& op : c.ops) {
    ResolvedOp r{};
    if (op.obj) r.obj = id(*op.obj);
    if (const auto* s = std::get_if<std::string>(&op.key)) {
      r.map_key = *s;
    } else {
      const ElemKey& e = std::get<ElemKey>(op.key);
      r.elem = e.is_head() ? ResolvedId{0, {}} : id(e.elem);
    }
    r.insert = op.insert;
    r.action = op.action;
    r.value = op.value;
    for (const ChangeOpId& p : op.pred) r.pred.push_back(id(p));
    std::sort(r.pred.begin(), r.pred.end());
    r.expand = op.expand;
    r.mark_name = op.mark_name;
    out.push_back(std::move(r));
  }
  return out;
}

// NaN != NaN, so changes holding NaN values compare unequal to themselves; this replaces each
// NaN by an unknown-typed value holding its bit pattern.
Change nan_as_bits(Change c) {
  for (ChangeOp& op : c.ops) {
    if (const double* d = std::get_if<double>(&op.value); d && std::isnan(*d)) {
      const auto bits = std::bit_cast<std::uint64_t>(*d);
      Bytes b;
      for (int i = 0; i < 8; ++i) b.push_back(static_cast<std::uint8_t>(bits >> (8 * i)));
      op.value = UnknownValue{15, b};
    }
  }
  return c;
}

// The same header and the same ops once actor indexes are resolved to actor bytes.
bool same_meaning(const Change& a, const Change& b) {
  return a.actors.at(0) == b.actors.at(0) && a.deps == b.deps && a.seq == b.seq &&
         a.start_op == b.start_op && a.time == b.time && a.message == b.message &&
         a.extra_bytes == b.extra_bytes && resolve(a) == resolve(b);
}

// ---- golden vectors ------------------------------------------------------------------------------

Bytes from_hex_or_die(const std::string& s) {
  Bytes b;
  if (!from_hex(s, b)) std::abort();
  return b;
}

struct VectorChange {
  std::string vector;
  std::size_t index = 0;
  json change;
};

std::vector<VectorChange> all_vector_changes() {
  std::vector<VectorChange> out;
  for (const std::string& name : test::vector_names()) {
    const json v = test::load_vector(name);
    if (!v.contains("changes")) continue;
    for (std::size_t i = 0; i < v["changes"].size(); ++i) out.push_back({name, i, v["changes"][i]});
  }
  return out;
}

TEST(ChangeVectors, VectorsArePresent) {
  const auto names = test::vector_names();
  ASSERT_FALSE(names.empty());
  EXPECT_GT(all_vector_changes().size(), 100u);
}

TEST(ChangeVectors, EveryChangeDecodesAndReencodesByteIdentically) {
  const auto changes = all_vector_changes();
  ASSERT_FALSE(changes.empty());
  std::size_t with_ops_checked = 0;
  for (const VectorChange& vc : changes) {
    SCOPED_TRACE(vc.vector + " change " + std::to_string(vc.index));
    const json& j = vc.change;
    const Bytes bytes = from_hex_or_die(j["hex"].get<std::string>());
    const auto decoded = decode_change_chunk(bytes);
    ASSERT_TRUE(decoded) << decoded.error().to_string();
    EXPECT_EQ(decoded->hash.to_hex(), j["hash"].get<std::string>());
    EXPECT_EQ(decoded->chunk, bytes);

    const StoredChange encoded = encode_change(decoded->change);
    EXPECT_EQ(to_hex(encoded.chunk), to_hex(bytes));
    EXPECT_EQ(encoded.hash, decoded->hash);
    EXPECT_EQ(nan_as_bits(encoded.change), nan_as_bits(decoded->change))
        << "the reference's change is not canonical";

    const Change& c = decoded->change;
    const json& meta = j["meta"];
    EXPECT_EQ(to_hex(c.actors.at(0)), meta["actor"].get<std::string>());
    EXPECT_EQ(c.seq, meta["seq"].get<std::uint64_t>());
    EXPECT_EQ(c.start_op, meta["startOp"].get<std::uint64_t>());
    EXPECT_EQ(c.max_op(), meta["maxOp"].get<std::uint64_t>());
    EXPECT_EQ(c.time, meta["time"].get<std::int64_t>());
    // getChangesMetaSince reports an empty message as "", decodeChange as null.
    const std::string meta_message = meta["message"].is_null() ? "" : meta["message"].get<std::string>();
    EXPECT_EQ(c.message.value_or(""), meta_message);
    EXPECT_TRUE(!c.message || !c.message->empty());
    EXPECT_EQ(deps_json(c), meta["deps"]);
    EXPECT_EQ(to_hex(c.extra_bytes), meta.value("extraBytes", std::string()));

    const json& d = j["decoded"];
    if (d.is_null()) {
      EXPECT_TRUE(j.contains("decode_error"));
      continue;
    }
    EXPECT_EQ(to_hex(c.actors.at(0)), d["actor"].get<std::string>());
    EXPECT_EQ(c.seq, d["seq"].get<std::uint64_t>());
    EXPECT_EQ(c.start_op, d["startOp"].get<std::uint64_t>());
    EXPECT_EQ(c.time, d["time"].get<std::int64_t>());
    EXPECT_EQ(c.message ? json(*c.message) : json(nullptr), d["message"]);
    EXPECT_EQ(deps_json(c), d["deps"]);
    EXPECT_EQ(decoded->hash.to_hex(), d["hash"].get<std::string>());
    EXPECT_EQ(to_hex(c.extra_bytes), d.value("extra_bytes", std::string()));
    ASSERT_EQ(c.ops.size(), d["ops"].size());
    for (std::size_t i = 0; i < c.ops.size(); ++i) {
      EXPECT_EQ(op_json(c, c.ops[i]), d["ops"][i]) << "op " << i;
    }
    ++with_ops_checked;
  }
  EXPECT_GT(with_ops_checked, 100u);
}

// The reference never writes compressed changes, but they must be readable.
TEST(ChangeVectors, CompressedChangeChunkDecodesToTheSameChange) {
  const json v = test::load_vector("random_trace");
  ASSERT_TRUE(v.contains("changes"));
  for (const json& j : v["changes"]) {
    const Bytes bytes = from_hex_or_die(j["hex"].get<std::string>());
    enc::ByteReader r(bytes);
    const ChunkView plain = *read_chunk(r);
    const Bytes deflated = util::deflate_raw(plain.body);
    // Magic and checksum stay; the type becomes 2 and the body is deflated.
    Bytes compressed(bytes.begin(), bytes.begin() + 8);
    compressed.push_back(2);
    enc::put_uleb(compressed, deflated.size());
    compressed.insert(compressed.end(), deflated.begin(), deflated.end());
    const auto a = decode_change_chunk(compressed);
    ASSERT_TRUE(a) << a.error().to_string();
    EXPECT_EQ(a->chunk, bytes);
    EXPECT_EQ(a->hash.to_hex(), j["hash"].get<std::string>());
    EXPECT_EQ(a->change, decode_change_chunk(bytes)->change);
  }
}

// ---- malformed input -----------------------------------------------------------------------------

Bytes vector_chunk(const std::string& name, std::size_t index) {
  const json v = test::load_vector(name);
  if (!v.contains("changes") || v["changes"].size() <= index) return {};
  return from_hex_or_die(v["changes"][index]["hex"].get<std::string>());
}

ByteView body_of(const Bytes& chunk) {
  enc::ByteReader r(chunk);
  return read_chunk(r)->body;
}

TEST(ChangeMalformed, TruncatedAtEveryOffset) {
  for (const auto& [name, index] : std::vector<std::pair<std::string, std::size_t>>{
           {"single_put", 0}, {"all_scalars", 0}, {"marks_both", 1}, {"author_footer", 0},
           {"random_trace", 5}, {"map_conflict", 2}}) {
    SCOPED_TRACE(name);
    const Bytes chunk = vector_chunk(name, index);
    ASSERT_FALSE(chunk.empty());
    for (std::size_t n = 0; n < chunk.size(); ++n) {
      EXPECT_FALSE(decode_change_chunk(ByteView(chunk).first(n))) << "chunk length " << n;
    }
    const ByteView body = body_of(chunk);
    const std::size_t extra = decode_change_body(body)->change.extra_bytes.size();
    for (std::size_t n = 0; n < body.size(); ++n) {
      const auto d = decode_change_body(body.first(n));
      // Cutting into the extra bytes leaves a valid change; cutting anything else cannot.
      EXPECT_EQ(d.has_value(), n >= body.size() - extra) << "body length " << n;
      if (!d) {
        EXPECT_EQ(d.error().code, ErrorCode::kCorruption) << d.error().to_string();
      }
    }
  }
}

TEST(ChangeMalformed, EverySingleByteChangeIsAnErrorOrReencodesIdentically) {
  for (const auto& [name, index] : std::vector<std::pair<std::string, std::size_t>>{
           {"single_put", 0}, {"marks_both", 1}, {"list_conflict", 1}}) {
    SCOPED_TRACE(name);
    const Bytes chunk = vector_chunk(name, index);
    ASSERT_FALSE(chunk.empty());
    const ByteView original = body_of(chunk);
    std::size_t identical = 0;
    std::size_t non_canonical = 0;
    for (std::size_t pos = 0; pos < original.size(); ++pos) {
      for (int value = 0; value < 256; ++value) {
        if (value == original[pos]) continue;
        Bytes body(original.begin(), original.end());
        body[pos] = static_cast<std::uint8_t>(value);
        const auto d = decode_change_body(body);
        if (!d) {
          EXPECT_EQ(d.error().code, ErrorCode::kCorruption);
          continue;
        }
        // Accepted: either the bytes are canonical and re-encode identically, or they are a
        // non-canonical spelling of a change (e.g. an RLE repeat run of one) whose canonical
        // encoding means the same thing and is stable.
        const StoredChange e = encode_change(d->change);
        if (e.chunk == d->chunk) {
          ++identical;
          EXPECT_EQ(nan_as_bits(e.change), nan_as_bits(d->change));
          continue;
        }
        ++non_canonical;
        EXPECT_TRUE(same_meaning(nan_as_bits(e.change), nan_as_bits(d->change)))
            << "byte " << pos << " = " << value;
        const auto again = decode_change_chunk(e.chunk);
        ASSERT_TRUE(again) << again.error().to_string();
        EXPECT_EQ(nan_as_bits(again->change), nan_as_bits(e.change));
        EXPECT_EQ(encode_change(again->change).chunk, e.chunk);
      }
    }
    EXPECT_GT(identical, 0u);
    std::printf("%s: %zu single-byte changes re-encode identically, %zu are non-canonical\n",
                name.c_str(), identical, non_canonical);
  }
}

// A change body with the given raw columns, in the given order, under a fixed header.
struct BodySpec {
  std::uint64_t start_op = 1;
  std::vector<Bytes> others;
  std::vector<std::pair<std::uint32_t, Bytes>> columns;
  Bytes extra;
};

Bytes make_body(const BodySpec& s) {
  Bytes b = hex("00 02 aaaa 01");
  enc::put_uleb(b, s.start_op);
  b.push_back(0);  // time
  b.push_back(0);  // message
  enc::put_uleb(b, s.others.size());
  for (const Bytes& a : s.others) {
    enc::put_uleb(b, a.size());
    b.insert(b.end(), a.begin(), a.end());
  }
  enc::put_uleb(b, s.columns.size());
  for (const auto& [spec, data] : s.columns) {
    enc::put_uleb(b, spec);
    enc::put_uleb(b, data.size());
  }
  for (const auto& col : s.columns) b.insert(b.end(), col.second.begin(), col.second.end());
  b.insert(b.end(), s.extra.begin(), s.extra.end());
  return b;
}

// `root.x = 1`, column by column.
std::vector<std::pair<std::uint32_t, Bytes>> single_put_columns() {
  return {{0x15, hex("7f 01 78")}, {0x34, hex("01")},  {0x42, hex("7f 01")},
          {0x56, hex("7f 14")},    {0x57, hex("01")},  {0x70, hex("7f 00")}};
}

void set_column(std::vector<std::pair<std::uint32_t, Bytes>>& cols, std::uint32_t spec,
                Bytes data) {
  for (auto& c : cols) {
    if (c.first == spec) {
      c.second = std::move(data);
      return;
    }
  }
  cols.emplace_back(spec, std::move(data));
  std::sort(cols.begin(), cols.end(),
            [](const auto& a, const auto& b) { return (a.first & ~8u) < (b.first & ~8u); });
}

Error decode_error(const BodySpec& s, const ChangeDecodeLimits& limits = {}) {
  const auto d = decode_change_body(make_body(s), limits);
  if (d) return Error::internal("test", "decoded unexpectedly");
  return d.error();
}

void expect_corruption(const BodySpec& s, std::string_view fragment) {
  const Error e = decode_error(s);
  EXPECT_EQ(e.code, ErrorCode::kCorruption) << e.to_string();
  EXPECT_NE(e.message.find(fragment), std::string::npos) << e.to_string();
}

TEST(ChangeMalformed, HandBuiltBaseDecodes) {
  BodySpec s;
  s.columns = single_put_columns();
  const Bytes body = make_body(s);
  const auto d = decode_change_body(body);
  ASSERT_TRUE(d) << d.error().to_string();
  EXPECT_EQ(encode_change(d->change).chunk, d->chunk);
  ASSERT_EQ(d->change.ops.size(), 1u);
  EXPECT_EQ(d->change.ops[0].key, OpKey(std::string("x")));
  EXPECT_EQ(d->change.ops[0].value, ScalarValue(std::int64_t{1}));
}

TEST(ChangeMalformed, ActionEightIsRejected) {
  BodySpec s;
  s.columns = single_put_columns();
  set_column(s.columns, 0x42, hex("7f 08"));
  expect_corruption(s, "unknown action 8");
  set_column(s.columns, 0x42, hex("00 01"));  // a null action
  expect_corruption(s, "null action");
}

TEST(ChangeMalformed, StartOpZeroOrPastU32IsRejected) {
  BodySpec s;
  s.columns = single_put_columns();
  s.start_op = 0;
  expect_corruption(s, "start_op is 0");
  s.start_op = std::uint64_t{1} << 32;
  expect_corruption(s, "start_op does not fit 32 bits");
  s.start_op = 0xffffffff;  // the single op takes the last counter: fine
  EXPECT_TRUE(decode_change_body(make_body(s)));
  set_column(s.columns, 0x15, hex("02 01 78"));  // two ops: the second would be 2^32
  set_column(s.columns, 0x34, hex("02"));
  set_column(s.columns, 0x42, hex("02 01"));
  set_column(s.columns, 0x56, hex("02 14"));
  set_column(s.columns, 0x57, hex("01 01"));
  set_column(s.columns, 0x70, hex("02 00"));
  expect_corruption(s, "op counters run past");
  s.start_op = 7;
  EXPECT_TRUE(decode_change_body(make_body(s)));
}

TEST(ChangeMalformed, ActorIndexOutOfRangeIsRejected) {
  BodySpec s;
  s.columns = single_put_columns();
  set_column(s.columns, 0x70, hex("7f 01"));
  set_column(s.columns, 0x71, hex("7f 01"));  // actor 1, but only the author exists
  set_column(s.columns, 0x73, hex("7f 01"));
  expect_corruption(s, "pred actor index 1 out of range");
  s.others.push_back(hex("bbbb"));
  EXPECT_TRUE(decode_change_body(make_body(s)));

  BodySpec o;  // obj actor
  o.columns = single_put_columns();
  set_column(o.columns, 0x01, hex("7f 03"));
  set_column(o.columns, 0x02, hex("7f 05"));
  expect_corruption(o, "obj actor index 3 out of range");

  BodySpec k;  // key actor
  k.columns = single_put_columns();
  k.columns.erase(k.columns.begin());  // no key string column
  set_column(k.columns, 0x11, hex("7f 02"));
  set_column(k.columns, 0x13, hex("7f 04"));
  expect_corruption(k, "key actor index 2 out of range");
}

TEST(ChangeMalformed, BadKeysAndObjectsAreRejected) {
  BodySpec s;
  s.columns = single_put_columns();
  set_column(s.columns, 0x13, hex("7f 00"));  // HEAD and a string
  expect_corruption(s, "both a string and an element id");

  BodySpec none;
  none.columns = single_put_columns();
  none.columns.erase(none.columns.begin());
  expect_corruption(none, "no key");

  BodySpec head_actor = none;
  set_column(head_actor.columns, 0x11, hex("7f 00"));
  set_column(head_actor.columns, 0x13, hex("7f 00"));
  expect_corruption(head_actor, "HEAD key with an actor");

  BodySpec neg = none;
  set_column(neg.columns, 0x11, hex("7f 00"));
  set_column(neg.columns, 0x13, hex("7f 7f"));  // -1
  expect_corruption(neg, "key counter -1 out of range");

  BodySpec big = none;
  set_column(big.columns, 0x11, hex("7f 00"));
  set_column(big.columns, 0x13, hex("7f 80 80 80 80 10"));  // 2^32
  expect_corruption(big, "key counter 4294967296 out of range");

  BodySpec half_obj;
  half_obj.columns = single_put_columns();
  set_column(half_obj.columns, 0x02, hex("7f 05"));
  expect_corruption(half_obj, "only one of actor and counter");

  BodySpec obj_zero;
  obj_zero.columns = single_put_columns();
  set_column(obj_zero.columns, 0x01, hex("7f 00"));
  set_column(obj_zero.columns, 0x02, hex("7f 00"));
  expect_corruption(obj_zero, "obj counter 0 out of range");

  BodySpec pred_zero;
  pred_zero.columns = single_put_columns();
  set_column(pred_zero.columns, 0x70, hex("7f 01"));
  set_column(pred_zero.columns, 0x71, hex("7f 00"));
  set_column(pred_zero.columns, 0x73, hex("7f 00"));
  expect_corruption(pred_zero, "pred counter 0 out of range");
}

TEST(ChangeMalformed, DeflatedColumnIsRejected) {
  BodySpec s;
  s.columns = single_put_columns();
  const Bytes deflated = util::deflate_raw(hex("7f 01 78"));
  s.columns[0] = {0x15 | 0x08, deflated};
  expect_corruption(s, "deflated column");
}

TEST(ChangeMalformed, UnsortedOrDuplicateColumnsAreRejected) {
  BodySpec s;
  s.columns = single_put_columns();
  std::swap(s.columns[1], s.columns[2]);  // action before insert
  expect_corruption(s, "ascending");
  BodySpec d;
  d.columns = single_put_columns();
  d.columns.insert(d.columns.begin() + 1, d.columns[1]);
  expect_corruption(d, "ascending");
}

TEST(ChangeMalformed, HugeRowCountsFailFastWithoutAllocating) {
  BodySpec s;
  // Every column claims 2^40 identical rows in a few bytes.
  s.columns = {{0x15, hex("80 80 80 80 80 20 01 78")}, {0x34, hex("80 80 80 80 80 20")},
               {0x42, hex("80 80 80 80 80 20 01")},     {0x56, hex("80 80 80 80 80 20 00")},
               {0x70, hex("80 80 80 80 80 20 00")}};
  const Error e = decode_error(s);
  EXPECT_EQ(e.code, ErrorCode::kResourceLimit) << e.to_string();
  // A literal run claiming 2^62 items, and a null run claiming 2^63.
  set_column(s.columns, 0x42, hex("80 80 80 80 80 80 80 80 40 01"));
  EXPECT_EQ(decode_error(s).code, ErrorCode::kResourceLimit);
  set_column(s.columns, 0x42, hex("00 80 80 80 80 80 80 80 80 80 01"));
  EXPECT_EQ(decode_error(s).code, ErrorCode::kResourceLimit);

  // A caller's limit applies exactly.
  BodySpec ten;
  ten.columns = {{0x15, hex("0a 01 78")}, {0x34, hex("0a")},    {0x42, hex("0a 01")},
                 {0x56, hex("0a 00")},    {0x70, hex("0a 00")}};
  EXPECT_TRUE(decode_change_body(make_body(ten), {.max_ops = 10}));
  EXPECT_EQ(decode_error(ten, {.max_ops = 9}).code, ErrorCode::kResourceLimit);

  // Pred entries claimed in bulk.
  BodySpec preds;
  preds.columns = single_put_columns();
  set_column(preds.columns, 0x70, hex("7f 80 80 80 80 80 20"));
  set_column(preds.columns, 0x71, hex("80 80 80 80 80 20 00"));
  set_column(preds.columns, 0x73, hex("80 80 80 80 80 20 01"));
  EXPECT_EQ(decode_error(preds).code, ErrorCode::kResourceLimit);
}

TEST(ChangeMalformed, MismatchedColumnLengthsAreRejected) {
  BodySpec s;
  s.columns = single_put_columns();
  set_column(s.columns, 0x34, hex("02"));  // two insert flags for one op
  expect_corruption(s, "more items");
  set_column(s.columns, 0x34, hex("01"));
  set_column(s.columns, 0x15, hex("02 01 78"));  // two keys
  expect_corruption(s, "more items");
  set_column(s.columns, 0x15, hex("7f 01 78"));
  set_column(s.columns, 0x42, hex("02 01"));  // two actions, one of everything else
  expect_corruption(s, "column ends at op 1");
  set_column(s.columns, 0x42, hex("7f 01"));
  set_column(s.columns, 0x57, hex("01 02"));  // a raw byte no metadata claims
  expect_corruption(s, "not claimed");
  set_column(s.columns, 0x57, hex("01"));
  set_column(s.columns, 0x56, hex("7f 24"));  // claims 2 raw bytes, there is 1
  expect_corruption(s, "past the raw value column");

  BodySpec no_insert;
  no_insert.columns = single_put_columns();
  no_insert.columns.erase(no_insert.columns.begin() + 1);
  expect_corruption(no_insert, "insert column");
}

TEST(ChangeMalformed, PredGroupsMustMatchThePredColumns) {
  BodySpec s;
  s.columns = single_put_columns();
  set_column(s.columns, 0x70, hex("7f 02"));
  set_column(s.columns, 0x71, hex("7f 00"));
  set_column(s.columns, 0x73, hex("7f 01"));
  expect_corruption(s, "pred count 2 overruns");
  set_column(s.columns, 0x70, hex("7f 00"));
  expect_corruption(s, "more pred ids");
  set_column(s.columns, 0x70, hex("7f 01"));
  set_column(s.columns, 0x73, hex("02 01"));
  expect_corruption(s, "more items");
  set_column(s.columns, 0x73, hex("7f 01"));
  EXPECT_TRUE(decode_change_body(make_body(s)));
}

TEST(ChangeMalformed, ValueChecks) {
  BodySpec s;
  s.columns = single_put_columns();
  set_column(s.columns, 0x42, hex("7f 05"));  // increment by int 1: fine
  EXPECT_TRUE(decode_change_body(make_body(s)));
  set_column(s.columns, 0x56, hex("7f 16"));  // increment by a string
  expect_corruption(s, "not an int or uint");
  set_column(s.columns, 0x42, hex("7f 00"));  // makeMap carrying a value: accepted
  EXPECT_TRUE(decode_change_body(make_body(s)));
  set_column(s.columns, 0x57, hex("ff"));  // invalid UTF-8
  EXPECT_EQ(decode_error(s).code, ErrorCode::kCorruption);
  set_column(s.columns, 0x56, hex("7f 1c"));  // unknown type 12 is kept
  const auto d = decode_change_body(make_body(s));
  ASSERT_TRUE(d) << d.error().to_string();
  EXPECT_EQ(d->change.ops[0].value, ScalarValue(UnknownValue{12, hex("ff")}));
  EXPECT_EQ(encode_change(d->change).chunk, d->chunk);
}

TEST(ChangeMalformed, HeaderFields) {
  // A dependency count the data cannot hold.
  EXPECT_FALSE(decode_change_body(hex("ff ff ff ff 0f")));
  Bytes short_deps = hex("02");
  short_deps.resize(41);
  EXPECT_FALSE(decode_change_body(short_deps));
  // An actor count the data cannot hold.
  EXPECT_FALSE(decode_change_body(hex("00 02 aaaa 01 01 00 00 ff ff ff 7f")));
  // Invalid UTF-8 in the message.
  EXPECT_FALSE(decode_change_body(hex("00 02 aaaa 01 01 00 01 ff 00 00")));
  // The smallest change: no deps, no ops; an empty message reads as none.
  const auto d = decode_change_body(hex("00 02 aaaa 01 01 00 00 00 00"));
  ASSERT_TRUE(d) << d.error().to_string();
  EXPECT_FALSE(d->change.message);
  EXPECT_TRUE(d->change.ops.empty());
  EXPECT_EQ(d->change.max_op(), 0u);
  EXPECT_EQ(encode_change(d->change).chunk, d->chunk);
}

TEST(ChangeMalformed, TrailingBytesAreExtraBytesAndUnknownColumnsAreIgnored) {
  BodySpec s;
  s.columns = single_put_columns();
  s.extra = hex("01 04 0123abcd");
  auto d = decode_change_body(make_body(s));
  ASSERT_TRUE(d) << d.error().to_string();
  EXPECT_EQ(d->change.extra_bytes, s.extra);
  EXPECT_EQ(encode_change(d->change).chunk, d->chunk);

  set_column(s.columns, 0xb5, hex("7f 01 79"));  // an unknown string column (id 11)
  set_column(s.columns, 0x06, hex("ff ff"));      // an unknown (id 0, ValueMeta) column
  d = decode_change_body(make_body(s));
  ASSERT_TRUE(d) << d.error().to_string();
  EXPECT_EQ(d->chunk, write_chunk(ChunkType::kChange, make_body(s)));
  // Re-encoding drops what it does not know; the result is the plain change.
  BodySpec plain;
  plain.columns = single_put_columns();
  plain.extra = s.extra;
  EXPECT_EQ(encode_change(d->change).chunk, decode_change_body(make_body(plain))->chunk);
}

TEST(ChangeMalformed, ChunkLevelErrors) {
  const Bytes chunk = vector_chunk("single_put", 0);
  ASSERT_FALSE(chunk.empty());
  Bytes trailing = chunk;
  trailing.push_back(0);
  EXPECT_FALSE(decode_change_chunk(trailing));
  const Bytes doc = hex("85 6f 4a 83 b8 1a 95 44 00 04 00 00 00 00");
  const auto e = decode_change_chunk(doc);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("expected a change chunk"), std::string::npos);
}

// ---- encoding --------------------------------------------------------------------------------

TEST(ChangeEncode, CanonicalisesTheActorTable) {
  Change c;
  c.actors = {hex("cc"), hex("ff"), hex("bb"), hex("aa"), hex("cc"), hex("bb")};
  c.start_op = 10;
  ChangeOp op;
  op.obj = ChangeOpId{3, 1};                 // ff
  op.key = ElemKey{ChangeOpId{4, 5}};        // bb (duplicate entry)
  op.pred = {ChangeOpId{9, 4}, ChangeOpId{5, 2}, ChangeOpId{5, 0}};  // cc(author), bb, cc
  op.action = Action::kDelete;
  c.ops.push_back(op);
  ChangeOp head;
  head.key = ElemKey{ChangeOpId{0, 3}};  // HEAD: its actor is meaningless
  head.insert = true;
  c.ops.push_back(head);
  c.message = "";

  const StoredChange s = encode_change(c);
  EXPECT_EQ(s.change.actors, (std::vector<Bytes>{hex("cc"), hex("bb"), hex("ff")}));
  EXPECT_EQ(s.change.ops[0].obj, (ChangeOpId{3, 2}));
  EXPECT_EQ(s.change.ops[0].key, OpKey(ElemKey{ChangeOpId{4, 1}}));
  EXPECT_EQ(s.change.ops[0].pred,
            (std::vector<ChangeOpId>{ChangeOpId{5, 1}, ChangeOpId{5, 0}, ChangeOpId{9, 0}}));
  EXPECT_EQ(s.change.ops[1].key, OpKey(ElemKey{}));
  EXPECT_FALSE(s.change.message);
  const auto d = decode_change_chunk(s.chunk);
  ASSERT_TRUE(d) << d.error().to_string();
  EXPECT_EQ(d->change, s.change);
  EXPECT_EQ(d->hash, s.hash);
}

// The column specs listed in a change chunk.
std::vector<std::uint32_t> column_specs(const Bytes& chunk) {
  enc::ByteReader r(body_of(chunk));
  std::vector<std::uint32_t> out;
  const std::uint64_t deps = r.uleb().value();
  (void)r.bytes(deps * 32).value();
  (void)r.length_prefixed().value();  // actor
  (void)r.uleb().value();             // seq
  (void)r.uleb().value();             // start_op
  (void)r.sleb().value();             // time
  (void)r.length_prefixed().value();  // message
  const std::uint64_t others = r.uleb().value();
  for (std::uint64_t i = 0; i < others; ++i) (void)r.length_prefixed().value();
  const std::vector<enc::ColumnMeta> meta = enc::read_column_metadata(r, false).value();
  for (const enc::ColumnMeta& m : meta) {
    out.push_back(m.spec.raw());
  }
  return out;
}

TEST(ChangeEncode, ExpandColumnOnlyWhenSomeOpExpands) {
  Change c;
  c.actors = {hex("aa")};
  c.start_op = 1;
  ChangeOp op;
  op.key = std::string("k");
  c.ops = {op, op};
  const Bytes without = encode_change(c).chunk;
  c.ops[1].expand = true;
  const Bytes with = encode_change(c).chunk;
  EXPECT_EQ(column_specs(without), (std::vector<std::uint32_t>{0x15, 0x34, 0x42, 0x56, 0x70}));
  EXPECT_EQ(column_specs(with), (std::vector<std::uint32_t>{0x15, 0x34, 0x42, 0x56, 0x70, 0x94}));
  EXPECT_TRUE(decode_change_chunk(with)->change.ops[1].expand);
}

// ---- property: random changes round-trip ---------------------------------------------------

std::string utf8(const std::vector<std::uint32_t>& cps) {
  std::string s;
  for (std::uint32_t cp : cps) {
    if (cp < 0x80) {
      s.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      s.push_back(static_cast<char>(0xc0 | (cp >> 6)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      s.push_back(static_cast<char>(0xe0 | (cp >> 12)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      s.push_back(static_cast<char>(0xf0 | (cp >> 18)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }
  return s;
}

rc::Gen<std::string> gen_string() {
  // Mostly a few short keys (so RLE runs happen), sometimes arbitrary code points.
  return rc::gen::oneOf(
      rc::gen::element<std::string>("", "a", "b", "key", "é", "👍"),
      rc::gen::map(rc::gen::container<std::vector<std::uint32_t>>(rc::gen::oneOf(
                       rc::gen::inRange<std::uint32_t>(0, 0xd800),
                       rc::gen::inRange<std::uint32_t>(0xe000, 0x110000))),
                   utf8));
}

Bytes gen_bytes(std::size_t max) {
  const auto n = *rc::gen::inRange<std::size_t>(0, max + 1);
  return *rc::gen::container<Bytes>(n, rc::gen::arbitrary<std::uint8_t>());
}

ScalarValue gen_value(bool numeric_only) {
  const int kind = *rc::gen::inRange(0, numeric_only ? 2 : 10);
  switch (kind) {
    case 0: return *rc::gen::arbitrary<std::int64_t>();
    case 1: return *rc::gen::arbitrary<std::uint64_t>();
    case 2: return Null{};
    case 3: return *rc::gen::arbitrary<bool>();
    case 4: {
      // NaN is excluded here only because NaN != NaN; the vectors cover its bytes.
      const double d = *rc::gen::arbitrary<double>();
      return std::isnan(d) ? 0.5 : d;
    }
    case 5: return *gen_string();
    case 6: return gen_bytes(8);
    case 7: return Counter{*rc::gen::arbitrary<std::int64_t>()};
    case 8: return Timestamp{*rc::gen::arbitrary<std::int64_t>()};
    default: return UnknownValue{*rc::gen::inRange<std::uint8_t>(10, 16), gen_bytes(4)};
  }
}

Change gen_change() {
  Change c;
  const std::size_t num_actors = *rc::gen::inRange<std::size_t>(1, 5);
  for (std::size_t i = 0; i < num_actors; ++i) {
    // Short, often equal or prefix-related actors (to exercise sorting and duplicates), or random.
    if (*rc::gen::arbitrary<bool>()) {
      c.actors.push_back(*rc::gen::element(hex("aa"), hex("bb"), hex("aabb"), hex("")));
    } else {
      c.actors.push_back(gen_bytes(16));
    }
  }
  const auto actor = [&] { return *rc::gen::inRange<std::uint32_t>(0, static_cast<std::uint32_t>(num_actors)); };
  const auto counter = [] {
    return *rc::gen::oneOf(rc::gen::inRange<std::uint64_t>(1, 20),
                           rc::gen::inRange<std::uint64_t>(1, std::uint64_t{1} << 32));
  };
  const std::size_t num_deps = *rc::gen::inRange<std::size_t>(0, 4);
  for (std::size_t i = 0; i < num_deps; ++i) {
    ChangeHash h;
    for (auto& b : h.bytes) b = *rc::gen::arbitrary<std::uint8_t>();
    c.deps.push_back(h);
  }
  std::sort(c.deps.begin(), c.deps.end());
  c.seq = *rc::gen::arbitrary<std::uint64_t>();
  c.time = *rc::gen::arbitrary<std::int64_t>();
  if (*rc::gen::arbitrary<bool>()) c.message = *gen_string();
  const std::size_t num_ops = *rc::gen::inRange<std::size_t>(0, 40);
  c.start_op = *rc::gen::inRange<std::uint64_t>(1, (std::uint64_t{1} << 32) - num_ops);
  for (std::size_t i = 0; i < num_ops; ++i) {
    ChangeOp op;
    if (*rc::gen::inRange(0, 3) != 0) op.obj = ChangeOpId{counter(), actor()};
    switch (*rc::gen::inRange(0, 3)) {
      case 0: op.key = *gen_string(); break;
      case 1: op.key = ElemKey{ChangeOpId{0, actor()}}; break;  // HEAD
      default: op.key = ElemKey{ChangeOpId{counter(), actor()}}; break;
    }
    op.insert = *rc::gen::arbitrary<bool>();
    op.action = static_cast<Action>(*rc::gen::inRange(0, 8));
    if (op.action == Action::kIncrement) {
      op.value = gen_value(true);
    } else if (*rc::gen::inRange(0, 4) != 0) {
      op.value = gen_value(false);
    }
    const std::size_t num_pred = *rc::gen::inRange<std::size_t>(0, 4);
    for (std::size_t p = 0; p < num_pred; ++p) op.pred.push_back(ChangeOpId{counter(), actor()});
    op.expand = *rc::gen::inRange(0, 4) == 0;
    if (*rc::gen::inRange(0, 3) == 0) op.mark_name = *gen_string();
    c.ops.push_back(std::move(op));
  }
  if (*rc::gen::inRange(0, 4) == 0) c.extra_bytes = gen_bytes(6);
  return c;
}

RC_GTEST_PROP(ChangeProperty, EncodeDecodeRoundTrip, ()) {
  const Change original = gen_change();
  const StoredChange s = encode_change(original);

  // The canonical change means the same as the original.
  RC_ASSERT(resolve(s.change) == resolve(original));
  RC_ASSERT(s.change.actors.at(0) == original.actors.at(0));
  RC_ASSERT(s.change.deps == original.deps);
  RC_ASSERT(s.change.seq == original.seq);
  RC_ASSERT(s.change.start_op == original.start_op);
  RC_ASSERT(s.change.time == original.time);
  RC_ASSERT(s.change.message == (original.message && !original.message->empty()
                                     ? original.message
                                     : std::nullopt));
  RC_ASSERT(s.change.extra_bytes == original.extra_bytes);
  // Its actor table is canonical: sorted, distinct, not the author, all referenced.
  for (std::size_t i = 2; i < s.change.actors.size(); ++i) {
    RC_ASSERT(s.change.actors[i - 1] < s.change.actors[i]);
  }
  std::vector<bool> used(s.change.actors.size(), false);
  for (const ChangeOp& op : s.change.ops) {
    if (op.obj) used.at(op.obj->actor) = true;
    if (const auto* e = std::get_if<ElemKey>(&op.key); e && !e->is_head()) used.at(e->elem.actor) = true;
    for (const ChangeOpId& p : op.pred) used.at(p.actor) = true;
  }
  for (std::size_t i = 1; i < s.change.actors.size(); ++i) {
    RC_ASSERT(used[i]);
    RC_ASSERT(s.change.actors[i] != s.change.actors[0]);
  }

  const auto d = decode_change_chunk(s.chunk);
  RC_ASSERT(d.has_value());
  RC_ASSERT(d->change == s.change);
  RC_ASSERT(d->hash == s.hash);
  RC_ASSERT(d->chunk == s.chunk);
  const StoredChange again = encode_change(d->change);
  RC_ASSERT(again.chunk == s.chunk);
}

// The one-op fast path (finish_single) writes the same chunk and hash as add() + finish(), on
// one encoder reused across changes as the loader does.
RC_GTEST_PROP(ChangeProperty, SingleOpFastPathMatchesGeneralEncoder, ()) {
  Change c = gen_change();
  RC_PRE(!c.ops.empty());
  c.ops.resize(1);
  const Change canonical = encode_change(c).change;  // canonical actors and preds
  std::vector<ByteView> others;
  const ChangeHeaderRef h = header_ref_of(canonical, others);
  const ChangeOpRef op = ref_of(canonical.ops[0]);

  static CanonicalChangeEncoder encoder;  // reused: no state may leak between changes
  ChangeHash general_hash;
  encoder.add(op);
  const ByteView general_view = encoder.finish(h, general_hash);
  const Bytes general(general_view.begin(), general_view.end());
  ChangeHash single_hash;
  const ByteView single_view = encoder.finish_single(op, h, single_hash);
  const Bytes single(single_view.begin(), single_view.end());
  RC_ASSERT(single == general);
  RC_ASSERT(single_hash == general_hash);
  const auto decoded = decode_change_chunk(single);
  RC_ASSERT(decoded.has_value());
  RC_ASSERT(decoded->change == canonical);
}

// Runs of ops among a generated change's ops: before, between and after them, `add_runs` gives
// each run to `batched` in one call and to `one_by_one` op by op. Both encoders must write the
// same chunk and hash.
template <typename AddRuns>
void check_runs_among_ops(AddRuns add_runs) {
  const Change canonical = encode_change(gen_change()).change;
  std::vector<ByteView> others;
  const ChangeHeaderRef h = header_ref_of(canonical, others);
  const auto actors = static_cast<std::uint32_t>(canonical.actors.size());
  CanonicalChangeEncoder one_by_one;
  CanonicalChangeEncoder batched;
  for (std::size_t k = 0; k <= canonical.ops.size(); ++k) {
    const std::size_t runs = *rc::gen::inRange<std::size_t>(0, 3);
    for (std::size_t r = 0; r < runs; ++r) add_runs(actors, one_by_one, batched);
    if (k < canonical.ops.size()) {
      one_by_one.add(ref_of(canonical.ops[k]));
      batched.add(ref_of(canonical.ops[k]));
    }
  }
  ChangeHash one_by_one_hash, batched_hash;
  const ByteView expected_view = one_by_one.finish(h, one_by_one_hash);
  const Bytes expected(expected_view.begin(), expected_view.end());
  const ByteView got = batched.finish(h, batched_hash);
  RC_ASSERT(Bytes(got.begin(), got.end()) == expected);
  RC_ASSERT(batched_hash == one_by_one_hash);
}

// A run of typed characters given to add_typing_run writes what one add() per character writes
// (the loader's path for typed text).
RC_GTEST_PROP(ChangeProperty, TypingRunMatchesOneAddPerCharacter, ()) {
  check_runs_among_ops([](std::uint32_t actors, CanonicalChangeEncoder& one_by_one, CanonicalChangeEncoder& batched) {
    const ChangeOpId obj{*rc::gen::inRange<std::uint64_t>(1, 1000), *rc::gen::inRange<std::uint32_t>(0, actors)};
    const std::uint32_t key_actor = *rc::gen::inRange<std::uint32_t>(0, actors);
    const std::uint64_t first_key_counter = *rc::gen::inRange<std::uint64_t>(1, 100000);
    Bytes chars;
    const std::size_t n = *rc::gen::inRange<std::size_t>(1, 40);
    for (std::size_t i = 0; i < n; ++i) chars.push_back(*rc::gen::inRange<std::uint8_t>(0, 0x80));
    batched.add_typing_run(obj, key_actor, first_key_counter, chars);
    for (std::size_t i = 0; i < n; ++i) {
      ChangeOpRef op;
      op.obj = obj;
      op.elem = ChangeOpId{first_key_counter + i, key_actor};
      op.insert = true;
      op.action = Action::kSet;
      op.raw_value = enc::RawValue{enc::kValueString, ByteView(chars).subspan(i, 1)};
      one_by_one.add(op);
    }
  });
}

// A run of element deletes given to add_delete_run writes what one add() per delete writes,
// forwards and backwards (the loader's path for deleted text).
RC_GTEST_PROP(ChangeProperty, DeleteRunMatchesOneAddPerDelete, ()) {
  check_runs_among_ops([](std::uint32_t actors, CanonicalChangeEncoder& one_by_one, CanonicalChangeEncoder& batched) {
    const ChangeOpId obj{*rc::gen::inRange<std::uint64_t>(1, 1000), *rc::gen::inRange<std::uint32_t>(0, actors)};
    const std::uint32_t actor = *rc::gen::inRange<std::uint32_t>(0, actors);
    const std::int64_t step = *rc::gen::element<std::int64_t>(1, -1, 3, -7);
    const std::uint64_t n = *rc::gen::inRange<std::uint64_t>(1, 40);
    const std::uint64_t first = 1000 + *rc::gen::inRange<std::uint64_t>(0, 100000);  // every counter stays >= 1
    batched.add_delete_run(obj, actor, first, step, n);
    for (std::uint64_t i = 0; i < n; ++i) {
      const ChangeOpId element{static_cast<std::uint64_t>(static_cast<std::int64_t>(first) + static_cast<std::int64_t>(i) * step), actor};
      ChangeOpRef op;
      op.obj = obj;
      op.elem = element;
      op.action = Action::kDelete;
      op.pred = std::span<const ChangeOpId>(&element, 1);
      one_by_one.add(op);
    }
  });
}

}  // namespace
}  // namespace am::storage
