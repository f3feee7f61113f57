// Transports of the repo: ordered, reliable connections that carry whole frames (one CBOR-encoded
// repo message each, spec §1.1), over TCP, WebSocket or memory, and the event loop they run on.
//
//   TCP        each frame is a 4-byte big-endian unsigned length, then that many payload bytes
//              (the framing of automerge-repo-rs and samod). Zero-length frames are allowed.
//   WebSocket  one binary message per frame (the JS automerge-repo adapters). A text message is
//              a protocol error. The server pings every TransportOptions::ping_interval and drops
//              a client that has not answered the previous ping (the JS server's keepalive).
//   memory     two connected endpoints in one process, for tests and the deterministic
//              simulation; frames cross through IoContext::post.
//
// This header includes no Boost header: Asio and Beast stay inside src/repo/net/*.cc (each TU
// that includes Beast costs ~45 s and 1.2 GB to compile). Code in src/repo that needs the
// underlying boost::asio::io_context includes repo/net/asio_io.h.
//
// Threading. Every callback (Connection::Handler, AcceptHandler, DialHandler) runs on one of the
// IoContext's threads. The callbacks of one connection are serialized: never concurrent, in
// order. Callbacks of different connections may run concurrently when the IoContext has several
// threads. Callbacks must not throw (an exception escaping one ends the process) and should not
// block: they hold up every connection sharing their thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "am/bytes.h"
#include "am/limits.h"
#include "am/repo/transport.h"
#include "am/result.h"

namespace am::repo::net {

/// An event loop and the worker threads that run it (a pimpl over boost::asio::io_context).
/// The threads start in the constructor and run until stop() or destruction. Work posted after
/// stop() is discarded, and so are pending callbacks: a connection whose IoContext stopped never
/// calls its handler again.
/// Listeners and connections made on an IoContext must be destroyed before it.
/// Thread safety: every member is safe to call from any thread, except that stop() and the
/// destructor must not be called from one of this object's own threads (they join them).
class IoContext {
 public:
  /// Starts `threads` worker threads (at least one).
  explicit IoContext(std::size_t threads = 1);
  /// stop(), then destroys pending work (which may destroy connections held only by it).
  ~IoContext();
  IoContext(const IoContext&) = delete;
  IoContext& operator=(const IoContext&) = delete;

  /// Runs `task` once on some io thread, unless the loop is stopped first.
  void post(std::function<void()> task);

  /// Stops the loop and joins the threads. Idempotent. REQUIRES: not called on an io thread.
  void stop();

  /// Internal accessor for src/repo; repo/net/asio_io.h defines Impl.
  struct Impl;
  Impl& impl();

 private:
  std::unique_ptr<Impl> impl_;
};

// The connection interface is public (am/repo/transport.h): the built-in transports below
// implement am::repo::Connection, the same interface an application implements for its own
// channel. These names keep src/repo's spelling (net::Connection, net::CloseReason, ...).
using am::repo::CloseInfo;
using am::repo::CloseReason;
using am::repo::Connection;
using am::repo::to_string;

/// Limits and timers of a connection. Each side of a connection applies its own options.
struct TransportOptions {
  /// Largest frame accepted from the peer. TCP rejects a larger announced length before reading
  /// or allocating the body; WebSocket sets Beast's read_message_max to it.
  std::size_t max_frame_bytes = kDefaultMaxMessageBytes;
  /// Bounds connecting (TCP and WebSocket dial), the HTTP upgrade (WebSocket, both sides), and
  /// the flush and close handshake after close().
  std::chrono::milliseconds handshake_timeout{10000};
  /// WebSocket server only: ping interval; a client that has not answered the previous ping when
  /// the next one is due is closed with kTimeout. Zero turns keepalive off.
  std::chrono::milliseconds ping_interval{5000};
  /// Frames queued for sending but not yet written, in bytes, above which the connection is
  /// closed with kSlowPeer: a peer that stops reading cannot make us buffer without bound.
  /// Zero means no limit.
  std::size_t max_queued_bytes = kDefaultMaxQueuedBytes;

  /// WebSocket server only: answers plain HTTP GET requests that are not upgrades (health and
  /// metrics endpoints). Given the request target ("/health"), returns the content type and body
  /// of a 200 answer, or nullopt for 404. Without it such requests get 426. Runs on an io thread
  /// and must not block.
  std::function<std::optional<std::pair<std::string, std::string>>(std::string_view target)> http_handler;

  /// Listener only: who may connect. Given the bearer token the peer presented (empty when it
  /// presented none), returns the principal to record on the connection (Connection::principal)
  /// or an error whose message tells the peer why it was refused. WebSocket: the token comes from
  /// `Authorization: Bearer <token>` or, for browsers that cannot set headers, a `token` query
  /// parameter; a refusal is HTTP 401 with the message as the body. TCP: the peer's first frame
  /// must be the ASCII text `Bearer <token>` (see auth_token); a refusal is an `error` repo
  /// message carrying the text, then close. A TCP peer that sends nothing is dropped after
  /// handshake_timeout. Unset: every peer is accepted with an empty principal. Runs on an io
  /// thread; must not block.
  std::function<Result<std::string>(std::string_view token)> authenticate;
  /// Dialing only: the bearer token to present (as above); empty presents none.
  std::string auth_token;
  /// Listener only: connections open at once (counting those still in their handshake) above
  /// which a newly accepted socket is closed at once. Zero means no limit.
  std::size_t max_connections = 0;
  /// WebSocket listener only: serve wss:// (TLS 1.2+) with this certificate chain and private key
  /// (PEM files, read once by listen_websocket; kInvalidArgument when they do not load or match).
  /// Both empty: plain ws://.
  std::string tls_cert_file;
  std::string tls_key_file;
  /// Dialing wss:// only: trust server certificates signed by the CAs in this PEM file (e.g. a
  /// self-signed certificate itself) instead of the system's. The server's certificate must name
  /// the host of the URL (DNS name or IP address).
  std::string tls_ca_file;
};

/// The first TCP frame that carries `token` (TransportOptions::auth_token): "Bearer " + token.
Bytes tcp_auth_frame(std::string_view token);

/// An open listening socket. close() or destruction stops accepting; connections it accepted
/// earlier are unaffected.
/// Thread safety: all members are safe from any thread. After close() returns the accept
/// handler is not called again (a call already running may still finish).
class Listener {
 public:
  virtual ~Listener();
  /// The bound port (the ephemeral one when listening on port 0).
  virtual std::uint16_t port() const = 0;
  /// Stops accepting. Idempotent.
  virtual void close() = 0;
};

/// Receives each accepted connection, not yet started. Runs on an io thread, serialized per
/// listener.
using AcceptHandler = std::function<void(std::shared_ptr<Connection>)>;

/// Receives the connection (not yet started) or why dialing failed: kIOError (resolve, refused,
/// reset), kTimeout (handshake_timeout passed), kProtocol (HTTP upgrade refused, e.g. 404),
/// kInvalidArgument/kUnsupported (bad URL). Runs exactly once, on an io thread.
using DialHandler = std::function<void(Result<std::shared_ptr<Connection>>)>;

/// Listens for length-prefixed TCP connections on `host` (an address or a name resolving to one)
/// and `port` (0 picks an ephemeral port). kIOError if the address cannot be resolved or bound.
[[nodiscard]] Result<std::unique_ptr<Listener>> listen_tcp(IoContext& io, const std::string& host,
                                                          std::uint16_t port,
                                                          AcceptHandler on_accept,
                                                          TransportOptions options = {});

/// Connects to a length-prefixed TCP listener. The result goes to `on_dialed`.
void dial_tcp(IoContext& io, const std::string& host, std::uint16_t port, DialHandler on_dialed,
              TransportOptions options = {});

/// Listens for WebSocket upgrades. `path` "/" accepts any request target; any other value
/// accepts only that exact path (any query string aside) and answers others with HTTP 404. A
/// handshake that does not finish within handshake_timeout is dropped. Errors as listen_tcp.
[[nodiscard]] Result<std::unique_ptr<Listener>> listen_websocket(IoContext& io,
                                                                const std::string& host,
                                                                std::uint16_t port,
                                                                std::string path,
                                                                AcceptHandler on_accept,
                                                                TransportOptions options = {});

/// Connects to `url` = ws[s]://host[:port][/path][?query] (port 80 or 443 when absent); malformed
/// URLs fail with kInvalidArgument, a TLS handshake or certificate check with kIOError naming the
/// reason ("certificate verify failed"). A server that refuses
/// the upgrade (HTTP 401, 404, ...) fails the dial with kProtocol naming the status and the
/// server's reason. The client answers the
/// server's pings and does not ping itself (like the JS client).
void dial_websocket(IoContext& io, const std::string& url, DialHandler on_dialed,
                    TransportOptions options = {});

/// Two connected in-memory endpoints: a frame sent on one arrives at the other via
/// IoContext::post. Closing one reports kPeerClosed on the other. `options` applies to both:
/// max_frame_bytes; the timers are unused.
std::pair<std::shared_ptr<Connection>, std::shared_ptr<Connection>> memory_pair(
    IoContext& io, TransportOptions options = {});

}  // namespace am::repo::net
