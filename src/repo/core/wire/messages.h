// The automerge-repo wire messages (protocol version "1"), one struct per `type`, with exactly the
// fields the JS reference (2.5.x) sends; see docs/wire-protocol.md and cbor_codec.h.
//
// Field names in comments are the CBOR map keys. Optional fields are std::optional: absent,
// `null` and `undefined` on the wire all decode to nullopt, and nullopt is encoded by leaving the
// key out. Value types; thread safety as for std::string.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "am/bytes.h"
#include "am/repo/ids.h"

namespace am::repo::wire {

/// The only protocol version there is.
inline constexpr std::string_view kProtocolVersion = "1";

/// `peerMetadata`: what a peer says about itself in join/peer.
struct PeerMetadata {
  std::optional<StorageId> storage_id;  // storageId; absent for a storage-less (ephemeral) repo
  std::optional<bool> is_ephemeral;     // isEphemeral

  friend bool operator==(const PeerMetadata&, const PeerMetadata&) = default;
};

/// "join": the initiator's first frame.
struct JoinMessage {
  PeerId sender_id;                                                     // senderId
  std::optional<PeerMetadata> peer_metadata;                            // peerMetadata
  std::optional<std::vector<std::string>> supported_protocol_versions;  // absent = ["1"] (JS)

  friend bool operator==(const JoinMessage&, const JoinMessage&) = default;
};

/// "peer": the receiver's answer to join.
struct PeerMessage {
  PeerId sender_id;                                    // senderId
  PeerId target_id;                                    // targetId (the initiator)
  std::optional<PeerMetadata> peer_metadata;           // peerMetadata
  std::optional<std::string> selected_protocol_version;  // selectedProtocolVersion, "1"

  friend bool operator==(const PeerMessage&, const PeerMessage&) = default;
};

/// "error": sent right before the sender closes the connection.
struct ErrorMessage {
  std::string message;              // message, e.g. "unsupported protocol version"
  std::optional<PeerId> sender_id;  // senderId (JS adds it)
  std::optional<PeerId> target_id;  // targetId (JS adds it)

  friend bool operator==(const ErrorMessage&, const ErrorMessage&) = default;
};

/// "leave": legacy, no longer sent by the JS WebSocket adapters.
struct LeaveMessage {
  PeerId sender_id;  // senderId

  friend bool operator==(const LeaveMessage&, const LeaveMessage&) = default;
};

/// "request": a sync message from a peer that does not have the document.
struct RequestMessage {
  PeerId sender_id;         // senderId
  PeerId target_id;         // targetId
  DocumentId document_id;   // documentId (bs58check text)
  Bytes data;               // data: one Automerge sync message
  bool legacy_uuid = false;  // decoded only: documentId arrived as legacy UUID text

  friend bool operator==(const RequestMessage&, const RequestMessage&) = default;
};

/// "sync": an ordinary Automerge sync message.
struct SyncMessage {
  PeerId sender_id;        // senderId
  PeerId target_id;        // targetId
  DocumentId document_id;  // documentId
  Bytes data;              // data: one Automerge sync message
  bool legacy_uuid = false;  // decoded only: documentId arrived as legacy UUID text

  friend bool operator==(const SyncMessage&, const SyncMessage&) = default;
};

/// "doc-unavailable": neither the sender nor the peers it asked have the document.
struct DocUnavailableMessage {
  PeerId sender_id;        // senderId
  PeerId target_id;        // targetId
  DocumentId document_id;  // documentId
  bool legacy_uuid = false;  // decoded only: documentId arrived as legacy UUID text

  friend bool operator==(const DocUnavailableMessage&, const DocUnavailableMessage&) = default;
};

/// "ephemeral": a fire-and-forget broadcast for a document. `sender_id` is the originator and is
/// kept when the message is relayed.
struct EphemeralMessage {
  PeerId sender_id;         // senderId
  PeerId target_id;         // targetId
  DocumentId document_id;   // documentId
  std::uint64_t count = 0;  // count: per-session sequence number (uint or float on the wire)
  SessionId session_id;     // sessionId
  Bytes data;               // data: application payload (JS: CBOR of the broadcast value)
  bool legacy_uuid = false;  // decoded only: documentId arrived as legacy UUID text

  friend bool operator==(const EphemeralMessage&, const EphemeralMessage&) = default;
};

/// "remote-subscription-change": add/remove StorageIds whose heads the sender wants to hear of.
struct RemoteSubscriptionChangeMessage {
  PeerId sender_id;                              // senderId
  PeerId target_id;                              // targetId
  std::optional<std::vector<StorageId>> add;     // add
  std::optional<std::vector<StorageId>> remove;  // remove

  friend bool operator==(const RemoteSubscriptionChangeMessage&,
                         const RemoteSubscriptionChangeMessage&) = default;
};

/// One entry of `newHeads`.
struct RemoteHeads {
  std::vector<std::string> heads;  // heads: bs58check change hashes (see parse_head), as sent
  std::uint64_t timestamp = 0;     // timestamp: ms since the epoch (float64 on the JS wire)

  friend bool operator==(const RemoteHeads&, const RemoteHeads&) = default;
};

/// "remote-heads-changed": storage X has heads H for document D as of time T.
struct RemoteHeadsChangedMessage {
  PeerId sender_id;                             // senderId
  PeerId target_id;                             // targetId
  DocumentId document_id;                       // documentId
  std::map<StorageId, RemoteHeads> new_heads;   // newHeads: StorageId -> {heads, timestamp}

  friend bool operator==(const RemoteHeadsChangedMessage&,
                         const RemoteHeadsChangedMessage&) = default;
};

/// A well-formed map whose `type` is none of the above. JS logs and drops such messages and keeps
/// the connection; the routing fields are kept (when they are text) for that decision.
struct UnknownMessage {
  std::string type;                 // type
  std::optional<PeerId> sender_id;  // senderId
  std::optional<PeerId> target_id;  // targetId

  friend bool operator==(const UnknownMessage&, const UnknownMessage&) = default;
};

using Message = std::variant<JoinMessage, PeerMessage, ErrorMessage, LeaveMessage, RequestMessage,
                             SyncMessage, DocUnavailableMessage, EphemeralMessage,
                             RemoteSubscriptionChangeMessage, RemoteHeadsChangedMessage,
                             UnknownMessage>;

/// The `type` string of a message ("join", "sync", ..., or an UnknownMessage's own type).
std::string_view message_type(const Message& message);

}  // namespace am::repo::wire
