// Private to the document actor's files (doc_actor.cc, doc_actor_storage.cc, doc_actor_peers.cc):
// what the actor keeps per peer, and the rules both the storage and the peer halves apply.
#pragma once

#include <optional>
#include <vector>

#include "repo/core/doc_actor.h"

namespace am::repo::core {

struct DocActor::Peer {
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

// Flow control: while a message that carried changes to a peer is unanswered, further changes
// for it wait and go together in one message when it answers. A peer applying changes always
// answers (its heads moved), so under light load this costs nothing; under heavy load it keeps
// the messages per peer at one per round trip instead of one per change, and every message's
// cost (a Bloom filter over the changes since the last sync point) from growing with the
// backlog. Should an answer never come, the changes go after this long anyway.
inline constexpr Millis kChangesInFlightTimeoutMs = 1000;

// Sync states are kept for peers that have storage of their own and are not ephemeral (JS).
inline bool persists_sync_state(const PeerInfo& info) {
  return info.storage_id.has_value() && !info.is_ephemeral;
}

}  // namespace am::repo::core
