// Fuzzes the wire codec (src/repo/core/wire/cbor_codec.h).
//
// Any input must be accepted or rejected with an error, never crash, throw or recurse without
// bound. When it is accepted, re-encoding must decode again to an equal message, and encoding is
// a fixed point from then on.
#include <cstddef>
#include <cstdint>

#include "repo/core/wire/cbor_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace wire = am::repo::wire;
  const auto message = wire::decode(am::ByteView(data, size));
  if (!message) return 0;
  const am::Bytes encoded = wire::encode(*message);
  const auto again = wire::decode(encoded);
  if (!again || !(*again == *message)) __builtin_trap();
  if (wire::encode(*again) != encoded) __builtin_trap();
  return 0;
}
