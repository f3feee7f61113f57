// Acceptance tests of `amrepo serve` as a process on 127.0.0.1 (issue #12, hardening):
//
//   CrashLoop     writers edit documents through the server while it is killed with SIGKILL and
//                 restarted on the same --data directory, 30 times; every change the server had
//                 acknowledged (its heads, as its sync replies report them) must be there after
//                 each restart.
//
// Randomness is seeded; the seed is printed, and AM_TEST_SEED=N repeats a run.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "am/document.h"
#include "am/repo/repo.h"
#include "tools/server_process.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define AM_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define AM_TEST_SANITIZED 1
#endif
#endif
#ifndef AM_TEST_SANITIZED
#define AM_TEST_SANITIZED 0
#endif

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using am::test::ServerProcess;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

// Timeouts scale with this: sanitizer builds run several times slower.
constexpr int kSlow = AM_TEST_SANITIZED ? 3 : 1;

std::uint64_t test_seed(const char* test) {
  std::uint64_t seed = std::random_device{}();
  if (const char* env = std::getenv("AM_TEST_SEED"); env != nullptr && *env != '\0') seed = std::stoull(env);
  std::printf("[ seed     ] %s: AM_TEST_SEED=%llu\n", test, static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  return seed;
}

fs::path make_test_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("amrepo-resilience-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Starts `amrepo serve ARGS` that prints `lines` listening lines; retries a few times (the port of
// a killed server may take a moment to be free). Null when it never started.
std::unique_ptr<ServerProcess> start_server(const std::string& args, std::size_t lines, int attempts = 1) {
  for (int i = 0; i < attempts; ++i) {
    auto server = std::make_unique<ServerProcess>(args, static_cast<int>(lines));
    if (server->urls() == lines) return server;
    server->kill_now();
    std::this_thread::sleep_for(100ms);
  }
  return nullptr;
}

am::repo::Backoff quick_backoff() {
  am::repo::Backoff b;
  b.initial = 50ms;
  b.max = 250ms;
  return b;
}

// Dials `url` (ws:// or tcp://HOST:PORT) from `repo`.
am::repo::EndpointId dial(am::repo::Repo& repo, const std::string& url) {
  if (url.rfind("tcp://", 0) == 0) {
    const std::string hp = url.substr(6);
    return repo.connect_tcp(hp.substr(0, hp.rfind(':')), am::test::port_of(url), quick_backoff());
  }
  return repo.connect_websocket(url, quick_backoff());
}

std::unique_ptr<am::repo::Repo> open_client(const std::string& peer_id) {
  am::repo::RepoOptions ro;
  ro.peer_id = peer_id;
  ro.log = [](am::repo::LogLevel, const std::string&) {};  // clients see many expected disconnects
  auto repo = am::repo::Repo::open(ro);
  return repo ? std::move(*repo) : nullptr;
}

bool wait_until(std::chrono::milliseconds timeout, const std::function<bool()>& done) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Crash loop.

// One client repo editing one document of its own (so the history is a line and the server's
// heads name exactly how far it got): it writes continuously and records how many of its
// changes the server has acknowledged.
class Writer {
 public:
  Writer(std::string name, am::repo::PeerId server) : name_(std::move(name)), server_(std::move(server)) {}
  ~Writer() { stop(); }

  // Connects to `url`, creates the document and waits until the server has it.
  bool start(const std::string& url) {
    repo_ = open_client(name_);
    if (!repo_) return false;
    auto handshakes = handshakes_;
    events_ = repo_->on_connection_event([handshakes](const am::repo::ConnectionEvent& e) {
      if (e.kind == am::repo::ConnectionEvent::Kind::kHandshakeComplete) ++*handshakes;
    });
    endpoint_ = dial(*repo_, url);
    doc_ = repo_->create();
    record_head();
    if (!doc_.wait_synced(server_, std::chrono::milliseconds(20'000 * kSlow))) return false;
    update_acked();
    thread_ = std::thread([this] { run(); });
    return true;
  }
  // Dials a new URL instead of the old one (a restarted server on another port).
  void redial(const std::string& url) {
    repo_->disconnect(endpoint_);
    endpoint_ = dial(*repo_, url);
  }
  void stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }
  void shutdown() {
    stop();
    events_.reset();
    if (repo_) repo_->stop();
  }
  int handshakes() const { return *handshakes_; }
  const am::repo::DocHandle& doc() const { return doc_; }
  // Changes 0..acked()-1 were acknowledged by the server.
  std::size_t acked() {
    update_acked();
    std::lock_guard<std::mutex> lock(mutex_);
    return acked_;
  }
  std::size_t written() {
    std::lock_guard<std::mutex> lock(mutex_);
    return hashes_.size();
  }
  std::vector<am::ChangeHash> hashes(std::size_t count) {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::vector<am::ChangeHash>(hashes_.begin(), hashes_.begin() + static_cast<std::ptrdiff_t>(count));
  }
  std::size_t failed_changes() const { return failed_changes_; }

 private:
  void run() {
    while (!stopping_) {
      const std::int64_t n = static_cast<std::int64_t>(written());
      const am::Status st = doc_.change([n](am::Document& d) { (void)d.put(am::ObjId::root(), "n", n); });
      if (st) {
        record_head();
      } else {
        ++failed_changes_;
      }
      update_acked();
      std::this_thread::sleep_for(4ms);
    }
  }
  void record_head() {
    const auto heads = doc_.heads();
    std::lock_guard<std::mutex> lock(mutex_);
    if (heads.size() == 1 && seq_of_.emplace(heads[0], hashes_.size()).second) hashes_.push_back(heads[0]);
  }
  // Whatever the server's last sync message said it has (its heads are on disk before it says so).
  void update_acked() {
    for (const auto& p : doc_.peers()) {
      if (p.peer != server_ || !p.their_heads) continue;
      std::lock_guard<std::mutex> lock(mutex_);
      for (const auto& h : *p.their_heads) {
        auto it = seq_of_.find(h);
        if (it != seq_of_.end()) acked_ = std::max(acked_, it->second + 1);
      }
    }
  }

  std::string name_;
  am::repo::PeerId server_;
  std::unique_ptr<am::repo::Repo> repo_;
  am::repo::Subscription events_;
  am::repo::EndpointId endpoint_ = 0;
  am::repo::DocHandle doc_;
  std::shared_ptr<std::atomic<int>> handshakes_ = std::make_shared<std::atomic<int>>(0);
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> failed_changes_{0};
  std::mutex mutex_;
  std::vector<am::ChangeHash> hashes_;  // by sequence number
  std::map<am::ChangeHash, std::size_t> seq_of_;
  std::size_t acked_ = 0;
  std::thread thread_;
};

// A fresh client fetches each writer's document from `url` and checks that the first `acked[i]`
// changes of writer i are there. Returns how many changes it checked.
std::size_t check_acknowledged(const std::string& url, std::vector<std::unique_ptr<Writer>>& writers,
                               const std::vector<std::size_t>& acked, const std::string& when) {
  auto reader = open_client("crash-reader");
  EXPECT_TRUE(reader);
  if (!reader) return 0;
  dial(*reader, url);
  std::size_t checked = 0;
  for (std::size_t w = 0; w < writers.size(); ++w) {
    auto found = reader->find(writers[w]->doc().id(), std::chrono::milliseconds(20'000 * kSlow)).get();
    EXPECT_TRUE(found) << when << ": writer " << w << "'s document: " << found.error().to_string();
    if (!found) continue;
    const std::vector<am::ChangeHash> hashes = writers[w]->hashes(acked[w]);
    std::size_t missing = 0;
    std::optional<std::int64_t> n;
    found->read([&](const am::Document& d) {
      for (const auto& h : hashes) missing += !d.has_change(h);
      auto v = d.get(am::ObjId::root(), "n");
      if (v && *v) {
        if (const auto* s = std::get_if<am::ScalarValue>(&**v)) {
          if (const auto* i = std::get_if<std::int64_t>(s)) n = *i;
        }
      }
    });
    EXPECT_EQ(missing, 0u) << when << ": writer " << w << ": " << missing << " of " << hashes.size()
                           << " acknowledged changes are missing";
    if (!hashes.empty()) {
      EXPECT_TRUE(n && *n >= static_cast<std::int64_t>(hashes.size()) - 1)
          << when << ": writer " << w << ": n=" << (n ? std::to_string(*n) : "absent") << ", acknowledged "
          << hashes.size();
    }
    checked += hashes.size();
  }
  reader->stop();
  return checked;
}

TEST(ServerResilience, CrashLoopKeepsEveryAcknowledgedChange) {
  const std::uint64_t seed = test_seed("CrashLoopKeepsEveryAcknowledgedChange");
  std::mt19937_64 rng(seed);
  const fs::path dir = make_test_dir("crash");
  const std::string data = (dir / "data").string();
  const std::string server_id = "crash-server";
  const auto test_start = Clock::now();
  auto server = start_server("--listen 127.0.0.1:0 --log-level error --peer-id " + server_id + " --data " + data, 1);
  ASSERT_TRUE(server) << "the server did not start";
  std::string url = server->url(0);
  const std::string port = url.substr(url.rfind(':') + 1);

  std::vector<std::unique_ptr<Writer>> writers;
  for (int w = 0; w < 2; ++w) {
    writers.push_back(std::make_unique<Writer>("crash-writer-" + std::to_string(w), am::repo::PeerId(server_id)));
    ASSERT_TRUE(writers.back()->start(url)) << "writer " << w << " could not create its document";
  }

  constexpr int kIterations = 30;
  std::uniform_int_distribution<int> kill_after_ms(100, 700);
  std::size_t checks = 0, same_port = 0, iterations_with_new_acks = 0;
  int iterations = 0;
  std::vector<std::size_t> acked_before(writers.size(), 0);
  std::vector<int> handshakes_at_kill(writers.size(), 0);
  for (int it = 0; it < kIterations; ++it) {
    const std::string when = "iteration " + std::to_string(it);
    // Every writer is connected to this incarnation of the server before the clock starts.
    ASSERT_TRUE(wait_until(std::chrono::milliseconds(20'000 * kSlow), [&] {
      for (std::size_t w = 0; w < writers.size(); ++w) {
        if (writers[w]->handshakes() <= handshakes_at_kill[w] || writers[w]->doc().peers().empty()) return false;
      }
      return true;
    })) << when << ": the writers did not reconnect";
    std::this_thread::sleep_for(std::chrono::milliseconds(kill_after_ms(rng)));
    ASSERT_TRUE(server->alive()) << when << ": the server died by itself: " << server->how_it_ended();
    for (std::size_t w = 0; w < writers.size(); ++w) handshakes_at_kill[w] = writers[w]->handshakes();
    server->kill_now();
    // Read after the process is gone: anything acknowledged so far was sent before it died.
    std::vector<std::size_t> acked;
    bool progressed = false;
    for (std::size_t w = 0; w < writers.size(); ++w) {
      acked.push_back(writers[w]->acked());
      progressed |= acked[w] > acked_before[w];
      acked_before[w] = acked[w];
    }
    iterations_with_new_acks += progressed;
    server = start_server("--listen 127.0.0.1:" + port + " --log-level error --peer-id " + server_id + " --data " + data,
                          1, 20);
    if (server) {
      ++same_port;
    } else {
      server = start_server("--listen 127.0.0.1:0 --log-level error --peer-id " + server_id + " --data " + data, 1, 5);
      ASSERT_TRUE(server) << when << ": the server did not restart";
      url = server->url(0);
      for (auto& w : writers) w->redial(url);
    }
    checks += check_acknowledged(url, writers, acked, when);
    ++iterations;
    if (::testing::Test::HasFatalFailure() || ::testing::Test::HasNonfatalFailure()) break;
  }

  // The end: the writers stop, the server gets everything, and a fresh client sees all of it.
  for (auto& w : writers) w->stop();
  std::vector<std::size_t> all;
  for (auto& w : writers) {
    EXPECT_TRUE(w->doc().wait_synced(am::repo::PeerId(server_id), std::chrono::milliseconds(20'000 * kSlow)));
    all.push_back(w->acked());
    EXPECT_EQ(all.back(), w->written()) << "the server did not acknowledge everything in the end";
  }
  checks += check_acknowledged(url, writers, all, "after the last restart");
  std::size_t written = 0, failed = 0;
  for (auto& w : writers) {
    written += w->written();
    failed += w->failed_changes();
    w->shutdown();
  }
  EXPECT_EQ(server->stop(), 0);
  std::size_t acked_at_kills = 0;
  for (std::size_t a : acked_before) acked_at_kills += a;
  std::printf("[ crash    ] %d iterations (%zu restarts on the same port), %zu changes written, %zu acknowledged "
              "before the last kill, %zu acknowledged-change checks, %zu iterations acknowledged new changes, %.1f s\n",
              iterations, same_port, written, acked_at_kills, checks, iterations_with_new_acks,
              ms_between(test_start, Clock::now()) / 1000);
  // A test that acknowledged nothing would check nothing.
  EXPECT_EQ(iterations, kIterations);
  EXPECT_GE(iterations_with_new_acks, static_cast<std::size_t>(kIterations) * 2 / 3);
  EXPECT_EQ(failed, 0u) << "DocHandle::change failed";
  fs::remove_all(dir);
}

}  // namespace
