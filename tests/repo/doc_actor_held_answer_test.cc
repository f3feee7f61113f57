// DocActor driven by hand (a second interleaving, from the cluster work): a peer that answers
// while our reply waits for the durable save must still get that reply.
#include <gtest/gtest.h>

#include <variant>

#include "am/sync.h"
#include "repo/core/doc_actor.h"

namespace am::repo::core {
namespace {

// A server's actor for one document with storage and durable acknowledgements; storage tasks
// are held until complete_storage().
struct Server {
  std::unique_ptr<DocActor> actor;
  std::vector<StorageTask> held;
  std::vector<wire::Message> sent;

  void take() {
    DocEffects e = actor->take_effects();
    for (auto& t : e.storage) held.push_back(std::move(t));
    for (auto& m : e.outgoing) sent.push_back(std::move(m));
  }
  void complete_storage(Millis now) {
    while (!held.empty()) {
      std::vector<StorageTask> tasks = std::move(held);
      held.clear();
      for (auto& t : tasks) {
        StorageOutcome out;
        out.id = t.id;
        actor->storage_done(std::move(out), now);
        take();
      }
    }
  }
};

// The data of every sync message the server sent since the last call.
std::vector<Bytes> take_sync(Server& s) {
  std::vector<Bytes> out;
  for (auto& m : s.sent) {
    if (auto* sm = std::get_if<wire::SyncMessage>(&m)) out.push_back(sm->data);
  }
  s.sent.clear();
  return out;
}

// A client sends a change, then (before the server's durable save of it completed, so before
// any answer) a message without changes whose heads equal the server's: the sync protocol's
// "they know our heads" shortcut must not swallow the held-back answer, or the client never
// learns that the server has its change (DocHandle::wait_synced times out; seen with three
// servers fanning out through PostgreSQL).
TEST(DocActor, HeldBackAnswerIsSentEvenIfThePeerRepliedMeanwhile) {
  const DocumentId id = DocumentId::random();
  const PeerId server_id("server"), client_id("client");
  DocActorConfig config;
  config.document_id = id;
  config.self = server_id;
  config.policy = answer_requests_only();
  // Fixed actors and commit times (a fixed clock, which the fork keeps) make every change hash,
  // and so every Bloom filter of the protocol, the same in every run.
  Document initial;
  initial.set_actor(*ActorId::from_hex("aaaa"));
  initial.set_commit_clock([] { return std::int64_t{0}; });
  ASSERT_TRUE(initial.put(ObjId::root(), "n", std::int64_t{0}));
  initial.commit();
  Document client = initial.fork();
  client.set_actor(*ActorId::from_hex("bbbb"));
  Millis now = 0;
  Server s;
  s.actor = DocActor::create(config, std::move(initial), now);
  s.take();
  s.complete_storage(now);
  s.actor->add_peer(PeerInfo{client_id, std::nullopt, true, ""}, now);
  s.take();
  SyncState cs;  // the client's state for the server
  auto client_to_server = [&](const Bytes& data) {
    s.actor->receive(client_id, wire::SyncMessage{client_id, server_id, id, data}, ++now);
    s.take();
  };
  // Sync to a steady state.
  for (int round = 0; round < 10; ++round) {
    if (auto m = generate_sync_message(client, cs)) client_to_server(*m);
    s.complete_storage(now);
    for (const auto& data : take_sync(s)) ASSERT_TRUE(receive_sync_message(client, cs, data));
  }
  ASSERT_EQ(cs.their_heads, client.heads());

  // The server changes the document; its message to the client is still on the way when the
  // client makes a change of its own and sends it.
  ASSERT_TRUE(s.actor->document().put(ObjId::root(), "server", true));
  const auto before = s.actor->document().heads();
  s.actor->document().commit();
  s.actor->local_change(before, ++now);
  s.take();
  const std::vector<Bytes> in_transit = take_sync(s);
  ASSERT_EQ(in_transit.size(), 1u);
  ASSERT_TRUE(client.put(ObjId::root(), "client", true));
  client.commit();
  auto with_change = generate_sync_message(client, cs);
  ASSERT_TRUE(with_change);
  client_to_server(*with_change);
  EXPECT_TRUE(take_sync(s).empty()) << "no answer before the change is saved";
  // The client receives the server's change and answers: no changes (it sent its own already),
  // heads equal to the server's now.
  ASSERT_TRUE(receive_sync_message(client, cs, in_transit[0]));
  auto answer = generate_sync_message(client, cs);
  ASSERT_TRUE(answer);
  ASSERT_TRUE(SyncMessage::decode(*answer)->changes.empty());
  ASSERT_EQ(SyncMessage::decode(*answer)->heads, s.actor->document().heads());
  client_to_server(*answer);
  // The save completes: the held-back answer goes out and tells the client our heads.
  s.complete_storage(now);
  const std::vector<Bytes> answers = take_sync(s);
  ASSERT_FALSE(answers.empty()) << "the acknowledgement of the client's change was never sent";
  for (const auto& data : answers) ASSERT_TRUE(receive_sync_message(client, cs, data));
  EXPECT_EQ(cs.their_heads, client.heads());
  EXPECT_EQ(client.heads(), s.actor->document().heads());
}

}  // namespace
}  // namespace am::repo::core
