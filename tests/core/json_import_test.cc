#include "am/json_import.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "am/document.h"

namespace am {
namespace {

using nlohmann::json;

ActorId actor(std::string_view hex) { return *ActorId::from_hex(hex); }
DocumentOptions with_actor(std::string_view hex) { return DocumentOptions{actor(hex), TextUnit::kUtf16}; }
json parsed(const Document& d) { return json::parse(d.to_json().value()); }

Document from_json(std::string_view text, const JsonImportOptions& options = {}) {
  auto doc = document_from_json(text, with_actor("aaaa"), options);
  EXPECT_TRUE(doc) << text << ": " << doc.error().to_string();
  return doc ? std::move(*doc) : Document(with_actor("aaaa"));
}

// Expects document_from_json(text) to fail with kInvalidArgument mentioning `needle`.
void expect_rejected(std::string_view text, std::string_view needle,
                     const JsonImportOptions& options = {}) {
  const auto doc = document_from_json(text, with_actor("aaaa"), options);
  ASSERT_FALSE(doc) << "accepted: " << text.substr(0, 200);
  EXPECT_EQ(doc.error().code, ErrorCode::kInvalidArgument) << doc.error().to_string();
  EXPECT_NE(doc.error().message.find(needle), std::string::npos) << doc.error().to_string();
}

// `levels` nested containers: an object holding arrays, e.g. {"a":[[]]} for 3.
std::string nested(std::size_t levels) {
  return "{\"a\":" + std::string(levels - 1, '[') + std::string(levels - 1, ']') + "}";
}

ObjId object_at(const Document& d, const ObjId& obj, const Prop& prop) {
  const auto v = d.get(obj, prop).value();
  EXPECT_TRUE(v && std::holds_alternative<ObjectRef>(*v));
  return v && std::holds_alternative<ObjectRef>(*v) ? std::get<ObjectRef>(*v).id : ObjId::root();
}

// ---- round trips ---------------------------------------------------------------------------

TEST(JsonImport, RoundTripsNestedValues) {
  const std::vector<std::string> inputs = {
      "{}",
      R"({"a":{"b":{"c":{}}},"l":[[],[[1]],{"x":[true,false,null]}]})",
      R"({"s":"plain","e":"","esc":"q\"b\\s/\b\f\n\r\t\u0001\u001f","u":"h\u00e9llo \ud83d\udc4d ünï 👍🏽 中文"})",
      R"({"i":[0,1,-1,42,-9223372036854775808,9223372036854775807,9223372036854775808,18446744073709551615]})",
      R"({"f":[0.5,-2.25,1e300,-1e-300,3.141592653589793,1.0,-0.0,2.5e-3,123456789012345680000]})",
      R"({"b":true,"c":false,"n":null,"":"empty key","k\u0000z":[{"deep":[["x"]]}]})",
      R"({"mixed":[1,"two",{"three":3},[4],null,true,5.5]})",
  };
  for (const std::string& in : inputs) {
    for (const bool scalar_strings : {false, true}) {
      JsonImportOptions options;
      options.scalar_strings = scalar_strings;
      const Document d = from_json(in, options);
      EXPECT_EQ(parsed(d), json::parse(in)) << in;
      EXPECT_EQ(d.change_count(), 1u);
      EXPECT_EQ(d.pending_ops(), 0u);
    }
  }
}

TEST(JsonImport, NumbersMapToIntUintAndF64) {
  const Document d = from_json(
      R"({"i":-5,"max":9223372036854775807,"big":9223372036854775808,"umax":18446744073709551615,)"
      R"("min":-9223372036854775808,"below":-9223372036854775809,"above":18446744073709551616,)"
      R"("f":2.5,"whole":3.0,"neg0":-0.0,"exp":1e2})");
  auto at = [&](const char* key) { return d.get(ObjId::root(), key).value().value(); };
  EXPECT_EQ(at("i"), Value(ScalarValue{std::int64_t{-5}}));
  EXPECT_EQ(at("max"), Value(ScalarValue{std::numeric_limits<std::int64_t>::max()}));
  EXPECT_EQ(at("big"), Value(ScalarValue{std::uint64_t{9223372036854775808u}}));
  EXPECT_EQ(at("umax"), Value(ScalarValue{std::numeric_limits<std::uint64_t>::max()}));
  EXPECT_EQ(at("min"), Value(ScalarValue{std::numeric_limits<std::int64_t>::min()}));
  EXPECT_EQ(at("below"), Value(ScalarValue{-9223372036854775809.0}));
  EXPECT_EQ(at("above"), Value(ScalarValue{18446744073709551616.0}));
  EXPECT_EQ(at("f"), Value(ScalarValue{2.5}));
  EXPECT_EQ(at("whole"), Value(ScalarValue{3.0}));
  EXPECT_EQ(at("exp"), Value(ScalarValue{100.0}));
  const double neg0 = std::get<double>(std::get<ScalarValue>(at("neg0")));
  EXPECT_EQ(neg0, 0.0);
  EXPECT_FALSE(std::signbit(neg0));  // stored as 0.0 so that to_json reads back the same
}

TEST(JsonImport, StringsAreTextObjectsByDefault) {
  const std::string in = R"({"t":"h\u00e9 👍","l":["x"],"m":{"k":""}})";
  const Document d = from_json(in);
  const ObjId t = object_at(d, ObjId::root(), "t");
  EXPECT_EQ(d.object_type(t).value(), ObjType::kText);
  EXPECT_EQ(d.text(t).value(), "h\xc3\xa9 \xf0\x9f\x91\x8d");
  EXPECT_EQ(d.length(t).value(), 5u);  // UTF-16 units
  const ObjId l = object_at(d, ObjId::root(), "l");
  EXPECT_EQ(d.object_type(l).value(), ObjType::kList);
  EXPECT_EQ(d.text(object_at(d, l, std::size_t{0})).value(), "x");
  const ObjId m = object_at(d, ObjId::root(), "m");
  EXPECT_EQ(d.object_type(m).value(), ObjType::kMap);
  const ObjId empty = object_at(d, m, "k");
  EXPECT_EQ(d.object_type(empty).value(), ObjType::kText);
  EXPECT_EQ(d.length(empty).value(), 0u);
}

TEST(JsonImport, ScalarStringsOnRequest) {
  JsonImportOptions options;
  options.scalar_strings = true;
  const Document d = from_json(R"({"t":"h\u00e9 👍","l":["x"]})", options);
  EXPECT_EQ(d.get(ObjId::root(), "t").value(), std::optional<Value>(ScalarValue{std::string("h\xc3\xa9 \xf0\x9f\x91\x8d")}));
  const ObjId l = object_at(d, ObjId::root(), "l");
  EXPECT_EQ(d.get(l, std::size_t{0}).value(), std::optional<Value>(ScalarValue{std::string("x")}));
}

TEST(JsonImport, ImportIntoAMapLeavesOtherKeysAndDoesNotCommit) {
  Document d(with_actor("aaaa"));
  ASSERT_TRUE(d.put(ObjId::root(), "keep", std::int64_t{1}));
  ASSERT_TRUE(d.put(ObjId::root(), "over", std::int64_t{1}));
  const ObjId m = d.put_object(ObjId::root(), "m", ObjType::kMap).value();
  d.commit();
  ASSERT_TRUE(import_json(d, ObjId::root(), R"({"over":"x","new":[1]})"));
  ASSERT_TRUE(import_json(d, m, R"({"inner":true})"));
  EXPECT_GT(d.pending_ops(), 0u);
  EXPECT_EQ(d.change_count(), 1u);
  EXPECT_EQ(parsed(d), json::parse(R"({"keep":1,"m":{"inner":true},"new":[1],"over":"x"})"));
  d.commit();
  EXPECT_EQ(d.change_count(), 2u);
}

TEST(JsonImport, DuplicateKeysLastWins) {
  const Document d = from_json(R"({"a":1,"a":{"b":2},"c":[1],"c":"s"})");
  EXPECT_EQ(parsed(d), json::parse(R"({"a":{"b":2},"c":"s"})"));
}

TEST(JsonImport, MaximumDepthIsAccepted) {
  const std::string in = nested(kJsonImportMaxDepth);
  const Document d = from_json(in);
  EXPECT_EQ(parsed(d), json::parse(in));
  std::string maps;  // 100 nested maps
  for (std::size_t i = 0; i < kJsonImportMaxDepth; ++i) maps += i + 1 < kJsonImportMaxDepth ? "{\"k\":" : "{}";
  maps += std::string(kJsonImportMaxDepth - 1, '}');
  EXPECT_EQ(parsed(from_json(maps)), json::parse(maps));
}

// ---- errors --------------------------------------------------------------------------------

TEST(JsonImport, MalformedJsonIsRejected) {
  for (const char* in : {"", " ", "{", "{\"a\":}", "{\"a\":1,}", "{'a':1}", "{\"a\":1} x", "{} {}",
                         "{\"a\":[1,2}", "{\"a\":01}", "{\"a\":NaN}", "{\"a\":\"\\x\"}",
                         "{\"a\":\"\\ud800\"}", "{\"a\":\"\xff\"}", "{\"a\":\"\n\"}",
                         "{\"a\":1 /* c */}", "{\"a\":1e400}"}) {
    expect_rejected(in, "malformed JSON");
  }
}

TEST(JsonImport, TopLevelMustBeAnObject) {
  for (const char* in : {"[]", "[{\"a\":1}]", "1", "-2.5", "\"s\"", "null", "true"}) {
    expect_rejected(in, "top level must be a JSON object");
  }
}

TEST(JsonImport, TooDeepIsRejected) {
  expect_rejected(nested(kJsonImportMaxDepth + 1), "deeper than 100 levels");
  std::string maps;
  for (std::size_t i = 0; i <= kJsonImportMaxDepth; ++i) maps += "{\"k\":";
  maps += "1" + std::string(kJsonImportMaxDepth + 1, '}');
  expect_rejected(maps, "deeper than 100 levels");
  // Far deeper (and unterminated): refused without recursing through it.
  expect_rejected("{\"a\":" + std::string(1'000'000, '['), "deeper than 100 levels");
}

TEST(JsonImport, SizeLimit) {
  JsonImportOptions options;
  options.max_bytes = 10;
  expect_rejected(R"({"a":"0123456789"})", "max_bytes", options);
  EXPECT_TRUE(document_from_json(R"({"a":"01"})", {}, options));  // exactly 10 bytes
}

TEST(JsonImport, ErrorsWriteNothing) {
  Document d(with_actor("aaaa"));
  const ObjId l = d.put_object(ObjId::root(), "l", ObjType::kList).value();
  const ObjId t = d.put_object(ObjId::root(), "t", ObjType::kText).value();
  d.commit();
  for (const ObjId& target : {l, t}) {
    const Status s = import_json(d, target, R"({"a":1})");
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(s.error().message.find("not a map"), std::string::npos) << s.error().message;
  }
  EXPECT_FALSE(import_json(d, ObjId(99, actor("bbbb")), "{}"));  // unknown object
  for (const char* bad : {R"({"a":1,"b":[)", "[1]", R"({"a":1,"b":2} 3)"}) {
    EXPECT_FALSE(import_json(d, ObjId::root(), bad)) << bad;
  }
  EXPECT_FALSE(import_json(d, ObjId::root(), "{\"x\":1,\"y\":" + nested(kJsonImportMaxDepth) + "}"));
  EXPECT_EQ(d.pending_ops(), 0u);
}

// ---- merging -------------------------------------------------------------------------------

TEST(JsonImport, ImportedDocumentMergesIntoAnother) {
  const std::string in = R"({"title":"Hello 👋","tags":["a","b"],"meta":{"n":3,"ok":true}})";
  Document a = from_json(in);
  Document b(with_actor("bbbb"));
  ASSERT_TRUE(b.merge(a));
  EXPECT_EQ(b.to_json().value(), a.to_json().value());
  EXPECT_EQ(b.heads(), a.heads());
  EXPECT_EQ(parsed(b), json::parse(in));
  // Both edit the merged content; merging both ways converges.
  ASSERT_TRUE(b.splice_text(object_at(b, ObjId::root(), "title"), 5, 0, ","));
  b.commit();
  ASSERT_TRUE(a.insert(object_at(a, ObjId::root(), "tags"), 2, std::string("c")));
  a.commit();
  ASSERT_TRUE(a.merge(b));
  ASSERT_TRUE(b.merge(a));
  EXPECT_EQ(a.to_json().value(), b.to_json().value());
  EXPECT_EQ(parsed(a), json::parse(R"({"title":"Hello, 👋","tags":["a","b","c"],"meta":{"n":3,"ok":true}})"));
  // The change chunks load into a fresh document too.
  Document c(with_actor("cccc"));
  ASSERT_TRUE(c.apply_changes(a.get_changes()));
  EXPECT_EQ(c.to_json().value(), a.to_json().value());
}

// ---- property ------------------------------------------------------------------------------

// A random valid UTF-8 string: ASCII (control characters included), other BMP characters
// (no surrogates), and astral characters such as emoji.
std::string random_utf8() {
  const auto count = *rc::gen::inRange<std::size_t>(0, 8);
  std::string s;
  for (std::size_t i = 0; i < count; ++i) {
    std::uint32_t cp = 0;
    switch (*rc::gen::inRange(0, 4)) {
      case 0: cp = *rc::gen::inRange<std::uint32_t>(0, 0x80); break;
      case 1: cp = *rc::gen::inRange<std::uint32_t>(0x80, 0xd800); break;
      case 2: cp = *rc::gen::inRange<std::uint32_t>(0xe000, 0x10000); break;
      default: cp = *rc::gen::inRange<std::uint32_t>(0x10000, 0x110000); break;
    }
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

// A choice in [0, n) that does not shrink with rapidcheck's size (which would make most values
// scalars), so that nested values are common; it still shrinks towards 0.
int pick(int n) { return *rc::gen::resize(100, rc::gen::inRange(0, n)); }

// A random JSON value nested at most `depth` more levels; an object when `object` is set.
json random_json(int depth, bool object = false) {
  const int kind = object ? 7 : pick(depth > 0 ? 11 : 7);
  switch (kind) {
    case 0: return nullptr;
    case 1: return *rc::gen::arbitrary<bool>();
    case 2: return *rc::gen::arbitrary<std::int64_t>();
    case 3: return *rc::gen::arbitrary<std::uint64_t>();
    case 4: return *rc::gen::suchThat(rc::gen::arbitrary<double>(), [](double d) { return std::isfinite(d); });
    case 5:
    case 6: return random_utf8();
    default: break;
  }
  const auto size = static_cast<std::size_t>(pick(6));
  if (kind <= 8) {
    json o = json::object();
    for (std::size_t i = 0; i < size; ++i) o[random_utf8()] = random_json(depth - 1);
    return o;
  }
  json a = json::array();
  for (std::size_t i = 0; i < size; ++i) a.push_back(random_json(depth - 1));
  return a;
}

RC_GTEST_PROP(JsonImport, RandomJsonRoundTrips, ()) {
  const json value = random_json(4, /*object=*/true);
  const std::string text = value.dump();
  JsonImportOptions options;
  options.scalar_strings = *rc::gen::arbitrary<bool>();
  const auto doc = document_from_json(text, with_actor("aaaa"), options);
  RC_ASSERT(doc.has_value());
  const std::string out = doc->to_json().value();
  RC_ASSERT(json::parse(out) == value);
  // The document's JSON is a fixed point of import + to_json.
  const auto again = document_from_json(out, with_actor("bbbb"), options);
  RC_ASSERT(again.has_value());
  RC_ASSERT(again->to_json().value() == out);
}

}  // namespace
}  // namespace am
