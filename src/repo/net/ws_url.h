// Parsing of ws:// URLs for dial_websocket, exposed for tests. No Boost in this header.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "am/result.h"

namespace am::repo::net {

/// The parts of a ws:// URL that a WebSocket client needs.
struct WsUrl {
  std::string host;     // name or address; IPv6 without brackets
  std::uint16_t port;   // 80 when the URL has none
  std::string target;   // path (at least "/") plus "?query" when present
};

/// Parses ws://host[:port][/path][?query]. wss:// is kUnsupported (no TLS yet); any other
/// scheme, a missing host, a port outside 1..65535 or a fragment is kInvalidArgument.
[[nodiscard]] Result<WsUrl> parse_ws_url(std::string_view url);

}  // namespace am::repo::net
