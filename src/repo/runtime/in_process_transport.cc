// InProcessTransport (include/am/repo/in_process_transport.h): two endpoints sharing one state
// under one mutex. A send appends to the other side's queue under that mutex, so frames and the
// close that follows them are queued in order without a lock order between two mutexes; each
// side's queue is drained by one task at a time on its executor, so its callbacks are
// serialized whatever the executor's threads.
#include "am/repo/in_process_transport.h"

#include <array>
#include <atomic>
#include <deque>
#include <mutex>
#include <optional>
#include <variant>
#include <vector>

#include "am/repo/repo.h"

namespace am::repo {
namespace {

struct Side {
  Executor executor;
  std::string name;
  std::deque<std::variant<Bytes, CloseInfo>> queue;  // frames, then at most one close, last
  Connection::Handler handler;
  bool started = false;
  bool closed = false;    // a close is queued or delivered: nothing more is queued or sent
  bool draining = false;  // a drain task is scheduled or running
};

struct PairState : std::enable_shared_from_this<PairState> {
  std::mutex mutex;
  std::array<Side, 2> sides;
  std::size_t max_frame_bytes = 0;

  // With the mutex held: queues `reason` to side `i` (after its frames, or alone for a local
  // close) and kPeerClosed to the other side; nothing is queued to a side already closed.
  void close_locked(std::size_t i, CloseReason reason, std::string detail, std::vector<std::size_t>& wake) {
    Side& s = sides[i];
    if (s.closed) return;
    s.closed = true;
    if (reason == CloseReason::kLocalClose) s.queue.clear();  // nothing delivered after close()
    s.queue.emplace_back(CloseInfo{reason, std::move(detail)});
    wake.push_back(i);
    Side& o = sides[1 - i];
    if (o.closed) return;
    o.closed = true;
    o.queue.emplace_back(CloseInfo{CloseReason::kPeerClosed, "peer closed"});
    wake.push_back(1 - i);
  }

  // With the mutex held: whether side `i` needs a drain task now (then marked draining).
  bool claim_drain_locked(std::size_t i) {
    Side& s = sides[i];
    if (!s.started || s.draining || s.queue.empty()) return false;
    s.draining = true;
    return true;
  }

  // Without the mutex: schedules the drains `wake` asks for.
  void schedule(const std::vector<std::size_t>& wake) {
    for (std::size_t i : wake) {
      Executor executor;
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (!claim_drain_locked(i)) continue;
        executor = sides[i].executor;
      }
      executor([self = shared_from_this(), i] { self->drain(i); });
    }
  }

  // On side i's executor: delivers what its queue holds, one item at a time, without the lock.
  void drain(std::size_t i) {
    for (;;) {
      std::variant<Bytes, CloseInfo> item;
      Connection::Handler handler;
      {
        std::lock_guard<std::mutex> lock(mutex);
        Side& s = sides[i];
        if (s.queue.empty()) {
          s.draining = false;
          return;
        }
        item = std::move(s.queue.front());
        s.queue.pop_front();
        if (std::holds_alternative<CloseInfo>(item)) {
          handler = std::move(s.handler);  // released once on_close ran
          s.handler = {};
        } else {
          handler = s.handler;  // a copy: callbacks run without the lock
        }
      }
      if (auto* frame = std::get_if<Bytes>(&item)) {
        if (handler.on_frame) handler.on_frame(std::move(*frame));
      } else if (handler.on_close) {
        handler.on_close(std::get<CloseInfo>(item));
      }
    }
  }
};

class Endpoint final : public Connection {
 public:
  Endpoint(std::shared_ptr<PairState> state, std::size_t index) : state_(std::move(state)), index_(index) {}

  void start(Handler handler) override {
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      Side& s = state_->sides[index_];
      if (s.started) return;
      s.started = true;
      s.handler = std::move(handler);
    }
    state_->schedule({index_});
  }

  void send(Bytes frame) override {
    std::vector<std::size_t> wake;
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      if (state_->sides[index_].closed) return;
      const std::size_t peer = 1 - index_;
      if (state_->max_frame_bytes != 0 && frame.size() > state_->max_frame_bytes) {
        state_->close_locked(peer, CloseReason::kFrameTooLarge,
                             "received a frame of " + std::to_string(frame.size()) +
                                 " bytes; the limit is " + std::to_string(state_->max_frame_bytes),
                             wake);
      } else {
        state_->sides[peer].queue.emplace_back(std::move(frame));
        wake.push_back(peer);
      }
    }
    state_->schedule(wake);
  }

  void close() override {
    std::vector<std::size_t> wake;
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      state_->close_locked(index_, CloseReason::kLocalClose, "closed locally", wake);
    }
    state_->schedule(wake);
  }

  std::string describe() const override { return state_->sides[index_].name; }  // constant

 private:
  std::shared_ptr<PairState> state_;
  const std::size_t index_;
};

std::atomic<std::uint64_t> g_next_pair{1};

}  // namespace

std::pair<std::shared_ptr<Connection>, std::shared_ptr<Connection>> InProcessTransport::pair(
    Executor executor_a, Executor executor_b, InProcessOptions options) {
  auto state = std::make_shared<PairState>();
  const std::string name =
      "in-process " + (options.name.empty() ? "#" + std::to_string(g_next_pair.fetch_add(1)) : options.name);
  state->sides[0].executor = std::move(executor_a);
  state->sides[0].name = name + " a";
  state->sides[1].executor = std::move(executor_b);
  state->sides[1].name = name + " b";
  state->max_frame_bytes = options.max_frame_bytes;
  return {std::make_shared<Endpoint>(state, 0), std::make_shared<Endpoint>(state, 1)};
}

void InProcessTransport::connect(Repo& dialer, Repo& acceptor, InProcessOptions options) {
  auto [a, b] = pair(dialer.executor(), acceptor.executor(), std::move(options));
  dialer.add_connection(std::move(a), ConnectionRole::kDialer);
  acceptor.add_connection(std::move(b), ConnectionRole::kAcceptor);
}

}  // namespace am::repo
