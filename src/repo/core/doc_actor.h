// DocActor: everything the repo does for one document, without IO (spec §3.2-§3.6, §4.3-§4.5).
//
// It owns the am::Document and the find state machine (loading -> requesting -> ready |
// unavailable, deleted), and delegates to two parts it owns: DocStorage (load, throttled saves
// with the JS compaction rule, quarantine, chunks of other processes, sync-state persistence) and
// DocPeers (share policy, one Automerge sync state per peer, flow control, read-only peers,
// ephemeral relay). The parts append effects and report back in return values; the actor decides
// what follows (events, saves, answers, state). Events come in as method calls carrying the
// current time; effects accumulate and are drained with take_effects().
//
// Durable acknowledgements (DocActorConfig::durable_acks): changes received from a peer are
// saved before any sync message goes out, so heads we advertise are on disk.
//
// Find rules (the automerge-repo 2.6 invariants, which avoid 2.5's false "unavailable" answers):
//   * storage is read before any peer is asked (we never advertise empty heads while loading);
//     messages arriving meanwhile are queued and replayed;
//   * a peer is asked (a `request`) only if announce(peer, doc) holds and no other peer is
//     already supplying the document;
//   * the document is ready once it has caught up with the heads a supplier first advertised;
//   * it is unavailable only when no peer is supplying and every peer we asked answered, and
//     only then are the peers that asked us told `doc-unavailable` (once each);
//   * a peer that connects after that is asked again, and data arriving later makes it ready.
//
// Thread safety: none; the runtime calls one actor from one strand at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "am/document.h"
#include "am/sync.h"
#include "repo/core/doc_peers.h"
#include "repo/core/doc_storage.h"
#include "repo/core/doc_types.h"
#include "repo/core/io_types.h"
#include "repo/core/wire/messages.h"

namespace am::repo::core {

class DocActor {
 public:
  /// A new or imported document, ready at once; the first save is scheduled immediately.
  static std::unique_ptr<DocActor> create(DocActorConfig config, Document document, Millis now);
  /// A document to find: storage first (if any), then peers.
  static std::unique_ptr<DocActor> find(DocActorConfig config, Millis now);

  DocActor(const DocActor&) = delete;
  DocActor& operator=(const DocActor&) = delete;
  ~DocActor();

  // --- events -------------------------------------------------------------------------------
  void add_peer(const PeerInfo& peer, Millis now);
  void remove_peer(const PeerId& peer, Millis now);
  /// A request, sync, doc-unavailable, ephemeral or remote-heads-changed message for this
  /// document that arrived over the connection of `from` (already checked by the hub).
  /// With `more_coming` (more messages for this document are queued behind this one), the sync
  /// messages it would send are left to the next call without it (or to any other event), so a
  /// backlog of N messages costs one round of answers instead of N.
  void receive(const PeerId& from, const wire::Message& message, Millis now, bool more_coming = false);
  /// receive() from a peer that may not have been added: the hub adds only peers the share
  /// policy announces the document to, and the others meet the actor with their first message
  /// about it (so a join costs nothing in documents the peer never asks about).
  void receive(const PeerInfo& from, const wire::Message& message, Millis now, bool more_coming = false);
  void storage_done(StorageOutcome outcome, Millis now);
  void tick(Millis now);
  /// While true (connections are still handshaking), a missing document is not yet declared
  /// unavailable. The hub calls this once when the document opens, after adding every peer;
  /// before that first call the actor never declares the document unavailable.
  void set_network_pending(bool pending, Millis now);
  /// The application changed document() (in place); syncs and schedules a save.
  void local_change(const std::vector<ChangeHash>& heads_before, Millis now);
  /// Sends an ephemeral payload to every peer this document is synced with.
  void broadcast(Bytes data, const SessionId& session, std::uint64_t count, Millis now);
  /// Saves now if anything is unsaved (shutdown/flush). Completion: pending_io() becomes false.
  void flush(Millis now);
  /// Removes the document from storage and memory; the state becomes kDeleted.
  void remove(Millis now);
  /// This document's chunks as another process sharing the store saved them (the repo's
  /// reload_document): those not known yet are loaded; new heads reach peers as received
  /// changes do, and are not saved again (they are in storage). Nothing happens unless the
  /// document is ready. False, changing nothing, while loading or saving: call again later.
  bool merge_stored(std::vector<StorageEntry> chunks, Millis now);

  DocEffects take_effects();

  // --- state ---------------------------------------------------------------------------------
  const DocumentId& document_id() const { return config_.document_id; }
  DocState state() const { return state_; }
  /// The document; reads are always allowed, the application may change it only when ready.
  Document& document() { return doc_; }
  const Document& document() const { return doc_; }
  std::vector<PeerSyncInfo> peers() const;
  /// Storage tasks are outstanding or a save is due.
  bool pending_io() const;
  /// Nothing would be lost or missed if this actor were dropped now: ready (or unavailable),
  /// everything saved, no answer held back, no storage work, and no peer it syncs with.
  bool quiescent() const;
  /// Sync states kept for disconnected peers, so that a reconnect resumes cheaply; at most
  /// kMaxParkedSyncStates, the oldest forgotten first (that peer then syncs from scratch), each
  /// for kParkedSyncStateLifetimeMs (then forgotten when another peer leaves, or at a tick).
  std::size_t parked_sync_states() const { return peers_.parked_sync_states(); }
  static constexpr std::size_t kMaxParkedSyncStates = DocPeers::kMaxParkedSyncStates;
  static constexpr Millis kParkedSyncStateLifetimeMs = DocPeers::kParkedSyncStateLifetimeMs;

 private:
  explicit DocActor(DocActorConfig config, Document doc, DocState state);
  DocPartContext context() { return DocPartContext{config_, doc_, state_, effects_}; }

  void meet_peer(const PeerInfo& info);
  void start_loading(Millis now);
  void finish_loading(Millis now);
  void process(const PeerId& from, const wire::Message& message, Millis now);
  // Generates and queues sync messages for every active peer (or only for `only`).
  void pump(Millis now, const PeerId* only = nullptr);
  void evaluate_availability(Millis now);
  void maybe_ready(Millis now);
  void set_state(DocState state);
  // Saves what is unsaved now; with nothing unsaved, the answers held for a save go instead.
  void save_or_release(Millis now);
  void save_sync_states();
  // Answers the authors whose changes are among the first `saved_changes` (default: all).
  void release_acks(Millis now, std::size_t saved_changes = SIZE_MAX);
  void update_wake();

  // The parts hold references to these four (DocPartContext): declared before the parts.
  DocActorConfig config_;
  Document doc_;
  DocState state_;
  DocEffects effects_;
  DocStorage storage_;
  DocPeers peers_;
  std::vector<std::pair<PeerId, wire::Message>> queued_;  // arrived while loading
  bool network_pending_ = false;
  bool network_known_ = false;  // the hub has delivered the connected peers (open_document)
  // Sync messages not generated yet because more messages were queued (receive's more_coming):
  // for every active peer, or only for these senders (whose messages changed nothing else).
  bool deferred_pump_all_ = false;
  std::set<PeerId> deferred_pump_peers_;
};

}  // namespace am::repo::core
