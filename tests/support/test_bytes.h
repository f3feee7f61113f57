// Deterministic test payloads shared by the conformance suites.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "am/bytes.h"

namespace am::test {

/// `size` pseudo-random bytes (xorshift32) that depend only on `seed`.
inline Bytes pattern(std::size_t size, std::uint32_t seed) {
  Bytes out(size);
  std::uint32_t x = seed * 2654435761u + 0x9e3779b9u;
  for (std::size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    out[i] = static_cast<std::uint8_t>(x >> 24);
  }
  return out;
}

/// The bytes of `s`.
inline Bytes text(std::string_view s) { return Bytes(s.begin(), s.end()); }

}  // namespace am::test
