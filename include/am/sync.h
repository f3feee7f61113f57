// The Automerge sync protocol (format spec §4): two peers exchange messages over any reliable
// in-order channel until both have every change. Sans-IO: these calls take and return bytes.
//
// Usage, per document and peer: keep a SyncState; call generate_sync_message() and send what it
// returns (nothing means "nothing to say now"); pass every message received to
// receive_sync_message(), then generate again. Persist SyncState::encode() to resume later.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <vector>

#include "am/bytes.h"
#include "am/document.h"
#include "am/result.h"
#include "am/types.h"

namespace am {

/// What a peer says it has: changes since `last_sync`, summarised by a Bloom filter (encoded).
struct SyncHave {
  std::vector<ChangeHash> last_sync;  ///< the heads the filter starts from
  Bytes bloom;  ///< empty = an empty filter
  friend bool operator==(const SyncHave&, const SyncHave&) = default;
};

/// A decoded sync message. Value type.
struct SyncMessage {
  static constexpr std::uint8_t kV1 = 0x42;  ///< message type byte: changes as change chunks
  static constexpr std::uint8_t kV2 = 0x43;  ///< message type byte: changes may be a document
  static constexpr std::uint8_t kFlagSyncReset = 0x01;          ///< "forget what I sent"
  static constexpr std::uint8_t kFlagReadOnly = 0x02;           ///< "I will not apply yours"
  static constexpr std::uint8_t kFlagSupportsSyncReset = 0x04;  ///< "I understand kFlagSyncReset"

  std::uint8_t version = kV1;     ///< kV1 or kV2
  std::vector<ChangeHash> heads;  ///< the sender's heads
  std::vector<ChangeHash> need;   ///< changes the sender knows it lacks
  std::vector<SyncHave> have;     ///< what the sender has, as Bloom filters
  std::vector<Bytes> changes;  ///< V1: change chunks; V2: at most one entry of chunks or a document
  std::optional<Bytes> trailer;  ///< capability/flag bytes; present on every current peer's messages

  /// Flag bits carried by the trailer (bytes with the high bit set).
  std::uint8_t flags() const;

  /// Parses a message; malformed input is kProtocol with the reason. Hash lists are checked for
  /// size (32 bytes each) and Bloom filters for consistency.
  [[nodiscard]] static Result<SyncMessage> decode(ByteView bytes);
  /// The wire form (what decode() reads).
  Bytes encode() const;
};

/// Per-peer protocol state (format spec §4.3). Value type; not thread-safe.
struct SyncState {
  std::vector<ChangeHash> shared_heads;     ///< changes both peers are known to have
  std::vector<ChangeHash> last_sent_heads;  ///< our heads when we last sent
  std::optional<std::vector<ChangeHash>> their_heads;  ///< the peer's heads, from its last message
  std::optional<std::vector<ChangeHash>> their_need;   ///< what the peer said it needs
  std::optional<std::vector<SyncHave>> their_have;     ///< what the peer said it has
  std::set<ChangeHash> sent_hashes;  ///< changes sent this session (one by one)
  /// Our heads when we last sent the whole document (a fresh peer's first answer): every change
  /// we had then counts as sent, without an entry per change in sent_hashes, so a peer that
  /// fetched a big document costs O(heads) here, not O(history). Empty when we have not.
  std::vector<ChangeHash> sent_whole_at;
  /// How many changes we have sent this session, whole documents included (for flow control:
  /// it grows exactly when a message carried changes).
  std::uint64_t changes_sent = 0;
  bool in_flight = false;            ///< a message of ours awaits an answer
  bool have_responded = false;       ///< we have answered the peer at least once
  bool peer_supports_v2 = false;     ///< the peer has sent a trailer
  bool peer_supports_reset = false;  ///< the peer understands the sync-reset flag
  bool read_only = false;            ///< we neither request nor apply the peer's changes
  bool peer_read_only = false;       ///< the peer will not apply ours
  bool needs_reset = false;          ///< ask the peer to forget what we sent (we lost data)

  /// Persisted form: 0x43 || shared heads. Only shared heads survive a reconnect.
  Bytes encode() const;
  /// Reads what encode() wrote; kProtocol/kCorruption for anything else.
  [[nodiscard]] static Result<SyncState> decode(ByteView bytes);
};

/// The next message for the peer, or nullopt when there is nothing to send yet (in flight, or
/// in sync). Commits a pending transaction of `doc` first.
std::optional<Bytes> generate_sync_message(Document& doc, SyncState& state);

/// Whether the peer of `state` is known to have every change of `doc` (JS hasOurChanges): each of
/// doc's heads is among the state's shared heads.
bool has_our_changes(const Document& doc, const SyncState& state);

/// Applies a message from the peer. On error (kProtocol for a malformed message, kCorruption
/// for changes that do not decode or apply) neither the document nor the state changes.
[[nodiscard]] Status receive_sync_message(Document& doc, SyncState& state, ByteView message);

}  // namespace am
