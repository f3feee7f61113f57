// JSON output helpers shared by the document and the tools (mapping in docs/formats.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "am/bytes.h"
#include "am/value.h"

namespace am::core {

/// Appends `s` as a JSON string literal.
void json_string(std::string& out, std::string_view s);
/// Standard base64 with padding.
std::string base64(ByteView b);
/// ISO-8601 UTC with milliseconds, as JavaScript's Date.prototype.toISOString.
std::string iso8601(std::int64_t millis);
/// Appends a scalar: numbers as numbers (non-finite floats as null), timestamps as ISO-8601
/// strings, bytes as base64 strings.
void json_scalar(std::string& out, const ScalarValue& v);

}  // namespace am::core
