// The state behind am::repo::Repo and DocHandle, shared by the runtime's files:
//   repo.cc            the public Repo API (open, create, find, listen, connect, stats, stop)
//   doc_handle.cc      the public DocHandle API
//   repo_events.cc     the pump: hub and actor events in, their effects dispatched
//   document_table.cc  documents in memory: actors, eviction, the idle sweep, reload
//   dialers.cc         connections: attaching transports, dialers and their redials
//
// Serialization: the hub runs on one SerialQueue under hub_mutex; each document has its own
// SerialQueue and mutex. Effects leave a queue as posts to other queues, so no lock is ever held
// while taking another, except hub_mutex -> docs_mutex (never the reverse).
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <iterator>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include "am/repo/repo.h"
#include "repo/core/doc_actor.h"
#include "repo/core/hub.h"
#include "repo/core/wire/cbor_codec.h"
#include "repo/net/transport.h"
#include "repo/runtime/backoff.h"
#include "repo/runtime/serial_queue.h"

namespace am::repo {

using runtime::SerialQueue;
using runtime::TimerService;
using Clock = std::chrono::steady_clock;

// Timings of the runtime's own housekeeping (not RepoOptions), named so they can be found.
// An unavailable document that something still refers to is retried for eviction
// kFirstEvictionDelay after it became unavailable, then every kEvictionRetry, giving up after
// attempt kMaxEvictionAttempts (about a minute).
inline constexpr std::chrono::milliseconds kFirstEvictionDelay{200};
inline constexpr std::chrono::milliseconds kEvictionRetry{1000};
inline constexpr int kMaxEvictionAttempts = 60;
// The idle sweep runs every idle_timeout / 2, but not more often than this.
inline constexpr std::chrono::milliseconds kMinIdleSweepPeriod{50};
// reload_document on a document still loading or saving tries again after kReloadRetry, up to
// attempt kMaxReloadAttempts (about five seconds).
inline constexpr std::chrono::milliseconds kReloadRetry{100};
inline constexpr int kMaxReloadAttempts = 50;
// Repo::open waits this long for the hub to be ready (the StorageId read or created).
inline constexpr std::chrono::seconds kStorageIdWait{30};
// Repo::stop: the final flush, then the grace for close handshakes before the threads stop.
inline constexpr std::chrono::seconds kStopFlushTimeout{10};
inline constexpr std::chrono::seconds kStopCloseGrace{1};

/// Closes a connection the repo will not attach (it has stopped, or is stopping): a
/// connection must be started before it can close, so it gets handlers that ignore everything.
inline void close_without_attaching(const std::shared_ptr<net::Connection>& connection) {
  connection->start(net::Connection::Handler{[](Bytes) {}, [](const net::CloseInfo&) {}});
  connection->close();
}

inline DocumentState public_state(core::DocState s) {
  switch (s) {
    case core::DocState::kLoading: return DocumentState::kLoading;
    case core::DocState::kRequesting: return DocumentState::kRequesting;
    case core::DocState::kReady: return DocumentState::kReady;
    case core::DocState::kUnavailable: return DocumentState::kUnavailable;
    case core::DocState::kDeleted: return DocumentState::kDeleted;
  }
  return DocumentState::kLoading;
}

inline ConnectionEvent::Reason public_reason(core::DisconnectReason r) {
  using R = ConnectionEvent::Reason;
  switch (r) {
    case core::DisconnectReason::kTheyClosed: return R::kTheyClosed;
    case core::DisconnectReason::kIoError: return R::kIoError;
    case core::DisconnectReason::kProtocolError: return R::kProtocolError;
    case core::DisconnectReason::kTheySentError: return R::kTheySentError;
    case core::DisconnectReason::kReplaced: return R::kReplaced;
    case core::DisconnectReason::kHandshakeTimeout: return R::kHandshakeTimeout;
    case core::DisconnectReason::kLocalClose: return R::kLocalClose;
    case core::DisconnectReason::kTimeout: return R::kTimeout;
  }
  return R::kNone;
}

inline core::DisconnectReason core_reason(net::CloseReason r) {
  switch (r) {
    case net::CloseReason::kLocalClose: return core::DisconnectReason::kLocalClose;
    case net::CloseReason::kPeerClosed: return core::DisconnectReason::kTheyClosed;
    case net::CloseReason::kIoError: return core::DisconnectReason::kIoError;
    case net::CloseReason::kProtocolError:
    case net::CloseReason::kFrameTooLarge: return core::DisconnectReason::kProtocolError;
    case net::CloseReason::kTimeout: return core::DisconnectReason::kTimeout;
    case net::CloseReason::kSlowPeer: return core::DisconnectReason::kIoError;
  }
  return core::DisconnectReason::kIoError;
}

inline void log_line(const std::string& text) { std::fprintf(stderr, "am::repo: %s\n", text.c_str()); }

struct DocHandle::Entry {
  std::weak_ptr<Repo::Impl> repo;
  DocumentId id;
  std::shared_ptr<SerialQueue> queue;
  mutable std::mutex mutex;
  mutable std::condition_variable cv;  // state, heads, peers or pending io changed
  std::unique_ptr<core::DocActor> actor;
  std::uint64_t next_observer = 1;
  std::map<std::uint64_t, std::function<void(const DocumentChange&)>> change_observers;
  std::map<std::uint64_t, std::function<void(const PeerId&, const Bytes&)>> ephemeral_observers;
  std::map<std::uint64_t, std::function<void(Result<DocHandle>)>> find_waiters;
  std::optional<core::Millis> wake_scheduled;
  bool local_change_pending = false;
  /// The actor's state is kUnavailable (read by the eviction check without the entry mutex).
  std::atomic<bool> unavailable{false};
  /// DocActor::quiescent() after its last event, and when that was (for the idle sweep).
  std::atomic<bool> quiescent{false};
  std::atomic<core::Millis> last_event{0};
  /// Protocol messages posted to the queue and not yet handed to the actor.
  std::atomic<int> queued_messages{0};
  /// find_with_progress steps waiting for the actor's next states (called after its turn).
  std::map<std::uint64_t, std::function<void(core::DocState)>> state_observers;
  /// Repo::remove_from_cache dropped this entry: its handles report kUnloaded.
  std::atomic<bool> unloaded{false};
  /// Remote-heads gossip (RepoOptions::enable_remote_heads_gossiping): the last heads heard per
  /// StorageId, and DocHandle::on_remote_heads observers.
  std::map<StorageId, RemoteHeads> remote_heads;
  std::map<std::uint64_t, std::function<void(const RemoteHeads&)>> remote_heads_observers;
  /// DocHandle::on_delete observers, called once by Repo::remove.
  std::map<std::uint64_t, std::function<void()>> delete_observers;
};

// A read-only view's heads and its own copy of the document as of them (DocHandle::view). The
// mutex serialises reads: a Document's const reads may build cached state.
struct DocHandle::View {
  std::vector<ChangeHash> heads;
  mutable std::mutex mutex;
  Document doc;
};

// The share policy the hub and every actor hold: it forwards to the current one, which
// Repo::set_share_policy swaps while they run.
class SwitchablePolicy final : public SharePolicy {
 public:
  explicit SwitchablePolicy(std::shared_ptr<const SharePolicy> policy) : current_(std::move(policy)) {}
  bool announce(const PeerId& peer, const DocumentId& document) const override;
  bool access(const PeerId& peer, const DocumentId& document) const override;
  DocumentAccess access_level(const PeerId& peer, const std::string& principal,
                              const DocumentId& document) const override;
  void set(std::shared_ptr<const SharePolicy> policy) { current_.store(std::move(policy)); }

 private:
  std::shared_ptr<const SharePolicy> current() const { return current_.load(); }
  std::atomic<std::shared_ptr<const SharePolicy>> current_;
};

struct Repo::Impl : std::enable_shared_from_this<Repo::Impl> {
  struct Conn {
    std::shared_ptr<net::Connection> connection;
    std::string description;
    std::optional<EndpointId> dialer;
    std::shared_ptr<std::promise<ConnectionEvent>> finished = std::make_shared<std::promise<ConnectionEvent>>();
    std::shared_future<ConnectionEvent> finished_future = finished->get_future().share();
  };
  struct Dialer {
    bool websocket = true;
    std::string url;
    std::string host;
    std::uint16_t port = 0;
    Backoff backoff;
    std::size_t attempts = 0;
    bool active = true;
    bool first_attempt_done = false;
    std::optional<core::ConnectionId> connection;
    std::string auth_token;
    Connector connector;      // set: an application's transport (Repo::connect)
    std::string description;  // with connector: names it in kDialFailed events
  };

  // Repo::executor()'s way onto the io threads: executors may outlive the repo, so they post
  // through this gate, which stop() shuts before the IoContext goes.
  struct ExecutorGate {
    std::mutex mutex;
    net::IoContext* io = nullptr;  // null once stopped
  };

  // options.share_policy is this one (the constructor wraps the application's); declared
  // before options, which the constructor fills through wrap_policy.
  std::shared_ptr<SwitchablePolicy> policy;
  RepoOptions options;
  Clock::time_point epoch = Clock::now();
  net::IoContext& io;            // owned by Repo::Threads, which outlives every use here
  net::IoContext* storage_io;    // likewise; null without storage
  TimerService timers;
  std::shared_ptr<ExecutorGate> executor_gate = std::make_shared<ExecutorGate>();
  std::shared_ptr<SerialQueue> hub_queue;
  std::atomic<bool> stopped{false};
  // Set by stop() (under hub_mutex) when it takes the list of connections to close: a connection
  // that reaches the hub after that (a dial or add_connection racing with stop) is closed at
  // once instead of registered, so none is left open, or waited for, past the snapshot.
  bool closing = false;
  std::atomic<std::uint64_t> messages_in{0}, messages_out{0}, bytes_in{0}, bytes_out{0}, accepted{0},
      writes_refused{0};
  static constexpr std::size_t kBuckets = std::size(kLatencyBucketsMs) + 1;
  std::array<std::atomic<std::uint64_t>, kBuckets> latency_buckets{};  // not cumulative here
  std::atomic<std::uint64_t> latency_sum{0}, latency_count{0};

  void log(LogLevel level, const std::string& text) const {
    if (options.log) {
      options.log(level, text);
    } else if (level <= LogLevel::kWarn) {
      log_line(text);
    }
  }
  std::mt19937_64 rng{std::random_device{}()};

  // One deprecation warning per repo for legacy UUID document ids (the reference warns on
  // every conversion).
  std::atomic<bool> legacy_uuid_warned{false};
  void warn_legacy_uuid(const std::string& where) {
    if (legacy_uuid_warned.exchange(true)) return;
    log(LogLevel::kWarn, where + " named a document by a legacy UUID; future versions will not support "
                                 "UUIDs as document ids, use automerge: URLs instead (logged once)");
  }

  mutable std::mutex hub_mutex;
  mutable std::condition_variable hub_cv;  // ready, peers
  core::Hub hub;
  std::map<core::ConnectionId, Conn> conns;
  std::map<EndpointId, Dialer> dialers;
  std::map<EndpointId, std::unique_ptr<net::Listener>> listeners;
  EndpointId next_endpoint = 1;
  std::uint64_t next_observer = 1;
  std::map<std::uint64_t, std::function<void(const ConnectionEvent&)>> connection_observers;
  std::optional<core::Millis> hub_wake;

  mutable std::mutex docs_mutex;
  std::map<DocumentId, std::shared_ptr<DocHandle::Entry>> docs;

  std::mutex document_observers_mutex;
  std::uint64_t next_document_observer = 1;
  std::map<std::uint64_t, std::function<void(const DocumentEvent&)>> document_observers;
  // Calls the document observers now (on an io thread, no lock held).
  void notify_document(DocumentEvent::Kind kind, const DocumentId& id);
  // Posts notify_document to the document's queue, behind what is queued for it.
  void post_document_event(const std::shared_ptr<DocHandle::Entry>& entry, DocumentEvent::Kind kind);
  // A new entry: dispatches its actor's first effects and reports kAdded.
  void opened(const std::shared_ptr<DocHandle::Entry>& entry);

  static RepoOptions wrap_policy(RepoOptions o, std::shared_ptr<SwitchablePolicy>& out) {
    out = std::make_shared<SwitchablePolicy>(o.share_policy ? o.share_policy : share_everything());
    o.share_policy = out;
    return o;
  }

  static core::HubConfig hub_config(const RepoOptions& o) {
    core::HubConfig c;
    c.peer_id = PeerId(o.peer_id);
    c.has_storage = o.storage != nullptr;
    c.policy = o.share_policy;
    c.denylist = std::set<DocumentId>(o.denylist.begin(), o.denylist.end());
    c.handshake_timeout_ms = o.handshake_timeout.count();
    c.limits.max_frame_bytes = o.max_message_bytes;
    c.max_document_opens_per_second = o.max_document_opens_per_second;
    c.remote_heads_gossip = o.enable_remote_heads_gossiping;
    c.accept_go_peers = o.accept_go_peers;
    return c;
  }

  // The hub's config with the ids it would otherwise have no source for: the runtime, not the
  // sans-IO hub, draws the operating system's randomness.
  static core::HubConfig hub_config_with_fresh_ids(const RepoOptions& o) {
    core::HubConfig c = hub_config(o);
    c.session_id = SessionId(random_uuid_string());
    c.new_storage_id = StorageId(random_uuid_string());
    return c;
  }

  Impl(RepoOptions o, net::IoContext& io_context, net::IoContext* storage_context)
      : options(wrap_policy(std::move(o), policy)), io(io_context), storage_io(storage_context), timers(io),
        hub(hub_config_with_fresh_ids(options)) {
    hub_queue = std::make_shared<SerialQueue>(io);
    executor_gate->io = &io;
  }

  core::Millis now() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - epoch).count();
  }
  Clock::time_point at(core::Millis t) const { return epoch + std::chrono::milliseconds(t); }

  net::TransportOptions transport_options() const;

  // --- hub ------------------------------------------------------------------------------------

  void hub_post(std::function<void(core::Hub&)> fn);

  // Runs with hub_mutex held; `after` collects observer calls to make without the lock.
  void dispatch_hub(core::HubEffects e, std::vector<std::function<void()>>& after);

  void trace(bool outgoing, core::ConnectionId id, const Bytes& frame) const;

  void notify_connection(const ConnectionEvent& event, std::vector<std::function<void()>>& after);

  void mark_first_attempt_done(Dialer& d);

  std::size_t pending_dials() const;

  // --- documents ------------------------------------------------------------------------------

  core::DocActorConfig actor_config(const DocumentId& id) const;

  // Returns the entry and whether it was created now (then `make` built its actor).
  std::pair<std::shared_ptr<DocHandle::Entry>, bool> get_or_create(
      const DocumentId& id, const std::function<std::unique_ptr<core::DocActor>()>& make) {
    std::lock_guard<std::mutex> lock(docs_mutex);
    if (auto it = docs.find(id); it != docs.end()) return {it->second, false};
    auto entry = std::make_shared<DocHandle::Entry>();
    entry->repo = weak_from_this();
    entry->id = id;
    entry->queue = std::make_shared<SerialQueue>(io);
    entry->actor = make();
    docs[id] = entry;
    remember_queue(entry->queue);
    return {entry, true};
  }

  // Every document queue made, weakly, so that stop() can drop the tasks of entries already
  // released from `docs` (remove_from_cache, eviction, the idle sweep): a task left queued there
  // holds its entry, which holds the queue, a cycle nothing else would break. With docs_mutex held.
  void remember_queue(const std::shared_ptr<SerialQueue>& queue) {
    if (document_queues.size() >= 2 * live_queues_at_prune + 64) {
      std::erase_if(document_queues, [](const std::weak_ptr<SerialQueue>& q) { return q.expired(); });
      live_queues_at_prune = document_queues.size();
    }
    document_queues.push_back(queue);
  }
  std::vector<std::weak_ptr<SerialQueue>> document_queues;  // guarded by docs_mutex
  std::size_t live_queues_at_prune = 0;

  std::shared_ptr<DocHandle::Entry> entry_of(const DocumentId& id) const;

  // Runs `fn` on the document's queue with its actor locked, then dispatches the effects.
  void actor_post(const std::shared_ptr<DocHandle::Entry>& entry, std::function<void(core::DocActor&)> fn);

  // With entry_ptr->mutex held.
  void take_and_dispatch(const std::shared_ptr<DocHandle::Entry>& entry_ptr, std::vector<std::function<void()>>& after);

  // A document nobody has (kUnavailable) holds no data, but each costs an actor: a peer asking
  // for random ids would otherwise grow memory without bound. Once no handle, timer or queued
  // work refers to it any more (only the map does), it is dropped; a later message about it
  // opens it afresh. Decided on the hub's queue, after which the hub routes no message to the
  // old actor, so nothing sent to it is lost.
  void schedule_eviction(const DocumentId& id, int attempt);

  // RepoOptions::idle_timeout: every half timeout, documents that have been quiescent that long
  // and that nothing else refers to are dropped from memory, on the hub's queue as in
  // schedule_eviction; the next message or find about one loads it from storage again.
  void schedule_idle_sweep();

  void route_to_actor(core::ToActor t);

  // --- remote heads (remote_heads.cc) ---------------------------------------------------------

  // With entry.mutex held: keeps `heads` as the entry's latest of its StorageId and queues the
  // observers' calls on `after`; `only_if_changed` (heads from a directly connected peer, as JS
  // compares them) skips heads equal to the ones kept.
  bool record_remote_heads(DocHandle::Entry& entry, RemoteHeads heads, bool only_if_changed,
                           std::vector<std::function<void()>>& after);
  // A connected peer's heads (DocEffects::peer_heads), with entry.mutex held: recorded, and the
  // hub's gossip told (stamped with the wall clock).
  void peer_heads_changed(DocHandle::Entry& entry, const core::PeerHeadsSeen& seen,
                          std::vector<std::function<void()>>& after);
  // Gossip for our subscriptions (HubEffects::remote_heads): to each document's queue.
  void deliver_remote_heads(std::vector<core::RemoteHeadsUpdate> updates);

  void run_storage(core::StorageTask task, std::function<void(core::StorageOutcome)> done);

  // Repo::reload_document: reads the chunks on the storage pool, merges them on the document's
  // queue; while the document is loading or saving, tries again 100 ms later (up to 50 times).
  void reload(const DocumentId& id, int attempt);

  DocHandle open_new(const DocumentId& id, Document doc);

  // --- connections ----------------------------------------------------------------------------

  void attach(std::shared_ptr<net::Connection> connection, core::ConnectionRole role, std::optional<EndpointId> dialer);

  void connection_closed(core::ConnectionId id, const net::CloseInfo& info);

  // With hub_mutex held.
  void schedule_redial(EndpointId id);

  void dial(EndpointId id);

  EndpointId add_dialer(Dialer d);

  // --- waiting --------------------------------------------------------------------------------

  static bool synced_with(const core::DocActor& actor, const PeerId& peer);
};

}  // namespace am::repo
