// Fuzzes the WebSocket listener's reading of HTTP upgrade requests (src/repo/net/http_upgrade.h):
// the bytes any client can send before it is authenticated.
//
// Any input must be accepted or rejected with an error, never crash or hang. When it is
// accepted, what the listener decides on must be consistent: the path is the target's prefix
// without a query, and a token only comes from somewhere in the request.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "repo/net/http_upgrade.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto request = am::repo::net::parse_upgrade_request(bytes);
  if (!request) return 0;
  if (request->target.compare(0, request->path.size(), request->path) != 0) __builtin_trap();
  if (request->path.find('?') != std::string::npos) __builtin_trap();
  if (request->is_websocket_upgrade && !request->is_get) __builtin_trap();
  if (!request->bearer_token.empty()) {
    std::string lower(bytes);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const bool named = lower.find("bearer") != std::string::npos || lower.find("token") != std::string::npos ||
                       lower.find('%') != std::string::npos;  // percent-encoded parameter names
    if (!named) __builtin_trap();  // a token out of nowhere
  }
  return 0;
}
