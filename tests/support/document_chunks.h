// Document chunks taken apart and put together again, for tests that craft malformed bodies.
#pragma once

#include <gtest/gtest.h>

#include "am/bytes.h"
#include "core/encoding/byte_reader.h"
#include "core/storage/chunk.h"

namespace am::test {

/// The body of the single chunk in `chunk` (empty, with a test failure, if it is not one).
inline Bytes body_of(const Bytes& chunk) {
  enc::ByteReader r(chunk);
  auto c = storage::read_chunk(r);
  EXPECT_TRUE(c);
  if (!c) return {};
  return Bytes(c->body.begin(), c->body.end());
}

/// A document chunk around `body`, with its checksum.
inline Bytes document_chunk(const Bytes& body) { return storage::write_chunk(storage::ChunkType::kDocument, body); }

}  // namespace am::test
