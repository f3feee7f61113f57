#include "core/encoding/value_column.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cmath>

#include "support/hex.h"

namespace am::enc {
namespace {

using test::hex;

struct Encoded {
  Bytes meta;
  Bytes raw;
};

Encoded encode(const std::vector<ScalarValue>& values) {
  ValueWriter w;
  for (const auto& v : values) w.append(v);
  Encoded e;
  w.finish(e.meta, e.raw);
  return e;
}

std::optional<std::vector<ScalarValue>> decode(const Encoded& e) {
  ValueReader r(e.meta, e.raw);
  std::vector<ScalarValue> out;
  RawValue raw;
  while (r.next(raw)) {
    auto v = decode_scalar(raw);
    if (!v) return std::nullopt;
    out.push_back(*v);
  }
  if (!r.ok() || r.raw_remaining() != 0) return std::nullopt;
  return out;
}

// Spec §1.7 examples: a single value gives a one-entry literal run of its metadata.
void expect_single(const ScalarValue& v, std::string_view meta, std::string_view raw) {
  const Encoded e = encode({v});
  EXPECT_EQ(e.meta, hex(std::string("7f ") + std::string(meta)));
  EXPECT_EQ(e.raw, hex(raw));
  EXPECT_EQ(decode(e), std::vector<ScalarValue>{v});
}

TEST(ValueColumn, SpecExamples) {
  expect_single(std::int64_t{1}, "14", "01");
  expect_single(std::int64_t{-65}, "24", "bf 7f");
  expect_single(std::uint64_t{300}, "23", "ac 02");
  expect_single(std::string("\xc3\xa9"), "26", "c3 a9");
  expect_single(Counter{-1}, "18", "7f");
  expect_single(Timestamp{1000}, "29", "e8 07");
  expect_single(Bytes{1, 2, 3}, "37", "01 02 03");
  expect_single(std::string(), "06", "");
  expect_single(Null{}, "00", "");
  expect_single(false, "01", "");
  expect_single(true, "02", "");
  expect_single(1.5, "85 01", "00 00 00 00 00 00 f8 3f");  // meta 0x85 as uLEB
}

TEST(ValueColumn, UnknownTypesArePreservedVerbatim) {
  const ScalarValue u = UnknownValue{12, Bytes{0xde, 0xad}};
  const Encoded e = encode({u});
  EXPECT_EQ(e.meta, hex("7f 2c"));
  EXPECT_EQ(decode(e), std::vector<ScalarValue>{u});
}

TEST(ValueColumn, RepeatedMetadataIsRunLengthEncoded) {
  const Encoded e = encode({std::int64_t{1}, std::int64_t{2}, std::int64_t{3}});
  EXPECT_EQ(e.meta, hex("03 14"));
  EXPECT_EQ(e.raw, hex("01 02 03"));
}

TEST(ValueColumn, MalformedValuesAreErrors) {
  EXPECT_FALSE(decode({hex("7f 24"), hex("bf")}));        // length past raw column
  EXPECT_FALSE(decode({hex("7f 24"), hex("80 00")}));     // overlong sLEB int
  EXPECT_FALSE(decode({hex("7f 14"), hex("80")}));        // truncated int
  EXPECT_FALSE(decode({hex("7f 45"), hex("00000000")}));  // f64 must be 8 bytes
  EXPECT_FALSE(decode({hex("7f 16"), hex("ff")}));        // invalid UTF-8
  EXPECT_FALSE(decode({hex("7f 11"), hex("00")}));        // false with a byte
  EXPECT_FALSE(decode({hex("7f 14"), hex("01 02")}));     // unclaimed raw bytes
  EXPECT_FALSE(decode({hex("7f 23"), hex("ac 82")}));     // uint not terminated
  // A declared length of 2^59 must be rejected without allocating.
  EXPECT_FALSE(decode({hex("7f f6ffffffffffffff7f"), hex("00")}));
}

RC_GTEST_PROP(ValueColumnProperty, RoundTrip, ()) {
  const auto n = *rc::gen::inRange<std::size_t>(0, 40);
  std::vector<ScalarValue> values;
  for (std::size_t i = 0; i < n; ++i) {
    switch (*rc::gen::inRange(0, 10)) {
      case 0: values.emplace_back(Null{}); break;
      case 1: values.emplace_back(*rc::gen::arbitrary<bool>()); break;
      case 2: values.emplace_back(*rc::gen::arbitrary<std::int64_t>()); break;
      case 3: values.emplace_back(*rc::gen::arbitrary<std::uint64_t>()); break;
      case 4: {
        double d = *rc::gen::arbitrary<double>();
        if (std::isnan(d)) d = 0.25;  // NaN != NaN would defeat the comparison
        values.emplace_back(d);
        break;
      }
      case 5: values.emplace_back(std::string(*rc::gen::container<std::string>(rc::gen::inRange('a', 'z')))); break;
      case 6: values.emplace_back(*rc::gen::arbitrary<std::vector<std::uint8_t>>()); break;
      case 7: values.emplace_back(Counter{*rc::gen::arbitrary<std::int64_t>()}); break;
      case 8: values.emplace_back(Timestamp{*rc::gen::arbitrary<std::int64_t>()}); break;
      default:
        values.emplace_back(UnknownValue{static_cast<std::uint8_t>(*rc::gen::inRange(10, 16)),
                                         *rc::gen::arbitrary<std::vector<std::uint8_t>>()});
    }
  }
  const Encoded e = encode(values);
  const auto decoded = decode(e);
  RC_ASSERT(decoded.has_value());
  RC_ASSERT(*decoded == values);
  // Canonical: re-encoding the decoded values gives the same bytes.
  const Encoded again = encode(*decoded);
  RC_ASSERT(again.meta == e.meta);
  RC_ASSERT(again.raw == e.raw);
}

RC_GTEST_PROP(ValueColumnProperty, AsciiCharsAreOneStringEach, (std::string before, std::string chars)) {
  for (char& c : chars) c = static_cast<char>('a' + static_cast<unsigned char>(c) % 26);
  ValueWriter batch, single;
  batch.append_raw(kValueString, as_bytes(before));
  single.append_raw(kValueString, as_bytes(before));
  batch.append_ascii_chars(as_bytes(chars));
  for (char c : chars) single.append_raw(kValueString, as_bytes(std::string_view(&c, 1)));
  Bytes batch_meta, batch_raw, single_meta, single_raw;
  batch.finish(batch_meta, batch_raw);
  single.finish(single_meta, single_raw);
  RC_ASSERT(batch_meta == single_meta);
  RC_ASSERT(batch_raw == single_raw);
}

}  // namespace
}  // namespace am::enc
