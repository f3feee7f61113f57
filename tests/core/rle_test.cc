#include "core/encoding/rle.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "support/hex.h"

namespace am::enc {
namespace {

using test::hex;
using OptU = std::optional<std::uint64_t>;
using OptI = std::optional<std::int64_t>;
using OptS = std::optional<std::string>;

template <class Writer, class T>
Bytes encode_all(const std::vector<std::optional<T>>& values) {
  Writer w;
  for (const auto& v : values) {
    if (v) {
      w.append(*v);
    } else {
      w.append_null();
    }
  }
  return w.finish();
}

Bytes encode_uint(const std::vector<OptU>& v) { return encode_all<UIntRleWriter>(v); }
Bytes encode_delta(const std::vector<OptI>& v) { return encode_all<DeltaWriter>(v); }
Bytes encode_string(const std::vector<OptS>& values) {
  StringRleWriter w;
  for (const auto& v : values) w.append(v ? std::optional<std::string_view>(*v) : std::nullopt);
  return w.finish();
}

// Arbitrary bytes can declare runs of 2^60 items; decoding stops (as "malformed") past this.
constexpr std::size_t kMaxItems = 100000;

template <class Reader, class T>
std::optional<std::vector<std::optional<T>>> decode_all(const Bytes& b) {
  Reader r(b);
  std::vector<std::optional<T>> out;
  std::optional<T> v;
  while (r.next(v)) {
    if (out.size() == kMaxItems) return std::nullopt;
    out.push_back(v);
  }
  if (!r.ok() || !r.done()) return std::nullopt;
  return out;
}

std::optional<std::vector<OptU>> decode_uint(const Bytes& b) { return decode_all<UIntRleReader, std::uint64_t>(b); }
std::optional<std::vector<OptI>> decode_delta(const Bytes& b) { return decode_all<DeltaReader, std::int64_t>(b); }
std::optional<std::vector<OptS>> decode_string(const Bytes& b) {
  StringRleReader r(b);
  std::vector<OptS> out;
  std::optional<std::string_view> v;
  while (r.next(v)) {
    if (out.size() == kMaxItems) return std::nullopt;
    out.push_back(v ? OptS(std::string(*v)) : std::nullopt);
  }
  if (!r.ok()) return std::nullopt;
  return out;
}

Bytes encode_bool(const std::vector<bool>& values) {
  BooleanWriter w;
  for (bool v : values) w.append(v);
  return w.finish();
}
std::optional<std::vector<bool>> decode_bool(const Bytes& b) {
  BooleanReader r(b);
  std::vector<bool> out;
  bool v;
  while (r.next(v)) {
    if (out.size() == kMaxItems) return std::nullopt;
    out.push_back(v);
  }
  if (!r.ok()) return std::nullopt;
  return out;
}

// ---- worked examples from the format spec ----------------------------------------------------

// append_repeated(v, n) and append_nulls(n), the bulk appends the document encoder uses for
// one object's ops, must write exactly what n single appends write, whatever came before.
RC_GTEST_PROP(Rle, BulkAppendsEqualSingleAppends, ()) {
  // (0 = null, else value + 1; count): few distinct values, so runs and literals both occur.
  const auto runs = *rc::gen::container<std::vector<std::pair<std::uint8_t, std::uint8_t>>>(
      rc::gen::pair(rc::gen::inRange<std::uint8_t>(0, 4), rc::gen::inRange<std::uint8_t>(0, 5)));
  UIntRleWriter bulk;
  UIntRleWriter single;
  for (const auto& [code, n] : runs) {
    const OptU value = code == 0 ? std::nullopt : OptU(code - 1u);
    if (value) {
      bulk.append_repeated(*value, n);
    } else {
      bulk.append_nulls(n);
    }
    for (std::uint8_t i = 0; i < n; ++i) single.append(value);
  }
  RC_ASSERT(bulk.finish() == single.finish());
}

TEST(Rle, PairAfterLoneValueClosesTheLiteral) {
  EXPECT_EQ(encode_uint({1, 2, 2}), hex("7f 01 02 02"));
}

TEST(Rle, LoneValueIsALiteralRunOfOne) {
  EXPECT_EQ(encode_uint({5}), hex("7f 05"));
  EXPECT_EQ(encode_string({"x"}), hex("7f 01 78"));
}

TEST(Rle, RepeatedValuesAreARepeatRun) {
  EXPECT_EQ(encode_uint({0, 0, 0, 0}), hex("04 00"));
}

TEST(Rle, LiteralOfDistinctNeighbours) {
  EXPECT_EQ(encode_uint({1, 2, 3}), hex("7d 01 02 03"));
  EXPECT_EQ(encode_uint({1, 2, 1}), hex("7d 01 02 01"));
}

TEST(Rle, AllNullColumnIsEmpty) {
  EXPECT_EQ(encode_uint({}), hex(""));
  EXPECT_EQ(encode_uint({std::nullopt, std::nullopt, std::nullopt}), hex(""));
  EXPECT_EQ(encode_string({std::nullopt}), hex(""));
}

TEST(Rle, LeadingAndTrailingNullRunsAreWritten) {
  EXPECT_EQ(encode_uint({std::nullopt, 0, 0, 0, std::nullopt}), hex("00 01 03 00 00 01"));
  EXPECT_EQ(encode_uint({std::nullopt, std::nullopt, 7}), hex("00 02 7f 07"));
  EXPECT_EQ(encode_uint({7, std::nullopt, std::nullopt}), hex("7f 07 00 02"));
}

TEST(Rle, NullsBreakRuns) {
  EXPECT_EQ(encode_uint({1, 2, std::nullopt, 2, 2}), hex("7e 01 02 00 01 02 02"));
}

TEST(Rle, DecodesNonCanonicalRuns) {
  // Repeat runs of one and adjacent literal runs are not what the writer produces, but are
  // valid encodings; the reader accepts them and the writer canonicalises them.
  const auto v = decode_uint(hex("01 05 7f 06 7f 07"));
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, (std::vector<OptU>{5, 6, 7}));
  EXPECT_EQ(encode_uint(*v), hex("7d 05 06 07"));
}

TEST(Rle, MalformedInputIsReported) {
  EXPECT_FALSE(decode_uint(hex("7e 01")));          // literal of 2 with one value
  EXPECT_FALSE(decode_uint(hex("02")));             // repeat run without its value
  EXPECT_FALSE(decode_uint(hex("00")));             // null run without its count
  EXPECT_FALSE(decode_uint(hex("7f 80 00")));       // overlong value
  EXPECT_FALSE(decode_uint(hex("80")));             // truncated run header
  EXPECT_FALSE(decode_string(hex("7f 05 78")));     // string length past the end
  EXPECT_FALSE(decode_string(hex("7f 01 ff")));     // invalid UTF-8
  const Bytes short_literal = hex("7e 01");
  UIntRleReader r(short_literal);
  std::optional<std::uint64_t> v;
  while (r.next(v)) {
  }
  const Status s = r.status("obj actor column");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kCorruption);
  EXPECT_NE(s.error().message.find("obj actor column"), std::string::npos);
}

TEST(Rle, HugeRunCountsAreLazy) {
  // A repeat run claiming 2^62 items decodes lazily; it must not allocate or loop up front.
  const Bytes overflow = hex("80808080808080808001 05");  // run count past 64 bits
  UIntRleReader r(overflow);
  std::optional<std::uint64_t> v;
  EXPECT_FALSE(r.next(v));
  EXPECT_FALSE(r.ok());
  const Bytes huge = hex("8080808080808080c000 05");  // sLEB 2^62
  UIntRleReader big(huge);
  ASSERT_TRUE(big.next(v));
  EXPECT_EQ(v, 5u);
}

TEST(Delta, SpecExample) {
  EXPECT_EQ(encode_delta({3, 4, 5, 6, 9, 7, 8}), hex("7f 03 03 01 7d 03 7e 01"));
  EXPECT_EQ(decode_delta(hex("7f 03 03 01 7d 03 7e 01")), (std::vector<OptI>{3, 4, 5, 6, 9, 7, 8}));
}

TEST(Delta, NullsDoNotResetTheRunningValue) {
  EXPECT_EQ(encode_delta({5, std::nullopt, 6}), hex("7f 05 00 01 7f 01"));
  EXPECT_EQ(decode_delta(hex("7f 05 00 01 7f 01")), (std::vector<OptI>{5, std::nullopt, 6}));
}

TEST(Boolean, SpecExamples) {
  EXPECT_EQ(encode_bool({true, true, false, false}), hex("00 02 02"));
  EXPECT_EQ(encode_bool({false}), hex("01"));
  EXPECT_EQ(encode_bool({true}), hex("00 01"));
  EXPECT_EQ(encode_bool({}), hex(""));
  EXPECT_EQ(decode_bool(hex("00 02 02")), (std::vector<bool>{true, true, false, false}));
}

TEST(Boolean, TruncatedRunIsAnError) { EXPECT_FALSE(decode_bool(hex("02 80"))); }

// ---- properties --------------------------------------------------------------------------------

// Random columns with many repeats and nulls: kind 0 = null, 1-3 = small value, 4 = any value.
using RawColumn = std::vector<std::pair<int, std::int64_t>>;
rc::Gen<RawColumn> gen_raw_column() {
  return rc::gen::container<RawColumn>(
      rc::gen::pair(rc::gen::inRange(0, 5), rc::gen::arbitrary<std::int64_t>()));
}
template <class T>
std::vector<std::optional<T>> to_column(const RawColumn& raw) {
  std::vector<std::optional<T>> out;
  for (auto [kind, v] : raw) {
    if (kind == 0) {
      out.emplace_back();
    } else if (kind < 4) {
      out.emplace_back(static_cast<T>((v % 3 + 3) % 3));
    } else {
      out.emplace_back(static_cast<T>(v));
    }
  }
  return out;
}

// Independent check of the canonical form of an unsigned RLE column.
bool is_canonical_uint_rle(const Bytes& b) {
  enum Kind { kNone, kNull, kRepeat, kLiteral } prev = kNone;
  std::uint64_t prev_last = 0;
  bool any_value = false;
  const std::uint8_t* p = b.data();
  const std::uint8_t* end = p + b.size();
  while (p < end) {
    std::int64_t n = 0;
    if (get_sleb(p, end, n) != LebStatus::kOk) return false;
    if (n == 0) {
      std::uint64_t count = 0;
      if (get_uleb(p, end, count) != LebStatus::kOk || count == 0 || prev == kNull) return false;
      prev = kNull;
    } else if (n > 0) {
      std::uint64_t v = 0;
      if (n < 2 || get_uleb(p, end, v) != LebStatus::kOk) return false;
      if ((prev == kRepeat || prev == kLiteral) && prev_last == v) return false;
      prev = kRepeat;
      prev_last = v;
      any_value = true;
    } else {
      if (prev == kLiteral) return false;
      for (std::int64_t i = 0; i < -n; ++i) {
        std::uint64_t v = 0;
        if (get_uleb(p, end, v) != LebStatus::kOk) return false;
        if ((i > 0 || prev == kRepeat) && v == prev_last) return false;
        prev_last = v;
      }
      prev = kLiteral;
      any_value = true;
    }
  }
  return b.empty() || any_value;
}

RC_GTEST_PROP(RleProperty, UIntRoundTripAndCanonical, ()) {
  const auto column = to_column<std::uint64_t>(*gen_raw_column());
  const Bytes b = encode_uint(column);
  const auto decoded = decode_uint(b);
  RC_ASSERT(decoded.has_value());
  // A trailing all-null tail after the last value is written; an all-null column is empty.
  bool all_null = true;
  for (const auto& v : column) all_null = all_null && !v;
  if (all_null) {
    RC_ASSERT(b.empty());
  } else {
    RC_ASSERT(*decoded == column);
  }
  RC_ASSERT(is_canonical_uint_rle(b));
  RC_ASSERT(encode_uint(*decoded) == b);
}

RC_GTEST_PROP(RleProperty, DeltaRoundTripAndCanonical, ()) {
  const auto column = to_column<std::int64_t>(*gen_raw_column());
  const Bytes b = encode_delta(column);
  const auto decoded = decode_delta(b);
  RC_ASSERT(decoded.has_value());
  bool all_null = true;
  for (const auto& v : column) all_null = all_null && !v;
  if (!all_null) RC_ASSERT(*decoded == column);
  RC_ASSERT(encode_delta(*decoded) == b);
}

RC_GTEST_PROP(RleProperty, StringRoundTripAndCanonical, ()) {
  static const std::vector<std::string> kPool{"", "x", "y", "\xc3\xa9", "\xf0\x9f\x98\x80", "key"};
  const auto raw = *gen_raw_column();
  std::vector<OptS> column;
  for (auto [kind, v] : raw) {
    if (kind == 0) {
      column.emplace_back();
    } else {
      column.emplace_back(kPool[static_cast<std::size_t>((v % 6 + 6) % 6)]);
    }
  }
  const Bytes b = encode_string(column);
  const auto decoded = decode_string(b);
  RC_ASSERT(decoded.has_value());
  bool all_null = true;
  for (const auto& v : column) all_null = all_null && !v;
  if (!all_null) RC_ASSERT(*decoded == column);
  RC_ASSERT(encode_string(*decoded) == b);
}

RC_GTEST_PROP(RleProperty, BooleanRoundTripAndCanonical, (std::vector<bool> column)) {
  const Bytes b = encode_bool(column);
  const auto decoded = decode_bool(b);
  RC_ASSERT(decoded.has_value());
  RC_ASSERT(*decoded == column);
  RC_ASSERT(encode_bool(*decoded) == b);
}

// The batch appends of typed text and delete runs write what one append per item writes; steps
// of either sign, zero, and counters that wrap.
RC_GTEST_PROP(RleProperty, DeltaAppendLinearIsItemByItem,
              (std::vector<std::int64_t> before, std::int64_t start, std::int8_t step, std::uint8_t n,
               std::vector<std::int64_t> after)) {
  DeltaWriter batch, single;
  for (std::int64_t v : before) {
    batch.append(v);
    single.append(v);
  }
  if (step == 1) {
    batch.append_increasing(start, n);
  } else {
    batch.append_linear(start, step, n);
  }
  std::uint64_t value = static_cast<std::uint64_t>(start);
  for (std::uint64_t i = 0; i < n; ++i, value += static_cast<std::uint64_t>(std::int64_t{step})) {
    single.append(static_cast<std::int64_t>(value));
  }
  for (std::int64_t v : after) {
    batch.append(v);
    single.append(v);
  }
  RC_ASSERT(batch.finish() == single.finish());
}

RC_GTEST_PROP(RleProperty, BooleanAppendRepeatedIsItemByItem,
              (std::vector<std::pair<bool, std::uint8_t>> runs)) {
  BooleanWriter batch, single;
  for (const auto& [v, n] : runs) {
    batch.append_repeated(v, n);
    for (std::uint8_t i = 0; i < n; ++i) single.append(v);
  }
  RC_ASSERT(batch.finish() == single.finish());
}

RC_GTEST_PROP(RleProperty, ArbitraryBytesNeverCrashAndCanonicaliseToAFixpoint,
              (std::vector<std::uint8_t> raw)) {
  const Bytes bytes(raw.begin(), raw.end());
  if (const auto decoded = decode_uint(bytes)) {
    const Bytes canonical = encode_uint(*decoded);
    const auto again = decode_uint(canonical);
    RC_ASSERT(again.has_value());
    RC_ASSERT(encode_uint(*again) == canonical);
  }
  (void)decode_delta(bytes);
  (void)decode_string(bytes);
  (void)decode_bool(bytes);
}

}  // namespace
}  // namespace am::enc
