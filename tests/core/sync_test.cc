#include "am/sync.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <rapidcheck/gtest.h>

#include <map>
#include <random>

#include <nlohmann/json.hpp>

#include "core/document_impl.h"
#include "core/sync/bloom.h"
#include "core/sync/change_graph.h"
#include "support/hex.h"
#include "support/vectors.h"

namespace am {
namespace {

using nlohmann::json;

// Time 0, as the vectors' JS changes: messages that carry hashes are then byte-identical.
Document doc_with(std::string_view actor_hex) {
  DocumentOptions o{*ActorId::from_hex(actor_hex), TextUnit::kUtf16};
  o.commit_clock = [] { return std::int64_t{0}; };
  return Document(o);
}
std::vector<ChangeHash> hashes_of(const json& list) {
  std::vector<ChangeHash> out;
  for (const auto& h : list) out.push_back(*ChangeHash::from_hex(h.get<std::string>()));
  return out;
}

// Runs the JS vectors' loop: each round A->B then B->A, until neither sends. Returns the messages.
struct Peer {
  Document* doc;
  SyncState state;
};
std::vector<std::pair<std::string, Bytes>> run_sync(Peer& a, Peer& b, int max_rounds = 50) {
  std::vector<std::pair<std::string, Bytes>> log;
  for (int round = 0; round < max_rounds; ++round) {
    bool sent = false;
    for (int dir = 0; dir < 2; ++dir) {
      Peer& from = dir == 0 ? a : b;
      Peer& to = dir == 0 ? b : a;
      auto msg = generate_sync_message(*from.doc, from.state);
      if (!msg) continue;
      sent = true;
      log.emplace_back(dir == 0 ? "A" : "B", *msg);
      const Status s = receive_sync_message(*to.doc, to.state, *msg);
      EXPECT_TRUE(s) << s.error().to_string();
    }
    if (!sent) return log;
  }
  ADD_FAILURE() << "sync did not terminate";
  return log;
}

// JS hasOurChanges: true once the peer has acknowledged every one of our heads; a new local
// change makes it false until the next round trip.
TEST(SyncState, HasOurChangesFollowsTheSharedHeads) {
  Document a = doc_with("aaaa");
  Document b = doc_with("bbbb");
  ASSERT_TRUE(a.put(ObjId::root(), "x", std::int64_t{1}));
  a.commit();
  Peer pa{&a, {}};
  Peer pb{&b, {}};
  EXPECT_FALSE(has_our_changes(a, pa.state));
  run_sync(pa, pb);
  EXPECT_TRUE(has_our_changes(a, pa.state));
  EXPECT_TRUE(has_our_changes(b, pb.state));
  ASSERT_TRUE(a.put(ObjId::root(), "x", std::int64_t{2}));
  a.commit();
  EXPECT_FALSE(has_our_changes(a, pa.state));
  EXPECT_TRUE(has_our_changes(b, pb.state));  // b has nothing a lacks
  run_sync(pa, pb);
  EXPECT_TRUE(has_our_changes(a, pa.state));
}

// JS getMissingDeps(doc, heads): the queue's missing deps plus unknown heads, never a queued one.
TEST(SyncState, MissingDepsOfHeadsLeaveOutKnownAndQueuedChanges) {
  Document source = doc_with("aaaa");
  ASSERT_TRUE(source.put(ObjId::root(), "x", std::int64_t{1}));
  const ChangeHash first = source.commit();
  ASSERT_TRUE(source.put(ObjId::root(), "x", std::int64_t{2}));
  const ChangeHash second = source.commit();
  Document other = doc_with("cccc");
  ASSERT_TRUE(other.put(ObjId::root(), "y", std::int64_t{1}));
  const ChangeHash unknown = other.commit();
  Document d = doc_with("bbbb");
  ASSERT_TRUE(d.apply_changes(std::vector<Bytes>{*source.get_change_by_hash(second)}));  // queued
  EXPECT_EQ(d.get_missing_deps(), std::vector<ChangeHash>{first});
  std::vector<ChangeHash> want{first, unknown};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(d.get_missing_deps({second, unknown}), want);
  ASSERT_TRUE(d.apply_changes(std::vector<Bytes>{*source.get_change_by_hash(first)}));
  EXPECT_EQ(d.get_missing_deps({first, second, unknown}), std::vector<ChangeHash>{unknown});
}

TEST(SyncBloom, MatchesTheReference) {
  const json v = test::load_vector("bloom");
  for (const auto& b : v["extra"]["blooms"]) {
    SCOPED_TRACE(b["n"].dump());
    const auto filter = core::BloomFilter::from_hashes(hashes_of(b["hashes"]));
    EXPECT_EQ(to_hex(filter.encode()), b["bloom"].get<std::string>());
    for (const auto& h : hashes_of(b["hashes"])) EXPECT_TRUE(filter.contains(h));
    // The first message of a document with the same n changes.
    Document d = doc_with("aaaa");
    for (int i = 0; i < b["n"].get<int>(); ++i) {
      ASSERT_TRUE(d.put(ObjId::root(), "v", std::int64_t{i}));
      d.commit();
    }
    SyncState s;
    EXPECT_EQ(to_hex(*generate_sync_message(d, s)), b["message"].get<std::string>());
  }
}

TEST(SyncBloom, EmptyAndMalformedFilters) {
  const auto empty = core::BloomFilter::from_hashes({});
  EXPECT_TRUE(empty.encode().empty());
  ChangeHash h;
  EXPECT_FALSE(empty.contains(h));
  const Bytes too_short = test::hex("03 0a 07 00");
  EXPECT_FALSE(core::BloomFilter::decode(too_short));
  const Bytes zero_bits = test::hex("01 00 07");  // no bits at all: contains() must not divide by 0
  const auto z = core::BloomFilter::decode(zero_bits);
  ASSERT_TRUE(z);
  EXPECT_FALSE(z->contains(h));
  const Bytes many_probes = test::hex("01 0a ffffffff0f 00 00");
  EXPECT_FALSE(core::BloomFilter::decode(many_probes));
}

TEST(SyncVectors, FreshTranscriptIsByteIdentical) {
  const json v = test::load_vector("sync_fresh");
  std::vector<Bytes> changes;
  for (const auto& c : v["changes"]) changes.push_back(test::hex(c["hex"].get<std::string>()));
  Document a = doc_with("aaaa");
  ASSERT_TRUE(a.apply_changes(changes));
  Document b = doc_with("bbbb");
  Peer pa{&a, {}}, pb{&b, {}};
  const auto log = run_sync(pa, pb);
  const auto& expected = v["extra"]["sync"]["messages"];
  ASSERT_EQ(log.size(), expected.size());
  for (std::size_t i = 0; i < log.size(); ++i) {
    EXPECT_EQ(log[i].first, expected[i]["from"].get<std::string>()) << i;
    EXPECT_EQ(to_hex(log[i].second), expected[i]["hex"].get<std::string>()) << "message " << i;
  }
  EXPECT_EQ(to_hex(pa.state.encode()), v["extra"]["sync"]["states"]["A"].get<std::string>());
  EXPECT_EQ(to_hex(pb.state.encode()), v["extra"]["sync"]["states"]["B"].get<std::string>());
  EXPECT_EQ(a.heads(), b.heads());
}

TEST(SyncVectors, IncrementalTranscriptWithReconnectIsByteIdentical) {
  const json v = test::load_vector("sync_incremental");
  // Each side's own changes, in seq order; the phases add them as the JS script did.
  std::map<std::string, std::vector<Bytes>> by_actor;
  for (const auto& c : v["changes"]) {
    by_actor[c["decoded"]["actor"].get<std::string>()].push_back(test::hex(c["hex"].get<std::string>()));
  }
  const auto& own_a = by_actor.at("aaaa");
  const auto& own_b = by_actor.at("bbbb");
  ASSERT_EQ(own_a.size(), 6u);
  ASSERT_EQ(own_b.size(), 5u);
  Document a = doc_with("aaaa"), b = doc_with("bbbb");
  Peer pa{&a, {}}, pb{&b, {}};
  auto add = [](Document& d, const std::vector<Bytes>& all, std::size_t from, std::size_t to) {
    std::vector<Bytes> part(all.begin() + static_cast<long>(from), all.begin() + static_cast<long>(to));
    ASSERT_TRUE(d.apply_changes(part));
  };
  std::vector<std::pair<std::string, Bytes>> log;
  auto phase = [&](int n) {
    auto l = run_sync(pa, pb);
    log.insert(log.end(), l.begin(), l.end());
    const auto& states = v["extra"]["sync"]["states"][std::to_string(n)];
    EXPECT_EQ(to_hex(pa.state.encode()), states["A"].get<std::string>()) << "phase " << n;
    EXPECT_EQ(to_hex(pb.state.encode()), states["B"].get<std::string>()) << "phase " << n;
  };
  add(a, own_a, 0, 3);
  add(b, own_b, 0, 2);
  phase(1);
  add(a, own_a, 3, 5);
  add(b, own_b, 2, 3);
  phase(2);
  pa.state = SyncState::decode(pa.state.encode()).value();
  pb.state = SyncState::decode(pb.state.encode()).value();
  add(a, own_a, 5, 6);
  add(b, own_b, 3, 5);
  phase(3);
  const auto& expected = v["extra"]["sync"]["messages"];
  ASSERT_EQ(log.size(), expected.size());
  for (std::size_t i = 0; i < log.size(); ++i) {
    EXPECT_EQ(log[i].first, expected[i]["from"].get<std::string>()) << i;
    EXPECT_EQ(to_hex(log[i].second), expected[i]["hex"].get<std::string>()) << "message " << i;
  }
  EXPECT_EQ(a.heads(), b.heads());
  EXPECT_EQ(a.to_json().value(), b.to_json().value());
}

TEST(Sync, MessageRoundTripsThroughEncodeDecode) {
  Document a = doc_with("aaaa");
  ASSERT_TRUE(a.put(ObjId::root(), "x", std::int64_t{1}));
  a.commit();
  SyncState s;
  const Bytes m = *generate_sync_message(a, s);
  const auto decoded = SyncMessage::decode(m);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->encode(), m);
  EXPECT_EQ(decoded->flags(), SyncMessage::kFlagSupportsSyncReset);
  // Nothing new to say until the peer answers.
  EXPECT_FALSE(generate_sync_message(a, s).has_value());
}

TEST(Sync, MalformedMessagesLeaveDocumentAndStateUnchanged) {
  Document a = doc_with("aaaa");
  ASSERT_TRUE(a.put(ObjId::root(), "x", std::int64_t{1}));
  a.commit();
  Document b = doc_with("bbbb");
  ASSERT_TRUE(b.put(ObjId::root(), "y", std::int64_t{2}));
  b.commit();
  SyncState sa, sb;
  const Bytes m1 = *generate_sync_message(a, sa);
  ASSERT_TRUE(receive_sync_message(b, sb, m1));
  const Bytes m2 = *generate_sync_message(b, sb);  // carries b's change
  int errors = 0;
  for (std::size_t cut = 0; cut < m2.size(); ++cut) {
    Document copy = a.fork(*ActorId::from_hex("aaaa"));
    SyncState st = sa;
    const std::string before = copy.to_json().value();
    const Bytes truncated(m2.begin(), m2.begin() + static_cast<long>(cut));
    if (!receive_sync_message(copy, st, truncated)) {
      ++errors;
      EXPECT_EQ(copy.to_json().value(), before);
      EXPECT_EQ(st.encode(), sa.encode());
      EXPECT_EQ(st.in_flight, sa.in_flight);
    }
  }
  EXPECT_GT(errors, static_cast<int>(m2.size()) / 2);
  for (std::size_t i = 0; i < m2.size(); ++i) {
    for (std::uint8_t bit : {0x01, 0x80}) {
      Document copy = a.fork(*ActorId::from_hex("aaaa"));
      SyncState st = sa;
      Bytes flipped = m2;
      flipped[i] ^= bit;
      (void)receive_sync_message(copy, st, flipped);  // an error or a valid message; no crash
    }
  }
  const Bytes not_sync = test::hex("44 00 00 00 00");
  const Status s = receive_sync_message(a, sa, not_sync);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kProtocol);
}

TEST(Sync, SyncStateDecodeRejectsGarbage) {
  EXPECT_FALSE(SyncState::decode(test::hex("42 00")));
  EXPECT_FALSE(SyncState::decode(test::hex("43 02 00")));
  const auto empty = SyncState::decode(test::hex("43 00"));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->their_have.has_value());
}

TEST(Sync, PeerThatLostItsDataResyncs) {
  Document a = doc_with("aaaa");
  ASSERT_TRUE(a.put(ObjId::root(), "x", std::int64_t{1}));
  a.commit();
  Document b = doc_with("bbbb");
  Peer pa{&a, {}}, pb{&b, {}};
  run_sync(pa, pb);
  ASSERT_EQ(a.heads(), b.heads());
  // B loses everything but A keeps its state (with B's old shared heads).
  Document fresh = doc_with("bbbb");
  Peer pf{&fresh, {}};
  pa.state = SyncState::decode(pa.state.encode()).value();
  run_sync(pa, pf);
  EXPECT_EQ(fresh.heads(), a.heads());
  EXPECT_EQ(fresh.to_json().value(), a.to_json().value());
}

RC_GTEST_PROP(SyncProperty, PeersConvergeAcrossEditsAndReconnects, ()) {
  const auto seed = *rc::gen::arbitrary<std::uint32_t>();
  RC_TAG(seed);
  std::mt19937 rng(seed);
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  Document a = doc_with("aaaa"), b = doc_with("bbbb");
  Peer pa{&a, {}}, pb{&b, {}};
  static const std::vector<std::string> kKeys{"k0", "k1", "k2", "k3"};
  for (int step = 0; step < 6; ++step) {
    for (Document* d : {&a, &b}) {
      for (std::size_t e = pick(20); e > 0; --e) {
        RC_ASSERT(d->put(ObjId::root(), kKeys[pick(4)], std::int64_t(pick(100))));
        if (pick(3) == 0) d->commit();
      }
      d->commit_if_pending();
    }
    switch (pick(3)) {
      case 0: break;  // keep the session
      case 1:         // reconnect with persisted states
        pa.state = SyncState::decode(pa.state.encode()).value();
        pb.state = SyncState::decode(pb.state.encode()).value();
        break;
      default:  // reconnect with fresh states
        pa.state = SyncState{};
        pb.state = SyncState{};
    }
    const auto log = run_sync(pa, pb);
    RC_ASSERT(log.size() <= 12u);
    RC_ASSERT(a.heads() == b.heads());
    RC_ASSERT(a.to_json().value() == b.to_json().value());
  }
}

}  // namespace
}  // namespace am

namespace am {
namespace {

TEST(Sync, ReadOnlyPeerNeitherAppliesNorReceivesChanges) {
  Document a = doc_with("aaaa");
  ASSERT_TRUE(a.put(ObjId::root(), "x", std::int64_t{1}));
  a.commit();
  Document b = doc_with("bbbb");
  ASSERT_TRUE(b.put(ObjId::root(), "y", std::int64_t{2}));
  b.commit();
  Peer pa{&a, {}}, pb{&b, {}};
  pb.state.read_only = true;
  const auto log = run_sync(pa, pb);
  EXPECT_LE(log.size(), 6u);
  // b kept only its own data; a received b's change.
  EXPECT_EQ(b.to_json().value(), R"({"y":2})");
  EXPECT_EQ(a.to_json().value(), R"({"x":1,"y":2})");
  EXPECT_TRUE(pa.state.peer_read_only);
  const auto first_from_b = SyncMessage::decode(log[1].second).value();
  EXPECT_TRUE(first_from_b.flags() & SyncMessage::kFlagReadOnly);
  EXPECT_TRUE(first_from_b.need.empty());
}

TEST(Sync, ResetFlagMakesThePeerResendEverything) {
  Document a = doc_with("aaaa");
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(a.put(ObjId::root(), "k", std::int64_t{i}));
    a.commit();
  }
  Document b = doc_with("bbbb");
  Peer pa{&a, {}}, pb{&b, {}};
  run_sync(pa, pb);
  ASSERT_EQ(a.heads(), b.heads());
  // b loses its data but keeps its session: it must ask a to forget what it sent.
  Document lost = doc_with("bbbb");
  Peer pl{&lost, pb.state};
  pl.state.needs_reset = true;
  pl.state.in_flight = false;  // a new exchange starts
  pl.state.shared_heads.clear();
  const auto log = run_sync(pa, pl);
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(lost.heads(), a.heads());
  EXPECT_EQ(lost.to_json().value(), a.to_json().value());
  bool saw_reset = false;
  for (const auto& [from, bytes] : log) {
    if (from == "B") saw_reset = saw_reset || (SyncMessage::decode(bytes).value().flags() & SyncMessage::kFlagSyncReset);
  }
  EXPECT_TRUE(saw_reset);
}

}  // namespace
}  // namespace am

namespace am {
namespace {

// The bounded walk that finds what a peer lacks agrees with marking every ancestor, for random
// multi-actor histories (forks and merges) and random base sets: recent heads, old changes,
// concurrent branches, unknown hashes, and long histories where the walk gives up early.
RC_GTEST_PROP(SyncChangeGraph, BoundedWalkFindsTheSameChangesAsAFullWalk, ()) {
  const auto seed = *rc::gen::arbitrary<std::uint32_t>();
  RC_TAG(seed);
  std::mt19937 rng(seed);
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  std::vector<Document> replicas;
  for (const char* actor : {"aaaa", "bbbb", "cccc"}) replicas.push_back(doc_with(actor));
  const std::size_t rounds = 1 + pick(40);
  for (std::size_t round = 0; round < rounds; ++round) {
    Document& d = replicas[pick(replicas.size())];
    for (std::size_t e = 1 + pick(3); e > 0; --e) {
      RC_ASSERT(d.put(ObjId::root(), "k" + std::to_string(pick(4)), std::int64_t(pick(100))));
      d.commit();
    }
    if (Document& other = replicas[pick(replicas.size())]; pick(3) == 0 && &other != &d) RC_ASSERT(other.merge(d));
  }
  Document all = replicas[0].fork();
  for (auto& r : replicas) RC_ASSERT(all.merge(r));
  const Document::Impl& impl = detail::DocumentAccess::impl(all);
  const std::size_t n = impl.history.size();
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<ChangeHash> base;
    for (std::size_t k = pick(4); k > 0 && n > 0; --k) {
      // Mostly recent changes (what a live peer reports), sometimes any.
      const std::size_t row = pick(2) == 0 ? n - 1 - pick(std::min<std::size_t>(n, 5)) : pick(n);
      base.push_back(impl.history.hash(row));
    }
    if (pick(5) == 0) base.push_back(ChangeHash{});  // a hash we do not have
    std::sort(base.begin(), base.end());
    base.erase(std::unique(base.begin(), base.end()), base.end());
    RC_ASSERT(sync_detail::changes_since(impl, base) == sync_detail::changes_since_by_full_walk(impl, base));
  }
}

// A document of `n` changes, one op each, by one actor.
Document many_changes(std::size_t n, std::string_view actor_hex = "aa01") {
  Document d = doc_with(actor_hex);
  for (std::size_t i = 0; i < n; ++i) {
    (void)d.put(ObjId::root(), "k" + std::to_string(i % 7), static_cast<std::int64_t>(i));
    d.commit();
  }
  return d;
}

std::size_t changes_in(const Bytes& message) {
  auto m = SyncMessage::decode(message);
  EXPECT_TRUE(m);
  return m ? m->changes.size() : 0;
}

// A fresh peer's first answer is the whole document: the state records our heads instead of
// one sent-hash per change, and every fresh peer at the same heads gets the same bytes.
TEST(SyncWholeDocument, RecordsTheHeadsNotEveryHashAndIsSharedByFreshPeers) {
  Document server = many_changes(1000);
  std::vector<SyncState> states(3);
  std::vector<Document> fetchers;
  std::vector<Bytes> answers;
  for (int i = 0; i < 3; ++i) {
    fetchers.emplace_back(doc_with("bb0" + std::to_string(i)));
    SyncState fetcher_state;
    const Bytes hello = *generate_sync_message(fetchers.back(), fetcher_state);
    ASSERT_TRUE(receive_sync_message(server, states[i], hello));
    const auto answer = generate_sync_message(server, states[i]);
    ASSERT_TRUE(answer);
    answers.push_back(*answer);
    EXPECT_TRUE(states[i].sent_hashes.empty());
    EXPECT_EQ(states[i].sent_whole_at, server.heads());
    EXPECT_EQ(states[i].changes_sent, 1000u);
    ASSERT_TRUE(receive_sync_message(fetchers.back(), fetcher_state, *answer));
    EXPECT_EQ(fetchers.back().heads(), server.heads());
  }
  EXPECT_EQ(answers[0], answers[1]);
  EXPECT_EQ(answers[1], answers[2]);
  // The shared save follows the document: after a change, a fresh peer gets the new one.
  (void)server.put(ObjId::root(), "late", std::int64_t{1});
  server.commit();
  Document late = doc_with("bb09");
  SyncState late_state, server_state;
  ASSERT_TRUE(receive_sync_message(server, server_state, *generate_sync_message(late, late_state)));
  ASSERT_TRUE(receive_sync_message(late, late_state, *generate_sync_message(server, server_state)));
  EXPECT_EQ(late.heads(), server.heads());
}

// Fresh peers share our Bloom filter too: the same bytes as a document that never cached one
// (a copy loaded from the save), also after the document changed.
TEST(SyncWholeDocument, FreshPeersGetTheBloomFilterAnUncachedDocumentWouldBuild) {
  Document server = many_changes(300);
  auto first_have = [](Document& doc) {
    Document fetcher = doc_with("cc01");
    SyncState fetcher_state, state;
    EXPECT_TRUE(receive_sync_message(doc, state, *generate_sync_message(fetcher, fetcher_state)));
    auto m = SyncMessage::decode(*generate_sync_message(doc, state));
    EXPECT_TRUE(m && m->have.size() == 1);
    return m && m->have.size() == 1 ? m->have[0] : SyncHave{};
  };
  for (int round = 0; round < 2; ++round) {
    const SyncHave cached_a = first_have(server);
    const SyncHave cached_b = first_have(server);
    Document uncached = *Document::load(server.save());
    const SyncHave built = first_have(uncached);
    EXPECT_FALSE(built.bloom.empty());
    EXPECT_EQ(cached_a, built) << "round " << round;
    EXPECT_EQ(cached_b, built) << "round " << round;
    EXPECT_EQ(detail::DocumentAccess::impl(server).fresh_peer.heads, server.heads());  // it was shared
    (void)server.put(ObjId::root(), "late", std::int64_t{round});  // the next round's heads differ
    server.commit();
  }
}

// The document changes while a fetcher is still applying the whole document: the next message
// carries only the new changes (nothing of the prefix already sent), and both converge; the
// fetcher's acknowledgement then releases the whole-document record.
TEST(SyncWholeDocument, ADocumentThatChangesDuringTheFetchSendsOnlyTheNewChanges) {
  Document server = many_changes(600);
  Document fetcher = doc_with("bb01");
  SyncState server_state, fetcher_state;
  ASSERT_TRUE(receive_sync_message(server, server_state, *generate_sync_message(fetcher, fetcher_state)));
  const Bytes whole = *generate_sync_message(server, server_state);
  for (int i = 0; i < 5; ++i) {
    (void)server.put(ObjId::root(), "during", static_cast<std::int64_t>(i));
    server.commit();
  }
  ASSERT_TRUE(receive_sync_message(fetcher, fetcher_state, whole));
  const Bytes ack = *generate_sync_message(fetcher, fetcher_state);
  ASSERT_TRUE(receive_sync_message(server, server_state, ack));
  const auto next = generate_sync_message(server, server_state);
  ASSERT_TRUE(next);
  auto decoded = SyncMessage::decode(*next);
  ASSERT_TRUE(decoded);
  ASSERT_EQ(decoded->changes.size(), 1u);  // V2: one entry holding the new change chunks
  ASSERT_TRUE(receive_sync_message(fetcher, fetcher_state, *next));
  Peer a{&server, std::move(server_state)}, b{&fetcher, std::move(fetcher_state)};
  run_sync(a, b);
  EXPECT_EQ(fetcher.heads(), server.heads());
  EXPECT_TRUE(a.state.sent_whole_at.empty()) << "acknowledged, so no longer needed";
  EXPECT_EQ(a.state.changes_sent, 605u) << "every change sent exactly once";
}

// A fetcher that disconnects midway (the whole document lost in flight) and comes back with
// a fresh state gets the whole document again; one that had applied it gets only what is new.
TEST(SyncWholeDocument, APeerThatReconnectsMidwayResumes) {
  Document server = many_changes(400);
  Document fetcher = doc_with("bb01");
  SyncState server_state, fetcher_state;
  ASSERT_TRUE(receive_sync_message(server, server_state, *generate_sync_message(fetcher, fetcher_state)));
  ASSERT_TRUE(generate_sync_message(server, server_state));  // lost with the connection
  // Reconnect: the server resumes from the persisted part of its state, as the repo does.
  SyncState resumed = *SyncState::decode(server_state.encode());
  SyncState fresh_fetcher_state;
  Peer a{&server, std::move(resumed)}, b{&fetcher, std::move(fresh_fetcher_state)};
  run_sync(a, b);
  EXPECT_EQ(fetcher.heads(), server.heads());
  // It had the document, left, and the server moved on meanwhile.
  (void)server.put(ObjId::root(), "while away", std::int64_t{7});
  server.commit();
  SyncState again = *SyncState::decode(a.state.encode());
  Peer c{&server, std::move(again)}, d{&fetcher, SyncState{}};
  std::size_t changes_sent = 0;
  for (const auto& [who, message] : run_sync(c, d)) {
    if (who == "A") changes_sent += changes_in(message);
  }
  EXPECT_EQ(fetcher.heads(), server.heads());
  EXPECT_EQ(c.state.changes_sent, 1u) << "only the new change, not the document again";
  EXPECT_LE(changes_sent, 1u);
}

}  // namespace
}  // namespace am
