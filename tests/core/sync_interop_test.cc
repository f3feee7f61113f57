// Live sync sessions between this implementation and the pinned JS reference running in Node
// (tools/jsref/sync-peer.mjs), in both roles, over seeded scenarios. Each scenario also runs
// JS-to-JS as the baseline: every session must converge, and must not need more messages than
// the reference needs for the same scenario.
#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <random>

#include <nlohmann/json.hpp>

#include "am/document.h"
#include "am/sync.h"
#include "support/node_process.h"

namespace am {
namespace {

using nlohmann::json;

// One edit, made identically by either implementation (same actor, time 0: same change bytes).
struct Edit {
  enum Kind { kPut, kText, kSplice } kind;
  std::string key;
  std::int64_t value = 0;
  std::size_t pos = 0, del = 0;
  std::string text;

  static Edit put(std::string k, std::int64_t v) { return Edit{kPut, std::move(k), v, 0, 0, {}}; }
  static Edit make_text(std::string k) { return Edit{kText, std::move(k), 0, 0, 0, {}}; }
  static Edit splice(std::string k, std::size_t pos, std::size_t del, std::string text) {
    return Edit{kSplice, std::move(k), 0, pos, del, std::move(text)};
  }
};

class Peer {
 public:
  virtual ~Peer() = default;
  virtual void init(const std::string& actor) = 0;
  virtual void edit(const std::vector<Edit>& edits) = 0;  // one change
  virtual std::optional<Bytes> generate() = 0;
  virtual void receive(const Bytes& msg) = 0;
  virtual std::vector<std::string> heads() = 0;
  virtual json to_json() = 0;
  virtual std::size_t text_length(const std::string& key) = 0;
  virtual void state_roundtrip() = 0;
  virtual void state_reset() = 0;
  virtual std::string name() const = 0;
};

class CppPeer : public Peer {
 public:
  void init(const std::string& actor) override {
    // Time 0, as sync-peer.mjs's changes: both sides then make the same changes (and hashes).
    DocumentOptions o{*ActorId::from_hex(actor), TextUnit::kUtf16};
    o.commit_clock = [] { return std::int64_t{0}; };
    doc_ = std::make_unique<Document>(o);
    state_ = SyncState{};
  }
  void edit(const std::vector<Edit>& edits) override {
    for (const Edit& e : edits) {
      switch (e.kind) {
        case Edit::kPut: ASSERT_TRUE(doc_->put(ObjId::root(), e.key, e.value)); break;
        case Edit::kText: ASSERT_TRUE(doc_->put_object(ObjId::root(), e.key, ObjType::kText)); break;
        case Edit::kSplice: ASSERT_TRUE(doc_->splice_text(text_id(e.key), e.pos, e.del, e.text)); break;
      }
    }
    doc_->commit();
  }
  std::optional<Bytes> generate() override { return generate_sync_message(*doc_, state_); }
  void receive(const Bytes& msg) override {
    const Status s = receive_sync_message(*doc_, state_, msg);
    EXPECT_TRUE(s) << s.error().to_string();
  }
  std::vector<std::string> heads() override {
    std::vector<std::string> out;
    for (const auto& h : doc_->heads()) out.push_back(h.to_hex());
    return out;
  }
  json to_json() override { return json::parse(doc_->to_json().value()); }
  std::size_t text_length(const std::string& key) override {
    auto v = doc_->get(ObjId::root(), key);
    if (!v || !*v || !std::holds_alternative<ObjectRef>(**v)) return 0;
    return doc_->length(text_id(key)).value();
  }
  void state_roundtrip() override { state_ = SyncState::decode(state_.encode()).value(); }
  void state_reset() override { state_ = SyncState{}; }
  std::string name() const override { return "C++"; }

 private:
  ObjId text_id(const std::string& key) {
    return std::get<ObjectRef>(*doc_->get(ObjId::root(), key).value()).id;
  }
  std::unique_ptr<Document> doc_;
  SyncState state_;
};

class JsPeer : public Peer {
 public:
  JsPeer(test::NodeProcess& node, std::string doc) : node_(node), doc_(std::move(doc)) {}
  void init(const std::string& actor) override { call({{"cmd", "init"}, {"actor", actor}}); }
  void edit(const std::vector<Edit>& edits) override {
    json list = json::array();
    for (const Edit& e : edits) {
      switch (e.kind) {
        case Edit::kPut: list.push_back({"put", e.key, e.value}); break;
        case Edit::kText: list.push_back({"text", e.key}); break;
        case Edit::kSplice: list.push_back({"splice", e.key, e.pos, e.del, e.text}); break;
      }
    }
    call({{"cmd", "edit"}, {"edits", list}});
  }
  std::optional<Bytes> generate() override {
    const json r = call({{"cmd", "generate"}});
    if (!r.contains("msg") || r["msg"].is_null()) return std::nullopt;
    Bytes b;
    from_hex(r["msg"].get<std::string>(), b);
    return b;
  }
  void receive(const Bytes& msg) override { call({{"cmd", "receive"}, {"msg", to_hex(msg)}}); }
  std::vector<std::string> heads() override { return call({{"cmd", "heads"}})["heads"]; }
  json to_json() override { return call({{"cmd", "json"}})["json"]; }
  std::size_t text_length(const std::string& key) override {
    return call({{"cmd", "text_length"}, {"key", key}})["length"];
  }
  void state_roundtrip() override { call({{"cmd", "state_roundtrip"}}); }
  void state_reset() override { call({{"cmd", "state_reset"}}); }
  std::string name() const override { return "JS"; }

 private:
  json call(json req) {
    req["doc"] = doc_;
    return node_.call(req);
  }
  test::NodeProcess& node_;
  std::string doc_;
};

// Syncs until neither side sends; returns the number of messages (or -1 if it never settled).
int sync(Peer& a, Peer& b) {
  int messages = 0;
  for (int round = 0; round < 100; ++round) {
    bool sent = false;
    if (auto m = a.generate()) {
      b.receive(*m);
      ++messages;
      sent = true;
    }
    if (auto m = b.generate()) {
      a.receive(*m);
      ++messages;
      sent = true;
    }
    if (!sent) return messages;
  }
  return -1;
}

struct Outcome {
  std::vector<int> messages;  // per sync session
  bool converged = true;
};

// A seeded scenario: `kind` picks the shape; edits are generated from the seed so that every
// pairing of implementations sees the same history.
Outcome run_scenario(Peer& p, Peer& q, int kind, std::uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  Outcome out;
  auto check = [&] {
    out.converged = out.converged && p.heads() == q.heads() && p.to_json() == q.to_json();
  };
  auto session = [&] {
    out.messages.push_back(sync(p, q));
    check();
  };
  auto random_puts = [&](Peer& peer, int changes, int per_change) {
    for (int c = 0; c < changes; ++c) {
      std::vector<Edit> edits;
      for (int e = 0; e < per_change; ++e) {
        edits.push_back(Edit::put("k" + std::to_string(pick(8)), std::int64_t(pick(1000)) + 1));
      }
      peer.edit(edits);
    }
  };
  auto typing = [&](Peer& peer, int changes) {
    for (int c = 0; c < changes; ++c) {
      const std::size_t len = peer.text_length("text");
      const std::size_t pos = len ? pick(len + 1) : 0;
      const std::size_t del = (pos < len && pick(4) == 0) ? 1 : 0;
      peer.edit({Edit::splice("text", pos, del, std::string(1, static_cast<char>('a' + pick(26))))});
    }
  };
  p.init("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  q.init("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
  switch (kind) {
    case 0:  // one side empty
      random_puts(p, 5 + static_cast<int>(pick(10)), 2);
      session();
      break;
    case 1:  // both sides with concurrent edits, twice
      random_puts(p, 3, 3);
      random_puts(q, 4, 2);
      session();
      random_puts(p, 2, 1);
      random_puts(q, 2, 1);
      session();
      break;
    case 2:  // many small changes on both sides
      p.edit({Edit::make_text("text")});
      session();
      typing(p, 150);
      typing(q, 150);
      session();
      break;
    case 3: {  // a large text
      p.edit({Edit::make_text("text")});
      std::string big;
      for (int i = 0; i < 20000; ++i) big.push_back(static_cast<char>('a' + pick(26)));
      p.edit({Edit::splice("text", 0, 0, big)});
      session();
      typing(q, 20);
      session();
      break;
    }
    case 4:  // reconnect restoring persisted states on one or both sides
      random_puts(p, 4, 2);
      random_puts(q, 3, 2);
      session();
      random_puts(p, 3, 1);
      random_puts(q, 2, 1);
      p.state_roundtrip();
      if (pick(2)) q.state_roundtrip();
      session();
      random_puts(q, 3, 1);
      q.state_roundtrip();
      session();
      break;
    default:  // a peer that lost its data: q starts over empty, p keeps its persisted state
      random_puts(p, 6, 2);
      session();
      p.state_roundtrip();
      q.init("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
      session();
      random_puts(q, 2, 1);
      session();
      break;
  }
  return out;
}

std::string describe(const Outcome& o) {
  std::string s;
  for (int m : o.messages) s += std::to_string(m) + " ";
  return s;
}

TEST(SyncInterop, ConvergesWithTheJsReferenceInBothRolesWithinItsMessageCount) {
  test::NodeProcess node(test::jsref_script("sync-peer.mjs"));
  ASSERT_TRUE(node.running());
  int sessions = 0;
  for (int kind = 0; kind < 6; ++kind) {
    for (std::uint32_t seed : {1u, 2u, 3u}) {
      SCOPED_TRACE("scenario " + std::to_string(kind) + " seed " + std::to_string(seed));
      JsPeer jp(node, "jp"), jq(node, "jq");
      const Outcome baseline = run_scenario(jp, jq, kind, seed);
      ASSERT_TRUE(baseline.converged) << "the reference itself did not converge";
      CppPeer cp1, cq2;
      JsPeer jq1(node, "jq1"), jp2(node, "jp2");
      CppPeer cp3, cq3;
      const Outcome ours_as_p = run_scenario(cp1, jq1, kind, seed);
      const Outcome ours_as_q = run_scenario(jp2, cq2, kind, seed);
      const Outcome ours_both = run_scenario(cp3, cq3, kind, seed);
      std::cout << "scenario " << kind << " seed " << seed << " messages per session: JS-JS "
                << describe(baseline) << "| C++-JS " << describe(ours_as_p) << "| JS-C++ "
                << describe(ours_as_q) << "| C++-C++ " << describe(ours_both) << "\n";
      EXPECT_TRUE(ours_as_p.converged);
      EXPECT_TRUE(ours_as_q.converged);
      EXPECT_TRUE(ours_both.converged);
      ASSERT_EQ(ours_as_p.messages.size(), baseline.messages.size());
      for (std::size_t i = 0; i < baseline.messages.size(); ++i) {
        EXPECT_GE(baseline.messages[i], 0);
        EXPECT_GE(ours_as_p.messages[i], 0);
        EXPECT_LE(ours_as_p.messages[i], baseline.messages[i]) << "JS-JS " << describe(baseline) << " vs C++-JS " << describe(ours_as_p);
        EXPECT_LE(ours_as_q.messages[i], baseline.messages[i]) << "JS-JS " << describe(baseline) << " vs JS-C++ " << describe(ours_as_q);
        EXPECT_LE(ours_both.messages[i], baseline.messages[i]) << "JS-JS " << describe(baseline) << " vs C++-C++ " << describe(ours_both);
        ++sessions;
      }
    }
  }
  EXPECT_GE(sessions, 30);
}

}  // namespace
}  // namespace am
