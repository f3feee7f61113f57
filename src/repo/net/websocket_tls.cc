// wss:// : the WebSocket's next layer over TLS (OpenSSL through Asio, as Beast's ssl_stream over
// a tcp_stream), and the server's and clients' TLS settings.
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "repo/net/websocket_layer.h"

namespace am::repo::net::ws {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;

namespace {

class TlsStream final : public Layer::Stream {
 public:
  TlsStream(asio::ip::tcp::socket socket, std::shared_ptr<ssl::context> context)
      : context_(std::move(context)), stream_(std::move(socket), *context_) {}
  TlsStream(const Strand& strand, std::shared_ptr<ssl::context> context)
      : context_(std::move(context)), stream_(strand, *context_) {}

  boost::beast::tcp_stream& tcp() override { return stream_.next_layer(); }
  bool tls() const override { return true; }
  void read_some(asio::mutable_buffer buffer, ReadHandler handler) override {
    stream_.async_read_some(buffer, on_strand(tcp().get_executor(), std::move(handler)));
  }
  void write_some(const GatheredBuffers& buffers, WriteHandler handler) override {
    stream_.async_write_some(buffers, on_strand(tcp().get_executor(), std::move(handler)));
  }
  void teardown(boost::beast::role_type role, DoneHandler handler) override {
    using boost::beast::websocket::async_teardown;
    async_teardown(role, stream_, on_strand(tcp().get_executor(), std::move(handler)));
  }
  void handshake_as_server(DoneHandler handler) override {
    stream_.async_handshake(ssl::stream_base::server, on_strand(tcp().get_executor(), std::move(handler)));
  }
  void handshake_as_client(const std::string& host, DoneHandler handler) override {
    error_code not_an_address;
    (void)asio::ip::make_address(host, not_an_address);
    // SNI names hosts, never addresses (RFC 6066 §3).
    if (not_an_address && ::SSL_set_tlsext_host_name(stream_.native_handle(), host.c_str()) != 1) {
      const error_code ec(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category());
      asio::post(tcp().get_executor(), [handler = std::move(handler), ec]() mutable { std::move(handler)(ec); });
      return;
    }
    stream_.set_verify_callback(ssl::host_name_verification(host));
    stream_.async_handshake(ssl::stream_base::client, on_strand(tcp().get_executor(), std::move(handler)));
  }

 private:
  std::shared_ptr<ssl::context> context_;  // the settings the stream was made with; before stream_
  boost::beast::ssl_stream<boost::beast::tcp_stream> stream_;
};

}  // namespace

std::unique_ptr<Layer::Stream> tls_stream(asio::ip::tcp::socket socket, std::shared_ptr<ssl::context> context) {
  return std::make_unique<TlsStream>(std::move(socket), std::move(context));
}

std::unique_ptr<Layer::Stream> tls_stream(const Strand& strand, std::shared_ptr<ssl::context> context) {
  return std::make_unique<TlsStream>(strand, std::move(context));
}

std::string tls_error_text(const error_code& ec) {
  std::string text = ec.message();
  if (ec.category() == asio::error::get_ssl_category()) {
    // OpenSSL's reason string ("certificate verify failed") says more than the category's.
    if (const char* reason = ::ERR_reason_error_string(static_cast<unsigned long>(ec.value())); reason != nullptr) text = reason;
  }
  return text;
}

Result<std::shared_ptr<ssl::context>> server_tls_context(const TransportOptions& options) {
  const std::string where = "TLS certificate " + options.tls_cert_file + " / key " + options.tls_key_file;
  if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
    return fail(Error::invalid_argument(where, "both a certificate and a key file are needed"));
  }
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  error_code ec;
  context->use_certificate_chain_file(options.tls_cert_file, ec);
  if (ec) return fail(Error::invalid_argument(where, "certificate: " + tls_error_text(ec)));
  context->use_private_key_file(options.tls_key_file, ssl::context::pem, ec);
  if (ec) return fail(Error::invalid_argument(where, "private key: " + tls_error_text(ec)));
  if (::SSL_CTX_check_private_key(context->native_handle()) != 1) {
    return fail(Error::invalid_argument(where, "the private key does not match the certificate"));
  }
  return context;
}

Result<std::shared_ptr<ssl::context>> client_tls_context(const TransportOptions& options) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  error_code ec;
  if (!options.tls_ca_file.empty()) {
    context->load_verify_file(options.tls_ca_file, ec);
    if (ec) return fail(Error::invalid_argument("CA file " + options.tls_ca_file, tls_error_text(ec)));
  } else {
    context->set_default_verify_paths(ec);
    if (ec) return fail(Error::io_error("the system's CA certificates", tls_error_text(ec)));
  }
  context->set_verify_mode(ssl::verify_peer);
  return context;
}

}  // namespace am::repo::net::ws
