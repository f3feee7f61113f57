#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <zlib.h>

#include "core/util/deflate.h"
#include "core/util/sha256.h"
#include "support/hex.h"

namespace am::util {
namespace {

using test::hex;

// zlib is the independent oracle: raw DEFLATE is windowBits -15.
Bytes zlib_inflate_raw(ByteView in) {
  z_stream s{};
  EXPECT_EQ(inflateInit2(&s, -15), Z_OK);
  Bytes out(in.size() * 8 + 1024);
  s.next_in = const_cast<Bytef*>(in.data());
  s.avail_in = static_cast<uInt>(in.size());
  Bytes result;
  int rc;
  do {
    s.next_out = out.data();
    s.avail_out = static_cast<uInt>(out.size());
    rc = inflate(&s, Z_NO_FLUSH);
    result.insert(result.end(), out.data(), out.data() + (out.size() - s.avail_out));
  } while (rc == Z_OK);
  EXPECT_EQ(rc, Z_STREAM_END);
  inflateEnd(&s);
  return result;
}

Bytes zlib_deflate_raw(ByteView in) {
  z_stream s{};
  EXPECT_EQ(deflateInit2(&s, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  Bytes out(deflateBound(&s, static_cast<uLong>(in.size())));
  s.next_in = const_cast<Bytef*>(in.data());
  s.avail_in = static_cast<uInt>(in.size());
  s.next_out = out.data();
  s.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&s, Z_FINISH), Z_STREAM_END);
  const std::size_t produced = s.total_out;
  deflateEnd(&s);
  return Bytes(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(produced));
}

TEST(Sha256, KnownDigests) {
  EXPECT_EQ(to_hex(sha256(Bytes{})),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(to_hex(sha256(as_bytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, PartsEqualConcatenationAndIncremental) {
  const Bytes a = hex("01 2f"), b = hex("00 10 aa bb");
  Bytes ab = a;
  ab.insert(ab.end(), b.begin(), b.end());
  EXPECT_EQ(sha256({a, b}), sha256(ab));
  Sha256 h;
  h.update(a);
  h.update(b);
  EXPECT_EQ(h.finish(), sha256(ab));
  h.update(ab);  // reusable after finish
  EXPECT_EQ(h.finish(), sha256(ab));
}

TEST(Deflate, InteroperatesWithZlib) {
  Bytes data;
  for (int i = 0; i < 5000; ++i) data.push_back(static_cast<std::uint8_t>((i * 7) % 13));
  EXPECT_EQ(zlib_inflate_raw(deflate_raw(data)), data);
  EXPECT_EQ(inflate_raw(zlib_deflate_raw(data)).value(), data);
  EXPECT_EQ(inflate_raw(deflate_raw(Bytes{})).value(), Bytes{});
}

TEST(Deflate, MalformedDataIsCorruption) {
  const auto r = inflate_raw(hex("ff ff ff ff"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kCorruption);
  const Bytes good = deflate_raw(Bytes(1000, 7));
  const auto truncated = inflate_raw(ByteView(good).first(good.size() / 2));
  EXPECT_FALSE(truncated);
}

TEST(Deflate, BombHitsTheLimit) {
  // 64 MiB of zeros compresses to ~64 KiB; inflating it with a 1 MiB cap must stop early.
  const Bytes bomb = deflate_raw(Bytes(std::size_t{64} << 20, 0));
  EXPECT_LT(bomb.size(), std::size_t{100} << 10);
  const auto r = inflate_raw(bomb, std::size_t{1} << 20);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kResourceLimit);
}

// inflate_raw_into: the scratch-buffer variant the document loader uses.
Bytes bytes_of(const core::ScratchBytes& b) { return Bytes(b.data(), b.data() + b.size()); }

TEST(DeflateInto, InflatesWhatCompressed300To1AndReusesTheBuffer) {
  Bytes data(std::size_t{3} << 20, 0);  // 3 MiB: a huge scratch block, many guesses
  for (std::size_t i = 0; i < data.size(); i += 4096) data[i] = static_cast<std::uint8_t>(i >> 12);
  const Bytes compressed = deflate_raw(data);
  EXPECT_LT(compressed.size() * 300, data.size());
  core::ScratchBytes out;
  ASSERT_TRUE(inflate_raw_into(compressed, kDefaultInflateLimit, out));
  EXPECT_EQ(bytes_of(out), data);
  const Bytes small = {1, 2, 3, 4, 5};
  ASSERT_TRUE(inflate_raw_into(deflate_raw(small), kDefaultInflateLimit, out));
  EXPECT_EQ(bytes_of(out), small);
  ASSERT_TRUE(inflate_raw_into(deflate_raw(Bytes{}), kDefaultInflateLimit, out));
  EXPECT_EQ(out.size(), 0u);
}

TEST(DeflateInto, MalformedIsCorruptionAndABombHitsTheLimit) {
  core::ScratchBytes out;
  const auto bad = inflate_raw_into(hex("ff ff ff ff"), kDefaultInflateLimit, out);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kCorruption);
  const Bytes bomb = deflate_raw(Bytes(std::size_t{64} << 20, 0));
  const auto r = inflate_raw_into(bomb, std::size_t{1} << 20, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kResourceLimit);
  // The limit itself is reachable: exactly max_output bytes inflate.
  ASSERT_TRUE(inflate_raw_into(deflate_raw(Bytes(std::size_t{1} << 20, 9)), std::size_t{1} << 20, out));
  EXPECT_EQ(out.size(), std::size_t{1} << 20);
}

RC_GTEST_PROP(DeflateProperty, IntoRoundTrip, (std::vector<std::uint8_t> data)) {
  core::ScratchBytes out;
  RC_ASSERT(static_cast<bool>(inflate_raw_into(deflate_raw(data), kDefaultInflateLimit, out)));
  RC_ASSERT(bytes_of(out) == Bytes(data.begin(), data.end()));
}

RC_GTEST_PROP(DeflateProperty, RoundTrip, (std::vector<std::uint8_t> data)) {
  RC_ASSERT(inflate_raw(deflate_raw(data)).value() == Bytes(data.begin(), data.end()));
}

}  // namespace
}  // namespace am::util
