#include "core/storage/chunk.h"

#include <array>

#include <algorithm>
#include <cstring>
#include <string>

#include "core/encoding/leb128.h"
#include "core/util/sha256.h"

namespace am::storage {

const char* chunk_type_name(ChunkType t) noexcept {
  switch (t) {
    case ChunkType::kDocument: return "document";
    case ChunkType::kChange: return "change";
    case ChunkType::kCompressedChange: return "compressed change";
    case ChunkType::kBundle: return "bundle";
  }
  return "unknown";
}

ChangeHash chunk_digest(ChunkType type, ByteView body) {
  // Type byte + uLEB length (at most 10 bytes): on the stack, since this runs once per change.
  std::array<std::uint8_t, 11> header{};
  header[0] = static_cast<std::uint8_t>(type);
  std::size_t len = 1;
  for (std::uint64_t v = body.size();; v >>= 7) {
    header[len++] = static_cast<std::uint8_t>(v < 0x80 ? v : (v & 0x7f) | 0x80);
    if (v < 0x80) break;
  }
  ChangeHash h;
  h.bytes = util::sha256({ByteView(header.data(), len), body});
  return h;
}

void write_chunk(ChunkType type, ByteView body, Bytes& out) {
  const ChangeHash digest = chunk_digest(type, body);
  out.insert(out.end(), kChunkMagic.begin(), kChunkMagic.end());
  out.insert(out.end(), digest.bytes.begin(), digest.bytes.begin() + 4);
  out.push_back(static_cast<std::uint8_t>(type));
  enc::put_uleb(out, body.size());
  out.insert(out.end(), body.begin(), body.end());
}

Bytes write_chunk(ChunkType type, ByteView body) {
  Bytes out;
  out.reserve(body.size() + 16);
  write_chunk(type, body, out);
  return out;
}

Result<ChunkView> read_chunk(enc::ByteReader& r) {
  const std::size_t start = r.offset();
  const ByteView all = r.rest();
  AM_TRY_ASSIGN(const ByteView magic, r.bytes(4));
  if (!std::equal(magic.begin(), magic.end(), kChunkMagic.begin())) {
    return fail(Error::corruption("chunk", "bad magic bytes at offset " + std::to_string(start)));
  }
  ChunkView c;
  AM_TRY_ASSIGN(const ByteView checksum, r.bytes(4));
  std::copy(checksum.begin(), checksum.end(), c.checksum.begin());
  AM_TRY_ASSIGN(const std::uint8_t type, r.byte());
  if (type > static_cast<std::uint8_t>(ChunkType::kBundle)) {
    return fail(Error::corruption("chunk", "unknown chunk type " + std::to_string(type)));
  }
  c.type = static_cast<ChunkType>(type);
  AM_TRY_ASSIGN(c.body, r.length_prefixed());
  c.whole = all.first(r.offset() - start);
  if (c.type != ChunkType::kCompressedChange) {
    const ChangeHash digest = chunk_digest(c.type, c.body);
    if (!std::equal(c.checksum.begin(), c.checksum.end(), digest.bytes.begin())) {
      return fail(Error::corruption(std::string(chunk_type_name(c.type)) + " chunk",
                                    "checksum mismatch"));
    }
  }
  return c;
}

Result<Bytes> inflate_compressed_change(const ChunkView& chunk, std::size_t max_output) {
  if (chunk.type != ChunkType::kCompressedChange) {
    return fail(Error::invalid_argument("inflate_compressed_change", "not a compressed change"));
  }
  AM_TRY_ASSIGN(Bytes body, util::inflate_raw(chunk.body, max_output));
  const ChangeHash digest = chunk_digest(ChunkType::kChange, body);
  if (!std::equal(chunk.checksum.begin(), chunk.checksum.end(), digest.bytes.begin())) {
    return fail(Error::corruption("compressed change chunk", "checksum mismatch after inflating"));
  }
  return body;
}

}  // namespace am::storage
