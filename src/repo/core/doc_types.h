// The vocabulary of a document actor (doc_actor.h) and its parts (doc_storage.h, doc_peers.h):
// its find state, its configuration, the events and effects it hands to the runtime, and what
// the actor lends its parts. Plain data; no behaviour beyond to_string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "am/document.h"
#include "am/limits.h"
#include "am/repo/ids.h"
#include "am/repo/share_policy.h"
#include "repo/core/io_types.h"
#include "repo/core/wire/messages.h"

namespace am::repo::core {

enum class DocState { kLoading, kRequesting, kReady, kUnavailable, kDeleted };
const char* to_string(DocState state);

/// What a peer is known to have of this document (JS DocSynchronizer's peer status).
enum class PeerDocStatus { kUnknown, kHas, kWants, kUnavailable };

struct DocActorConfig {
  DocumentId document_id;
  PeerId self;
  std::shared_ptr<const SharePolicy> policy;  // never null
  bool has_storage = true;                    // false: an ephemeral repo, nothing is written
  Millis save_debounce_ms = 100;              // JS saveDebounceRate
  /// JS compaction threshold: a snapshot smaller than this is rewritten on every save.
  std::size_t compact_below_bytes = 1024;
  /// Changes received from peers are saved at once, and no sync message (which would tell
  /// peers our new heads, i.e. acknowledge them) leaves until that save completed: after a
  /// crash at any moment, every change a peer saw acknowledged is in storage.
  bool durable_acks = true;
  /// What one chunk from storage or a peer may inflate to (DocumentOptions::max_inflated_bytes)
  /// in documents this actor finds.
  std::size_t max_inflated_bytes = kDefaultMaxInflatedBytes;
  /// Report kPeerHeads events (remote-heads gossip is on; JS reports them always).
  bool report_peer_heads = false;
};

/// A document event for the application (the runtime turns these into handle callbacks).
struct DocEvent {
  enum class Kind {
    kStateChanged,   // state() changed
    kHeadsChanged,   // the document changed (remote changes or a local change); see heads
    kEphemeral,      // an ephemeral message from `peer` (the originator), payload in data
    kPeerStatus,     // what `peer` has of the document changed (sync progress)
    kStorageError,   // a storage task failed; message says which; the actor retries saves
    kWriteRefused,   // a read-only `peer` sent changes; they were dropped (message: first time only)
  };
  Kind kind;
  DocState state = DocState::kLoading;
  std::vector<ChangeHash> heads_before;  // kHeadsChanged
  std::vector<ChangeHash> heads;         // kHeadsChanged
  PeerId peer;                           // kEphemeral, kPeerStatus, kWriteRefused
  Bytes data;                            // kEphemeral
  std::string message;                   // kStorageError, kWriteRefused
};

/// A connected peer with a store told us new heads of the document (reported only with
/// DocActorConfig::report_peer_heads; remote-heads gossip passes them on).
struct PeerHeadsSeen {
  PeerId peer;
  StorageId storage_id;          // the peer's store
  std::vector<ChangeHash> heads;  // its heads, from its last sync message
};

/// Everything the actor wants done since the last take_effects(), in order.
struct DocEffects {
  std::vector<wire::Message> outgoing;  // every message has targetId set; the hub routes by it
  std::vector<StorageTask> storage;
  std::vector<DocEvent> events;
  /// Call tick() at (or after) this time; nullopt: no timer needed.
  std::optional<Millis> wake_at;
  /// For each sync message answered: how long (ms) from receiving it to sending the answer
  /// (includes the durable save before acknowledging).
  std::vector<Millis> reply_latencies_ms;
  std::vector<PeerHeadsSeen> peer_heads;

  bool empty() const { return outgoing.empty() && storage.empty() && events.empty() && peer_heads.empty(); }
};

/// Sync progress with one peer (for DocHandle::peers and wait_synced).
struct PeerSyncInfo {
  PeerId peer;
  PeerDocStatus status = PeerDocStatus::kUnknown;
  bool active = false;                             // we sync this document with the peer
  std::optional<std::vector<ChangeHash>> their_heads;  // as of their last message
  std::vector<ChangeHash> shared_heads;
};

/// What a document actor lends its parts (DocStorage, DocPeers) for their whole life: they read
/// the configuration and the find state, read and change the document, and append effects in
/// the order they arise. The referenced objects are the actor's own members and outlive the
/// parts; only the actor changes the state. Thread safety: that of the actor (none).
struct DocPartContext {
  const DocActorConfig& config;
  Document& doc;
  const DocState& state;
  DocEffects& effects;
};

}  // namespace am::repo::core
