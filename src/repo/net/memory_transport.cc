// memory_pair(): two Connection endpoints in one process. Each endpoint has a strand; a send
// runs on the sender's strand (so it sees the sender's closed state in order) and posts the
// frame to the receiver's strand, so frames, and the close that follows them, arrive in order.
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <utility>

#include "repo/net/asio_io.h"
#include "repo/net/connection_core.h"
#include "repo/net/transport.h"

namespace am::repo::net {
namespace {

namespace asio = boost::asio;

class MemoryEndpoint final : public Connection, public std::enable_shared_from_this<MemoryEndpoint> {
 public:
  MemoryEndpoint(asio::io_context& context, const TransportOptions& options, std::string name)
      : strand_(asio::make_strand(context)),
        max_frame_bytes_(options.max_frame_bytes),
        name_(std::move(name)) {}

  // REQUIRES: called once, before either endpoint is shared.
  void connect_to(const std::shared_ptr<MemoryEndpoint>& peer) { peer_ = peer; }

  void start(Handler handler) override {
    asio::post(strand_, [self = shared_from_this(), handler = std::move(handler)]() mutable {
      self->slot_.start(std::move(handler), std::move(self->inbox_));
      self->inbox_.clear();
    });
  }

  void send(Bytes frame) override {
    asio::post(strand_, [self = shared_from_this(), frame = std::move(frame)]() mutable {
      self->send_on_strand(std::move(frame));
    });
  }

  void close() override {
    asio::post(strand_, [self = shared_from_this()] {
      if (self->slot_.closed()) return;
      self->inbox_.clear();  // nothing is delivered after a local close
      self->close_and_tell_peer(CloseReason::kLocalClose, "closed locally");
    });
  }

  std::string describe() const override { return name_; }

 private:
  void send_on_strand(Bytes frame) {
    if (slot_.closed()) return;
    if (auto peer = peer_.lock()) {
      asio::post(peer->strand_, [peer, frame = std::move(frame)]() mutable {
        peer->receive(std::move(frame));
      });
    }
  }

  void receive(Bytes frame) {
    if (slot_.closed()) return;
    if (frame.size() > max_frame_bytes_) {
      close_and_tell_peer(CloseReason::kFrameTooLarge,
                          "received a frame of " + std::to_string(frame.size()) +
                              " bytes; the limit is " + std::to_string(max_frame_bytes_));
      return;
    }
    if (slot_.started()) {
      slot_.frame(std::move(frame));
    } else {
      inbox_.push_back(std::move(frame));
    }
  }

  void close_and_tell_peer(CloseReason reason, std::string detail) {
    if (!slot_.close(reason, std::move(detail))) return;
    if (auto peer = peer_.lock()) {
      asio::post(peer->strand_, [peer] { peer->slot_.close(CloseReason::kPeerClosed, "peer closed"); });
    }
  }

  asio::strand<asio::io_context::executor_type> strand_;
  const std::size_t max_frame_bytes_;
  // Everything below is touched only on strand_.
  std::weak_ptr<MemoryEndpoint> peer_;  // weak: the two endpoints would otherwise keep each other
  HandlerSlot slot_;
  std::deque<Bytes> inbox_;  // frames received before start()
  const std::string name_;
};

std::atomic<std::uint64_t> g_next_pair_number{1};

}  // namespace

std::pair<std::shared_ptr<Connection>, std::shared_ptr<Connection>> memory_pair(
    IoContext& io, TransportOptions options) {
  const std::string name = "memory #" + std::to_string(g_next_pair_number.fetch_add(1));
  auto a = std::make_shared<MemoryEndpoint>(asio_context(io), options, name + " a");
  auto b = std::make_shared<MemoryEndpoint>(asio_context(io), options, name + " b");
  a->connect_to(b);
  b->connect_to(a);
  return {std::move(a), std::move(b)};
}

}  // namespace am::repo::net
