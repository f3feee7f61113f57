// The chunk container (format spec §2.1-§2.2).
//
//   magic (85 6f 4a 83) || checksum (4) || type (1) || uLEB(body_len) || body
//
// checksum = first 4 bytes of SHA-256(type || uLEB(body_len) || body). For a change chunk that
// digest is the change hash. A compressed change chunk (type 2) keeps the checksum of the
// uncompressed change and carries the raw-DEFLATEd body.
#pragma once

#include <array>
#include <cstdint>

#include "am/bytes.h"
#include "am/result.h"
#include "am/types.h"
#include "core/encoding/byte_reader.h"
#include "core/util/deflate.h"

namespace am::storage {

inline constexpr std::array<std::uint8_t, 4> kChunkMagic{0x85, 0x6f, 0x4a, 0x83};

enum class ChunkType : std::uint8_t {
  kDocument = 0,
  kChange = 1,
  kCompressedChange = 2,
  kBundle = 3,
};

const char* chunk_type_name(ChunkType t) noexcept;

/// One chunk as found in a byte buffer; `body` and `whole` view that buffer.
struct ChunkView {
  ChunkType type = ChunkType::kDocument;
  std::array<std::uint8_t, 4> checksum{};
  ByteView body;   // as stored (deflated for kCompressedChange)
  ByteView whole;  // header and body
};

/// Reads the chunk at the reader's position and advances past it. Checks the magic bytes, the
/// type, that the body fits, and the checksum for every type except kCompressedChange, whose
/// checksum can only be verified after inflating (see inflate_compressed_change).
[[nodiscard]] Result<ChunkView> read_chunk(enc::ByteReader& r);

/// SHA-256(type || uLEB(len(body)) || body): the digest a chunk's checksum is cut from; for a
/// change chunk (type 1, uncompressed body) it is the change hash.
ChangeHash chunk_digest(ChunkType type, ByteView body);

/// A complete chunk (header with checksum, then body).
Bytes write_chunk(ChunkType type, ByteView body);
void write_chunk(ChunkType type, ByteView body, Bytes& out);

/// Inflates the body of a kCompressedChange chunk and verifies that the stored checksum matches
/// the uncompressed change. Returns the uncompressed change body.
[[nodiscard]] Result<Bytes> inflate_compressed_change(
    const ChunkView& chunk, std::size_t max_output = util::kDefaultInflateLimit);

}  // namespace am::storage
