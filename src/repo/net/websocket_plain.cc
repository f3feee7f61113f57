// ws:// : the WebSocket's next layer over plain TCP (Beast's tcp_stream).
#include <boost/asio/post.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include "repo/net/websocket_layer.h"

namespace am::repo::net::ws {
namespace {

class PlainStream final : public Layer::Stream {
 public:
  explicit PlainStream(boost::asio::ip::tcp::socket socket) : tcp_(std::move(socket)) {}
  explicit PlainStream(const Strand& strand) : tcp_(strand) {}

  boost::beast::tcp_stream& tcp() override { return tcp_; }
  bool tls() const override { return false; }
  void read_some(boost::asio::mutable_buffer buffer, ReadHandler handler) override {
    tcp_.async_read_some(buffer, on_strand(tcp().get_executor(), std::move(handler)));
  }
  void write_some(const GatheredBuffers& buffers, WriteHandler handler) override {
    tcp_.async_write_some(buffers, on_strand(tcp().get_executor(), std::move(handler)));
  }
  void teardown(boost::beast::role_type role, DoneHandler handler) override {
    using boost::beast::websocket::async_teardown;
    async_teardown(role, tcp_, on_strand(tcp().get_executor(), std::move(handler)));
  }
  void handshake_as_server(DoneHandler handler) override { complete_now(std::move(handler)); }
  void handshake_as_client(const std::string&, DoneHandler handler) override { complete_now(std::move(handler)); }

 private:
  // Through the executor, as an asynchronous operation must (never inside the initiating call).
  void complete_now(DoneHandler handler) {
    boost::asio::post(tcp_.get_executor(), [handler = std::move(handler)]() mutable { std::move(handler)(error_code{}); });
  }

  boost::beast::tcp_stream tcp_;
};

}  // namespace

std::unique_ptr<Layer::Stream> plain_stream(boost::asio::ip::tcp::socket socket) {
  return std::make_unique<PlainStream>(std::move(socket));
}

std::unique_ptr<Layer::Stream> plain_stream(const Strand& strand) { return std::make_unique<PlainStream>(strand); }

}  // namespace am::repo::net::ws
