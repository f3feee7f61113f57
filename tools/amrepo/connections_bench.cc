#include "connections_bench.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "am/document.h"
#include "am/repo/ids.h"
#include "am/sync.h"
#include "file_tools.h"
#include "load_bench.h"

namespace amrepo {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

int fail(int code, const std::string& message) {
  std::cerr << "amrepo bench connections: " << message << "\n";
  return code;
}

struct Endpoint {
  std::string host, port, path;
};

std::optional<Endpoint> parse_ws_url(const std::string& url) {
  if (url.rfind("ws://", 0) != 0) return std::nullopt;
  const std::string rest = url.substr(5);
  const auto slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  const auto colon = authority.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  return Endpoint{authority.substr(0, colon), authority.substr(colon + 1),
                  slash == std::string::npos ? "/" : rest.substr(slash)};
}

// One client frame (RFC 6455 §5.2): FIN, the opcode, the mask bit and a masking key, as every
// client-to-server frame must carry.
std::string ws_frame(std::uint8_t opcode, const std::string& payload, std::uint32_t mask_seed) {
  std::string f;
  f.push_back(static_cast<char>(0x80 | opcode));
  const std::size_t n = payload.size();
  if (n < 126) {
    f.push_back(static_cast<char>(0x80 | n));
  } else if (n < 65536) {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xff));
  } else {
    f.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> (8 * i)) & 0xff));
  }
  const char mask[4] = {static_cast<char>(mask_seed), static_cast<char>(mask_seed >> 8),
                        static_cast<char>(mask_seed >> 16), static_cast<char>(mask_seed >> 24)};
  f.append(mask, 4);
  for (std::size_t i = 0; i < n; ++i) f.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
  return f;
}

std::string cbor(const json& message) {
  const std::vector<std::uint8_t> bytes = json::to_cbor(message);
  return std::string(bytes.begin(), bytes.end());
}

json binary(const am::Bytes& bytes) { return json::binary(std::vector<std::uint8_t>(bytes.begin(), bytes.end())); }

// One client: its connection, where it is in the handshake, and its copy of the document.
struct WsClient {
  enum class Phase { kNotStarted, kConnecting, kUpgrading, kJoining, kOpening, kOpen, kFailed, kClosed };
  std::size_t index = 0;  // in the driver's list (epoll's user data)
  int fd = -1;
  Phase phase = Phase::kNotStarted;
  std::string peer_id;
  std::string server_peer;
  std::string document;  // bs58check id
  std::string in, out;
  am::Document doc;
  am::SyncState sync;
};

class Driver {
 public:
  Driver(Endpoint endpoint, std::uint32_t seed) : endpoint_(std::move(endpoint)), rng_(seed) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
  }
  ~Driver() {
    for (auto& c : clients_) {
      if (c->fd >= 0) ::close(c->fd);
    }
    if (epoll_ >= 0) ::close(epoll_);
  }

  bool resolve() {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (getaddrinfo(endpoint_.host.c_str(), endpoint_.port.c_str(), &hints, &res) != 0 || res == nullptr) return false;
    std::memcpy(&address_, res->ai_addr, res->ai_addrlen);
    address_len_ = res->ai_addrlen;
    freeaddrinfo(res);
    return true;
  }

  void add(std::string document) {
    auto c = std::make_unique<WsClient>();
    c->index = clients_.size();
    c->peer_id = "bench-conn-" + std::to_string(clients_.size()) + "-" + std::to_string(rng_() % 1000000);
    c->document = std::move(document);
    clients_.push_back(std::move(c));
  }

  // Drives connections until each is open or failed, with at most `in_flight` in their
  // handshake at once. Returns false on timeout.
  bool open_all(std::size_t in_flight, Clock::time_point deadline) {
    std::size_t next = 0;
    while (true) {
      while (next < clients_.size() && handshaking() < in_flight) start(*clients_[next++]);
      if (next == clients_.size() && handshaking() == 0) return true;
      if (Clock::now() > deadline) return false;
      poll(50);
    }
  }

  // Keeps every connection serviced (pings answered, messages read) for `seconds`.
  void idle(double seconds) {
    const auto until = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < until) poll(50);
  }

  void close_all() {
    for (auto& c : clients_) {
      if (c->fd < 0) continue;
      ::close(c->fd);
      c->fd = -1;
      c->phase = WsClient::Phase::kClosed;
    }
  }

  std::size_t count(WsClient::Phase phase) const {
    std::size_t n = 0;
    for (const auto& c : clients_) n += c->phase == phase ? 1 : 0;
    return n;
  }
  const std::string& first_error() const { return first_error_; }

 private:
  std::size_t handshaking() const { return handshaking_; }

  void set_phase(WsClient& c, WsClient::Phase phase) {
    const bool was = in_handshake(c.phase), is = in_handshake(phase);
    if (was && !is) --handshaking_;
    if (!was && is) ++handshaking_;
    c.phase = phase;
  }
  static bool in_handshake(WsClient::Phase p) {
    return p == WsClient::Phase::kConnecting || p == WsClient::Phase::kUpgrading || p == WsClient::Phase::kJoining ||
           p == WsClient::Phase::kOpening;
  }

  void failed(WsClient& c, const std::string& why) {
    if (first_error_.empty()) first_error_ = why;
    if (c.fd >= 0) {
      ::close(c.fd);
      c.fd = -1;
    }
    set_phase(c, WsClient::Phase::kFailed);
  }

  void start(WsClient& c) {
    c.fd = ::socket(reinterpret_cast<sockaddr*>(&address_)->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    set_phase(c, WsClient::Phase::kConnecting);
    if (c.fd < 0) return failed(c, std::string("socket: ") + std::strerror(errno));
    const int one = 1;
    (void)setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&address_), address_len_) != 0 && errno != EINPROGRESS) {
      return failed(c, std::string("connect: ") + std::strerror(errno));
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u64 = c.index;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &ev);
    // The key only has to be 16 bytes in base64; the server's answer is not checked against it.
    c.out = "GET " + endpoint_.path + " HTTP/1.1\r\nHost: " + endpoint_.host + ":" + endpoint_.port +
            "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
  }

  void poll(int timeout_ms) {
    epoll_event events[256];
    const int n = epoll_wait(epoll_, events, 256, timeout_ms);
    for (int i = 0; i < n; ++i) {
      WsClient& c = *clients_[events[i].data.u64];
      if (c.fd < 0) continue;
      if (events[i].events & (EPOLLERR | EPOLLHUP)) {
        failed(c, "connection reset or refused");
        continue;
      }
      if (c.phase == WsClient::Phase::kConnecting) set_phase(c, WsClient::Phase::kUpgrading);
      if (events[i].events & EPOLLIN) read_from(c);
      if (c.fd >= 0) write_to(c);
    }
  }

  void write_to(WsClient& c) {
    while (!c.out.empty()) {
      const ssize_t w = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return failed(c, std::string("send: ") + std::strerror(errno));
      }
      c.out.erase(0, static_cast<std::size_t>(w));
    }
    epoll_event ev{};
    ev.events = EPOLLIN | (c.out.empty() ? 0u : static_cast<std::uint32_t>(EPOLLOUT));
    ev.data.u64 = c.index;
    epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void read_from(WsClient& c) {
    char buf[16384];
    while (true) {
      const ssize_t r = ::recv(c.fd, buf, sizeof buf, 0);
      if (r == 0) return failed(c, "the server closed a connection");
      if (r < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return failed(c, std::string("recv: ") + std::strerror(errno));
      }
      c.in.append(buf, static_cast<std::size_t>(r));
    }
    if (c.phase == WsClient::Phase::kUpgrading) {
      const auto end = c.in.find("\r\n\r\n");
      if (end == std::string::npos) return;
      if (c.in.rfind("HTTP/1.1 101", 0) != 0) return failed(c, "upgrade refused: " + c.in.substr(0, c.in.find("\r\n")));
      c.in.erase(0, end + 4);
      set_phase(c, WsClient::Phase::kJoining);
      send_message(c, json{{"type", "join"},
                           {"senderId", c.peer_id},
                           {"peerMetadata", {{"isEphemeral", true}}},
                           {"supportedProtocolVersions", json::array({"1"})}});
    }
    read_frames(c);
  }

  void send_message(WsClient& c, const json& message) { c.out += ws_frame(0x2, cbor(message), static_cast<std::uint32_t>(rng_())); }

  void read_frames(WsClient& c) {
    while (c.fd >= 0 && c.in.size() >= 2) {
      const auto b0 = static_cast<std::uint8_t>(c.in[0]), b1 = static_cast<std::uint8_t>(c.in[1]);
      std::size_t len = b1 & 0x7f, header = 2;
      if (len == 126) {
        if (c.in.size() < 4) return;
        len = (static_cast<std::size_t>(static_cast<std::uint8_t>(c.in[2])) << 8) | static_cast<std::uint8_t>(c.in[3]);
        header = 4;
      } else if (len == 127) {
        if (c.in.size() < 10) return;
        len = 0;
        for (int i = 2; i < 10; ++i) len = (len << 8) | static_cast<std::uint8_t>(c.in[static_cast<std::size_t>(i)]);
        header = 10;
      }
      if ((b1 & 0x80) != 0) return failed(c, "a masked frame from the server");
      if (c.in.size() < header + len) return;
      const std::string payload = c.in.substr(header, len);
      c.in.erase(0, header + len);
      const std::uint8_t opcode = b0 & 0x0f;
      if (opcode == 0x9) {
        c.out += ws_frame(0xA, payload, static_cast<std::uint32_t>(rng_()));  // pong
      } else if (opcode == 0x8) {
        return failed(c, "the server closed a connection (close frame)");
      } else if (opcode == 0x2) {
        on_message(c, payload);
      }
    }
  }

  void on_message(WsClient& c, const std::string& payload) {
    json m;
    try {
      m = json::from_cbor(payload, true, true, json::cbor_tag_handler_t::ignore);
    } catch (const json::exception& e) {
      return failed(c, std::string("undecodable message: ") + e.what());
    }
    const std::string type = m.value("type", "");
    if (c.phase == WsClient::Phase::kJoining) {
      if (type != "peer") return failed(c, "expected a peer message, got " + type);
      c.server_peer = m.value("senderId", "");
      set_phase(c, WsClient::Phase::kOpening);
      send_message(c, json{{"type", "request"}, {"senderId", c.peer_id}, {"targetId", c.server_peer},
                           {"documentId", c.document}, {"data", binary(*am::generate_sync_message(c.doc, c.sync))}});
      return;
    }
    if (type == "doc-unavailable") return failed(c, "document " + c.document + " unavailable");
    if (type != "sync" || !m.contains("data") || !m["data"].is_binary()) return;
    const std::vector<std::uint8_t>& data = m["data"].get_binary();
    if (!am::receive_sync_message(c.doc, c.sync, am::ByteView(data.data(), data.size()))) {
      return failed(c, "an invalid sync message");
    }
    if (auto reply = am::generate_sync_message(c.doc, c.sync)) {
      send_message(c, json{{"type", "sync"}, {"senderId", c.peer_id}, {"targetId", c.server_peer},
                           {"documentId", c.document}, {"data", binary(*reply)}});
    }
    if (c.phase == WsClient::Phase::kOpening && !c.doc.heads().empty()) set_phase(c, WsClient::Phase::kOpen);
  }

  Endpoint endpoint_;
  std::mt19937 rng_;
  int epoll_ = -1;
  sockaddr_storage address_{};
  socklen_t address_len_ = 0;
  std::vector<std::unique_ptr<WsClient>> clients_;
  std::size_t handshaking_ = 0;
  std::string first_error_;
};

void raise_open_files_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &limit);
  }
}

void put_usage(json& out, const std::string& name, const std::optional<ProcessUsage>& u) {
  out["rss_" + name + "_kb"] = u ? u->rss_kb : 0;
}

}  // namespace

int bench_connections(const ConnectionsBenchOptions& o) {
  const auto endpoint = parse_ws_url(o.url);
  if (!endpoint) return fail(kExitUsage, "expected ws://HOST:PORT[/PATH], not " + o.url);
  if (o.server_pid <= 0) return fail(kExitUsage, "--server-pid is required: the figures are the server's");
  if (o.connections == 0 || o.docs == 0 || o.in_flight == 0) return fail(kExitUsage, "counts must be positive");
  raise_open_files_limit();
  const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(o.timeout_s * 1000));
  auto ids = create_shared_documents(o.url, o.docs, timeout);
  if (!ids) return fail(kExitNetwork, ids.error().to_string());
  std::this_thread::sleep_for(std::chrono::seconds(1));  // let the creator's connection go

  Driver driver(*endpoint, 0x5eed);
  if (!driver.resolve()) return fail(kExitNetwork, "cannot resolve " + endpoint->host);
  for (std::size_t i = 0; i < o.connections; ++i) driver.add((*ids)[i % ids->size()].to_string());

  json out{{"workload", "connections"}, {"server", o.url}, {"connections", o.connections}, {"docs", o.docs}};
  const auto before = process_usage(o.server_pid);
  if (!before) return fail(kExitUsage, "cannot read /proc/" + std::to_string(o.server_pid));
  const auto start = Clock::now();
  const bool finished = driver.open_all(o.in_flight, start + timeout);
  out["open_ms"] = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  const auto opened_usage = process_usage(o.server_pid);
  const std::size_t opened = driver.count(WsClient::Phase::kOpen);
  out["opened"] = opened;
  out["failed"] = driver.count(WsClient::Phase::kFailed);
  if (!driver.first_error().empty()) out["first_error"] = driver.first_error();
  driver.idle(o.idle_s);
  const auto idle_usage = process_usage(o.server_pid);
  out["still_open"] = driver.count(WsClient::Phase::kOpen);
  driver.close_all();
  std::this_thread::sleep_for(std::chrono::duration<double>(o.after_close_s));
  const auto closed_usage = process_usage(o.server_pid);

  put_usage(out, "before", before);
  put_usage(out, "open", opened_usage);
  put_usage(out, "idle", idle_usage);
  put_usage(out, "closed", closed_usage);
  if (opened_usage && idle_usage) {
    const double n = static_cast<double>(std::max<std::size_t>(opened, 1));
    out["rss_per_connection_kb"] = static_cast<double>(opened_usage->rss_kb - before->rss_kb) / n;
    out["cpu_open_s"] = opened_usage->cpu_s - before->cpu_s;
    out["cpu_per_connection_ms"] = (opened_usage->cpu_s - before->cpu_s) * 1000 / n;
    out["cpu_idle_s"] = idle_usage->cpu_s - opened_usage->cpu_s;
    out["server_peak_rss_kb"] = idle_usage->peak_rss_kb;
  }
  std::cout << out.dump() << std::endl;
  return finished && opened == o.connections ? kExitOk : kExitNetwork;
}

}  // namespace amrepo
