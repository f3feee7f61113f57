// Fault injection for any transport: a Connection decorator that fails its Nth received frame or
// its Nth frame to send, as if the channel had failed at that point (beast::test::stream's
// fail_count idea). It replaces the test-only fields production TransportOptions used to carry,
// and works on every am::repo::Connection, including an application's own.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "am/repo/transport.h"

namespace am::test {

/// Which operation of a FaultyConnection fails; zero never fails.
struct Faults {
  std::size_t fail_read_at = 0;   ///< the Nth received frame (from one) is a failed read
  std::size_t fail_write_at = 0;  ///< the Nth frame given to send() (from one) is a failed write
};

/// Wraps a connection. When the configured read or write fails, the failed frame is neither
/// delivered nor sent, later frames are dropped, the wrapped connection is closed (frames sent
/// before the failed one still go out, best-effort, as on close()), and the wrapper's handler sees
/// on_close(kIoError) instead of the wrapped connection's own close reason. The peer sees the
/// wrapped connection close (kPeerClosed, or kIoError). Everything else is forwarded.
/// Ownership: shared, holding the wrapped connection. Thread safety: as am::repo::Connection.
class FaultyConnection final : public repo::Connection {
 public:
  /// Wraps `inner` (not yet started).
  static std::shared_ptr<FaultyConnection> wrap(std::shared_ptr<repo::Connection> inner, Faults faults) {
    return std::shared_ptr<FaultyConnection>(new FaultyConnection(std::move(inner), faults));
  }

  void start(Handler handler) override {
    // The wrapped connection serializes these callbacks; state_ is shared with send().
    auto state = state_;
    inner_->start(Handler{
        [state, handler](Bytes frame) {
          bool deliver = false;
          bool fail_now = false;
          {
            std::lock_guard<std::mutex> lock(state->mutex);
            if (!state->failed) {
              if (state->faults.fail_read_at != 0 && ++state->reads == state->faults.fail_read_at) {
                state->failed = true;
                state->failure = "injected read failure (frame " + std::to_string(state->reads) + ")";
                fail_now = true;
              } else {
                deliver = true;
              }
            }
          }
          if (fail_now) {
            if (auto inner = state->inner.lock()) inner->close();
          }
          if (deliver) handler.on_frame(std::move(frame));
        },
        [state, handler](const repo::CloseInfo& info) {
          std::string failure;
          {
            std::lock_guard<std::mutex> lock(state->mutex);
            if (state->failed) failure = state->failure;
          }
          if (!failure.empty()) {
            handler.on_close(repo::CloseInfo{repo::CloseReason::kIoError, failure});
          } else {
            handler.on_close(info);
          }
        }});
  }

  void send(Bytes frame) override {
    std::unique_lock<std::mutex> lock(state_->mutex);
    if (state_->failed) return;
    if (state_->faults.fail_write_at != 0 && ++state_->writes == state_->faults.fail_write_at) {
      state_->failed = true;
      state_->failure = "injected write failure (frame " + std::to_string(state_->writes) + ")";
      lock.unlock();
      inner_->close();
      return;
    }
    // Under the lock, so that frames reach the wrapped connection in the order they were counted.
    inner_->send(std::move(frame));
  }

  void close() override { inner_->close(); }
  std::string describe() const override { return inner_->describe(); }
  std::string principal() const override { return inner_->principal(); }

 private:
  struct State {
    std::mutex mutex;  // guards the fields below
    Faults faults;
    std::size_t reads = 0;
    std::size_t writes = 0;
    bool failed = false;
    std::string failure;
    std::weak_ptr<repo::Connection> inner;  // weak: the wrapped connection holds the handler
  };

  FaultyConnection(std::shared_ptr<repo::Connection> inner, Faults faults)
      : inner_(std::move(inner)), state_(std::make_shared<State>()) {
    state_->faults = faults;
    state_->inner = inner_;
  }

  std::shared_ptr<repo::Connection> inner_;
  std::shared_ptr<State> state_;
};

}  // namespace am::test
