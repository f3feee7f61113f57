// The Go port's wire dialect (wire/go_dialect.h): recognised from the join, decoded into current
// messages, answered in kind, and never applied to current peers. Frames are written here from
// the port's documented format (docs/interop.md, "Legacy peers").
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "am/sync.h"
#include "core/json.h"
#include "repo/core/hub.h"
#include "repo/core/wire/go_dialect.h"
#include "support/hub_frames.h"

namespace am::repo::core {
namespace {

using nlohmann::json;
using test::frames_to;

constexpr const char* kGoPeer = "0b0e9a52-6a8c-4b6e-9d55-1f2a3b4c5d6e";  // a v4 UUID

Hub ready_hub(bool accept_go_peers = true) {
  HubConfig c;
  c.peer_id = PeerId("server");
  c.has_storage = false;
  c.policy = answer_requests_only();
  c.session_id = SessionId("s");
  c.accept_go_peers = accept_go_peers;
  Hub hub(std::move(c));
  hub.start(0);
  return hub;
}

Bytes cbor(const json& map) {
  const std::vector<std::uint8_t> b = json::to_cbor(map);
  return Bytes(b.begin(), b.end());
}
Bytes text(const json& map) {
  const std::string s = map.dump();
  return Bytes(s.begin(), s.end());
}
json binary(const Bytes& b) { return json::binary(std::vector<std::uint8_t>(b.begin(), b.end())); }

Bytes empty_sync_message() {
  Document empty;
  SyncState state;
  return *generate_sync_message(empty, state);
}

DocumentId some_document() {
  DocumentId::Raw raw{};
  raw[0] = 7;
  return DocumentId::uuid_v4(raw);
}

// A hub with one Go peer connected in `dialect` (its join sent, the answer checked).
struct GoConnection {
  Hub hub = ready_hub();
  ConnectionId c = 0;
  json answer;

  explicit GoConnection(wire::Dialect dialect) {
    c = hub.add_connection(ConnectionRole::kAcceptor, 0);
    const json join = {{"type", "join"}, {"senderId", kGoPeer}};
    hub.receive_frame(c, dialect == wire::Dialect::kGoJson ? text(join) : cbor(join), 1);
    HubEffects e = hub.take_effects();
    const auto out = frames_to(e, c);
    EXPECT_EQ(out.size(), 1u);
    if (out.size() == 1) {
      answer = dialect == wire::Dialect::kGoJson ? json::parse(out[0].begin(), out[0].end())
                                                 : json::from_cbor(out[0].begin(), out[0].end());
    }
    EXPECT_EQ(e.connection_events.size(), 1u);
  }
};

TEST(GoDialect, UuidV5MatchesThePublishedExample) {
  // Python's documentation: uuid.uuid5(uuid.NAMESPACE_DNS, "python.org").
  const std::array<std::uint8_t, 16> dns = {0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
                                            0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8};
  EXPECT_EQ(wire::uuid_v5(dns, "python.org"), "886313e1-3b8a-5372-9b90-0c9aee199e5d");
  EXPECT_EQ(wire::go_peer_alias(PeerId(kGoPeer)).str(), kGoPeer);  // UUID text stays itself
  const std::string alias = wire::go_peer_alias(PeerId("server")).str();
  EXPECT_EQ(alias, wire::uuid_v5(wire::kUuidNamespaceOid, "server"));
  EXPECT_EQ(alias[14], '5');
}

TEST(GoDialect, AGoJoinIsAnsweredInItsDialectWithOurUuidAlias) {
  GoConnection go(wire::Dialect::kGoCbor);
  // Exactly what the port's handshake reads: a type and a senderId it can parse as a UUID.
  EXPECT_EQ(go.answer, (json{{"type", "peer"}, {"senderId", wire::go_peer_alias(PeerId("server")).str()}}));
  const auto peers = go.hub.peers();
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_EQ(peers[0].peer_id.str(), kGoPeer);
  EXPECT_TRUE(peers[0].is_ephemeral);
}

TEST(GoDialect, ASyncNamingADocumentByUuidReachesItsActor) {
  GoConnection go(wire::Dialect::kGoCbor);
  const DocumentId doc = some_document();
  const Bytes data = empty_sync_message();
  go.hub.receive_frame(go.c,
                       cbor({{"type", "sync"},
                             {"senderId", kGoPeer},
                             {"targetId", wire::go_peer_alias(PeerId("server")).str()},
                             {"documentId", doc.to_uuid_string()},
                             {"message", binary(data)}}),
                       2);
  HubEffects e = go.hub.take_effects();
  EXPECT_TRUE(e.dropped.empty()) << e.dropped.front();
  EXPECT_TRUE(e.legacy_uuid_document_id);
  ASSERT_EQ(e.to_actors.size(), 3u);  // spawn, network state, the message
  EXPECT_EQ(e.to_actors[0].kind, ToActor::Kind::kSpawn);
  EXPECT_EQ(e.to_actors[0].document, doc);
  const ToActor& delivery = e.to_actors.back();
  ASSERT_EQ(delivery.kind, ToActor::Kind::kMessage);
  const auto* sync = std::get_if<wire::SyncMessage>(&*delivery.message);
  ASSERT_NE(sync, nullptr);
  EXPECT_EQ(sync->data, data);
  EXPECT_EQ(sync->target_id.str(), "server");  // the alias was ours
  EXPECT_EQ(sync->sender_id.str(), kGoPeer);
}

TEST(GoDialect, WhatWeSendAGoPeerIsWhatItReadsAndNothingElse) {
  GoConnection go(wire::Dialect::kGoCbor);
  const DocumentId doc = some_document();
  const Bytes data = empty_sync_message();
  go.hub.send(wire::SyncMessage{PeerId("server"), PeerId(kGoPeer), doc, data});
  go.hub.send(wire::RequestMessage{PeerId("server"), PeerId(kGoPeer), doc, data});
  go.hub.send(wire::DocUnavailableMessage{PeerId("server"), PeerId(kGoPeer), doc});
  go.hub.send(wire::EphemeralMessage{PeerId("js-client"), PeerId(kGoPeer), doc, 3, SessionId("x"), Bytes{1, 2}});
  HubEffects e = go.hub.take_effects();
  const auto out = frames_to(e, go.c);
  ASSERT_EQ(out.size(), 3u);
  const json expected_sync = {{"type", "sync"},
                              {"senderId", wire::go_peer_alias(PeerId("server")).str()},
                              {"targetId", kGoPeer},
                              {"documentId", doc.to_uuid_string()},
                              {"message", binary(data)}};
  EXPECT_EQ(json::from_cbor(out[0].begin(), out[0].end()), expected_sync);
  EXPECT_EQ(json::from_cbor(out[1].begin(), out[1].end()), expected_sync);  // a request is a sync there
  const json ephemeral = json::from_cbor(out[2].begin(), out[2].end());
  EXPECT_EQ(ephemeral["type"], "ephemeral");
  EXPECT_EQ(ephemeral["senderId"], wire::go_peer_alias(PeerId("js-client")).str());  // relayed: the originator
  EXPECT_EQ(ephemeral["message"], binary(Bytes{1, 2}));
  EXPECT_FALSE(ephemeral.contains("count"));
  ASSERT_EQ(e.dropped.size(), 1u);
  EXPECT_NE(e.dropped[0].find("doc-unavailable message, which it cannot read"), std::string::npos) << e.dropped[0];
}

TEST(GoDialect, TheFirstVersionsJsonFramingIsSpokenBack) {
  GoConnection go(wire::Dialect::kGoJson);
  EXPECT_EQ(go.answer, (json{{"type", "peer"}, {"senderId", wire::go_peer_alias(PeerId("server")).str()}}));
  const DocumentId doc = some_document();
  const Bytes data = empty_sync_message();
  go.hub.receive_frame(go.c,
                       text({{"type", "sync"},
                             {"senderId", kGoPeer},
                             {"targetId", wire::go_peer_alias(PeerId("server")).str()},
                             {"documentId", doc.to_uuid_string()},
                             {"message", ::am::core::base64(data)}}),
                       2);
  HubEffects e = go.hub.take_effects();
  ASSERT_FALSE(e.to_actors.empty());
  const auto* sync = std::get_if<wire::SyncMessage>(&*e.to_actors.back().message);
  ASSERT_NE(sync, nullptr);
  EXPECT_EQ(sync->data, data);
  go.hub.send(wire::SyncMessage{PeerId("server"), PeerId(kGoPeer), doc, data});
  const auto out = frames_to(go.hub.take_effects(), go.c);
  ASSERT_EQ(out.size(), 1u);
  const json back = json::parse(out[0].begin(), out[0].end());
  EXPECT_EQ(back["message"], ::am::core::base64(data));
  EXPECT_EQ(back["documentId"], doc.to_uuid_string());
}

TEST(GoDialect, EphemeralMessagesAreNumberedPerConnectionSoNoneIsTakenForADuplicate) {
  GoConnection go(wire::Dialect::kGoCbor);
  const DocumentId doc = some_document();
  go.hub.open_document(doc, 1);
  (void)go.hub.take_effects();
  const json ephemeral = {{"type", "ephemeral"}, {"senderId", kGoPeer}, {"targetId", "server"},
                          {"documentId", doc.to_uuid_string()}, {"message", binary(Bytes{9})}};
  go.hub.receive_frame(go.c, cbor(ephemeral), 2);
  go.hub.receive_frame(go.c, cbor(ephemeral), 3);  // the same bytes again: a new message for Go
  HubEffects e = go.hub.take_effects();
  std::vector<std::uint64_t> counts;
  EXPECT_TRUE(e.closes.empty());
  for (const ToActor& t : e.to_actors) {
    if (const auto* m = t.message ? std::get_if<wire::EphemeralMessage>(&*t.message) : nullptr) {
      counts.push_back(m->count);
      EXPECT_EQ(m->session_id.str(), "go-connection-" + std::to_string(go.c));
    }
  }
  EXPECT_EQ(counts, (std::vector<std::uint64_t>{1, 2}));
}

// The runtime hands the hub messages it already encoded for current peers (on the document's
// strand): a current peer gets those bytes, a Go peer still gets its own dialect.
TEST(GoDialect, APreEncodedMessageGoesAsIsToCurrentPeersAndInTheirDialectToGoPeers) {
  GoConnection go(wire::Dialect::kGoCbor);
  const ConnectionId current = go.hub.add_connection(ConnectionRole::kAcceptor, 2);
  go.hub.receive_frame(current, wire::encode(wire::JoinMessage{PeerId("js-client"), wire::PeerMetadata{}, std::vector<std::string>{"1"}}), 3);
  (void)go.hub.take_effects();
  const DocumentId doc = some_document();
  const wire::SyncMessage to_js{PeerId("server"), PeerId("js-client"), doc, empty_sync_message()};
  const wire::SyncMessage to_go{PeerId("server"), PeerId(kGoPeer), doc, empty_sync_message()};
  const Bytes encoded = wire::encode(to_js);
  go.hub.send(to_js, encoded);
  go.hub.send(to_go, wire::encode(to_go));
  HubEffects e = go.hub.take_effects();
  EXPECT_EQ(frames_to(e, current), std::vector<Bytes>{encoded});
  const auto out = frames_to(e, go.c);
  ASSERT_EQ(out.size(), 1u);
  const json got = json::from_cbor(out[0].begin(), out[0].end());
  EXPECT_EQ(got.value("type", ""), "sync");
  EXPECT_EQ(got.value("senderId", ""), wire::go_peer_alias(PeerId("server")).str());  // re-encoded for Go
  EXPECT_TRUE(got.contains("message"));
}

TEST(GoDialect, CurrentPeersAndADisabledHubKeepTheCurrentDialect) {
  {  // A current join from a peer whose id happens to be UUID text.
    Hub hub = ready_hub();
    const ConnectionId c = hub.add_connection(ConnectionRole::kAcceptor, 0);
    hub.receive_frame(c, wire::encode(wire::JoinMessage{PeerId(kGoPeer), wire::PeerMetadata{}, std::vector<std::string>{"1"}}), 1);
    const auto out = frames_to(hub.take_effects(), c);
    ASSERT_EQ(out.size(), 1u);
    auto peer = wire::decode(out[0]);
    ASSERT_TRUE(peer);
    ASSERT_TRUE(std::holds_alternative<wire::PeerMessage>(*peer));
    EXPECT_EQ(std::get<wire::PeerMessage>(*peer).selected_protocol_version, "1");
  }
  {  // accept_go_peers off: a Go join is taken as a current one; its `message` frames then fail.
    Hub hub = ready_hub(/*accept_go_peers=*/false);
    const ConnectionId c = hub.add_connection(ConnectionRole::kAcceptor, 0);
    hub.receive_frame(c, cbor({{"type", "join"}, {"senderId", kGoPeer}}), 1);
    const auto out = frames_to(hub.take_effects(), c);
    ASSERT_EQ(out.size(), 1u);
    ASSERT_TRUE(wire::decode(out[0]));
    hub.receive_frame(c, cbor({{"type", "sync"}, {"senderId", kGoPeer}, {"targetId", "server"},
                               {"documentId", some_document().to_uuid_string()}, {"message", binary(Bytes{1})}}),
                      2);
    HubEffects e = hub.take_effects();
    ASSERT_EQ(e.closes.size(), 1u);
  }
}

TEST(GoDialect, HostileJsonIsRefusedWithAReason) {
  wire::DecodeLimits limits;
  limits.max_depth = 8;
  const std::string deep = "{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}";
  auto r = wire::decode_go(Bytes(deep.begin(), deep.end()), wire::Dialect::kGoJson, limits);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kResourceLimit);
  const std::string bad64 = R"({"type":"sync","senderId":"a","targetId":"b","documentId":"x","message":"@@@"})";
  r = wire::decode_go(Bytes(bad64.begin(), bad64.end()), wire::Dialect::kGoJson, limits);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("base64"), std::string::npos) << r.error().message;
  const std::string cut = R"({"type":"join","senderId":)";
  EXPECT_FALSE(wire::decode_go(Bytes(cut.begin(), cut.end()), wire::Dialect::kGoJson, limits));
}

TEST(GoDialect, DiallingAGoServerAcceptsItsBarePeerAnswer) {
  Hub hub = ready_hub();
  const ConnectionId c = hub.add_connection(ConnectionRole::kInitiator, 0);
  (void)hub.take_effects();  // our join
  hub.receive_frame(c, cbor({{"type", "peer"}, {"senderId", kGoPeer}}), 1);
  HubEffects e = hub.take_effects();
  ASSERT_EQ(e.connection_events.size(), 1u);
  EXPECT_EQ(e.connection_events[0].kind, ConnectionEvent::Kind::kEstablished);
  hub.send(wire::SyncMessage{PeerId("server"), PeerId(kGoPeer), some_document(), Bytes{1}});
  const auto out = frames_to(hub.take_effects(), c);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(json::from_cbor(out[0].begin(), out[0].end()).contains("message"));
}

}  // namespace
}  // namespace am::repo::core
