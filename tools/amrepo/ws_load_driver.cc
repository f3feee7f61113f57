#include "ws_load_driver.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

namespace amrepo {

namespace ws_load {

using json = nlohmann::json;

// One client frame (RFC 6455 §5.2): FIN, the opcode, the mask bit and a masking key, as every
// client-to-server frame must carry.
void append_frame(std::string& out, std::uint8_t opcode, const std::string& payload, std::uint32_t mask_seed) {
  out.push_back(static_cast<char>(0x80 | opcode));
  const std::size_t n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<char>(0x80 | n));
  } else if (n < 65536) {
    out.push_back(static_cast<char>(0x80 | 126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xff));
  } else {
    out.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> (8 * i)) & 0xff));
  }
  const char mask[4] = {static_cast<char>(mask_seed), static_cast<char>(mask_seed >> 8),
                        static_cast<char>(mask_seed >> 16), static_cast<char>(mask_seed >> 24)};
  out.append(mask, 4);
  for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
}

std::string cbor(const json& message) {
  const std::vector<std::uint8_t> bytes = json::to_cbor(message);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace ws_load

std::optional<WsEndpoint> parse_ws_endpoint(const std::string& url) {
  if (url.rfind("ws://", 0) != 0) return std::nullopt;
  const std::string rest = url.substr(5);
  const auto slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  const auto colon = authority.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  return WsEndpoint{authority.substr(0, colon), authority.substr(colon + 1),
                    slash == std::string::npos ? "/" : rest.substr(slash)};
}

void raise_open_files_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &limit);
  }
}

WsLoadDriver::WsLoadDriver(WsEndpoint endpoint, std::uint32_t seed) : endpoint_(std::move(endpoint)), rng_(seed) {
  epoll_ = epoll_create1(EPOLL_CLOEXEC);
}

WsLoadDriver::~WsLoadDriver() {
  for (auto& c : clients_) {
    if (c->fd >= 0) ::close(c->fd);
  }
  if (epoll_ >= 0) ::close(epoll_);
}

bool WsLoadDriver::resolve() {
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

WsLoadClient& WsLoadDriver::add(std::string document, const std::string& peer_prefix) {
  auto c = std::make_unique<WsLoadClient>();
  c->index = clients_.size();
  c->peer_id = peer_prefix + std::to_string(clients_.size()) + "-" + std::to_string(rng_() % 1000000);
  c->document = std::move(document);
  clients_.push_back(std::move(c));
  return *clients_.back();
}

bool WsLoadDriver::open_all(std::size_t in_flight, Clock::time_point deadline) {
  std::size_t next = 0;
  while (true) {
    while (next < clients_.size() && handshaking_ < in_flight) start(*clients_[next++]);
    if (next == clients_.size() && handshaking_ == 0) return true;
    if (Clock::now() > deadline) return false;
    poll(50);
  }
}

void WsLoadDriver::idle(double seconds) {
  const auto until = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < until) poll(50);
}

void WsLoadDriver::close_all() {
  for (auto& c : clients_) {
    if (c->fd < 0) continue;
    ::close(c->fd);
    c->fd = -1;
    c->phase = WsLoadClient::Phase::kClosed;
  }
}

std::size_t WsLoadDriver::count(WsLoadClient::Phase phase) const {
  std::size_t n = 0;
  for (const auto& c : clients_) n += c->phase == phase ? 1 : 0;
  return n;
}

namespace {
bool in_handshake(WsLoadClient::Phase p) {
  using P = WsLoadClient::Phase;
  return p == P::kConnecting || p == P::kUpgrading || p == P::kJoining || p == P::kOpening;
}
}  // namespace

void WsLoadDriver::set_phase(WsLoadClient& c, WsLoadClient::Phase phase) {
  const bool was = in_handshake(c.phase), is = in_handshake(phase);
  if (was && !is) --handshaking_;
  if (!was && is) ++handshaking_;
  c.phase = phase;
}

void WsLoadDriver::failed(WsLoadClient& c, const std::string& why) {
  if (first_error_.empty()) first_error_ = why;
  if (c.fd >= 0) {
    ::close(c.fd);
    c.fd = -1;
  }
  set_phase(c, WsLoadClient::Phase::kFailed);
}

void WsLoadDriver::start(WsLoadClient& c) {
  c.fd = ::socket(reinterpret_cast<sockaddr*>(&address_)->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  set_phase(c, WsLoadClient::Phase::kConnecting);
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
  c.watching_writable = true;
  // The key only has to be 16 bytes in base64; the server's answer is not checked against it.
  c.out = "GET " + endpoint_.path + " HTTP/1.1\r\nHost: " + endpoint_.host + ":" + endpoint_.port +
          "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
}

void WsLoadDriver::poll(int timeout_ms) {
  epoll_event events[256];
  const int n = epoll_wait(epoll_, events, 256, timeout_ms);
  for (int i = 0; i < n; ++i) {
    WsLoadClient& c = *clients_[events[i].data.u64];
    if (c.fd < 0) continue;
    if (events[i].events & (EPOLLERR | EPOLLHUP)) {
      failed(c, "connection reset or refused");
      continue;
    }
    if (c.phase == WsLoadClient::Phase::kConnecting) set_phase(c, WsLoadClient::Phase::kUpgrading);
    if (events[i].events & EPOLLIN) read_from(c);
    if (c.fd >= 0) write_to(c);
  }
}

// Sends what the socket takes; asks epoll for writability only while bytes are left (one
// epoll_ctl per change of interest, not per write).
void WsLoadDriver::write_to(WsLoadClient& c) {
  while (!c.out.empty()) {
    const ssize_t w = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return failed(c, std::string("send: ") + std::strerror(errno));
    }
    c.out.erase(0, static_cast<std::size_t>(w));
  }
  const bool want = !c.out.empty();
  if (want == c.watching_writable) return;
  epoll_event ev{};
  ev.events = EPOLLIN | (want ? static_cast<std::uint32_t>(EPOLLOUT) : 0u);
  ev.data.u64 = c.index;
  epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
  c.watching_writable = want;
}

void WsLoadDriver::read_from(WsLoadClient& c) {
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
  if (c.phase == WsLoadClient::Phase::kUpgrading) {
    const auto end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) return;
    if (c.in.rfind("HTTP/1.1 101", 0) != 0) return failed(c, "upgrade refused: " + c.in.substr(0, c.in.find("\r\n")));
    c.in.erase(0, end + 4);
    set_phase(c, WsLoadClient::Phase::kJoining);
    send_join(c);
  }
  read_frames(c);
}

void WsLoadDriver::send_join(WsLoadClient& c) {
  ws_load::json join{{"type", "join"},
                     {"senderId", c.peer_id},
                     {"peerMetadata", {{"isEphemeral", true}}},
                     {"supportedProtocolVersions", ws_load::json::array({"1"})}};
  ws_load::append_frame(c.out, 0x2, ws_load::cbor(join), static_cast<std::uint32_t>(rng_()));
}

void WsLoadDriver::send_sync_message(WsLoadClient& c, const char* type, const am::Bytes& data) {
  ws_load::json m{{"type", type},
                  {"senderId", c.peer_id},
                  {"targetId", c.server_peer},
                  {"documentId", c.document},
                  {"data", ws_load::json::binary(std::vector<std::uint8_t>(data.begin(), data.end()))}};
  ws_load::append_frame(c.out, 0x2, ws_load::cbor(m), static_cast<std::uint32_t>(rng_()));
}

void WsLoadDriver::sync(WsLoadClient& c) {
  if (c.fd < 0 || c.phase != WsLoadClient::Phase::kOpen) return;
  if (auto message = am::generate_sync_message(c.doc, c.sync)) {
    send_sync_message(c, "sync", *message);
    write_to(c);
  }
}

void WsLoadDriver::read_frames(WsLoadClient& c) {
  std::size_t at = 0;  // parsed up to here; erased once at the end
  while (c.fd >= 0 && c.in.size() - at >= 2) {
    const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(c.in[at + i]); };
    const std::uint8_t b0 = byte(0), b1 = byte(1);
    std::size_t len = b1 & 0x7f, header = 2;
    if (len == 126) {
      if (c.in.size() - at < 4) break;
      len = (static_cast<std::size_t>(byte(2)) << 8) | byte(3);
      header = 4;
    } else if (len == 127) {
      if (c.in.size() - at < 10) break;
      len = 0;
      for (std::size_t i = 2; i < 10; ++i) len = (len << 8) | byte(i);
      header = 10;
    }
    if ((b1 & 0x80) != 0) return failed(c, "a masked frame from the server");
    if (c.in.size() - at < header + len) break;
    const std::string payload = c.in.substr(at + header, len);
    at += header + len;
    const std::uint8_t opcode = b0 & 0x0f;
    if (opcode == 0x9) {
      ws_load::append_frame(c.out, 0xA, payload, static_cast<std::uint32_t>(rng_()));  // pong
    } else if (opcode == 0x8) {
      return failed(c, "the server closed a connection (close frame)");
    } else if (opcode == 0x2) {
      on_message(c, payload);
    }
  }
  if (c.fd >= 0) c.in.erase(0, at);
}

void WsLoadDriver::on_message(WsLoadClient& c, const std::string& payload) {
  using json = ws_load::json;
  json m;
  try {
    m = json::from_cbor(payload, true, true, json::cbor_tag_handler_t::ignore);
  } catch (const json::exception& e) {
    return failed(c, std::string("undecodable message: ") + e.what());
  }
  const std::string type = m.contains("type") && m["type"].is_string() ? m["type"].get<std::string>() : "";
  if (c.phase == WsLoadClient::Phase::kJoining) {
    if (type != "peer") return failed(c, "expected a peer message, got " + type);
    c.server_peer = m.contains("senderId") && m["senderId"].is_string() ? m["senderId"].get<std::string>() : "";
    set_phase(c, WsLoadClient::Phase::kOpening);
    send_sync_message(c, "request", *am::generate_sync_message(c.doc, c.sync));
    return;
  }
  if (type == "doc-unavailable") return failed(c, "document " + c.document + " unavailable");
  if (type != "sync" || !m.contains("data") || !m["data"].is_binary()) return;
  const std::vector<std::uint8_t>& data = m["data"].get_binary();
  if (fetch_heads_) return fetch_step(c, data);
  const std::vector<am::ChangeHash> before = c.doc.heads();
  if (!receive_and_reply(c, data)) return;
  if (c.phase == WsLoadClient::Phase::kOpening && !c.doc.heads().empty()) set_phase(c, WsLoadClient::Phase::kOpen);
  if (c.phase == WsLoadClient::Phase::kOpen && on_remote_change_ && c.doc.heads() != before) on_remote_change_(c);
}

void WsLoadDriver::fetched(WsLoadClient& c) {
  c.fetched_at = Clock::now();
  ::close(c.fd);
  c.fd = -1;
  set_phase(c, WsLoadClient::Phase::kFetched);
}

bool WsLoadDriver::receive_and_reply(WsLoadClient& c, const std::vector<std::uint8_t>& data) {
  if (!am::receive_sync_message(c.doc, c.sync, am::ByteView(data.data(), data.size()))) {
    failed(c, "an invalid sync message");
    return false;
  }
  if (auto reply = am::generate_sync_message(c.doc, c.sync)) send_sync_message(c, "sync", *reply);
  return true;
}

void WsLoadDriver::fetch_step(WsLoadClient& c, const std::vector<std::uint8_t>& data) {
  // Decoded here for its heads and changes; receive_sync_message decodes it again, which costs
  // little next to applying the changes.
  auto message = am::SyncMessage::decode(am::ByteView(data.data(), data.size()));
  if (!message) return failed(c, "an invalid sync message: " + message.error().to_string());
  am::Bytes payload;
  for (const am::Bytes& chunk : message->changes) payload.insert(payload.end(), chunk.begin(), chunk.end());
  const bool fresh = c.doc.heads().empty();
  if (fresh && !payload.empty() && message->heads == *fetch_heads_ &&
      std::find(verified_payloads_.begin(), verified_payloads_.end(), payload) != verified_payloads_.end()) {
    return fetched(c);
  }
  if (!am::receive_sync_message(c.doc, c.sync, am::ByteView(data.data(), data.size()))) {
    return failed(c, "an invalid sync message");
  }
  if (c.doc.heads() == *fetch_heads_) {
    if (fresh && message->heads == *fetch_heads_) verified_payloads_.push_back(std::move(payload));
    return fetched(c);
  }
  if (auto reply = am::generate_sync_message(c.doc, c.sync)) send_sync_message(c, "sync", *reply);
}

}  // namespace amrepo
