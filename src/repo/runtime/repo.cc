// The runtime behind am::repo::Repo: drives the sans-IO hub and document actors (src/repo/core)
// with real threads, sockets (src/repo/net), timers and a storage thread pool.
//
// Serialization: the hub runs on one SerialQueue under hub_mutex; each document has its own
// SerialQueue and mutex. Effects leave a queue as posts to other queues, so no lock is ever held
// while taking another, except hub_mutex -> docs_mutex (never the reverse).
#include "am/repo/repo.h"

#include <algorithm>
#include <array>
#include <iterator>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <set>

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

namespace {

// Timings of the runtime's own housekeeping (not RepoOptions), named so they can be found.
// An unavailable document that something still refers to is retried for eviction
// kFirstEvictionDelay after it became unavailable, then every kEvictionRetry, giving up after
// attempt kMaxEvictionAttempts (about a minute).
constexpr std::chrono::milliseconds kFirstEvictionDelay{200};
constexpr std::chrono::milliseconds kEvictionRetry{1000};
constexpr int kMaxEvictionAttempts = 60;
// The idle sweep runs every idle_timeout / 2, but not more often than this.
constexpr std::chrono::milliseconds kMinIdleSweepPeriod{50};
// reload_document on a document still loading or saving tries again after kReloadRetry, up to
// attempt kMaxReloadAttempts (about five seconds).
constexpr std::chrono::milliseconds kReloadRetry{100};
constexpr int kMaxReloadAttempts = 50;
// Repo::open waits this long for the hub to be ready (the StorageId read or created).
constexpr std::chrono::seconds kStorageIdWait{30};
// Repo::stop: the final flush, then the grace for close handshakes before the threads stop.
constexpr std::chrono::seconds kStopFlushTimeout{10};
constexpr std::chrono::seconds kStopCloseGrace{1};

}  // namespace

const char* to_string(DocumentState state) {
  switch (state) {
    case DocumentState::kLoading: return "loading";
    case DocumentState::kRequesting: return "requesting";
    case DocumentState::kReady: return "ready";
    case DocumentState::kUnavailable: return "unavailable";
    case DocumentState::kDeleted: return "deleted";
  }
  return "?";
}

const char* to_string(ConnectionEvent::Reason reason) {
  using R = ConnectionEvent::Reason;
  switch (reason) {
    case R::kNone: return "none";
    case R::kTheyClosed: return "they closed";
    case R::kIoError: return "i/o error";
    case R::kProtocolError: return "protocol error";
    case R::kTheySentError: return "they sent an error";
    case R::kReplaced: return "replaced by a newer connection";
    case R::kHandshakeTimeout: return "handshake timeout";
    case R::kLocalClose: return "closed locally";
  }
  return "?";
}

namespace {

DocumentState public_state(core::DocState s) {
  switch (s) {
    case core::DocState::kLoading: return DocumentState::kLoading;
    case core::DocState::kRequesting: return DocumentState::kRequesting;
    case core::DocState::kReady: return DocumentState::kReady;
    case core::DocState::kUnavailable: return DocumentState::kUnavailable;
    case core::DocState::kDeleted: return DocumentState::kDeleted;
  }
  return DocumentState::kLoading;
}

ConnectionEvent::Reason public_reason(core::DisconnectReason r) {
  using R = ConnectionEvent::Reason;
  switch (r) {
    case core::DisconnectReason::kTheyClosed: return R::kTheyClosed;
    case core::DisconnectReason::kIoError: return R::kIoError;
    case core::DisconnectReason::kProtocolError: return R::kProtocolError;
    case core::DisconnectReason::kTheySentError: return R::kTheySentError;
    case core::DisconnectReason::kReplaced: return R::kReplaced;
    case core::DisconnectReason::kHandshakeTimeout: return R::kHandshakeTimeout;
    case core::DisconnectReason::kLocalClose: return R::kLocalClose;
  }
  return R::kNone;
}

core::DisconnectReason core_reason(net::CloseReason r) {
  switch (r) {
    case net::CloseReason::kLocalClose: return core::DisconnectReason::kLocalClose;
    case net::CloseReason::kPeerClosed: return core::DisconnectReason::kTheyClosed;
    case net::CloseReason::kIoError: return core::DisconnectReason::kIoError;
    case net::CloseReason::kProtocolError:
    case net::CloseReason::kFrameTooLarge: return core::DisconnectReason::kProtocolError;
    case net::CloseReason::kTimeout: return core::DisconnectReason::kHandshakeTimeout;
    case net::CloseReason::kSlowPeer: return core::DisconnectReason::kIoError;
  }
  return core::DisconnectReason::kIoError;
}

void log_line(const std::string& text) { std::fprintf(stderr, "am::repo: %s\n", text.c_str()); }

}  // namespace

// --- state --------------------------------------------------------------------------------------

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

  RepoOptions options;
  Clock::time_point epoch = Clock::now();
  net::IoContext& io;            // owned by Repo::Threads, which outlives every use here
  net::IoContext* storage_io;    // likewise; null without storage
  TimerService timers;
  std::shared_ptr<SerialQueue> hub_queue;
  std::atomic<bool> stopped{false};
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

  static core::HubConfig hub_config(const RepoOptions& o) {
    core::HubConfig c;
    c.peer_id = PeerId(o.peer_id);
    c.has_storage = o.storage != nullptr;
    c.policy = o.share_policy;
    c.denylist = std::set<DocumentId>(o.denylist.begin(), o.denylist.end());
    c.handshake_timeout_ms = o.handshake_timeout.count();
    c.limits.max_frame_bytes = o.max_message_bytes;
    c.max_document_opens_per_second = o.max_document_opens_per_second;
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
      : options(std::move(o)), io(io_context), storage_io(storage_context), timers(io),
        hub(hub_config_with_fresh_ids(options)) {
    hub_queue = std::make_shared<SerialQueue>(io);
  }

  core::Millis now() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - epoch).count();
  }
  Clock::time_point at(core::Millis t) const { return epoch + std::chrono::milliseconds(t); }

  net::TransportOptions transport_options() const {
    net::TransportOptions t;
    t.max_frame_bytes = options.max_message_bytes;
    t.handshake_timeout = options.handshake_timeout;
    t.ping_interval = options.ping_interval;
    t.max_queued_bytes = options.max_queued_bytes;
    t.tls_ca_file = options.tls_ca_file;
    return t;
  }

  // --- hub ------------------------------------------------------------------------------------

  void hub_post(std::function<void(core::Hub&)> fn) {
    if (stopped) return;
    hub_queue->post([self = shared_from_this(), fn = std::move(fn)] {
      std::vector<std::function<void()>> after;
      {
        std::unique_lock<std::mutex> lock(self->hub_mutex);
        fn(self->hub);
        self->dispatch_hub(self->hub.take_effects(), after);
      }
      self->hub_cv.notify_all();
      for (auto& f : after) f();
    });
  }

  // Runs with hub_mutex held; `after` collects observer calls to make without the lock.
  void dispatch_hub(core::HubEffects e, std::vector<std::function<void()>>& after) {
    for (auto& [id, frame] : e.frames) {
      if (auto it = conns.find(id); it != conns.end()) {
        ++messages_out;
        bytes_out += frame.size();
        if (options.message_trace) trace(true, id, frame);
        it->second.connection->send(std::move(frame));
      }
    }
    for (core::ConnectionId id : e.closes) {
      if (auto it = conns.find(id); it != conns.end()) it->second.connection->close();
    }
    for (const auto& ce : e.connection_events) {
      ConnectionEvent pub;
      pub.connection = ce.connection;
      if (auto it = conns.find(ce.connection); it != conns.end()) pub.description = it->second.description;
      if (ce.kind == core::ConnectionEvent::Kind::kEstablished || !ce.peer.peer_id.empty()) {
        pub.peer = ce.peer.peer_id;
        pub.peer_storage_id = ce.peer.storage_id;
        pub.peer_is_ephemeral = ce.peer.is_ephemeral;
      }
      if (ce.kind == core::ConnectionEvent::Kind::kEstablished) {
        pub.kind = ConnectionEvent::Kind::kHandshakeComplete;
        if (auto it = conns.find(ce.connection); it != conns.end() && it->second.dialer) {
          if (auto d = dialers.find(*it->second.dialer); d != dialers.end()) {
            d->second.attempts = 0;
            mark_first_attempt_done(d->second);
          }
        }
      } else {
        pub.kind = ConnectionEvent::Kind::kClosed;
        pub.reason = public_reason(ce.reason);
        pub.detail = ce.detail;
        if (ce.reason == core::DisconnectReason::kProtocolError) {
          log(LogLevel::kWarn, "dropped " + pub.description + ": " + ce.detail);
        }
        if (auto it = conns.find(ce.connection); it != conns.end() && it->second.finished) {
          it->second.finished->set_value(pub);
          it->second.finished.reset();
        }
      }
      notify_connection(pub, after);
    }
    for (auto& t : e.to_actors) route_to_actor(std::move(t));
    for (auto& task : e.storage) {
      run_storage(std::move(task), [self = shared_from_this()](core::StorageOutcome out) {
        self->hub_post([out = std::move(out), self](core::Hub& h) mutable { h.storage_done(std::move(out), self->now()); });
      });
    }
    if (e.wake_at && (!hub_wake || *e.wake_at < *hub_wake)) {
      hub_wake = e.wake_at;
      timers.schedule(at(*e.wake_at), [self = shared_from_this()] {
        self->hub_post([self](core::Hub& h) {
          self->hub_wake.reset();
          h.tick(self->now());
        });
      });
    }
  }

  void trace(bool outgoing, core::ConnectionId id, const Bytes& frame) const {
    MessageTrace t;
    t.outgoing = outgoing;
    t.connection = id;
    t.bytes = frame.size();
    auto decoded = wire::decode(frame, hub_config(options).limits);
    if (!decoded) {
      t.type = "undecodable";
    } else {
      t.type = std::string(wire::message_type(*decoded));
      std::visit(
          [&](const auto& m) {
            using T = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<T, wire::ErrorMessage> || std::is_same_v<T, wire::UnknownMessage>) {
              if (m.sender_id) t.sender = m.sender_id->str();
              if (m.target_id) t.target = m.target_id->str();
            } else {
              t.sender = m.sender_id.str();
              if constexpr (!std::is_same_v<T, wire::JoinMessage> && !std::is_same_v<T, wire::LeaveMessage>) {
                t.target = m.target_id.str();
              }
            }
            if constexpr (requires { m.document_id; }) t.document = m.document_id;
            if constexpr (requires { m.data; }) t.data_bytes = m.data.size();
          },
          *decoded);
    }
    options.message_trace(t);
  }

  void notify_connection(const ConnectionEvent& event, std::vector<std::function<void()>>& after) {
    for (const auto& [id, observer] : connection_observers) {
      after.push_back([observer, event] { observer(event); });
    }
  }

  void mark_first_attempt_done(Dialer& d) {
    if (d.first_attempt_done) return;
    d.first_attempt_done = true;
    hub.set_pending_dials(pending_dials(), now());
  }

  std::size_t pending_dials() const {
    std::size_t n = 0;
    for (const auto& [id, d] : dialers) n += d.active && !d.first_attempt_done;
    return n;
  }

  // --- documents ------------------------------------------------------------------------------

  core::DocActorConfig actor_config(const DocumentId& id) const {
    core::DocActorConfig c;
    c.document_id = id;
    c.self = PeerId(options.peer_id);
    c.policy = options.share_policy;
    c.has_storage = options.storage != nullptr;
    c.save_debounce_ms = options.save_debounce.count();
    c.max_inflated_bytes = options.max_inflated_bytes;
    return c;
  }

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
    return {entry, true};
  }

  std::shared_ptr<DocHandle::Entry> entry_of(const DocumentId& id) const {
    std::lock_guard<std::mutex> lock(docs_mutex);
    auto it = docs.find(id);
    return it == docs.end() ? nullptr : it->second;
  }

  // Runs `fn` on the document's queue with its actor locked, then dispatches the effects.
  void actor_post(const std::shared_ptr<DocHandle::Entry>& entry, std::function<void(core::DocActor&)> fn) {
    if (stopped) return;
    entry->queue->post([self = shared_from_this(), entry, fn = std::move(fn)] {
      std::vector<std::function<void()>> after;
      {
        std::lock_guard<std::mutex> lock(entry->mutex);
        fn(*entry->actor);
        self->take_and_dispatch(entry, after);
      }
      entry->cv.notify_all();
      for (auto& f : after) f();
    });
  }

  // With entry_ptr->mutex held.
  void take_and_dispatch(const std::shared_ptr<DocHandle::Entry>& entry_ptr, std::vector<std::function<void()>>& after) {
    DocHandle::Entry& entry = *entry_ptr;
    core::DocActor& actor = *entry.actor;
    core::DocEffects e = actor.take_effects();
    entry.quiescent = actor.quiescent();
    entry.last_event = now();
    if (!e.outgoing.empty()) {
      hub_post([messages = std::move(e.outgoing)](core::Hub& h) {
        for (const auto& m : messages) h.send(m);
      });
    }
    for (auto& task : e.storage) {
      run_storage(std::move(task), [self = shared_from_this(), entry_ptr](core::StorageOutcome out) {
        self->actor_post(entry_ptr, [out = std::move(out), self](core::DocActor& a) mutable {
          a.storage_done(std::move(out), self->now());
        });
      });
    }
    for (auto& ev : e.events) {
      switch (ev.kind) {
        case core::DocEvent::Kind::kStateChanged: {
          const core::DocState s = ev.state;
          entry.unavailable = s == core::DocState::kUnavailable;
          if (s == core::DocState::kUnavailable) {
            after.push_back([self = shared_from_this(), id = entry.id] { self->schedule_eviction(id, 0); });
          }
          if (s == core::DocState::kReady || s == core::DocState::kUnavailable || s == core::DocState::kDeleted) {
            auto waiters = std::move(entry.find_waiters);
            entry.find_waiters.clear();
            for (auto& [wid, w] : waiters) {
              if (s == core::DocState::kReady) {
                after.push_back([w, entry_ptr] { w(DocHandle(entry_ptr)); });
              } else {
                const std::string why = "document " + entry.id.to_string() + " is " + core::to_string(s);
                after.push_back([w, why] { w(fail(Error::not_found(why))); });
              }
            }
          }
          break;
        }
        case core::DocEvent::Kind::kHeadsChanged: {
          if (entry.change_observers.empty()) break;
          DocumentChange change;
          change.heads_before = ev.heads_before;
          change.heads_after = ev.heads;
          change.local = entry.local_change_pending;
          if (auto patches = actor.document().diff(ev.heads_before, ev.heads)) change.patches = std::move(*patches);
          for (const auto& [oid, observer] : entry.change_observers) {
            after.push_back([observer, change] { observer(change); });
          }
          break;
        }
        case core::DocEvent::Kind::kEphemeral:
          for (const auto& [oid, observer] : entry.ephemeral_observers) {
            after.push_back([observer, peer = ev.peer, data = ev.data] { observer(peer, data); });
          }
          break;
        case core::DocEvent::Kind::kStorageError:
          log(LogLevel::kError, "storage: " + ev.message);
          break;
        case core::DocEvent::Kind::kWriteRefused:
          ++writes_refused;
          if (!ev.message.empty()) log(LogLevel::kWarn, ev.message);
          break;
        case core::DocEvent::Kind::kPeerStatus:
          break;
      }
    }
    entry.local_change_pending = false;
    for (const core::Millis ms : e.reply_latencies_ms) {
      std::size_t bucket = 0;
      while (bucket < std::size(kLatencyBucketsMs) && ms > kLatencyBucketsMs[bucket]) ++bucket;
      ++latency_buckets[bucket];
      latency_sum += static_cast<std::uint64_t>(ms);
      ++latency_count;
    }
    if (e.wake_at && (!entry.wake_scheduled || *e.wake_at < *entry.wake_scheduled)) {
      entry.wake_scheduled = e.wake_at;
      timers.schedule(at(*e.wake_at), [self = shared_from_this(), entry_ptr] {
        self->actor_post(entry_ptr, [self, entry_ptr](core::DocActor& a) {
          entry_ptr->wake_scheduled.reset();
          a.tick(self->now());
        });
      });
    }
  }

  // A document nobody has (kUnavailable) holds no data, but each costs an actor: a peer asking
  // for random ids would otherwise grow memory without bound. Once no handle, timer or queued
  // work refers to it any more (only the map does), it is dropped; a later message about it
  // opens it afresh. Decided on the hub's queue, after which the hub routes no message to the
  // old actor, so nothing sent to it is lost.
  void schedule_eviction(const DocumentId& id, int attempt) {
    if (stopped || attempt > kMaxEvictionAttempts) return;
    timers.schedule(Clock::now() + (attempt == 0 ? kFirstEvictionDelay : kEvictionRetry),
                    [self = shared_from_this(), id, attempt] {
                      self->hub_post([self, id, attempt](core::Hub& h) {
                        bool retry = false;
                        {
                          std::lock_guard<std::mutex> lock(self->docs_mutex);
                          auto it = self->docs.find(id);
                          if (it == self->docs.end() || !it->second->unavailable) return;
                          if (it->second.use_count() > 1) {
                            retry = true;  // a handle, a timer or queued work still refers to it
                          } else {
                            self->docs.erase(it);
                          }
                        }
                        if (retry) return self->schedule_eviction(id, attempt + 1);
                        h.close_document(id);
                      });
                    });
  }

  // RepoOptions::idle_timeout: every half timeout, documents that have been quiescent that long
  // and that nothing else refers to are dropped from memory, on the hub's queue as in
  // schedule_eviction; the next message or find about one loads it from storage again.
  void schedule_idle_sweep() {
    if (stopped || options.idle_timeout.count() <= 0 || !options.storage) return;
    const auto period = std::max(options.idle_timeout / 2, kMinIdleSweepPeriod);
    timers.schedule(Clock::now() + period, [self = shared_from_this()] {
      self->hub_post([self](core::Hub& h) {
        const core::Millis cutoff = self->now() - self->options.idle_timeout.count();
        std::vector<DocumentId> dropped;
        {
          std::lock_guard<std::mutex> lock(self->docs_mutex);
          for (auto it = self->docs.begin(); it != self->docs.end();) {
            const auto& entry = it->second;
            if (entry->quiescent && entry->last_event <= cutoff && entry.use_count() == 1) {
              dropped.push_back(it->first);
              it = self->docs.erase(it);
            } else {
              ++it;
            }
          }
        }
        for (const DocumentId& id : dropped) h.close_document(id);
        self->schedule_idle_sweep();
      });
    });
  }

  void route_to_actor(core::ToActor t) {
    using K = core::ToActor::Kind;
    if (t.kind == K::kSpawn) {
      auto [entry, created] = get_or_create(t.document, [&] { return core::DocActor::find(actor_config(t.document), now()); });
      if (created) actor_post(entry, [](core::DocActor&) {});  // dispatch its storage loads
      return;
    }
    auto entry = entry_of(t.document);
    if (!entry) return;
    if (t.kind == K::kMessage) ++entry->queued_messages;
    actor_post(entry, [self = shared_from_this(), entry, t = std::move(t)](core::DocActor& a) {
      switch (t.kind) {
        case K::kPeerAdded: a.add_peer(t.peer, self->now()); break;
        case K::kPeerRemoved: a.remove_peer(t.peer.peer_id, self->now()); break;
        case K::kMessage: {
          const bool more_coming = --entry->queued_messages > 0;
          a.receive(t.peer, *t.message, self->now(), more_coming);
          break;
        }
        case K::kNetworkPending: a.set_network_pending(t.pending, self->now()); break;
        case K::kSpawn: break;
      }
    });
  }

  void run_storage(core::StorageTask task, std::function<void(core::StorageOutcome)> done) {
    if (!storage_io) return;
    storage_io->post([storage = options.storage, task = std::move(task), done = std::move(done)] {
      done(core::run_storage_task(*storage, task));
    });
  }

  // Repo::reload_document: reads the chunks on the storage pool, merges them on the document's
  // queue; while the document is loading or saving, tries again 100 ms later (up to 50 times).
  void reload(const DocumentId& id, int attempt) {
    if (stopped || !storage_io) return;
    auto entry = entry_of(id);
    if (!entry) return;
    storage_io->post([self = shared_from_this(), entry, attempt] {
      std::vector<StorageEntry> chunks;
      const std::string doc = entry->id.to_string();
      for (const char* kind : {"snapshot", "incremental"}) {
        auto r = self->options.storage->load_range({doc, kind});
        if (!r) {
          self->log(LogLevel::kError, "storage: reload " + doc + ": " + r.error().to_string());
          return;
        }
        std::move(r->begin(), r->end(), std::back_inserter(chunks));
      }
      self->actor_post(entry, [self, entry, attempt, chunks = std::move(chunks)](core::DocActor& a) mutable {
        if (a.merge_stored(std::move(chunks), self->now()) || attempt >= kMaxReloadAttempts) return;
        self->timers.schedule(Clock::now() + kReloadRetry,
                              [self, id = entry->id, attempt] { self->reload(id, attempt + 1); });
      });
    });
  }

  DocHandle open_new(const DocumentId& id, Document doc) {
    auto [entry, created] = get_or_create(id, [&] { return core::DocActor::create(actor_config(id), std::move(doc), now()); });
    if (created) {
      hub_post([id, self = shared_from_this()](core::Hub& h) { h.open_document(id, self->now()); });
      actor_post(entry, [](core::DocActor&) {});
    }
    return DocHandle(entry);
  }

  // --- connections ----------------------------------------------------------------------------

  void attach(std::shared_ptr<net::Connection> connection, core::ConnectionRole role, std::optional<EndpointId> dialer) {
    if (role == core::ConnectionRole::kAcceptor) ++accepted;
    hub_post([self = shared_from_this(), connection, role, dialer](core::Hub& h) {
      const core::ConnectionId id = h.add_connection(role, self->now(), connection->principal());
      Conn conn;
      conn.connection = connection;
      conn.description = connection->describe();
      conn.dialer = dialer;
      self->conns[id] = std::move(conn);
      if (dialer) {
        if (auto d = self->dialers.find(*dialer); d != self->dialers.end()) d->second.connection = id;
      }
      std::weak_ptr<Impl> weak = self;
      connection->start(net::Connection::Handler{
          [weak, id](Bytes frame) {
            if (auto s = weak.lock()) {
              ++s->messages_in;
              s->bytes_in += frame.size();
              if (s->options.message_trace) s->trace(false, id, frame);
              s->hub_post([s, id, frame = std::move(frame)](core::Hub& target) { target.receive_frame(id, frame, s->now()); });
            }
          },
          [weak, id](const net::CloseInfo& info) {
            if (auto s = weak.lock()) s->connection_closed(id, info);
          }});
      ConnectionEvent ev;
      ev.kind = ConnectionEvent::Kind::kConnected;
      ev.connection = id;
      ev.description = connection->describe();
      std::vector<std::function<void()>> after;
      self->notify_connection(ev, after);
      for (auto& f : after) self->io.post(std::move(f));
    });
  }

  void connection_closed(core::ConnectionId id, const net::CloseInfo& info) {
    hub_post([self = shared_from_this(), id, info](core::Hub& h) {
      h.connection_lost(id, core_reason(info.reason), info.detail, self->now());
    });
    // A second step, so that the close event above has been dispatched (with this
    // connection's description and completion) before the connection is forgotten.
    hub_post([self = shared_from_this(), id, info](core::Hub&) {
      auto it = self->conns.find(id);
      if (it == self->conns.end()) return;
      if (it->second.finished) {
        // The hub never reported it (it ended before the hub took it): report it here.
        ConnectionEvent ev;
        ev.kind = ConnectionEvent::Kind::kClosed;
        ev.connection = id;
        ev.description = it->second.description;
        ev.reason = public_reason(core_reason(info.reason));
        ev.detail = info.detail;
        it->second.finished->set_value(ev);
      }
      std::optional<EndpointId> dialer = it->second.dialer;
      self->conns.erase(it);
      if (!dialer) return;
      auto d = self->dialers.find(*dialer);
      if (d == self->dialers.end()) return;
      d->second.connection.reset();
      self->mark_first_attempt_done(d->second);
      if (d->second.active && !self->stopped) self->schedule_redial(*dialer);
    });
  }

  // With hub_mutex held.
  void schedule_redial(EndpointId id) {
    Dialer& d = dialers.at(id);
    if (d.backoff.max_attempts != 0 && d.attempts >= d.backoff.max_attempts) {
      d.active = false;
      hub.set_pending_dials(pending_dials(), now());
      return;
    }
    const auto delay = runtime::backoff_delay(d.backoff, d.attempts, rng);
    ++d.attempts;
    timers.schedule(Clock::now() + delay, [self = shared_from_this(), id] { self->dial(id); });
  }

  void dial(EndpointId id) {
    if (stopped) return;
    Dialer d;
    {
      std::lock_guard<std::mutex> lock(hub_mutex);
      auto it = dialers.find(id);
      if (it == dialers.end() || !it->second.active) return;
      d = it->second;
    }
    std::weak_ptr<Impl> weak = shared_from_this();
    auto on_dialed = [weak, id](Result<std::shared_ptr<net::Connection>> result) {
      auto self = weak.lock();
      if (!self) return;
      if (result) {
        bool active = false;
        {
          std::lock_guard<std::mutex> lock(self->hub_mutex);
          auto it = self->dialers.find(id);
          active = it != self->dialers.end() && it->second.active && !self->stopped;
        }
        if (!active) {
          (*result)->start(net::Connection::Handler{[](Bytes) {}, [](const net::CloseInfo&) {}});
          (*result)->close();
          return;
        }
        self->attach(std::move(*result), core::ConnectionRole::kInitiator, id);
        return;
      }
      self->hub_post([self, id, error = result.error()](core::Hub&) {
        auto it = self->dialers.find(id);
        if (it == self->dialers.end()) return;
        ConnectionEvent ev;
        ev.kind = ConnectionEvent::Kind::kDialFailed;
        ev.description = it->second.connector ? it->second.description
                         : it->second.websocket ? it->second.url
                                                : "tcp://" + it->second.host + ":" + std::to_string(it->second.port);
        ev.detail = error.to_string();
        std::vector<std::function<void()>> after;
        self->notify_connection(ev, after);
        for (auto& f : after) self->io.post(std::move(f));
        self->mark_first_attempt_done(it->second);
        if (it->second.active && !self->stopped) self->schedule_redial(id);
      });
    };
    if (d.connector) {
      d.connector(DialCallback(std::move(on_dialed)));
      return;
    }
    net::TransportOptions transport = transport_options();
    transport.auth_token = d.auth_token;
    if (d.websocket) {
      net::dial_websocket(io, d.url, on_dialed, std::move(transport));
    } else {
      net::dial_tcp(io, d.host, d.port, on_dialed, std::move(transport));
    }
  }

  EndpointId add_dialer(Dialer d) {
    EndpointId id;
    {
      std::lock_guard<std::mutex> lock(hub_mutex);
      id = next_endpoint++;
      dialers[id] = std::move(d);
    }
    hub_post([self = shared_from_this()](core::Hub& h) { h.set_pending_dials(self->pending_dials(), self->now()); });
    dial(id);
    return id;
  }

  // --- waiting --------------------------------------------------------------------------------

  static bool synced_with(const core::DocActor& actor, const PeerId& peer) {
    const auto heads = actor.document().heads();
    for (const auto& p : actor.peers()) {
      if (p.peer == peer) return p.their_heads && *p.their_heads == heads;
    }
    return false;
  }
};

// --- DocHandle ----------------------------------------------------------------------------------

const DocumentId& DocHandle::id() const { return entry_->id; }
std::string DocHandle::url() const { return std::string(AutomergeUrl::kPrefix) + entry_->id.to_string(); }

DocumentState DocHandle::state() const {
  std::lock_guard<std::mutex> lock(entry_->mutex);
  return public_state(entry_->actor->state());
}

std::vector<ChangeHash> DocHandle::heads() const {
  std::lock_guard<std::mutex> lock(entry_->mutex);
  return entry_->actor->document().heads();
}

void DocHandle::read(const std::function<void(const Document&)>& read) const {
  std::lock_guard<std::mutex> lock(entry_->mutex);
  read(entry_->actor->document());
}

Bytes DocHandle::save() const {
  std::lock_guard<std::mutex> lock(entry_->mutex);
  return entry_->actor->document().save();
}

Status DocHandle::change(const std::function<void(Document&)>& edit, const CommitOptions& options) {
  auto repo = entry_->repo.lock();
  if (!repo || repo->stopped) return fail(Error(ErrorCode::kCancelled, "the repo has stopped"));
  std::vector<ChangeHash> before;
  {
    std::lock_guard<std::mutex> lock(entry_->mutex);
    core::DocActor& actor = *entry_->actor;
    if (actor.state() != core::DocState::kReady) {
      return fail(Error::invalid_argument("change", std::string("document is ") + core::to_string(actor.state())));
    }
    before = actor.document().heads();
    edit(actor.document());
    (void)actor.document().commit_if_pending(options);
  }
  // The actor learns of it on its queue, so observers run there, after earlier events.
  repo->actor_post(entry_, [repo, before, entry = entry_](core::DocActor& a) {
    entry->local_change_pending = true;
    a.local_change(before, repo->now());
  });
  return {};
}

Subscription DocHandle::on_change(std::function<void(const DocumentChange&)> observer) {
  std::lock_guard<std::mutex> lock(entry_->mutex);
  const std::uint64_t id = entry_->next_observer++;
  entry_->change_observers[id] = std::move(observer);
  return Subscription([entry = entry_, id] {
    std::lock_guard<std::mutex> l(entry->mutex);
    entry->change_observers.erase(id);
  });
}

Subscription DocHandle::on_ephemeral(std::function<void(const PeerId&, const Bytes&)> observer) {
  std::lock_guard<std::mutex> lock(entry_->mutex);
  const std::uint64_t id = entry_->next_observer++;
  entry_->ephemeral_observers[id] = std::move(observer);
  return Subscription([entry = entry_, id] {
    std::lock_guard<std::mutex> l(entry->mutex);
    entry->ephemeral_observers.erase(id);
  });
}

void DocHandle::broadcast(Bytes data) {
  auto repo = entry_->repo.lock();
  if (!repo) return;
  repo->hub_post([repo, entry = entry_, data = std::move(data)](core::Hub& h) mutable {
    const std::uint64_t count = h.next_ephemeral_count();
    repo->actor_post(entry, [repo, session = h.session_id(), count, data = std::move(data)](core::DocActor& a) mutable {
      a.broadcast(std::move(data), session, count, repo->now());
    });
  });
}

std::vector<PeerDocumentStatus> DocHandle::peers() const {
  std::lock_guard<std::mutex> lock(entry_->mutex);
  std::vector<PeerDocumentStatus> out;
  for (const auto& p : entry_->actor->peers()) {
    out.push_back(PeerDocumentStatus{p.peer, p.active, p.status == core::PeerDocStatus::kHas, p.their_heads});
  }
  return out;
}

Status DocHandle::wait_synced(const PeerId& peer, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(entry_->mutex);
  const bool ok = entry_->cv.wait_for(lock, timeout, [&] { return Repo::Impl::synced_with(*entry_->actor, peer); });
  if (!ok) return fail(Error(ErrorCode::kTimeout, "not in sync with " + peer.str() + " for " + entry_->id.to_string()));
  return {};
}

// --- Repo ---------------------------------------------------------------------------------------

struct Repo::Threads {
  std::unique_ptr<net::IoContext> io;
  std::unique_ptr<net::IoContext> storage;
};

Repo::Repo(std::shared_ptr<Impl> impl, std::unique_ptr<Threads> threads)
    : impl_(std::move(impl)), threads_(std::move(threads)) {}
Repo::~Repo() { stop(); }

Result<std::unique_ptr<Repo>> Repo::open(RepoOptions options) {
  if (options.peer_id.empty()) options.peer_id = "peer-" + random_uuid_string().substr(0, 12);
  if (!options.share_policy) options.share_policy = share_everything();
  auto threads = std::make_unique<Threads>();
  threads->io = std::make_unique<net::IoContext>(std::max<std::size_t>(1, options.io_threads));
  if (options.storage) threads->storage = std::make_unique<net::IoContext>(std::max<std::size_t>(1, options.storage_threads));
  auto impl = std::make_shared<Impl>(std::move(options), *threads->io, threads->storage.get());
  impl->hub_post([impl](core::Hub& h) { h.start(impl->now()); });
  impl->schedule_idle_sweep();
  {
    std::unique_lock<std::mutex> lock(impl->hub_mutex);
    if (!impl->hub_cv.wait_for(lock, kStorageIdWait, [&] { return impl->hub.ready(); })) {
      lock.unlock();
      impl->stopped = true;
      impl->timers.stop();
      impl->io.stop();
      if (impl->storage_io) impl->storage_io->stop();
      impl.reset();
      threads.reset();
      return fail(Error(ErrorCode::kTimeout, "storage did not answer while reading the StorageId"));
    }
  }
  return std::unique_ptr<Repo>(new Repo(std::move(impl), std::move(threads)));
}

const PeerId& Repo::peer_id() const { return impl_->hub.peer_id(); }

std::optional<StorageId> Repo::storage_id() const {
  std::lock_guard<std::mutex> lock(impl_->hub_mutex);
  return impl_->hub.storage_id();
}

DocHandle Repo::create() {
  Document doc;
  doc.commit();  // an empty change: peers read "no heads" as "does not have it"
  return impl_->open_new(DocumentId::random(), std::move(doc));
}

Result<DocHandle> Repo::create(const Document& initial) {
  Document doc;
  auto changes = initial.get_changes();
  if (!changes.empty()) {
    if (auto st = doc.apply_changes(changes); !st) return fail(st.error());
  } else {
    doc.commit();
  }
  return impl_->open_new(DocumentId::random(), std::move(doc));
}

Result<DocHandle> Repo::import(ByteView saved, std::optional<DocumentId> id) {
  auto doc = Document::load(saved);
  if (!doc) return fail(doc.error().with_context("import"));
  if (doc->heads().empty()) doc->commit();
  const DocumentId doc_id = id ? *id : DocumentId::random();
  if (impl_->entry_of(doc_id)) return fail(Error::invalid_argument("import", "document " + doc_id.to_string() + " is already open"));
  return impl_->open_new(doc_id, std::move(*doc));
}

void Repo::find(const DocumentId& id, std::function<void(Result<DocHandle>)> callback, std::chrono::milliseconds timeout) {
  auto& impl = *impl_;
  if (impl.stopped) {
    callback(fail(Error(ErrorCode::kCancelled, "the repo has stopped")));
    return;
  }
  auto [entry, created] = impl.get_or_create(id, [&] { return core::DocActor::find(impl.actor_config(id), impl.now()); });
  if (created) {
    impl.hub_post([id, self = impl_](core::Hub& h) { h.open_document(id, self->now()); });
    impl.actor_post(entry, [](core::DocActor&) {});
  }
  std::uint64_t waiter = 0;
  {
    std::lock_guard<std::mutex> lock(entry->mutex);
    const core::DocState s = entry->actor->state();
    if (s == core::DocState::kReady || s == core::DocState::kUnavailable || s == core::DocState::kDeleted) {
      // answered below, without the lock
    } else {
      waiter = entry->next_observer++;
      entry->find_waiters[waiter] = callback;
    }
    if (waiter == 0) {
      if (s == core::DocState::kReady) {
        impl.io.post([callback, entry = entry] { callback(DocHandle(entry)); });
      } else {
        const std::string why = "document " + id.to_string() + " is " + core::to_string(s);
        impl.io.post([callback, why] { callback(fail(Error::not_found(why))); });
      }
      return;
    }
  }
  // Weak: a pending timeout must not keep a released document (see schedule_eviction) alive;
  // a released one has answered its waiters already.
  impl.timers.schedule(Clock::now() + timeout, [weak = std::weak_ptr<DocHandle::Entry>(entry), waiter, id] {
    auto held = weak.lock();
    if (!held) return;
    std::function<void(Result<DocHandle>)> cb;
    {
      std::lock_guard<std::mutex> lock(held->mutex);
      auto it = held->find_waiters.find(waiter);
      if (it == held->find_waiters.end()) return;
      cb = std::move(it->second);
      held->find_waiters.erase(it);
    }
    cb(fail(Error(ErrorCode::kTimeout, "finding " + id.to_string() + " timed out")));
  });
}

std::future<Result<DocHandle>> Repo::find(const DocumentId& id, std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<std::promise<Result<DocHandle>>>();
  auto future = promise->get_future();
  find(id, [promise](Result<DocHandle> r) { promise->set_value(std::move(r)); }, timeout);
  return future;
}

Result<Bytes> Repo::export_document(const DocumentId& id, std::chrono::milliseconds timeout) {
  auto handle = find(id, timeout).get();
  if (!handle) return fail(handle.error());
  return handle->save();
}

Status Repo::remove(const DocumentId& id) {
  auto entry = impl_->entry_of(id);
  if (!entry) {
    auto [e, created] = impl_->get_or_create(id, [&] { return core::DocActor::find(impl_->actor_config(id), impl_->now()); });
    entry = e;
  }
  impl_->actor_post(entry, [self = impl_](core::DocActor& a) { a.remove(self->now()); });
  impl_->hub_post([id](core::Hub& h) { h.close_document(id); });
  return {};
}

void Repo::reload_document(const DocumentId& id) { impl_->reload(id, 0); }

std::vector<DocumentId> Repo::open_documents() const {
  std::lock_guard<std::mutex> lock(impl_->docs_mutex);
  std::vector<DocumentId> out;
  for (const auto& [id, entry] : impl_->docs) out.push_back(id);
  return out;
}

Result<std::vector<DocumentId>> Repo::stored_documents() const {
  if (!impl_->options.storage) return std::vector<DocumentId>{};
  auto entries = impl_->options.storage->load_range({});
  if (!entries) return fail(entries.error());
  std::set<DocumentId> ids;
  for (const auto& [key, value] : *entries) {
    if (key.size() < 2 || (key[1] != "snapshot" && key[1] != "incremental")) continue;
    if (auto id = DocumentId::parse(key[0])) ids.insert(*id);
  }
  return std::vector<DocumentId>(ids.begin(), ids.end());
}

Result<std::uint16_t> Repo::listen_websocket(const std::string& host, std::uint16_t port, const std::string& path,
                                             HttpHandler http_handler) {
  ListenOptions options;
  options.path = path;
  options.http_handler = std::move(http_handler);
  return listen_websocket(host, port, std::move(options));
}

Result<std::uint16_t> Repo::listen_websocket(const std::string& host, std::uint16_t port, ListenOptions options) {
  std::weak_ptr<Impl> weak = impl_;
  net::TransportOptions transport = impl_->transport_options();
  transport.http_handler = std::move(options.http_handler);
  transport.authenticate = std::move(options.authenticate);
  transport.max_connections = options.max_connections;
  transport.tls_cert_file = std::move(options.tls_cert_file);
  transport.tls_key_file = std::move(options.tls_key_file);
  auto listener = net::listen_websocket(impl_->io, host, port, options.path, [weak](std::shared_ptr<net::Connection> c) {
    if (auto s = weak.lock()) s->attach(std::move(c), core::ConnectionRole::kAcceptor, std::nullopt);
  }, transport);
  if (!listener) return fail(listener.error());
  const std::uint16_t bound = (*listener)->port();
  std::lock_guard<std::mutex> lock(impl_->hub_mutex);
  impl_->listeners[impl_->next_endpoint++] = std::move(*listener);
  return bound;
}

RepoStats Repo::stats() const {
  RepoStats s;
  s.uptime = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - impl_->epoch);
  {
    std::lock_guard<std::mutex> lock(impl_->hub_mutex);
    s.connections = impl_->conns.size();
    s.peers = impl_->hub.peers().size();
  }
  {
    std::lock_guard<std::mutex> lock(impl_->docs_mutex);
    s.open_documents = impl_->docs.size();
  }
  s.messages_in = impl_->messages_in;
  s.messages_out = impl_->messages_out;
  s.bytes_in = impl_->bytes_in;
  s.bytes_out = impl_->bytes_out;
  s.connections_accepted = impl_->accepted;
  s.writes_refused = impl_->writes_refused;
  std::uint64_t cumulative = 0;
  for (const auto& b : impl_->latency_buckets) {
    cumulative += b;
    s.latency_buckets.push_back(cumulative);
  }
  s.latency_sum_ms = impl_->latency_sum;
  s.latency_count = impl_->latency_count;
  return s;
}

Result<std::uint16_t> Repo::listen_tcp(const std::string& host, std::uint16_t port, ListenOptions options) {
  std::weak_ptr<Impl> weak = impl_;
  net::TransportOptions transport = impl_->transport_options();
  transport.authenticate = std::move(options.authenticate);
  transport.max_connections = options.max_connections;
  auto listener = net::listen_tcp(impl_->io, host, port, [weak](std::shared_ptr<net::Connection> c) {
    if (auto s = weak.lock()) s->attach(std::move(c), core::ConnectionRole::kAcceptor, std::nullopt);
  }, std::move(transport));
  if (!listener) return fail(listener.error());
  const std::uint16_t bound = (*listener)->port();
  std::lock_guard<std::mutex> lock(impl_->hub_mutex);
  impl_->listeners[impl_->next_endpoint++] = std::move(*listener);
  return bound;
}

EndpointId Repo::connect_websocket(const std::string& url, Backoff backoff, std::string auth_token) {
  Impl::Dialer d;
  d.websocket = true;
  d.url = url;
  d.backoff = backoff;
  d.auth_token = std::move(auth_token);
  return impl_->add_dialer(std::move(d));
}

EndpointId Repo::connect_tcp(const std::string& host, std::uint16_t port, Backoff backoff,
                             std::string auth_token) {
  Impl::Dialer d;
  d.websocket = false;
  d.host = host;
  d.port = port;
  d.backoff = backoff;
  d.auth_token = std::move(auth_token);
  return impl_->add_dialer(std::move(d));
}

void Repo::add_connection(std::shared_ptr<Connection> connection, ConnectionRole role) {
  if (!connection) return;
  if (impl_->stopped) {
    connection->start(Connection::Handler{[](Bytes) {}, [](const CloseInfo&) {}});
    connection->close();
    return;
  }
  impl_->attach(std::move(connection),
                role == ConnectionRole::kDialer ? core::ConnectionRole::kInitiator : core::ConnectionRole::kAcceptor,
                std::nullopt);
}

EndpointId Repo::connect(Connector connector, std::string description, Backoff backoff) {
  Impl::Dialer d;
  d.websocket = false;
  d.connector = std::move(connector);
  d.description = std::move(description);
  d.backoff = backoff;
  return impl_->add_dialer(std::move(d));
}

void Repo::disconnect(EndpointId endpoint) {
  std::unique_ptr<net::Listener> listener;
  std::shared_ptr<net::Connection> connection;
  {
    std::lock_guard<std::mutex> lock(impl_->hub_mutex);
    if (auto l = impl_->listeners.find(endpoint); l != impl_->listeners.end()) {
      listener = std::move(l->second);
      impl_->listeners.erase(l);
    }
    if (auto d = impl_->dialers.find(endpoint); d != impl_->dialers.end()) {
      d->second.active = false;
      if (d->second.connection) {
        if (auto c = impl_->conns.find(*d->second.connection); c != impl_->conns.end()) connection = c->second.connection;
      }
    }
  }
  if (listener) listener->close();
  if (connection) connection->close();
  impl_->hub_post([self = impl_](core::Hub& h) { h.set_pending_dials(self->pending_dials(), self->now()); });
}

Subscription Repo::on_connection_event(std::function<void(const ConnectionEvent&)> observer) {
  std::lock_guard<std::mutex> lock(impl_->hub_mutex);
  const std::uint64_t id = impl_->next_observer++;
  impl_->connection_observers[id] = std::move(observer);
  std::weak_ptr<Impl> weak = impl_;
  return Subscription([weak, id] {
    if (auto s = weak.lock()) {
      std::lock_guard<std::mutex> l(s->hub_mutex);
      s->connection_observers.erase(id);
    }
  });
}

std::optional<std::shared_future<ConnectionEvent>> Repo::connection_finished(std::uint64_t connection) const {
  std::lock_guard<std::mutex> lock(impl_->hub_mutex);
  auto it = impl_->conns.find(connection);
  if (it == impl_->conns.end()) return std::nullopt;
  return it->second.finished_future;
}

std::vector<PeerId> Repo::peers() const {
  std::lock_guard<std::mutex> lock(impl_->hub_mutex);
  std::vector<PeerId> out;
  for (const auto& p : impl_->hub.peers()) out.push_back(p.peer_id);
  return out;
}

Status Repo::wait_for_peer(const PeerId& peer, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(impl_->hub_mutex);
  const bool ok = impl_->hub_cv.wait_for(lock, timeout, [&] {
    for (const auto& p : impl_->hub.peers()) {
      if (p.peer_id == peer) return true;
    }
    return false;
  });
  if (!ok) return fail(Error(ErrorCode::kTimeout, "peer " + peer.str() + " did not connect"));
  return {};
}

Status Repo::sync_all(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::vector<std::shared_ptr<DocHandle::Entry>> entries;
  {
    std::lock_guard<std::mutex> lock(impl_->docs_mutex);
    for (const auto& [id, e] : impl_->docs) entries.push_back(e);
  }
  for (const auto& entry : entries) {
    std::unique_lock<std::mutex> lock(entry->mutex);
    if (entry->actor->state() != core::DocState::kReady) continue;
    const bool ok = entry->cv.wait_until(lock, deadline, [&] {
      for (const auto& p : entry->actor->peers()) {
        if (p.active && !Impl::synced_with(*entry->actor, p.peer)) return false;
      }
      return true;
    });
    if (!ok) return fail(Error(ErrorCode::kTimeout, "document " + entry->id.to_string() + " is not in sync"));
  }
  return {};
}

Status Repo::flush(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::vector<std::shared_ptr<DocHandle::Entry>> entries;
  {
    std::lock_guard<std::mutex> lock(impl_->docs_mutex);
    for (const auto& [id, e] : impl_->docs) entries.push_back(e);
  }
  for (const auto& entry : entries) impl_->actor_post(entry, [self = impl_](core::DocActor& a) { a.flush(self->now()); });
  for (const auto& entry : entries) {
    std::unique_lock<std::mutex> lock(entry->mutex);
    if (!entry->cv.wait_until(lock, deadline, [&] { return !entry->actor->pending_io(); })) {
      return fail(Error(ErrorCode::kTimeout, "saving " + entry->id.to_string() + " did not finish"));
    }
  }
  return {};
}

void Repo::stop() {
  if (!impl_ || impl_->stopped) return;
  if (impl_->options.storage) {
    if (auto st = flush(kStopFlushTimeout); !st) impl_->log(LogLevel::kError, "stop: " + st.error().to_string());
  }
  std::vector<std::shared_ptr<net::Connection>> connections;
  std::map<EndpointId, std::unique_ptr<net::Listener>> listeners;
  {
    std::lock_guard<std::mutex> lock(impl_->hub_mutex);
    for (auto& [id, d] : impl_->dialers) d.active = false;
    for (auto& [id, c] : impl_->conns) connections.push_back(c.connection);
    listeners = std::move(impl_->listeners);
  }
  for (auto& [id, l] : listeners) l->close();
  for (auto& c : connections) c->close();
  {
    // Give the close handshakes a moment, so peers see a clean close rather than a reset.
    std::unique_lock<std::mutex> lock(impl_->hub_mutex);
    impl_->hub_cv.wait_for(lock, kStopCloseGrace, [&] { return impl_->conns.empty(); });
  }
  impl_->stopped = true;
  impl_->timers.stop();
  impl_->io.stop();
  if (impl_->storage_io) impl_->storage_io->stop();
  // Tasks that never ran hold the impl (and the entries) alive: drop them, then the entries.
  impl_->hub_queue->clear();
  // Connections whose close did not get through in the second above (busy io threads) are
  // still registered. Drop them now, while the IoContext they belong to still exists: left in
  // the impl they would be destroyed after it (threads_ goes first), and a WebSocket stream
  // destroyed after its io_context touches Beast's freed websocket service.
  std::map<core::ConnectionId, Impl::Conn> leftover;
  {
    std::lock_guard<std::mutex> lock(impl_->hub_mutex);
    leftover.swap(impl_->conns);
  }
  for (auto& [id, conn] : leftover) {
    if (!conn.finished) continue;
    ConnectionEvent ev;
    ev.kind = ConnectionEvent::Kind::kClosed;
    ev.connection = id;
    ev.description = conn.description;
    ev.reason = ConnectionEvent::Reason::kLocalClose;
    conn.finished->set_value(ev);
  }
  leftover.clear();
  std::map<DocumentId, std::shared_ptr<DocHandle::Entry>> docs;
  {
    std::lock_guard<std::mutex> lock(impl_->docs_mutex);
    docs.swap(impl_->docs);
  }
  for (auto& [id, entry] : docs) entry->queue->clear();
}

}  // namespace am::repo
