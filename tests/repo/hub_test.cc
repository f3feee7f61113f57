// The hub's handshake and routing rules, frame by frame (spec §1.5).
#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "am/sync.h"
#include "repo/core/hub.h"
#include "repo/core/wire/cbor_codec.h"
#include "support/hub_frames.h"

namespace am::repo::core {
namespace {

using test::messages_to;

// A ready hub without storage (so no StorageId bootstrap is needed).
Hub ready_hub(std::set<DocumentId> denylist = {}) {
  HubConfig c;
  c.peer_id = PeerId("server");
  c.has_storage = false;
  c.policy = answer_requests_only();
  c.denylist = std::move(denylist);
  c.session_id = SessionId("s");
  Hub hub(std::move(c));
  hub.start(0);
  return hub;
}

Bytes frame(const wire::Message& m) { return wire::encode(m); }

wire::JoinMessage join(const std::string& who, std::optional<std::vector<std::string>> versions = std::vector<std::string>{"1"}) {
  return wire::JoinMessage{PeerId(who), wire::PeerMetadata{StorageId(who + "-store"), false}, std::move(versions)};
}

DocumentId doc_id(std::uint8_t b) {
  DocumentId::Raw raw{};
  raw[0] = b;
  return DocumentId::uuid_v4(raw);
}

Bytes empty_sync_message() {
  Document empty;
  SyncState state;
  return *generate_sync_message(empty, state);
}

TEST(Hub, AcceptorAnswersJoinWithPeer) {
  Hub hub = ready_hub();
  const ConnectionId c = hub.add_connection(ConnectionRole::kAcceptor, 0);
  hub.receive_frame(c, frame(join("client", std::nullopt)), 1);  // absent versions mean ["1"]
  HubEffects e = hub.take_effects();
  auto out = messages_to(e, c);
  ASSERT_EQ(out.size(), 1u);
  const auto* peer = std::get_if<wire::PeerMessage>(&out[0]);
  ASSERT_NE(peer, nullptr);
  EXPECT_EQ(peer->sender_id.str(), "server");
  EXPECT_EQ(peer->target_id.str(), "client");
  EXPECT_EQ(peer->selected_protocol_version, "1");
  ASSERT_TRUE(peer->peer_metadata);
  EXPECT_EQ(peer->peer_metadata->is_ephemeral, true);
  EXPECT_FALSE(peer->peer_metadata->storage_id);
  ASSERT_EQ(e.connection_events.size(), 1u);
  EXPECT_EQ(e.connection_events[0].kind, ConnectionEvent::Kind::kEstablished);
  EXPECT_EQ(e.connection_events[0].peer.peer_id.str(), "client");
  EXPECT_EQ(e.connection_events[0].peer.storage_id->str(), "client-store");
  EXPECT_FALSE(e.connection_events[0].peer.is_ephemeral);
}

TEST(Hub, FramesBeforeJoinAreIgnored) {
  Hub hub = ready_hub();
  const ConnectionId c = hub.add_connection(ConnectionRole::kAcceptor, 0);
  hub.receive_frame(c, frame(wire::SyncMessage{PeerId("client"), PeerId("server"), doc_id(1), empty_sync_message()}), 1);
  HubEffects e = hub.take_effects();
  EXPECT_TRUE(e.frames.empty());
  EXPECT_TRUE(e.closes.empty());
  EXPECT_TRUE(e.to_actors.empty());
  EXPECT_EQ(hub.connection_count(), 1u);
}

TEST(Hub, UnsupportedVersionGetsErrorAndClose) {
  Hub hub = ready_hub();
  const ConnectionId c = hub.add_connection(ConnectionRole::kAcceptor, 0);
  hub.receive_frame(c, frame(join("client", std::vector<std::string>{"2"})), 1);
  HubEffects e = hub.take_effects();
  auto out = messages_to(e, c);
  ASSERT_EQ(out.size(), 1u);
  const auto* err = std::get_if<wire::ErrorMessage>(&out[0]);
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(err->message, "unsupported protocol version");
  EXPECT_EQ(err->target_id, PeerId("client"));
  EXPECT_EQ(e.closes, std::vector<ConnectionId>{c});
  ASSERT_EQ(e.connection_events.size(), 1u);
  EXPECT_EQ(e.connection_events[0].reason, DisconnectReason::kProtocolError);
}

TEST(Hub, SecondJoinWithSamePeerIdReplacesTheFirst) {
  Hub hub = ready_hub();
  const ConnectionId first = hub.add_connection(ConnectionRole::kAcceptor, 0);
  hub.receive_frame(first, frame(join("client")), 1);
  (void)hub.take_effects();
  const ConnectionId second = hub.add_connection(ConnectionRole::kAcceptor, 2);
  hub.receive_frame(second, frame(join("client")), 3);
  HubEffects e = hub.take_effects();
  EXPECT_EQ(e.closes, std::vector<ConnectionId>{first});
  ASSERT_EQ(e.connection_events.size(), 2u);
  EXPECT_EQ(e.connection_events[0].kind, ConnectionEvent::Kind::kClosed);
  EXPECT_EQ(e.connection_events[0].reason, DisconnectReason::kReplaced);
  EXPECT_EQ(e.connection_events[1].kind, ConnectionEvent::Kind::kEstablished);
  EXPECT_EQ(e.connection_events[1].connection, second);
  EXPECT_EQ(hub.peers().size(), 1u);
}

TEST(Hub, EstablishedConnectionRules) {
  Hub hub = ready_hub();
  const ConnectionId c = hub.add_connection(ConnectionRole::kAcceptor, 0);
  hub.receive_frame(c, frame(join("client")), 1);
  (void)hub.take_effects();
  const DocumentId doc = doc_id(7);
  // A foreign senderId is ignored.
  hub.receive_frame(c, frame(wire::SyncMessage{PeerId("mallory"), PeerId("server"), doc, empty_sync_message()}), 2);
  // So is a message for somebody else, and an unknown type.
  hub.receive_frame(c, frame(wire::SyncMessage{PeerId("client"), PeerId("other"), doc, empty_sync_message()}), 2);
  hub.receive_frame(c, frame(wire::UnknownMessage{"future-type", PeerId("client"), PeerId("server")}), 2);
  HubEffects quiet = hub.take_effects();
  EXPECT_TRUE(quiet.frames.empty());
  EXPECT_TRUE(quiet.to_actors.empty());
  EXPECT_TRUE(quiet.closes.empty());
  // A real request opens the document lazily. The policy does not announce documents, so the
  // peer is not added to the actor: it meets it with the message, which carries its details.
  hub.receive_frame(c, frame(wire::RequestMessage{PeerId("client"), PeerId("server"), doc, empty_sync_message()}), 3);
  HubEffects e = hub.take_effects();
  ASSERT_GE(e.to_actors.size(), 2u);
  EXPECT_EQ(e.to_actors.front().kind, ToActor::Kind::kSpawn);
  for (const ToActor& t : e.to_actors) EXPECT_NE(t.kind, ToActor::Kind::kPeerAdded);
  EXPECT_EQ(e.to_actors.back().kind, ToActor::Kind::kMessage);
  EXPECT_EQ(e.to_actors.back().peer.peer_id, PeerId("client"));
  EXPECT_EQ(e.to_actors.back().peer.storage_id, StorageId("client-store"));
  EXPECT_TRUE(hub.is_open(doc));
  // A second join on an established connection is a protocol error.
  hub.receive_frame(c, frame(join("client")), 4);
  HubEffects bad = hub.take_effects();
  auto out = messages_to(bad, c);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(std::get<wire::ErrorMessage>(out[0]).message, "unexpected join or peer message");
  EXPECT_EQ(bad.closes, std::vector<ConnectionId>{c});
  ASSERT_FALSE(bad.to_actors.empty());
  EXPECT_EQ(bad.to_actors.back().kind, ToActor::Kind::kPeerRemoved);
}

TEST(Hub, UndecodableFrameClosesWithProtocolError) {
  Hub hub = ready_hub();
  const ConnectionId c = hub.add_connection(ConnectionRole::kAcceptor, 0);
  hub.receive_frame(c, Bytes{0xff, 0x00, 0x13}, 1);
  HubEffects e = hub.take_effects();
  EXPECT_EQ(e.closes, std::vector<ConnectionId>{c});
  ASSERT_EQ(e.connection_events.size(), 1u);
  EXPECT_EQ(e.connection_events[0].reason, DisconnectReason::kProtocolError);
}

TEST(Hub, InitiatorSendsJoinAndExpectsPeer) {
  HubConfig config;
  config.peer_id = PeerId("client");
  config.new_storage_id = StorageId("fixed-store");
  Hub hub(config);
  hub.start(0);
  HubEffects boot = hub.take_effects();
  ASSERT_EQ(boot.storage.size(), 1u);
  EXPECT_EQ(boot.storage[0].key, StorageKey{"storage-adapter-id"});
  const ConnectionId c = hub.add_connection(ConnectionRole::kInitiator, 0);
  EXPECT_TRUE(hub.take_effects().frames.empty()) << "no join before the StorageId is known";
  hub.storage_done(StorageOutcome{boot.storage[0].id, {}, std::nullopt, {}}, 1);
  HubEffects e = hub.take_effects();
  ASSERT_EQ(e.storage.size(), 1u) << "a new StorageId is saved";
  EXPECT_EQ(e.storage[0].kind, StorageTask::Kind::kSave);
  EXPECT_EQ(e.storage[0].data, Bytes({'f', 'i', 'x', 'e', 'd', '-', 's', 't', 'o', 'r', 'e'}));
  auto out = messages_to(e, c);
  ASSERT_EQ(out.size(), 1u);
  const auto& j = std::get<wire::JoinMessage>(out[0]);
  EXPECT_EQ(j.peer_metadata->storage_id, StorageId("fixed-store"));
  EXPECT_EQ(j.peer_metadata->is_ephemeral, false);
  EXPECT_EQ(j.supported_protocol_versions, std::vector<std::string>{"1"});
  // Anything but peer (or error) now is a protocol error.
  hub.receive_frame(c, frame(wire::SyncMessage{PeerId("server"), PeerId("client"), doc_id(1), empty_sync_message()}), 2);
  HubEffects bad = hub.take_effects();
  EXPECT_EQ(std::get<wire::ErrorMessage>(messages_to(bad, c).at(0)).message, "expected a peer message");
  EXPECT_EQ(bad.closes, std::vector<ConnectionId>{c});

  // An error from the acceptor closes with kTheySentError.
  const ConnectionId c2 = hub.add_connection(ConnectionRole::kInitiator, 3);
  (void)hub.take_effects();
  hub.receive_frame(c2, frame(wire::ErrorMessage{"unsupported protocol version", PeerId("server"), PeerId("client")}), 4);
  HubEffects err = hub.take_effects();
  ASSERT_EQ(err.connection_events.size(), 1u);
  EXPECT_EQ(err.connection_events[0].reason, DisconnectReason::kTheySentError);
  EXPECT_EQ(err.connection_events[0].detail, "unsupported protocol version");
}

TEST(Hub, HandshakeTimeout) {
  Hub hub = ready_hub();
  const ConnectionId c = hub.add_connection(ConnectionRole::kAcceptor, 0);
  HubEffects e = hub.take_effects();
  ASSERT_TRUE(e.wake_at);
  EXPECT_EQ(*e.wake_at, 10'000);
  hub.tick(9'999);
  EXPECT_TRUE(hub.take_effects().closes.empty());
  hub.tick(10'000);
  HubEffects t = hub.take_effects();
  EXPECT_EQ(t.closes, std::vector<ConnectionId>{c});
  EXPECT_EQ(t.connection_events.at(0).reason, DisconnectReason::kHandshakeTimeout);
}

TEST(Hub, DenylistedAndDeniedDocumentsAreUnavailable) {
  const DocumentId bad = doc_id(9);
  Hub hub = ready_hub({bad});
  const ConnectionId c = hub.add_connection(ConnectionRole::kAcceptor, 0);
  hub.receive_frame(c, frame(join("client")), 1);
  (void)hub.take_effects();
  hub.receive_frame(c, frame(wire::RequestMessage{PeerId("client"), PeerId("server"), bad, empty_sync_message()}), 2);
  HubEffects e = hub.take_effects();
  auto out = messages_to(e, c);
  ASSERT_EQ(out.size(), 1u);
  const auto& u = std::get<wire::DocUnavailableMessage>(out[0]);
  EXPECT_EQ(u.document_id, bad);
  EXPECT_EQ(u.target_id.str(), "client");
  EXPECT_TRUE(e.to_actors.empty());
  EXPECT_FALSE(hub.is_open(bad));
}

// A message for another peer, or claiming another sender, is dropped as before, and the hub says
// so: the runtime logs these lines at debug level (an older peer deriving ids of its own, issue 24).
TEST(Hub, MessagesDroppedForTheirRoutingAreReported) {
  Hub hub = ready_hub();
  const ConnectionId c = hub.add_connection(ConnectionRole::kAcceptor, 0);
  hub.receive_frame(c, frame(join("client")), 1);
  (void)hub.take_effects();
  const DocumentId doc = doc_id(4);
  hub.receive_frame(c, frame(wire::RequestMessage{PeerId("client"), PeerId("someone-else"), doc, empty_sync_message()}), 2);
  HubEffects e = hub.take_effects();
  EXPECT_TRUE(messages_to(e, c).empty());
  EXPECT_TRUE(e.to_actors.empty());
  ASSERT_EQ(e.dropped.size(), 1u);
  EXPECT_EQ(e.dropped[0], "dropped a request message from client (connection " + std::to_string(c) +
                              "): its targetId is someone-else, not server");
  hub.receive_frame(c, frame(wire::RequestMessage{PeerId("mallory"), PeerId("server"), doc, empty_sync_message()}), 3);
  e = hub.take_effects();
  EXPECT_TRUE(e.to_actors.empty());
  ASSERT_EQ(e.dropped.size(), 1u);
  EXPECT_NE(e.dropped[0].find("its senderId is mallory, not client"), std::string::npos) << e.dropped[0];
  // A well-addressed message is not reported.
  hub.receive_frame(c, frame(wire::RequestMessage{PeerId("client"), PeerId("server"), doc, empty_sync_message()}), 4);
  EXPECT_TRUE(hub.take_effects().dropped.empty());
}

// A flood of misaddressed messages costs a counter, not a line each: the first few lines, then
// one per kDropLineEvery with the count.
TEST(Hub, AFloodOfMisaddressedMessagesIsReportedSampled) {
  Hub hub = ready_hub();
  const ConnectionId c = hub.add_connection(ConnectionRole::kAcceptor, 0);
  hub.receive_frame(c, frame(join("client")), 1);
  (void)hub.take_effects();
  const Bytes misaddressed =
      frame(wire::RequestMessage{PeerId("client"), PeerId("someone-else"), doc_id(4), empty_sync_message()});
  std::vector<std::string> lines;
  const std::uint64_t sent = 2 * kDropLineEvery + 5;
  for (std::uint64_t i = 0; i < sent; ++i) {
    hub.receive_frame(c, misaddressed, 2);
    HubEffects e = hub.take_effects();
    EXPECT_TRUE(e.to_actors.empty());
    lines.insert(lines.end(), e.dropped.begin(), e.dropped.end());
  }
  ASSERT_EQ(lines.size(), kDropLinesPerConnection + 2);
  EXPECT_EQ(lines[kDropLinesPerConnection - 1].find("dropped on this connection"), std::string::npos);
  EXPECT_NE(lines[kDropLinesPerConnection].find("(" + std::to_string(kDropLineEvery) + " dropped on this connection)"),
            std::string::npos)
      << lines[kDropLinesPerConnection];
  EXPECT_NE(lines.back().find("(" + std::to_string(2 * kDropLineEvery) + " dropped on this connection)"),
            std::string::npos)
      << lines.back();
  // Another connection has its own count.
  const ConnectionId d = hub.add_connection(ConnectionRole::kAcceptor, 3);
  hub.receive_frame(d, frame(join("other")), 3);
  (void)hub.take_effects();
  hub.receive_frame(d, frame(wire::RequestMessage{PeerId("other"), PeerId("nobody"), doc_id(4), empty_sync_message()}), 4);
  EXPECT_EQ(hub.take_effects().dropped.size(), 1u);
}

TEST(Hub, EphemeralMessagesAreDeduplicatedBySession) {
  Hub hub = ready_hub();
  const ConnectionId c = hub.add_connection(ConnectionRole::kAcceptor, 0);
  hub.receive_frame(c, frame(join("client")), 1);
  const DocumentId doc = doc_id(3);
  hub.open_document(doc, 1);
  (void)hub.take_effects();
  auto eph = [&](std::uint64_t count, const std::string& session) {
    return frame(wire::EphemeralMessage{PeerId("client"), PeerId("server"), doc, count, SessionId(session), Bytes{1}});
  };
  std::size_t delivered = 0;
  for (const auto& [count, session] : std::vector<std::pair<std::uint64_t, std::string>>{
           {1, "s1"}, {1, "s1"}, {2, "s1"}, {1, "s1"}, {1, "s2"}, {3, "s1"}}) {
    hub.receive_frame(c, eph(count, session), 2);
    for (const auto& t : hub.take_effects().to_actors) delivered += t.kind == ToActor::Kind::kMessage;
  }
  EXPECT_EQ(delivered, 4u);  // s1:1, s1:2, s2:1, s1:3
}

// The dedup table must not grow with every client that ever sent an ephemeral message (issue
// 11, idle memory): a sender's sessions go with its connection, and sessions relayed for
// senders that are not connected here go once they have been quiet long enough.
TEST(Hub, EphemeralSessionsAreForgottenWhenTheirSenderLeavesOrFallsQuiet) {
  Hub hub = ready_hub();
  const DocumentId doc = doc_id(3);
  hub.open_document(doc, 0);
  auto eph = [&](const std::string& sender, const std::string& session, std::uint64_t count) {
    return frame(wire::EphemeralMessage{PeerId(sender), PeerId("server"), doc, count, SessionId(session), Bytes{1}});
  };
  const ConnectionId relay = hub.add_connection(ConnectionRole::kAcceptor, 0);
  hub.receive_frame(relay, frame(join("relay")), 0);
  for (int visit = 0; visit < 5; ++visit) {
    const std::string client = "client-" + std::to_string(visit);
    const ConnectionId c = hub.add_connection(ConnectionRole::kAcceptor, 1);
    hub.receive_frame(c, frame(join(client)), 1);
    hub.receive_frame(c, eph(client, "session-" + std::to_string(visit), 1), 1);
    hub.receive_frame(c, eph(client, "session-" + std::to_string(visit), 2), 1);
    EXPECT_EQ(hub.remembered_ephemeral_sessions(), 1u);
    hub.connection_lost(c, DisconnectReason::kTheyClosed, {}, 2);
    EXPECT_EQ(hub.remembered_ephemeral_sessions(), 0u);
  }
  // Relayed: the originator is not connected here, so only time forgets it.
  hub.receive_frame(relay, eph("far-away", "far-session", 1), 10);
  EXPECT_EQ(hub.remembered_ephemeral_sessions(), 1u);
  hub.receive_frame(relay, eph("far-away", "far-session", 1), 20);  // still a duplicate
  std::size_t delivered = 0;
  for (const auto& t : hub.take_effects().to_actors) delivered += t.kind == ToActor::Kind::kMessage;
  EXPECT_EQ(delivered, 1u + 5u * 2u);
  const Millis later = 10 + Hub::kEphemeralSessionMemoryMs;
  hub.receive_frame(relay, eph("relay", "relay-session", 1), later);
  EXPECT_EQ(hub.remembered_ephemeral_sessions(), 1u);  // far-away forgotten, relay's own kept
}

}  // namespace
}  // namespace am::repo::core

namespace am::repo::core {
namespace {

// The document-open budget: a flood of requests for new documents is served at the configured
// rate, in order, and a peer that piles up too many waiting messages is dropped.
TEST(Hub, DocumentOpensBeyondTheBudgetWaitInOrder) {
  HubConfig c;
  c.peer_id = PeerId("server");
  c.has_storage = false;
  c.policy = answer_requests_only();
  c.session_id = SessionId("s");
  c.max_document_opens_per_second = 2;
  c.max_waiting_messages = 6;
  Hub hub(std::move(c));
  hub.start(0);
  const ConnectionId conn = hub.add_connection(ConnectionRole::kAcceptor, 0);
  hub.receive_frame(conn, frame(join("client")), 0);
  (void)hub.take_effects();
  auto spawned = [](const HubEffects& e) {
    std::vector<DocumentId> out;
    for (const ToActor& t : e.to_actors) {
      if (t.kind == ToActor::Kind::kSpawn) out.push_back(t.document);
    }
    return out;
  };
  auto messages_for = [](const HubEffects& e, const DocumentId& d) {
    std::size_t n = 0;
    for (const ToActor& t : e.to_actors) n += t.kind == ToActor::Kind::kMessage && t.document == d;
    return n;
  };
  for (std::uint8_t i = 1; i <= 5; ++i) {
    hub.receive_frame(conn, frame(wire::RequestMessage{PeerId("client"), PeerId("server"), doc_id(i), empty_sync_message()}), 10);
  }
  // A second message about a waiting document waits behind the first.
  hub.receive_frame(conn, frame(wire::SyncMessage{PeerId("client"), PeerId("server"), doc_id(3), empty_sync_message()}), 10);
  HubEffects first = hub.take_effects();
  EXPECT_EQ(spawned(first), (std::vector<DocumentId>{doc_id(1), doc_id(2)})) << "a full bucket holds 2";
  ASSERT_TRUE(first.wake_at);
  EXPECT_LE(*first.wake_at, 10 + 500) << "one token refills in 500 ms";
  hub.tick(510);
  HubEffects second = hub.take_effects();
  EXPECT_EQ(spawned(second), (std::vector<DocumentId>{doc_id(3)}));
  EXPECT_EQ(messages_for(second, doc_id(3)), 2u) << "both messages about doc 3, in order";
  hub.tick(1510);
  HubEffects third = hub.take_effects();
  EXPECT_EQ(spawned(third), (std::vector<DocumentId>{doc_id(4), doc_id(5)}));
  EXPECT_TRUE(messages_to(third, conn).empty()) << "nobody was refused";
  // Now flood once the bucket is full again: 2 tokens, then 6 may wait, then the peer is
  // dropped with an error.
  for (std::uint8_t i = 10; i < 19; ++i) {
    hub.receive_frame(conn, frame(wire::RequestMessage{PeerId("client"), PeerId("server"), doc_id(i), empty_sync_message()}), 2510);
  }
  HubEffects flood = hub.take_effects();
  EXPECT_EQ(spawned(flood).size(), 2u);
  auto out = messages_to(flood, conn);
  ASSERT_EQ(out.size(), 1u);
  const auto* error = std::get_if<wire::ErrorMessage>(&out[0]);
  ASSERT_NE(error, nullptr);
  EXPECT_NE(error->message.find("too many document requests"), std::string::npos) << error->message;
  EXPECT_EQ(flood.closes, std::vector<ConnectionId>{conn});
}

}  // namespace
}  // namespace am::repo::core

namespace am::repo::core {
namespace {

HubEffects join_client(Hub& hub, const std::string& name, Millis now) {
  const ConnectionId c = hub.add_connection(ConnectionRole::kAcceptor, now);
  hub.receive_frame(c, frame(join(name)), now);
  return hub.take_effects();
}

std::size_t count_kind(const HubEffects& e, ToActor::Kind kind) {
  return static_cast<std::size_t>(
      std::count_if(e.to_actors.begin(), e.to_actors.end(), [kind](const ToActor& t) { return t.kind == kind; }));
}

TEST(Hub, JoiningCostsNothingInDocumentsNotAnnouncedToThePeer) {
  // A server that does not announce (as the JS sync server): with many documents open, a join
  // delivers nothing to their actors, and a leave tells only the documents the peer used.
  Hub hub = ready_hub();
  for (std::uint8_t i = 1; i <= 100; ++i) hub.open_document(doc_id(i), 0);
  (void)hub.take_effects();
  for (int i = 0; i < 1000; ++i) {
    HubEffects e = join_client(hub, "client-" + std::to_string(i), 1);
    ASSERT_EQ(e.connection_events.size(), 1u);
    EXPECT_TRUE(e.to_actors.empty()) << "join " << i << " delivered " << e.to_actors.size() << " actor events";
  }
  const ConnectionId last = hub.add_connection(ConnectionRole::kAcceptor, 2);
  hub.receive_frame(last, frame(join("user")), 2);
  (void)hub.take_effects();
  hub.receive_frame(last, frame(wire::SyncMessage{PeerId("user"), PeerId("server"), doc_id(5), empty_sync_message()}), 3);
  HubEffects sent = hub.take_effects();
  ASSERT_EQ(sent.to_actors.size(), 1u);
  EXPECT_EQ(sent.to_actors[0].kind, ToActor::Kind::kMessage);
  EXPECT_EQ(sent.to_actors[0].peer.peer_id, PeerId("user"));
  hub.connection_lost(last, DisconnectReason::kTheyClosed, "", 4);
  HubEffects gone = hub.take_effects();
  ASSERT_EQ(count_kind(gone, ToActor::Kind::kPeerRemoved), 1u);
  EXPECT_EQ(gone.to_actors[0].document, doc_id(5));
  EXPECT_EQ(hub.peers().size(), 1000u);
}

TEST(Hub, AnnouncedDocumentsLearnOfPeersAtOnce) {
  HubConfig c;
  c.peer_id = PeerId("client");
  c.has_storage = false;
  c.session_id = SessionId("s");  // default policy: share (announce) everything
  Hub hub(std::move(c));
  hub.start(0);
  hub.open_document(doc_id(1), 0);
  hub.open_document(doc_id(2), 0);
  (void)hub.take_effects();
  HubEffects e = join_client(hub, "server", 1);
  EXPECT_EQ(count_kind(e, ToActor::Kind::kPeerAdded), 2u);
  hub.open_document(doc_id(3), 2);
  EXPECT_EQ(count_kind(hub.take_effects(), ToActor::Kind::kPeerAdded), 1u);
}

TEST(Hub, HandshakeDeadlinesFollowEachConnection) {
  // Many connections in their handshake, some finishing: only the silent ones time out, each
  // at its own deadline, and the wake-up time is the earliest deadline left.
  Hub hub = ready_hub();
  std::vector<ConnectionId> silent;
  for (int i = 0; i < 50; ++i) {
    const ConnectionId id = hub.add_connection(ConnectionRole::kAcceptor, i * 10);
    if (i % 2 == 0) {
      hub.receive_frame(id, frame(join("c" + std::to_string(i))), i * 10 + 1);
    } else {
      silent.push_back(id);
    }
  }
  HubEffects e = hub.take_effects();
  ASSERT_TRUE(e.wake_at);
  EXPECT_EQ(*e.wake_at, 10 + 10'000);
  hub.tick(10'000 + 250);
  HubEffects t = hub.take_effects();
  EXPECT_EQ(t.closes.size(), 13u);  // opened at 10, 30, ..., 250
  ASSERT_TRUE(t.wake_at);
  EXPECT_EQ(*t.wake_at, 270 + 10'000);
  hub.tick(100'000);
  EXPECT_EQ(hub.take_effects().closes.size(), silent.size() - 13);
  EXPECT_EQ(hub.connection_count(), 25u);
}

// A legacy UUID documentId (issue 24): routed to the document with the same 16 bytes, and
// reported so the runtime can log its deprecation warning.
TEST(Hub, LegacyUuidDocumentIdsReachTheSameDocument) {
  Hub hub = ready_hub();
  const ConnectionId c = hub.add_connection(ConnectionRole::kAcceptor, 0);
  hub.receive_frame(c, frame(join("client")), 1);
  (void)hub.take_effects();
  const DocumentId id = doc_id(7);
  const Bytes data = empty_sync_message();
  nlohmann::json request = {{"type", "request"}, {"senderId", "client"}, {"targetId", "server"},
                            {"documentId", id.to_uuid_string()},
                            {"data", nlohmann::json::binary_t(std::vector<std::uint8_t>(data.begin(), data.end()))}};
  hub.receive_frame(c, nlohmann::json::to_cbor(request), 2);
  HubEffects e = hub.take_effects();
  EXPECT_TRUE(e.legacy_uuid_document_id);
  EXPECT_TRUE(hub.is_open(id));
  bool delivered = false;
  for (const ToActor& t : e.to_actors) {
    if (t.kind != ToActor::Kind::kMessage) continue;
    EXPECT_EQ(t.document, id);
    ASSERT_TRUE(t.message);
    const auto* r = std::get_if<wire::RequestMessage>(&*t.message);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->document_id, id);
    delivered = true;
  }
  EXPECT_TRUE(delivered);
  // The same document by its bs58check id: no new open, no flag.
  hub.receive_frame(c, frame(wire::SyncMessage{PeerId("client"), PeerId("server"), id, data}), 3);
  HubEffects e2 = hub.take_effects();
  EXPECT_FALSE(e2.legacy_uuid_document_id);
  for (const ToActor& t : e2.to_actors) EXPECT_NE(t.kind, ToActor::Kind::kSpawn);
}

// JS shareConfigChanged: every open document is re-evaluated for every established peer.
class SwitchPolicy : public SharePolicy {
 public:
  bool announce(const PeerId&, const DocumentId&) const override { return announce_all; }
  bool access(const PeerId&, const DocumentId&) const override { return true; }
  bool announce_all = false;
};

TEST(Hub, SharePolicyChangedAnnouncesOpenDocumentsAndRefreshesKnownOnes) {
  auto policy = std::make_shared<SwitchPolicy>();
  HubConfig c;
  c.peer_id = PeerId("server");
  c.has_storage = false;
  c.policy = policy;
  c.session_id = SessionId("s");
  Hub hub(std::move(c));
  hub.start(0);
  const ConnectionId conn = hub.add_connection(ConnectionRole::kAcceptor, 0);
  hub.receive_frame(conn, frame(join("client")), 1);
  const DocumentId quiet = doc_id(1);
  const DocumentId asked = doc_id(2);
  hub.open_document(quiet, 2);
  hub.receive_frame(conn, frame(wire::RequestMessage{PeerId("client"), PeerId("server"), asked, empty_sync_message()}), 3);
  (void)hub.take_effects();

  auto added = [&](const HubEffects& e) {
    std::set<DocumentId> docs;
    for (const ToActor& t : e.to_actors) {
      if (t.kind == ToActor::Kind::kPeerAdded && t.peer.peer_id == PeerId("client")) docs.insert(t.document);
    }
    return docs;
  };
  // Nothing announced yet: only the document the peer asked about is re-read.
  hub.share_policy_changed(4);
  EXPECT_EQ(added(hub.take_effects()), (std::set<DocumentId>{asked}));
  // Now announced: both.
  policy->announce_all = true;
  hub.share_policy_changed(5);
  EXPECT_EQ(added(hub.take_effects()), (std::set<DocumentId>{quiet, asked}));
}

}  // namespace
}  // namespace am::repo::core
