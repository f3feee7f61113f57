#include "repo/core/hub.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace am::repo::core {

const char* to_string(DisconnectReason reason) {
  switch (reason) {
    case DisconnectReason::kTheyClosed: return "they closed";
    case DisconnectReason::kIoError: return "i/o error";
    case DisconnectReason::kProtocolError: return "protocol error";
    case DisconnectReason::kTheySentError: return "they sent an error";
    case DisconnectReason::kReplaced: return "replaced by a newer connection";
    case DisconnectReason::kHandshakeTimeout: return "handshake timeout";
    case DisconnectReason::kLocalClose: return "closed locally";
    case DisconnectReason::kTimeout: return "timeout";
  }
  return "?";
}

namespace {
const StorageKey kStorageIdKey{"storage-adapter-id"};

std::optional<PeerId> routing_sender(const wire::Message& m) {
  return std::visit([](const auto& msg) -> std::optional<PeerId> { return msg.sender_id; }, m);
}

std::optional<PeerId> routing_target(const wire::Message& m) {
  return std::visit(
      [](const auto& msg) -> std::optional<PeerId> {
        using T = std::decay_t<decltype(msg)>;
        if constexpr (std::is_same_v<T, wire::JoinMessage> || std::is_same_v<T, wire::LeaveMessage>) {
          return std::nullopt;
        } else {
          return msg.target_id;
        }
      },
      m);
}

std::optional<DocumentId> document_of(const wire::Message& m) {
  return std::visit(
      [](const auto& msg) -> std::optional<DocumentId> {
        using T = std::decay_t<decltype(msg)>;
        if constexpr (std::is_same_v<T, wire::RequestMessage> || std::is_same_v<T, wire::SyncMessage> ||
                      std::is_same_v<T, wire::DocUnavailableMessage> ||
                      std::is_same_v<T, wire::EphemeralMessage> ||
                      std::is_same_v<T, wire::RemoteHeadsChangedMessage>) {
          return msg.document_id;
        } else {
          return std::nullopt;
        }
      },
      m);
}
}  // namespace

Hub::Hub(HubConfig config) : config_(std::move(config)), go_alias_(wire::go_peer_alias(config_.peer_id)) {
  if (config_.session_id.empty()) config_.session_id = SessionId("session-" + config_.peer_id.str());
  if (config_.new_storage_id.empty()) config_.new_storage_id = StorageId("storage-" + config_.peer_id.str());
  if (!config_.policy) config_.policy = share_everything();
  if (config_.remote_heads_gossip) gossip_.emplace(config_.peer_id);
}

void Hub::start(Millis now) {
  (void)now;
  if (!config_.has_storage) {
    ready_ = true;
    return;
  }
  const TaskId t = next_task_++;
  storage_id_load_ = t;
  effects_.storage.push_back(StorageTask{t, StorageTask::Kind::kLoad, kStorageIdKey, {}});
}

void Hub::storage_done(StorageOutcome outcome, Millis now) {
  if (!storage_id_load_ || outcome.id != *storage_id_load_) return;  // the save: nothing to do
  storage_id_load_.reset();
  if (outcome.status && outcome.value && !outcome.value->empty()) {
    storage_id_ = StorageId(std::string(outcome.value->begin(), outcome.value->end()));
  } else {
    // Missing (or unreadable: we then start a new identity rather than refuse to run).
    storage_id_ = config_.new_storage_id;
    const std::string& text = storage_id_->str();
    effects_.storage.push_back(
        StorageTask{next_task_++, StorageTask::Kind::kSave, kStorageIdKey, Bytes(text.begin(), text.end())});
  }
  ready_ = true;
  std::vector<std::pair<ConnectionId, std::vector<Bytes>>> replay;
  for (auto& [id, conn] : connections_) {
    if (conn.state != ConnState::kAwaitingReady) continue;
    if (conn.role == ConnectionRole::kInitiator) {
      send_join(id);
    } else {
      conn.state = ConnState::kWaitingForJoin;
    }
    start_handshake_clock(id, conn);
    replay.emplace_back(id, std::move(conn.early_frames));
  }
  for (auto& [id, frames] : replay) {
    for (const Bytes& frame : frames) receive_frame(id, frame, now);
  }
}

wire::PeerMetadata Hub::our_metadata() const {
  return wire::PeerMetadata{storage_id_, !config_.has_storage};
}

ConnectionId Hub::add_connection(ConnectionRole role, Millis now, std::string principal) {
  const ConnectionId id = next_connection_++;
  Connection conn{role, ConnState::kAwaitingReady, now, {}, {}, std::move(principal), 0, 0, {}, {}, {}, 0};
  conn.open_tokens = config_.max_document_opens_per_second;  // a full bucket: one second's worth
  conn.tokens_at = now;
  connections_[id] = std::move(conn);
  if (role == ConnectionRole::kInitiator) ++initiators_handshaking_;
  if (ready_) {
    if (role == ConnectionRole::kInitiator) {
      send_join(id);
    } else {
      connections_[id].state = ConnState::kWaitingForJoin;
    }
    start_handshake_clock(id, connections_[id]);
  }
  update_network_pending();
  return id;
}

// Handshake deadlines exist for connections past kAwaitingReady and not yet established.
void Hub::start_handshake_clock(ConnectionId id, const Connection& conn) {
  handshake_deadlines_.emplace(conn.opened_at + config_.handshake_timeout_ms, id);
}

void Hub::stop_handshake_clock(ConnectionId id, const Connection& conn) {
  handshake_deadlines_.erase({conn.opened_at + config_.handshake_timeout_ms, id});
}

void Hub::set_waiting(ConnectionId id, const Connection& conn) {
  if (conn.waiting.empty()) {
    waiting_connections_.erase(id);
  } else {
    waiting_connections_.insert(id);
  }
}

void Hub::send_join(ConnectionId id) {
  connections_[id].state = ConnState::kWaitingForPeer;
  send_frame(id, wire::JoinMessage{config_.peer_id, our_metadata(), std::vector<std::string>{"1"}});
}

void Hub::send_frame(ConnectionId id, const wire::Message& message, std::optional<Bytes> encoded) {
  auto it = connections_.find(id);
  if (it == connections_.end() || it->second.dialect == wire::Dialect::kCurrent) {
    effects_.frames.emplace_back(id, encoded ? std::move(*encoded) : wire::encode(message));
    return;
  }
  // A Go peer parses every id as a UUID: we, and the originators of relayed ephemeral
  // messages, go by our aliases there.
  wire::Message translated = message;
  std::visit([this](auto& m) {
    if constexpr (std::is_same_v<std::decay_t<decltype(m.sender_id)>, PeerId>) {
      m.sender_id = m.sender_id == config_.peer_id ? go_alias_ : wire::go_peer_alias(m.sender_id);
    }
  }, translated);
  std::optional<Bytes> frame = wire::encode_go(translated, it->second.dialect);
  if (frame) {
    effects_.frames.emplace_back(id, std::move(*frame));
    return;
  }
  const bool routed = !std::holds_alternative<wire::ErrorMessage>(message);  // an error precedes a close
  if (routed && count_drop(it->second)) {
    effects_.dropped.push_back("not sent to " + it->second.peer.peer_id.str() + " (connection " + std::to_string(id) +
                               ", " + wire::to_string(it->second.dialect) + " dialect): a " +
                               std::string(wire::message_type(message)) + " message, which it cannot read (" +
                               std::to_string(it->second.routing_drops) + " dropped on this connection)");
  }
}

bool Hub::count_drop(Connection& conn) {
  const std::uint64_t n = ++conn.routing_drops;
  return n <= kDropLinesPerConnection || n % kDropLineEvery == 0;
}

// Decodes a frame in the connection's dialect; a join (or, dialling, a peer answer) decides it.
Result<wire::Message> Hub::decode_frame(ConnectionId id, Connection& conn, ByteView frame) {
  const bool deciding = config_.accept_go_peers && conn.dialect == wire::Dialect::kCurrent &&
                        (conn.state == ConnState::kWaitingForJoin || conn.state == ConnState::kWaitingForPeer);
  if (deciding && wire::looks_like_json(frame)) conn.dialect = wire::Dialect::kGoJson;
  if (conn.dialect == wire::Dialect::kCurrent) {
    Result<wire::Message> decoded = wire::decode(frame, config_.limits);
    if (deciding && decoded && conn.state == ConnState::kWaitingForJoin) {
      if (const auto* join = std::get_if<wire::JoinMessage>(&*decoded); join && wire::is_go_join(*join)) {
        conn.dialect = wire::Dialect::kGoCbor;
      }
    }
    if (deciding && !decoded && conn.state == ConnState::kWaitingForPeer) {
      // A Go server answers our join with {type:"peer", senderId} alone.
      Result<wire::Message> go = wire::decode_go(frame, wire::Dialect::kGoCbor, config_.limits);
      if (go && std::holds_alternative<wire::PeerMessage>(*go)) {
        conn.dialect = wire::Dialect::kGoCbor;
        return go;
      }
    }
    return decoded;
  }
  Result<wire::Message> decoded = wire::decode_go(frame, conn.dialect, config_.limits);
  if (decoded) translate_from_go(id, conn, *decoded);
  return decoded;
}

// A Go peer names us by our alias and numbers no ephemeral messages: make its messages look
// like a current peer's, so routing and deduplication treat both alike.
void Hub::translate_from_go(ConnectionId id, Connection& conn, wire::Message& message) {
  std::visit([&](auto& m) {
    using T = std::decay_t<decltype(m)>;
    if constexpr (requires { m.target_id == go_alias_; }) {
      if (m.target_id == go_alias_) m.target_id = config_.peer_id;
    }
    if constexpr (std::is_same_v<T, wire::EphemeralMessage>) {
      m.count = ++conn.go_ephemeral_count;
      m.session_id = SessionId("go-connection-" + std::to_string(id));
    }
  }, message);
}

void Hub::fail_protocol(ConnectionId id, const std::string& message) {
  auto it = connections_.find(id);
  std::optional<PeerId> target;
  if (it != connections_.end() && it->second.state == ConnState::kEstablished) target = it->second.peer.peer_id;
  send_frame(id, wire::ErrorMessage{message, config_.peer_id, target});
  drop(id, DisconnectReason::kProtocolError, message, true);
}

void Hub::drop(ConnectionId id, DisconnectReason reason, std::string detail, bool ask_close) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  Connection conn = std::move(it->second);
  connections_.erase(it);
  waiting_connections_.erase(id);
  if (conn.state == ConnState::kEstablished) {
    if (auto e = established_.find(conn.peer.peer_id); e != established_.end() && e->second == id) established_.erase(e);
  } else {
    stop_handshake_clock(id, conn);
    if (conn.role == ConnectionRole::kInitiator) --initiators_handshaking_;
  }
  if (ask_close) effects_.closes.push_back(id);
  ConnectionEvent e{ConnectionEvent::Kind::kClosed, id, {}, reason, std::move(detail)};
  if (conn.state == ConnState::kEstablished) {
    e.peer = conn.peer;
    // Its ephemeral sessions end with it (a JS client starts a new session, and usually a new
    // PeerId, every time it connects): without this the table grew by one entry per client
    // visit for the life of the server.
    if (!connection_of(conn.peer.peer_id)) {
      auto first = ephemeral_seen_.lower_bound({conn.peer.peer_id, SessionId()});
      auto last = first;
      while (last != ephemeral_seen_.end() && last->first.first == conn.peer.peer_id) ++last;
      ephemeral_seen_.erase(first, last);
      if (gossip_) gossip_->peer_disconnected(conn.peer.peer_id);
    }
    for (const DocumentId& doc : conn.docs) {
      if (!is_open(doc)) continue;
      ToActor t;
      t.kind = ToActor::Kind::kPeerRemoved;
      t.document = doc;
      t.peer = conn.peer;
      effects_.to_actors.push_back(std::move(t));
    }
  }
  effects_.connection_events.push_back(std::move(e));
  update_network_pending();
}

void Hub::forget_quiet_ephemeral_sessions(Millis now) {
  // At most once per memory period, so that the sweep costs O(1) per message on average.
  if (now - ephemeral_swept_at_ < kEphemeralSessionMemoryMs) return;
  ephemeral_swept_at_ = now;
  std::erase_if(ephemeral_seen_, [now](const auto& entry) {
    return now - entry.second.last_seen >= kEphemeralSessionMemoryMs;
  });
}

void Hub::connection_lost(ConnectionId id, DisconnectReason reason, std::string detail, Millis now) {
  (void)now;
  drop(id, reason, std::move(detail), false);
}

void Hub::close_connection(ConnectionId id, Millis now) {
  (void)now;
  drop(id, DisconnectReason::kLocalClose, {}, true);
}

std::optional<ConnectionId> Hub::connection_of(const PeerId& peer) const {
  auto it = established_.find(peer);
  if (it == established_.end()) return std::nullopt;
  return it->second;
}

void Hub::establish(ConnectionId id, PeerInfo peer) {
  if (auto old = connection_of(peer.peer_id); old && *old != id) {
    // JS PR #206: the older connection goes first, so the actors reset that peer's sync state.
    drop(*old, DisconnectReason::kReplaced, "a newer connection with the same peer id", true);
  }
  Connection& conn = connections_.at(id);
  stop_handshake_clock(id, conn);
  if (conn.role == ConnectionRole::kInitiator) --initiators_handshaking_;
  conn.state = ConnState::kEstablished;
  conn.peer = peer;
  established_[peer.peer_id] = id;
  effects_.connection_events.push_back(ConnectionEvent{ConnectionEvent::Kind::kEstablished, id, peer, {}, {}});
  // JS asks its share policy with no document whether a peer is "generous" (gets our
  // subscriptions and every heads we know); the nil DocumentId stands for none.
  if (gossip_) gossip_->peer_connected(peer.peer_id, config_.policy->announce(peer.peer_id, DocumentId()));
  // Only documents we announce to this peer learn of it now (JS: beginSync for the documents
  // the share policy shares); the others when it first sends a message about them.
  for (const DocumentId& doc : open_docs_) {
    if (!config_.policy->announce(peer.peer_id, doc)) continue;
    note_peer_document(conn, doc);
    ToActor t;
    t.kind = ToActor::Kind::kPeerAdded;
    t.document = doc;
    t.peer = peer;
    effects_.to_actors.push_back(std::move(t));
  }
  update_network_pending();
}

void Hub::receive_frame(ConnectionId id, ByteView frame, Millis now) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  if (it->second.state == ConnState::kAwaitingReady) {
    // Our StorageId is still loading; the peer's join may already be here. A peer has no
    // reason to send more than that before we answer, so a few frames are enough.
    if (it->second.early_frames.size() < 16) it->second.early_frames.emplace_back(frame.begin(), frame.end());
    return;
  }
  auto decoded = decode_frame(id, it->second, frame);
  if (!decoded) {
    // JS closes the socket on undecodable frames; we also say why.
    fail_protocol(id, "undecodable message: " + decoded.error().message);
    return;
  }
  wire::Message message = std::move(*decoded);
  std::visit([this](const auto& m) {
    if constexpr (requires { m.legacy_uuid; }) effects_.legacy_uuid_document_id |= m.legacy_uuid;
  }, message);
  Connection& conn = it->second;
  auto peer_info = [](const PeerId& sender, const std::optional<wire::PeerMetadata>& md) {
    PeerInfo info{sender, std::nullopt, true, {}};
    if (md) {
      info.storage_id = md->storage_id;
      info.is_ephemeral = md->is_ephemeral.value_or(!md->storage_id.has_value());
    }
    return info;
  };
  switch (conn.state) {
    case ConnState::kAwaitingReady:
      return;  // handled above
    case ConnState::kWaitingForJoin: {
      if (std::holds_alternative<wire::ErrorMessage>(message)) {
        drop(id, DisconnectReason::kTheySentError, std::get<wire::ErrorMessage>(message).message, true);
        return;
      }
      const auto* join = std::get_if<wire::JoinMessage>(&message);
      if (join == nullptr) return;  // JS drops frames before join
      if (join->supported_protocol_versions) {
        const auto& v = *join->supported_protocol_versions;
        if (std::find(v.begin(), v.end(), std::string(wire::kProtocolVersion)) == v.end()) {
          send_frame(id, wire::ErrorMessage{"unsupported protocol version", config_.peer_id, join->sender_id});
          drop(id, DisconnectReason::kProtocolError, "unsupported protocol version", true);
          return;
        }
      }
      if (join->sender_id.empty()) {
        fail_protocol(id, "join without senderId");
        return;
      }
      PeerInfo info = peer_info(join->sender_id, join->peer_metadata);
      info.principal = conn.principal;
      send_frame(id, wire::PeerMessage{config_.peer_id, join->sender_id, our_metadata(),
                                       std::string(wire::kProtocolVersion)});
      establish(id, info);
      return;
    }
    case ConnState::kWaitingForPeer: {
      if (const auto* err = std::get_if<wire::ErrorMessage>(&message)) {
        drop(id, DisconnectReason::kTheySentError, err->message, true);
        return;
      }
      const auto* peer = std::get_if<wire::PeerMessage>(&message);
      if (peer == nullptr) {
        fail_protocol(id, "expected a peer message");
        return;
      }
      if (peer->selected_protocol_version && *peer->selected_protocol_version != wire::kProtocolVersion) {
        fail_protocol(id, "unsupported protocol version");
        return;
      }
      PeerInfo info = peer_info(peer->sender_id, peer->peer_metadata);
      info.principal = conn.principal;
      establish(id, std::move(info));
      return;
    }
    case ConnState::kEstablished:
      route(id, conn, std::move(message), now);
      return;
  }
}

bool Hub::take_open_token(Connection& conn, Millis now) {
  const double rate = config_.max_document_opens_per_second;
  if (rate <= 0) return true;
  conn.open_tokens = std::min(rate, conn.open_tokens + static_cast<double>(now - conn.tokens_at) * rate / 1000.0);
  conn.tokens_at = now;
  if (conn.open_tokens < 1) return false;
  conn.open_tokens -= 1;
  return true;
}

void Hub::release_waiting(Millis now) {
  const std::vector<ConnectionId> ids(waiting_connections_.begin(), waiting_connections_.end());
  for (ConnectionId id : ids) {
    // Take out, in order, every message whose document is open or gets a token; the rest stay.
    // A document's messages stay in order: while one of them waits, so do those after it.
    std::list<wire::Message> pending = std::move(connections_.at(id).waiting);
    connections_.at(id).waiting.clear();
    connections_.at(id).waiting_docs.clear();
    for (auto& message : pending) {
      auto it = connections_.find(id);
      if (it == connections_.end()) return;  // routing dropped the connection
      Connection& conn = it->second;
      const std::optional<DocumentId> doc = document_of(message);
      const bool held = doc && (conn.waiting_docs.count(*doc) != 0 || (!is_open(*doc) && !take_open_token(conn, now)));
      if (held) {
        if (doc) conn.waiting_docs.insert(*doc);
        conn.waiting.push_back(std::move(message));
        continue;
      }
      route(id, conn, std::move(message), now, /*gated=*/false);
    }
    if (auto it = connections_.find(id); it != connections_.end()) set_waiting(id, it->second);
  }
}

void Hub::route(ConnectionId id, Connection& conn, wire::Message message, Millis now, bool gated) {
  if (std::holds_alternative<wire::JoinMessage>(message) || std::holds_alternative<wire::PeerMessage>(message)) {
    fail_protocol(id, "unexpected join or peer message");
    return;
  }
  if (const auto* err = std::get_if<wire::ErrorMessage>(&message)) {
    drop(id, DisconnectReason::kTheySentError, err->message, true);
    return;
  }
  if (std::holds_alternative<wire::LeaveMessage>(message)) {
    drop(id, DisconnectReason::kTheyClosed, "leave", true);
    return;
  }
  if (std::holds_alternative<wire::UnknownMessage>(message)) return;  // JS drops unknown types
  const PeerId& from = conn.peer.peer_id;
  const bool ephemeral = std::holds_alternative<wire::EphemeralMessage>(message);
  // A relayed ephemeral message keeps its originator's senderId; everything else must come
  // from the peer bound to this connection.
  // A peer controls how many it sends: the first few of a connection get a line each, then one
  // in kDropLineEvery, with the count, so a flood costs a counter, not a string per message.
  auto dropped = [&](std::string_view field, const std::optional<PeerId>& got, const PeerId& want) {
    const std::uint64_t n = ++conn.routing_drops;
    if (n > kDropLinesPerConnection && n % kDropLineEvery != 0) return;
    std::string line = "dropped a " + std::string(wire::message_type(message)) + " message from " + from.str() +
                       " (connection " + std::to_string(id) + "): its " + std::string(field) + " is " +
                       (got ? got->str() : std::string("missing")) + ", not " + want.str();
    if (n > kDropLinesPerConnection) line += " (" + std::to_string(n) + " dropped on this connection)";
    effects_.dropped.push_back(std::move(line));
  };
  if (const auto sender = routing_sender(message); !ephemeral && sender != std::optional<PeerId>(from)) {
    dropped("senderId", sender, from);
    return;
  }
  if (const auto target = routing_target(message); target != std::optional<PeerId>(config_.peer_id)) {
    dropped("targetId", target, config_.peer_id);
    return;
  }
  if (const auto* m = std::get_if<wire::RemoteSubscriptionChangeMessage>(&message)) {
    if (gossip_) gossip_->receive(*m);  // off: tolerated and ignored, as JS does
    return;
  }
  if (const auto* m = std::get_if<wire::RemoteHeadsChangedMessage>(&message)) {
    // Not the actors' business: heads of other stores. Only of documents in memory here, so
    // that a peer cannot grow what the gossip keeps with made-up document ids.
    if (gossip_ && is_open(m->document_id)) gossip_->receive(*m);
    return;
  }
  const std::optional<DocumentId> doc = document_of(message);
  if (!doc) return;
  if (ephemeral) {
    const auto& m = std::get<wire::EphemeralMessage>(message);
    forget_quiet_ephemeral_sessions(now);
    auto [seen, inserted] = ephemeral_seen_.try_emplace({m.sender_id, m.session_id}, EphemeralSession{m.count, now});
    if (!inserted) {
      if (m.count <= seen->second.last_count) return;  // a duplicate or a stale reordering
      seen->second = EphemeralSession{m.count, now};
    }
    if (m.sender_id == config_.peer_id) return;  // our own message came back
  }
  const bool asks = std::holds_alternative<wire::RequestMessage>(message) ||
                    std::holds_alternative<wire::SyncMessage>(message);
  if (config_.denylist.count(*doc) != 0) {
    if (asks) send_frame(id, wire::DocUnavailableMessage{config_.peer_id, from, *doc});
    return;
  }
  if (gated && conn.waiting_docs.count(*doc) != 0) {
    // Earlier messages about this document wait for the open budget: stay behind them.
    conn.waiting.push_back(std::move(message));
    conn.waiting_docs.insert(*doc);
    waiting_connections_.insert(id);
    return;
  }
  if (!is_open(*doc)) {
    if (!asks) return;  // ephemera and answers about documents we do not have open
    if (config_.policy->access_level(from, conn.principal, *doc) == DocumentAccess::kNone) {
      send_frame(id, wire::DocUnavailableMessage{config_.peer_id, from, *doc});
      return;
    }
    if (gated && (!conn.waiting.empty() || !take_open_token(conn, now))) {
      if (conn.waiting.size() >= config_.max_waiting_messages) {
        fail_protocol(id, "too many document requests: more than " + std::to_string(config_.max_waiting_messages) +
                              " waiting (the limit is " +
                              std::to_string(static_cast<long long>(config_.max_document_opens_per_second)) +
                              " new documents per second)");
        return;
      }
      conn.waiting.push_back(std::move(message));
      conn.waiting_docs.insert(*doc);
      waiting_connections_.insert(id);
      return;
    }
    // Lazily open the document, as a JS server does: storage first, then whoever announces.
    ToActor spawn;
    spawn.kind = ToActor::Kind::kSpawn;
    spawn.document = *doc;
    effects_.to_actors.push_back(std::move(spawn));
    open_document(*doc, now);
  }
  ToActor t;
  t.kind = ToActor::Kind::kMessage;
  t.document = *doc;
  t.from = from;
  t.peer = conn.peer;  // the actor meets a peer it was not announced to here
  note_peer_document(conn, *doc);
  t.message = std::move(message);
  effects_.to_actors.push_back(std::move(t));
}

void Hub::open_document(const DocumentId& document, Millis now) {
  (void)now;
  if (!open_docs_.insert(document).second) return;
  for (auto& [id, conn] : connections_) {
    if (conn.state != ConnState::kEstablished || !config_.policy->announce(conn.peer.peer_id, document)) continue;
    note_peer_document(conn, document);
    ToActor t;
    t.kind = ToActor::Kind::kPeerAdded;
    t.document = document;
    t.peer = conn.peer;
    effects_.to_actors.push_back(std::move(t));
  }
  ToActor pending;
  pending.kind = ToActor::Kind::kNetworkPending;
  pending.document = document;
  pending.pending = network_pending();
  effects_.to_actors.push_back(std::move(pending));
}

void Hub::close_document(const DocumentId& document) {
  open_docs_.erase(document);
  if (gossip_) gossip_->forget_document(document);
}

void Hub::note_peer_document(Connection& conn, const DocumentId& doc) {
  conn.docs.insert(doc);
  if (gossip_) gossip_->peer_opened_document(conn.peer.peer_id, doc);
}

void Hub::subscribe_to_remotes(const std::vector<StorageId>& storage_ids) {
  if (gossip_) gossip_->subscribe(storage_ids);
}

void Hub::unsubscribe_from_remotes(const std::vector<StorageId>& storage_ids) {
  if (gossip_) gossip_->unsubscribe(storage_ids);
}

void Hub::peer_heads_changed(const DocumentId& document, const StorageId& storage_id,
                             const std::vector<ChangeHash>& heads, std::uint64_t wall_ms) {
  if (!gossip_) return;
  std::vector<std::string> text;
  text.reserve(heads.size());
  for (const ChangeHash& h : heads) text.push_back(encode_head(h));
  gossip_->peer_heads_changed(document, storage_id, std::move(text), wall_ms);
}

void Hub::share_policy_changed(Millis now) {
  (void)now;
  for (auto& [id, conn] : connections_) {
    if (conn.state != ConnState::kEstablished) continue;
    for (const DocumentId& doc : open_docs_) {
      const bool known = conn.docs.count(doc) != 0;
      if (!known && !config_.policy->announce(conn.peer.peer_id, doc)) continue;
      note_peer_document(conn, doc);
      ToActor t;
      t.kind = ToActor::Kind::kPeerAdded;
      t.document = doc;
      t.peer = conn.peer;
      effects_.to_actors.push_back(std::move(t));
    }
  }
}

void Hub::send(const wire::Message& message, std::optional<Bytes> encoded) {
  const std::optional<PeerId> target = routing_target(message);
  if (!target) return;
  if (auto id = connection_of(*target)) send_frame(*id, message, std::move(encoded));
}

void Hub::tick(Millis now) {
  release_waiting(now);
  std::vector<ConnectionId> expired;
  for (const auto& [deadline, id] : handshake_deadlines_) {
    if (deadline > now) break;
    expired.push_back(id);
  }
  for (ConnectionId id : expired) drop(id, DisconnectReason::kHandshakeTimeout, "no handshake", true);
}

void Hub::set_pending_dials(std::size_t count, Millis now) {
  (void)now;
  pending_dials_ = count;
  update_network_pending();
}

bool Hub::network_pending() const {
  if (pending_dials_ > 0) return true;
  // Only our own dials: an inbound connection still in its handshake is anyone on the network,
  // and waiting for those would let one idle socket hold every "unavailable" answer (and the
  // documents behind it) until its handshake timeout.
  return initiators_handshaking_ > 0;
}

void Hub::update_network_pending() {
  const bool pending = network_pending();
  if (pending == last_pending_) return;
  last_pending_ = pending;
  for (const DocumentId& doc : open_docs_) {
    ToActor t;
    t.kind = ToActor::Kind::kNetworkPending;
    t.document = doc;
    t.pending = pending;
    effects_.to_actors.push_back(std::move(t));
  }
}

std::vector<PeerInfo> Hub::peers() const {
  std::vector<PeerInfo> out;
  for (const auto& [id, conn] : connections_) {
    if (conn.state == ConnState::kEstablished) out.push_back(conn.peer);
  }
  return out;
}

HubEffects Hub::take_effects() {
  if (gossip_) {
    RemoteHeadsEffects gossip = gossip_->take_effects();
    for (const wire::Message& m : gossip.outgoing) send(m);
    for (RemoteHeadsUpdate& u : gossip.updates) effects_.remote_heads.push_back(std::move(u));
  }
  std::optional<Millis> wake;
  if (!handshake_deadlines_.empty()) wake = handshake_deadlines_.begin()->first;
  for (ConnectionId id : waiting_connections_) {
    const Connection& conn = connections_.at(id);
    // When the bucket holds one token again.
    const double missing = std::max(0.0, 1.0 - conn.open_tokens);
    const Millis t = conn.tokens_at + static_cast<Millis>(std::ceil(missing * 1000.0 / config_.max_document_opens_per_second));
    if (!wake || t < *wake) wake = t;
  }
  effects_.wake_at = wake;
  HubEffects out = std::move(effects_);
  effects_ = HubEffects{};
  return out;
}

}  // namespace am::repo::core
