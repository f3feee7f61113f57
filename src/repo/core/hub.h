// Hub: the repo's connection and routing logic, without IO (spec §1.5, §3.3, §3.6, §4.5).
//
// The hub owns the handshake state of every connection, binds PeerIds to connections, routes
// incoming messages to document actors (asking for an actor to be spawned when a peer asks about
// a document that is not open), answers `doc-unavailable` for denied or denylisted documents,
// deduplicates ephemeral messages, and bootstraps this repo's StorageId. Frames go in as bytes
// and come out as bytes; the transport below only moves them.
//
// Handshake (both roles, as JS 2.5 and samod do it):
//   initiator: sends `join` (once the StorageId is known), waits for `peer`; anything else first
//              gets `error` + close; an `error` from the other side closes.
//   acceptor:  waits for `join`; frames before it are ignored (JS); a join without version "1"
//              gets `error` "unsupported protocol version" + close; a join whose PeerId is
//              already connected replaces (closes) the older connection.
//   afterwards: join/peer get `error` + close; `error` and `leave` close; frames with a senderId
//              other than the bound PeerId (except relayed ephemeral messages, whose senderId is
//              the originator) or a targetId other than us are ignored; unknown types are ignored;
//              an undecodable frame closes the connection.
//
// Thread safety: none; the runtime calls the hub from one strand.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "am/repo/ids.h"
#include "am/repo/share_policy.h"
#include "repo/core/io_types.h"
#include "repo/core/remote_heads.h"
#include "repo/core/wire/cbor_codec.h"
#include "repo/core/wire/go_dialect.h"
#include "repo/core/wire/messages.h"

namespace am::repo::core {

/// Identifies one transport connection; assigned by the hub, never reused.
using ConnectionId = std::uint64_t;

enum class ConnectionRole { kInitiator, kAcceptor };

/// Why a connection ended (automerge-repo-rs's ConnFinishedReason, extended).
enum class DisconnectReason {
  kTheyClosed,        // the transport ended from the other side, or it sent `leave`
  kIoError,           // the transport failed
  kProtocolError,     // the other side broke the protocol (we sent `error` if we could)
  kTheySentError,     // the other side sent `error`
  kReplaced,          // a newer connection with the same PeerId replaced this one
  kHandshakeTimeout,  // no join/peer within HubConfig::handshake_timeout_ms
  kLocalClose,        // we closed it (close_connection, or the repo stopped)
  kTimeout,           // the transport timed out: a keepalive pong missed, or its own handshake
};
const char* to_string(DisconnectReason reason);

struct ConnectionEvent {
  enum class Kind { kEstablished, kClosed };
  Kind kind = Kind::kEstablished;
  ConnectionId connection = 0;
  PeerInfo peer;  // kEstablished; for kClosed the peer if the handshake had completed
  DisconnectReason reason = DisconnectReason::kLocalClose;  // kClosed
  std::string detail;                                       // kClosed
};

/// Routing drops reported per connection (HubEffects::dropped): a line for each of the first
/// kDropLinesPerConnection, then one for every kDropLineEvery.
inline constexpr std::uint64_t kDropLinesPerConnection = 10;
inline constexpr std::uint64_t kDropLineEvery = 1000;

/// A delivery to the actor of `document` (the driver spawns the actor for kSpawn).
struct ToActor {
  enum class Kind {
    kSpawn,           // open an actor that finds the document (storage, then peers)
    kPeerAdded,       // `peer` is connected and the share policy announces the document to it
    kPeerRemoved,     // `peer.peer_id` disconnected
    kMessage,         // `message` arrived over the connection of `from` (= peer.peer_id)
    kNetworkPending,  // `pending` (connections still handshaking) changed
  };
  Kind kind = Kind::kMessage;
  DocumentId document;
  PeerInfo peer;
  PeerId from;
  std::optional<wire::Message> message;
  bool pending = false;
};

struct HubEffects {
  /// Frames to write, in order, per connection.
  std::vector<std::pair<ConnectionId, Bytes>> frames;
  /// Connections to close once their frames above are written. The hub has already forgotten
  /// them; the driver need not report their end.
  std::vector<ConnectionId> closes;
  std::vector<ConnectionEvent> connection_events;
  std::vector<ToActor> to_actors;
  std::vector<StorageTask> storage;
  std::optional<Millis> wake_at;
  /// Messages dropped for their routing, a line saying which and why (each of a connection's
  /// first kDropLinesPerConnection, then one in kDropLineEvery, with the count): a senderId that is
  /// not the connection's peer, or a targetId that is not this repo (an older peer that derives
  /// ids of its own, a misrouted relay). Diagnostics only; the runtime logs them at debug level.
  std::vector<std::string> dropped;
  /// A message in this batch named its document by a legacy UUID (accepted, as the reference
  /// does; the runtime logs a deprecation warning once).
  bool legacy_uuid_document_id = false;
  /// Remote-heads gossip (HubConfig::remote_heads_gossip): heads of StorageIds this repo
  /// subscribes to, for its handles of those documents.
  std::vector<RemoteHeadsUpdate> remote_heads;
};

struct HubConfig {
  PeerId peer_id;
  /// false: an ephemeral repo (no StorageId, isEphemeral true in the handshake).
  bool has_storage = true;
  std::shared_ptr<const SharePolicy> policy;  // never null
  /// Documents never loaded or served; every request for them is answered doc-unavailable.
  std::set<DocumentId> denylist;
  Millis handshake_timeout_ms = 10'000;
  wire::DecodeLimits limits;
  /// Session id for ephemeral messages. The hub draws no randomness (the runtime passes a random
  /// one); when empty it is derived from peer_id, so simulations stay deterministic.
  SessionId session_id;
  /// The StorageId written when the store has none yet. As session_id: the runtime passes a
  /// random UUID; when empty it is derived from peer_id.
  StorageId new_storage_id;
  /// Documents one connection may open per second (requests or sync messages for documents not
  /// in memory, each costing a storage read and an actor), with bursts of as many. Above it the
  /// connection's further such messages wait, in order, until the budget refills. 0 = no limit.
  double max_document_opens_per_second = 0;
  /// A connection with more messages than this waiting for that budget is dropped with an
  /// `error` ("too many document requests").
  std::size_t max_waiting_messages = 10'000;
  /// Remote-heads gossip (JS enableRemoteHeadsGossiping; remote_heads.h). Off: the gossip
  /// messages are dropped unread, as before, and nothing is sent.
  bool remote_heads_gossip = false;
  /// Peers of the Go port (wire/go_dialect.h) are recognised by their join and spoken to in
  /// their dialect. false: their joins are taken as current ones (their frames then fail).
  bool accept_go_peers = true;
};

class Hub {
 public:
  explicit Hub(HubConfig config);

  /// Starts the StorageId bootstrap (load, or create and save, `["storage-adapter-id"]`).
  void start(Millis now);
  /// The StorageId is known (or there is no storage): handshakes can proceed.
  bool ready() const { return ready_; }
  const std::optional<StorageId>& storage_id() const { return storage_id_; }
  const PeerId& peer_id() const { return config_.peer_id; }

  /// A transport connection is open; an initiator sends `join` as soon as the hub is ready.
  /// `principal`: whom the transport authenticated the peer as (empty: nobody); the share
  /// policy sees it with every decision about this connection's peer.
  ConnectionId add_connection(ConnectionRole role, Millis now, std::string principal = {});
  void receive_frame(ConnectionId connection, ByteView frame, Millis now);
  /// The transport ended (not needed for connections the hub asked to close).
  void connection_lost(ConnectionId connection, DisconnectReason reason, std::string detail, Millis now);
  /// Closes a connection on the application's request.
  void close_connection(ConnectionId connection, Millis now);
  void storage_done(StorageOutcome outcome, Millis now);
  void tick(Millis now);
  /// Dialers that have not connected yet keep documents from being declared unavailable.
  void set_pending_dials(std::size_t count, Millis now);

  /// Registers an open document (created, imported or being found by the application) and
  /// delivers every connected peer and the network state to its actor.
  void open_document(const DocumentId& document, Millis now);
  void close_document(const DocumentId& document);
  /// The share policy's answers may have changed (JS shareConfigChanged): every open document
  /// is re-evaluated for every established peer. kPeerAdded goes to each document the policy
  /// now announces to a peer and to each whose actor already knows the peer (which re-reads
  /// the policy for it). O(connections x open documents), on the application's request only.
  void share_policy_changed(Millis now);
  bool is_open(const DocumentId& document) const { return open_docs_.count(document) != 0; }

  /// Sends a message from an actor to its targetId's connection (dropped if not connected).
  /// `encoded`, when given, is the message already encoded for current peers (wire::encode):
  /// the runtime encodes on the document's strand, so that the hub, which every message of
  /// every document passes, does not copy a big document into CBOR while the others wait.
  void send(const wire::Message& message, std::optional<Bytes> encoded = std::nullopt);
  const SessionId& session_id() const { return config_.session_id; }
  /// The repo-global ephemeral counter (JS stamps one counter across all documents).
  std::uint64_t next_ephemeral_count() { return ++ephemeral_count_; }

  std::vector<PeerInfo> peers() const;
  std::size_t connection_count() const { return connections_.size(); }
  /// Ephemeral sessions (sender, session) whose last count the hub remembers to drop
  /// duplicates. A session is forgotten when its sender's connection ends, or once it has
  /// sent nothing for kEphemeralSessionMemoryMs (senders relayed through another peer).
  std::size_t remembered_ephemeral_sessions() const { return ephemeral_seen_.size(); }
  static constexpr Millis kEphemeralSessionMemoryMs = 10 * 60 * 1000;

  /// Remote-heads gossip (remote_heads.h); these do nothing unless HubConfig::remote_heads_gossip.
  void subscribe_to_remotes(const std::vector<StorageId>& storage_ids);
  void unsubscribe_from_remotes(const std::vector<StorageId>& storage_ids);
  /// A document's actor saw new heads from a connected peer whose store is `storage_id`;
  /// `wall_ms`: the wall clock (ms since the epoch), the timestamp subscribers are sent.
  void peer_heads_changed(const DocumentId& document, const StorageId& storage_id,
                          const std::vector<ChangeHash>& heads, std::uint64_t wall_ms);
  const RemoteHeadsGossip* remote_heads_gossip() const { return gossip_ ? &*gossip_ : nullptr; }

  HubEffects take_effects();

 private:
  enum class ConnState { kAwaitingReady, kWaitingForPeer, kWaitingForJoin, kEstablished };
  struct Connection {
    ConnectionRole role;
    ConnState state;
    Millis opened_at;
    PeerInfo peer;
    std::vector<Bytes> early_frames;  // arrived before we were ready; replayed then
    std::string principal;
    // The document-open budget (HubConfig::max_document_opens_per_second): tokens as of
    // tokens_at, and the messages waiting for it (with their documents, to keep each
    // document's messages in order).
    double open_tokens = 0;
    Millis tokens_at = 0;
    // A list, not a deque: libstdc++'s deque allocates ~600 bytes even when empty, and almost
    // every connection's stays empty.
    std::list<wire::Message> waiting;
    std::multiset<DocumentId> waiting_docs;
    // Documents whose actors know this peer (announced to, or sent a message about): the
    // ones told when it leaves. Actors learn of a peer only then, so that a join costs
    // O(documents announced to it), not a Peer in every open document.
    std::set<DocumentId> docs;
    std::uint64_t routing_drops = 0;  // messages dropped for their senderId or targetId
    // What the peer speaks (decided by its join) and, for a Go peer, the count given to its
    // next ephemeral message (it sends none).
    wire::Dialect dialect = wire::Dialect::kCurrent;
    std::uint64_t go_ephemeral_count = 0;
  };

  wire::PeerMetadata our_metadata() const;
  void send_frame(ConnectionId id, const wire::Message& message, std::optional<Bytes> encoded = std::nullopt);
  Result<wire::Message> decode_frame(ConnectionId id, Connection& conn, ByteView frame);
  void translate_from_go(ConnectionId id, Connection& conn, wire::Message& message);
  bool count_drop(Connection& conn);
  void send_join(ConnectionId id);
  void establish(ConnectionId id, PeerInfo peer);
  void drop(ConnectionId id, DisconnectReason reason, std::string detail, bool ask_close);
  void fail_protocol(ConnectionId id, const std::string& message);
  void route(ConnectionId id, Connection& conn, wire::Message message, Millis now, bool gated = true);
  bool take_open_token(Connection& conn, Millis now);
  void release_waiting(Millis now);
  void update_network_pending();
  bool network_pending() const;
  std::optional<ConnectionId> connection_of(const PeerId& peer) const;
  void set_waiting(ConnectionId id, const Connection& conn);
  void start_handshake_clock(ConnectionId id, const Connection& conn);
  void stop_handshake_clock(ConnectionId id, const Connection& conn);
  // conn.docs.insert, telling the remote-heads gossip that the peer has the document open.
  void note_peer_document(Connection& conn, const DocumentId& doc);

  HubConfig config_;
  PeerId go_alias_;  // our PeerId as Go peers name us (wire::go_peer_alias)
  bool ready_ = false;
  std::optional<StorageId> storage_id_;
  std::optional<TaskId> storage_id_load_;
  TaskId next_task_ = 1;
  std::map<ConnectionId, Connection> connections_;
  ConnectionId next_connection_ = 1;
  // Indexes kept beside connections_ so that no event walks every connection (with thousands
  // of connections, per-event walks made accepting them cost the square of their number):
  // established connections by PeerId; handshake deadlines of connections in their handshake;
  // connections with messages waiting for the open budget; our own dials still handshaking.
  std::map<PeerId, ConnectionId> established_;
  std::set<std::pair<Millis, ConnectionId>> handshake_deadlines_;
  std::set<ConnectionId> waiting_connections_;
  std::size_t initiators_handshaking_ = 0;
  std::set<DocumentId> open_docs_;
  struct EphemeralSession {
    std::uint64_t last_count = 0;
    Millis last_seen = 0;
  };
  void forget_quiet_ephemeral_sessions(Millis now);
  std::map<std::pair<PeerId, SessionId>, EphemeralSession> ephemeral_seen_;
  Millis ephemeral_swept_at_ = 0;
  std::uint64_t ephemeral_count_ = 0;
  std::size_t pending_dials_ = 0;
  bool last_pending_ = false;
  std::optional<RemoteHeadsGossip> gossip_;  // set when HubConfig::remote_heads_gossip
  HubEffects effects_;
};

}  // namespace am::repo::core
