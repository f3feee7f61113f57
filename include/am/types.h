// Identifier types shared across the library.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "am/bytes.h"

namespace am {

/// The SHA-256 hash identifying a change. Ordered by bytes (the order heads are sorted in).
/// Value type; thread safety as for std::array.
struct ChangeHash {
  std::array<std::uint8_t, 32> bytes{};  ///< the SHA-256 digest

  /// 64 lowercase hex digits.
  std::string to_hex() const;
  /// Parses 64 hex digits; nullopt on anything else.
  static std::optional<ChangeHash> from_hex(std::string_view hex);

  friend auto operator<=>(const ChangeHash&, const ChangeHash&) = default;
  friend bool operator==(const ChangeHash&, const ChangeHash&) = default;
};

}  // namespace am
