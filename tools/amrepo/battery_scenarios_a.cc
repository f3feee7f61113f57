// Battery groups apply, bestiary, build, diff and edit_trace (the reference battery's
// scenarios/{apply,bestiary,build,diff,edit_trace}.rs), on our public API.
#include <zlib.h>

#include <memory>
#include <stdexcept>
#include <tuple>

#include <nlohmann/json.hpp>

#include "battery.h"

namespace amrepo::battery {
namespace {

constexpr std::uint64_t kN = 100'000;

void add_apply(std::vector<Scenario>& out) {
  Scenario s;
  s.group = "apply";
  s.name = "apply/single_char_incremental_load";
  s.kind = Kind::kSeries;
  s.steps = 1'000;
  s.series = [] {
    auto rng = std::make_shared<Rng>(1);
    auto doc = std::make_shared<am::Document>(gen_text_doc(kN, *rng));
    auto remote = std::make_shared<am::Document>(doc->fork());
    const am::ObjId text = root_obj(*doc, "content");
    return StepFn([rng, doc, remote, text](std::size_t) {
      check(doc->splice_text(text, rng->below(kN), 0, "."), "splice_text");
      check(remote->load_incremental(doc->save_incremental()), "load_incremental");
      if (doc->heads() != remote->heads()) throw std::runtime_error("heads differ after load_incremental");
    });
  };
  out.push_back(std::move(s));
}

void add_bestiary(std::vector<Scenario>& out, const DataFiles& data) {
  const std::string file = data.battery("battery-godot-modeled.amrg");
  const std::string g = "bestiary";
  out.push_back(sampled(g, "bestiary/load/godot-modeled", [file] {
    auto bytes = std::make_shared<am::Bytes>(read_file(file));
    return whole([bytes] { keep(must_load(*bytes)); });
  }));
  out.push_back(sampled(g, "bestiary/reload/godot-modeled", [file] {
    auto saved = std::make_shared<am::Bytes>(must_load(read_file(file)).save());
    return whole([saved] { keep(must_load(*saved)); });
  }));
  out.push_back(sampled(g, "bestiary/fork/godot-modeled", [file] {
    auto doc = std::make_shared<am::Document>(must_load(read_file(file)));
    return whole([doc] { keep(doc->fork().save()); });
  }));
  out.push_back(sampled(g, "bestiary/save/godot-modeled", [file] {
    auto doc = std::make_shared<am::Document>(must_load(read_file(file)));
    return whole([doc] { keep(doc->save()); });
  }));
  out.push_back(not_run(g, "bestiary/iter/godot-modeled",
                        "needs a whole-document iterator (Rust Automerge::iter); neither our API nor the JS API has one"));
  for (const char* op : {"load", "reload", "fork", "save", "iter"}) {
    out.push_back(not_run(g, std::string("bestiary/") + op + "/godot-thread",
                          "input godot-thread.amrg is not in data/battery (see its SOURCES.md)"));
  }
}

void add_build(std::vector<Scenario>& out) {
  const std::string g = "build";
  out.push_back(sampled(g, "build/build_typing", [] {
    return whole([] { Rng rng(7); keep(poorly_simulated_typing_doc(kN, rng)); });
  }));
  out.push_back(sampled(g, "build/build_big_paste", [] {
    return whole([] { Rng rng(7); keep(big_paste_doc(kN, rng)); });
  }));
  out.push_back(sampled(g, "build/build_text_splice_100", [] {
    return whole([] { Rng rng(7); keep(text_splice_100(kN, rng)); });
  }));
  out.push_back(sampled(g, "build/build_maps_in_maps_doc", [] { return whole([] { keep(maps_in_maps_doc(kN)); }); }));
  out.push_back(sampled(g, "build/build_deep_history_doc", [] { return whole([] { keep(deep_history_doc(kN)); }); }));
}

// The paper trace's edits (the battery's data/edits.json is the same trace in another layout).
struct Edit {
  std::size_t pos = 0, del = 0;
  std::string ins;
};

std::vector<Edit> load_paper_trace(const std::string& path) {
  const am::Bytes gz = read_file(path);
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) throw std::runtime_error("zlib init");
  std::string json;
  zs.next_in = const_cast<Bytef*>(gz.data());
  zs.avail_in = static_cast<uInt>(gz.size());
  char buf[1 << 16];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      throw std::runtime_error("cannot gunzip " + path);
    }
    json.append(buf, sizeof buf - zs.avail_out);
  }
  inflateEnd(&zs);
  const auto trace = nlohmann::json::parse(json, nullptr, false);
  if (trace.is_discarded() || !trace.contains("txns")) throw std::runtime_error("not an editing trace: " + path);
  std::vector<Edit> edits;
  for (const auto& txn : trace["txns"]) {
    for (const auto& p : txn["patches"]) {
      edits.push_back({p[0].get<std::size_t>(), p[1].get<std::size_t>(), p.size() > 2 ? p[2].get<std::string>() : ""});
    }
  }
  return edits;
}

// An iteration of the edit trace: a fresh document with the text object pending (as the
// battery's set-up), then every edit, committing after each one or once at the end.
SampleFn edit_trace(std::shared_ptr<const std::vector<Edit>> edits, bool commit_each) {
  return [edits, commit_each] {
    auto doc = std::make_unique<am::Document>(new_doc());
    auto text = doc->put_object(am::ObjId::root(), std::string("text"), am::ObjType::kText);
    if (!text) throw std::runtime_error("put_object");
    const am::ObjId id = *text;
    const std::uint64_t ns = time_ns([&] {
      for (const Edit& e : *edits) {
        check(doc->splice_text(id, e.pos, e.del, e.ins), "splice_text");
        if (commit_each) doc->commit();
      }
      if (!commit_each) doc->commit();
    });
    doc.reset();  // untimed, as the battery drops its outputs outside the timed loop
    return ns;
  };
}

void add_edit_trace(std::vector<Scenario>& out, const DataFiles& data) {
  const std::string path = data.dir + "/automerge-paper.json.gz";
  out.push_back(sampled("edit_trace", "edit_trace/edit_trace_single_tx", [path] {
    return edit_trace(std::make_shared<const std::vector<Edit>>(load_paper_trace(path)), false);
  }));
  out.push_back(sampled("edit_trace", "edit_trace/edit_trace_many_tx", [path] {
    return edit_trace(std::make_shared<const std::vector<Edit>>(load_paper_trace(path)), true);
  }));
}

}  // namespace

void add_apply_to_edit_trace(std::vector<Scenario>& out, const DataFiles& data) {
  add_apply(out);
  add_bestiary(out, data);
  add_build(out);
  out.push_back(not_run("diff", "diff/diff",
                        "input essay.amrg is not in data/battery (see its SOURCES.md)"));
  add_edit_trace(out, data);
}

}  // namespace amrepo::battery
