// Scalar values stored in Automerge documents.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "am/bytes.h"

namespace am {

/// The null scalar.
struct Null {
  friend bool operator==(Null, Null) { return true; }
};

/// A counter: an integer whose concurrent increments add up instead of conflicting.
struct Counter {
  std::int64_t value = 0;  ///< the current total
  friend bool operator==(Counter, Counter) = default;
};

/// A point in time, milliseconds since the Unix epoch (UTC).
struct Timestamp {
  std::int64_t millis = 0;  ///< milliseconds since 1970-01-01T00:00:00Z
  friend bool operator==(Timestamp, Timestamp) = default;
};

/// A value of a type this version does not know (format type codes 10-15). Kept verbatim so
/// that documents written by newer implementations survive a load/save round trip.
struct UnknownValue {
  std::uint8_t type_code = 10;  ///< the type code from the value metadata
  Bytes bytes;                  ///< the raw value bytes
  friend bool operator==(const UnknownValue&, const UnknownValue&) = default;
};

/// Any scalar: null, bool, signed int, unsigned int, 64-bit float, UTF-8 string, bytes,
/// counter, timestamp, or a value of unknown type. Value type; not thread-safe to mutate.
using ScalarValue = std::variant<Null, bool, std::int64_t, std::uint64_t, double, std::string,
                                 Bytes, Counter, Timestamp, UnknownValue>;

}  // namespace am
