// What a WebSocket listener takes from an HTTP upgrade request: the method, the path and query,
// whether it asks for a WebSocket, and the bearer token it presents. One function serves the
// live listener (on a request Beast already parsed) and tests and fuzzing (on raw bytes), so the
// fuzzer covers the code that runs on every connection attempt. Includes Beast's HTTP headers;
// only for .cc files in src/repo/net and the fuzz target.
#pragma once

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>

#include <cstddef>
#include <string>
#include <string_view>

#include "am/result.h"

namespace am::repo::net {

/// The most bytes of request head a listener reads before giving up on a client.
inline constexpr std::size_t kMaxUpgradeRequestBytes = 16 * 1024;

/// The parts of an upgrade request the listener decides on.
struct UpgradeRequest {
  bool is_get = false;
  bool is_websocket_upgrade = false;  // GET with Upgrade: websocket and Connection: upgrade
  std::string target;                 // as sent: path and query
  std::string path;                   // target up to '?'
  /// From `Authorization: Bearer <token>` (scheme case-insensitive), else the `token` query
  /// parameter (percent-decoded); empty when neither is present.
  std::string bearer_token;
};

/// Reads the parts of a request Beast parsed.
UpgradeRequest describe_upgrade_request(const boost::beast::http::request<boost::beast::http::empty_body>& request);

/// Parses one HTTP/1.x request head (up to kMaxUpgradeRequestBytes) and describes it;
/// kProtocol naming Beast's complaint for anything that is not a complete, valid head.
[[nodiscard]] Result<UpgradeRequest> parse_upgrade_request(std::string_view bytes);

}  // namespace am::repo::net
