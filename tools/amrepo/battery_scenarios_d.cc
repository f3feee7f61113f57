// Battery groups sync and typing (the reference battery's scenarios/{sync,typing}.rs), on our
// public API (am/sync.h for the protocol).
#include <memory>
#include <stdexcept>

#include "battery.h"

namespace amrepo::battery {
namespace {

constexpr std::uint64_t kInitial = 100'000;

Scenario series(std::string group, std::string name, std::size_t steps, std::function<StepFn()> setup) {
  Scenario s;
  s.group = std::move(group);
  s.name = std::move(name);
  s.kind = Kind::kSeries;
  s.steps = steps;
  s.series = std::move(setup);
  return s;
}

am::Document one_tx_increasing_put(std::uint64_t n) {
  am::Document doc = new_doc();
  for (std::uint64_t i = 0; i < n; ++i) check(doc.put(am::ObjId::root(), std::to_string(i), i), "put");
  doc.commit();
  return doc;
}

am::Document many_tx_increasing_put(std::uint64_t n) {
  am::Document doc = new_doc();
  for (std::uint64_t i = 0; i < n; ++i) {
    check(doc.put(am::ObjId::root(), std::to_string(i), i), "put");
    doc.commit();
  }
  return doc;
}

SyncPeer empty_peer() { return SyncPeer{am::Document(), am::SyncState{}}; }

void add_full_syncs(std::vector<Scenario>& out) {
  out.push_back(sampled("sync", "sync/full_many_tx", [] {
    auto doc = shared(many_tx_increasing_put(10'000));
    return SampleFn([doc] {
      return time_ns([&] {
        SyncPeer a{clone_doc(*doc), am::SyncState{}};  // the battery clones inside the timed closure
        SyncPeer b = empty_peer();
        sync_pair(a, b);
      });
    });
  }));
  const std::pair<const char*, std::uint64_t> one_tx[] = {
      {"sync/full_one_tx/100", 100}, {"sync/full_one_tx/1000", 1'000}, {"sync/full_one_tx", 10'000}};
  for (const auto& [name, n] : one_tx) {
    out.push_back(sampled("sync", name, [n] {
      auto doc = shared(one_tx_increasing_put(n));
      return SampleFn([doc] {
        // The battery's batched set-up: a fresh copy and fresh states per iteration, untimed.
        auto a = std::make_unique<SyncPeer>(SyncPeer{clone_doc(*doc), am::SyncState{}});
        auto b = std::make_unique<SyncPeer>(empty_peer());
        return time_ns([&] { sync_pair(*a, *b); });
      });
    }));
  }
  for (std::uint64_t n : {100u, 1'000u, 10'000u}) {
    out.push_back(sampled("sync", "sync/every_change/" + std::to_string(n), [n] {
      return SampleFn([n] {
        return time_ns([n] {
          SyncPeer a = empty_peer(), b = empty_peer();
          a.doc = new_doc();
          for (std::uint64_t i = 0; i < n; ++i) {
            check(a.doc.put(am::ObjId::root(), std::to_string(i), i), "put");
            a.doc.commit();
            sync_pair(a, b);
          }
        });
      });
    }));
  }
}

// sync/tiny_text and sync/tiny_list: a 100,000-element text or list synced once, then one small
// edit and a sync per step.
StepFn tiny_sync(bool text) {
  auto rng = shared(Rng(41));
  auto a = shared(SyncPeer{text ? text_splice_100(kInitial, *rng) : list_splice_100(kInitial, *rng), am::SyncState{}});
  auto b = shared(empty_peer());
  sync_pair(*a, *b);
  const am::ObjId obj = root_obj(a->doc, "content");
  return [rng, a, b, obj, text](std::size_t) {
    const std::size_t pos = rng->below(kInitial);
    if (text) {
      check(a->doc.splice_text(obj, pos, 1, "_"), "splice_text");
    } else {
      check(a->doc.splice(obj, pos, 0, {am::ScalarValue(std::string("_"))}), "splice");
    }
    a->doc.commit();
    sync_pair(*a, *b);
  };
}

void add_sync(std::vector<Scenario>& out, const DataFiles& data) {
  add_full_syncs(out);
  out.push_back(series("sync", "sync/tiny_text", 1'000, [] { return tiny_sync(true); }));
  out.push_back(series("sync", "sync/tiny_list", 1'000, [] { return tiny_sync(false); }));
  const std::string file = data.battery("battery-slowSyncMessage.amrgsync");
  out.push_back(sampled("sync", "sync/big_chunky_sync_message", [file] {
    auto message = shared(read_file(file));
    return SampleFn([message] {
      return time_ns([&] {
        am::SyncState state;
        am::Document doc;
        check(am::receive_sync_message(doc, state, *message), "receive_sync_message");
      });
    });
  }));
}

// The typing group's pair: the generated text document and a fork of it.
struct TypingPair {
  Rng rng;
  am::Document doc;
  am::Document remote;
  am::ObjId text;
};

std::shared_ptr<TypingPair> typing_pair(std::uint32_t seed) {
  Rng rng(seed);
  am::Document doc = gen_text_doc(kInitial, rng);
  am::Document remote = doc.fork();
  const am::ObjId text = root_obj(doc, "content");
  return std::make_shared<TypingPair>(TypingPair{rng, std::move(doc), std::move(remote), text});
}

void same_heads(const am::Document& a, const am::Document& b) {
  if (a.heads() != b.heads()) throw std::runtime_error("heads differ after the step");
}

// The typing group's sync_docs: both directions until the heads agree.
void sync_docs(SyncPeer& a, SyncPeer& b) {
  while (a.doc.heads() != b.doc.heads()) {
    if (auto m = am::generate_sync_message(a.doc, a.state)) check(am::receive_sync_message(b.doc, b.state, *m), "receive");
    if (auto m = am::generate_sync_message(b.doc, b.state)) check(am::receive_sync_message(a.doc, a.state, *m), "receive");
  }
}

void add_typing(std::vector<Scenario>& out) {
  out.push_back(series("typing", "typing/single_char_sync", 1'000, [] {
    auto p = typing_pair(2);
    auto a = shared(SyncPeer{std::move(p->doc), am::SyncState{}});
    auto b = shared(SyncPeer{std::move(p->remote), am::SyncState{}});
    sync_docs(*a, *b);
    return StepFn([p, a, b](std::size_t) {
      check(a->doc.splice_text(p->text, p->rng.below(kInitial), 0, "."), "splice_text");
      a->doc.commit();
      sync_docs(*a, *b);
      same_heads(a->doc, b->doc);
    });
  }));
  out.push_back(series("typing", "typing/single_char_apply_change", 1'000, [] {
    auto p = typing_pair(3);
    return StepFn([p](std::size_t) {
      check(p->doc.splice_text(p->text, p->rng.below(kInitial), 0, "."), "splice_text");
      p->doc.commit();
      auto change = p->doc.get_last_local_change();
      if (!change) throw std::runtime_error("no last local change");
      check(p->remote.apply_changes(std::vector<am::Bytes>{*change}), "apply_changes");
      same_heads(p->doc, p->remote);
    });
  }));
  out.push_back(series("typing", "typing/single_char_100_bulk_incremental_load", 100, [] {
    auto p = typing_pair(4);
    return StepFn([p](std::size_t) {
      for (int i = 0; i < 100; ++i) check(p->doc.splice_text(p->text, p->rng.below(kInitial), 0, "."), "splice_text");
      check(p->remote.load_incremental(p->doc.save_incremental()), "load_incremental");
      same_heads(p->doc, p->remote);
    });
  }));
  out.push_back(series("typing", "typing/single_char_100_incremental_loads", 100, [] {
    auto p = typing_pair(5);
    return StepFn([p](std::size_t) {
      for (int i = 0; i < 100; ++i) {
        check(p->doc.splice_text(p->text, p->rng.below(kInitial), 0, "."), "splice_text");
        check(p->remote.load_incremental(p->doc.save_incremental()), "load_incremental");
      }
      same_heads(p->doc, p->remote);
    });
  }));
  out.push_back(series("typing", "typing/single_char_merge", 1'000, [] {
    auto p = typing_pair(6);
    return StepFn([p](std::size_t) {
      check(p->doc.splice_text(p->text, p->rng.below(kInitial), 0, "."), "splice_text");
      p->doc.commit();  // the battery's merge commits the other side's open transaction itself
      check(p->remote.merge(p->doc), "merge");
      same_heads(p->doc, p->remote);
    });
  }));
}

}  // namespace

void add_sync_and_typing(std::vector<Scenario>& out, const DataFiles& data) {
  add_sync(out, data);
  add_typing(out);
}

}  // namespace amrepo::battery
