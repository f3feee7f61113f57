// Remote-heads gossip (issue 24, item 2): the sans-IO RemoteHeadsGossip, and real repos joined by
// the in-process transport (a client, a server, another client). The runtime tests wait on
// events with timeouts (one polls a document's heads, bounded). AM_TEST_IO_THREADS sets the
// repos' io threads (the TSan run of scripts/test.sh uses 4).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "am/repo/in_process_transport.h"
#include "am/repo/repo.h"
#include "am/repo/storage_memory.h"
#include "am/sync.h"
#include "repo/core/hub.h"
#include "repo/core/remote_heads.h"
#include "repo/core/wire/cbor_codec.h"
#include "support/hub_frames.h"

namespace am::repo {
namespace {

using namespace std::chrono_literals;
using core::RemoteHeadsGossip;
using test::messages_to;
using core::RemoteHeadsUpdate;

// --- the sans-IO gossip ---------------------------------------------------------------------

const PeerId kSelf("self");
const PeerId kAlice("alice"), kBob("bob"), kCarol("carol");
const StorageId kStoreX("store-x"), kStoreY("store-y");
const DocumentId kDoc = DocumentId::random();
const DocumentId kOtherDoc = DocumentId::random();

// The outgoing messages of one batch, by kind.
struct Sent {
  std::vector<wire::RemoteSubscriptionChangeMessage> subs;
  std::vector<wire::RemoteHeadsChangedMessage> heads;
  std::vector<RemoteHeadsUpdate> updates;
};

Sent take(RemoteHeadsGossip& g) {
  Sent out;
  auto e = g.take_effects();
  for (auto& m : e.outgoing) {
    if (auto* s = std::get_if<wire::RemoteSubscriptionChangeMessage>(&m)) out.subs.push_back(*s);
    if (auto* h = std::get_if<wire::RemoteHeadsChangedMessage>(&m)) out.heads.push_back(*h);
  }
  out.updates = std::move(e.updates);
  return out;
}

wire::RemoteSubscriptionChangeMessage subscription(const PeerId& from, std::vector<StorageId> add,
                                                   std::vector<StorageId> remove = {}) {
  wire::RemoteSubscriptionChangeMessage m{from, kSelf, std::nullopt, std::nullopt};
  if (!add.empty()) m.add = std::move(add);
  if (!remove.empty()) m.remove = std::move(remove);
  return m;
}

wire::RemoteHeadsChangedMessage heads_message(const PeerId& from, const DocumentId& doc, const StorageId& storage,
                                              std::vector<std::string> heads, std::uint64_t timestamp) {
  wire::RemoteHeadsChangedMessage m{from, kSelf, doc, {}};
  m.new_heads.emplace(storage, wire::RemoteHeads{std::move(heads), timestamp});
  return m;
}

TEST(RemoteHeadsGossip, OurSubscriptionsGoToGenerousPeersOnlyAndToThoseThatConnectLater) {
  RemoteHeadsGossip g(kSelf);
  g.peer_connected(kAlice, /*generous=*/true);
  g.peer_connected(kBob, /*generous=*/false);
  EXPECT_TRUE(take(g).subs.empty());  // nothing to say yet
  g.subscribe({kStoreX});
  Sent s = take(g);
  ASSERT_EQ(s.subs.size(), 1u);
  EXPECT_EQ(s.subs[0].target_id, kAlice);
  EXPECT_EQ(s.subs[0].sender_id, kSelf);
  EXPECT_EQ(s.subs[0].add, std::optional(std::vector<StorageId>{kStoreX}));
  EXPECT_FALSE(s.subs[0].remove.has_value());
  g.subscribe({kStoreX});  // already subscribed: nothing new
  EXPECT_TRUE(take(g).subs.empty());
  g.peer_connected(kCarol, true);
  s = take(g);
  ASSERT_EQ(s.subs.size(), 1u);
  EXPECT_EQ(s.subs[0].target_id, kCarol);
  g.unsubscribe({kStoreX});
  s = take(g);
  ASSERT_EQ(s.subs.size(), 2u);  // alice and carol
  EXPECT_EQ(s.subs[0].remove, std::optional(std::vector<StorageId>{kStoreX}));
  EXPECT_FALSE(g.subscribed(kStoreX));
}

TEST(RemoteHeadsGossip, ASubscriptionIsRelayedOnceAndWithdrawnWhenTheLastSubscriberLeaves) {
  RemoteHeadsGossip g(kSelf);
  g.peer_connected(kAlice, true);
  g.peer_connected(kCarol, true);
  g.receive(subscription(kBob, {kStoreX}));
  Sent s = take(g);
  ASSERT_EQ(s.subs.size(), 2u);  // relayed to both generous peers, not back to bob
  for (const auto& m : s.subs) EXPECT_NE(m.target_id, kBob);
  g.receive(subscription(kAlice, {kStoreX}));
  s = take(g);
  EXPECT_TRUE(s.subs.empty());  // already relayed
  EXPECT_EQ(g.subscribers(kStoreX), 2u);
  g.receive(subscription(kAlice, {}, {kStoreX}));
  EXPECT_TRUE(take(g).subs.empty());  // bob still wants it
  g.peer_disconnected(kBob);
  s = take(g);
  ASSERT_EQ(s.subs.size(), 2u);
  EXPECT_EQ(s.subs[0].remove, std::optional(std::vector<StorageId>{kStoreX}));
  EXPECT_EQ(g.subscribers(kStoreX), 0u);
}

TEST(RemoteHeadsGossip, APeersSubscriptionsAreCapped) {
  RemoteHeadsGossip g(kSelf);
  g.peer_connected(kAlice, true);
  std::vector<StorageId> many;
  for (std::size_t i = 0; i < RemoteHeadsGossip::kMaxSubscriptionsPerPeer + 10; ++i) {
    many.emplace_back("store-" + std::to_string(i));
  }
  g.receive(subscription(kBob, many));
  Sent s = take(g);
  ASSERT_EQ(s.subs.size(), 1u);
  EXPECT_EQ(s.subs[0].add->size(), RemoteHeadsGossip::kMaxSubscriptionsPerPeer);
  EXPECT_EQ(g.subscribers(many.front()), 1u);
  EXPECT_EQ(g.subscribers(many.back()), 0u);
  // Room again after a removal; the same id twice counts once.
  g.receive(subscription(kBob, {}, {many.front()}));
  g.receive(subscription(kBob, {many.back(), many.back()}));
  (void)take(g);
  EXPECT_EQ(g.subscribers(many.back()), 1u);
  // Another peer has its own allowance.
  g.receive(subscription(kCarol, {many.back()}));
  EXPECT_EQ(g.subscribers(many.back()), 2u);
}

TEST(RemoteHeadsGossip, AConnectedPeersHeadsReachSubscribersThatHaveTheDocumentOpen) {
  RemoteHeadsGossip g(kSelf);
  g.peer_connected(kAlice, false);
  g.peer_connected(kBob, false);
  g.receive(subscription(kAlice, {kStoreX}));
  g.receive(subscription(kBob, {kStoreX}));
  g.peer_opened_document(kAlice, kDoc);
  (void)take(g);
  g.peer_heads_changed(kDoc, kStoreX, {"h1"}, 1000);
  Sent s = take(g);
  ASSERT_EQ(s.heads.size(), 1u);  // bob has not opened the document
  EXPECT_EQ(s.heads[0].target_id, kAlice);
  EXPECT_EQ(s.heads[0].document_id, kDoc);
  EXPECT_EQ(s.heads[0].new_heads.at(kStoreX), (wire::RemoteHeads{{"h1"}, 1000}));
  EXPECT_TRUE(s.updates.empty());  // not our subscription
  // Bob opens it later and is sent what we know.
  g.peer_opened_document(kBob, kDoc);
  s = take(g);
  ASSERT_EQ(s.heads.size(), 1u);
  EXPECT_EQ(s.heads[0].target_id, kBob);
  EXPECT_EQ(s.heads[0].new_heads.at(kStoreX).heads, std::vector<std::string>{"h1"});
  // Heads of a store nobody subscribes to are kept, not sent.
  g.peer_heads_changed(kDoc, kStoreY, {"h2"}, 1001);
  EXPECT_TRUE(take(g).heads.empty());
  EXPECT_EQ(g.known_heads(), 2u);
  // A late subscriber with the document open is sent the kept heads at once.
  g.receive(subscription(kAlice, {kStoreY}));
  s = take(g);
  ASSERT_EQ(s.heads.size(), 1u);
  EXPECT_EQ(s.heads[0].new_heads.count(kStoreY), 1u);
  g.forget_document(kDoc);
  EXPECT_EQ(g.known_heads(), 0u);
}

TEST(RemoteHeadsGossip, RelayedHeadsUpdateOurHandlesOnlyWhenNewer) {
  RemoteHeadsGossip g(kSelf);
  g.peer_connected(kAlice, true);
  g.subscribe({kStoreX});
  (void)take(g);
  g.receive(heads_message(kAlice, kDoc, kStoreX, {"h1"}, 2000));
  Sent s = take(g);
  ASSERT_EQ(s.updates.size(), 1u);
  EXPECT_EQ(s.updates[0], (RemoteHeadsUpdate{kDoc, kStoreX, {"h1"}, 2000}));
  EXPECT_TRUE(s.heads.empty());  // not back to alice, its sender
  g.receive(heads_message(kAlice, kDoc, kStoreX, {"h0"}, 1999));  // older
  EXPECT_TRUE(take(g).updates.empty());
  g.receive(heads_message(kAlice, kDoc, kStoreX, {"h0"}, 2000));  // not newer either
  EXPECT_TRUE(take(g).updates.empty());
  g.receive(heads_message(kAlice, kDoc, kStoreX, {"h2", "h3"}, 2001));
  s = take(g);
  ASSERT_EQ(s.updates.size(), 1u);
  EXPECT_EQ(s.updates[0].heads, (std::vector<std::string>{"h2", "h3"}));
  // A store nobody here wants is ignored.
  g.receive(heads_message(kAlice, kOtherDoc, kStoreY, {"h9"}, 5000));
  s = take(g);
  EXPECT_TRUE(s.updates.empty());
  EXPECT_TRUE(s.heads.empty());
}

TEST(RemoteHeadsGossip, RelayedHeadsGoToGenerousPeersAndSubscribersOnceEach) {
  RemoteHeadsGossip g(kSelf);
  g.peer_connected(kAlice, true);   // generous and subscribed
  g.peer_connected(kBob, false);    // subscribed, document open
  g.peer_connected(kCarol, false);  // subscribed, document not open
  g.receive(subscription(kAlice, {kStoreX}));
  g.receive(subscription(kBob, {kStoreX}));
  g.receive(subscription(kCarol, {kStoreX}));
  g.peer_opened_document(kAlice, kDoc);
  g.peer_opened_document(kBob, kDoc);
  (void)take(g);
  g.receive(heads_message(PeerId("dave"), kDoc, kStoreX, {"h1"}, 10));
  Sent s = take(g);
  std::vector<PeerId> targets;
  for (const auto& m : s.heads) targets.push_back(m.target_id);
  EXPECT_EQ(targets, (std::vector<PeerId>{kAlice, kBob}));
  EXPECT_TRUE(s.updates.empty());
  // A generous peer that connects later is sent everything we know.
  g.peer_connected(PeerId("erin"), true);
  s = take(g);
  ASSERT_EQ(s.heads.size(), 1u);
  EXPECT_EQ(s.heads[0].target_id, PeerId("erin"));
}

// --- the hub's hooks --------------------------------------------------------------------------

core::Hub gossip_hub(bool gossip, std::shared_ptr<const SharePolicy> policy) {
  core::HubConfig c;
  c.peer_id = PeerId("server");
  c.has_storage = false;
  c.policy = std::move(policy);
  c.session_id = SessionId("s");
  c.remote_heads_gossip = gossip;
  core::Hub hub(std::move(c));
  hub.start(0);
  return hub;
}

core::ConnectionId join_client(core::Hub& hub, const std::string& who, core::Millis now) {
  const core::ConnectionId c = hub.add_connection(core::ConnectionRole::kAcceptor, now);
  wire::JoinMessage join{PeerId(who), wire::PeerMetadata{StorageId(who + "-store"), false}, std::vector<std::string>{"1"}};
  hub.receive_frame(c, wire::encode(join), now);
  return c;
}

Bytes first_sync_message() {
  Document empty;
  SyncState state;
  return *generate_sync_message(empty, state);
}

TEST(RemoteHeadsHub, OffTheGossipMessagesAreIgnoredAndNothingIsSent) {
  core::Hub hub = gossip_hub(/*gossip=*/false, share_everything());
  hub.subscribe_to_remotes({kStoreX});  // does nothing when off
  const core::ConnectionId c = join_client(hub, "alice", 1);
  (void)hub.take_effects();
  wire::RemoteSubscriptionChangeMessage sub{PeerId("alice"), PeerId("server"), std::vector<StorageId>{kStoreX}, std::nullopt};
  hub.receive_frame(c, wire::encode(sub), 2);
  hub.receive_frame(c, wire::encode(heads_message(PeerId("alice"), kDoc, kStoreX, {"h"}, 5)), 3);
  hub.peer_heads_changed(kDoc, kStoreX, {}, 4);
  core::HubEffects e = hub.take_effects();
  EXPECT_TRUE(e.frames.empty());
  EXPECT_TRUE(e.to_actors.empty());
  EXPECT_TRUE(e.closes.empty());
  EXPECT_TRUE(e.remote_heads.empty());
  EXPECT_EQ(hub.remote_heads_gossip(), nullptr);
  EXPECT_EQ(hub.connection_count(), 1u);
}

TEST(RemoteHeadsHub, AServerSendsASubscriberTheHeadsOfAnotherClientsStore) {
  core::Hub hub = gossip_hub(/*gossip=*/true, answer_requests_only());
  const core::ConnectionId alice = join_client(hub, "alice", 1);
  (void)join_client(hub, "bob", 1);
  // Alice opens the document (a request), then subscribes to bob's store.
  hub.receive_frame(alice, wire::encode(wire::RequestMessage{PeerId("alice"), PeerId("server"), kDoc, first_sync_message()}), 2);
  wire::RemoteSubscriptionChangeMessage sub{PeerId("alice"), PeerId("server"),
                                            std::vector<StorageId>{StorageId("bob-store")}, std::nullopt};
  hub.receive_frame(alice, wire::encode(sub), 3);
  core::HubEffects e = hub.take_effects();
  for (const auto& m : messages_to(e, alice)) {
    EXPECT_FALSE(std::holds_alternative<wire::RemoteSubscriptionChangeMessage>(m)) << "echoed back";
  }
  ASSERT_NE(hub.remote_heads_gossip(), nullptr);
  EXPECT_EQ(hub.remote_heads_gossip()->subscribers(StorageId("bob-store")), 1u);
  // Bob's actor saw new heads from bob.
  Document d;
  ASSERT_TRUE(d.put(ObjId::root(), "k", std::int64_t{1}));
  d.commit();
  const std::vector<ChangeHash> heads = d.heads();
  hub.peer_heads_changed(kDoc, StorageId("bob-store"), heads, 1'700'000'000'000);
  e = hub.take_effects();
  auto out = messages_to(e, alice);
  ASSERT_EQ(out.size(), 1u);
  const auto* rh = std::get_if<wire::RemoteHeadsChangedMessage>(&out[0]);
  ASSERT_NE(rh, nullptr);
  EXPECT_EQ(rh->sender_id, PeerId("server"));
  EXPECT_EQ(rh->target_id, PeerId("alice"));
  EXPECT_EQ(rh->document_id, kDoc);
  const wire::RemoteHeads& got = rh->new_heads.at(StorageId("bob-store"));
  EXPECT_EQ(got.timestamp, 1'700'000'000'000u);
  ASSERT_EQ(got.heads.size(), 1u);
  EXPECT_EQ(parse_head(got.heads[0]).value(), heads[0]);
  // A subscription whose senderId is not the connection's peer is dropped, as any message.
  wire::RemoteSubscriptionChangeMessage forged{PeerId("mallory"), PeerId("server"),
                                               std::vector<StorageId>{kStoreY}, std::nullopt};
  hub.receive_frame(alice, wire::encode(forged), 5);
  (void)hub.take_effects();
  EXPECT_EQ(hub.remote_heads_gossip()->subscribers(kStoreY), 0u);
}

TEST(RemoteHeadsHub, OurSubscriptionsReachAGenerousPeerWhenItJoinsAndRelayedHeadsReachUs) {
  core::Hub hub = gossip_hub(/*gossip=*/true, share_everything());
  hub.subscribe_to_remotes({kStoreX});
  const core::ConnectionId c = join_client(hub, "relay", 1);
  core::HubEffects e = hub.take_effects();
  auto out = messages_to(e, c);
  ASSERT_EQ(out.size(), 2u);  // peer, then our subscription
  EXPECT_TRUE(std::holds_alternative<wire::PeerMessage>(out[0]));
  const auto* sub = std::get_if<wire::RemoteSubscriptionChangeMessage>(&out[1]);
  ASSERT_NE(sub, nullptr);
  EXPECT_EQ(sub->add, std::optional(std::vector<StorageId>{kStoreX}));
  wire::RemoteHeadsChangedMessage m{PeerId("relay"), PeerId("server"), kDoc, {}};
  m.new_heads.emplace(kStoreX, wire::RemoteHeads{{"h1"}, 42});
  // Heads of a document not in memory here are dropped (nobody here could see them).
  hub.receive_frame(c, wire::encode(m), 2);
  e = hub.take_effects();
  EXPECT_TRUE(e.remote_heads.empty());
  EXPECT_EQ(hub.remote_heads_gossip()->known_heads(), 0u);
  hub.open_document(kDoc, 2);
  (void)hub.take_effects();
  hub.receive_frame(c, wire::encode(m), 2);
  e = hub.take_effects();
  ASSERT_EQ(e.remote_heads.size(), 1u);
  EXPECT_EQ(e.remote_heads[0], (RemoteHeadsUpdate{kDoc, kStoreX, {"h1"}, 42}));
  EXPECT_TRUE(e.to_actors.empty());  // not an actor's business
  // The relay leaves: its subscription state goes with it, ours stays.
  hub.close_connection(c, 3);
  (void)hub.take_effects();
  EXPECT_TRUE(hub.remote_heads_gossip()->subscribed(kStoreX));
}

// --- real repos ------------------------------------------------------------------------------

std::unique_ptr<Repo> open_repo(const std::string& name, bool gossip, std::shared_ptr<const SharePolicy> policy) {
  RepoOptions o;
  o.peer_id = name;
  o.storage = std::shared_ptr<StorageAdapter>(make_memory_storage());
  o.share_policy = std::move(policy);
  o.save_debounce = 10ms;
  o.enable_remote_heads_gossiping = gossip;
  // AM_TEST_IO_THREADS: the TSan run uses 4, so handles' events race the hub's for real.
  if (const char* env = std::getenv("AM_TEST_IO_THREADS")) o.io_threads = static_cast<std::size_t>(std::atoi(env));
  auto repo = Repo::open(std::move(o));
  EXPECT_TRUE(repo) << (repo ? "" : repo.error().to_string());
  return repo ? std::move(*repo) : nullptr;
}

// Collects a handle's remote-heads events; waits for one matching a predicate. The state is
// shared with the observer: a call already on its way when this is destroyed still finds it.
class RemoteHeadsEvents {
 public:
  explicit RemoteHeadsEvents(DocHandle& handle)
      : state_(std::make_shared<State>()), sub_(handle.on_remote_heads([state = state_](const RemoteHeads& r) {
          std::lock_guard<std::mutex> lock(state->mutex);
          state->events.push_back(r);
          state->cv.notify_all();
        })) {}
  std::optional<RemoteHeads> wait_for(const std::function<bool(const RemoteHeads&)>& match,
                                      std::chrono::milliseconds timeout = 10s) {
    std::unique_lock<std::mutex> lock(state_->mutex);
    std::optional<RemoteHeads> found;
    state_->cv.wait_for(lock, timeout, [&] {
      for (const auto& e : state_->events) {
        if (match(e)) found = e;
      }
      return found.has_value();
    });
    return found;
  }
  std::size_t count() {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->events.size();
  }

 private:
  struct State {
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<RemoteHeads> events;
  };
  std::shared_ptr<State> state_;
  Subscription sub_;
};

void set_title(DocHandle& doc, const std::string& title) {
  ASSERT_TRUE(doc.change([&](Document& d) { (void)d.put(ObjId::root(), "title", title); }));
}

std::uint64_t wall_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// alice -- server -- bob: alice and bob share everything (the JS default), the server answers
// requests only (amrepo serve). Bob made a document; alice has it open.
struct Triangle {
  std::unique_ptr<Repo> server, alice, bob;
  DocHandle at_bob, at_alice;

  explicit Triangle(bool gossip) {
    server = open_repo("server", gossip, answer_requests_only());
    alice = open_repo("alice", gossip, nullptr);
    bob = open_repo("bob", /*gossip=*/false, nullptr);  // a plain client: only syncs
    InProcessTransport::connect(*bob, *server);
    at_bob = bob->create();
    set_title(at_bob, "first");
    EXPECT_TRUE(at_bob.wait_synced(PeerId("server"), 10s));
    InProcessTransport::connect(*alice, *server);
    auto found = alice->find(at_bob.id(), 10s).get();
    EXPECT_TRUE(found) << (found ? "" : found.error().to_string());
    if (found) at_alice = *found;
  }
};

TEST(RemoteHeadsRepo, ASubscriberHearsTheServersHeadsWhenAnotherClientEdits) {
  Triangle t(/*gossip=*/true);
  ASSERT_TRUE(t.at_alice);
  const StorageId server_store = *t.server->storage_id();
  RemoteHeadsEvents events(t.at_alice);
  t.alice->subscribe_to_remotes({server_store});
  const std::uint64_t before = wall_ms();
  set_title(t.at_bob, "second");
  const std::vector<ChangeHash> bob_heads = t.at_bob.heads();
  auto got = events.wait_for([&](const RemoteHeads& r) { return r.storage_id == server_store && r.heads == bob_heads; });
  ASSERT_TRUE(got) << "alice heard no heads of the server's store matching bob's edit";
  EXPECT_GE(got->timestamp_ms, before);
  EXPECT_LE(got->timestamp_ms, wall_ms());
  auto kept = t.at_alice.remote_heads(server_store);
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->heads, bob_heads);
}

TEST(RemoteHeadsRepo, TheServerRelaysTheHeadsOfAnotherClientsStoreToASubscriber) {
  Triangle t(/*gossip=*/true);
  ASSERT_TRUE(t.at_alice);
  const StorageId bob_store = *t.bob->storage_id();
  RemoteHeadsEvents events(t.at_alice);
  t.alice->subscribe_to_remotes({bob_store});
  // Alice is not connected to bob: only the server's remote-heads-changed can tell her. Bob keeps
  // editing until she hears (her subscription may reach the server after the first edit).
  std::optional<RemoteHeads> got;
  for (int i = 0; i < 20 && !got; ++i) {
    set_title(t.at_bob, "edit " + std::to_string(i));
    const std::vector<ChangeHash> bob_heads = t.at_bob.heads();
    got = events.wait_for([&](const RemoteHeads& r) { return r.storage_id == bob_store && r.heads == bob_heads; },
                          500ms);
  }
  ASSERT_TRUE(got) << "the server did not relay bob's heads to alice";
  EXPECT_EQ(t.at_alice.remote_heads(bob_store)->heads, got->heads);
}

TEST(RemoteHeadsRepo, OffByDefaultNothingIsHeardOrKept) {
  Triangle t(/*gossip=*/false);
  ASSERT_TRUE(t.at_alice);
  const StorageId server_store = *t.server->storage_id();
  RemoteHeadsEvents events(t.at_alice);
  t.alice->subscribe_to_remotes({server_store});  // logs a warning, does nothing
  set_title(t.at_bob, "second");
  ASSERT_TRUE(t.at_bob.wait_synced(PeerId("server"), 10s));
  const std::vector<ChangeHash> bob_heads = t.at_bob.heads();
  // Alice receives bob's edit (sync is unaffected) ...
  for (int i = 0; i < 200 && t.at_alice.heads() != bob_heads; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(t.at_alice.heads(), bob_heads);
  // ... and no remote heads.
  EXPECT_EQ(events.count(), 0u);
  EXPECT_FALSE(t.at_alice.remote_heads(server_store).has_value());
}

}  // namespace
}  // namespace am::repo
