// A transport written outside the library: am::repo::Connection over a connected stream socket
// (a Unix-domain socket from socketpair(2), accept(2) or connect(2); a pipe pair would do the
// same), framing each message with a 4-byte big-endian length, with one reader and one writer
// thread per connection. It uses only the public API (am/repo/transport.h) and POSIX.
//
// examples/custom_transport.cc syncs two repos over it; tests/repo/custom_transport_test.cc runs
// the transport conformance suite against it. docs/transports.md walks through it.
#pragma once

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "am/repo/transport.h"

namespace example {

/// Limits of a SocketConnection.
struct SocketOptions {
  std::size_t max_frame_bytes = std::size_t{64} << 20;    ///< larger announced frames: kFrameTooLarge
  std::size_t max_queued_bytes = std::size_t{256} << 20;  ///< unsent bytes above it: kSlowPeer
  std::chrono::milliseconds write_timeout{10'000};        ///< a write blocked this long: kIoError
};

/// am::repo::Connection over a connected stream socket it owns.
///
/// Threads: a writer thread (started at once, so frames sent before start() go out) drains the
/// send queue with blocking writes; a reader thread (started by start()) reads frames and makes
/// every handler call, so the callbacks of one connection never overlap and on_close comes last.
/// Both threads hold the connection alive until they end, which they do once it closed.
/// Ownership: shared; create with make(). Thread safety: as am::repo::Connection.
class SocketConnection final : public am::repo::Connection,
                               public std::enable_shared_from_this<SocketConnection> {
 public:
  /// Takes ownership of `fd`, a connected SOCK_STREAM socket.
  static std::shared_ptr<SocketConnection> make(int fd, std::string description,
                                                SocketOptions options = {},
                                                std::string principal = {}) {
    auto c = std::shared_ptr<SocketConnection>(
        new SocketConnection(fd, std::move(description), options, std::move(principal)));
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(options.write_timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((options.write_timeout.count() % 1000) * 1000);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    c->writer_ = std::thread([self = c] { self->write_loop(); });
    return c;
  }

  ~SocketConnection() override {
    // The last reference may be dropped on one of our own threads, at its very end.
    for (std::thread* t : {&reader_, &writer_}) {
      if (!t->joinable()) continue;
      if (t->get_id() == std::this_thread::get_id()) {
        t->detach();
      } else {
        t->join();
      }
    }
    ::close(fd_);
  }

  void start(Handler handler) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (reader_.joinable()) return;
    handler_ = std::move(handler);
    reader_ = std::thread([self = shared_from_this()] { self->read_loop(); });
  }

  void send(am::Bytes frame) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (closing_ || failure_ || peer_gone_) return;
      queued_bytes_ += frame.size();
      if (options_.max_queued_bytes != 0 && queued_bytes_ > options_.max_queued_bytes) {
        fail_locked({am::repo::CloseReason::kSlowPeer, "the peer is not reading"});
        return;
      }
      queue_.push_back(std::move(frame));
    }
    cv_.notify_all();
  }

  void close() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closing_ = true;
    }
    cv_.notify_all();  // the writer flushes the queue, then shuts the socket down
  }

  std::string describe() const override { return description_; }
  std::string principal() const override { return principal_; }

 private:
  SocketConnection(int fd, std::string description, SocketOptions options, std::string principal)
      : fd_(fd), description_(std::move(description)), principal_(std::move(principal)), options_(options) {}

  // REQUIRES: mutex_ held. Records the first failure and wakes both threads.
  void fail_locked(am::repo::CloseInfo info) {
    if (!failure_) failure_ = std::move(info);
    queue_.clear();
    ::shutdown(fd_, SHUT_RDWR);  // the reader sees the end and reports failure_
    cv_.notify_all();
  }

  void write_loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      cv_.wait(lock, [&] { return !queue_.empty() || closing_ || failure_ || peer_gone_; });
      if (failure_ || peer_gone_) break;
      if (queue_.empty()) {
        // Closing, and everything queued went out. End our side of the stream, then wait
        // (bounded) for the peer to end its side, so that neither side's writes in flight
        // fail with a reset: the reader sees that end and stops.
        ::shutdown(fd_, SHUT_WR);
        cv_.wait_for(lock, options_.write_timeout, [&] { return peer_gone_; });
        ::shutdown(fd_, SHUT_RDWR);
        break;
      }
      am::Bytes frame = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= frame.size();
      lock.unlock();
      const std::uint32_t n = static_cast<std::uint32_t>(frame.size());
      const unsigned char prefix[4] = {static_cast<unsigned char>(n >> 24), static_cast<unsigned char>(n >> 16),
                                       static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)};
      const bool ok = write_all(prefix, 4) && write_all(frame.data(), frame.size());
      const int error = errno;
      lock.lock();
      if (!ok && closing_) {  // the flush after close() failed: still a local close
        ::shutdown(fd_, SHUT_RDWR);
        break;
      }
      if (!ok) {
        fail_locked({am::repo::CloseReason::kIoError, std::string("write: ") + std::strerror(error)});
        break;
      }
    }
  }

  void read_loop() {
    am::repo::CloseInfo info;
    for (;;) {
      unsigned char prefix[4];
      const ReadResult head = read_all(prefix, 4);
      if (head != ReadResult::kOk) {
        info = head == ReadResult::kEnd ? am::repo::CloseInfo{am::repo::CloseReason::kPeerClosed, "end of stream"}
                                        : am::repo::CloseInfo{am::repo::CloseReason::kIoError, "read failed"};
        break;
      }
      const std::size_t n = (std::size_t{prefix[0]} << 24) | (std::size_t{prefix[1]} << 16) |
                            (std::size_t{prefix[2]} << 8) | std::size_t{prefix[3]};
      if (n > options_.max_frame_bytes) {
        std::lock_guard<std::mutex> lock(mutex_);
        fail_locked({am::repo::CloseReason::kFrameTooLarge,
                     "frame of " + std::to_string(n) + " bytes above the limit"});
        break;
      }
      am::Bytes frame(n);
      if (read_all(frame.data(), n) != ReadResult::kOk) {
        info = {am::repo::CloseReason::kIoError, "stream ended inside a frame"};
        break;
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (failure_ || closing_) continue;  // no frames once closing; read on to the end
      }
      handler_.on_frame(std::move(frame));
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (failure_) {
        info = *failure_;
      } else if (closing_) {
        info = {am::repo::CloseReason::kLocalClose, "closed"};
      }
      peer_gone_ = true;  // the writer stops too
      ::shutdown(fd_, SHUT_RDWR);
    }
    cv_.notify_all();
    Handler handler = std::move(handler_);
    handler_ = {};
    handler.on_close(info);
  }

  bool write_all(const unsigned char* p, std::size_t n) {
    while (n > 0) {
      const ssize_t w = ::send(fd_, p, n, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      p += w;
      n -= static_cast<std::size_t>(w);
    }
    return true;
  }

  enum class ReadResult { kOk, kEnd, kError };
  ReadResult read_all(unsigned char* p, std::size_t n) {
    bool started = false;
    while (n > 0) {
      const ssize_t r = ::recv(fd_, p, n, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return ReadResult::kError;
      if (r == 0) return started ? ReadResult::kError : ReadResult::kEnd;
      started = true;
      p += r;
      n -= static_cast<std::size_t>(r);
    }
    return ReadResult::kOk;
  }

  const int fd_;
  const std::string description_;
  const std::string principal_;
  const SocketOptions options_;
  std::mutex mutex_;  // guards the fields below, and start()
  std::condition_variable cv_;
  std::deque<am::Bytes> queue_;
  std::size_t queued_bytes_ = 0;
  bool closing_ = false;    // close() was called
  bool peer_gone_ = false;  // the reader ended
  std::optional<am::repo::CloseInfo> failure_;
  Handler handler_;  // used by the reader thread only, once started
  std::thread reader_;
  std::thread writer_;
};

/// Two connected SocketConnections (socketpair(2)), neither started: `first` describes itself
/// as "<name> a", `second` as "<name> b".
inline std::pair<std::shared_ptr<SocketConnection>, std::shared_ptr<SocketConnection>> socket_pair(
    const std::string& name, SocketOptions options = {}) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return {};
  return {SocketConnection::make(fds[0], name + " a", options), SocketConnection::make(fds[1], name + " b", options)};
}

}  // namespace example
