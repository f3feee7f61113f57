// LEB128 variable-length integers (format spec §1.1).
//
// Writers always emit the shortest form. Readers reject overlong encodings and values that do
// not fit 64 bits, as the reference does, so that every accepted byte string has exactly one
// meaning and re-encodes to itself.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#include "am/bytes.h"

namespace am::enc {

enum class LebStatus : std::uint8_t { kOk, kTruncated, kOverlong, kOverflow };

/// Human-readable reason for a non-kOk status.
const char* leb_status_text(LebStatus s) noexcept;

void put_uleb_multibyte(Bytes& out, std::uint64_t value);
void put_sleb_multibyte(Bytes& out, std::int64_t value);

// Most values written (counts, small deltas, actor indexes) take one byte: that case is inline.
inline void put_uleb(Bytes& out, std::uint64_t value) {
  if (value < 0x80) {
    out.push_back(static_cast<std::uint8_t>(value));
  } else {
    put_uleb_multibyte(out, value);
  }
}
inline void put_sleb(Bytes& out, std::int64_t value) {
  if (value >= -64 && value < 64) {
    out.push_back(static_cast<std::uint8_t>(value & 0x7f));
  } else {
    put_sleb_multibyte(out, value);
  }
}
/// Bytes in the uLEB of value: 7 bits per byte.
inline std::size_t uleb_size(std::uint64_t value) noexcept {
  return (static_cast<std::size_t>(std::bit_width(value | 1)) + 6) / 7;
}
std::size_t sleb_size(std::int64_t value) noexcept;

/// Decodes one uLEB from [p, end). On kOk advances p past it; otherwise p is unspecified.
LebStatus get_uleb(const std::uint8_t*& p, const std::uint8_t* end, std::uint64_t& out) noexcept;
/// Decodes one sLEB from [p, end). On kOk advances p past it; otherwise p is unspecified.
LebStatus get_sleb(const std::uint8_t*& p, const std::uint8_t* end, std::int64_t& out) noexcept;

}  // namespace am::enc
