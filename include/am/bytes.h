// Byte containers used across the API.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace am {

/// An owned, growable byte buffer.
using Bytes = std::vector<std::uint8_t>;

/// A read-only view of bytes owned elsewhere. The viewed bytes must outlive the view.
using ByteView = std::span<const std::uint8_t>;

/// Lowercase hexadecimal text of `bytes`.
std::string to_hex(ByteView bytes);

/// Parses hexadecimal text (either case, even length). Returns false on malformed text.
bool from_hex(std::string_view hex, Bytes& out);

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace am
