// Fuzzes the wire codecs (src/repo/core/wire/cbor_codec.h and go_dialect.h).
//
// Any input must be accepted or rejected with an error, never crash, throw or recurse without
// bound. When the current codec accepts it, re-encoding must decode again to an equal message,
// and encoding is a fixed point from then on. The Go port's dialects (CBOR and JSON) get the same
// input: what they accept and can write back must read back and write the same bytes again.
#include <cstddef>
#include <cstdint>

#include "repo/core/wire/cbor_codec.h"
#include "repo/core/wire/go_dialect.h"

namespace {

namespace wire = am::repo::wire;

void check_go_dialect(am::ByteView input, wire::Dialect dialect) {
  const auto message = wire::decode_go(input, dialect);
  if (!message) return;
  const auto encoded = wire::encode_go(*message, dialect);
  if (!encoded) return;  // a type the Go port cannot read is never written to it
  const auto again = wire::decode_go(*encoded, dialect);
  if (!again) __builtin_trap();
  const auto encoded_again = wire::encode_go(*again, dialect);
  if (!encoded_again || *encoded_again != *encoded) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const am::ByteView input(data, size);
  check_go_dialect(input, wire::Dialect::kGoCbor);
  check_go_dialect(input, wire::Dialect::kGoJson);
  const auto message = wire::decode(input);
  if (!message) return 0;
  const am::Bytes encoded = wire::encode(*message);
  const auto again = wire::decode(encoded);
  if (!again || !(*again == *message)) __builtin_trap();
  if (wire::encode(*again) != encoded) __builtin_trap();
  return 0;
}
