// Battery groups map, marks, memory and range (the reference battery's
// scenarios/{map,marks,memory,range}.rs), on our public API. sync and typing are in
// battery_scenarios_d.cc.
#include <algorithm>
#include <memory>
#include <stdexcept>

#include "battery.h"
#include "heap_tracker.h"

namespace amrepo::battery {
namespace {

constexpr std::uint64_t kN = 100'000;

using Builder = am::Document (*)(std::uint64_t);

am::Document repeated_increment_doc(std::uint64_t n) {
  am::Document doc = new_doc();
  check(doc.put(am::ObjId::root(), std::string("counter"), am::Counter{0}), "put");
  for (std::uint64_t i = 0; i < n; ++i) check(doc.increment(am::ObjId::root(), std::string("counter"), 1), "increment");
  doc.commit();
  return doc;
}

am::Document repeated_put_doc(std::uint64_t n) {
  am::Document doc = new_doc();
  for (std::uint64_t i = 0; i < n; ++i) check(doc.put(am::ObjId::root(), std::string("0"), i), "put");
  doc.commit();
  return doc;
}

am::Document increasing_put_doc(std::uint64_t n) {
  am::Document doc = new_doc();
  for (std::uint64_t i = 0; i < n; ++i) check(doc.put(am::ObjId::root(), std::to_string(i), i), "put");
  doc.commit();
  return doc;
}

am::Document decreasing_put_doc(std::uint64_t n) {
  am::Document doc = new_doc();
  for (std::uint64_t i = n; i-- > 0;) check(doc.put(am::ObjId::root(), std::to_string(i), i), "put");
  doc.commit();
  return doc;
}

void add_map_case(std::vector<Scenario>& out, const std::string& op, std::uint64_t n, Builder build) {
  const std::string suffix = op + "/" + std::to_string(n);
  out.push_back(sampled("map", "map/" + suffix, [build, n] { return whole([build, n] { keep(build(n)); }); }));
  out.push_back(sampled("map", "map/save/" + suffix, [build, n] {
    auto doc = shared(build(n));
    return whole([doc] { keep(doc->save()); });
  }));
  out.push_back(sampled("map", "map/load/" + suffix, [build, n] {
    auto bytes = shared(build(n).save());
    return whole([bytes] { keep(must_load(*bytes)); });
  }));
  out.push_back(sampled("map", "map/apply/" + suffix, [build, n] {
    auto changes = shared(build(n).get_changes());
    return SampleFn([changes] {
      std::unique_ptr<am::Document> doc;
      const std::uint64_t ns = time_ns([&] {
        doc = std::make_unique<am::Document>();  // a random actor, as the battery's Automerge::new()
        check(doc->apply_changes(*changes), "apply_changes");
      });
      return ns;
    });
  }));
}

void add_map(std::vector<Scenario>& out) {
  for (std::uint64_t n : {100u, 1'000u, 10'000u}) {
    add_map_case(out, "repeated_increment", n, repeated_increment_doc);
    add_map_case(out, "repeated_put", n, repeated_put_doc);
    add_map_case(out, "increasing_put", n, increasing_put_doc);
    add_map_case(out, "decreasing_put", n, decreasing_put_doc);
    out.push_back(sampled("map", "map/deep_history/" + std::to_string(n),
                          [n] { return whole([n] { keep(deep_history_doc(n)); }); }));
  }
}

// The battery's add_random_marks: `count` marks mark0.. = true over random spans, one change.
// Our mark() needs start < end, so an empty span is widened by one unit (the JS twin does the same).
void add_random_marks(am::Document& doc, std::size_t count, Rng& rng) {
  const am::ObjId text = root_obj(doc, "content");
  auto len = doc.length(text);
  if (!len || *len < 2) throw std::runtime_error("marks: text too short");
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t a = rng.below(*len), b = rng.below(*len);
    std::size_t start = std::min(a, b), end = std::max(a, b);
    if (start == end) end < *len ? ++end : --start;
    check(doc.mark(text, start, end, am::ExpandMark::kBoth, "mark" + std::to_string(i), true), "mark");
  }
  doc.commit();
}

SampleFn splice_many(std::shared_ptr<const am::Document> base, std::shared_ptr<Rng> rng, std::size_t del) {
  return [base, rng, del] {
    auto doc = std::make_unique<am::Document>(clone_doc(*base));  // the battery's per-iteration clone
    const am::ObjId text = root_obj(*doc, "content");
    return time_ns([&] {
      for (int i = 0; i < 1000; ++i) {
        auto len = doc->length(text);
        if (!len) throw std::runtime_error("length");
        check(doc->splice_text(text, rng->below(*len), del, "XXX"), "splice_text");
        doc->commit();
      }
    });
  };
}

void add_marks(std::vector<Scenario>& out) {
  out.push_back(sampled("marks", "marks/add_mark", [] {
    auto rng = shared(Rng(21));
    auto doc = shared(text_splice_100(kN, *rng));
    return whole([doc, rng] { add_random_marks(*doc, 1, *rng); });
  }));
  out.push_back(sampled("marks", "marks/splice_with_marks", [] {
    auto rng = shared(Rng(22));
    am::Document doc = text_splice_100(kN, *rng);
    add_random_marks(doc, 1'000, *rng);
    return splice_many(shared(std::move(doc)), rng, 0);
  }));
  out.push_back(sampled("marks", "marks/splice_without_marks", [] {
    auto rng = shared(Rng(23));
    return splice_many(shared(text_splice_100(kN, *rng)), rng, 1);
  }));
}

Scenario memory_load(const std::string& label, std::function<am::Bytes()> input) {
  Scenario s;
  s.group = "memory";
  s.name = "memory/load/" + label;
  s.kind = Kind::kMemory;
  s.memory = [input] {
    auto bytes = shared(input());
    return std::function<MemoryMeasurement()>([bytes] {
      heap::start();
      auto doc = std::make_unique<am::Document>(must_load(*bytes));
      const heap::Stats st = heap::stats();
      doc.reset();
      heap::stop();
      return MemoryMeasurement{static_cast<std::uint64_t>(std::max<std::int64_t>(st.peak, 0)),
                               static_cast<std::uint64_t>(std::max<std::int64_t>(st.current, 0))};
    });
  };
  return s;
}

void add_memory(std::vector<Scenario>& out, const DataFiles& data) {
  out.push_back(memory_load("typing", [] { Rng rng(31); return poorly_simulated_typing_doc(kN, rng).save(); }));
  out.push_back(memory_load("big-paste", [] { Rng rng(31); return big_paste_doc(kN, rng).save(); }));
  out.push_back(memory_load("text-splice-100", [] { Rng rng(31); return text_splice_100(kN, rng).save(); }));
  const std::pair<const char*, const char*> fixtures[] = {
      {"unsinkable", nullptr},
      {"moby-dick", "battery-moby-dick.automerge"},
      {"essay", nullptr},
      {"stephen", "battery-stephen.amrg"},
      {"webstraits", "battery-webstraits.amrg"},
      {"monday-meeting-notes", "battery-monday-meeting-notes.automerge"},
      {"pathological", nullptr},
  };
  for (const auto& [label, file] : fixtures) {
    if (!file) {
      Scenario s;
      s.group = "memory";
      s.name = std::string("memory/load/") + label;
      s.kind = Kind::kMemory;
      s.not_run_reason = std::string("input ") + label + " is not in data/battery (see its SOURCES.md)";
      out.push_back(std::move(s));
      continue;
    }
    const std::string path = data.battery(file);
    out.push_back(memory_load(label, [path] { return read_file(path); }));
  }
}

am::Document range_doc(std::uint64_t n) {
  am::Document doc = new_doc();
  for (std::uint64_t i = 0; i < n; ++i) check(doc.put(am::ObjId::root(), std::to_string(i), std::to_string(i)), "put");
  doc.commit();
  return doc;
}

void add_range(std::vector<Scenario>& out) {
  for (std::uint64_t n : {10'000u, 100'000u}) {
    // The JS API iterates an object it materialised when the change was made; map_range_shared
    // hands out the entries it built on the first call (the warm-up), until the map changes.
    out.push_back(sampled("range", "range/range/" + std::to_string(n), [n] {
      auto doc = shared(range_doc(n));
      return whole([doc] {
        auto r = doc->map_range_shared(am::ObjId::root());
        if (!r) throw std::runtime_error("map_range");
        // Every value visited, as the JS twin's loop over Object.values does.
        std::size_t strings = 0;
        for (const auto& entry : **r) strings += std::holds_alternative<am::ScalarValue>(entry.second) ? 1u : 0u;
        if (strings != (*r)->size()) throw std::runtime_error("range: a value is not a scalar");
        keep(strings);
      });
    }));
    out.push_back(sampled("range", "range/range_at/" + std::to_string(n), [n] {
      auto doc = shared(range_doc(n));
      auto heads = shared(doc->heads());
      return whole([doc, heads] {
        auto r = doc->map_range_at(am::ObjId::root(), "", "", *heads);
        if (!r) throw std::runtime_error("map_range_at");
        keep(*r);
      });
    }));
  }
}

}  // namespace

void add_map_to_typing(std::vector<Scenario>& out, const DataFiles& data) {
  add_map(out);
  add_marks(out);
  add_memory(out, data);
  add_range(out);
  add_sync_and_typing(out, data);
}

}  // namespace amrepo::battery
