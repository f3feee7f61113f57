// A deterministic network of sans-IO repos for tests: N peers, each a Hub plus DocActors over a
// real in-memory StorageAdapter, joined by in-memory ordered links with seeded latencies, driven
// by one virtual clock. Every run with the same seed takes the same steps (tests print the seed).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "am/document.h"
#include "am/repo/share_policy.h"
#include "am/repo/storage.h"
#include "repo/core/doc_actor.h"
#include "repo/core/hub.h"

namespace am::repo::sim {

using core::DocState;
using core::Millis;

struct PeerOptions {
  std::string name;  // also the PeerId
  bool storage = true;
  std::shared_ptr<const SharePolicy> policy = share_everything();
};

/// One frame that crossed a link, decoded (for assertions about who said what, and when).
struct LoggedMessage {
  Millis at = 0;
  int from = -1;
  int to = -1;
  wire::Message message;
};

struct ReceivedEphemeral {
  std::string sender;
  Bytes data;
};

class Sim {
 public:
  explicit Sim(std::uint64_t seed);
  ~Sim();

  int add_peer(PeerOptions options);
  /// Opens a link; `initiator` sends join.
  void connect(int initiator, int acceptor);
  /// Closes the link between a and b (both sides see the transport end).
  void disconnect(int a, int b);
  bool connected(int a, int b) const;
  /// Drops a peer's memory (hub, documents, links) as a crash would; its storage stays.
  void restart(int peer);

  /// A new document on `peer` (an initial empty change, as JS create()), optionally edited.
  DocumentId create(int peer, const std::function<void(Document&)>& init = {});
  /// Starts finding `id` on `peer` (storage, then the network); see state().
  void find(int peer, const DocumentId& id);
  /// Edits a ready document and commits.
  void change(int peer, const DocumentId& id, const std::function<void(Document&)>& edit);
  void broadcast(int peer, const DocumentId& id, Bytes data);
  void remove(int peer, const DocumentId& id);
  /// Marks `count` dials of `peer` as in progress (the repo waits for them before "unavailable").
  void set_pending_dials(int peer, std::size_t count);
  /// Saves everything unsaved now.
  void flush(int peer);

  /// Runs events until nothing is scheduled or `limit` ms of virtual time passed.
  void run(Millis limit = 120'000);
  /// Runs one event at a time until `done()` holds (true) or nothing is left / `limit` passed.
  bool run_until(const std::function<bool()>& done, Millis limit = 120'000);
  /// What `peer`'s actor for `id` knows of each peer's sync progress.
  std::vector<core::PeerSyncInfo> sync_info(int peer, const DocumentId& id) const;
  Millis now() const { return now_; }

  std::optional<DocState> state(int peer, const DocumentId& id) const;
  /// The document on `peer`, or nullptr when it has no actor for it.
  const Document* document(int peer, const DocumentId& id) const;
  std::vector<ChangeHash> heads(int peer, const DocumentId& id) const;
  const std::vector<ReceivedEphemeral>& ephemera(int peer, const DocumentId& id);
  /// Every state an actor of `peer` reported for `id`, in order.
  const std::vector<DocState>& state_history(int peer, const DocumentId& id);
  StorageAdapter& storage(int peer);
  const std::vector<LoggedMessage>& log() const { return log_; }
  const std::vector<core::ConnectionEvent>& connection_events(int peer);
  std::size_t storage_errors() const { return storage_errors_; }
  std::mt19937_64& rng() { return rng_; }
  int peer_index(const std::string& name) const;
  const std::string& name(int peer) const;

 private:
  struct Node;
  struct Link;
  void schedule(Millis at, std::function<void()> fn);
  void start_node(int peer);
  void settle(int peer);
  void route_hub_effects(int peer, core::HubEffects effects);
  void route_actor_effects(int peer, const DocumentId& id, core::DocEffects effects);
  void run_storage(int peer, std::optional<DocumentId> doc, core::StorageTask task);
  void deliver(int from, int to, core::ConnectionId to_conn, Bytes frame);
  Link* link_between(int a, int b);
  Millis latency();

  std::mt19937_64 rng_;
  Millis now_ = 0;
  std::uint64_t seq_ = 0;
  std::multimap<std::pair<Millis, std::uint64_t>, std::function<void()>> queue_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::unique_ptr<Link>> links_;
  std::vector<LoggedMessage> log_;
  std::size_t storage_errors_ = 0;
};

}  // namespace am::repo::sim
