// IoContext (an io_context run by a fixed set of threads) and the small shared definitions of
// transport.h.
#include <boost/asio/post.hpp>

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "repo/net/asio_io.h"
#include "repo/net/transport.h"

namespace am::repo::net {

IoContext::IoContext(std::size_t threads) {
  if (threads == 0) threads = 1;
  impl_ = std::make_unique<Impl>(threads);
  std::lock_guard lock(impl_->stop_mutex);
  impl_->threads.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) {
    // A callback that throws ends the process here (std::terminate): callbacks must not throw.
    impl_->threads.emplace_back([context = &impl_->context] { context->run(); });
  }
}

IoContext::~IoContext() { stop(); }

void IoContext::post(std::function<void()> task) {
  boost::asio::post(impl_->context, std::move(task));
}

void IoContext::stop() {
  if (impl_->context.get_executor().running_in_this_thread()) {
    // Joining our own thread would deadlock (or throw from std::thread::join).
    std::fputs("am::repo::net::IoContext::stop() called on one of its own threads\n", stderr);
    std::abort();
  }
  std::lock_guard lock(impl_->stop_mutex);
  impl_->work.reset();
  impl_->context.stop();
  for (auto& thread : impl_->threads) {
    if (thread.joinable()) thread.join();
  }
  impl_->threads.clear();
}

IoContext::Impl& IoContext::impl() { return *impl_; }

Listener::~Listener() = default;

}  // namespace am::repo::net

namespace am::repo {

std::string_view to_string(CloseReason reason) {
  switch (reason) {
    case CloseReason::kLocalClose: return "local-close";
    case CloseReason::kPeerClosed: return "peer-closed";
    case CloseReason::kIoError: return "io-error";
    case CloseReason::kProtocolError: return "protocol-error";
    case CloseReason::kFrameTooLarge: return "frame-too-large";
    case CloseReason::kTimeout: return "timeout";
    case CloseReason::kSlowPeer: return "slow-peer";
  }
  return "unknown";
}

}  // namespace am::repo
