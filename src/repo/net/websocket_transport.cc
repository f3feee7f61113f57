// WebSocket transport (Beast): one binary message per frame, as the JS automerge-repo adapters
// send them (spec §1.1, §1.5), over plain TCP (ws://) or TLS (wss://, OpenSSL through Asio).
// This is the only translation unit that instantiates Beast's WebSocket: over one next layer
// (websocket_layer.h) that is plain TCP or TLS, chosen at run time.
//
// A connection lives on its stream's strand; every member below is touched only there. States:
//   handshake  TLS handshake (wss) and HTTP upgrade in progress; nobody outside holds the
//              connection yet
//   open       reading messages, writing the queue; the server pings every ping_interval
//   closing    after close() (or a text message): on_close reported, the queue flushed, then
//              Beast's close handshake; a timer (handshake_timeout) bounds the whole of it
//   done       socket closed; completions that still arrive are ignored
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstddef>
#include <deque>
#include <list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "repo/net/asio_io.h"
#include "repo/net/connection_core.h"
#include "repo/net/http_upgrade.h"
#include "repo/net/socket_util.h"
#include "repo/net/transport.h"
#include "repo/net/websocket_layer.h"
#include "repo/net/ws_url.h"

namespace am::repo::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using boost::system::error_code;

Result<WsUrl> parse_ws_url(std::string_view url) {
  const std::string what = "websocket url '" + std::string(url) + "'";
  auto parsed = boost::urls::parse_uri(boost::urls::string_view(url.data(), url.size()));
  if (!parsed) return fail(Error::invalid_argument(what, parsed.error().message()));
  const boost::urls::url_view& u = *parsed;
  if (u.scheme_id() != boost::urls::scheme::ws && u.scheme_id() != boost::urls::scheme::wss) {
    return fail(Error::invalid_argument(what, "the scheme must be ws or wss"));
  }
  if (u.has_fragment()) return fail(Error::invalid_argument(what, "a fragment is not allowed"));
  WsUrl out;
  out.tls = u.scheme_id() == boost::urls::scheme::wss;
  out.host = u.host_address();
  if (out.host.empty()) return fail(Error::invalid_argument(what, "no host"));
  out.port = out.tls ? 443 : 80;
  if (u.has_port() && !u.port().empty()) {
    // Parsed here: Boost.URL 1.81's port_number() wraps values above 65535 instead of failing.
    const auto digits = u.port();
    unsigned long port = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (ec != std::errc() || end != digits.data() + digits.size() || port == 0 || port > 65535) {
      return fail(Error::invalid_argument(what, "the port must be 1..65535"));
    }
    out.port = static_cast<std::uint16_t>(port);
  }
  const auto path = u.encoded_path();
  out.target = path.empty() ? std::string("/") : std::string(path.data(), path.size());
  if (u.has_query()) {
    const auto query = u.encoded_query();
    out.target += "?" + std::string(query.data(), query.size());
  }
  return out;
}

namespace {

using ws::Layer;
using ws::tls_error_text;
// permessage-deflate compiled out: the JS adapters do not negotiate it (the `ws` server has it
// off by default) and we never offered it, so Beast's zlib and its compressing paths would only
// cost compile time.
using WsStream = websocket::stream<Layer, /*deflateSupported=*/false>;

// Beast's DynamicBuffer (v1) over the Bytes a message is read into, so the message is handed on
// without a copy. Room for the whole announced frame is reserved at once (pages nobody touched
// cost no memory) but is zeroed and handed to Beast only kStep at a time as bytes arrive: a peer
// that announces a huge frame and then stalls pins little.
class MessageBuffer {
 public:
  using const_buffers_type = asio::const_buffer;
  using mutable_buffers_type = asio::mutable_buffer;

  explicit MessageBuffer(Bytes& bytes) : bytes_(bytes), size_(bytes.size()) {}

  std::size_t size() const { return size_; }
  std::size_t max_size() const { return bytes_.max_size(); }
  std::size_t capacity() const { return bytes_.capacity(); }
  const_buffers_type data() const { return asio::buffer(bytes_.data(), size_); }
  mutable_buffers_type prepare(std::size_t n) {
    if (n > max_size() - size_) throw std::length_error("websocket message buffer overflow");
    if (bytes_.capacity() < size_ + n) bytes_.reserve(size_ + n);
    bytes_.resize(size_ + std::min(n, kStep));
    return asio::buffer(bytes_.data() + size_, bytes_.size() - size_);
  }
  void commit(std::size_t n) {
    size_ += std::min(n, bytes_.size() - size_);
    bytes_.resize(size_);
  }
  void consume(std::size_t n) {
    n = std::min(n, size_);
    bytes_.erase(bytes_.begin(), bytes_.begin() + static_cast<std::ptrdiff_t>(n));
    size_ -= n;
  }

 private:
  static constexpr std::size_t kStep = 64 * 1024;
  Bytes& bytes_;
  std::size_t size_;
};

class WsConnection final : public Connection, public std::enable_shared_from_this<WsConnection> {
 public:
  enum class Role { kClient, kServer };

  // Server side: `stream` wraps a socket just accepted; its executor is a strand used by
  // nothing else.
  // `options` are the listener's, shared by all its connections.
  WsConnection(std::unique_ptr<Layer::Stream> stream, std::shared_ptr<const TransportOptions> options,
               AcceptLoop::Lease lease)
      : ws_(std::move(stream)), role_(Role::kServer), options_(std::move(options)), lease_(std::move(lease)),
        timer_(executor()) {}

  // Client side: `stream` is fresh, on its strand, to be connected by WsDial.
  WsConnection(std::unique_ptr<Layer::Stream> stream, std::shared_ptr<const TransportOptions> options,
               std::string description)
      : ws_(std::move(stream)), role_(Role::kClient), options_(std::move(options)),
        description_(std::move(description)), timer_(executor()) {}

  // ---- Connection --------------------------------------------------------------------------

  void start(Handler handler) override {
    asio::post(executor(), [self = shared_from_this(), handler = std::move(handler)]() mutable {
      self->slot_.start(std::move(handler));
      if (self->state_ != State::kOpen || self->reading_) return;
      self->read_next();
      if (self->role_ == Role::kServer && self->options_->ping_interval.count() > 0) {
        self->schedule_ping();
      }
    });
  }

  void send(Bytes frame) override {
    asio::post(executor(), [self = shared_from_this(), frame = std::move(frame)]() mutable {
      if (self->state_ != State::kOpen) return;  // dropped after close
      self->queued_bytes_ += frame.size();
      if (self->options_->max_queued_bytes != 0 && self->queued_bytes_ > self->options_->max_queued_bytes) {
        return self->fail(CloseReason::kSlowPeer, std::to_string(self->queued_bytes_) +
                                                      " bytes waiting to be sent: the peer is not reading");
      }
      self->send_queue_.push_back(std::move(frame));
      if (!self->writing_) self->write_next();
    });
  }

  void close() override {
    asio::post(executor(), [self = shared_from_this()] {
      if (self->state_ != State::kOpen) return;
      self->begin_close(CloseReason::kLocalClose, "closed locally", websocket::close_code::normal,
                        /*flush=*/true);
    });
  }

  std::string describe() const override { return description_; }
  std::string principal() const override { return principal_; }

  // ---- handshakes (before anyone else holds the connection) --------------------------------

  // Reads the HTTP upgrade request, checks its target against `path`, accepts, then hands the
  // connection to `loop`. Failures just drop the socket.
  void accept_upgrade(std::shared_ptr<AcceptLoop> loop, std::string path) {
    // One deadline for the TLS handshake and the upgrade request.
    tcp_stream().expires_after(options_->handshake_timeout);
    if (ws_.next_layer().tls()) {
      ws_.next_layer().handshake_as_server(
          [self = shared_from_this(), loop = std::move(loop), path = std::move(path)](error_code ec) mutable {
            if (ec) return;  // not TLS, a bad client certificate exchange, or a timeout: drop
            self->read_upgrade_request(std::move(loop), std::move(path));
          });
    } else {
      read_upgrade_request(std::move(loop), std::move(path));
    }
  }

  void read_upgrade_request(std::shared_ptr<AcceptLoop> loop, std::string path) {
    Handshake& hs = handshake();
    hs.request_parser.emplace();
    hs.request_parser->header_limit(kMaxUpgradeRequestBytes);
    http::async_read(ws_.next_layer(), hs.http_buffer, *hs.request_parser,
                     [self = shared_from_this(), loop = std::move(loop), path = std::move(path)](
                         error_code ec, std::size_t) mutable {
                       self->on_upgrade_request(ec, std::move(loop), path);
                     });
  }

  // Client side, wss only: the TLS handshake, verifying the server's certificate against
  // `host` (a name or an IP address). REQUIRES: the TCP connection is established.
  void tls_handshake_as_client(const std::string& host, std::function<void(error_code)> done) {
    ws_.next_layer().handshake_as_client(host, [done = std::move(done)](error_code ec) { done(ec); });
  }

  // REQUIRES: the TCP connection is established. Calls `done` with the outcome.
  void handshake_as_client(const std::string& host_header, const std::string& target,
                           std::function<void(error_code, int http_status, const std::string& body)> done) {
    configure_stream();
    ws_.async_handshake(handshake().upgrade_response, host_header, target,
                        [self = shared_from_this(), done = std::move(done)](error_code ec) {
                          if (!ec) self->state_ = State::kOpen;
                          const auto& response = self->handshake_->upgrade_response;
                          done(ec, static_cast<int>(response.result_int()), response.body());
                          if (!ec) self->handshake_.reset();
                        });
  }

  beast::tcp_stream& tcp_stream() { return ws_.next_layer().tcp(); }

  // Closes the socket at once (used by a dial that timed out).
  void abort() { abort_socket(); }

 private:
  enum class State { kHandshake, kOpen, kClosing, kDone };

  asio::any_io_executor executor() { return ws_.get_executor(); }

  void configure_stream() {
    // Beast bounds the upgrade and the close handshake with handshake_timeout; idle time is
    // unbounded (the server's own pings detect dead clients, as the JS server does).
    ws_.set_option(websocket::stream_base::timeout{options_->handshake_timeout,
                                                   websocket::stream_base::none(), false});
    ws_.read_message_max(options_->max_frame_bytes);
    ws_.binary(true);
    ws_.auto_fragment(false);  // one WebSocket frame per message, as the JS adapters send
    error_code ignored;
    tcp_stream().socket().set_option(tcp::no_delay(true), ignored);  // small sync messages
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::pong) awaiting_pong_ = false;
    });
    if (role_ == Role::kClient && !options_->auth_token.empty()) {
      ws_.set_option(websocket::stream_base::decorator(
          [token = options_->auth_token](websocket::request_type& request) {
            request.set(http::field::authorization, "Bearer " + token);
          }));
    }
  }

  void on_upgrade_request(error_code ec, std::shared_ptr<AcceptLoop> loop, const std::string& path) {
    if (ec) return;  // timeout, garbage or a closed socket: nothing to answer
    const auto& request = handshake_->request_parser->get();
    const UpgradeRequest upgrade = describe_upgrade_request(request);
    if (!upgrade.is_websocket_upgrade) {
      if (options_->http_handler && upgrade.is_get) {
        if (auto answer = options_->http_handler(upgrade.target)) {
          return respond(http::status::ok, answer->first, std::move(answer->second));
        }
        return refuse(http::status::not_found, "not found");
      }
      return refuse(http::status::upgrade_required, "this endpoint accepts WebSocket upgrades only");
    }
    const std::string_view target = upgrade.target;
    if (path != "/" && upgrade.path != path) {
      return refuse(http::status::not_found, "no WebSocket endpoint at this path");
    }
    if (options_->authenticate) {
      Result<std::string> who = options_->authenticate(upgrade.bearer_token);
      if (!who) return refuse(http::status::unauthorized, "unauthorized: " + who.error().message);
      principal_ = std::move(*who);
    }
    description_ = std::string(ws_.next_layer().tls() ? "wss " : "ws ") + remote_text(tcp_stream().socket()) +
                   " " + std::string(target);
    tcp_stream().expires_never();  // Beast's own handshake timeout takes over
    configure_stream();
    ws_.async_accept(request, [self = shared_from_this(), loop = std::move(loop)](error_code accept_ec) {
      if (accept_ec) return;
      // The upgrade request is answered: its parser and buffer are not needed for the life of
      // the connection.
      self->handshake_.reset();
      self->state_ = State::kOpen;
      loop->deliver(self);
    });
  }

  void refuse(http::status status, const std::string& text) { respond(status, "text/plain", text + "\n"); }

  // One HTTP answer, then the connection closes.
  void respond(http::status status, const std::string& content_type, std::string body) {
    Handshake& hs = *handshake_;
    hs.refusal.emplace(status, hs.request_parser->get().version());
    hs.refusal->set(http::field::content_type, content_type);
    if (status == http::status::unauthorized) hs.refusal->set(http::field::www_authenticate, "Bearer");
    hs.refusal->keep_alive(false);
    hs.refusal->body() = std::move(body);
    hs.refusal->prepare_payload();
    http::async_write(ws_.next_layer(), *hs.refusal,
                      [self = shared_from_this()](error_code, std::size_t) {
                        error_code ignored;
                        self->tcp_stream().socket().shutdown(tcp::socket::shutdown_send, ignored);
                        self->tcp_stream().close();
                      });
  }

  // ---- reading -----------------------------------------------------------------------------

  // Waits for the next message with no buffer of ours but one byte, then reads the rest into
  // one of its size: an idle connection holds no read buffer (Beast's async_read would size one
  // at 1.5 KB before any byte arrives). The one-byte read returns once a data frame has begun,
  // having answered pings and closes meanwhile. (Not zero bytes: Beast's UTF-8 check of a text
  // frame reads the buffer even when it is empty.)
  void read_next() {
    reading_ = true;
    ws_.async_read_some(asio::buffer(&first_byte_, 1), [self = shared_from_this()](error_code ec, std::size_t n) {
      self->incoming_.assign(&self->first_byte_, &self->first_byte_ + n);
      if (ec || self->ws_.is_message_done()) {  // an error, or a message of at most one byte
        self->reading_ = false;
        return self->on_read(ec);
      }
      self->read_message();
    });
  }

  // The rest of the message, after its first byte.
  void read_message() {
    incoming_buffer_.emplace(incoming_);
    ws_.async_read(*incoming_buffer_, [self = shared_from_this()](error_code ec, std::size_t) {
      self->reading_ = false;
      self->on_read(ec);
    });
  }

  // The message just read (empty after an error); the connection keeps no buffer.
  Bytes take_incoming() {
    incoming_buffer_.reset();
    Bytes message = std::move(incoming_);
    incoming_ = Bytes();
    return message;
  }

  void on_read(error_code ec) {
    if (state_ == State::kDone) return;
    if (state_ == State::kClosing) {
      // Flushing before our close frame: keep reading (and discarding) so the peer is not
      // blocked on us. Once async_close runs, it does the reading.
      if (close_started_) return;
      if (ec) return abort_socket();
      (void)take_incoming();
      return read_next();
    }
    Bytes frame = take_incoming();
    if (ec) return fail_after_read_error(ec);
    // Text is refused, except a JSON object: the Go port's first version sent its messages as
    // JSON text (the hub decides whether the connection may speak it, wire/go_dialect.h).
    if (ws_.got_text() && (frame.empty() || frame.front() != '{')) {
      return begin_close(CloseReason::kProtocolError,
                         "peer sent a text message; the protocol uses binary messages only",
                         websocket::close_code::unknown_data, /*flush=*/false);
    }
    slot_.frame(std::move(frame));
    if (state_ == State::kOpen) read_next();
  }

  void fail_after_read_error(error_code ec) {
    if (ec == websocket::error::closed) {
      const auto& reason = ws_.reason();
      std::string detail = "peer closed (code " + std::to_string(reason.code);
      if (!reason.reason.empty()) {
        detail += ", " + std::string(reason.reason.data(), reason.reason.size());
      }
      return fail(CloseReason::kPeerClosed, detail + ")");
    }
    if (ec == websocket::error::message_too_big) {
      return fail(CloseReason::kFrameTooLarge, "peer sent a message above the limit of " +
                                                   std::to_string(options_->max_frame_bytes) +
                                                   " bytes");
    }
    if (ec == beast::error::timeout) return fail(CloseReason::kTimeout, "read: " + ec.message());
    if (ec == websocket::condition::protocol_violation) {
      return fail(CloseReason::kProtocolError, "read: " + ec.message());
    }
    if (ec == asio::error::eof) {
      return fail(CloseReason::kIoError, "connection ended without a WebSocket close frame");
    }
    fail(CloseReason::kIoError, "read: " + ec.message());
  }

  // ---- writing -----------------------------------------------------------------------------

  void write_next() {
    if (send_queue_.empty() || state_ == State::kDone) {
      if (state_ == State::kClosing && !close_started_) start_close_handshake();
      return;
    }
    writing_ = true;
    ws_.async_write(asio::buffer(send_queue_.front()),
                    [self = shared_from_this()](error_code ec, std::size_t) {
                      self->on_written(ec);
                    });
  }

  void on_written(error_code ec) {
    writing_ = false;
    if (state_ == State::kDone) return;
    if (ec) {
      if (state_ == State::kClosing) return abort_socket();  // the flush failed
      return fail(CloseReason::kIoError, "write: " + ec.message());
    }
    queued_bytes_ -= send_queue_.front().size();
    send_queue_.pop_front();
    write_next();
  }

  // ---- keepalive (server) ------------------------------------------------------------------

  void schedule_ping() {
    timer_.expires_after(options_->ping_interval);
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->on_ping_due();
    });
  }

  // Like the JS server: a client that has not answered the previous ping is dropped.
  void on_ping_due() {
    if (state_ != State::kOpen) return;
    if (awaiting_pong_) {
      return fail(CloseReason::kTimeout, "no pong within " +
                                             std::to_string(options_->ping_interval.count()) +
                                             " ms of a ping");
    }
    awaiting_pong_ = true;
    if (!ping_in_flight_) {
      ping_in_flight_ = true;
      ws_.async_ping({}, [self = shared_from_this()](error_code) {
        self->ping_in_flight_ = false;  // a failed ping shows up as a failed read or a timeout
      });
    }
    schedule_ping();
  }

  // ---- closing -----------------------------------------------------------------------------

  void begin_close(CloseReason reason, std::string detail, websocket::close_code code, bool flush) {
    state_ = State::kClosing;
    slot_.close(reason, std::move(detail));
    close_code_ = code;
    if (!flush) drop_unsent();
    // The ping timer now bounds the close (a ping already due finds the state kClosing).
    timer_.expires_after(options_->handshake_timeout);
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->abort_socket();  // the flush or the close handshake took too long
    });
    if (!writing_) write_next();  // an empty queue starts the close handshake at once
  }

  void start_close_handshake() {
    close_started_ = true;
    ws_.async_close(close_code_, [self = shared_from_this()](error_code) { self->abort_socket(); });
  }

  // An error, the peer's close, an oversized message or a missed pong: report, drop the socket.
  void fail(CloseReason reason, std::string detail) {
    if (state_ == State::kDone) return;
    slot_.close(reason, std::move(detail));
    abort_socket();
  }

  void abort_socket() {
    state_ = State::kDone;
    lease_.reset();
    drop_unsent();
    timer_.cancel();
    tcp_stream().close();  // pending operations complete with operation_aborted
  }

  // Drops queued frames, except the one an in-flight write still points into.
  void drop_unsent() {
    while (send_queue_.size() > (writing_ ? 1u : 0u)) {
      queued_bytes_ -= send_queue_.back().size();
      send_queue_.pop_back();
    }
  }

  WsStream ws_;
  const Role role_;
  const std::shared_ptr<const TransportOptions> options_;  // the listener's or the dial's
  AcceptLoop::Lease lease_;  // counts us against the listener's max_connections until closed
  std::string description_;  // set before the connection is handed out, constant afterwards
  std::string principal_;    // likewise
  // One timer, each connection holding few: the next ping while open, the deadline of the
  // flush and close handshake while closing.
  asio::steady_timer timer_;
  // Everything below is touched only on the stream's strand.
  State state_ = State::kHandshake;
  HandlerSlot slot_;
  bool reading_ = false;
  bool writing_ = false;
  bool close_started_ = false;
  bool awaiting_pong_ = false;
  bool ping_in_flight_ = false;
  websocket::close_code close_code_ = websocket::close_code::normal;
  // The message being read, and Beast's view of it; both empty between messages.
  std::uint8_t first_byte_ = 0;
  Bytes incoming_;
  std::optional<MessageBuffer> incoming_buffer_;
  std::list<Bytes> send_queue_;  // front() is being written while writing_ (a list: an empty
                                 // deque costs ~600 bytes, and idle connections are the norm)
  std::size_t queued_bytes_ = 0;  // bytes in send_queue_
  // Handshake state.
  // Handshake state, allocated apart and freed once the connection is open: an HTTP parser, a
  // response and a buffer are over a kilobyte, and most connections live long after it.
  struct Handshake {
    beast::flat_buffer http_buffer;
    std::optional<http::request_parser<http::empty_body>> request_parser;
    std::optional<http::response<http::string_body>> refusal;
    websocket::response_type upgrade_response;
  };
  Handshake& handshake() {
    if (!handshake_) handshake_ = std::make_unique<Handshake>();
    return *handshake_;
  }
  std::unique_ptr<Handshake> handshake_;
};

// One dial: resolve, connect, TLS (wss), upgrade, all under one deadline, on the new
// connection's strand.
class WsDial : public std::enable_shared_from_this<WsDial> {
 public:
  // `tls` is null for ws:// urls.
  WsDial(asio::io_context& context, WsUrl url, DialHandler on_dialed,
         const TransportOptions& options, std::shared_ptr<asio::ssl::context> tls)
      : strand_(asio::make_strand(context)),
        resolver_(strand_),
        deadline_(strand_),
        url_(std::move(url)),
        description_(std::string(url_.tls ? "wss://" : "ws://") + host_port_text(url_.host, url_.port) +
                     url_.target),
        connection_(std::make_shared<WsConnection>(
            tls ? ws::tls_stream(strand_, std::move(tls)) : ws::plain_stream(strand_),
            std::make_shared<const TransportOptions>(options), description_)),
        on_dialed_(std::move(on_dialed)),
        timeout_(options.handshake_timeout) {}

  void run() {
    asio::post(strand_, [self = shared_from_this()] {
      self->deadline_.expires_after(self->timeout_);
      self->deadline_.async_wait([self](error_code ec) {
        if (!ec) self->time_out();
      });
      self->resolver_.async_resolve(
          self->url_.host, std::to_string(self->url_.port), tcp::resolver::numeric_service,
          [self](error_code ec, const tcp::resolver::results_type& endpoints) {
            self->on_resolved(ec, endpoints);
          });
    });
  }

 private:
  std::string where() const { return "websocket dial " + description_; }

  void on_resolved(error_code ec, const tcp::resolver::results_type& endpoints) {
    if (done_) return;
    if (ec) return finish(fail(Error::io_error(where(), "resolve: " + ec.message())));
    connection_->tcp_stream().async_connect(
        endpoints, [self = shared_from_this()](error_code connect_ec, const tcp::endpoint&) {
          self->on_connected(connect_ec);
        });
  }

  void on_connected(error_code ec) {
    if (done_) return;
    if (ec) return finish(fail(Error::io_error(where(), "connect: " + ec.message())));
    connection_->tls_handshake_as_client(url_.host, [self = shared_from_this()](error_code tls_ec) {
      self->on_secured(tls_ec);
    });
  }

  void on_secured(error_code ec) {
    if (done_) return;
    if (ec) return finish(fail(Error::io_error(where(), "TLS handshake: " + tls_error_text(ec))));
    // The Host header carries the port unless it is the default one (RFC 7230 §5.4).
    const std::string host_header =
        url_.port == (url_.tls ? 443 : 80) ? host_text(url_.host) : host_port_text(url_.host, url_.port);
    connection_->handshake_as_client(host_header, url_.target,
                                     [self = shared_from_this()](error_code hs_ec, int status,
                                                                 const std::string& body) {
                                       self->on_upgraded(hs_ec, status, body);
                                     });
  }

  void on_upgraded(error_code ec, int http_status, std::string body) {
    if (done_) return;
    if (ec == websocket::error::upgrade_declined) {
      while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
      if (body.size() > 200) body.resize(200);
      return finish(fail(Error::protocol(
          where(), "the server declined the upgrade (HTTP " + std::to_string(http_status) + ")" +
                       (body.empty() ? std::string() : ": " + body))));
    }
    if (ec == beast::error::timeout) {
      return finish(fail(Error::timeout(where(), "upgrade timed out")));
    }
    if (ec) return finish(fail(Error::io_error(where(), "upgrade: " + ec.message())));
    finish(std::shared_ptr<Connection>(connection_));
  }

  void time_out() {
    if (done_) return;
    resolver_.cancel();
    connection_->abort();
    finish(fail(Error::timeout(where(), "no connection within " + std::to_string(timeout_.count()) + " ms")));
  }

  void finish(Result<std::shared_ptr<Connection>> result) {
    done_ = true;
    deadline_.cancel();
    connection_.reset();  // the caller owns it now, or it is dropped
    DialHandler handler = std::move(on_dialed_);
    handler(std::move(result));
  }

  Strand strand_;
  tcp::resolver resolver_;
  asio::steady_timer deadline_;
  const WsUrl url_;
  const std::string description_;
  std::shared_ptr<WsConnection> connection_;
  DialHandler on_dialed_;
  const std::chrono::milliseconds timeout_;
  bool done_ = false;  // on strand_
};

}  // namespace

Result<std::unique_ptr<Listener>> listen_websocket(IoContext& io, const std::string& host,
                                                   std::uint16_t port, std::string path,
                                                   AcceptHandler on_accept,
                                                   TransportOptions options) {
  if (path.empty() || path.front() != '/') {
    return fail(Error::invalid_argument("websocket listen", "path must start with '/': " + path));
  }
  AcceptLoop::OnSocket on_socket;
  // One copy of the options for all the listener's connections.
  auto shared_options = std::make_shared<const TransportOptions>(options);
  if (!options.tls_cert_file.empty() || !options.tls_key_file.empty()) {
    AM_TRY_ASSIGN(auto tls, ws::server_tls_context(options));
    on_socket = [shared_options, path, tls](tcp::socket socket, const std::shared_ptr<AcceptLoop>& loop,
                                            AcceptLoop::Lease lease) {
      std::make_shared<WsConnection>(ws::tls_stream(std::move(socket), tls), shared_options, std::move(lease))
          ->accept_upgrade(loop, path);
    };
  } else {
    on_socket = [shared_options, path](tcp::socket socket, const std::shared_ptr<AcceptLoop>& loop,
                                       AcceptLoop::Lease lease) {
      std::make_shared<WsConnection>(ws::plain_stream(std::move(socket)), shared_options, std::move(lease))
          ->accept_upgrade(loop, path);
    };
  }
  AM_TRY_ASSIGN(auto loop, AcceptLoop::open(asio_context(io), host, port, std::move(on_accept),
                                            std::move(on_socket), "websocket",
                                            options.max_connections));
  return make_listener(std::move(loop));
}

void dial_websocket(IoContext& io, const std::string& url, DialHandler on_dialed,
                    TransportOptions options) {
  auto parsed = parse_ws_url(url);
  if (!parsed) {
    // Reported on an io thread like every other outcome.
    io.post([on_dialed = std::move(on_dialed), error = parsed.error()]() mutable {
      on_dialed(fail(std::move(error)));
    });
    return;
  }
  if (!parsed->tls) {
    std::make_shared<WsDial>(asio_context(io), std::move(*parsed), std::move(on_dialed), options, nullptr)->run();
    return;
  }
  auto tls = ws::client_tls_context(options);
  if (!tls) {
    io.post([on_dialed = std::move(on_dialed), error = tls.error()]() mutable { on_dialed(fail(std::move(error))); });
    return;
  }
  std::make_shared<WsDial>(asio_context(io), std::move(*parsed), std::move(on_dialed), options, std::move(*tls))
      ->run();
}

}  // namespace am::repo::net
