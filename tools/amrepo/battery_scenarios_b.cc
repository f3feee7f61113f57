// Battery groups egwalker_paper, length, list and load_save (the reference battery's
// scenarios/{egwalker_paper,length,list,load_save}.rs), on our public API.
#include <functional>
#include <memory>
#include <stdexcept>
#include <vector>

#include "battery.h"

namespace amrepo::battery {
namespace {

constexpr std::uint64_t kN = 100'000;

std::size_t must(am::Result<std::size_t> r, const char* what) {
  if (!r) throw std::runtime_error(std::string(what) + ": " + r.error().to_string());
  return *r;
}

void must_change_at(am::Document& doc, const std::vector<am::ChangeHash>& heads,
                    const std::function<am::Status(am::Document&)>& edit) {
  auto r = doc.change_at(heads, edit);
  if (!r) throw std::runtime_error("change_at: " + r.error().to_string());
}

void add_egwalker(std::vector<Scenario>& out, const DataFiles& data) {
  for (const char* label : {"S1", "S3", "A1", "A2", "C1", "C2"}) {
    const std::string file = data.battery(std::string("egwalker-") + label + ".am");
    const std::string load_name = std::string("egwalker_paper/load/") + label;
    const std::string text_name = std::string("egwalker_paper/get_text/") + label;
    if (std::string(label) == "S3") {
      const std::string why = "input S3.am is not in data/battery (see its SOURCES.md)";
      out.push_back(not_run("egwalker_paper", load_name, why));
      out.push_back(not_run("egwalker_paper", text_name, why));
      continue;
    }
    out.push_back(sampled("egwalker_paper", load_name, [file] {
      auto bytes = shared(read_file(file));
      return whole([bytes] { keep(must_load(*bytes)); });
    }));
    // The JS API reads a string it materialised at load; text_shared reads the one it built on
    // the first call (the warm-up), until the text changes.
    out.push_back(sampled("egwalker_paper", text_name, [file] {
      auto doc = shared(must_load(read_file(file)));
      return whole([doc] {
        auto text = doc->text_shared(root_obj(*doc, "text"));
        if (!text) throw std::runtime_error("text: " + text.error().to_string());
        keep(*text);
      });
    }));
  }
}

am::Document map_doc() {
  am::Document doc = new_doc();
  for (std::uint64_t i = 0; i < kN; ++i) {
    check(doc.put(am::ObjId::root(), "key" + std::to_string(i), "value" + std::to_string(i)), "put");
  }
  doc.commit();
  return doc;
}

void add_length(std::vector<Scenario>& out) {
  const std::string g = "length";
  out.push_back(sampled(g, "length/text_len_now", [] {
    Rng rng(11);
    auto doc = shared(text_splice_100(kN, rng));
    const am::ObjId text = root_obj(*doc, "content");
    return whole([doc, text] { keep(must(doc->length(text), "length")); });
  }));
  out.push_back(sampled(g, "length/list_len_now", [] {
    Rng rng(11);
    auto doc = shared(list_splice_100(kN, rng));
    const am::ObjId list = root_obj(*doc, "content");
    return whole([doc, list] { keep(must(doc->length(list), "length")); });
  }));
  out.push_back(sampled(g, "length/text_len_at", [] {
    Rng rng(11);
    auto doc = shared(text_splice_100(kN, rng));
    const am::ObjId text = root_obj(*doc, "content");
    auto heads = shared(doc->heads());
    check(doc->splice_text(text, rng.below(kN - 10), 9, "01234567890"), "splice_text");
    doc->commit();
    return whole([doc, text, heads] { keep(must(doc->length_at(text, *heads), "length_at")); });
  }));
  out.push_back(sampled(g, "length/map_len_now", [] {
    auto doc = shared(map_doc());
    return whole([doc] { keep(must(doc->length(am::ObjId::root()), "length")); });
  }));
  out.push_back(sampled(g, "length/map_len_at", [] {
    auto doc = shared(map_doc());
    auto heads = shared(doc->heads());
    check(doc->put(am::ObjId::root(), std::string("next"), std::string("value")), "put");
    doc->commit();
    return whole([doc, heads] { keep(must(doc->length_at(am::ObjId::root(), *heads), "length_at")); });
  }));
}

void add_list(std::vector<Scenario>& out) {
  const std::string g = "list";
  // Our API has list cursors, but the JS twin's getCursor refuses lists, so neither side runs it.
  out.push_back(not_run(g, "list/list_cursor_now",
                        "needs cursors on a list; @automerge/automerge 3.5.0 getCursor works on text only (\"cursors only valid on text\")"));
  out.push_back(not_run(g, "list/list_cursor_at",
                        "needs get_cursor/get_cursor_position at historical heads, which our API lacks "
                        "(and JS getCursor refuses lists)"));
  // Rust's transaction_at is our change_at (JS changeAt): an edit made as of some earlier heads,
  // here a random one of the heads after each sample so far.
  out.push_back(sampled(g, "list/list_update_at", [] {
    auto rng = shared(Rng(12));
    auto doc = shared(list_splice_100(kN, *rng));
    const am::ObjId list = root_obj(*doc, "content");
    auto heads = shared(std::vector<std::vector<am::ChangeHash>>{doc->heads()});
    return whole([rng, doc, list, heads] {
      const std::size_t pos = rng->below(kN);
      const std::vector<am::ChangeHash> at = (*heads)[rng->below(heads->size())];
      must_change_at(*doc, at, [&](am::Document& d) { return d.put(list, pos, std::string("x")); });
      heads->push_back(doc->heads());
    });
  }));
  out.push_back(sampled(g, "list/list_update_now", [] {
    auto rng = shared(Rng(12));
    auto doc = shared(list_splice_100(kN, *rng));
    const am::ObjId list = root_obj(*doc, "content");
    return whole([rng, doc, list] {
      check(doc->put(list, rng->below(kN), std::string("x")), "put");
      doc->commit();
    });
  }));
  out.push_back(sampled(g, "list/list_splice_index_now", [] {
    auto rng = shared(Rng(12));
    auto doc = shared(list_splice_100(kN, *rng));
    const am::ObjId list = root_obj(*doc, "content");
    return whole([rng, doc, list] {
      check(doc->insert(list, rng->below(kN), std::string("x")), "insert");
      doc->commit();
    });
  }));
  // An insert as of the heads before a splice that replaced one element with three.
  out.push_back(sampled(g, "list/list_splice_index_at", [] {
    auto rng = shared(Rng(12));
    auto doc = shared(list_splice_100(kN, *rng));
    const am::ObjId list = root_obj(*doc, "content");
    auto heads = shared(doc->heads());
    check(doc->splice(list, kN / 2, 1, {std::string("x"), std::string("y"), std::string("z")}), "splice");
    doc->commit();
    return whole([rng, doc, list, heads] {
      const std::size_t pos = rng->below(kN);
      must_change_at(*doc, *heads, [&](am::Document& d) { return d.insert(list, pos, std::string("x")); });
    });
  }));
}

// load_save/load_X and load_save/save_X for one builder.
void add_load_save_pair(std::vector<Scenario>& out, const std::string& what,
                        std::function<am::Document()> build) {
  out.push_back(sampled("load_save", "load_save/load_" + what, [build] {
    auto data = shared(build().save());
    return whole([data] { keep(must_load(*data)); });
  }));
  out.push_back(sampled("load_save", "load_save/save_" + what, [build] {
    auto doc = shared(build());
    return whole([doc] { keep(doc->save()); });
  }));
}

void add_load_save(std::vector<Scenario>& out) {
  add_load_save_pair(out, "typing", [] { Rng rng(13); return poorly_simulated_typing_doc(kN, rng); });
  add_load_save_pair(out, "big_paste", [] { Rng rng(13); return big_paste_doc(kN, rng); });
  // The battery names these ".../1000" but builds them with N = 100,000 changes; so do we.
  out.push_back(sampled("load_save", "load_save/load_deep_history/1000", [] {
    auto data = shared(deep_history_doc(kN).save());
    return whole([data] { keep(must_load(*data)); });
  }));
  out.push_back(sampled("load_save", "load_save/save_deep_history/1000", [] {
    auto doc = shared(deep_history_doc(kN));
    return whole([doc] { keep(doc->save()); });
  }));
  add_load_save_pair(out, "text_splice_100", [] { Rng rng(13); return text_splice_100(kN, rng); });
  add_load_save_pair(out, "maps_in_maps", [] { return maps_in_maps_doc(kN); });
  add_load_save_pair(out, "big_random", [] { Rng rng(13); return big_random_doc(kN, rng); });
}

}  // namespace

void add_egwalker_to_load_save(std::vector<Scenario>& out, const DataFiles& data) {
  add_egwalker(out, data);
  add_length(out);
  add_list(out);
  add_load_save(out);
}

}  // namespace amrepo::battery
