// Presence (include/am/repo/presence.h) between two real repos joined by the in-process
// transport: initial states both ways, updates per channel, heartbeats keeping a peer, expiry of
// a silent one, goodbye, and the CBOR the reference reads. Intervals are tens of milliseconds;
// every wait is bounded.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "am/repo/in_process_transport.h"
#include "am/repo/presence.h"
#include "am/repo/repo.h"
#include "am/repo/storage_memory.h"

namespace am::repo {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Kind = PresenceEvent::Kind;

std::unique_ptr<Repo> open_repo(const std::string& name) {
  RepoOptions o;
  o.peer_id = name;
  o.storage = make_memory_storage();
  o.save_debounce = 10ms;
  // The TSan run (scripts/test.sh) uses 4, so observers and timers really race.
  if (const char* env = std::getenv("AM_TEST_IO_THREADS")) o.io_threads = static_cast<std::size_t>(std::atoi(env));
  auto repo = Repo::open(std::move(o));
  EXPECT_TRUE(repo) << (repo ? "" : repo.error().to_string());
  return repo ? std::move(*repo) : nullptr;
}

// The events one Presence reported, with a way to wait for one.
class Events {
 public:
  explicit Events(Presence& presence)
      : sub_(presence.on_event([this](const PresenceEvent& e) {
          std::lock_guard<std::mutex> lock(mutex_);
          events_.push_back(e);
          cv_.notify_all();
        })) {}
  bool wait_for(const std::function<bool(const PresenceEvent&)>& match, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] {
      for (const auto& e : events_) if (match(e)) return true;
      return false;
    });
  }
  bool wait_for(Kind kind, const std::string& peer, std::chrono::milliseconds timeout = 5s) {
    return wait_for([&](const PresenceEvent& e) { return e.kind == kind && e.peer.str() == peer; }, timeout);
  }
  bool wait_count(Kind kind, std::size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return count_locked(kind) >= n; });
  }
  std::size_t count(Kind kind) {
    std::lock_guard<std::mutex> lock(mutex_);
    return count_locked(kind);
  }

 private:
  std::size_t count_locked(Kind kind) const {
    std::size_t n = 0;
    for (const auto& e : events_) n += e.kind == kind;
    return n;
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<PresenceEvent> events_;
  Subscription sub_;
};

json state_of(const Presence& p, const std::string& peer) {
  auto s = p.peer_state(PeerId(peer));
  return s ? json::parse(s->state) : json();
}

// Two repos syncing one document, a handle on each.
class PresenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = open_repo("a");
    b_ = open_repo("b");
    ASSERT_TRUE(a_ && b_);
    InProcessTransport::connect(*a_, *b_);
    ASSERT_TRUE(a_->wait_for_peer(PeerId("b"), 10s));
    doc_a_ = a_->create();
    ASSERT_TRUE(doc_a_.change([](Document& d) { (void)d.put(ObjId::root(), "title", std::string("presence")); }));
    ASSERT_TRUE(doc_a_.wait_synced(PeerId("b"), 10s));
    auto found = b_->find(doc_a_.id(), 10s).get();
    ASSERT_TRUE(found) << found.error().to_string();
    doc_b_ = *found;
  }

  static PresenceOptions fast(std::chrono::milliseconds heartbeat = 50ms, std::chrono::milliseconds ttl = 250ms) {
    PresenceOptions o;
    o.heartbeat_interval = heartbeat;
    o.peer_ttl = ttl;
    o.announce_delay = 20ms;
    return o;
  }

  std::unique_ptr<Repo> a_, b_;
  DocHandle doc_a_, doc_b_;
};

TEST_F(PresenceTest, InitialStatesReachEachOtherAndUpdatesMergeByChannel) {
  Presence pa(doc_a_), pb(doc_b_);
  Events ea(pa), eb(pb);
  ASSERT_TRUE(pa.start(R"({"name":"ada","cursor":0})", fast(1s, 10s)));
  ASSERT_TRUE(pb.start(R"({"name":"bob"})", fast(1s, 10s)));
  // b's snapshot reaches a; a, not knowing b, answers with its own (announce), so b learns a's
  // state even if a's first snapshot went out before b listened.
  ASSERT_TRUE(ea.wait_for(Kind::kSnapshot, "b"));
  ASSERT_TRUE(eb.wait_for(Kind::kSnapshot, "a"));
  EXPECT_EQ(state_of(pa, "b"), json::parse(R"({"name":"bob"})"));
  EXPECT_EQ(state_of(pb, "a"), json::parse(R"({"name":"ada","cursor":0})"));
  EXPECT_TRUE(eb.wait_for([](const PresenceEvent& e) { return e.kind == Kind::kSnapshot && e.joined; }, 0ms));

  ASSERT_TRUE(pa.broadcast("cursor", "12"));
  ASSERT_TRUE(pa.broadcast("selection", R"({"from":3,"to":[4,5],"big":8589934592,"f":1.5,"t":true,"n":null})"));
  ASSERT_TRUE(eb.wait_for([](const PresenceEvent& e) { return e.kind == Kind::kUpdate && e.channel == "selection"; }));
  EXPECT_TRUE(eb.wait_for([](const PresenceEvent& e) {
    return e.kind == Kind::kUpdate && e.channel == "cursor" && e.value == "12" && !e.joined;
  }, 0ms));
  const json want = json::parse(R"({"name":"ada","cursor":12,
      "selection":{"from":3,"to":[4,5],"big":8589934592.0,"f":1.5,"t":true,"n":null}})");
  EXPECT_EQ(state_of(pb, "a"), want);
  EXPECT_EQ(json::parse(pa.local_state()), want);
  auto view = pb.peer_state(PeerId("a"));
  ASSERT_TRUE(view);
  EXPECT_GE(view->last_seen, view->last_active);
  EXPECT_EQ(pb.peer_states().size(), 1u);
}

TEST_F(PresenceTest, HeartbeatsKeepAQuietPeer) {
  Presence pa(doc_a_), pb(doc_b_);
  Events ea(pa);
  ASSERT_TRUE(pa.start("{}", fast()));
  ASSERT_TRUE(pb.start(R"({"here":true})", fast()));
  ASSERT_TRUE(ea.wait_for(Kind::kSnapshot, "b"));
  // Several TTLs with nothing but heartbeats: b stays.
  ASSERT_TRUE(ea.wait_count(Kind::kHeartbeat, 12, 5s));
  EXPECT_EQ(ea.count(Kind::kExpired), 0u);
  EXPECT_EQ(state_of(pa, "b"), json::parse(R"({"here":true})"));
}

// As the reference's resetHeartbeats: a heartbeat goes out only after a whole interval without
// state, so a peer sending updates faster than that sends no heartbeats.
TEST_F(PresenceTest, UpdatesPostponeHeartbeats) {
  Presence pa(doc_a_), pb(doc_b_);
  Events eb(pb);
  ASSERT_TRUE(pb.start("{}", fast(1s, 10s)));
  ASSERT_TRUE(pa.start(R"({"cursor":0})", fast(300ms, 10s)));
  ASSERT_TRUE(eb.wait_for(Kind::kSnapshot, "a"));
  const std::size_t before = eb.count(Kind::kHeartbeat);
  for (int i = 1; i <= 20; ++i) {
    ASSERT_TRUE(pa.broadcast("cursor", std::to_string(i)));
    std::this_thread::sleep_for(25ms);
  }
  ASSERT_TRUE(eb.wait_for([](const PresenceEvent& e) { return e.kind == Kind::kUpdate && e.value == "20"; }));
  EXPECT_EQ(eb.count(Kind::kHeartbeat), before) << "a heartbeat went out between updates 25 ms apart";
  // Quiet again: heartbeats resume.
  ASSERT_TRUE(eb.wait_count(Kind::kHeartbeat, before + 2, 3s));
}

TEST_F(PresenceTest, ASilentPeerExpiresAfterTheTtl) {
  Presence pa(doc_a_), pb(doc_b_);
  Events ea(pa);
  ASSERT_TRUE(pa.start("{}", fast(50ms, 300ms)));
  // b's heartbeats are far apart: after its snapshot, a hears nothing from it.
  ASSERT_TRUE(pb.start(R"({"here":true})", fast(60s, 60s)));
  ASSERT_TRUE(ea.wait_for(Kind::kSnapshot, "b"));
  auto seen = pa.peer_state(PeerId("b"));
  ASSERT_TRUE(seen);
  ASSERT_TRUE(ea.wait_for(Kind::kExpired, "b", 5s));
  const auto gone_at = std::chrono::steady_clock::now();
  EXPECT_GE(gone_at - seen->last_seen, 300ms);
  EXPECT_LT(gone_at - seen->last_seen, 2s);
  EXPECT_FALSE(pa.peer_state(PeerId("b")));
  EXPECT_TRUE(pa.peer_states().empty());
}

TEST_F(PresenceTest, GoodbyeForgetsThePeerAtOnce) {
  Presence pa(doc_a_), pb(doc_b_);
  Events ea(pa);
  ASSERT_TRUE(pa.start("{}", fast(1s, 60s)));
  ASSERT_TRUE(pb.start(R"({"name":"bob"})", fast(1s, 60s)));
  ASSERT_TRUE(ea.wait_for(Kind::kSnapshot, "b"));
  pb.stop();
  EXPECT_FALSE(pb.running());
  ASSERT_TRUE(ea.wait_for(Kind::kGoodbye, "b", 2s));
  EXPECT_FALSE(pa.peer_state(PeerId("b")));
  EXPECT_EQ(ea.count(Kind::kExpired), 0u);
  // Stopped: updates change our state but send nothing.
  ASSERT_TRUE(pb.broadcast("name", R"("quiet")"));
  EXPECT_EQ(json::parse(pb.local_state()), json::parse(R"({"name":"quiet"})"));
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(pa.peer_state(PeerId("b")));
  // Started again: a new run, b joins again with its new initial state.
  ASSERT_TRUE(pb.start(R"({"name":"back"})", fast(1s, 60s)));
  ASSERT_TRUE(ea.wait_for([](const PresenceEvent& e) {
    return e.kind == Kind::kSnapshot && e.peer.str() == "b" && e.joined && e.value == R"({"name":"back"})";
  }));
  EXPECT_EQ(state_of(pa, "b"), json::parse(R"({"name":"back"})"));
}

TEST_F(PresenceTest, DestroyingAPresenceSaysGoodbye) {
  Presence pa(doc_a_);
  Events ea(pa);
  ASSERT_TRUE(pa.start("{}", fast(1s, 60s)));
  {
    Presence pb(doc_b_);
    ASSERT_TRUE(pb.start(R"({"name":"bob"})", fast(1s, 60s)));
    ASSERT_TRUE(ea.wait_for(Kind::kSnapshot, "b"));
  }
  ASSERT_TRUE(ea.wait_for(Kind::kGoodbye, "b", 2s));
}

// The bytes as JS reads them: {"__presence": {...}} with JS-safe numbers; and what a cbor-x
// encoder writes (non-minimal map headers) is read here.
TEST_F(PresenceTest, WireFormatIsTheReferences) {
  std::mutex mutex;
  std::vector<json> seen;
  Subscription tap = doc_b_.on_ephemeral([&](const PeerId&, const Bytes& data) {
    std::lock_guard<std::mutex> lock(mutex);
    seen.push_back(json::from_cbor(data));
  });
  Presence pa(doc_a_);
  ASSERT_TRUE(pa.start(R"({"n":1})", fast(1s, 10s)));
  ASSERT_TRUE(pa.broadcast("big", "4294967296"));
  pa.stop();
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (seen.size() >= 3) break;
    }
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "a's three messages did not arrive";
    std::this_thread::sleep_for(10ms);
  }
  tap.reset();
  std::vector<json> got;
  {
    std::lock_guard<std::mutex> lock(mutex);
    got = seen;
  }
  EXPECT_EQ(got[0], json::parse(R"({"__presence":{"type":"snapshot","state":{"n":1}}})"));
  EXPECT_EQ(got[1]["__presence"]["type"], "update");
  EXPECT_EQ(got[1]["__presence"]["channel"], "big");
  EXPECT_TRUE(got[1]["__presence"]["value"].is_number_float()) << "2^32 must go as a float, not a uint64";
  EXPECT_EQ(got[1]["__presence"]["value"].get<double>(), 4294967296.0);
  EXPECT_EQ(got[2], json::parse(R"({"__presence":{"type":"goodbye"}})"));

  // From "JS": cbor-x writes map headers with 16-bit lengths (b9 0001).
  Presence pb(doc_b_);
  Events eb(pb);
  ASSERT_TRUE(pb.start("{}", fast(1s, 10s)));
  const std::string key = "__presence";
  Bytes js;
  js.push_back(0xb9); js.push_back(0x00); js.push_back(0x01);
  js.push_back(static_cast<std::uint8_t>(0x60 + key.size()));
  js.insert(js.end(), key.begin(), key.end());
  const std::vector<std::uint8_t> inner = json::to_cbor(json::parse(R"({"type":"update","channel":"c","value":[1,"x"]})"));
  js.insert(js.end(), inner.begin(), inner.end());
  doc_a_.broadcast(js);
  // cbor-x writes a JS undefined as 0xf7: read as null. Inside a byte string it is data (and a
  // byte string becomes an array of byte values).
  const std::vector<std::uint8_t> undefined_value = {
      0xa1, 0x6a, '_', '_', 'p', 'r', 'e', 's', 'e', 'n', 'c', 'e',
      0xa3, 0x64, 't', 'y', 'p', 'e', 0x66, 'u', 'p', 'd', 'a', 't', 'e',
      0x67, 'c', 'h', 'a', 'n', 'n', 'e', 'l', 0x61, 'u',
      0x65, 'v', 'a', 'l', 'u', 'e', 0x82, 0xf7, 0x41, 0xf7};
  doc_a_.broadcast(Bytes(undefined_value.begin(), undefined_value.end()));
  // Too deep: dropped, not a crash.
  Bytes deep(5000, 0x81);
  deep.push_back(0x01);
  doc_a_.broadcast(deep);
  // Not a presence message: ignored.
  const std::vector<std::uint8_t> other = json::to_cbor(json::parse(R"({"cursor":1})"));
  doc_a_.broadcast(Bytes(other.begin(), other.end()));
  // Messages arrive in order: once this one is here, the two above were handled.
  const std::vector<std::uint8_t> last = json::to_cbor(json::parse(R"({"__presence":{"type":"update","channel":"end","value":1}})"));
  doc_a_.broadcast(Bytes(last.begin(), last.end()));
  ASSERT_TRUE(eb.wait_for([](const PresenceEvent& e) {
    return e.kind == Kind::kUpdate && e.peer.str() == "a" && e.channel == "c" && e.value == R"([1,"x"])";
  }));
  ASSERT_TRUE(eb.wait_for([](const PresenceEvent& e) { return e.kind == Kind::kUpdate && e.channel == "u"; }));
  const json u = state_of(pb, "a")["u"];
  ASSERT_TRUE(u.is_array() && u.size() == 2) << u.dump();
  EXPECT_TRUE(u[0].is_null());
  EXPECT_EQ(u[1], json::parse("[247]")) << "a byte string is an array of its bytes";
  EXPECT_EQ(state_of(pb, "a")["c"], json::parse(R"([1,"x"])"));
  ASSERT_TRUE(eb.wait_for([](const PresenceEvent& e) { return e.kind == Kind::kUpdate && e.channel == "end"; }));
  EXPECT_EQ(eb.count(Kind::kUpdate), 3u) << "the deep and the non-presence messages must be dropped";
  EXPECT_EQ(state_of(pb, "a"), json::parse(R"({"c":[1,"x"],"u":[null,[247]],"end":1})"));
}

// Hostile or broken bytes from a peer: mutations of a real message (fixed seed) are read or
// dropped, never crash (the ASan run checks the CBOR pre-pass's bounds), and later messages still
// arrive.
TEST_F(PresenceTest, MutatedMessagesAreReadOrDropped) {
  Presence pb(doc_b_);
  Events eb(pb);
  ASSERT_TRUE(pb.start("{}", fast(1s, 10s)));
  const std::vector<std::uint8_t> valid = json::to_cbor(json::parse(
      R"({"__presence":{"type":"snapshot","state":{"name":"x","list":[1,-2,3.5,"s",null,true,{"k":[]}]}}})"));
  std::mt19937 rng(24);
  for (int i = 0; i < 300; ++i) {
    Bytes mutated(valid.begin(), valid.end());
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits; ++k) {
      const std::size_t at = rng() % mutated.size();
      switch (rng() % 3) {
        case 0: mutated[at] = static_cast<std::uint8_t>(rng()); break;
        case 1: mutated.erase(mutated.begin() + static_cast<std::ptrdiff_t>(at)); break;
        default: mutated.resize(at + 1); break;
      }
      if (mutated.empty()) mutated.push_back(0xf7);
    }
    doc_a_.broadcast(std::move(mutated));
  }
  const std::vector<std::uint8_t> last = json::to_cbor(json::parse(R"({"__presence":{"type":"update","channel":"end","value":1}})"));
  doc_a_.broadcast(Bytes(last.begin(), last.end()));
  ASSERT_TRUE(eb.wait_for([](const PresenceEvent& e) { return e.kind == Kind::kUpdate && e.channel == "end"; }, 10s));
  EXPECT_EQ(state_of(pb, "a")["end"], 1);
}

TEST_F(PresenceTest, RefusesWhatIsNotJson) {
  Presence pa(doc_a_);
  auto not_object = pa.start("[1,2]");
  ASSERT_FALSE(not_object);
  EXPECT_EQ(not_object.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(pa.running());
  ASSERT_TRUE(pa.start("{}", fast(1s, 10s)));
  EXPECT_TRUE(pa.running());
  auto bad = pa.broadcast("c", "{nope");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(pa.local_state(), "{}");
}

}  // namespace
}  // namespace am::repo
