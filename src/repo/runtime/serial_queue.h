// SerialQueue: runs posted tasks one at a time, in order, on an IoContext's threads (what an Asio
// strand does, without including Asio here). TimerService: runs a task at a time point.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "repo/net/transport.h"

namespace am::repo::runtime {

/// Tasks posted here never run concurrently with each other and run in post order.
/// Thread safety: post() from any thread.
class SerialQueue : public std::enable_shared_from_this<SerialQueue> {
 public:
  explicit SerialQueue(net::IoContext& io) : io_(io) {}

  /// Drops the tasks not yet run (after the loop stopped: they may hold their owner alive).
  void clear() {
    std::deque<std::function<void()>> dropped;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      dropped.swap(tasks_);
    }
  }

  void post(std::function<void()> task) {
    std::lock_guard<std::mutex> lock(mutex_);
    tasks_.push_back(std::move(task));
    if (running_) return;
    running_ = true;
    io_.post([self = shared_from_this()] { self->drain(); });
  }

 private:
  void drain() {
    // A bounded batch, then yield the thread so one busy document cannot starve the others.
    for (int i = 0; i < 64; ++i) {
      std::function<void()> task;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (tasks_.empty()) {
          running_ = false;
          return;
        }
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
    io_.post([self = shared_from_this()] { self->drain(); });
  }

  net::IoContext& io_;
  std::mutex mutex_;
  std::deque<std::function<void()>> tasks_;
  bool running_ = false;
};

/// One thread that hands each task to its IoContext when its time comes.
/// Thread safety: schedule() from any thread; stop() once, not from the timer's callbacks.
class TimerService {
 public:
  using Clock = std::chrono::steady_clock;
  explicit TimerService(net::IoContext& io) : io_(io), thread_([this] { run(); }) {}
  ~TimerService() { stop(); }

  void schedule(Clock::time_point at, std::function<void()> task) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_) return;
    tasks_.emplace(std::pair{at, seq_++}, std::move(task));
    cv_.notify_one();
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopped_) return;
      stopped_ = true;
      tasks_.clear();
      cv_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopped_) {
      if (tasks_.empty()) {
        cv_.wait(lock);
        continue;
      }
      auto first = tasks_.begin();
      // A copy: wait_until reads its argument again after waking, when the node may be gone.
      const Clock::time_point due = first->first.first;
      if (due > Clock::now()) {
        cv_.wait_until(lock, due);
        continue;
      }
      auto task = std::move(first->second);
      tasks_.erase(first);
      io_.post(std::move(task));
    }
  }

  net::IoContext& io_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::multimap<std::pair<Clock::time_point, std::uint64_t>, std::function<void()>> tasks_;
  std::uint64_t seq_ = 0;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace am::repo::runtime
