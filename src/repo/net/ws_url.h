// Parsing of ws:// and wss:// URLs for dial_websocket, exposed for tests. No Boost in this header.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "am/result.h"

namespace am::repo::net {

/// The parts of a ws:// or wss:// URL that a WebSocket client needs.
struct WsUrl {
  bool tls = false;     // wss://
  std::string host;     // name or address; IPv6 without brackets
  std::uint16_t port;   // 80 (ws) or 443 (wss) when the URL has none
  std::string target;   // path (at least "/") plus "?query" when present
};

/// Parses ws[s]://host[:port][/path][?query]. Any other scheme, a missing host, a port outside
/// 1..65535 or a fragment is kInvalidArgument.
[[nodiscard]] Result<WsUrl> parse_ws_url(std::string_view url);

}  // namespace am::repo::net
