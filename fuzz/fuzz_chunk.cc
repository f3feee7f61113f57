// Fuzzes the chunk container: magic, checksum, type, length, and inflating compressed changes
// (with a small cap, so a deflate bomb is a clean error rather than an out-of-memory).
#include <cstddef>
#include <cstdint>

#include "core/storage/chunk.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  am::enc::ByteReader r(am::ByteView(data, size));
  while (!r.empty()) {
    auto chunk = am::storage::read_chunk(r);
    if (!chunk) break;
    if (chunk->type == am::storage::ChunkType::kCompressedChange) {
      (void)am::storage::inflate_compressed_change(*chunk, std::size_t{1} << 20);
    }
  }
  return 0;
}
