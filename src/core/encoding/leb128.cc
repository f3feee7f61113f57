#include "core/encoding/leb128.h"

namespace am::enc {

const char* leb_status_text(LebStatus s) noexcept {
  switch (s) {
    case LebStatus::kOk: return "ok";
    case LebStatus::kTruncated: return "truncated LEB128";
    case LebStatus::kOverlong: return "overlong LEB128";
    case LebStatus::kOverflow: return "LEB128 value does not fit 64 bits";
  }
  return "bad LEB128";
}

void put_uleb_multibyte(Bytes& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(value));
}

void put_sleb_multibyte(Bytes& out, std::int64_t value) {
  for (;;) {
    const auto byte = static_cast<std::uint8_t>(value & 0x7f);
    value >>= 7;  // arithmetic shift: sign-extends
    const bool sign_bit = (byte & 0x40) != 0;
    if ((value == 0 && !sign_bit) || (value == -1 && sign_bit)) {
      out.push_back(byte);
      return;
    }
    out.push_back(static_cast<std::uint8_t>(byte | 0x80));
  }
}

std::size_t sleb_size(std::int64_t value) noexcept {
  std::size_t n = 1;
  for (;;) {
    const bool sign_bit = (value & 0x40) != 0;
    value >>= 7;
    if ((value == 0 && !sign_bit) || (value == -1 && sign_bit)) return n;
    ++n;
  }
}

LebStatus get_uleb(const std::uint8_t*& p, const std::uint8_t* end, std::uint64_t& out) noexcept {
  std::uint64_t result = 0;
  unsigned shift = 0;
  const std::uint8_t* q = p;
  for (;;) {
    if (q == end) return LebStatus::kTruncated;
    const std::uint8_t byte = *q++;
    const std::uint64_t low = byte & 0x7f;
    if (shift == 63 && low > 1) return LebStatus::kOverflow;
    result |= low << shift;
    if ((byte & 0x80) == 0) {
      // A zero final byte after at least one byte means the value had a shorter encoding.
      if (byte == 0 && q - p > 1) return LebStatus::kOverlong;
      out = result;
      p = q;
      return LebStatus::kOk;
    }
    shift += 7;
    if (shift > 63) return LebStatus::kOverflow;
  }
}

LebStatus get_sleb(const std::uint8_t*& p, const std::uint8_t* end, std::int64_t& out) noexcept {
  std::uint64_t result = 0;
  unsigned shift = 0;
  const std::uint8_t* q = p;
  std::uint8_t prev = 0;
  for (;;) {
    if (q == end) return LebStatus::kTruncated;
    const std::uint8_t byte = *q++;
    const std::uint64_t low = byte & 0x7f;
    if (shift == 63) {
      // The tenth byte may only carry the sign: 0x00 (positive) or 0x7f (negative).
      if (low != 0 && low != 0x7f) return LebStatus::kOverflow;
      if (byte & 0x80) return LebStatus::kOverflow;
    }
    result |= low << shift;
    shift += 7;
    if ((byte & 0x80) == 0) {
      if (q - p > 1) {
        // Overlong: the final byte only repeats the sign already carried by the previous one.
        const bool prev_sign = (prev & 0x40) != 0;
        if ((byte == 0x00 && !prev_sign) || (byte == 0x7f && prev_sign)) {
          return LebStatus::kOverlong;
        }
      }
      if (shift < 64 && (byte & 0x40)) result |= ~std::uint64_t{0} << shift;
      out = static_cast<std::int64_t>(result);
      p = q;
      return LebStatus::kOk;
    }
    prev = byte;
    if (shift > 63) return LebStatus::kOverflow;
  }
}

}  // namespace am::enc
