// The document actor alone (sans-IO): its storage tasks are completed by hand, so the order of
// saves and messages is chosen exactly.
#include <gtest/gtest.h>

#include <map>

#include "am/repo/share_policy.h"
#include "am/sync.h"
#include "repo/core/doc_actor.h"

namespace am::repo::core {
namespace {

// A server-side actor (with storage, durable acks) and several clients, each an am::Document
// with its sync state; storage tasks complete when run() says so.
struct ServerAndClients {
  struct Client {
    Document doc;
    SyncState state;
  };
  const PeerId server_id{"server"};
  std::unique_ptr<DocActor> server;
  std::map<PeerId, Client> clients;
  bool hold_saves = false;
  std::vector<TaskId> held;

  explicit ServerAndClients(const std::vector<std::string>& names) {
    // Fixed actors, document id and commit time (forks keep the clock): the same hashes, Bloom
    // filters and messages in every run.
    DocumentOptions options{*ActorId::from_hex("00aa"), TextUnit::kUtf16};
    options.commit_clock = [] { return std::int64_t{0}; };
    Document initial(options);
    (void)initial.put(ObjId::root(), "n", std::int64_t{0});
    initial.commit();
    DocActorConfig config;
    config.document_id = *DocumentId::parse("42gwUifH6GMMHGEo9x2GKgHGRP1u");
    config.self = server_id;
    config.policy = share_everything();
    for (std::size_t i = 0; i < names.size(); ++i) {
      clients[PeerId{names[i]}].doc = initial.fork(*ActorId::from_hex("0" + std::to_string(i + 1) + "bb"));
    }
    server = DocActor::create(config, std::move(initial), 0);
    for (const auto& name : names) server->add_peer(PeerInfo{PeerId{name}, std::nullopt, true, {}}, 0);
  }
  // Runs the actor's storage tasks (saves held while hold_saves) and returns its sync messages
  // by target.
  std::map<PeerId, std::vector<Bytes>> run() {
    std::map<PeerId, std::vector<Bytes>> out;
    for (int round = 0; round < 100; ++round) {
      DocEffects e = server->take_effects();
      for (auto& m : e.outgoing) {
        if (auto* sm = std::get_if<wire::SyncMessage>(&m)) out[sm->target_id].push_back(sm->data);
      }
      if (e.storage.empty()) break;
      for (const StorageTask& t : e.storage) {
        if (t.kind == StorageTask::Kind::kSave && hold_saves) {
          held.push_back(t.id);
          continue;
        }
        server->storage_done(StorageOutcome{t.id, {}, std::nullopt, {}}, 0);
      }
    }
    return out;
  }
  void release_saves() {
    hold_saves = false;
    for (TaskId t : held) server->storage_done(StorageOutcome{t, {}, std::nullopt, {}}, 0);
    held.clear();
  }
  void deliver(const std::map<PeerId, std::vector<Bytes>>& messages) {
    for (const auto& [to, list] : messages) {
      for (const Bytes& m : list) ASSERT_TRUE(receive_sync_message(clients.at(to).doc, clients.at(to).state, m));
    }
  }
  // A sync message with these bytes from `from`, as the hub delivers it.
  void receive(const PeerId& from, const Bytes& data, bool more_coming = false) {
    server->receive(from, wire::SyncMessage{from, server_id, server->document_id(), data}, 0, more_coming);
  }
  // The client's next sync message to the server, if it has one.
  bool send(const PeerId& from, bool more_coming = false) {
    Client& c = clients.at(from);
    auto m = generate_sync_message(c.doc, c.state);
    if (!m) return false;
    receive(from, *m, more_coming);
    return true;
  }
  void settle() {
    for (int round = 0; round < 20; ++round) {
      deliver(run());
      bool quiet = true;
      for (auto& [name, c] : clients) quiet &= !send(name);
      if (quiet) return;
    }
    FAIL() << "the sync did not settle";
  }
  void edit(const PeerId& who, std::int64_t value) {
    (void)clients.at(who).doc.put(ObjId::root(), "n" + who.str(), value);
    clients.at(who).doc.commit();
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
  const PeerId client_id{"client"};
  ServerAndClients s({"client"});
  Document& client = s.clients.at(client_id).doc;
  SyncState& client_state = s.clients.at(client_id).state;
  s.settle();
  ASSERT_EQ(s.server->document().heads(), client.heads());

  (void)client.put(ObjId::root(), "n", std::int64_t{1});
  client.commit();
  auto generated = generate_sync_message(client, client_state);
  ASSERT_TRUE(generated);
  // The change itself, whatever the server's Bloom filter made the client think.
  auto with_change = SyncMessage::decode(*generated);
  ASSERT_TRUE(with_change);
  auto change = client.get_change_by_hash(client.heads().at(0));
  ASSERT_TRUE(change);
  with_change->changes = {*change};
  s.hold_saves = true;
  s.receive(client_id, with_change->encode());
  EXPECT_TRUE(s.run()[client_id].empty()) << "no answer before the change is on disk";
  ASSERT_EQ(s.held.size(), 1u);

  // The same heads again, without changes.
  SyncMessage repeat = *with_change;
  repeat.changes.clear();
  s.receive(client_id, repeat.encode());
  EXPECT_TRUE(s.run()[client_id].empty());

  s.release_saves();
  const std::vector<Bytes> answers = s.run()[client_id];
  ASSERT_FALSE(answers.empty()) << "the server never answered: the client waits forever";
  auto answer = SyncMessage::decode(answers.back());
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->heads, client.heads());
  for (const Bytes& m : answers) ASSERT_TRUE(receive_sync_message(client, client_state, m));
  ASSERT_TRUE(client_state.their_heads);
  EXPECT_EQ(*client_state.their_heads, client.heads());
  s.settle();
}

// A change from one peer reaches the document's other peers before it is on disk; only the
// answer to its author (which acknowledges it) waits for the durable save. Holding everyone's
// messages would add a disk flush to every fan-out (p50 0.7 ms -> 3.2 ms, p99 1.4 -> 25 ms with
// 100 clients on 10 documents: `amrepo bench clients`).
TEST(DocActor, OtherPeersGetAChangeBeforeItsDurableSaveAndItsAuthorAfter) {
  const PeerId writer{"writer"}, reader{"reader"};
  ServerAndClients s({"writer", "reader"});
  s.settle();
  ASSERT_EQ(s.clients.at(reader).doc.heads(), s.server->document().heads());

  s.edit(writer, 1);
  s.hold_saves = true;
  ASSERT_TRUE(s.send(writer));
  auto before_save = s.run();
  ASSERT_EQ(s.held.size(), 1u) << "the change is being saved";
  EXPECT_TRUE(before_save[writer].empty()) << "no acknowledgement before the change is on disk";
  ASSERT_FALSE(before_save[reader].empty()) << "the reader was not sent the change";
  s.deliver(before_save);
  EXPECT_EQ(s.clients.at(reader).doc.heads(), s.clients.at(writer).doc.heads());

  s.release_saves();
  auto after_save = s.run();
  ASSERT_FALSE(after_save[writer].empty()) << "the author is answered once the save completed";
  s.deliver(after_save);
  ASSERT_TRUE(s.clients.at(writer).state.their_heads);
  EXPECT_EQ(*s.clients.at(writer).state.their_heads, s.clients.at(writer).doc.heads());
}

// Each author is answered by the first save that covers its own change, not only by a save
// that caught up with every change: a document receiving changes faster than it saves never
// catches up, and its authors used to wait until the edits stopped (1,000 editors on 100
// documents: p99 57 s, docs/benchmarks.md).
TEST(DocActor, AnAuthorIsAnsweredOnceASaveCoversItsChangeWhileLaterChangesStillWait) {
  const PeerId a{"a"}, b{"b"};
  ServerAndClients s({"a", "b"});
  s.settle();
  s.edit(a, 1);
  s.hold_saves = true;
  ASSERT_TRUE(s.send(a));
  auto out = s.run();
  ASSERT_EQ(s.held.size(), 1u) << "a's change is being saved";
  EXPECT_TRUE(out[a].empty());
  s.deliver(out);
  s.edit(b, 2);
  ASSERT_TRUE(s.send(b));
  out = s.run();
  EXPECT_TRUE(out[b].empty()) << "b's answer waits for a save of its change";
  ASSERT_EQ(s.held.size(), 1u) << "one save at a time";
  s.deliver(out);

  // The first save completes; it holds a's change but not b's.
  const TaskId first = s.held.front();
  s.held.clear();
  s.server->storage_done(StorageOutcome{first, {}, std::nullopt, {}}, 0);
  out = s.run();
  EXPECT_FALSE(out[a].empty()) << "a's change is on disk: a is answered";
  EXPECT_TRUE(out[b].empty()) << "b's change is not on disk yet";
  ASSERT_EQ(s.held.size(), 1u) << "a second save covers b's change";
  s.deliver(out);

  s.release_saves();
  out = s.run();
  EXPECT_FALSE(out[b].empty()) << "b is answered once its change is saved";
  s.deliver(out);
  s.settle();
  EXPECT_EQ(s.clients.at(a).doc.heads(), s.server->document().heads());
  EXPECT_EQ(s.clients.at(b).doc.heads(), s.server->document().heads());
}

// Messages queued behind one another (more_coming) are answered once, after the last: a
// server that fell behind catches up with one round of messages instead of one per message.
// And a message that changed nothing is answered to its sender only.
TEST(DocActor, QueuedMessagesAreAnsweredOnceAfterTheLast) {
  const PeerId a{"a"}, b{"b"}, reader{"reader"};
  ServerAndClients s({"a", "b", "reader"});
  s.settle();
  s.edit(a, 1);
  s.edit(b, 2);
  s.hold_saves = true;  // a completed save would release (send) what was deferred
  ASSERT_TRUE(s.send(a, /*more_coming=*/true));
  EXPECT_TRUE(s.run().empty()) << "nothing is sent while more messages are queued";
  ASSERT_TRUE(s.send(b, /*more_coming=*/false));
  auto answers = s.run();
  ASSERT_EQ(answers[reader].size(), 1u) << "one message carries both changes to the reader";
  EXPECT_TRUE(answers[a].empty() && answers[b].empty()) << "their acknowledgements wait for the save";
  s.deliver(answers);
  EXPECT_EQ(s.clients.at(reader).doc.heads(), s.server->document().heads());
  s.release_saves();
  answers = s.run();
  EXPECT_EQ(answers[a].size(), 1u);
  EXPECT_EQ(answers[b].size(), 1u);
  s.deliver(answers);
  s.settle();

  // A change-less message (nothing new for anyone) is answered only to its sender, if at all.
  s.edit(reader, 3);
  ASSERT_TRUE(s.send(reader));
  s.deliver(s.run());
  for (int round = 0; round < 5; ++round) {
    if (!s.send(a)) break;
    auto replies = s.run();
    EXPECT_TRUE(replies[b].empty() && replies[reader].empty()) << "only the sender is answered";
    s.deliver(replies);
  }
}

// Flow control: while changes sent to a peer are unanswered, newer changes wait for its answer
// and go in one message; a peer that never answers gets them after the timeout (1 s), and a
// timeout with nothing new sends nothing.
TEST(DocActor, ChangesWaitForTheAnswerToTheLastChangesOrTheTimeout) {
  const PeerId writer{"writer"}, slow{"slow"};
  ServerAndClients s({"writer", "slow"});
  s.settle();
  s.edit(writer, 1);
  ASSERT_TRUE(s.send(writer));
  auto first = s.run();
  ASSERT_EQ(first[slow].size(), 1u) << "the first change goes at once";
  // The slow peer does not answer; two more changes arrive.
  s.deliver({{writer, first[writer]}});
  s.edit(writer, 2);
  ASSERT_TRUE(s.send(writer));
  s.edit(writer, 3);
  ASSERT_TRUE(s.send(writer));
  auto held = s.run();
  EXPECT_TRUE(held[slow].empty()) << "newer changes wait for the slow peer's answer";
  s.server->tick(999);
  EXPECT_TRUE(s.run()[slow].empty()) << "not before the timeout";
  s.server->tick(1000);
  auto after_timeout = s.run();
  ASSERT_EQ(after_timeout[slow].size(), 1u) << "one message with both changes after the timeout";
  s.deliver({{slow, first[slow]}});
  s.deliver({{slow, after_timeout[slow]}});
  EXPECT_EQ(s.clients.at(slow).doc.heads(), s.server->document().heads());
  // Unanswered again, but nothing newer: the next timeout sends nothing.
  s.server->tick(2000);
  EXPECT_TRUE(s.run()[slow].empty());
}

// A document that stays open while peers come and go keeps a bounded number of their sync
// states, and a peer that comes back soon still resumes from its own.
TEST(DocActor, ParkedSyncStatesOfDepartedPeersAreBounded) {
  const PeerId client_id{"client"};
  ServerAndClients s({"client"});
  s.settle();
  const std::size_t visits = DocActor::kMaxParkedSyncStates + 50;
  for (std::size_t i = 0; i < visits; ++i) {
    const PeerId visitor("visitor-" + std::to_string(i));
    s.server->add_peer(PeerInfo{visitor, std::nullopt, true, {}}, 0);
    s.server->remove_peer(visitor, 0);
  }
  (void)s.run();
  EXPECT_EQ(s.server->parked_sync_states(), DocActor::kMaxParkedSyncStates);
  // The client leaves and returns: its state is the newest parked one, so it is still there.
  s.server->remove_peer(client_id, 0);
  const std::size_t parked = s.server->parked_sync_states();
  s.server->add_peer(PeerInfo{client_id, std::nullopt, true, {}}, 0);
  EXPECT_EQ(s.server->parked_sync_states(), parked - 1);
  s.settle();
}

// A parked sync state is kept for its lifetime only: the next departure after it ran out forgets
// it, as does a tick. A peer that returns before resumes from it. No timer is asked for: it would
// keep an idle document in memory.
TEST(DocActor, ParkedSyncStatesExpireAfterTheirLifetime) {
  constexpr Millis kLifetime = DocActor::kParkedSyncStateLifetimeMs;
  ServerAndClients s({"client"});
  s.settle();
  const PeerId early("early"), late("late");
  s.server->add_peer(PeerInfo{early, std::nullopt, true, {}}, 0);
  s.server->remove_peer(early, 0);
  s.server->add_peer(PeerInfo{late, std::nullopt, true, {}}, 1000);
  s.server->remove_peer(late, 1000);
  (void)s.run();
  ASSERT_EQ(s.server->parked_sync_states(), 2u);
  s.server->tick(kLifetime - 1);  // whatever else was due (flow control) is done by now
  (void)s.run();
  EXPECT_EQ(s.server->parked_sync_states(), 2u);
  EXPECT_FALSE(s.server->take_effects().wake_at) << "no wake for parked states";
  // Another peer leaves once the first state has run out: that one is forgotten.
  const PeerId leaver("leaver");
  s.server->add_peer(PeerInfo{leaver, std::nullopt, true, {}}, kLifetime);
  s.server->remove_peer(leaver, kLifetime);
  EXPECT_EQ(s.server->parked_sync_states(), 2u) << "late and leaver; early expired";
  s.server->tick(kLifetime + 1000);
  EXPECT_EQ(s.server->parked_sync_states(), 1u) << "late expired at the tick";
  s.server->add_peer(PeerInfo{leaver, std::nullopt, true, {}}, kLifetime + 1000);
  EXPECT_EQ(s.server->parked_sync_states(), 0u) << "leaver resumed in time";
}

// A server that does not announce is told of a peer only by its first message (the hub adds
// no peer to documents it never asks about). With a persisted sync state, the message waits
// for that state to load and is then answered on top of it.
TEST(DocActor, AnUnannouncedPeerIsMetByItsFirstMessageAfterItsSyncStateLoads) {
  Document initial(DocumentOptions{*ActorId::from_hex("00aa"), TextUnit::kUtf16});
  (void)initial.put(ObjId::root(), "n", std::int64_t{1});
  initial.commit();
  DocActorConfig config;
  config.document_id = *DocumentId::parse("42gwUifH6GMMHGEo9x2GKgHGRP1u");
  config.self = PeerId("server");
  config.policy = answer_requests_only();
  auto server = DocActor::create(config, initial.fork(*ActorId::from_hex("00bb")), 0);
  for (const StorageTask& t : server->take_effects().storage) server->storage_done(StorageOutcome{t.id, {}, std::nullopt, {}}, 0);
  (void)server->take_effects();
  EXPECT_TRUE(server->peers().empty());

  const PeerInfo client{PeerId("client"), StorageId("client-store"), false, {}};
  Document client_doc;
  SyncState client_state;
  const Bytes first = *generate_sync_message(client_doc, client_state);
  server->receive(client, wire::RequestMessage{client.peer_id, config.self, config.document_id, first}, 1);
  DocEffects loading = server->take_effects();
  EXPECT_TRUE(loading.outgoing.empty()) << "no answer before the stored sync state is read";
  ASSERT_EQ(loading.storage.size(), 1u);
  EXPECT_EQ(loading.storage[0].kind, StorageTask::Kind::kLoad);
  EXPECT_EQ(loading.storage[0].key, (StorageKey{config.document_id.to_string(), "sync-state", "client-store"}));
  ASSERT_EQ(server->peers().size(), 1u);

  server->storage_done(StorageOutcome{loading.storage[0].id, {}, std::nullopt, {}}, 2);  // nothing stored
  DocEffects answered = server->take_effects();
  ASSERT_EQ(answered.outgoing.size(), 1u);
  const auto* reply = std::get_if<wire::SyncMessage>(&answered.outgoing[0]);
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(reply->target_id, client.peer_id);
  ASSERT_TRUE(receive_sync_message(client_doc, client_state, reply->data));
  // The client ends with the document after the usual rounds.
  for (int round = 0; round < 10 && client_doc.heads() != server->document().heads(); ++round) {
    auto m = generate_sync_message(client_doc, client_state);
    if (!m) break;
    server->receive(client, wire::SyncMessage{client.peer_id, config.self, config.document_id, *m}, 3);
    DocEffects e = server->take_effects();
    for (const StorageTask& t : e.storage) server->storage_done(StorageOutcome{t.id, {}, std::nullopt, {}}, 3);
    DocEffects after = server->take_effects();
    for (const DocEffects* effects : {&e, &after}) {
      for (const auto& out : effects->outgoing) {
        if (const auto* sm = std::get_if<wire::SyncMessage>(&out)) {
          ASSERT_TRUE(receive_sync_message(client_doc, client_state, sm->data));
        }
      }
    }
  }
  EXPECT_EQ(client_doc.heads(), server->document().heads());
}

// The share policy changed (Hub::share_policy_changed sends kPeerAdded for a peer the actor
// knows): the actor reads the policy for it again, keeping its sync state. A peer no longer
// given access stops being synced; given it again, it is synced again (JS endSync/beginSync).
class FlippedPolicy : public SharePolicy {
 public:
  bool announce(const PeerId&, const DocumentId&) const override { return allowed; }
  bool access(const PeerId&, const DocumentId&) const override { return allowed; }
  bool allowed = true;
};

TEST(DocActor, AddingAKnownPeerAgainReadsTheSharePolicyAgain) {
  auto policy = std::make_shared<FlippedPolicy>();
  Document initial;
  (void)initial.put(ObjId::root(), "n", std::int64_t{1});
  initial.commit();
  DocActorConfig config;
  config.document_id = DocumentId::uuid_v4({});
  config.self = PeerId("self");
  config.policy = policy;
  config.has_storage = false;
  auto actor = DocActor::create(config, std::move(initial), 0);
  const PeerInfo peer{PeerId("p"), std::nullopt, true, {}};
  actor->add_peer(peer, 0);
  auto active = [&] {
    for (const auto& p : actor->peers()) {
      if (p.peer == peer.peer_id) return p.active;
    }
    return false;
  };
  EXPECT_TRUE(active());
  // One exchange, so the actor knows the peer's heads.
  DocEffects offer = actor->take_effects();
  ASSERT_FALSE(offer.outgoing.empty());  // it offers the document
  Document theirs;
  SyncState their_state;
  for (const auto& m : offer.outgoing) {
    if (const auto* sm = std::get_if<wire::SyncMessage>(&m)) {
      ASSERT_TRUE(receive_sync_message(theirs, their_state, sm->data));
    }
  }
  auto reply = generate_sync_message(theirs, their_state);
  ASSERT_TRUE(reply);
  actor->receive(peer.peer_id, wire::SyncMessage{peer.peer_id, config.self, config.document_id, *reply}, 0);
  (void)actor->take_effects();
  auto their_heads = [&]() -> std::optional<std::vector<ChangeHash>> {
    for (const auto& p : actor->peers()) {
      if (p.peer == peer.peer_id) return p.their_heads;
    }
    return std::nullopt;
  };
  ASSERT_TRUE(their_heads().has_value());
  actor->add_peer(peer, 1);  // re-evaluated, unchanged: the peer's sync state is kept
  EXPECT_TRUE(active());
  EXPECT_TRUE(their_heads().has_value());

  policy->allowed = false;
  actor->add_peer(peer, 1);
  EXPECT_FALSE(active());
  EXPECT_TRUE(actor->take_effects().outgoing.empty());

  policy->allowed = true;
  actor->add_peer(peer, 2);
  EXPECT_TRUE(active());
}

}  // namespace
}  // namespace am::repo::core
