#include "core/encoding/leb128.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <limits>

#include "core/encoding/byte_reader.h"
#include "support/hex.h"

namespace am::enc {
namespace {

using test::hex;

Bytes uleb(std::uint64_t v) {
  Bytes b;
  put_uleb(b, v);
  return b;
}
Bytes sleb(std::int64_t v) {
  Bytes b;
  put_sleb(b, v);
  return b;
}
LebStatus decode_u(const Bytes& b, std::uint64_t& v, std::size_t* used = nullptr) {
  const std::uint8_t* p = b.data();
  const LebStatus s = get_uleb(p, b.data() + b.size(), v);
  if (used) *used = static_cast<std::size_t>(p - b.data());
  return s;
}
LebStatus decode_s(const Bytes& b, std::int64_t& v) {
  const std::uint8_t* p = b.data();
  return get_sleb(p, b.data() + b.size(), v);
}

TEST(Leb128, UnsignedShortestForms) {
  EXPECT_EQ(uleb(0), hex("00"));
  EXPECT_EQ(uleb(1), hex("01"));
  EXPECT_EQ(uleb(127), hex("7f"));
  EXPECT_EQ(uleb(128), hex("80 01"));
  EXPECT_EQ(uleb(300), hex("ac 02"));
  EXPECT_EQ(uleb(std::numeric_limits<std::uint64_t>::max()), hex("ffffffffffffffffff 01"));
}

TEST(Leb128, SignedShortestForms) {
  EXPECT_EQ(sleb(0), hex("00"));
  EXPECT_EQ(sleb(1), hex("01"));
  EXPECT_EQ(sleb(-1), hex("7f"));
  EXPECT_EQ(sleb(63), hex("3f"));
  EXPECT_EQ(sleb(64), hex("c0 00"));
  EXPECT_EQ(sleb(-64), hex("40"));
  EXPECT_EQ(sleb(-65), hex("bf 7f"));
  EXPECT_EQ(sleb(-3), hex("7d"));
  EXPECT_EQ(sleb(std::numeric_limits<std::int64_t>::min()), hex("8080808080808080807f"));
  EXPECT_EQ(sleb(std::numeric_limits<std::int64_t>::max()), hex("ffffffffffffffffff00"));
}

TEST(Leb128, SizesMatchEncodings) {
  for (std::uint64_t v : {0ull, 1ull, 127ull, 128ull, 16383ull, 16384ull, ~0ull}) {
    EXPECT_EQ(uleb_size(v), uleb(v).size()) << v;
  }
  for (std::int64_t v : std::initializer_list<std::int64_t>{0, -1, 63, 64, -64, -65,
                                                          std::numeric_limits<std::int64_t>::min(),
                                                          std::numeric_limits<std::int64_t>::max()}) {
    EXPECT_EQ(sleb_size(v), sleb(v).size()) << v;
  }
}

TEST(Leb128, RejectsTruncated) {
  std::uint64_t u;
  std::int64_t s;
  EXPECT_EQ(decode_u(hex(""), u), LebStatus::kTruncated);
  EXPECT_EQ(decode_u(hex("80"), u), LebStatus::kTruncated);
  EXPECT_EQ(decode_u(hex("ff ff"), u), LebStatus::kTruncated);
  EXPECT_EQ(decode_s(hex("80"), s), LebStatus::kTruncated);
  EXPECT_EQ(decode_s(hex(""), s), LebStatus::kTruncated);
}

TEST(Leb128, RejectsOverlong) {
  std::uint64_t u;
  std::int64_t s;
  EXPECT_EQ(decode_u(hex("80 00"), u), LebStatus::kOverlong);
  EXPECT_EQ(decode_u(hex("81 80 00"), u), LebStatus::kOverlong);
  EXPECT_EQ(decode_s(hex("80 00"), s), LebStatus::kOverlong);      // 0 padded
  EXPECT_EQ(decode_s(hex("ff 7f"), s), LebStatus::kOverlong);      // -1 padded
  EXPECT_EQ(decode_s(hex("c0 00"), s), LebStatus::kOk);            // 64 needs two bytes
  EXPECT_EQ(decode_s(hex("bf 7f"), s), LebStatus::kOk);            // -65 needs two bytes
}

TEST(Leb128, RejectsValuesPast64Bits) {
  std::uint64_t u;
  std::int64_t s;
  EXPECT_EQ(decode_u(hex("ffffffffffffffffff 02"), u), LebStatus::kOverflow);
  EXPECT_EQ(decode_u(hex("ffffffffffffffffff 81 00"), u), LebStatus::kOverflow);
  EXPECT_EQ(decode_u(hex("80808080808080808080 01"), u), LebStatus::kOverflow);
  EXPECT_EQ(decode_s(hex("ffffffffffffffffff 01"), s), LebStatus::kOverflow);
  EXPECT_EQ(decode_s(hex("8080808080808080807e"), s), LebStatus::kOverflow);
}

TEST(Leb128, DecodeAdvancesExactly) {
  std::uint64_t v = 0;
  std::size_t used = 0;
  ASSERT_EQ(decode_u(hex("ac 02 ff"), v, &used), LebStatus::kOk);
  EXPECT_EQ(v, 300u);
  EXPECT_EQ(used, 2u);
}

TEST(ByteReader, ReportsWhatAndWhere) {
  const Bytes data = hex("05 01 02");
  ByteReader r(data, "change chunk");
  auto res = r.length_prefixed();
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, ErrorCode::kCorruption);
  EXPECT_NE(res.error().message.find("change chunk"), std::string::npos);
  EXPECT_NE(res.error().message.find("exceeds"), std::string::npos);
}

TEST(ByteReader, HugeDeclaredLengthIsAnErrorNotAnAllocation) {
  const Bytes data = hex("ffffffffffffffff7f 00");
  ByteReader r(data);
  EXPECT_FALSE(r.length_prefixed());
}

TEST(ByteReader, Uleb32RejectsLargeValues) {
  const Bytes data = hex("8080808010");  // 2^32
  ByteReader r(data);
  EXPECT_FALSE(r.uleb32());
}

TEST(ByteReader, Utf8IsValidated) {
  const Bytes e_acute = hex("02 c3 a9");
  ByteReader ok(e_acute);
  EXPECT_EQ(ok.utf8().value(), "\xc3\xa9");
  const auto utf8_ok = [](std::string_view h) {
    const Bytes b = hex(h);
    return ByteReader(b).utf8().has_value();
  };
  EXPECT_FALSE(utf8_ok("02 c0 80"));        // overlong NUL
  EXPECT_FALSE(utf8_ok("03 ed a0 80"));     // surrogate
  EXPECT_FALSE(utf8_ok("01 ff"));
  EXPECT_FALSE(utf8_ok("04 f4 90 80 80"));  // past U+10FFFF
  EXPECT_TRUE(utf8_ok("04 f0 9f 98 80"));   // U+1F600
}

RC_GTEST_PROP(Leb128, UnsignedRoundTrip, (std::uint64_t v)) {
  const Bytes b = uleb(v);
  std::uint64_t out = 0;
  std::size_t used = 0;
  RC_ASSERT(decode_u(b, out, &used) == LebStatus::kOk);
  RC_ASSERT(out == v);
  RC_ASSERT(used == b.size());
}

RC_GTEST_PROP(Leb128, SignedRoundTrip, (std::int64_t v)) {
  const Bytes b = sleb(v);
  std::int64_t out = 0;
  RC_ASSERT(decode_s(b, out) == LebStatus::kOk);
  RC_ASSERT(out == v);
}

RC_GTEST_PROP(Leb128, AcceptedBytesReencodeIdentically, (std::vector<std::uint8_t> raw)) {
  // Whatever the decoder accepts is the shortest form: re-encoding gives the same bytes.
  std::uint64_t u = 0;
  std::size_t used = 0;
  if (decode_u(raw, u, &used) == LebStatus::kOk) {
    RC_ASSERT(uleb(u) == Bytes(raw.begin(), raw.begin() + static_cast<long>(used)));
  }
  const std::uint8_t* begin = raw.data();
  const std::uint8_t* p = begin;
  std::int64_t s = 0;
  if (get_sleb(p, begin + raw.size(), s) == LebStatus::kOk) {
    RC_ASSERT(sleb(s) == Bytes(begin, p));
  }
}

}  // namespace
}  // namespace am::enc
