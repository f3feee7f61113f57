// The document actor alone (sans-IO): its storage tasks are completed by hand, so the order of
// saves and messages is chosen exactly.
#include <gtest/gtest.h>

#include "am/repo/share_policy.h"
#include "am/sync.h"
#include "repo/core/doc_actor.h"

namespace am::repo::core {
namespace {

// A server-side actor (with storage, durable acks) and one client: an am::Document and its sync
// state, driven by hand.
struct ServerAndClient {
  const PeerId server_id{"server"};
  const PeerId client_id{"client"};
  std::unique_ptr<DocActor> server;
  Document client;
  SyncState client_state;
  std::vector<TaskId> held_saves;  // writes not completed yet
  bool hold_saves = false;

  ServerAndClient() {
    Document initial;
    (void)initial.put(ObjId::root(), "n", std::int64_t{0});
    initial.commit();
    client = initial.fork();
    DocActorConfig config;
    config.document_id = DocumentId::random();
    config.self = server_id;
    config.policy = share_everything();
    server = DocActor::create(config, std::move(initial), 0);
    server->add_peer(PeerInfo{client_id, std::nullopt, true, {}}, 0);
  }
  // Completes the actor's storage tasks (except held saves) and returns its sync messages'
  // payloads for the client.
  std::vector<Bytes> run_server() {
    std::vector<Bytes> out;
    for (int round = 0; round < 100; ++round) {
      DocEffects e = server->take_effects();
      for (auto& m : e.outgoing) {
        if (auto* s = std::get_if<wire::SyncMessage>(&m)) out.push_back(s->data);
      }
      if (e.storage.empty()) break;
      for (const StorageTask& t : e.storage) {
        if (t.kind == StorageTask::Kind::kSave && hold_saves) {
          held_saves.push_back(t.id);
          continue;
        }
        server->storage_done(StorageOutcome{t.id, {}, std::nullopt, {}}, 0);
      }
    }
    return out;
  }
  void release_saves() {
    hold_saves = false;
    for (TaskId t : held_saves) server->storage_done(StorageOutcome{t, {}, std::nullopt, {}}, 0);
    held_saves.clear();
  }
  void to_server(const Bytes& data) {
    server->receive(client_id, wire::SyncMessage{client_id, server_id, server->document_id(), data}, 0);
  }
  // Exchanges messages until neither side has anything to say.
  void settle() {
    for (int round = 0; round < 50; ++round) {
      bool quiet = true;
      for (const Bytes& m : run_server()) {
        ASSERT_TRUE(receive_sync_message(client, client_state, m));
        quiet = false;
      }
      if (auto m = generate_sync_message(client, client_state)) {
        to_server(*m);
        quiet = false;
      }
      if (quiet) return;
    }
    FAIL() << "the sync did not settle";
  }
};

// While the server's answer to a change waits for the durable save, the client may send a
// change-less message whose heads are the server's new heads (here: when an older reply of the
// server reaches it after its change went out). The Automerge rule then takes the server's
// heads as known to the client (last_sent_heads = their heads), although the server never sent
// them. Once the save completes the server must still answer: the client waits for that answer
// (its message is in flight) and would otherwise never learn that the server has its change
// (seen in ServerResilience.CrashLoop: a writer stuck until it reconnected).
TEST(DocActor, AnswersAfterTheDurableSaveEvenIfThePeerRepeatedItsHeadsMeanwhile) {
  ServerAndClient s;
  s.settle();
  ASSERT_EQ(s.server->document().heads(), s.client.heads());

  (void)s.client.put(ObjId::root(), "n", std::int64_t{1});
  s.client.commit();
  auto generated = generate_sync_message(s.client, s.client_state);
  ASSERT_TRUE(generated);
  // The change itself, whatever the server's Bloom filter made the client think.
  auto with_change = SyncMessage::decode(*generated);
  ASSERT_TRUE(with_change);
  auto change = s.client.get_change_by_hash(s.client.heads().at(0));
  ASSERT_TRUE(change);
  with_change->changes = {*change};
  s.hold_saves = true;
  s.to_server(with_change->encode());
  EXPECT_TRUE(s.run_server().empty()) << "no answer before the change is on disk";
  ASSERT_EQ(s.held_saves.size(), 1u);

  // The same heads again, without changes.
  SyncMessage repeat = *with_change;
  repeat.changes.clear();
  s.to_server(repeat.encode());
  EXPECT_TRUE(s.run_server().empty());

  s.release_saves();
  const std::vector<Bytes> answers = s.run_server();
  ASSERT_FALSE(answers.empty()) << "the server never answered: the client waits forever";
  auto answer = SyncMessage::decode(answers.back());
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->heads, s.client.heads());
  for (const Bytes& m : answers) ASSERT_TRUE(receive_sync_message(s.client, s.client_state, m));
  ASSERT_TRUE(s.client_state.their_heads);
  EXPECT_EQ(*s.client_state.their_heads, s.client.heads());
  s.settle();
}

// A document that stays open while peers come and go keeps a bounded number of their sync
// states, and a peer that comes back soon still resumes from its own.
TEST(DocActor, ParkedSyncStatesOfDepartedPeersAreBounded) {
  ServerAndClient s;
  s.settle();
  const std::size_t visits = DocActor::kMaxParkedSyncStates + 50;
  for (std::size_t i = 0; i < visits; ++i) {
    const PeerId visitor("visitor-" + std::to_string(i));
    s.server->add_peer(PeerInfo{visitor, std::nullopt, true, {}}, 0);
    s.server->remove_peer(visitor, 0);
  }
  (void)s.run_server();
  EXPECT_EQ(s.server->parked_sync_states(), DocActor::kMaxParkedSyncStates);
  // The client leaves and returns: its state is the newest parked one, so it is still there.
  s.server->remove_peer(s.client_id, 0);
  const std::size_t parked = s.server->parked_sync_states();
  s.server->add_peer(PeerInfo{s.client_id, std::nullopt, true, {}}, 0);
  EXPECT_EQ(s.server->parked_sync_states(), parked - 1);
  s.settle();
}

}  // namespace
}  // namespace am::repo::core
