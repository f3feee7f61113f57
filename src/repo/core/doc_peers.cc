// The document actor's per-peer sync part: who may see the document, requests and sync messages
// in and out, read-only peers, per-peer flow control, ephemeral relay, parked sync states.
#include "repo/core/doc_peers.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace am::repo::core {
namespace {

// Flow control: while a message that carried changes to a peer is unanswered, further changes
// for it wait and go together in one message when it answers. A peer applying changes always
// answers (its heads moved), so under light load this costs nothing; under heavy load it keeps
// the messages per peer at one per round trip instead of one per change, and every message's
// cost (a Bloom filter over the changes since the last sync point) from growing with the
// backlog. Should an answer never come, the changes go after this long anyway.
constexpr Millis kChangesInFlightTimeoutMs = 1000;

// Sync states are kept for peers that have storage of their own and are not ephemeral (JS).
bool persists_sync_state(const PeerInfo& info) { return info.storage_id.has_value() && !info.is_ephemeral; }

}  // namespace

// What we keep per peer.
struct DocPeers::Peer {
  PeerInfo info;
  SyncState sync;
  PeerDocStatus status = PeerDocStatus::kUnknown;
  bool announce = false;
  bool access = false;
  bool read_only = false;         // access, but its changes are dropped (DocumentAccess::kRead)
  bool told_read_only = false;    // we reported its first refused write
  bool asked_us = false;          // the peer sent us a request or sync for this document
  bool requested = false;         // we sent it a request
  bool told_unavailable = false;  // we sent it doc-unavailable
  bool sync_state_loading = false;
  bool sync_state_dirty = false;
  /// Sync and request messages that arrived while its persisted sync state was loading;
  /// processed, in order, once it is loaded.
  std::vector<wire::Message> held;
  /// The heads the peer advertised when it first showed it has the document.
  std::optional<std::vector<ChangeHash>> supplier_target;
};

DocPeers::DocPeers(DocPartContext context) : ctx_(context) {}
DocPeers::~DocPeers() = default;

DocPeers::Peer* DocPeers::peer(const PeerId& id) {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : it->second.get();
}

bool DocPeers::is_active(const Peer& p) const { return p.access && (p.announce || p.asked_us); }

void DocPeers::set_status(Peer& p, PeerDocStatus status) {
  if (p.status == status) return;
  p.status = status;
  DocEvent e{DocEvent::Kind::kPeerStatus, ctx_.state, {}, {}, p.info.peer_id, {}, {}};
  ctx_.effects.events.push_back(std::move(e));
}

void DocPeers::refresh_policy(const PeerId& id) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  Peer& p = *it->second;
  const DocActorConfig& config = ctx_.config;
  p.announce = config.policy->announce(id, config.document_id);
  const DocumentAccess level = config.policy->access_level(id, p.info.principal, config.document_id);
  p.access = level != DocumentAccess::kNone;
  p.read_only = level == DocumentAccess::kRead;
}

bool DocPeers::meet(const PeerInfo& info) {
  const DocActorConfig& config = ctx_.config;
  auto p = std::make_unique<Peer>();
  p->info = info;
  p->announce = config.policy->announce(info.peer_id, config.document_id);
  const DocumentAccess level = config.policy->access_level(info.peer_id, info.principal, config.document_id);
  p->access = level != DocumentAccess::kNone;
  p->read_only = level == DocumentAccess::kRead;
  if (auto parked = parked_sync_states_.find(info.peer_id); parked != parked_sync_states_.end()) {
    // Only the persisted part survives, so anything lost in flight is sent again (JS #206).
    if (auto decoded = SyncState::decode(parked->second.encoded)) p->sync = std::move(*decoded);
    parked_sync_states_.erase(parked);
  } else if (config.has_storage && persists_sync_state(info)) {
    p->sync_state_loading = true;
  }
  const bool load_sync_state = p->sync_state_loading;
  peers_[info.peer_id] = std::move(p);
  return load_sync_state;
}

bool DocPeers::has_unsaved_sync_state(const PeerId& id) const {
  auto it = peers_.find(id);
  return it != peers_.end() && it->second->sync_state_dirty && persists_sync_state(it->second->info);
}

void DocPeers::remove(const PeerId& id, Millis now) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  forget_expired_parked(now);
  parked_sync_states_[id] = ParkedSyncState{it->second->sync.encode(), next_parked_order_++, now};
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
}

void DocPeers::forget_expired_parked(Millis now) {
  std::erase_if(parked_sync_states_, [now](const auto& entry) {
    return entry.second.parked_at + kParkedSyncStateLifetimeMs <= now;
  });
}

std::optional<std::vector<wire::Message>> DocPeers::sync_state_loaded(const PeerId& id,
                                                                      const std::optional<Bytes>& stored) {
  Peer* p = peer(id);
  if (p == nullptr || !p->sync_state_loading) return std::nullopt;
  p->sync_state_loading = false;
  if (stored) {
    if (auto decoded = SyncState::decode(*stored)) p->sync = std::move(*decoded);
  }
  return std::move(p->held);
}

std::vector<UnsavedSyncState> DocPeers::take_unsaved_sync_states() {
  std::vector<UnsavedSyncState> out;
  for (auto& [pid, p] : peers_) {
    if (!p->sync_state_dirty || !persists_sync_state(p->info)) continue;
    p->sync_state_dirty = false;
    out.push_back(UnsavedSyncState{pid, *p->info.storage_id, p->sync.encode()});
  }
  return out;
}

std::optional<SyncApplied> DocPeers::receive(const PeerId& from, const wire::Message& message, Millis now) {
  Peer* p = peer(from);
  if (p == nullptr) return std::nullopt;
  if (p->sync_state_loading && (std::holds_alternative<wire::SyncMessage>(message) ||
                                std::holds_alternative<wire::RequestMessage>(message))) {
    p->held.push_back(message);  // processed on top of the stored sync state, once loaded
    return std::nullopt;
  }
  if (const auto* m = std::get_if<wire::EphemeralMessage>(&message)) {
    if (!p->access) return std::nullopt;
    ctx_.effects.events.push_back(
        DocEvent{DocEvent::Kind::kEphemeral, ctx_.state, {}, {}, m->sender_id, m->data, {}});
    relay_ephemeral(from, *m);
    return std::nullopt;
  }
  if (std::holds_alternative<wire::DocUnavailableMessage>(message)) {
    set_status(*p, PeerDocStatus::kUnavailable);
    return std::nullopt;
  }
  const bool is_request = std::holds_alternative<wire::RequestMessage>(message);
  const Bytes* data = nullptr;
  if (const auto* m = std::get_if<wire::RequestMessage>(&message)) data = &m->data;
  if (const auto* m = std::get_if<wire::SyncMessage>(&message)) data = &m->data;
  if (data == nullptr) return std::nullopt;  // remote-heads gossip is tolerated and ignored
  if (!p->access) {
    if (!p->told_unavailable) {
      ctx_.effects.outgoing.emplace_back(
          wire::DocUnavailableMessage{ctx_.config.self, from, ctx_.config.document_id});
      p->told_unavailable = true;
    }
    return std::nullopt;
  }
  p->asked_us = true;
  return receive_sync(*p, *data, is_request, now);
}

std::optional<SyncApplied> DocPeers::receive_sync(Peer& p, ByteView data, bool is_request, Millis now) {
  auto decoded = SyncMessage::decode(data);
  if (!decoded) return std::nullopt;  // a malformed sync message changes nothing
  changes_in_flight_.erase(p.info.peer_id);
  if (is_request && p.status == PeerDocStatus::kUnknown) set_status(p, PeerDocStatus::kWants);
  if (!decoded->heads.empty()) {
    set_status(p, PeerDocStatus::kHas);
    if (!p.supplier_target) p.supplier_target = decoded->heads;
  }
  Bytes without_changes;
  if (p.read_only && !decoded->changes.empty()) {
    // A read-only peer's writes are refused: the rest of its message still counts, so it keeps
    // receiving ours. (We also never ask it for changes; see send_sync.)
    decoded->changes.clear();
    without_changes = decoded->encode();
    data = without_changes;
    refuse_write(p);
  }
  SyncApplied applied;
  applied.heads_before = ctx_.doc.heads();
  // A change-less message whose heads equal ours makes receive_sync_message take our heads as
  // known to the peer (Automerge: last_sent_heads = their heads), so that we do not answer it.
  // While our answers to this peer wait for a durable save we have not sent our heads, and the
  // peer, whose message is in flight, waits for an answer it would never get: keep what we
  // really sent.
  const std::optional<std::vector<ChangeHash>> held_back =
      awaiting_durable_.count(p.info.peer_id) != 0 ? std::optional(p.sync.last_sent_heads) : std::nullopt;
  std::optional<std::vector<ChangeHash>> their_heads_before;  // copied only when reported
  if (ctx_.config.report_peer_heads) their_heads_before = p.sync.their_heads;
  if (!receive_sync_message(ctx_.doc, p.sync, data)) return std::nullopt;  // all-or-nothing
  if (held_back) p.sync.last_sent_heads = *held_back;
  if (ctx_.config.report_peer_heads && p.info.storage_id && p.sync.their_heads &&
      p.sync.their_heads != their_heads_before) {
    ctx_.effects.peer_heads.push_back(PeerHeadsSeen{p.info.peer_id, *p.info.storage_id, *p.sync.their_heads});
  }
  unanswered_since_.try_emplace(p.info.peer_id, now);
  if (persists_sync_state(p.info) && ctx_.config.has_storage) {
    p.sync_state_dirty = true;
    applied.sync_state_changed = true;
  }
  applied.heads_after = ctx_.doc.heads();
  if (applied.heads_after != applied.heads_before && ctx_.config.durable_acks && ctx_.config.has_storage) {
    // Our answer waits for a save of these changes (and of those applied before them).
    awaiting_durable_[p.info.peer_id] = ctx_.doc.change_count();
  }
  return applied;
}

void DocPeers::refuse_write(Peer& p) {
  // Every refusal is an event (for counters); the first per peer carries a message to log.
  std::string message;
  if (!p.told_read_only) {
    p.told_read_only = true;
    message = "peer " + p.info.peer_id.str() + " (" + p.info.principal + ") may only read document " +
              ctx_.config.document_id.to_string() + "; its changes were dropped";
  }
  ctx_.effects.events.push_back(
      DocEvent{DocEvent::Kind::kWriteRefused, ctx_.state, {}, {}, p.info.peer_id, {}, std::move(message)});
}

void DocPeers::relay_ephemeral(const PeerId& from, const wire::EphemeralMessage& message) {
  for (const auto& [pid, p] : peers_) {
    if (pid == from || pid == message.sender_id || !is_active(*p)) continue;
    wire::EphemeralMessage copy = message;
    copy.target_id = pid;
    ctx_.effects.outgoing.emplace_back(std::move(copy));
  }
}

void DocPeers::broadcast(Bytes data, const SessionId& session, std::uint64_t count) {
  for (const auto& [pid, p] : peers_) {
    if (!is_active(*p)) continue;
    ctx_.effects.outgoing.emplace_back(
        wire::EphemeralMessage{ctx_.config.self, pid, ctx_.config.document_id, count, session, data});
  }
}

void DocPeers::send_sync(Millis now, const PeerId* only) {
  const DocState state = ctx_.state;
  const bool have_doc = !ctx_.doc.heads().empty();
  bool supplied = false;
  if (state != DocState::kReady) {
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
    if (state != DocState::kReady) {
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
    auto message = generate_sync_message(ctx_.doc, p->sync);
    if (message && p->sync.changes_sent > sent_before) changes_in_flight_[pid] = now;
    if (message && p->read_only) {
      // A read-only peer's heads never become ours (we drop its changes), so the protocol would
      // answer each of its messages and it each of ours, forever. Say something only when we
      // have changes for it or our heads moved; never ask it for changes we would drop.
      auto m = SyncMessage::decode(*message);
      if (m && m->changes.empty() && state_before->last_sent_heads == ctx_.doc.heads()) {
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
      ctx_.effects.reply_latencies_ms.push_back(now - since->second);
      unanswered_since_.erase(since);
    }
    const DocumentId& doc_id = ctx_.config.document_id;
    if (as_request) {
      ctx_.effects.outgoing.emplace_back(wire::RequestMessage{ctx_.config.self, pid, doc_id, std::move(*message)});
    } else {
      ctx_.effects.outgoing.emplace_back(wire::SyncMessage{ctx_.config.self, pid, doc_id, std::move(*message)});
    }
  }
}

void DocPeers::tell_unavailable() {
  for (auto& [pid, p] : peers_) {
    if (p->status != PeerDocStatus::kWants || p->told_unavailable || !p->access) continue;
    ctx_.effects.outgoing.emplace_back(wire::DocUnavailableMessage{ctx_.config.self, pid, ctx_.config.document_id});
    p->told_unavailable = true;
  }
}

std::vector<PeerId> DocPeers::take_awaiting_durable(std::size_t saved_changes) {
  std::vector<PeerId> released;
  for (auto it = awaiting_durable_.begin(); it != awaiting_durable_.end();) {
    if (it->second <= saved_changes) {
      released.push_back(it->first);
      it = awaiting_durable_.erase(it);
    } else {
      ++it;
    }
  }
  return released;
}

std::vector<PeerId> DocPeers::overdue(Millis now) const {
  std::vector<PeerId> out;
  for (const auto& [pid, since] : changes_in_flight_) {
    if (now - since >= kChangesInFlightTimeoutMs) out.push_back(pid);
  }
  return out;
}

bool DocPeers::behind(const PeerId& id) const {
  auto it = peers_.find(id);
  return it != peers_.end() && it->second->sync.last_sent_heads != ctx_.doc.heads();
}

std::optional<Millis> DocPeers::next_wake() const {
  std::optional<Millis> wake;
  for (const auto& [pid, since] : changes_in_flight_) {
    if (!wake || since + kChangesInFlightTimeoutMs < *wake) wake = since + kChangesInFlightTimeoutMs;
  }
  return wake;
}

bool DocPeers::still_finding() const {
  for (const auto& [pid, p] : peers_) {
    if (!is_active(*p) && !(p->announce && p->access)) continue;
    if (p->status == PeerDocStatus::kHas) return true;  // a supplier: wait to catch up
    if (p->announce && p->access && p->status == PeerDocStatus::kUnknown) return true;  // still asking
  }
  return false;
}

bool DocPeers::caught_up_with_a_supplier() const {
  return std::any_of(peers_.begin(), peers_.end(), [this](const auto& entry) {
    const std::optional<std::vector<ChangeHash>>& target = entry.second->supplier_target;
    return target && std::all_of(target->begin(), target->end(),
                                 [&](const ChangeHash& h) { return ctx_.doc.has_change(h); });
  });
}

std::vector<PeerSyncInfo> DocPeers::sync_info() const {
  std::vector<PeerSyncInfo> out;
  for (const auto& [pid, p] : peers_) {
    out.push_back(PeerSyncInfo{pid, p->status, is_active(*p), p->sync.their_heads, p->sync.shared_heads});
  }
  return out;
}

bool DocPeers::engaged() const {
  return std::any_of(peers_.begin(), peers_.end(), [this](const auto& entry) {
    const Peer& p = *entry.second;
    return is_active(p) || (p.announce && p.access) || p.sync_state_dirty || p.sync_state_loading;
  });
}

}  // namespace am::repo::core
