// Scenarios for the sans-IO repo core (hub + document actors) on the deterministic simulated
// network. Each test prints its seed; AM_SIM_SEED=<n> reruns one with another seed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <set>
#include <string>

#include "am/repo/storage.h"
#include "repo/sim/repo_sim.h"

namespace am::repo::sim {
namespace {

std::uint64_t seed_for(std::uint64_t fallback) {
  std::uint64_t seed = fallback;
  if (const char* env = std::getenv("AM_SIM_SEED")) seed = std::strtoull(env, nullptr, 10);
  std::cout << "[ sim seed ] " << seed << "\n";
  return seed;
}

void put_text(Document& doc, const std::string& key, const std::string& value) {
  ASSERT_TRUE(doc.put(ObjId::root(), key, value));
}

std::optional<std::string> get_text(const Document* doc, const std::string& key) {
  if (doc == nullptr) return std::nullopt;
  auto v = doc->get(ObjId::root(), key);
  if (!v || !*v) return std::nullopt;
  if (const auto* s = std::get_if<ScalarValue>(&**v)) {
    if (const auto* str = std::get_if<std::string>(s)) return *str;
  }
  return std::nullopt;
}

template <class T>
std::size_t count_messages(const Sim& sim, int from, int to) {
  std::size_t n = 0;
  for (const auto& m : sim.log()) {
    if ((from < 0 || m.from == from) && (to < 0 || m.to == to) && std::holds_alternative<T>(m.message)) ++n;
  }
  return n;
}

std::shared_ptr<const SharePolicy> servers_announce_to_servers() {
  class Policy final : public SharePolicy {
   public:
    bool announce(const PeerId& peer, const DocumentId&) const override {
      return peer.str().rfind("server", 0) == 0;
    }
    bool access(const PeerId&, const DocumentId&) const override { return true; }
  };
  return std::make_shared<Policy>();
}

TEST(RepoSim, TwoPeersCreateAndFind) {
  Sim sim(seed_for(1));
  const int a = sim.add_peer({"alice"});
  const int b = sim.add_peer({"bob"});
  sim.connect(b, a);
  sim.run();
  const DocumentId id = sim.create(a, [](Document& d) { put_text(d, "title", "hello"); });
  sim.find(b, id);
  sim.run();
  ASSERT_EQ(sim.state(b, id), DocState::kReady);
  EXPECT_EQ(get_text(sim.document(b, id), "title"), "hello");
  EXPECT_EQ(sim.heads(a, id), sim.heads(b, id));

  sim.change(b, id, [](Document& d) { put_text(d, "title", "edited by bob"); });
  sim.run();
  EXPECT_EQ(get_text(sim.document(a, id), "title"), "edited by bob");
  EXPECT_EQ(sim.heads(a, id), sim.heads(b, id));
  EXPECT_EQ(sim.storage_errors(), 0u);
}

TEST(RepoSim, StorageLessPeerFindsWithoutWaitingForStorage) {
  // An ephemeral repo has no storage step: its actor must still wait for the hub's peer list
  // before it may conclude that nobody has the document.
  Sim sim(seed_for(14));
  const int a = sim.add_peer({"a"});
  const int browser = sim.add_peer({"browser", false});
  sim.connect(browser, a);
  sim.run();
  const DocumentId id = sim.create(a, [](Document& d) { put_text(d, "k", "v"); });
  sim.run();
  sim.find(browser, id);
  sim.run();
  EXPECT_EQ(sim.state(browser, id), DocState::kReady);
  const auto& h = sim.state_history(browser, id);
  EXPECT_EQ(std::count(h.begin(), h.end(), DocState::kUnavailable), 0);
}

TEST(RepoSim, ChainFindsAcrossHops) {
  Sim sim(seed_for(2));
  const int a = sim.add_peer({"a"}), b = sim.add_peer({"b"}), c = sim.add_peer({"c"}), d = sim.add_peer({"d"});
  sim.connect(a, b);
  sim.connect(b, c);
  sim.connect(c, d);
  sim.run();
  const DocumentId id = sim.create(d, [](Document& doc) { put_text(doc, "k", "from d"); });
  sim.run();
  sim.find(a, id);
  sim.run();
  ASSERT_EQ(sim.state(a, id), DocState::kReady);
  EXPECT_EQ(get_text(sim.document(a, id), "k"), "from d");
  for (int p : {b, c}) EXPECT_EQ(sim.heads(p, id), sim.heads(d, id)) << sim.name(p);
  EXPECT_EQ(count_messages<wire::DocUnavailableMessage>(sim, -1, -1), 0u);
  // Nobody was ever declared unavailable on the way.
  for (int p : {a, b, c}) {
    const auto& h = sim.state_history(p, id);
    EXPECT_EQ(std::count(h.begin(), h.end(), DocState::kUnavailable), 0) << sim.name(p);
  }
}

TEST(RepoSim, StarWithSyncServer) {
  Sim sim(seed_for(3));
  const int server = sim.add_peer({"server", true, answer_requests_only()});
  std::vector<int> clients;
  for (int i = 0; i < 5; ++i) {
    clients.push_back(sim.add_peer({"client-" + std::to_string(i)}));
    sim.connect(clients.back(), server);
  }
  sim.run();
  const DocumentId id = sim.create(clients[0], [](Document& d) { put_text(d, "k", "v0"); });
  sim.run();
  ASSERT_EQ(sim.state(server, id), DocState::kReady) << "the client pushes its new document";
  for (int i = 1; i < 5; ++i) sim.find(clients[static_cast<std::size_t>(i)], id);
  sim.run();
  for (int c : clients) {
    ASSERT_EQ(sim.state(c, id), DocState::kReady) << sim.name(c);
    EXPECT_EQ(sim.heads(c, id), sim.heads(clients[0], id));
  }
  sim.change(clients[2], id, [](Document& d) { put_text(d, "k", "v2"); });
  sim.run();
  for (int c : clients) EXPECT_EQ(get_text(sim.document(c, id), "k"), "v2") << sim.name(c);
  // announce=false: the server only answers, it never asks or pushes first.
  EXPECT_EQ(count_messages<wire::RequestMessage>(sim, server, -1), 0u);
  // The server persisted the document.
  auto stored = sim.storage(server).load_range({id.to_string(), "snapshot"});
  ASSERT_TRUE(stored);
  EXPECT_FALSE(stored->empty());
}

TEST(RepoSim, ThreeChainedServers) {
  Sim sim(seed_for(4));
  const auto policy = servers_announce_to_servers();
  const int s1 = sim.add_peer({"server-1", true, policy});
  const int s2 = sim.add_peer({"server-2", true, policy});
  const int s3 = sim.add_peer({"server-3", true, policy});
  const int alice = sim.add_peer({"alice"});
  const int bob = sim.add_peer({"bob"});
  sim.connect(s2, s1);
  sim.connect(s3, s2);
  sim.connect(alice, s1);
  sim.connect(bob, s3);
  sim.run();
  const DocumentId id = sim.create(alice, [](Document& d) { put_text(d, "k", "alice"); });
  sim.run();
  sim.find(bob, id);
  sim.run();
  ASSERT_EQ(sim.state(bob, id), DocState::kReady);
  EXPECT_EQ(get_text(sim.document(bob, id), "k"), "alice");
  sim.change(bob, id, [](Document& d) { put_text(d, "k", "bob"); });
  sim.run();
  EXPECT_EQ(get_text(sim.document(alice, id), "k"), "bob");
}

TEST(RepoSim, UnavailableEverywhereAndNeverTooEarly) {
  Sim sim(seed_for(5));
  const int a = sim.add_peer({"a"}), b = sim.add_peer({"b"}), c = sim.add_peer({"c"}), d = sim.add_peer({"d"});
  sim.connect(a, b);
  sim.connect(b, c);
  sim.connect(b, d);
  sim.run();
  DocumentId::Raw raw{};
  raw[0] = 42;
  const DocumentId missing = DocumentId::uuid_v4(raw);
  sim.find(a, missing);
  sim.run();
  EXPECT_EQ(sim.state(a, missing), DocState::kUnavailable);
  // b told a only after both c and d had told b.
  Millis last_answer_to_b = -1, told_a = -1;
  std::map<std::pair<int, int>, int> told;
  for (const auto& m : sim.log()) {
    if (!std::holds_alternative<wire::DocUnavailableMessage>(m.message)) continue;
    ++told[{m.from, m.to}];
    if (m.to == b) last_answer_to_b = std::max(last_answer_to_b, m.at);
    if (m.from == b && m.to == a) told_a = m.at;
  }
  ASSERT_GE(told_a, 0) << "a was never told";
  EXPECT_GE(told_a, last_answer_to_b);
  EXPECT_EQ(told.count({c, b}) + told.count({d, b}), 2u);
  for (const auto& [pair, n] : told) EXPECT_EQ(n, 1) << "doc-unavailable sent twice " << pair.first << "->" << pair.second;
  // A sync server (announce=false) answers at once: it asks nobody.
  Sim star(seed_for(55));
  const int server = star.add_peer({"server", true, answer_requests_only()});
  const int x = star.add_peer({"x"});
  const int y = star.add_peer({"y"});
  star.connect(x, server);
  star.connect(y, server);
  star.run();
  star.find(x, missing);
  star.run();
  EXPECT_EQ(star.state(x, missing), DocState::kUnavailable);
  EXPECT_EQ(count_messages<wire::RequestMessage>(star, server, y), 0u);
}

TEST(RepoSim, RequestBeforeConnect) {
  Sim sim(seed_for(6));
  const int a = sim.add_peer({"a"});
  const int b = sim.add_peer({"b"});
  const DocumentId id = sim.create(a, [](Document& d) { put_text(d, "k", "v"); });
  sim.run();
  // b is still dialling: its find waits instead of failing.
  sim.set_pending_dials(b, 1);
  sim.find(b, id);
  sim.run(1000);
  EXPECT_EQ(sim.state(b, id), DocState::kRequesting);
  sim.connect(b, a);
  sim.set_pending_dials(b, 0);
  sim.run();
  EXPECT_EQ(sim.state(b, id), DocState::kReady);
  EXPECT_EQ(get_text(sim.document(b, id), "k"), "v");

  // Without a pending dial the find fails at once, and a peer that connects later is asked.
  const int c = sim.add_peer({"c"});
  sim.find(c, id);
  sim.run();
  EXPECT_EQ(sim.state(c, id), DocState::kUnavailable);
  sim.connect(c, a);
  sim.run();
  EXPECT_EQ(sim.state(c, id), DocState::kReady);
  EXPECT_EQ(sim.heads(c, id), sim.heads(a, id));
}

TEST(RepoSim, RestartFromStorageWithNewerChangesOnAPeer) {
  Sim sim(seed_for(7));
  const int a = sim.add_peer({"a"});
  const int b = sim.add_peer({"b"});
  sim.connect(b, a);
  sim.run();
  const DocumentId id = sim.create(a, [](Document& d) { put_text(d, "k", "v1"); });
  sim.find(b, id);
  sim.run();
  ASSERT_EQ(sim.state(b, id), DocState::kReady);
  const auto synced_heads = sim.heads(b, id);
  sim.disconnect(a, b);
  sim.change(a, id, [](Document& d) { put_text(d, "k", "v2"); });
  sim.run();
  sim.restart(b);
  sim.find(b, id);
  sim.run();
  ASSERT_EQ(sim.state(b, id), DocState::kReady) << "loaded from b's own storage";
  EXPECT_EQ(sim.heads(b, id), synced_heads);
  EXPECT_EQ(get_text(sim.document(b, id), "k"), "v1");
  sim.connect(b, a);
  sim.run();
  EXPECT_EQ(get_text(sim.document(b, id), "k"), "v2");
  EXPECT_EQ(sim.heads(b, id), sim.heads(a, id));
}

TEST(RepoSim, UnreadableChunkIsMovedAsideAndTheRestLoads) {
  Sim sim(seed_for(23));
  const int a = sim.add_peer({"a"});
  const DocumentId id = sim.create(a, [](Document& d) { put_text(d, "k", "kept"); });
  sim.run();
  const std::string doc = id.to_string();
  const std::string name(64, 'e');
  const Bytes garbage{0x85, 0x6f, 0x4a, 0x83, 0xde, 0xad, 0xbe, 0xef};  // chunk magic, then nonsense
  ASSERT_TRUE(sim.storage(a).save({doc, "incremental", name}, garbage));
  sim.restart(a);
  const std::size_t errors_before = sim.storage_errors();
  sim.find(a, id);
  sim.run();
  ASSERT_EQ(sim.state(a, id), DocState::kReady) << "the readable chunks still load";
  EXPECT_EQ(get_text(sim.document(a, id), "k"), "kept");
  EXPECT_EQ(sim.storage_errors(), errors_before + 1) << "one report for one bad chunk";
  auto original = sim.storage(a).load({doc, "incremental", name});
  ASSERT_TRUE(original);
  EXPECT_FALSE(original->has_value()) << "the bad chunk is no longer where loaders look";
  auto aside = sim.storage(a).load({doc, "quarantine", "incremental", name});
  ASSERT_TRUE(aside);
  ASSERT_TRUE(aside->has_value()) << "the bad chunk was kept, moved aside";
  EXPECT_EQ(**aside, garbage);
  // A second restart loads cleanly: nothing left to report.
  sim.restart(a);
  sim.find(a, id);
  sim.run();
  EXPECT_EQ(sim.state(a, id), DocState::kReady);
  EXPECT_EQ(sim.storage_errors(), errors_before + 1);
}

TEST(RepoSim, ConcurrentFindsOfTheSameDocument) {
  Sim sim(seed_for(8));
  const int a = sim.add_peer({"a"}), b = sim.add_peer({"b"}), c = sim.add_peer({"c"});
  sim.connect(b, a);
  sim.connect(c, a);
  sim.connect(c, b);
  sim.run();
  const DocumentId id = sim.create(a, [](Document& d) { put_text(d, "k", "v"); });
  // Before a has announced anything, b and c both look for it, at the same moment.
  sim.find(b, id);
  sim.find(c, id);
  sim.find(c, id);  // a second find of the same document on the same repo shares the first
  sim.run();
  for (int p : {b, c}) {
    EXPECT_EQ(sim.state(p, id), DocState::kReady) << sim.name(p);
    EXPECT_EQ(sim.heads(p, id), sim.heads(a, id)) << sim.name(p);
    const auto& h = sim.state_history(p, id);
    EXPECT_EQ(std::count(h.begin(), h.end(), DocState::kUnavailable), 0) << sim.name(p);
  }
}

TEST(RepoSim, EphemeralRelayWithoutLoopsOrDuplicates) {
  Sim sim(seed_for(9));
  const int server = sim.add_peer({"server", true, answer_requests_only()});
  const int a = sim.add_peer({"a"}), b = sim.add_peer({"b"}), c = sim.add_peer({"c"});
  sim.connect(a, server);
  sim.connect(b, server);
  sim.connect(c, server);
  sim.connect(b, c);  // a cycle b-c-server
  sim.run();
  const DocumentId id = sim.create(a);
  sim.run();
  sim.find(b, id);
  sim.find(c, id);
  sim.run();
  const std::size_t before = count_messages<wire::EphemeralMessage>(sim, -1, -1);
  for (std::uint8_t i = 1; i <= 3; ++i) sim.broadcast(a, id, Bytes{i});
  sim.run();
  for (int p : {b, c, server}) {
    const auto& got = sim.ephemera(p, id);
    ASSERT_EQ(got.size(), 3u) << sim.name(p);
    for (std::size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(got[i].sender, "a");
      EXPECT_EQ(got[i].data, Bytes{static_cast<std::uint8_t>(i + 1)});
    }
  }
  EXPECT_TRUE(sim.ephemera(a, id).empty()) << "our own messages never come back to us";
  // Each message crosses each link at most once per direction.
  const std::size_t frames = count_messages<wire::EphemeralMessage>(sim, -1, -1) - before;
  EXPECT_LE(frames, 3u * 2u * 4u);
}

TEST(RepoSim, SharePolicyThatDenies) {
  class DenyMallory final : public SharePolicy {
   public:
    bool announce(const PeerId& peer, const DocumentId&) const override { return peer.str() != "mallory"; }
    bool access(const PeerId& peer, const DocumentId&) const override { return peer.str() != "mallory"; }
  };
  Sim sim(seed_for(10));
  const int a = sim.add_peer({"a", true, std::make_shared<DenyMallory>()});
  const int bob = sim.add_peer({"bob"});
  const int mallory = sim.add_peer({"mallory"});
  sim.connect(bob, a);
  sim.connect(mallory, a);
  sim.run();
  const DocumentId id = sim.create(a, [](Document& d) { put_text(d, "secret", "s"); });
  sim.run();
  sim.find(mallory, id);
  sim.find(bob, id);
  sim.run();
  EXPECT_EQ(sim.state(bob, id), DocState::kReady);
  EXPECT_EQ(sim.state(mallory, id), DocState::kUnavailable);
  EXPECT_FALSE(get_text(sim.document(mallory, id), "secret").has_value());
  EXPECT_EQ(count_messages<wire::SyncMessage>(sim, a, mallory), 0u);
  EXPECT_GE(count_messages<wire::DocUnavailableMessage>(sim, a, mallory), 1u);
}

TEST(RepoSim, ReadOnlyPeerReceivesUpdatesButItsChangesAreDropped) {
  class ReaderMayOnlyRead final : public SharePolicy {
   public:
    bool announce(const PeerId&, const DocumentId&) const override { return false; }
    bool access(const PeerId&, const DocumentId&) const override { return true; }
    DocumentAccess access_level(const PeerId& peer, const std::string&, const DocumentId&) const override {
      return peer.str() == "reader" ? DocumentAccess::kRead : DocumentAccess::kWrite;
    }
  };
  Sim sim(seed_for(22));
  const int server = sim.add_peer({"server", true, std::make_shared<ReaderMayOnlyRead>()});
  const int writer = sim.add_peer({"writer"});
  const int reader = sim.add_peer({"reader"});
  sim.connect(writer, server);
  sim.connect(reader, server);
  sim.run();
  const DocumentId id = sim.create(writer, [](Document& d) { put_text(d, "title", "v1"); });
  sim.run();
  sim.find(reader, id);
  sim.run();
  ASSERT_EQ(sim.state(reader, id), DocState::kReady);
  EXPECT_EQ(get_text(sim.document(reader, id), "title"), "v1");
  // The reader's write stays local: neither the server nor the writer gets it ...
  sim.change(reader, id, [](Document& d) { put_text(d, "forged", "yes"); });
  sim.run();
  EXPECT_EQ(get_text(sim.document(reader, id), "forged"), "yes");
  EXPECT_FALSE(get_text(sim.document(server, id), "forged").has_value());
  EXPECT_FALSE(get_text(sim.document(writer, id), "forged").has_value());
  // ... the server never asks for it again and again (no resend loop) ...
  const std::size_t to_server = count_messages<wire::SyncMessage>(sim, reader, server);
  EXPECT_LE(to_server, 12u) << "sync messages from the read-only peer";
  // ... and the reader still gets the writer's later changes.
  sim.change(writer, id, [](Document& d) { put_text(d, "title", "v2"); });
  sim.run();
  EXPECT_EQ(get_text(sim.document(reader, id), "title"), "v2");
  EXPECT_EQ(get_text(sim.document(server, id), "title"), "v2");
}

TEST(RepoSim, CompactionUnderManySmallSaves) {
  Sim sim(seed_for(11));
  const int a = sim.add_peer({"a"});
  const DocumentId id = sim.create(a);
  sim.run();
  // A chunk written by another process sharing the store: not ours to remove.
  Document other;
  ASSERT_TRUE(other.put(ObjId::root(), "other", std::string("process")));
  other.commit();
  const StorageKey foreign{id.to_string(), "incremental", "foreign-writer"};
  ASSERT_TRUE(sim.storage(a).save(foreign, other.save()));
  std::size_t max_snapshots = 0;
  for (int i = 0; i < 120; ++i) {
    sim.change(a, id, [i](Document& d) { put_text(d, "k" + std::to_string(i % 7), std::string(40, 'x') + std::to_string(i)); });
    sim.run(200);
    auto snaps = sim.storage(a).load_range({id.to_string(), "snapshot"});
    auto incs = sim.storage(a).load_range({id.to_string(), "incremental"});
    ASSERT_TRUE(snaps && incs);
    max_snapshots = std::max(max_snapshots, snaps->size());
    std::size_t snapshot_bytes = 0, incremental_bytes = 0;
    for (const auto& e : *snaps) snapshot_bytes += e.second.size();
    for (const auto& e : *incs) {
      if (e.first != foreign) incremental_bytes += e.second.size();
    }
    // The JS rule keeps incrementals below the snapshot, or everything in one small snapshot.
    EXPECT_TRUE(incremental_bytes < snapshot_bytes + 1024) << "save " << i;
  }
  EXPECT_EQ(max_snapshots, 1u);
  auto foreign_still = sim.storage(a).load(foreign);
  ASSERT_TRUE(foreign_still);
  EXPECT_TRUE(foreign_still->has_value()) << "compaction removed a chunk it did not write";
  // Everything in storage loads back to the same document (plus the foreign change).
  const auto heads = sim.heads(a, id);
  sim.restart(a);
  sim.find(a, id);
  sim.run();
  ASSERT_EQ(sim.state(a, id), DocState::kReady);
  EXPECT_EQ(get_text(sim.document(a, id), "k0"), std::string(40, 'x') + "119");
  EXPECT_EQ(get_text(sim.document(a, id), "other"), "process");
  EXPECT_EQ(sim.storage_errors(), 0u);
}

// A change the server acknowledged (its sync reply carries the new heads) survives a crash of the
// server at that very moment: the server saves received changes before it replies.
TEST(RepoSim, AcknowledgedChangesSurviveAServerCrash) {
  Sim sim(seed_for(15));
  const int server = sim.add_peer({"server", true, answer_requests_only()});
  const int client = sim.add_peer({"client", false});
  sim.connect(client, server);
  sim.run();
  const DocumentId id = sim.create(client, [](Document& d) { put_text(d, "k", "v0"); });
  sim.run();
  for (int round = 1; round <= 20; ++round) {
    sim.change(client, id, [&](Document& d) { put_text(d, "k", "v" + std::to_string(round)); });
    const auto heads = sim.heads(client, id);
    const bool acked = sim.run_until([&] {
      for (const auto& p : sim.sync_info(client, id)) {
        if (p.peer.str() == "server" && p.their_heads == heads) return true;
      }
      return false;
    });
    ASSERT_TRUE(acked) << "round " << round;
    sim.restart(server);  // at once: nothing after the acknowledgement runs on the old server
    sim.find(server, id);
    sim.run_until([&] { return sim.state(server, id) != DocState::kLoading; });
    ASSERT_EQ(sim.state(server, id), DocState::kReady) << "round " << round;
    EXPECT_EQ(sim.heads(server, id), heads) << "round " << round << ": an acknowledged change was lost";
    sim.connect(client, server);
    sim.run();
  }
}

TEST(RepoSim, Delete) {
  Sim sim(seed_for(12));
  const int a = sim.add_peer({"a"});
  const int b = sim.add_peer({"b"});
  sim.connect(b, a);
  sim.run();
  const DocumentId id = sim.create(a, [](Document& d) { put_text(d, "k", "v"); });
  sim.find(b, id);
  sim.run();
  ASSERT_EQ(sim.state(b, id), DocState::kReady);
  sim.remove(a, id);
  sim.run();
  EXPECT_EQ(sim.state(a, id), DocState::kDeleted);
  auto left = sim.storage(a).load_range({id.to_string()});
  ASSERT_TRUE(left);
  EXPECT_TRUE(left->empty());
  EXPECT_EQ(sim.state(b, id), DocState::kReady) << "delete is local, as in JS";
  EXPECT_EQ(get_text(sim.document(b, id), "k"), "v");
}

TEST(RepoSim, SyncStatePersistedForPeersWithStorage) {
  Sim sim(seed_for(13));
  const int a = sim.add_peer({"a"});
  const int b = sim.add_peer({"b"});
  const int eph = sim.add_peer({"browser", false});
  sim.connect(b, a);
  sim.connect(eph, a);
  sim.run();
  const DocumentId id = sim.create(a, [](Document& d) { put_text(d, "k", "v"); });
  sim.find(b, id);
  sim.find(eph, id);
  sim.run();
  ASSERT_EQ(sim.state(eph, id), DocState::kReady);
  auto states = sim.storage(a).load_range({id.to_string(), "sync-state"});
  ASSERT_TRUE(states);
  ASSERT_EQ(states->size(), 1u) << "only the peer with a StorageId that is not ephemeral";
  EXPECT_EQ(states->front().first.back(), "b-storage");
  auto decoded = SyncState::decode(states->front().second);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->shared_heads, sim.heads(a, id));
}

// After random edits, partitions, crashes and reconnects, every peer converges.
TEST(RepoSim, RandomTopologiesConverge) {
  const std::uint64_t base = seed_for(1000);
  for (std::uint64_t round = 0; round < 12; ++round) {
    const std::uint64_t seed = base + round;
    SCOPED_TRACE("seed " + std::to_string(seed));
    Sim sim(seed);
    auto& rng = sim.rng();
    const int n = 3 + static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) sim.add_peer({"p" + std::to_string(i), i == 0 || rng() % 4 != 0});
    std::vector<std::pair<int, int>> edges;
    for (int i = 1; i < n; ++i) edges.emplace_back(i, static_cast<int>(rng() % static_cast<std::uint64_t>(i)));
    for (int extra = 0; extra < n / 2; ++extra) {
      const int x = static_cast<int>(rng() % static_cast<std::uint64_t>(n));
      const int y = static_cast<int>(rng() % static_cast<std::uint64_t>(n));
      if (x != y) edges.emplace_back(x, y);
    }
    for (auto [x, y] : edges) {
      if (!sim.connected(x, y)) sim.connect(x, y);
    }
    sim.run();
    const DocumentId id = sim.create(0, [](Document& d) { put_text(d, "k", "start"); });
    for (int i = 1; i < n; ++i) sim.find(i, id);
    sim.run(500);
    for (int step = 0; step < 40; ++step) {
      const int p = static_cast<int>(rng() % static_cast<std::uint64_t>(n));
      switch (rng() % 6) {
        case 0:
        case 1:
          if (sim.state(p, id) == DocState::kReady) {
            const std::string v = "s" + std::to_string(step);
            sim.change(p, id, [&](Document& d) { put_text(d, "k" + std::to_string(p), v); });
          }
          break;
        case 2: {
          auto [x, y] = edges[rng() % edges.size()];
          sim.disconnect(x, y);
          break;
        }
        case 3: {
          auto [x, y] = edges[rng() % edges.size()];
          if (!sim.connected(x, y)) sim.connect(x, y);
          break;
        }
        case 4:
          if (rng() % 3 == 0) {
            sim.restart(p);
            sim.find(p, id);
          }
          break;
        default:
          break;
      }
      sim.run(static_cast<Millis>(rng() % 50));
    }
    for (auto [x, y] : edges) {
      if (!sim.connected(x, y)) sim.connect(x, y);
    }
    for (int i = 0; i < n; ++i) sim.find(i, id);
    sim.run();
    const auto expected = sim.heads(0, id);
    ASSERT_FALSE(expected.empty());
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(sim.state(i, id), DocState::kReady) << sim.name(i);
      EXPECT_EQ(sim.heads(i, id), expected) << sim.name(i);
    }
  }
}

}  // namespace
}  // namespace am::repo::sim
