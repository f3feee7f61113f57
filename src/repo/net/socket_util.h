// Asio helpers shared by the TCP and WebSocket transports: the accept loop behind a Listener,
// endpoint text for describe(), and error-code text. Includes Asio (not Beast); only for .cc
// files in src/repo/net.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "am/result.h"
#include "repo/net/transport.h"

namespace am::repo::net {

using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

/// "127.0.0.1:5432" or "[::1]:5432".
std::string endpoint_text(const boost::asio::ip::tcp::endpoint& endpoint);

/// endpoint_text of the socket's peer, or "unknown peer" when it has none.
std::string remote_text(const boost::asio::ip::tcp::socket& socket);

/// The host as it appears in a URL or Host header: IPv6 literals in brackets.
std::string host_text(std::string_view host);

/// "host:port", bracketing IPv6 literals.
std::string host_port_text(std::string_view host, std::uint16_t port);

/// Makes Asio's io_context keep at least `count` more per-socket reactor records (its
/// descriptor states, ~170 bytes each) ready, allocated one after another, by opening and closing
/// that many sockets. Why: Asio pools those records and never frees them; made one per accepted
/// socket, each lands between that connection's other blocks and, after the connections close,
/// pins the heap pages around it (5,000 closed connections held ~15 MB that way). Made in runs,
/// they fill a few pages of their own. Stops early when no more sockets can be opened.
void reserve_socket_states(boost::asio::io_context& context, std::size_t count);

/// Accepts TCP connections on one address (at most max_connections alive at once, when nonzero:
/// a socket accepted beyond that is closed at once), each socket on its own new strand, and hands them to
/// `on_socket` (on the loop's strand, one at a time). The transport turns a socket into a
/// Connection (after a handshake, for WebSocket) and passes it to deliver(), which calls the
/// user's AcceptHandler on the loop's strand unless the loop was closed.
/// Lifetime: shared by the Listener facade and the pending accept; close() ends the accept loop.
/// Thread safety: deliver(), close() and port() are safe from any thread.
class AcceptLoop : public std::enable_shared_from_this<AcceptLoop> {
 public:
  /// Held by a connection for as long as it lives: counts it against max_connections.
  using Lease = std::shared_ptr<void>;
  using OnSocket =
      std::function<void(boost::asio::ip::tcp::socket, std::shared_ptr<AcceptLoop>, Lease)>;

  /// Resolves `host`, binds, listens and starts accepting. `what` names the transport in errors.
  [[nodiscard]] static Result<std::shared_ptr<AcceptLoop>> open(boost::asio::io_context& context,
                                                                const std::string& host,
                                                                std::uint16_t port,
                                                                AcceptHandler on_accept,
                                                                OnSocket on_socket,
                                                                std::string_view what,
                                                                std::size_t max_connections = 0);

  AcceptLoop(boost::asio::io_context& context, AcceptHandler on_accept, OnSocket on_socket,
             std::size_t max_connections);

  /// Passes an accepted, ready connection to the AcceptHandler (posted to the loop's strand).
  void deliver(std::shared_ptr<Connection> connection);
  void close();
  std::uint16_t port() const { return port_; }
  boost::asio::io_context& context() { return context_; }

 private:
  void accept_next();

  boost::asio::io_context& context_;
  Strand strand_;
  boost::asio::ip::tcp::acceptor acceptor_;  // used on strand_ only (after open())
  boost::asio::steady_timer retry_timer_;     // on strand_: pause after a failed accept
  AcceptHandler on_accept_;
  OnSocket on_socket_;
  std::uint16_t port_ = 0;
  std::atomic<bool> closed_{false};
  const std::size_t max_connections_;  // 0: no limit
  // Connections alive at once that Asio's socket records were reserved for (on strand_).
  std::size_t reserved_socket_states_ = 0;
  // Connections accepted and not yet destroyed; shared with their leases, which may outlive us.
  std::shared_ptr<std::atomic<std::size_t>> live_ = std::make_shared<std::atomic<std::size_t>>(0);
};

/// The Listener facade over an AcceptLoop; its destructor closes the loop.
std::unique_ptr<Listener> make_listener(std::shared_ptr<AcceptLoop> loop);

}  // namespace am::repo::net
