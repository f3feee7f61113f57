// The accept loop shared by listen_tcp and listen_websocket, and endpoint formatting.
#include "repo/net/socket_util.h"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

namespace am::repo::net {

namespace asio = boost::asio;

// After an accept error that is not the listener closing (out of file descriptors, a connection
// reset while queued): how long to pause before accepting again, so a lasting one does not spin.
constexpr std::chrono::milliseconds kAcceptRetryPause{100};
// Asio socket records reserved at a time (see reserve_socket_states): at least 256 (~40 KB), or
// half the live connections. Fewer, longer runs leave fewer holes pinned by records after a
// crowd leaves: 10,000 connections closed left +19.8% RSS (mean of five runs) against +22.0%
// with runs of 256 (three runs), at the price of up to half the peak in spare records.
constexpr std::size_t kSocketStatesPerReserve = 256;
using tcp = asio::ip::tcp;

void reserve_socket_states(asio::io_context& context, std::size_t count) {
  std::vector<tcp::socket> sockets;
  sockets.reserve(count);
#if defined(BOOST_ASIO_HAS_EPOLL)
  // Blocks of a record's size taken first fill the scattered holes of that size that malloc
  // would otherwise hand out for the records (glibc serves an exact fit first), so the records
  // come one after another. Freed once the records are made.
  std::vector<std::unique_ptr<std::byte[]>> fillers(count);
  for (auto& filler : fillers) {
    filler = std::make_unique_for_overwrite<std::byte[]>(sizeof(asio::detail::epoll_reactor::descriptor_state));
  }
#endif
  for (std::size_t i = 0; i < count; ++i) {
    tcp::socket socket(context);
    boost::system::error_code ec;
    socket.open(tcp::v4(), ec);  // registers the descriptor: takes a record from the pool or makes one
    if (ec) break;
    sockets.push_back(std::move(socket));
  }
  // Closing returns every record to the pool, where the next sockets take them from.
}

std::string endpoint_text(const tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  return host_port_text(address.to_string(), endpoint.port());
}

std::string remote_text(const tcp::socket& socket) {
  boost::system::error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  return ec ? std::string("unknown peer") : endpoint_text(endpoint);
}

std::string host_text(std::string_view host) {
  const bool ipv6 = host.find(':') != std::string_view::npos;
  return ipv6 ? "[" + std::string(host) + "]" : std::string(host);
}

std::string host_port_text(std::string_view host, std::uint16_t port) {
  return host_text(host) + ":" + std::to_string(port);
}

AcceptLoop::AcceptLoop(asio::io_context& context, AcceptHandler on_accept, OnSocket on_socket,
                       std::size_t max_connections)
    : context_(context),
      strand_(asio::make_strand(context)),
      acceptor_(strand_),
      retry_timer_(strand_),
      on_accept_(std::move(on_accept)),
      on_socket_(std::move(on_socket)),
      max_connections_(max_connections) {}

Result<std::shared_ptr<AcceptLoop>> AcceptLoop::open(asio::io_context& context,
                                                     const std::string& host, std::uint16_t port,
                                                     AcceptHandler on_accept, OnSocket on_socket,
                                                     std::string_view what,
                                                     std::size_t max_connections) {
  const std::string where = std::string(what) + " listen on " + host_port_text(host, port);
  boost::system::error_code ec;
  tcp::resolver resolver(context);
  const auto endpoints = resolver.resolve(host, std::to_string(port),
                                          tcp::resolver::passive | tcp::resolver::numeric_service,
                                          ec);
  if (ec) return fail(Error::io_error(where, "resolve: " + ec.message()));
  if (endpoints.empty()) return fail(Error::io_error(where, "resolve: no address"));
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();

  auto loop = std::make_shared<AcceptLoop>(context, std::move(on_accept), std::move(on_socket),
                                           max_connections);
  auto& acceptor = loop->acceptor_;
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return fail(Error::io_error(where, "open: " + ec.message()));
  // Lets a restarted server bind while old connections linger in TIME_WAIT.
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return fail(Error::io_error(where, "reuse_address: " + ec.message()));
  acceptor.bind(endpoint, ec);
  if (ec) return fail(Error::io_error(where, "bind: " + ec.message()));
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(Error::io_error(where, "listen: " + ec.message()));
  const auto local = acceptor.local_endpoint(ec);
  if (ec) return fail(Error::io_error(where, "local_endpoint: " + ec.message()));
  loop->port_ = local.port();
  asio::post(loop->strand_, [loop] { loop->accept_next(); });
  return loop;
}

void AcceptLoop::accept_next() {
  if (closed_) return;
  // Each accepted socket gets its own strand: its connection's callbacks are serialized
  // independently of every other connection's.
  acceptor_.async_accept(
      asio::make_strand(context_),
      [self = shared_from_this()](boost::system::error_code ec, tcp::socket socket) {
        if (self->closed_ || ec == asio::error::operation_aborted) return;
        if (!ec) {
          if (self->max_connections_ != 0 && self->live_->load() >= self->max_connections_) {
            boost::system::error_code ignored;
            socket.close(ignored);  // over the limit: refused before any byte is read
            self->accept_next();
            return;
          }
          const std::size_t live = self->live_->fetch_add(1) + 1;
          if (live > self->reserved_socket_states_) {
            const std::size_t count = std::max(kSocketStatesPerReserve, live / 2);
            reserve_socket_states(self->context_, count);
            self->reserved_socket_states_ = live + count;
          }
          Lease lease(nullptr, [live = self->live_](void*) { live->fetch_sub(1); });
          self->on_socket_(std::move(socket), self, std::move(lease));
          self->accept_next();
          return;
        }
        // Other accept errors are not the end of the listener.
        self->retry_timer_.expires_after(kAcceptRetryPause);
        self->retry_timer_.async_wait([self](boost::system::error_code) { self->accept_next(); });
      });
}

void AcceptLoop::deliver(std::shared_ptr<Connection> connection) {
  asio::post(strand_, [self = shared_from_this(), connection = std::move(connection)]() mutable {
    if (!self->closed_) self->on_accept_(std::move(connection));
  });
}

void AcceptLoop::close() {
  if (closed_.exchange(true)) return;
  asio::post(strand_, [self = shared_from_this()] {
    boost::system::error_code ignored;
    self->acceptor_.close(ignored);
    self->retry_timer_.cancel();
  });
}

namespace {

class AcceptLoopListener final : public Listener {
 public:
  explicit AcceptLoopListener(std::shared_ptr<AcceptLoop> loop) : loop_(std::move(loop)) {}
  ~AcceptLoopListener() override { loop_->close(); }
  std::uint16_t port() const override { return loop_->port(); }
  void close() override { loop_->close(); }

 private:
  std::shared_ptr<AcceptLoop> loop_;
};

}  // namespace

std::unique_ptr<Listener> make_listener(std::shared_ptr<AcceptLoop> loop) {
  return std::make_unique<AcceptLoopListener>(std::move(loop));
}

}  // namespace am::repo::net
