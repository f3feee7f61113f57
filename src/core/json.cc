#include "core/json.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <variant>

namespace am::core {


void json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

std::string base64(ByteView b) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < b.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{b[i]} << 16) | (std::uint32_t{b[i + 1]} << 8) | b[i + 2];
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (i + 1 == b.size()) {
    const std::uint32_t v = std::uint32_t{b[i]} << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out += "==";
  } else if (i + 2 == b.size()) {
    const std::uint32_t v = (std::uint32_t{b[i]} << 16) | (std::uint32_t{b[i + 1]} << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back('=');
  }
  return out;
}

// ISO-8601 UTC with milliseconds, as JavaScript's Date.prototype.toISOString.
std::string iso8601(std::int64_t millis) {
  std::int64_t days = millis / 86400000;
  std::int64_t ms = millis % 86400000;
  if (ms < 0) {
    ms += 86400000;
    days -= 1;
  }
  // Civil-from-days (Howard Hinnant's algorithm).
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t y = yoe + era * 400;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) y += 1;
  char buf[64];
  const char* fmt = (y >= 0 && y <= 9999) ? "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ"
                                         : "%+07lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ";
  std::snprintf(buf, sizeof buf, fmt, static_cast<long long>(y), static_cast<long long>(m),
                static_cast<long long>(d), static_cast<long long>(ms / 3600000),
                static_cast<long long>(ms / 60000 % 60), static_cast<long long>(ms / 1000 % 60),
                static_cast<long long>(ms % 1000));
  return buf;
}

void json_scalar(std::string& out, const ScalarValue& v) {
  struct Visitor {
    std::string& out;
    void operator()(Null) const { out += "null"; }
    void operator()(bool b) const { out += b ? "true" : "false"; }
    void operator()(std::int64_t i) const { out += std::to_string(i); }
    void operator()(std::uint64_t u) const { out += std::to_string(u); }
    void operator()(double d) const {
      if (!std::isfinite(d)) {
        out += "null";  // as JSON.stringify
        return;
      }
      if (d == 0) {
        out += "0";  // as JSON.stringify, which writes -0 as 0
        return;
      }
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, d);
      out.append(buf, r.ptr);
    }
    void operator()(const std::string& s) const { json_string(out, s); }
    void operator()(const Bytes& b) const { json_string(out, base64(b)); }
    void operator()(Counter c) const { out += std::to_string(c.value); }
    void operator()(Timestamp t) const { json_string(out, iso8601(t.millis)); }
    void operator()(const UnknownValue& u) const { json_string(out, base64(u.bytes)); }
  };
  std::visit(Visitor{out}, v);
}


}  // namespace am::core
