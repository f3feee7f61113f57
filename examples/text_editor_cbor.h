// The text editor example's cursor message: {"cursor": N, "name": S} in CBOR, the form JS peers
// send with handle.broadcast (cbor-x). Just this shape; a real app would use a CBOR library.
#pragma once

#include <cstdint>
#include <string>

#include "am/bytes.h"

namespace editor {

// A CBOR item head: major type and argument (a short argument inline, else 8 bytes).
inline void cbor_head(am::Bytes& out, std::uint8_t major, std::uint64_t n) {
  const unsigned type_bits = static_cast<unsigned>(major) << 5;
  if (n < 24) {
    out.push_back(static_cast<std::uint8_t>(type_bits | static_cast<unsigned>(n)));
  } else {
    out.push_back(static_cast<std::uint8_t>(type_bits | 27u));
    for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(n >> s));
  }
}

inline void cbor_text(am::Bytes& out, const std::string& s) {
  cbor_head(out, 3, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

inline am::Bytes encode_cursor(std::uint64_t cursor, const std::string& name) {
  am::Bytes out;
  cbor_head(out, 5, 2);
  cbor_text(out, "cursor");
  cbor_head(out, 0, cursor);
  cbor_text(out, "name");
  cbor_text(out, name);
  return out;
}

// Reads one head at `at` (any argument width); false when truncated or indefinite.
inline bool read_head(const am::Bytes& in, std::size_t& at, std::uint8_t& major, std::uint64_t& n) {
  if (at >= in.size()) return false;
  major = in[at] >> 5;
  const std::uint8_t info = in[at++] & 31;
  if (info < 24) {
    n = info;
    return true;
  }
  const int bytes = info == 24 ? 1 : info == 25 ? 2 : info == 26 ? 4 : info == 27 ? 8 : 0;
  if (bytes == 0 || at + static_cast<std::size_t>(bytes) > in.size()) return false;
  n = 0;
  for (int i = 0; i < bytes; ++i) n = n << 8 | in[at++];
  return true;
}

// False for anything but a map of exactly "cursor" (unsigned) and "name" (text): other apps'
// ephemeral messages on the same document are ignored.
inline bool decode_cursor(const am::Bytes& in, std::uint64_t& cursor, std::string& name) {
  std::size_t at = 0;
  std::uint8_t major = 0;
  std::uint64_t n = 0;
  if (!read_head(in, at, major, n) || major != 5) return false;
  bool have_cursor = false, have_name = false;
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint64_t len = 0;
    if (!read_head(in, at, major, len) || major != 3 || len > in.size() - at) return false;
    const std::string key(in.begin() + static_cast<long>(at), in.begin() + static_cast<long>(at + len));
    at += len;
    std::uint64_t v = 0;
    if (!read_head(in, at, major, v)) return false;
    if (key == "cursor" && major == 0) {
      cursor = v;
      have_cursor = true;
    } else if (key == "name" && major == 3 && v <= in.size() - at) {
      name.assign(in.begin() + static_cast<long>(at), in.begin() + static_cast<long>(at + v));
      at += v;
      have_name = true;
    } else {
      return false;
    }
  }
  return have_cursor && have_name;
}

}  // namespace editor
