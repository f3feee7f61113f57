// The runtime's pump: events into the hub and the document actors, their effects out (frames,
// closes, storage tasks, wake-ups, observer calls). See repo_impl.h.
#include "repo/runtime/repo_impl.h"

#include "repo/core/wire/cbor_codec.h"

namespace am::repo {

void Repo::Impl::hub_post(std::function<void(core::Hub&)> fn) {
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

void Repo::Impl::dispatch_hub(core::HubEffects e, std::vector<std::function<void()>>& after) {
  if (e.legacy_uuid_document_id) {
    after.push_back([self = shared_from_this()] { self->warn_legacy_uuid("a peer's message"); });
  }
  if (!e.dropped.empty()) {  // logged outside the hub mutex, as the log callback may be slow
    after.push_back([self = shared_from_this(), lines = std::move(e.dropped)] {
      for (const std::string& line : lines) self->log(LogLevel::kDebug, line);
    });
  }
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
  if (!e.remote_heads.empty()) deliver_remote_heads(std::move(e.remote_heads));
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

void Repo::Impl::trace(bool outgoing, core::ConnectionId id, const Bytes& frame) const {
  MessageTrace t;
  t.outgoing = outgoing;
  t.connection = id;
  t.bytes = frame.size();
  auto decoded = wire::decode(frame, hub_config(options).limits);
  if (!decoded) {
    // A Go-dialect peer's frame (wire/go_dialect.h): CBOR with `message`, or JSON.
    const auto dialect = wire::looks_like_json(frame) ? wire::Dialect::kGoJson : wire::Dialect::kGoCbor;
    if (auto go = wire::decode_go(frame, dialect, hub_config(options).limits)) decoded = std::move(go);
  }
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

void Repo::Impl::notify_connection(const ConnectionEvent& event, std::vector<std::function<void()>>& after) {
  for (const auto& [id, observer] : connection_observers) {
    after.push_back([observer, event] { observer(event); });
  }
}

void Repo::Impl::actor_post(const std::shared_ptr<DocHandle::Entry>& entry, std::function<void(core::DocActor&)> fn) {
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

namespace {

// The patches of one heads change for change observers. While observers stay, the document's
// diff cursor follows the events, so the patch log answers in time proportional to the change;
// when the cursor is elsewhere (the first event, or several changes in one actor step) it is a
// diff of the two states, and the cursor moves here for the next event.
std::vector<Patch> observed_patches(Document& doc, const std::vector<ChangeHash>& before,
                                    const std::vector<ChangeHash>& after) {
  const bool current = doc.pending_ops() == 0 && doc.heads() == after;
  if (current && doc.diff_cursor() == before) return doc.diff_incremental();
  std::vector<Patch> out;
  if (auto p = doc.diff(before, after)) out = std::move(*p);
  if (current) doc.update_diff_cursor();
  return out;
}

}  // namespace

void Repo::Impl::take_and_dispatch(const std::shared_ptr<DocHandle::Entry>& entry_ptr, std::vector<std::function<void()>>& after) {
  DocHandle::Entry& entry = *entry_ptr;
  core::DocActor& actor = *entry.actor;
  core::DocEffects e = actor.take_effects();
  entry.quiescent = actor.quiescent();
  entry.last_event = now();
  if (!e.outgoing.empty()) {
    // Encoded here, on the document's strand: the hub's queue is shared by every document.
    std::vector<Bytes> frames;
    frames.reserve(e.outgoing.size());
    for (const auto& m : e.outgoing) frames.push_back(wire::encode(m));
    hub_post([messages = std::move(e.outgoing), frames = std::move(frames)](core::Hub& h) mutable {
      for (std::size_t i = 0; i < messages.size(); ++i) h.send(messages[i], std::move(frames[i]));
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
          after.push_back([self = shared_from_this(), id = entry.id] {
            self->notify_document(DocumentEvent::Kind::kUnavailable, id);
            self->schedule_eviction(id, 0);
          });
        }
        for (const auto& [oid, observer] : entry.state_observers) after.push_back([observer, s] { observer(s); });
        if (s == core::DocState::kReady || s == core::DocState::kUnavailable || s == core::DocState::kDeleted) {
          entry.state_observers.clear();  // each has reported its final step
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
        if (entry.change_observers.empty()) {
          actor.document().reset_diff_cursor();  // nobody reads patches: record nothing
          break;
        }
        DocumentChange change;
        change.heads_before = ev.heads_before;
        change.heads_after = ev.heads;
        change.local = entry.local_change_pending;
        change.patches = observed_patches(actor.document(), ev.heads_before, ev.heads);
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
  for (const core::PeerHeadsSeen& seen : e.peer_heads) peer_heads_changed(entry, seen, after);
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

void Repo::Impl::route_to_actor(core::ToActor t) {
  using K = core::ToActor::Kind;
  if (t.kind == K::kSpawn) {
    auto [entry, created] = get_or_create(t.document, [&] { return core::DocActor::find(actor_config(t.document), now()); });
    if (created) opened(entry);  // dispatch its storage loads, report kAdded
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

void Repo::Impl::run_storage(core::StorageTask task, std::function<void(core::StorageOutcome)> done) {
  if (!storage_io) return;
  storage_io->post([storage = options.storage, task = std::move(task), done = std::move(done)] {
    done(core::run_storage_task(*storage, task));
  });
}

}  // namespace am::repo
