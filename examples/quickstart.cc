// Quickstart: create a document, edit a map, a list and a text, commit, save, load, fork, make
// concurrent edits on both copies, merge them and print the JSON.
//
// Every fallible call returns am::Result<T> or am::Status (tl::expected): check it, read the
// error's to_string(). The library throws nothing but std::bad_alloc.
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "am/document.h"

namespace {

int failures = 0;

// Reports a failed check and counts it; the program's exit status is the count (capped).
void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "FAILED: %s\n", what);
    ++failures;
  }
}

// Checks a Status/Result and prints its error.
template <class R>
bool ok(const R& r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "FAILED: %s: %s\n", what, r.error().to_string().c_str());
    ++failures;
    return false;
  }
  return true;
}

std::string json(const am::Document& doc) {
  auto j = doc.to_json();
  return j ? *j : "<error: " + j.error().to_string() + ">";
}

}  // namespace

int main() {
  using am::ObjId;
  using am::ObjType;

  // 1. A new document (random actor) with a map key, a list and a text.
  am::Document doc;
  ok(doc.put(ObjId::root(), "title", std::string("groceries")), "put title");
  ok(doc.put(ObjId::root(), "count", am::Counter{0}), "put count");
  auto items = doc.put_object(ObjId::root(), "items", ObjType::kList);
  if (!ok(items, "put_object items")) return 1;
  ok(doc.insert(*items, 0, std::string("milk")), "insert milk");
  ok(doc.insert(*items, 1, std::string("eggs")), "insert eggs");
  auto note = doc.put_object(ObjId::root(), "note", ObjType::kText);
  if (!ok(note, "put_object note")) return 1;
  ok(doc.splice_text(*note, 0, 0, "buy soon"), "splice_text");
  const am::ChangeHash first = doc.commit(am::CommitOptions{.message = "initial list", .time = {}});
  std::printf("committed %s\n", first.to_hex().c_str());
  check(json(doc) ==
            R"({"count":0,"items":["milk","eggs"],"note":"buy soon","title":"groceries"})",
        "initial JSON");

  // Errors are values: an index past the end of the list is kInvalidArgument, not a crash.
  auto bad = doc.insert(*items, 99, std::string("x"));
  check(!bad && bad.error().code == am::ErrorCode::kInvalidArgument, "out-of-range insert fails");
  doc.rollback();

  // 2. Save to bytes and load them back.
  const am::Bytes saved = doc.save();
  std::printf("saved %zu bytes\n", saved.size());
  auto loaded = am::Document::load(saved);
  if (!ok(loaded, "load")) return 1;
  check(json(*loaded) == json(doc), "loaded document equals the saved one");
  check(loaded->heads() == doc.heads(), "same heads after load");

  // 3. Fork: an independent copy with its own actor; edit both concurrently.
  am::Document other = doc.fork();
  check(other.actor() != doc.actor(), "fork has a new actor");

  ok(doc.insert(*items, 2, std::string("bread")), "doc: insert bread");
  ok(doc.increment(ObjId::root(), "count", 1), "doc: increment");
  ok(doc.splice_text(*note, 0, 0, "please "), "doc: splice_text");
  doc.commit();

  ok(other.remove(*items, std::size_t{0}), "other: remove milk");
  ok(other.increment(ObjId::root(), "count", 2), "other: increment");
  auto len = other.length(*note);
  if (ok(len, "other: length")) ok(other.splice_text(*note, *len, 0, "!"), "other: splice_text");
  other.commit();

  // 4. Merge both ways: the two documents converge (counters add up, edits interleave).
  ok(doc.merge(other), "merge other into doc");
  ok(other.merge(doc), "merge doc into other");
  const std::string merged = json(doc);
  std::printf("%s\n", merged.c_str());
  check(merged == json(other), "both copies converge");
  check(merged ==
            R"({"count":3,"items":["eggs","bread"],"note":"please buy soon!","title":"groceries"})",
        "merged JSON");
  check(doc.heads() == other.heads(), "same heads after merge");

  // 5. Reading single values: get() gives a Value (a scalar or an object reference).
  auto title = doc.get(ObjId::root(), "title");
  if (ok(title, "get title")) {
    const auto* scalar = *title ? std::get_if<am::ScalarValue>(&**title) : nullptr;
    const auto* str = scalar ? std::get_if<std::string>(scalar) : nullptr;
    check(str != nullptr && *str == "groceries", "title is the string \"groceries\"");
  }

  if (failures != 0) {
    std::fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  std::printf("quickstart: ok\n");
  return 0;
}
