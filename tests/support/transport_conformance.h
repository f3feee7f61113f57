// The transport conformance suite, runnable against any am::repo::Connection implementation:
// the built-in memory, TCP, WebSocket and wss transports (tests/repo/transport_conformance_test.cc),
// the example's Unix-socket transport (tests/repo/custom_transport_test.cc), or an application's.
// docs/transports.md shows how to run it against a new transport.
//
// To run it, link the am_transport_conformance object library (tests/CMakeLists.txt) into a
// GoogleTest binary, write a PairFactory that makes a connected pair of the transport, and
// instantiate the suite:
//
//   INSTANTIATE_TEST_SUITE_P(Mine, TransportConformance,
//                            ::testing::Values(am::test::TransportUnderTest{
//                                "mine", [] { return std::make_unique<MyPairs>(); }}),
//                            am::test::transport_name);
//
// Every wait is bounded (kWait), so a bug fails a test instead of hanging it. The suite uses
// only the public API (am/repo/transport.h) and GoogleTest.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "am/repo/transport.h"
#include "support/faulty_connection.h"

namespace am::test {

using repo::CloseInfo;
using repo::CloseReason;
using repo::Connection;

/// Upper bound of every wait; tests normally take milliseconds.
inline constexpr std::chrono::milliseconds kWait{10'000};

/// Whether `r` is one of `allowed`.
inline bool one_of(CloseReason r, std::initializer_list<CloseReason> allowed) {
  return std::find(allowed.begin(), allowed.end(), r) != allowed.end();
}

/// For failure messages: "peer-closed: end of stream", or "(no close)".
inline std::string show(const std::optional<CloseInfo>& info) {
  if (!info) return "(no close)";
  return std::string(to_string(info->reason)) + ": " + info->detail;
}

/// A thread-safe queue with a bounded wait, for handing results out of io-thread callbacks.
template <class T>
class Mailbox {
 public:
  void push(T value) {
    {
      std::lock_guard lock(mutex_);
      items_.push_back(std::move(value));
    }
    cv_.notify_all();
  }
  std::optional<T> pop(std::chrono::milliseconds timeout = kWait) {
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, timeout, [&] { return !items_.empty(); })) return std::nullopt;
    T value = std::move(items_.front());
    items_.pop_front();
    return value;
  }
  std::size_t size() {
    std::lock_guard lock(mutex_);
    return items_.size();
  }

 private:
  std::mutex mutex_;  // guards items_
  std::condition_variable cv_;
  std::deque<T> items_;
};

// Records what one connection's handler receives and checks the handler contract on the way:
// callbacks never overlap, on_close at most once, no frame after on_close.
class Recorder : public std::enable_shared_from_this<Recorder> {
 public:
  Connection::Handler handler() {
    auto self = shared_from_this();
    return {[self](Bytes frame) { self->on_frame(std::move(frame)); },
            [self](const CloseInfo& info) { self->on_close(info); }};
  }

  bool wait_for_frames(std::size_t n, std::chrono::milliseconds timeout = kWait) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return frames_.size() >= n; });
  }
  std::optional<CloseInfo> wait_for_close(std::chrono::milliseconds timeout = kWait) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, timeout, [&] { return close_count_ > 0; });
    return close_;
  }
  std::vector<Bytes> frames() {
    std::lock_guard lock(mutex_);
    return frames_;
  }
  std::size_t frame_count() {
    std::lock_guard lock(mutex_);
    return frames_.size();
  }
  std::optional<CloseInfo> close_info() {
    std::lock_guard lock(mutex_);
    return close_;
  }
  int close_count() {
    std::lock_guard lock(mutex_);
    return close_count_;
  }
  int frames_after_close() {
    std::lock_guard lock(mutex_);
    return frames_after_close_;
  }
  bool callbacks_overlapped() const { return overlapped_; }
  // Called on each frame, on the io thread, before it is recorded.
  void set_on_frame(std::function<void(const Bytes&)> hook) { on_frame_hook_ = std::move(hook); }

 private:
  void on_frame(Bytes frame) {
    if (in_callback_.exchange(true)) overlapped_ = true;
    if (on_frame_hook_) on_frame_hook_(frame);
    {
      std::lock_guard lock(mutex_);
      if (close_count_ > 0) ++frames_after_close_;
      frames_.push_back(std::move(frame));
    }
    in_callback_ = false;
    cv_.notify_all();
  }
  void on_close(const CloseInfo& info) {
    if (in_callback_.exchange(true)) overlapped_ = true;
    {
      std::lock_guard lock(mutex_);
      ++close_count_;
      if (!close_) close_ = info;
    }
    in_callback_ = false;
    cv_.notify_all();
  }

  std::mutex mutex_;  // guards frames_, close_, close_count_, frames_after_close_
  std::condition_variable cv_;
  std::vector<Bytes> frames_;
  std::optional<CloseInfo> close_;
  int close_count_ = 0;
  int frames_after_close_ = 0;
  std::atomic<bool> in_callback_{false};
  std::atomic<bool> overlapped_{false};
  std::function<void(const Bytes&)> on_frame_hook_;  // set before start()
};


/// A connected pair of one transport, neither started: `client` dialed, `server` accepted.
struct ConnectedPair {
  std::shared_ptr<Connection> client;  ///< the dialing side
  std::shared_ptr<Connection> server;  ///< the accepting side
};

/// What a test asks of the pair it connects.
struct PairOptions {
  /// Largest frame each side accepts from its peer; 0 leaves the transport's default.
  std::size_t max_frame_bytes = 0;
};

/// Makes connected pairs of one transport for one test, and owns whatever they need (threads,
/// an event loop, listeners). Created in the test's SetUp, destroyed after it.
class PairFactory {
 public:
  virtual ~PairFactory() = default;
  /// A new connected pair; nullopt (after a gtest failure saying why) when it cannot be made.
  virtual std::optional<ConnectedPair> connect(const PairOptions& options) = 0;
  /// Whether PairOptions::max_frame_bytes is honoured (else the frame-limit case is skipped).
  virtual bool has_frame_limit() const { return true; }
  /// Whether a frame above the limit may close the receiving side with kIoError instead of
  /// kFrameTooLarge (wss: the TLS teardown's error wins over the frame-size error).
  virtual bool frame_too_large_may_be_io_error() const { return false; }
  /// Called after every connection of the test reported on_close: stop threads and event loops,
  /// so that no callback runs after it.
  virtual void shutdown() {}
};

/// The parameter of the suite: a name (the test-name suffix) and how to make a factory.
struct TransportUnderTest {
  std::string name;                                   ///< e.g. "tcp", "unix-socket"
  std::function<std::unique_ptr<PairFactory>()> make;  ///< one factory per test
};

/// For gtest's messages: the transport's name.
inline void PrintTo(const TransportUnderTest& t, std::ostream* os) { *os << t.name; }

/// The test-name generator for INSTANTIATE_TEST_SUITE_P.
inline std::string transport_name(const ::testing::TestParamInfo<TransportUnderTest>& info) {
  return info.param.name;
}

/// The suite's fixture: tracks every connection and recorder; TearDown closes them all and
/// checks the handler contract on every recorder (on_close exactly once, no frame after it,
/// callbacks never overlapping).
class TransportConformance : public ::testing::TestWithParam<TransportUnderTest> {
 protected:
  void SetUp() override;
  void TearDown() override;

  /// A connected pair from the factory, tracked for TearDown.
  std::optional<ConnectedPair> connect(const PairOptions& options = {});
  /// connect(), with both sides wrapped in FaultyConnection(faults).
  std::optional<ConnectedPair> connect_faulty(Faults faults);
  /// Starts `connection` with a new Recorder, tracked for the end-of-test checks.
  std::shared_ptr<Recorder> start(const std::shared_ptr<Connection>& connection,
                                  std::function<void(const Bytes&)> on_frame_hook = {});

  std::unique_ptr<PairFactory> factory_;  // declared first: destroyed after the connections
  std::vector<std::shared_ptr<Connection>> connections_;
  std::vector<std::shared_ptr<Recorder>> recorders_;
};

}  // namespace am::test
