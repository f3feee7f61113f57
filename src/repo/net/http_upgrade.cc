#include "repo/net/http_upgrade.h"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/params_view.hpp>

#include <cctype>

namespace am::repo::net {

namespace http = boost::beast::http;

UpgradeRequest describe_upgrade_request(const http::request<http::empty_body>& request) {
  UpgradeRequest out;
  out.is_get = request.method() == http::verb::get;
  out.is_websocket_upgrade = boost::beast::websocket::is_upgrade(request);
  out.target = std::string(request.target());
  out.path = out.target.substr(0, out.target.find('?'));
  const auto header = request[http::field::authorization];
  constexpr std::string_view kBearer = "bearer ";
  if (header.size() > kBearer.size()) {
    std::string scheme(header.substr(0, kBearer.size()));
    for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (scheme == kBearer) {
      out.bearer_token = std::string(header.substr(kBearer.size()));
      return out;
    }
  }
  auto target = boost::urls::parse_origin_form(request.target());
  if (!target) return out;
  const auto params = target->params();
  const auto it = params.find("token");
  if (it != params.end() && (*it).has_value) out.bearer_token = std::string((*it).value);
  return out;
}

Result<UpgradeRequest> parse_upgrade_request(std::string_view bytes) {
  http::request_parser<http::empty_body> parser;
  parser.header_limit(kMaxUpgradeRequestBytes);
  parser.eager(true);
  boost::system::error_code ec;
  std::size_t used = 0;
  while (used < bytes.size() && !parser.is_done()) {
    const std::size_t n = parser.put(boost::asio::buffer(bytes.data() + used, bytes.size() - used), ec);
    if (ec == http::error::need_more) break;
    if (ec) return fail(Error::protocol("http upgrade request", ec.message()));
    if (n == 0) break;
    used += n;
  }
  if (!parser.is_header_done()) return fail(Error::protocol("http upgrade request", "incomplete request head"));
  return describe_upgrade_request(parser.get());
}

}  // namespace am::repo::net
