// The document actor's peer half: who may see the document, requests and sync messages in and
// out, read-only peers, per-peer flow control, ephemeral relay and availability.
#include <algorithm>
#include <utility>

#include "repo/core/doc_actor.h"
#include "repo/core/doc_actor_peer.h"

namespace am::repo::core {

DocActor::Peer* DocActor::peer(const PeerId& id) {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : it->second.get();
}

bool DocActor::is_active(const Peer& p) const { return p.access && (p.announce || p.asked_us); }

void DocActor::set_status(Peer& p, PeerDocStatus status) {
  if (p.status == status) return;
  p.status = status;
  DocEvent e{DocEvent::Kind::kPeerStatus, state_, {}, {}, p.info.peer_id, {}, {}};
  effects_.events.push_back(std::move(e));
}

void DocActor::set_state(DocState state) {
  if (state_ == state) return;
  state_ = state;
  effects_.events.push_back(DocEvent{DocEvent::Kind::kStateChanged, state, {}, {}, {}, {}, {}});
}

void DocActor::add_peer(const PeerInfo& info, Millis now) {
  if (state_ == DocState::kDeleted) return;
  meet_peer(info);
  // Only this peer can have something new to send or ask; the others are as they were.
  pump(now, &info.peer_id);
}

DocActor::Peer& DocActor::meet_peer(const PeerInfo& info) {
  auto p = std::make_unique<Peer>();
  p->info = info;
  p->announce = config_.policy->announce(info.peer_id, config_.document_id);
  const DocumentAccess level = config_.policy->access_level(info.peer_id, info.principal, config_.document_id);
  p->access = level != DocumentAccess::kNone;
  p->read_only = level == DocumentAccess::kRead;
  if (auto parked = parked_sync_states_.find(info.peer_id); parked != parked_sync_states_.end()) {
    // Only the persisted part survives, so anything lost in flight is sent again (JS #206).
    if (auto decoded = SyncState::decode(parked->second.encoded)) p->sync = std::move(*decoded);
    parked_sync_states_.erase(parked);
  } else if (config_.has_storage && persists_sync_state(info)) {
    storage_.load_sync_state(info.peer_id, *info.storage_id);
    p->sync_state_loading = true;
  }
  Peer& added = *p;
  peers_[info.peer_id] = std::move(p);
  return added;
}

void DocActor::receive(const PeerInfo& from, const wire::Message& message, Millis now, bool more_coming) {
  if (state_ != DocState::kDeleted && peers_.find(from.peer_id) == peers_.end()) meet_peer(from);
  receive(from.peer_id, message, now, more_coming);
}

void DocActor::remove_peer(const PeerId& id, Millis now) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  if (it->second->sync_state_dirty && persists_sync_state(it->second->info)) save_sync_states();
  parked_sync_states_[id] = ParkedSyncState{it->second->sync.encode(), next_parked_order_++};
  if (parked_sync_states_.size() > kMaxParkedSyncStates) {
    // A document that never goes idle (someone is always on it) would otherwise keep one for
    // every peer that ever visited: JS clients usually come back with a new PeerId.
    parked_sync_states_.erase(std::min_element(
        parked_sync_states_.begin(), parked_sync_states_.end(),
        [](const auto& a, const auto& b) { return a.second.parked_order < b.second.parked_order; }));
  }
  unanswered_since_.erase(id);
  changes_in_flight_.erase(id);
  peers_.erase(it);
  pump(now);
}

void DocActor::set_network_pending(bool pending, Millis now) {
  network_pending_ = pending;
  network_known_ = true;
  pump(now);
}

void DocActor::receive(const PeerId& from, const wire::Message& message, Millis now, bool more_coming) {
  if (state_ == DocState::kDeleted) return;
  if (state_ == DocState::kLoading) {
    queued_.emplace_back(from, message);
    return;
  }
  const std::vector<ChangeHash> heads_before = doc_.heads();
  const DocState state_before = state_;
  process(from, message, now);
  // A message that changed neither our document nor our state only changed what we know of its
  // sender: the other peers' messages would be what they were. (With many peers on a busy
  // document, answering every acknowledgement by generating a message for every peer made the
  // work per change grow with the square of the peers.)
  if (state_ == DocState::kReady && state_before == DocState::kReady && doc_.heads() == heads_before) {
    deferred_pump_peers_.insert(from);
  } else {
    deferred_pump_all_ = true;
  }
  if (more_coming) return;
  if (deferred_pump_all_) {
    pump(now);
    return;
  }
  std::set<PeerId> senders;
  senders.swap(deferred_pump_peers_);
  for (const PeerId& sender : senders) pump(now, &sender);
}

void DocActor::process(const PeerId& from, const wire::Message& message, Millis now) {
  Peer* p = peer(from);
  if (p == nullptr) return;
  if (p->sync_state_loading && (std::holds_alternative<wire::SyncMessage>(message) ||
                                std::holds_alternative<wire::RequestMessage>(message))) {
    p->held.push_back(message);  // processed on top of the stored sync state, once loaded
    return;
  }
  if (const auto* m = std::get_if<wire::EphemeralMessage>(&message)) {
    if (!p->access) return;
    effects_.events.push_back(DocEvent{DocEvent::Kind::kEphemeral, state_, {}, {}, m->sender_id, m->data, {}});
    relay_ephemeral(from, *m);
    return;
  }
  if (std::holds_alternative<wire::DocUnavailableMessage>(message)) {
    set_status(*p, PeerDocStatus::kUnavailable);
    return;
  }
  const bool is_request = std::holds_alternative<wire::RequestMessage>(message);
  const Bytes* data = nullptr;
  if (const auto* m = std::get_if<wire::RequestMessage>(&message)) data = &m->data;
  if (const auto* m = std::get_if<wire::SyncMessage>(&message)) data = &m->data;
  if (data == nullptr) return;  // remote-heads gossip is tolerated and ignored
  if (!p->access) {
    if (!p->told_unavailable) {
      effects_.outgoing.emplace_back(
          wire::DocUnavailableMessage{config_.self, from, config_.document_id});
      p->told_unavailable = true;
    }
    return;
  }
  p->asked_us = true;
  receive_sync(*p, *data, is_request, now);
}

void DocActor::receive_sync(Peer& p, ByteView data, bool is_request, Millis now) {
  auto decoded = SyncMessage::decode(data);
  if (!decoded) return;  // a malformed sync message changes nothing
  changes_in_flight_.erase(p.info.peer_id);
  if (is_request && p.status == PeerDocStatus::kUnknown) set_status(p, PeerDocStatus::kWants);
  if (!decoded->heads.empty()) {
    set_status(p, PeerDocStatus::kHas);
    if (!p.supplier_target) p.supplier_target = decoded->heads;
  }
  Bytes without_changes;
  if (p.read_only && !decoded->changes.empty()) {
    // A read-only peer's writes are refused: the rest of its message still counts, so it keeps
    // receiving ours. (We also never ask it for changes; see pump.)
    decoded->changes.clear();
    without_changes = decoded->encode();
    data = without_changes;
    // Every refusal is an event (for counters); the first per peer carries a message to log.
    std::string message;
    if (!p.told_read_only) {
      p.told_read_only = true;
      message = "peer " + p.info.peer_id.str() + " (" + p.info.principal + ") may only read document " +
                config_.document_id.to_string() + "; its changes were dropped";
    }
    effects_.events.push_back(
        DocEvent{DocEvent::Kind::kWriteRefused, state_, {}, {}, p.info.peer_id, {}, std::move(message)});
  }
  const std::vector<ChangeHash> before = doc_.heads();
  // A change-less message whose heads equal ours makes receive_sync_message take our heads as
  // known to the peer (Automerge: last_sent_heads = their heads), so that we do not answer it.
  // While our answers to this peer wait for a durable save we have not sent our heads, and the
  // peer, whose message is in flight, waits for an answer it would never get: keep what we
  // really sent.
  const std::optional<std::vector<ChangeHash>> held_back =
      awaiting_durable_.count(p.info.peer_id) != 0 ? std::optional(p.sync.last_sent_heads) : std::nullopt;
  if (!receive_sync_message(doc_, p.sync, data)) return;  // all-or-nothing: nothing changed
  if (held_back) p.sync.last_sent_heads = *held_back;
  unanswered_since_.try_emplace(p.info.peer_id, now);
  if (persists_sync_state(p.info) && config_.has_storage) {
    p.sync_state_dirty = true;
    storage_.sync_state_changed(now);
  }
  std::vector<ChangeHash> after = doc_.heads();
  if (after != before) {
    effects_.events.push_back(DocEvent{DocEvent::Kind::kHeadsChanged, state_, before, after, {}, {}, {}});
    if (config_.durable_acks && config_.has_storage) {
      awaiting_durable_.insert(p.info.peer_id);
      if (!storage_.save_without_debounce(now)) release_acks(now);
    } else {
      storage_.schedule_save(now);
    }
  }
  maybe_ready(now);
}

void DocActor::maybe_ready(Millis now) {
  (void)now;
  if (state_ != DocState::kRequesting && state_ != DocState::kUnavailable) return;
  if (doc_.heads().empty()) return;
  for (const auto& [pid, p] : peers_) {
    if (!p->supplier_target) continue;
    const bool caught_up = std::all_of(p->supplier_target->begin(), p->supplier_target->end(),
                                       [&](const ChangeHash& h) { return doc_.has_change(h); });
    if (caught_up) {
      set_state(DocState::kReady);
      return;
    }
  }
}

void DocActor::relay_ephemeral(const PeerId& from, const wire::EphemeralMessage& message) {
  for (const auto& [pid, p] : peers_) {
    if (pid == from || pid == message.sender_id || !is_active(*p)) continue;
    wire::EphemeralMessage copy = message;
    copy.target_id = pid;
    effects_.outgoing.emplace_back(std::move(copy));
  }
}

void DocActor::broadcast(Bytes data, const SessionId& session, std::uint64_t count, Millis now) {
  (void)now;
  if (state_ == DocState::kDeleted) return;
  for (const auto& [pid, p] : peers_) {
    if (!is_active(*p)) continue;
    effects_.outgoing.emplace_back(
        wire::EphemeralMessage{config_.self, pid, config_.document_id, count, session, data});
  }
}

void DocActor::local_change(const std::vector<ChangeHash>& heads_before, Millis now) {
  std::vector<ChangeHash> after = doc_.heads();
  if (after == heads_before) return;
  effects_.events.push_back(DocEvent{DocEvent::Kind::kHeadsChanged, state_, heads_before, after, {}, {}, {}});
  storage_.schedule_save(now);
  pump(now);
}

void DocActor::pump(Millis now, const PeerId* only) {
  if (only == nullptr) {
    deferred_pump_all_ = false;
    deferred_pump_peers_.clear();
  }
  if (state_ == DocState::kLoading || state_ == DocState::kDeleted) return;
  const bool have_doc = !doc_.heads().empty();
  bool supplied = false;
  if (state_ != DocState::kReady) {
    for (const auto& [pid, p] : peers_) supplied |= p->status == PeerDocStatus::kHas && is_active(*p);
  }
  auto first = peers_.begin(), last = peers_.end();
  if (only != nullptr) {
    first = peers_.find(*only);
    last = first == peers_.end() ? first : std::next(first);
  }
  for (auto it = first; it != last; ++it) {
    const PeerId& pid = it->first;
    const std::unique_ptr<Peer>& p = it->second;
    if (p->sync_state_loading || !is_active(*p)) continue;
    if (awaiting_durable_.count(pid) != 0) continue;  // released when the save completes
    if (auto f = changes_in_flight_.find(pid); f != changes_in_flight_.end() && now - f->second < kChangesInFlightTimeoutMs) {
      continue;  // sent when it answers (or by tick after the timeout)
    }
    bool as_request = false;
    if (state_ != DocState::kReady) {
      if (p->status == PeerDocStatus::kHas) {
        // keep syncing with a supplier
      } else if (p->status == PeerDocStatus::kUnknown && p->announce && !supplied && !p->requested) {
        as_request = !have_doc;
        p->requested = true;
      } else {
        continue;  // requesters wait until we have caught up; others were asked already
      }
    }
    std::optional<SyncState> state_before;
    if (p->read_only) state_before = p->sync;
    const std::uint64_t sent_before = p->sync.changes_sent;
    auto message = generate_sync_message(doc_, p->sync);
    if (message && p->sync.changes_sent > sent_before) changes_in_flight_[pid] = now;
    if (message && p->read_only) {
      // A read-only peer's heads never become ours (we drop its changes), so the protocol would
      // answer each of its messages and it each of ours, forever. Say something only when we
      // have changes for it or our heads moved; never ask it for changes we would drop.
      auto m = SyncMessage::decode(*message);
      if (m && m->changes.empty() && state_before->last_sent_heads == doc_.heads()) {
        p->sync = std::move(*state_before);
        message.reset();
      } else if (m && !m->need.empty()) {
        m->need.clear();
        *message = m->encode();
      }
    }
    auto since = unanswered_since_.find(pid);
    if (!message) {
      if (since != unanswered_since_.end()) unanswered_since_.erase(since);  // nothing to answer
      continue;
    }
    if (since != unanswered_since_.end()) {
      effects_.reply_latencies_ms.push_back(now - since->second);
      unanswered_since_.erase(since);
    }
    if (as_request) {
      effects_.outgoing.emplace_back(wire::RequestMessage{config_.self, pid, config_.document_id, std::move(*message)});
    } else {
      effects_.outgoing.emplace_back(wire::SyncMessage{config_.self, pid, config_.document_id, std::move(*message)});
    }
  }
  evaluate_availability(now);
}

void DocActor::evaluate_availability(Millis now) {
  if (state_ != DocState::kRequesting && state_ != DocState::kUnavailable) return;
  // Until the hub has told us who is connected we cannot know that nobody has it.
  if (network_pending_ || !network_known_) return;
  for (const auto& [pid, p] : peers_) {
    if (!is_active(*p) && !(p->announce && p->access)) continue;
    if (p->status == PeerDocStatus::kHas) return;  // a supplier: wait to catch up
    if (p->announce && p->access && p->status == PeerDocStatus::kUnknown) return;  // still asking
  }
  if (!doc_.heads().empty()) {
    // Whatever we hold is all anyone reachable has.
    set_state(DocState::kReady);
    pump(now);
    return;
  }
  set_state(DocState::kUnavailable);
  for (auto& [pid, p] : peers_) {
    if (p->status != PeerDocStatus::kWants || p->told_unavailable || !p->access) continue;
    effects_.outgoing.emplace_back(wire::DocUnavailableMessage{config_.self, pid, config_.document_id});
    p->told_unavailable = true;
  }
}

std::vector<PeerSyncInfo> DocActor::peers() const {
  std::vector<PeerSyncInfo> out;
  for (const auto& [pid, p] : peers_) {
    out.push_back(PeerSyncInfo{pid, p->status, is_active(*p), p->sync.their_heads, p->sync.shared_heads});
  }
  return out;
}

}  // namespace am::repo::core
