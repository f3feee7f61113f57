// DocPeers: the per-peer sync part of a document actor (spec §3.3-§3.5). For every peer that
// knows of the document it keeps what the share policy allows it (announce, access, read-only),
// its Automerge sync state (parked when it disconnects, so a reconnect resumes cheaply), what it
// has of the document, and the flow control of what we send it. It turns requests, sync,
// doc-unavailable and ephemeral messages into sync-state updates, and generates our sync
// messages: whom to ask for the document, answers held back for a durable save or for changes
// in flight, read-only peers' writes refused and never asked for.
//
// Sans-IO: messages and events are appended to the effects (DocPartContext). What a received
// sync message did to the document comes back as SyncApplied for the actor to act on (events,
// saves, readiness); whether the document is findable and when it is loaded are the actor's.
//
// Ownership: owned by one DocActor; the peers, parked sync states and flow-control bookkeeping
// are its own, the document and effects are the actor's.
// Thread safety: none; called from the actor's strand only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "am/sync.h"
#include "repo/core/doc_types.h"

namespace am::repo::core {

/// What a sync message a peer sent did (DocPeers::receive).
struct SyncApplied {
  std::vector<ChangeHash> heads_before, heads_after;  // equal: the document did not change
  bool sync_state_changed = false;  // the sender's sync state is one we persist, and it changed
};

/// A peer's sync state to be stored (DocPeers::take_unsaved_sync_states).
struct UnsavedSyncState {
  PeerId peer;
  StorageId storage_id;
  Bytes encoded;
};

class DocPeers {
 public:
  explicit DocPeers(DocPartContext context);
  ~DocPeers();

  DocPeers(const DocPeers&) = delete;
  DocPeers& operator=(const DocPeers&) = delete;

  /// Sync states of disconnected peers kept at most; the oldest is forgotten first.
  static constexpr std::size_t kMaxParkedSyncStates = 256;
  /// How long a disconnected peer's sync state is kept: long enough for a reconnect after a
  /// network blip (JS clients retry within seconds); a document that stays open does not keep
  /// the states of every peer that ever left.
  static constexpr Millis kParkedSyncStateLifetimeMs = 5 * 60 * 1000;

  // --- membership ----------------------------------------------------------------------------
  /// Starts tracking a peer, resuming its parked sync state. True when its sync state is in
  /// storage instead: the caller loads it, and until sync_state_loaded() its requests and sync
  /// messages are held.
  bool meet(const PeerInfo& info);
  bool knows(const PeerId& id) const { return peers_.count(id) != 0; }
  /// Reads the share policy's answers for a known peer again (announce, access, read-only);
  /// its sync state and what it asked are kept.
  void refresh_policy(const PeerId& id);
  /// The peer's sync state changed since it was saved, and is one we persist.
  bool has_unsaved_sync_state(const PeerId& id) const;
  /// Stops tracking a peer; its sync state is parked until now + kParkedSyncStateLifetimeMs.
  /// Expired ones are forgotten here, as peers leave, and at ticks: no timer of their own, which
  /// would keep an idle document in memory (the idle sweep takes it with its parked states).
  void remove(const PeerId& id, Millis now);
  /// Forgets parked sync states whose lifetime has run out.
  void forget_expired_parked(Millis now);
  /// A peer's stored sync state (if one was read) arrived: the messages held meanwhile, to
  /// process in order. Nullopt when the peer is gone or was not waiting for it.
  std::optional<std::vector<wire::Message>> sync_state_loaded(const PeerId& id,
                                                              const std::optional<Bytes>& stored);
  /// Changed sync states of peers we persist them for, now counted as saved.
  std::vector<UnsavedSyncState> take_unsaved_sync_states();

  // --- messages ------------------------------------------------------------------------------
  /// A message for this document from a known peer. A value when a sync (or request) message
  /// was applied: the caller reports and saves what changed.
  std::optional<SyncApplied> receive(const PeerId& from, const wire::Message& message, Millis now);
  /// Generates and queues sync messages for every active peer (or only for `only`), asking
  /// peers for the document while it is not ready.
  void send_sync(Millis now, const PeerId* only);
  /// Sends an ephemeral payload to every active peer.
  void broadcast(Bytes data, const SessionId& session, std::uint64_t count);
  /// Tells the peers that asked for the document and were not told yet that it is unavailable.
  void tell_unavailable();

  // --- durable acknowledgements and flow control -------------------------------------------
  /// Peers whose answers wait for a save of their changes.
  bool awaiting_durable() const { return !awaiting_durable_.empty(); }
  /// The waiting peers whose changes are all in the document's first `saved_changes` changes
  /// (what a completed save covered), no longer waiting.
  std::vector<PeerId> take_awaiting_durable(std::size_t saved_changes);
  /// Peers whose changes in flight went unanswered for kChangesInFlightTimeoutMs.
  std::vector<PeerId> overdue(Millis now) const;
  /// Stops waiting for the peer's answer to changes we sent.
  void forget_in_flight(const PeerId& id) { changes_in_flight_.erase(id); }
  /// We have heads the peer was not sent yet.
  bool behind(const PeerId& id) const;
  /// The earliest time a flow-control timeout falls due.
  std::optional<Millis> next_wake() const;

  // --- find ----------------------------------------------------------------------------------
  /// Some peer is supplying the document or has not answered our request yet.
  bool still_finding() const;
  /// Some supplier's first advertised heads are all in the document.
  bool caught_up_with_a_supplier() const;

  // --- status --------------------------------------------------------------------------------
  std::vector<PeerSyncInfo> sync_info() const;
  /// Some peer is synced with, could be, or has sync-state work outstanding.
  bool engaged() const;
  std::size_t parked_sync_states() const { return parked_sync_states_.size(); }

 private:
  struct Peer;
  Peer* peer(const PeerId& id);
  bool is_active(const Peer& peer) const;
  void set_status(Peer& peer, PeerDocStatus status);
  std::optional<SyncApplied> receive_sync(Peer& peer, ByteView data, bool is_request, Millis now);
  void refuse_write(Peer& peer);
  void relay_ephemeral(const PeerId& from, const wire::EphemeralMessage& message);

  DocPartContext ctx_;
  std::map<PeerId, std::unique_ptr<Peer>> peers_;
  /// Sync states of disconnected peers, kept (as JS does) so a reconnect resumes cheaply, with
  /// the order they were parked in (to forget the oldest).
  struct ParkedSyncState {
    Bytes encoded;
    std::uint64_t parked_order = 0;
    Millis parked_at = 0;
  };
  std::map<PeerId, ParkedSyncState> parked_sync_states_;
  std::uint64_t next_parked_order_ = 0;
  std::map<PeerId, Millis> unanswered_since_;  // a sync message from this peer awaits our reply
  // Peers whose changes we received but have not saved yet: our answers to them wait for the
  // save (an answer acknowledges). Other peers get those changes at once: a crash before the
  // save loses nothing the originator was told we keep, and it sends them again.
  // Peer -> the document's change count once its changes were applied: a save that covered
  // that many changes makes its answer durable. Each author is released by the first save
  // that covers its own changes, not only by one that caught up with everyone's (a document
  // that receives changes faster than it saves never catches up).
  std::map<PeerId, std::size_t> awaiting_durable_;
  // Peers we sent changes they have not answered yet, and since when (flow control; see
  // kChangesInFlightTimeoutMs in doc_peers.cc).
  std::map<PeerId, Millis> changes_in_flight_;
};

}  // namespace am::repo::core
