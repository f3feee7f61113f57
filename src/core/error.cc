#include <string>

#include "am/bytes.h"
#include "am/result.h"
#include "am/types.h"

namespace am {

const char* error_code_name(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kCorruption: return "corruption";
    case ErrorCode::kNotFound: return "not found";
    case ErrorCode::kMissingDependency: return "missing dependency";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kIOError: return "I/O error";
    case ErrorCode::kProtocol: return "protocol error";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kCancelled: return "cancelled";
    case ErrorCode::kResourceLimit: return "resource limit";
    case ErrorCode::kInternal: return "internal error";
  }
  return "unknown error";
}

namespace {
Error make(ErrorCode code, std::string_view what, std::string_view detail) {
  std::string msg(what);
  if (!detail.empty()) {
    msg += ": ";
    msg += detail;
  }
  return Error(code, std::move(msg));
}
}  // namespace

Error Error::invalid_argument(std::string_view w, std::string_view d) { return make(ErrorCode::kInvalidArgument, w, d); }
Error Error::corruption(std::string_view w, std::string_view d) { return make(ErrorCode::kCorruption, w, d); }
Error Error::not_found(std::string_view w, std::string_view d) { return make(ErrorCode::kNotFound, w, d); }
Error Error::missing_dependency(std::string_view w, std::string_view d) { return make(ErrorCode::kMissingDependency, w, d); }
Error Error::unsupported(std::string_view w, std::string_view d) { return make(ErrorCode::kUnsupported, w, d); }
Error Error::io_error(std::string_view w, std::string_view d) { return make(ErrorCode::kIOError, w, d); }
Error Error::protocol(std::string_view w, std::string_view d) { return make(ErrorCode::kProtocol, w, d); }
Error Error::timeout(std::string_view w, std::string_view d) { return make(ErrorCode::kTimeout, w, d); }
Error Error::cancelled(std::string_view w, std::string_view d) { return make(ErrorCode::kCancelled, w, d); }
Error Error::resource_limit(std::string_view w, std::string_view d) { return make(ErrorCode::kResourceLimit, w, d); }
Error Error::internal(std::string_view w, std::string_view d) { return make(ErrorCode::kInternal, w, d); }

std::string Error::to_string() const { return std::string(error_code_name(code)) + ": " + message; }

Error Error::with_context(std::string_view context) const {
  return Error(code, std::string(context) + ": " + message);
}

std::string to_hex(ByteView bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    s.push_back(kDigits[b >> 4]);
    s.push_back(kDigits[b & 0x0f]);
  }
  return s;
}

namespace {
int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

bool from_hex(std::string_view hex, Bytes& out) {
  if (hex.size() % 2 != 0) return false;
  Bytes result;
  result.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = hex_digit(hex[i]);
    const int lo = hex_digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    result.push_back(static_cast<std::uint8_t>((hi << 4) | lo));
  }
  out = std::move(result);
  return true;
}

std::string ChangeHash::to_hex() const { return am::to_hex(bytes); }

std::optional<ChangeHash> ChangeHash::from_hex(std::string_view hex) {
  Bytes b;
  if (hex.size() != 64 || !am::from_hex(hex, b)) return std::nullopt;
  ChangeHash h;
  std::copy(b.begin(), b.end(), h.bytes.begin());
  return h;
}

}  // namespace am
