// Test helpers for writing byte strings as hex.
#pragma once

#include <string>
#include <string_view>

#include "am/bytes.h"

namespace am::test {

/// Parses hex with optional spaces ("7f 01 02"); aborts the test binary on malformed text,
/// which only a typo in a test can cause.
inline Bytes hex(std::string_view text) {
  std::string compact;
  for (char c : text) {
    if (c != ' ' && c != '\n') compact.push_back(c);
  }
  Bytes out;
  if (!from_hex(compact, out)) std::abort();
  return out;
}

}  // namespace am::test
