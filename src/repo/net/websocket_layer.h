// The stream below the WebSocket layer, with its type erased: plain TCP (ws://, made in
// websocket_plain.cc) or TLS over TCP (wss://, websocket_tls.cc). Beast's websocket::stream is a
// template over this layer; erasing it means Beast's read, write, accept, ping and close
// operations are instantiated once (in websocket_transport.cc) instead of once per stream type.
// They were a third of the CPU time of building amrepo, the TLS copy alone about 60 s.
//
// The price is a virtual call and an erased completion handler per read or write of the socket;
// its memory comes from Asio's per-thread cache (see recycled()).
//
// Threading: as the stream it wraps. A layer is used only on its connection's strand.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/recycling_allocator.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include "am/result.h"
#include "repo/net/socket_util.h"
#include "repo/net/transport.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace am::repo::net::ws {

using boost::system::error_code;
using ReadHandler = boost::asio::any_completion_handler<void(error_code, std::size_t)>;
using WriteHandler = boost::asio::any_completion_handler<void(error_code, std::size_t)>;
using DoneHandler = boost::asio::any_completion_handler<void(error_code)>;

/// An erased handler bound to the stream's executor (the connection's strand, where it runs
/// anyway) before it goes to Asio or Beast: they post completions with the handler's associated
/// executor, and the erased handler's own (any_completion_executor) cannot be posted to in
/// Boost 1.81.
template <class Handler>
auto on_strand(const boost::asio::any_io_executor& executor, Handler&& handler) {
  return boost::asio::bind_executor(executor, std::forward<Handler>(handler));
}

/// Up to kMaxBuffers buffers of one gathered write: a WebSocket frame's header and payload go
/// out in one system call (with TCP_NODELAY, a header alone would be a packet of its own).
struct GatheredBuffers {
  static constexpr std::size_t kMaxBuffers = 8;
  std::array<boost::asio::const_buffer, kMaxBuffers> items{};
  std::size_t count = 0;
  const boost::asio::const_buffer* begin() const { return items.data(); }
  const boost::asio::const_buffer* end() const { return items.data() + count; }
};

/// A WebSocket's next layer (Beast's AsyncStream) over a plain or TLS stream chosen at run time.
/// Owns the stream. Move-only.
class Layer {
 public:
  using executor_type = boost::asio::any_io_executor;

  /// What a concrete stream provides. Every call is made on the connection's strand; handlers
  /// run there too (their associated executor is the strand).
  class Stream {
   public:
    virtual ~Stream() = default;
    virtual boost::beast::tcp_stream& tcp() = 0;
    virtual bool tls() const = 0;
    virtual void read_some(boost::asio::mutable_buffer buffer, ReadHandler handler) = 0;
    virtual void write_some(const GatheredBuffers& buffers, WriteHandler handler) = 0;
    /// The WebSocket's teardown after the close handshake (TLS: shutdown, then the socket's).
    virtual void teardown(boost::beast::role_type role, DoneHandler handler) = 0;
    /// TLS only (a plain stream completes at once): the server's side of the handshake.
    virtual void handshake_as_server(DoneHandler handler) = 0;
    /// TLS only: the client's side, sending `host` as SNI (names only) and verifying the
    /// server's certificate against it. REQUIRES: tcp() is connected.
    virtual void handshake_as_client(const std::string& host, DoneHandler handler) = 0;
  };

  explicit Layer(std::unique_ptr<Stream> stream) : stream_(std::move(stream)) {}

  executor_type get_executor() noexcept { return stream_->tcp().get_executor(); }
  boost::beast::tcp_stream& tcp() { return stream_->tcp(); }
  bool tls() const { return stream_->tls(); }
  void handshake_as_server(DoneHandler handler) { stream_->handshake_as_server(std::move(handler)); }
  void handshake_as_client(const std::string& host, DoneHandler handler) {
    stream_->handshake_as_client(host, std::move(handler));
  }

  /// Reads into the first non-empty buffer of `buffers` (a read may always return less).
  template <class MutableBufferSequence, class Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    boost::asio::mutable_buffer first;
    for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers); ++it) {
      first = *it;
      if (first.size() != 0) break;
    }
    return boost::asio::async_initiate<Token, void(error_code, std::size_t)>(
        [this](auto handler, boost::asio::mutable_buffer buffer) {
          stream_->read_some(buffer, ReadHandler(recycled(std::move(handler))));
        },
        token, first);
  }

  /// Writes from the first kMaxBuffers non-empty buffers of `buffers` (a write may always
  /// write less).
  template <class ConstBufferSequence, class Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    GatheredBuffers gathered;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers) && gathered.count < GatheredBuffers::kMaxBuffers; ++it) {
      const boost::asio::const_buffer b = *it;
      if (b.size() != 0) gathered.items[gathered.count++] = b;
    }
    return boost::asio::async_initiate<Token, void(error_code, std::size_t)>(
        [this](auto handler, const GatheredBuffers& to_write) {
          stream_->write_some(to_write, WriteHandler(recycled(std::move(handler))));
        },
        token, gathered);
  }

  // Beast's customization points, found by argument-dependent lookup.
  friend void beast_close_socket(Layer& layer) { layer.stream_->tcp().close(); }
  template <class TeardownHandler>
  friend void async_teardown(boost::beast::role_type role, Layer& layer, TeardownHandler&& handler) {
    layer.stream_->teardown(role, DoneHandler(recycled(std::forward<TeardownHandler>(handler))));
  }

 private:
  // Memory for the erased handler and the socket operation from Asio's per-thread cache, as for
  // a handler with no allocator of its own: an erased handler's allocator would be plain new
  // and delete (measured: 20% slower on many small messages).
  template <class Handler>
  static auto recycled(Handler&& handler) {
    return boost::asio::bind_allocator(boost::asio::recycling_allocator<void>(), std::forward<Handler>(handler));
  }

  std::unique_ptr<Stream> stream_;
};

/// ws:// : a server's accepted socket, or a client's stream on `strand`, to be connected.
std::unique_ptr<Layer::Stream> plain_stream(boost::asio::ip::tcp::socket socket);
std::unique_ptr<Layer::Stream> plain_stream(const Strand& strand);

/// wss:// : as plain_stream, with TLS made from `context` (which the stream keeps alive).
std::unique_ptr<Layer::Stream> tls_stream(boost::asio::ip::tcp::socket socket,
                                          std::shared_ptr<boost::asio::ssl::context> context);
std::unique_ptr<Layer::Stream> tls_stream(const Strand& strand, std::shared_ptr<boost::asio::ssl::context> context);

/// The server's TLS settings: TLS 1.2 or newer, its certificate chain and private key (PEM).
/// kInvalidArgument naming the file when they cannot be loaded or do not match.
Result<std::shared_ptr<boost::asio::ssl::context>> server_tls_context(const TransportOptions& options);

/// A client's TLS settings: verify the server against options.tls_ca_file, or the system's CAs.
Result<std::shared_ptr<boost::asio::ssl::context>> client_tls_context(const TransportOptions& options);

/// An error's text; for TLS errors OpenSSL's reason ("certificate verify failed").
std::string tls_error_text(const error_code& ec);

}  // namespace am::repo::net::ws
