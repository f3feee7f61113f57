// TCP transport: each frame is a 4-byte big-endian unsigned payload length, then the payload
// (automerge-repo-rs / samod framing, spec §1.1).
//
// A connection lives on its socket's strand; every member below is touched only there. States:
//   authenticating  (listeners with TransportOptions::authenticate) reading the one credentials
//            frame; nobody outside holds the connection yet; a timer bounds it
//   open     reading frames, writing the queue
//   closing  after close(): on_close(kLocalClose) reported; the queue is flushed, then the
//            sending side is shut down, and incoming bytes are read and discarded until the peer
//            closes too, so our close does not turn into a reset that could destroy frames the
//            peer has not read yet. A timer (handshake_timeout) bounds this.
//   done     socket closed; completions that still arrive are ignored.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <list>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "repo/net/asio_io.h"
#include "repo/net/connection_core.h"
#include "repo/net/socket_util.h"
#include "repo/net/transport.h"

namespace am::repo::net {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr std::size_t kLengthPrefixBytes = 4;
constexpr std::size_t kMaxCredentialsFrameBytes = 4096;
constexpr std::size_t kFirstBodyChunk = 64 * 1024;
constexpr std::string_view kBearerPrefix = "Bearer ";

void append_cbor_text(Bytes& out, std::string_view text) {
  const std::size_t n = text.size();
  if (n < 24) {
    out.push_back(static_cast<std::uint8_t>(0x60 + n));
  } else if (n < 256) {
    out.push_back(0x78);
    out.push_back(static_cast<std::uint8_t>(n));
  } else {
    const std::size_t m = std::min<std::size_t>(n, 0xffff);
    out.push_back(0x79);
    out.push_back(static_cast<std::uint8_t>(m >> 8));
    out.push_back(static_cast<std::uint8_t>(m));
    text = text.substr(0, m);
  }
  out.insert(out.end(), text.begin(), text.end());
}

// The repo protocol's `error` message, {"type": "error", "message": text}, CBOR-encoded here so
// that the transport needs no codec for the one message it sends itself.
Bytes error_message_frame(std::string_view text) {
  Bytes out{0xa2};
  append_cbor_text(out, "type");
  append_cbor_text(out, "error");
  append_cbor_text(out, "message");
  append_cbor_text(out, text);
  return out;
}

class TcpConnection final : public Connection, public std::enable_shared_from_this<TcpConnection> {
 public:
  // REQUIRES: `socket` is connected and its executor is a strand used by nothing else.
  TcpConnection(tcp::socket socket, const TransportOptions& options,
                AcceptLoop::Lease lease = nullptr)
      : socket_(std::move(socket)),
        options_(options),
        lease_(std::move(lease)),
        description_("tcp " + remote_text(socket_)),
        linger_timer_(socket_.get_executor()) {
    error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);  // small sync messages go out at once
  }

  void start(Handler handler) override {
    asio::post(socket_.get_executor(),
               [self = shared_from_this(), handler = std::move(handler)]() mutable {
                 self->slot_.start(std::move(handler));
                 if (self->state_ == State::kOpen && !self->reading_) self->read_header();
               });
  }

  void send(Bytes frame) override {
    asio::post(socket_.get_executor(),
               [self = shared_from_this(), frame = std::move(frame)]() mutable {
                 self->queue_frame(std::move(frame));
               });
  }

  void close() override {
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->close_gracefully(); });
  }

  std::string describe() const override { return description_; }
  std::string principal() const override { return principal_; }

  // Listener side, with options.authenticate: reads the credentials frame, then hands the
  // connection to `loop` or refuses it. REQUIRES: called once, before anyone else holds it.
  void authenticate_then_deliver(std::shared_ptr<AcceptLoop> loop) {
    asio::post(socket_.get_executor(), [self = shared_from_this(), loop = std::move(loop)]() mutable {
      self->state_ = State::kAuthenticating;
      self->accept_loop_ = std::move(loop);
      self->linger_timer_.expires_after(self->options_.handshake_timeout);
      self->linger_timer_.async_wait([self](error_code ec) {
        if (!ec && self->state_ == State::kAuthenticating) self->close_socket();  // never said who
      });
      self->read_header();
    });
  }

 private:
  enum class State { kAuthenticating, kOpen, kClosing, kDone };

  bool receiving() const { return state_ == State::kOpen || state_ == State::kAuthenticating; }

  void check_credentials(const Bytes& frame) {
    linger_timer_.cancel();
    auto loop = std::move(accept_loop_);
    const std::string_view text(reinterpret_cast<const char*>(frame.data()), frame.size());
    Result<std::string> who =
        text.substr(0, kBearerPrefix.size()) == kBearerPrefix
            ? options_.authenticate(text.substr(kBearerPrefix.size()))
            : options_.authenticate(std::string_view());
    if (!who) {
      // Told why, then closed; the frame was not a credentials frame, or they were refused.
      state_ = State::kOpen;
      queue_frame(error_message_frame("unauthorized: " + who.error().message));
      return close_gracefully();
    }
    principal_ = std::move(*who);
    state_ = State::kOpen;  // reading resumes at start()
    loop->deliver(shared_from_this());
  }

  // ---- reading -----------------------------------------------------------------------------

  void read_header() {
    reading_ = true;
    asio::async_read(socket_, asio::buffer(header_in_),
                     [self = shared_from_this()](error_code ec, std::size_t n) {
                       self->reading_ = false;
                       self->on_header(ec, n);
                     });
  }

  void on_header(error_code ec, std::size_t bytes_read) {
    if (!receiving()) return keep_draining(ec);
    if (ec == asio::error::eof && bytes_read == 0) {
      return fail(CloseReason::kPeerClosed, "peer closed the connection");
    }
    if (ec == asio::error::eof) {
      return fail(CloseReason::kIoError, "connection ended inside a frame's length prefix");
    }
    if (ec) return fail(CloseReason::kIoError, "read: " + ec.message());
    const std::uint32_t length = (std::uint32_t{header_in_[0]} << 24) |
                                 (std::uint32_t{header_in_[1]} << 16) |
                                 (std::uint32_t{header_in_[2]} << 8) | std::uint32_t{header_in_[3]};
    if (state_ == State::kAuthenticating && length > kMaxCredentialsFrameBytes) {
      return fail(CloseReason::kFrameTooLarge, "a credentials frame of " + std::to_string(length) + " bytes");
    }
    if (length > options_.max_frame_bytes) {
      // Refused before reading or allocating the body.
      return fail(CloseReason::kFrameTooLarge,
                  "peer announced a frame of " + std::to_string(length) + " bytes; the limit is " +
                      std::to_string(options_.max_frame_bytes));
    }
    if (length == 0) return deliver(Bytes{});
    body_length_ = length;
    body_in_.clear();
    read_body();
  }

  // The body arrives in pieces into a buffer that grows with what actually arrived (at most
  // doubling), so a peer announcing a large frame and then sending nothing pins 64 KiB, not the
  // announced size.
  void read_body() {
    const std::size_t have = body_in_.size();
    const std::size_t want = std::min(body_length_, std::max<std::size_t>(kFirstBodyChunk, 2 * have));
    body_in_.resize(want);
    reading_ = true;
    asio::async_read(socket_, asio::buffer(body_in_.data() + have, want - have),
                     [self = shared_from_this(), have](error_code body_ec, std::size_t n) {
                       self->reading_ = false;
                       self->on_body(body_ec, have + n);
                     });
  }

  void on_body(error_code ec, std::size_t bytes_read) {
    if (!receiving()) return keep_draining(ec);
    if (ec == asio::error::eof) {
      return fail(CloseReason::kIoError, "connection ended inside a frame (" +
                                             std::to_string(bytes_read) + " of " +
                                             std::to_string(body_length_) + " bytes)");
    }
    if (ec) return fail(CloseReason::kIoError, "read: " + ec.message());
    if (bytes_read < body_length_) return read_body();
    Bytes frame = std::move(body_in_);
    body_in_ = Bytes();
    deliver(std::move(frame));
  }

  void deliver(Bytes frame) {
    if (state_ == State::kAuthenticating) return check_credentials(frame);
    slot_.frame(std::move(frame));
    // The handler cannot have changed state_ (close() and send() are posted), but stay safe.
    if (state_ == State::kOpen) read_header();
  }

  // After close(): read and discard until the peer's end of stream, then close the socket.
  void keep_draining(error_code ec) {
    if (state_ != State::kClosing) return;
    if (ec) return close_socket();
    reading_ = true;
    socket_.async_read_some(asio::buffer(drain_buffer_),
                            [self = shared_from_this()](error_code read_ec, std::size_t) {
                              self->reading_ = false;
                              self->keep_draining(read_ec);
                            });
  }

  // ---- writing -----------------------------------------------------------------------------

  void queue_frame(Bytes frame) {
    if (state_ != State::kOpen) return;  // dropped after close
    if (frame.size() > std::numeric_limits<std::uint32_t>::max()) {
      return fail(CloseReason::kFrameTooLarge, "cannot send a frame of " +
                                                   std::to_string(frame.size()) +
                                                   " bytes: the length prefix holds 32 bits");
    }
    queued_bytes_ += frame.size();
    if (options_.max_queued_bytes != 0 && queued_bytes_ > options_.max_queued_bytes) {
      return fail(CloseReason::kSlowPeer, std::to_string(queued_bytes_) +
                                              " bytes waiting to be sent: the peer is not reading");
    }
    send_queue_.push_back(std::move(frame));
    if (!writing_) write_next();
  }

  void write_next() {
    if (send_queue_.empty() || state_ == State::kDone) {
      if (state_ == State::kClosing) shut_down_sending();
      return;
    }
    writing_ = true;
    const auto size = static_cast<std::uint32_t>(send_queue_.front().size());
    header_out_ = {static_cast<std::uint8_t>(size >> 24), static_cast<std::uint8_t>(size >> 16),
                   static_cast<std::uint8_t>(size >> 8), static_cast<std::uint8_t>(size)};
    const std::array<asio::const_buffer, 2> buffers{asio::buffer(header_out_),
                                                     asio::buffer(send_queue_.front())};
    asio::async_write(socket_, buffers, [self = shared_from_this()](error_code ec, std::size_t) {
      self->on_written(ec);
    });
  }

  void on_written(error_code ec) {
    writing_ = false;
    if (state_ == State::kDone) return;
    if (ec) {
      if (state_ == State::kClosing) return close_socket();  // the flush failed; stop lingering
      return fail(CloseReason::kIoError, "write: " + ec.message());
    }
    queued_bytes_ -= send_queue_.front().size();
    send_queue_.pop_front();
    write_next();
  }

  // ---- closing -----------------------------------------------------------------------------

  void close_gracefully() {
    if (state_ != State::kOpen) return;
    state_ = State::kClosing;
    slot_.close(CloseReason::kLocalClose, "closed locally");
    linger_timer_.expires_after(options_.handshake_timeout);
    linger_timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->close_socket();  // the peer neither read our frames nor closed in time
    });
    if (!writing_) write_next();  // an empty queue shuts the sending side down at once
    if (!reading_) keep_draining({});
  }

  void shut_down_sending() {
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
  }

  // An error, the peer's close or an oversized frame: report and drop the socket at once.
  void fail(CloseReason reason, std::string detail) {
    if (state_ == State::kDone) return;
    slot_.close(reason, std::move(detail));
    close_socket();
  }

  void close_socket() {
    state_ = State::kDone;
    lease_.reset();
    send_queue_.clear();
    queued_bytes_ = 0;
    linger_timer_.cancel();
    error_code ignored;
    socket_.close(ignored);  // pending operations complete with operation_aborted
  }

  tcp::socket socket_;
  const TransportOptions options_;
  AcceptLoop::Lease lease_;  // counts us against the listener's max_connections until closed
  const std::string description_;
  std::string principal_;  // set before the connection is handed out, constant afterwards
  std::shared_ptr<AcceptLoop> accept_loop_;  // while authenticating
  asio::steady_timer linger_timer_;
  // Everything below is touched only on the socket's strand.
  State state_ = State::kOpen;
  HandlerSlot slot_;
  bool reading_ = false;
  bool writing_ = false;
  std::array<std::uint8_t, kLengthPrefixBytes> header_in_{};
  Bytes body_in_;                // the part of the current frame's body read so far
  std::size_t body_length_ = 0;  // the current frame's announced length
  std::array<std::uint8_t, 4096> drain_buffer_{};
  std::list<Bytes> send_queue_;  // front() is being written while writing_ (a list: an empty
                                 // deque costs ~600 bytes, and idle connections are the norm)
  std::size_t queued_bytes_ = 0;  // bytes in send_queue_
  std::array<std::uint8_t, kLengthPrefixBytes> header_out_{};
};

// One dial: resolve, connect, all under one deadline. Lives on the new connection's strand.
class TcpDial : public std::enable_shared_from_this<TcpDial> {
 public:
  TcpDial(asio::io_context& context, std::string host, std::uint16_t port, DialHandler on_dialed,
          const TransportOptions& options)
      : strand_(asio::make_strand(context)),
        resolver_(strand_),
        socket_(strand_),
        deadline_(strand_),
        host_(std::move(host)),
        port_(port),
        on_dialed_(std::move(on_dialed)),
        options_(options) {}

  void run() {
    asio::post(strand_, [self = shared_from_this()] {
      self->deadline_.expires_after(self->options_.handshake_timeout);
      self->deadline_.async_wait([self](error_code ec) {
        if (!ec) self->time_out();
      });
      self->resolver_.async_resolve(
          self->host_, std::to_string(self->port_), tcp::resolver::numeric_service,
          [self](error_code resolve_ec, const tcp::resolver::results_type& endpoints) {
            self->on_resolved(resolve_ec, endpoints);
          });
    });
  }

 private:
  std::string where() const { return "tcp dial " + host_port_text(host_, port_); }

  void on_resolved(error_code ec, const tcp::resolver::results_type& endpoints) {
    if (done_) return;
    if (ec) return finish(fail(Error::io_error(where(), "resolve: " + ec.message())));
    asio::async_connect(socket_, endpoints,
                        [self = shared_from_this()](error_code connect_ec, const tcp::endpoint&) {
                          self->on_connected(connect_ec);
                        });
  }

  void on_connected(error_code ec) {
    if (done_) return;
    if (ec) return finish(fail(Error::io_error(where(), "connect: " + ec.message())));
    auto connection = std::make_shared<TcpConnection>(std::move(socket_), options_);
    // Queued before anyone else can send: the credentials go out as the first frame.
    if (!options_.auth_token.empty()) connection->send(tcp_auth_frame(options_.auth_token));
    finish(std::shared_ptr<Connection>(std::move(connection)));
  }

  void time_out() {
    if (done_) return;
    resolver_.cancel();
    error_code ignored;
    socket_.close(ignored);
    finish(fail(Error::timeout(
        where(), "no connection within " + std::to_string(options_.handshake_timeout.count()) + " ms")));
  }

  void finish(Result<std::shared_ptr<Connection>> result) {
    done_ = true;
    deadline_.cancel();
    DialHandler handler = std::move(on_dialed_);
    handler(std::move(result));
  }

  Strand strand_;
  tcp::resolver resolver_;
  tcp::socket socket_;
  asio::steady_timer deadline_;
  const std::string host_;
  const std::uint16_t port_;
  DialHandler on_dialed_;
  const TransportOptions options_;
  bool done_ = false;  // on strand_
};

}  // namespace

Bytes tcp_auth_frame(std::string_view token) {
  Bytes out(kBearerPrefix.begin(), kBearerPrefix.end());
  out.insert(out.end(), token.begin(), token.end());
  return out;
}

Result<std::unique_ptr<Listener>> listen_tcp(IoContext& io, const std::string& host,
                                             std::uint16_t port, AcceptHandler on_accept,
                                             TransportOptions options) {
  auto on_socket = [options](tcp::socket socket, const std::shared_ptr<AcceptLoop>& loop,
                             AcceptLoop::Lease lease) {
    auto connection = std::make_shared<TcpConnection>(std::move(socket), options, std::move(lease));
    if (options.authenticate) return connection->authenticate_then_deliver(loop);
    loop->deliver(std::move(connection));
  };
  AM_TRY_ASSIGN(auto loop, AcceptLoop::open(asio_context(io), host, port, std::move(on_accept),
                                            std::move(on_socket), "tcp", options.max_connections));
  return make_listener(std::move(loop));
}

void dial_tcp(IoContext& io, const std::string& host, std::uint16_t port, DialHandler on_dialed,
              TransportOptions options) {
  std::make_shared<TcpDial>(asio_context(io), host, port, std::move(on_dialed), options)->run();
}

}  // namespace am::repo::net
