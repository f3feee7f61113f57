// The load generators' WebSocket client side: many automerge-repo clients driven by one thread
// (epoll and a minimal RFC 6455 client), each with its own PeerId, connection, document copy and
// sync state. `bench connections` and `bench clients` use it, so that thousands of clients cost
// the generator a thread and a fraction of a core: a generator made of one Repo per client (two
// threads each) spent more CPU than the server it measured on a 2-core machine, and the latency
// it reported was mostly its own queueing.
//
// A client speaks the protocol as a storage-less JS client does: `join` (ephemeral), `peer`,
// then `request` for its document and `sync` messages from am::generate_sync_message and
// am::receive_sync_message. ws:// only (no TLS). Not thread-safe: one thread owns a driver and
// every client in it.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "am/document.h"
#include "am/sync.h"

namespace amrepo {

/// Where a ws:// URL points.
struct WsEndpoint {
  std::string host, port, path;
};
/// Parses ws://HOST:PORT[/PATH]; nullopt for anything else (wss:// included).
std::optional<WsEndpoint> parse_ws_endpoint(const std::string& url);

/// Raises this process's open-file limit to its hard limit (a client is a file descriptor).
void raise_open_files_limit();

/// One client of a WsLoadDriver. The driver owns it; the fields are the bench's to read (and
/// `doc` to change, followed by WsLoadDriver::sync).
struct WsLoadClient {
  enum class Phase { kNotStarted, kConnecting, kUpgrading, kJoining, kOpening, kOpen, kFetched, kFailed, kClosed };
  std::size_t index = 0;  // position in the driver (epoll's user data)
  int fd = -1;
  Phase phase = Phase::kNotStarted;
  std::string peer_id;
  std::string server_peer;
  std::string document;  // bs58check id
  std::string in, out;   // bytes received and not yet parsed; bytes queued for sending
  bool watching_writable = true;
  std::optional<std::chrono::steady_clock::time_point> fetched_at;  // fetch-only clients: when done
  am::Document doc;
  am::SyncState sync;
};

/// Drives many WsLoadClients from the calling thread. See the file comment.
class WsLoadDriver {
 public:
  using Clock = std::chrono::steady_clock;

  WsLoadDriver(WsEndpoint endpoint, std::uint32_t seed);
  ~WsLoadDriver();
  WsLoadDriver(const WsLoadDriver&) = delete;
  WsLoadDriver& operator=(const WsLoadDriver&) = delete;

  /// Resolves the endpoint's host; false when it cannot.
  bool resolve();
  /// Adds a client (not yet connected) that will open `document`; its PeerId starts with
  /// `peer_prefix`.
  WsLoadClient& add(std::string document, const std::string& peer_prefix);

  /// Connects and handshakes clients until each is open (its document arrived) or failed, with
  /// at most `in_flight` in their handshake at once. False on timeout.
  bool open_all(std::size_t in_flight, Clock::time_point deadline);
  /// Services every connection (reads, answers, pings) for up to `timeout_ms` (0: what is ready).
  void poll(int timeout_ms);
  /// poll() for `seconds`.
  void idle(double seconds);
  /// Closes every connection at once (no close handshake: what a crashing client does).
  void close_all();

  /// Sends what the sync protocol has to say after `c.doc` changed locally (commits first).
  void sync(WsLoadClient& c);
  /// Makes every client fetch-only (bench bigdoc): a client is done (kFetched, its connection
  /// closed, fetched_at set) once it has a document with these heads. It syncs as any client,
  /// except that a message whose changes are byte for byte those of a message that already
  /// gave a fresh client exactly these heads is not decoded again: twenty clients fetching the
  /// same big document cost the generator one load, not twenty, so on a small machine the bench
  /// measures the server's work rather than its own.
  void fetch_only(std::vector<am::ChangeHash> heads) { fetch_heads_ = std::move(heads); }
  /// Called after a received sync message changed a client's document (not its own edits).
  void on_remote_change(std::function<void(WsLoadClient&)> callback) { on_remote_change_ = std::move(callback); }

  std::size_t size() const { return clients_.size(); }
  WsLoadClient& client(std::size_t i) { return *clients_[i]; }
  std::size_t count(WsLoadClient::Phase phase) const;
  /// The first failure's description ("" when nothing failed).
  const std::string& first_error() const { return first_error_; }

 private:
  void set_phase(WsLoadClient& c, WsLoadClient::Phase phase);
  void failed(WsLoadClient& c, const std::string& why);
  void start(WsLoadClient& c);
  void write_to(WsLoadClient& c);
  void read_from(WsLoadClient& c);
  void read_frames(WsLoadClient& c);
  void on_message(WsLoadClient& c, const std::string& payload);
  void send_sync_message(WsLoadClient& c, const char* type, const am::Bytes& data);
  void send_join(WsLoadClient& c);
  // Applies a sync message and sends the reply, if any; false (the client failed) when the
  // message does not apply.
  bool receive_and_reply(WsLoadClient& c, const std::vector<std::uint8_t>& data);
  // Fetch-only clients: handles a sync message, until the client has the fetched heads.
  void fetch_step(WsLoadClient& c, const std::vector<std::uint8_t>& data);
  void fetched(WsLoadClient& c);

  WsEndpoint endpoint_;
  std::mt19937 rng_;
  int epoll_ = -1;
  sockaddr_storage address_{};
  socklen_t address_len_ = 0;
  std::vector<std::unique_ptr<WsLoadClient>> clients_;
  std::size_t handshaking_ = 0;
  std::string first_error_;
  std::function<void(WsLoadClient&)> on_remote_change_;
  std::optional<std::vector<am::ChangeHash>> fetch_heads_;
  std::vector<am::Bytes> verified_payloads_;  // changes of a message that alone gave fetch_heads_
};

}  // namespace amrepo
