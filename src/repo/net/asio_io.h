// The Boost.Asio side of IoContext, for code in src/repo that runs on the same event loop (the
// transports here, the repo runtime). Includes Asio: never include it from a public header or from
// code outside src/repo/net and src/repo/runtime.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "repo/net/transport.h"

namespace am::repo::net {

/// The state behind IoContext: the io_context, the guard that keeps run() from returning while
/// the loop is idle, and the threads running it.
/// Thread safety: `context` is thread-safe (as boost::asio::io_context); the other members are
/// touched only by IoContext's constructor, stop() and destructor, under `stop_mutex`.
struct IoContext::Impl {
  explicit Impl(std::size_t thread_count)
      : context(static_cast<int>(thread_count)), work(boost::asio::make_work_guard(context)) {}

  boost::asio::io_context context;
  std::mutex stop_mutex;  // guards work and threads
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
};

/// The io_context that `io`'s threads run.
inline boost::asio::io_context& asio_context(IoContext& io) { return io.impl().context; }

}  // namespace am::repo::net
