// Acceptance tests of `amrepo serve` as a process on 127.0.0.1 (issue #12, hardening):
//
//   CrashLoop     writers edit documents through the server while it is killed with SIGKILL and
//                 restarted on the same --data directory, 30 times; every change the server had
//                 acknowledged (its heads, as its sync replies report them) must be there after
//                 each restart.
//   HostilePeers  20 well-behaved clients edit shared documents while attackers send garbage,
//                 oversized frames, spoofed senders, invalid sync messages, request floods and
//                 idle sockets to both listeners; the clients' edit-to-visible latency, the
//                 server's memory and its liveness are checked. AM_TEST_ATTACKS=requests,idle
//                 (names: idle garbage oversized spoof sync requests) runs only some attacks.
//   RequestFlood..., AnnouncedButUnsent...   two findings of the hostile-peers work, fixed
//                 since: memory stays bounded under floods of fresh document ids and under
//                 frames announced but never sent.
//
// Randomness is seeded; the seed is printed, and AM_TEST_SEED=N repeats a run.
#include <gtest/gtest.h>
#include <netinet/tcp.h>
#include <poll.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
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
#include "am/sync.h"
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

// A fresh directory, removed again when the test ends (however it ends).
struct TestDir {
  fs::path path;
  explicit TestDir(const std::string& name)
      : path(fs::temp_directory_path() / ("amrepo-resilience-" + std::to_string(::getpid()) + "-" + name)) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TestDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  TestDir(const TestDir&) = delete;
  TestDir& operator=(const TestDir&) = delete;
};

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
  // What this writer knows of its sync with the server, for failure messages.
  std::string describe() {
    std::string out = name_ + ": " + std::to_string(written()) + " written, " + std::to_string(acked()) +
                      " acknowledged, " + std::to_string(handshakes()) + " handshakes; our heads";
    for (const auto& h : doc_.heads()) out += " " + h.to_hex().substr(0, 8);
    out += "; repo peers:";
    for (const auto& p : repo_->peers()) out += " " + p.str();
    for (const auto& p : doc_.peers()) {
      out += "; document peer " + p.peer.str() + (p.syncing ? " syncing" : " not syncing") +
             (p.has_document ? ", has it" : "") + ", their heads";
      if (!p.their_heads) out += " unknown";
      for (const auto& h : p.their_heads.value_or(std::vector<am::ChangeHash>{})) {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = seq_of_.find(h);
        out += " " + h.to_hex().substr(0, 8) + (it == seq_of_.end() ? "(?)" : "(#" + std::to_string(it->second) + ")");
      }
    }
    return out;
  }

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
  const TestDir test_dir("crash");
  const fs::path& dir = test_dir.path;
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
    EXPECT_TRUE(w->doc().wait_synced(am::repo::PeerId(server_id), std::chrono::milliseconds(20'000 * kSlow)))
        << w->describe();
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
}

// ---------------------------------------------------------------------------------------------
// Hostile peers.

// The value at `q` (0..1) of `samples` (sorted in place); 0 for none.
double percentile(std::vector<double>& samples, double q) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(samples.size())));
  return samples[std::min(samples.size() - 1, rank == 0 ? 0 : rank - 1)];
}

// kB of a "VmRSS:" / "VmHWM:" line of /proc/PID/status; 0 when unreadable.
std::size_t proc_status_kb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::stoull(line.substr(field.size() + 1));
  }
  return 0;
}

// A raw connection to one of the server's listeners that speaks the wire format by hand: the
// WebSocket upgrade and (masked) frames, or the 4-byte length prefix of the TCP transport, and
// CBOR messages made with nlohmann::json (not the project's codec).
class RawPeer {
 public:
  enum class Kind { kWebSocket, kTcp };
  RawPeer(Kind kind, std::uint16_t port) : kind_(kind), port_(port) {}
  ~RawPeer() { close(); }
  RawPeer(const RawPeer&) = delete;
  RawPeer& operator=(const RawPeer&) = delete;

  Kind kind() const { return kind_; }
  bool is_open() const { return fd_ >= 0 && !closed_; }

  // Connects; `upgrade` also does the WebSocket handshake (for kWebSocket).
  bool open(bool upgrade = true) {
    close();
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    timeval timeout{2, 0};  // no attacker blocks for long on a server that stopped reading
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    const int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close();
      return false;
    }
    closed_ = false;
    if (kind_ == Kind::kWebSocket && upgrade) {
      const std::string request = "GET / HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) +
                                  "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
      if (!send_raw(request.data(), request.size())) return false;
      std::string response;
      char c;
      while (response.find("\r\n\r\n") == std::string::npos && response.size() < 4096) {
        if (recv(fd_, &c, 1, 0) != 1) {
          close();
          return false;
        }
        response.push_back(c);
      }
      if (response.rfind("HTTP/1.1 101", 0) != 0) {
        close();
        return false;
      }
    }
    return true;
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    closed_ = true;
    in_.clear();
    partial_.clear();
    messages_.clear();
  }

  bool send_raw(const void* data, std::size_t size) {
    const auto* p = static_cast<const char*>(data);
    while (size > 0 && fd_ >= 0) {
      const ssize_t n = send(fd_, p, size, MSG_NOSIGNAL);
      if (n <= 0) {
        closed_ = true;
        return false;
      }
      p += n;
      size -= static_cast<std::size_t>(n);
    }
    return fd_ >= 0;
  }
  // One WebSocket frame (client frames are masked) with `payload_size` announced.
  static std::string ws_frame_header(std::uint8_t first_byte, std::uint64_t payload_size, std::uint32_t mask) {
    std::string h(1, static_cast<char>(first_byte));
    if (payload_size < 126) {
      h.push_back(static_cast<char>(0x80 | payload_size));
    } else if (payload_size <= 0xffff) {
      h.push_back(static_cast<char>(0x80 | 126));
      for (int i = 1; i >= 0; --i) h.push_back(static_cast<char>((payload_size >> (8 * i)) & 0xff));
    } else {
      h.push_back(static_cast<char>(0x80 | 127));
      for (int i = 7; i >= 0; --i) h.push_back(static_cast<char>((payload_size >> (8 * i)) & 0xff));
    }
    for (int i = 3; i >= 0; --i) h.push_back(static_cast<char>((mask >> (8 * i)) & 0xff));
    return h;
  }
  static std::string ws_frame(std::uint8_t first_byte, const std::string& payload, std::uint32_t mask = 0x12345678) {
    std::string f = ws_frame_header(first_byte, payload.size(), mask);
    for (std::size_t i = 0; i < payload.size(); ++i) {
      f.push_back(static_cast<char>(payload[i] ^ static_cast<char>((mask >> (8 * (3 - i % 4))) & 0xff)));
    }
    return f;
  }
  static std::string tcp_frame(const std::string& payload) {
    std::string f;
    for (int i = 3; i >= 0; --i) f.push_back(static_cast<char>((payload.size() >> (8 * i)) & 0xff));
    return f + payload;
  }
  // One protocol frame with `payload` (a binary WebSocket message, or a length-prefixed frame).
  bool send_frame(const std::string& payload) {
    const std::string f = kind_ == Kind::kWebSocket ? ws_frame(0x82, payload) : tcp_frame(payload);
    return send_raw(f.data(), f.size());
  }
  bool send_message(const json& message) {
    const std::vector<std::uint8_t> cbor = json::to_cbor(message);
    return send_frame(std::string(cbor.begin(), cbor.end()));
  }

  // Reads what has arrived (waiting up to `wait_ms` for the first bytes), answers pings, queues
  // whole messages. False once the server closed the connection.
  bool pump(int wait_ms = 0) {
    if (fd_ < 0 || closed_) return false;
    pollfd pfd{fd_, POLLIN, 0};
    if (poll(&pfd, 1, wait_ms) <= 0) return true;
    char buf[16384];
    for (;;) {
      const ssize_t n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        closed_ = true;
        return false;
      }
      if (n < 0) break;
      in_.append(buf, static_cast<std::size_t>(n));
      if (in_.size() > (std::size_t{64} << 20)) in_.clear();  // not expected; bound our own memory
    }
    parse();
    return !closed_;
  }
  // The next whole message received (decoded CBOR), if any.
  std::optional<json> next_message() {
    if (messages_.empty()) return std::nullopt;
    json m = json::from_cbor(messages_.front(), true, false);
    messages_.pop_front();
    return m;
  }
  // join as `peer_id`; true once the server answered with `peer`.
  bool join(const std::string& peer_id, int timeout_ms = 5000) {
    if (!send_message({{"type", "join"},
                       {"senderId", peer_id},
                       {"peerMetadata", {{"isEphemeral", true}}},
                       {"supportedProtocolVersions", json::array({"1"})}})) {
      return false;
    }
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (Clock::now() < deadline) {
      if (!pump(50)) return false;
      while (auto m = next_message()) {
        if (m->is_object() && m->value("type", "") == "peer") return true;
      }
    }
    return false;
  }

 private:
  void parse() {
    std::size_t at = 0;
    for (;;) {
      const std::size_t avail = in_.size() - at;
      const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(in_[at + i]); };
      if (kind_ == Kind::kTcp) {
        if (avail < 4) break;
        const std::size_t len = (std::size_t{byte(0)} << 24) | (std::size_t{byte(1)} << 16) |
                                (std::size_t{byte(2)} << 8) | byte(3);
        if (avail < 4 + len) break;
        messages_.push_back(in_.substr(at + 4, len));
        at += 4 + len;
        continue;
      }
      if (avail < 2) break;
      const std::uint8_t opcode = byte(0) & 0x0f;
      const bool fin = (byte(0) & 0x80) != 0;
      std::size_t len = byte(1) & 0x7f, head = 2;
      if (len == 126) {
        if (avail < 4) break;
        len = (std::size_t{byte(2)} << 8) | byte(3);
        head = 4;
      } else if (len == 127) {
        if (avail < 10) break;
        len = 0;
        for (int i = 0; i < 8; ++i) len = (len << 8) | byte(2 + static_cast<std::size_t>(i));
        head = 10;
      }
      if (avail < head + len) break;
      const std::string payload = in_.substr(at + head, len);
      at += head + len;
      if (opcode == 0x9) {  // ping: pong, or the server drops us for a missed keepalive
        const std::string pong = ws_frame(0x8a, payload);
        send_raw(pong.data(), pong.size());
      } else if (opcode == 0x8) {
        closed_ = true;
      } else if (opcode == 0x2 || opcode == 0x1 || opcode == 0x0) {
        partial_ += payload;
        if (fin) {
          messages_.push_back(std::move(partial_));
          partial_.clear();
        }
      }
    }
    in_.erase(0, at);
    while (messages_.size() > 1000) messages_.pop_front();  // attackers mostly ignore answers
  }

  Kind kind_;
  std::uint16_t port_;
  int fd_ = -1;
  bool closed_ = true;
  std::string in_;
  std::string partial_;
  std::deque<std::string> messages_;
};

json::binary_t as_binary(const am::Bytes& bytes) { return json::binary_t(std::vector<std::uint8_t>(bytes.begin(), bytes.end())); }

json doc_message(const std::string& type, const std::string& sender, const std::string& target,
                 const std::string& document, const am::Bytes& data) {
  return {{"type", type}, {"senderId", sender}, {"targetId", target}, {"documentId", document}, {"data", as_binary(data)}};
}

// A sync message that carries one change setting `key` to true in the root map: a change with
// no dependencies, so it applies to any document.
am::Bytes sync_with_change(const std::string& key) {
  am::Document d;
  (void)d.put(am::ObjId::root(), key, true);
  d.commit();
  am::SyncMessage m;
  m.heads = d.heads();
  m.changes = d.get_changes();
  return m.encode();
}

am::ChangeHash random_hash(std::mt19937_64& rng) {
  am::ChangeHash h;
  for (auto& b : h.bytes) b = static_cast<std::uint8_t>(rng());
  return h;
}

std::string random_bytes(std::mt19937_64& rng, std::size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

std::string random_document_id(std::mt19937_64& rng) {
  am::repo::DocumentId::Raw raw;
  for (auto& b : raw) b = static_cast<std::uint8_t>(rng());
  return am::repo::DocumentId::uuid_v4(raw).to_string();
}

// What the attackers did, for the report.
struct AttackCounters {
  std::atomic<std::uint64_t> connections{0};
  std::atomic<std::uint64_t> frames{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> spoofed{0};
  std::atomic<std::uint64_t> invalid_sync{0};
  std::atomic<std::uint64_t> oversized{0};
  std::atomic<std::uint64_t> oversized_closed{0};  // the server closed the connection on us
  std::atomic<std::uint64_t> idle_open{0};
  std::atomic<std::uint64_t> idle_reopened{0};
};

struct AttackTarget {
  std::uint16_t ws_port = 0;
  std::uint16_t tcp_port = 0;
  std::string server_id;
  std::vector<std::string> documents;  // real documents
  std::vector<std::string> victims;    // PeerIds of well-behaved clients
};

// The attacks; each runs on its own thread until `stop`, owning everything it touches except
// the target, counters and stop flag, which the test keeps alive until it joined the threads.
// Every attack paces itself (a few ms between bursts): the point is a hostile mix the server
// must shrug off, not a CPU contest on a 2-core machine with the clients in this process.
void attack_garbage(const AttackTarget& t, AttackCounters& c, const std::atomic<bool>& stop, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (std::uint64_t i = 0; !stop; ++i) {
    const bool ws = i % 2 == 0;
    RawPeer p(ws ? RawPeer::Kind::kWebSocket : RawPeer::Kind::kTcp, ws ? t.ws_port : t.tcp_port);
    // Garbage where an HTTP request belongs, as WebSocket frames, as a text message, as CBOR.
    const bool upgrade = ws && i % 4 == 0;
    if (!p.open(upgrade)) continue;
    ++c.connections;
    const std::string junk = random_bytes(rng, 16 + rng() % 2048);
    if (upgrade) {
      switch (i % 3) {
        case 0: p.send_raw(junk.data(), junk.size()); break;
        case 1: p.send_frame(junk); break;
        default: {
          const std::string text = RawPeer::ws_frame(0x81, "{\"type\":\"join\"}");
          p.send_raw(text.data(), text.size());
        }
      }
    } else if (!ws && i % 3 == 0) {
      p.send_frame(junk);  // a well-framed frame of garbage CBOR
    } else {
      p.send_raw(junk.data(), junk.size());
    }
    ++c.frames;
    p.pump(5);
    std::this_thread::sleep_for(5ms);
  }
}

void attack_oversized(const AttackTarget& t, AttackCounters& c, const std::atomic<bool>& stop, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const std::uint64_t too_big = (std::uint64_t{64} << 20) + 1;  // the server's max_message_bytes + 1
  const std::string piece = random_bytes(rng, std::size_t{1} << 20);
  for (std::uint64_t i = 0; !stop; ++i) {
    const bool ws = i % 2 == 0;
    RawPeer p(ws ? RawPeer::Kind::kWebSocket : RawPeer::Kind::kTcp, ws ? t.ws_port : t.tcp_port);
    if (!p.open()) continue;
    ++c.connections;
    if (ws && i % 4 == 0) (void)p.join("attacker-big-" + std::to_string(i));
    // Announce a frame that is too big, then start sending it. Every tenth time really send
    // most of 64 MiB + 1, in 1 MiB pieces, to see the server drop it without buffering it all.
    std::string header;
    std::uint64_t announced = i % 5 == 4 ? (std::uint64_t{1} << 40) : too_big;
    if (!ws && announced > 0xffffffffu) announced = 0xffffffffu;
    if (ws) {
      header = RawPeer::ws_frame_header(0x82, announced, static_cast<std::uint32_t>(rng()));
    } else {
      for (int b = 3; b >= 0; --b) header.push_back(static_cast<char>((announced >> (8 * b)) & 0xff));
    }
    p.send_raw(header.data(), header.size());
    const std::size_t pieces = i % 10 == 9 ? 60 : 1;
    for (std::size_t k = 0; k < pieces && !stop && p.is_open(); ++k) {
      if (!p.send_raw(piece.data(), piece.size())) break;
    }
    // The server must close the connection.
    for (int k = 0; k < 100 * kSlow && !stop && p.pump(50);) ++k;
    if (stop) break;  // an unfinished attempt counts for nothing
    ++c.oversized;
    if (!p.is_open()) ++c.oversized_closed;
    std::this_thread::sleep_for(20ms);
  }
}

void attack_spoof(const AttackTarget& t, AttackCounters& c, const std::atomic<bool>& stop, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const am::Bytes spoofed = sync_with_change("spoofed");
  for (std::uint64_t round = 0; !stop; ++round) {
    RawPeer p(round % 2 == 0 ? RawPeer::Kind::kWebSocket : RawPeer::Kind::kTcp,
              round % 2 == 0 ? t.ws_port : t.tcp_port);
    if (!p.open() || !p.join("attacker-spoof-" + std::to_string(round))) {
      std::this_thread::sleep_for(20ms);
      continue;
    }
    ++c.connections;
    while (!stop && p.pump()) {
      for (int k = 0; k < 10; ++k) {
        const std::string& victim = t.victims[rng() % t.victims.size()];
        const std::string& doc = t.documents[rng() % t.documents.size()];
        // As a victim, to the server; as the server, to a victim; and as a victim to another.
        switch (rng() % 3) {
          case 0: p.send_message(doc_message("sync", victim, t.server_id, doc, spoofed)); break;
          case 1: p.send_message(doc_message("sync", t.server_id, victim, doc, spoofed)); break;
          default: p.send_message(doc_message("sync", victim, t.victims[rng() % t.victims.size()], doc, spoofed));
        }
        ++c.spoofed;
      }
      std::this_thread::sleep_for(10ms);
    }
  }
}

void attack_invalid_sync(const AttackTarget& t, AttackCounters& c, const std::atomic<bool>& stop, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (std::uint64_t round = 0; !stop; ++round) {
    RawPeer p(round % 2 == 0 ? RawPeer::Kind::kTcp : RawPeer::Kind::kWebSocket,
              round % 2 == 0 ? t.tcp_port : t.ws_port);
    const std::string me = "attacker-sync-" + std::to_string(round);
    if (!p.open() || !p.join(me)) {
      std::this_thread::sleep_for(20ms);
      continue;
    }
    ++c.connections;
    while (!stop && p.pump()) {
      for (int k = 0; k < 10; ++k) {
        const std::string& doc = t.documents[rng() % t.documents.size()];
        am::Bytes data;
        switch (rng() % 6) {
          case 0: {  // not a sync message at all
            const std::string junk = random_bytes(rng, 1 + rng() % 200);
            data.assign(junk.begin(), junk.end());
            break;
          }
          case 1: {  // the right first byte, then garbage
            const std::string junk = "\x42" + random_bytes(rng, rng() % 200);
            data.assign(junk.begin(), junk.end());
            break;
          }
          case 2: {  // well-formed, but heads and needs nobody has
            am::SyncMessage m;
            m.heads = {random_hash(rng)};
            m.need = {random_hash(rng), random_hash(rng)};
            m.have.push_back(am::SyncHave{{random_hash(rng)}, {}});
            data = m.encode();
            break;
          }
          case 3: {  // a "change" that is not one
            am::SyncMessage m;
            m.heads = {random_hash(rng)};
            const std::string junk = random_bytes(rng, 64 + rng() % 200);
            m.changes.push_back(am::Bytes(junk.begin(), junk.end()));
            data = m.encode();
            break;
          }
          case 4: {  // a well-formed sync message, truncated
            am::SyncMessage m;
            m.heads = {random_hash(rng), random_hash(rng)};
            data = m.encode();
            data.resize(data.size() / 2);
            break;
          }
          default: {  // the wrong CBOR shapes for a sync message (these close the connection)
            json bad = doc_message("sync", me, t.server_id, doc, {});
            if (rng() % 2 == 0) {
              bad["data"] = "not bytes";
            } else {
              bad["documentId"] = 12345;
            }
            p.send_message(bad);
            ++c.invalid_sync;
            continue;
          }
        }
        p.send_message(doc_message(rng() % 4 == 0 ? "request" : "sync", me, t.server_id, doc, data));
        ++c.invalid_sync;
      }
      std::this_thread::sleep_for(10ms);
    }
  }
}

// Requests for documents nobody has: ids drawn from `pool`, or a fresh random id each time when
// the pool is empty.
void attack_requests(const AttackTarget& t, AttackCounters& c, const std::atomic<bool>& stop, std::uint64_t seed,
                     int per_burst, const std::vector<std::string>& pool = {}) {
  std::mt19937_64 rng(seed);
  // What a client that has nothing sends: no heads, one empty have.
  am::SyncMessage nothing;
  nothing.have.push_back(am::SyncHave{});
  const am::Bytes empty = nothing.encode();
  for (std::uint64_t round = 0; !stop; ++round) {
    RawPeer p(round % 2 == 0 ? RawPeer::Kind::kWebSocket : RawPeer::Kind::kTcp,
              round % 2 == 0 ? t.ws_port : t.tcp_port);
    const std::string me = "attacker-flood-" + std::to_string(seed % 1000) + "-" + std::to_string(round);
    if (!p.open() || !p.join(me)) {
      std::this_thread::sleep_for(20ms);
      continue;
    }
    ++c.connections;
    while (!stop && p.pump()) {
      for (int k = 0; k < per_burst; ++k) {
        const std::string doc = pool.empty() ? random_document_id(rng) : pool[rng() % pool.size()];
        p.send_message(doc_message("request", me, t.server_id, doc, empty));
        ++c.requests;
      }
      std::this_thread::sleep_for(10ms);
    }
  }
}

// Holds `count` sockets open on each listener that never join (half of the WebSocket ones do
// finish the upgrade); reopens those the server closes (its handshake timeout).
void attack_idle(const AttackTarget& t, AttackCounters& c, const std::atomic<bool>& stop, int count) {
  std::vector<std::unique_ptr<RawPeer>> idle;
  for (int i = 0; i < count && !stop; ++i) {
    idle.push_back(std::make_unique<RawPeer>(RawPeer::Kind::kWebSocket, t.ws_port));
    idle.push_back(std::make_unique<RawPeer>(RawPeer::Kind::kTcp, t.tcp_port));
  }
  for (std::size_t i = 0; i < idle.size() && !stop; ++i) {
    if (idle[i]->open(i % 4 == 0)) ++c.idle_open;
  }
  while (!stop) {
    for (std::size_t i = 0; i < idle.size() && !stop; ++i) {
      if (idle[i]->pump()) continue;
      if (idle[i]->open(i % 4 == 0)) ++c.idle_reopened;
    }
    std::this_thread::sleep_for(50ms);
  }
}

// The well-behaved side: 20 client repos, 4 shared documents. Client i edits document i % 4 (its
// own key, "edit-i", set to a sequence number every ~100 ms) and watches documents i % 4 and
// (i + 1) % 4; each edit seen by a watcher that is not its author is one latency sample.
class Crowd {
 public:
  static constexpr int kClients = 20;
  static constexpr int kDocuments = 4;

  ~Crowd() { shutdown(); }

  bool start(const std::string& ws_url, const std::string& tcp_url, const std::string& server_id, std::string& error) {
    for (int i = 0; i < kClients; ++i) {
      clients_.push_back(std::make_unique<Client>());
      clients_.back()->repo = open_client(peer_id(i));
      if (!clients_.back()->repo) {
        error = "cannot open client " + std::to_string(i);
        return false;
      }
      dial(*clients_.back()->repo, i % 2 == 0 ? ws_url : tcp_url);  // both transports
    }
    for (int d = 0; d < kDocuments; ++d) {
      am::repo::DocHandle h = clients_[d]->repo->create();
      if (!h.wait_synced(am::repo::PeerId(server_id), std::chrono::milliseconds(20'000 * kSlow))) {
        error = "the server did not get document " + std::to_string(d);
        return false;
      }
      documents_.push_back(h.id());
    }
    state_->sent.resize(kClients);
    for (auto& s : state_->sent) s.emplace_back(Clock::now(), 0);  // sequence numbers start at 1
    state_->last_seen.assign(kClients, std::vector<std::int64_t>(kClients, -1));
    for (int i = 0; i < kClients; ++i) {
      for (int d : {i % kDocuments, (i + 1) % kDocuments}) {
        auto found = clients_[i]->repo->find(documents_[d], std::chrono::milliseconds(20'000 * kSlow)).get();
        if (!found) {
          error = "client " + std::to_string(i) + " cannot find document " + std::to_string(d) + ": " +
                  found.error().to_string();
          return false;
        }
        clients_[i]->docs[d] = *found;
        clients_[i]->subs.push_back(found->on_change([state = state_, i](const am::repo::DocumentChange& c) {
          if (!c.local) state->seen(i, c);
        }));
      }
    }
    editor_ = std::thread([this] { edit(); });
    return true;
  }
  static std::string peer_id(int i) { return "good-" + std::to_string(i); }
  std::vector<std::string> document_ids() const {
    std::vector<std::string> out;
    for (const auto& d : documents_) out.push_back(d.to_string());
    return out;
  }
  // Samples of edits made from now on go to `phase` (0: not recorded).
  void set_phase(int phase) { state_->phase = phase; }
  std::vector<double> samples(int phase) {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->samples[phase];
  }
  void stop_editing() {
    stop_ = true;
    if (editor_.joinable()) editor_.join();
  }
  std::size_t failed_changes() const { return failed_changes_; }
  // Whether every watcher of every document has the same heads and every author's last edit.
  bool converged(std::string& why) {
    for (int d = 0; d < kDocuments; ++d) {
      std::optional<std::vector<am::ChangeHash>> heads;
      for (int i = 0; i < kClients; ++i) {
        auto it = clients_[i]->docs.find(d);
        if (it == clients_[i]->docs.end()) continue;
        const auto h = it->second.heads();
        if (heads && h != *heads) {
          why = "document " + std::to_string(d) + ": client " + std::to_string(i) + " has other heads";
          return false;
        }
        heads = h;
        for (int author = d; author < kClients; author += kDocuments) {
          const std::int64_t want = static_cast<std::int64_t>(last_edit_[author]);
          std::int64_t have = -1;
          it->second.read([&](const am::Document& doc) { have = int_at(doc, "edit-" + std::to_string(author)); });
          if (have != want) {
            why = "document " + std::to_string(d) + ": client " + std::to_string(i) + " has edit " +
                  std::to_string(have) + " of client " + std::to_string(author) + ", not " + std::to_string(want);
            return false;
          }
        }
      }
    }
    return true;
  }
  // How many watchers (of all documents) have `key` in their copy.
  int watchers_with(const std::string& key) {
    int n = 0;
    for (auto& c : clients_) {
      for (auto& [d, h] : c->docs) {
        h.read([&](const am::Document& doc) {
          auto v = doc.get(am::ObjId::root(), key);
          n += v && v->has_value();
        });
      }
    }
    return n;
  }
  int watchers() const { return kClients * 2; }
  void shutdown() {
    stop_editing();
    for (auto& c : clients_) {
      c->subs.clear();
      if (c->repo) c->repo->stop();
    }
    clients_.clear();
  }

 private:
  struct Client {
    std::unique_ptr<am::repo::Repo> repo;
    std::map<int, am::repo::DocHandle> docs;
    std::vector<am::repo::Subscription> subs;
  };
  // Shared with the observers (they run on the clients' io threads).
  struct State {
    std::mutex mutex;
    std::atomic<int> phase{0};
    std::vector<std::vector<std::pair<Clock::time_point, int>>> sent;  // [author][seq] = (time, phase)
    std::vector<std::vector<std::int64_t>> last_seen;                   // [watcher][author]
    std::map<int, std::vector<double>> samples;                         // by phase
    void seen(int watcher, const am::repo::DocumentChange& c) {
      const auto now = Clock::now();
      std::lock_guard<std::mutex> lock(mutex);
      for (const auto& p : c.patches) {
        if (p.kind != am::Patch::Kind::kPut || p.path.size() != 1) continue;
        const auto* key = std::get_if<std::string>(&p.path[0]);
        if (key == nullptr || key->rfind("edit-", 0) != 0) continue;
        const auto* scalar = std::get_if<am::ScalarValue>(&p.value);
        const auto* seq = scalar != nullptr ? std::get_if<std::int64_t>(scalar) : nullptr;
        if (seq == nullptr) continue;
        const int author = std::stoi(key->substr(5));
        if (author < 0 || author >= kClients) continue;
        std::int64_t& last = last_seen[watcher][author];
        for (std::int64_t s = last + 1; s <= *seq && s < static_cast<std::int64_t>(sent[author].size()); ++s) {
          const auto& [at, phase] = sent[author][static_cast<std::size_t>(s)];
          if (phase != 0) samples[phase].push_back(ms_between(at, now));
        }
        last = std::max(last, *seq);
      }
    }
  };

  static std::int64_t int_at(const am::Document& doc, const std::string& key) {
    auto v = doc.get(am::ObjId::root(), key);
    if (!v || !*v) return -1;
    const auto* scalar = std::get_if<am::ScalarValue>(&**v);
    const auto* i = scalar != nullptr ? std::get_if<std::int64_t>(scalar) : nullptr;
    return i != nullptr ? *i : -1;
  }

  // One thread makes every client's edits: client i edits 5*i ms into each 100 ms round.
  void edit() {
    auto round = Clock::now();
    while (!stop_) {
      for (int i = 0; i < kClients && !stop_; ++i) {
        std::this_thread::sleep_until(round + std::chrono::milliseconds(5 * i));
        const std::int64_t seq = static_cast<std::int64_t>(last_edit_[i] + 1);
        {
          std::lock_guard<std::mutex> lock(state_->mutex);
          state_->sent[i].emplace_back(Clock::now(), state_->phase.load());
        }
        const am::Status st = clients_[i]->docs.at(i % kDocuments).change([&](am::Document& d) {
          (void)d.put(am::ObjId::root(), "edit-" + std::to_string(i), seq);
        });
        if (st) {
          last_edit_[i] = static_cast<std::size_t>(seq);
        } else {
          ++failed_changes_;
          std::lock_guard<std::mutex> lock(state_->mutex);
          state_->sent[i].pop_back();
        }
      }
      round += 100ms;
      if (round < Clock::now()) round = Clock::now();  // fell behind: do not catch up in a burst
    }
  }

  std::vector<std::unique_ptr<Client>> clients_;
  std::vector<am::repo::DocumentId> documents_;
  std::shared_ptr<State> state_ = std::make_shared<State>();
  std::array<std::size_t, kClients> last_edit_{};  // sequence numbers start at 1 (0: none yet)
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> failed_changes_{0};
  std::thread editor_;
};

TEST(ServerResilience, HostilePeersDoNotHurtWellBehavedClients) {
  const std::uint64_t seed = test_seed("HostilePeersDoNotHurtWellBehavedClients");
  const TestDir test_dir("hostile");
  const fs::path& dir = test_dir.path;
  const std::string server_id = "hostile-server";
  const auto test_start = Clock::now();
  auto server = start_server("--listen 127.0.0.1:0 --tcp 127.0.0.1:0 --log-level error --peer-id " + server_id +
                                 " --data " + (dir / "data").string(),
                             2);
  ASSERT_TRUE(server) << "the server did not start";
  const std::string ws_url = server->url(0), tcp_url = server->url(1);

  Crowd crowd;
  std::string error;
  ASSERT_TRUE(crowd.start(ws_url, tcp_url, server_id, error)) << error;
  const std::size_t rss_clients_kb = proc_status_kb(server->pid(), "VmRSS");

  // The no-attack figure.
  std::this_thread::sleep_for(std::chrono::milliseconds(1000 * kSlow));  // warm up
  crowd.set_phase(1);
  std::this_thread::sleep_for(4s);
  crowd.set_phase(0);

  // The attack: every kind at once, against both listeners, while the clients keep editing.
  AttackTarget target{am::test::port_of(ws_url), am::test::port_of(tcp_url), server_id, crowd.document_ids(), {}};
  for (int i = 0; i < Crowd::kClients; ++i) target.victims.push_back(Crowd::peer_id(i));
  // The control for the spoofing: the same change, sent under the attacker's own PeerId, is
  // accepted (the protocol has no authentication), so "spoofed" missing below means the
  // server dropped the spoofed copies, not that the message was unusable.
  {
    RawPeer control(RawPeer::Kind::kWebSocket, target.ws_port);
    ASSERT_TRUE(control.open() && control.join("attacker-control")) << "a raw WebSocket join failed";
    EXPECT_TRUE(control.send_message(
        doc_message("sync", "attacker-control", server_id, target.documents[0], sync_with_change("injected"))));
    control.pump(200);
  }
  AttackCounters counters;
  std::atomic<bool> stop_attack{false};
  std::vector<std::thread> attackers;
  // AM_TEST_ATTACKS=idle,garbage,... runs only those (to find which one hurts); default all.
  const char* only = std::getenv("AM_TEST_ATTACKS");
  const auto on = [&](const std::string& name) {
    return only == nullptr || *only == '\0' || ("," + std::string(only) + ",").find("," + name + ",") != std::string::npos;
  };
  if (on("idle")) attackers.emplace_back([&] { attack_idle(target, counters, stop_attack, 50); });
  if (on("garbage")) attackers.emplace_back([&] { attack_garbage(target, counters, stop_attack, seed + 1); });
  if (on("oversized")) attackers.emplace_back([&] { attack_oversized(target, counters, stop_attack, seed + 2); });
  if (on("spoof")) attackers.emplace_back([&] { attack_spoof(target, counters, stop_attack, seed + 3); });
  if (on("sync")) attackers.emplace_back([&] { attack_invalid_sync(target, counters, stop_attack, seed + 4); });
  // 256 random ids requested over and over: each is opened, found unavailable, released and
  // opened again. (Fresh ids for every request cost the server more work per request; their
  // memory is checked by RequestFloodForUnknownDocumentsStaysBounded, alone, since on two busy
  // cores that work alone can slow the clients past the latency bound.)
  std::vector<std::string> unknown_ids;
  std::mt19937_64 id_rng(seed + 7);
  for (int i = 0; i < 256; ++i) unknown_ids.push_back(random_document_id(id_rng));
  if (on("requests")) {
    attackers.emplace_back([&] { attack_requests(target, counters, stop_attack, seed + 5, 20, unknown_ids); });
    attackers.emplace_back([&] { attack_requests(target, counters, stop_attack, seed + 6, 20, unknown_ids); });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500 * kSlow));  // the attack ramps up
  crowd.set_phase(2);
  std::this_thread::sleep_for(6s);
  crowd.set_phase(0);

  // Convergence while the attack goes on.
  crowd.stop_editing();
  std::string why;
  const bool converged = wait_until(std::chrono::milliseconds(15'000 * kSlow), [&] { return crowd.converged(why); });
  EXPECT_TRUE(converged) << "the well-behaved clients did not converge under attack: " << why;
  const bool alive_under_attack = server->alive();
  const std::size_t rss_attack_kb = alive_under_attack ? proc_status_kb(server->pid(), "VmRSS") : 0;
  stop_attack = true;
  for (auto& t : attackers) t.join();

  ASSERT_TRUE(alive_under_attack && server->alive()) << "the server died: " << server->how_it_ended();
  const std::size_t hwm_kb = proc_status_kb(server->pid(), "VmHWM");
  const std::string health = am::test::http_get(target.ws_port, "/health");
  EXPECT_NE(health.find("200 OK"), std::string::npos) << health;
  const json h = json::parse(am::test::http_body(health), nullptr, false);
  EXPECT_TRUE(h.is_object() && h.value("status", "") == "ok") << health;

  // Spoofed senders were ignored; the attacker's own change was not.
  const int injected = crowd.watchers_with("injected"), spoofed = crowd.watchers_with("spoofed");
  EXPECT_EQ(spoofed, 0) << "a message with a spoofed senderId was applied";
  EXPECT_EQ(injected, Crowd::kClients / Crowd::kDocuments * 2) << "the control change did not reach document 0's watchers";

  std::vector<double> base = crowd.samples(1), attack = crowd.samples(2);
  const double p99_base = percentile(base, 0.99), p99_attack = percentile(attack, 0.99);
  const double bound = 3 * std::max(p99_base, 50.0);
  std::printf("[ latency  ] edit-to-visible p99: %.1f ms without attack (%zu samples, p50 %.1f), %.1f ms under "
              "attack (%zu samples, p50 %.1f); bound %.1f ms%s\n",
              p99_base, base.size(), percentile(base, 0.5), p99_attack, attack.size(), percentile(attack, 0.5), bound,
              AM_TEST_SANITIZED ? " (not asserted: sanitizer build)" : "");
  std::printf("[ attack   ] %llu connections, %llu garbage frames, %llu oversized (%llu closed by the server), %llu "
              "spoofed, %llu invalid sync, %llu requests for unknown documents, %llu idle sockets (%llu reopened)\n",
              static_cast<unsigned long long>(counters.connections.load()),
              static_cast<unsigned long long>(counters.frames.load()),
              static_cast<unsigned long long>(counters.oversized.load()),
              static_cast<unsigned long long>(counters.oversized_closed.load()),
              static_cast<unsigned long long>(counters.spoofed.load()),
              static_cast<unsigned long long>(counters.invalid_sync.load()),
              static_cast<unsigned long long>(counters.requests.load()),
              static_cast<unsigned long long>(counters.idle_open.load()),
              static_cast<unsigned long long>(counters.idle_reopened.load()));
  // Measured peaks were 65-130 MiB: an oversized WebSocket message is buffered up to the 64 MiB
  // limit before it is refused. A few of those at once fit; unbounded growth (before documents
  // nobody has were released, the fresh-id request flood took 600+ MiB) does not.
  constexpr std::size_t kRssBoundKb = 320 * 1024;
  std::printf("[ memory   ] server RSS %zu MiB with the clients, %zu MiB under attack, peak (VmHWM) %zu MiB; bound "
              "%zu MiB; %.1f s\n",
              rss_clients_kb / 1024, rss_attack_kb / 1024, hwm_kb / 1024, kRssBoundKb / 1024,
              ms_between(test_start, Clock::now()) / 1000);
  EXPECT_GT(base.size(), 1000u) << "too few samples without attack";
  EXPECT_GT(attack.size(), 1000u) << "too few samples under attack";
  if (!AM_TEST_SANITIZED) {
    EXPECT_LT(p99_attack, bound) << "the attack slowed the well-behaved clients down";
  }
  EXPECT_LT(hwm_kb, kRssBoundKb) << "server peak RSS";
  if (on("oversized")) {
    EXPECT_GT(counters.oversized_closed.load(), 0u);
  }
  EXPECT_EQ(counters.oversized_closed.load(), counters.oversized.load()) << "an oversized frame was not refused";
  EXPECT_EQ(crowd.failed_changes(), 0u);
  crowd.shutdown();
  EXPECT_EQ(server->stop(), 0);
}

// Findings of the hostile-peers work (issue #12), fixed since; kept as regression tests.

// One connection asks for ~4000 fresh random document ids a second for 10 s. Each request used
// to open a document that was never closed (measured before the fix: 38.5k ids, 38.5k open
// documents afterwards, 624 MiB peak); now documents nobody has are released, and the
// per-connection open budget (--max-doc-opens) slows the flood down.
TEST(ServerResilience, RequestFloodForUnknownDocumentsStaysBounded) {
  const std::uint64_t seed = test_seed("RequestFloodForUnknownDocumentsStaysBounded");
  const TestDir test_dir("flood");
  const fs::path& dir = test_dir.path;
  auto server = start_server("--listen 127.0.0.1:0 --tcp 127.0.0.1:0 --log-level error --peer-id flood-server --data " +
                                 (dir / "data").string(),
                             2);
  ASSERT_TRUE(server);
  AttackTarget target{am::test::port_of(server->url(0)), am::test::port_of(server->url(1)), "flood-server", {}, {}};
  AttackCounters counters;
  std::atomic<bool> stop{false};
  std::thread flood([&] { attack_requests(target, counters, stop, seed, 40); });
  std::this_thread::sleep_for(10s);
  stop = true;
  flood.join();
  std::this_thread::sleep_for(1s);  // the flood's connection has closed
  ASSERT_TRUE(server->alive()) << server->how_it_ended();
  const json health = json::parse(am::test::http_body(am::test::http_get(target.ws_port, "/health")), nullptr, false);
  const std::size_t hwm_kb = proc_status_kb(server->pid(), "VmHWM");
  std::printf("[ flood    ] %llu requests for fresh ids: %s open documents afterwards, peak RSS %zu MiB\n",
              static_cast<unsigned long long>(counters.requests.load()),
              health.is_object() ? health.value("open_documents", json()).dump().c_str() : "?", hwm_kb / 1024);
  EXPECT_LT(health.value("open_documents", std::size_t{0}), 1000u) << "documents nobody has stay open";
  EXPECT_LT(hwm_kb, std::size_t{256} * 1024) << "peak RSS";
  EXPECT_EQ(server->stop(), 0);
}

// Eight joined connections each announce a 60 MiB frame (under the 64 MiB limit) and send one
// byte of it. Nothing times joined connections out, so what they pin stays pinned: the TCP
// transport used to allocate the whole announced body up front (8 x 5 bytes pinned 480 MiB);
// now both transports' buffers grow with what arrives.
TEST(ServerResilience, AnnouncedButUnsentFramesDoNotPinMemory) {
  auto server = start_server("--listen 127.0.0.1:0 --tcp 127.0.0.1:0 --log-level error --peer-id announce-server --memory", 2);
  ASSERT_TRUE(server);
  const std::size_t before_kb = proc_status_kb(server->pid(), "VmRSS");
  for (const bool ws : {true, false}) {
    std::vector<std::unique_ptr<RawPeer>> peers;
    for (int i = 0; i < 8; ++i) {
      peers.push_back(std::make_unique<RawPeer>(ws ? RawPeer::Kind::kWebSocket : RawPeer::Kind::kTcp,
                                                am::test::port_of(server->url(ws ? 0 : 1))));
      ASSERT_TRUE(peers.back()->open() && peers.back()->join("announcer-" + std::to_string(i)));
      const std::uint64_t announced = std::uint64_t{60} << 20;
      std::string start = ws ? RawPeer::ws_frame_header(0x82, announced, 0x01020304) : std::string();
      if (!ws) {
        for (int b = 3; b >= 0; --b) start.push_back(static_cast<char>((announced >> (8 * b)) & 0xff));
      }
      start.push_back('\xb9');  // the first byte of a CBOR map
      ASSERT_TRUE(peers.back()->send_raw(start.data(), start.size()));
    }
    std::this_thread::sleep_for(1s);
    const std::size_t rss_kb = proc_status_kb(server->pid(), "VmRSS");
    std::printf("[ announce ] %s: server RSS %zu MiB before, %zu MiB with 8 connections holding a 60 MiB frame open\n",
                ws ? "ws" : "tcp", before_kb / 1024, rss_kb / 1024);
    EXPECT_LT(rss_kb, before_kb + 64 * 1024) << (ws ? "ws" : "tcp");
    peers.clear();
    std::this_thread::sleep_for(500ms);
  }
  EXPECT_EQ(server->stop(), 0);
}


}  // namespace
