#include "core/storage/chunk.h"

#include <gtest/gtest.h>

#include "core/util/deflate.h"
#include "support/hex.h"

namespace am::storage {
namespace {

using test::hex;

// Spec §2.3 annotated vector: actor aa x16, time 0, d.x = 1 (made by @automerge/automerge 3.5.0).
const Bytes kSinglePutChange = hex(
    "856f4a83 422a03c0 01 2f"
    "00 10 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 01 01 00 00 00"
    "06 15 03 34 01 42 02 56 02 57 01 70 02"
    "7f 01 78 01 7f 01 7f 14 01 7f 00");

// Spec §2.4: the empty document.
const Bytes kEmptyDocument = hex("85 6f 4a 83 b8 1a 95 44 00 04 00 00 00 00");

TEST(Chunk, EmptyDocumentBytes) {
  EXPECT_EQ(write_chunk(ChunkType::kDocument, hex("00 00 00 00")), kEmptyDocument);
  enc::ByteReader r(kEmptyDocument);
  const auto c = read_chunk(r);
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->type, ChunkType::kDocument);
  EXPECT_EQ(c->body.size(), 4u);
  EXPECT_TRUE(r.empty());
}

TEST(Chunk, ChangeHashOfTheAnnotatedVector) {
  enc::ByteReader r(kSinglePutChange);
  const auto c = read_chunk(r);
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->type, ChunkType::kChange);
  EXPECT_EQ(c->body.size(), 0x2fu);
  EXPECT_EQ(chunk_digest(ChunkType::kChange, c->body).to_hex(),
            "422a03c0fda01b9c737d63d60027f53a66b522f9be476177c79ae89713e9c493");
  EXPECT_EQ(write_chunk(ChunkType::kChange, c->body), kSinglePutChange);
}

TEST(Chunk, ConsecutiveChunksAreReadInOrder) {
  Bytes two = kEmptyDocument;
  two.insert(two.end(), kSinglePutChange.begin(), kSinglePutChange.end());
  enc::ByteReader r(two);
  EXPECT_EQ(read_chunk(r)->type, ChunkType::kDocument);
  EXPECT_EQ(read_chunk(r)->type, ChunkType::kChange);
  EXPECT_TRUE(r.empty());
}

TEST(Chunk, BadChecksumIsCorruption) {
  Bytes bad = kSinglePutChange;
  bad[bad.size() - 1] ^= 1;
  enc::ByteReader r(bad);
  const auto c = read_chunk(r);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::kCorruption);
  EXPECT_NE(c.error().message.find("checksum"), std::string::npos);
}

TEST(Chunk, BadMagicAndUnknownTypeAreErrors) {
  Bytes bad_magic = kEmptyDocument;
  bad_magic[0] = 0x86;
  enc::ByteReader r1(bad_magic);
  EXPECT_FALSE(read_chunk(r1));
  Bytes bad_type = kEmptyDocument;
  bad_type[8] = 4;
  enc::ByteReader r2(bad_type);
  const auto c = read_chunk(r2);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("unknown chunk type"), std::string::npos);
}

TEST(Chunk, TruncatedAtEveryOffsetIsAnError) {
  for (std::size_t n = 0; n < kSinglePutChange.size(); ++n) {
    enc::ByteReader r(ByteView(kSinglePutChange).first(n));
    EXPECT_FALSE(read_chunk(r)) << "length " << n;
  }
}

TEST(Chunk, HugeDeclaredLengthIsAnError) {
  const Bytes huge = hex("856f4a83 00000000 01 ffffffffffffffff7f 00");
  enc::ByteReader r(huge);
  EXPECT_FALSE(read_chunk(r));
}

TEST(Chunk, CompressedChangeInflatesAndVerifies) {
  enc::ByteReader r(kSinglePutChange);
  const ChunkView plain = *read_chunk(r);
  // Build a type-2 chunk by hand: uncompressed checksum, deflated body.
  const Bytes deflated = util::deflate_raw(plain.body);
  Bytes compressed = hex("856f4a83");
  compressed.insert(compressed.end(), plain.checksum.begin(), plain.checksum.end());
  compressed.push_back(2);
  enc::put_uleb(compressed, deflated.size());
  compressed.insert(compressed.end(), deflated.begin(), deflated.end());

  enc::ByteReader cr(compressed);
  const auto c = read_chunk(cr);
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->type, ChunkType::kCompressedChange);
  const auto body = inflate_compressed_change(*c);
  ASSERT_TRUE(body) << body.error().to_string();
  EXPECT_EQ(*body, Bytes(plain.body.begin(), plain.body.end()));

  Bytes wrong = compressed;
  wrong[4] ^= 0xff;  // checksum no longer matches the inflated change
  enc::ByteReader wr(wrong);
  const auto wc = read_chunk(wr);
  ASSERT_TRUE(wc);
  EXPECT_FALSE(inflate_compressed_change(*wc));
}

TEST(Chunk, CompressedChangeBombHitsTheLimit) {
  const Bytes deflated = util::deflate_raw(Bytes(std::size_t{8} << 20, 0));
  Bytes chunk = hex("856f4a83 00000000 02");
  enc::put_uleb(chunk, deflated.size());
  chunk.insert(chunk.end(), deflated.begin(), deflated.end());
  enc::ByteReader r(chunk);
  const auto c = read_chunk(r);
  ASSERT_TRUE(c);
  const auto body = inflate_compressed_change(*c, std::size_t{1} << 20);
  ASSERT_FALSE(body);
  EXPECT_EQ(body.error().code, ErrorCode::kResourceLimit);
}

}  // namespace
}  // namespace am::storage
