#include "doc_query_cli.h"

#include <iostream>
#include <memory>
#include <sstream>

#include "core/json.h"
#include "doc_edit.h"
#include "file_tools.h"

namespace amrepo {
namespace {

// The text or list PATH names (as in `amrepo set`).
am::Result<am::ObjId> sequence_at(const am::Document& doc, const std::string& path) {
  AM_TRY_ASSIGN(const PathTarget target, resolve_path(doc, path));
  if (!target.prop) return am::fail(am::Error::invalid_argument(path, "the root is no list or text"));
  AM_TRY_ASSIGN(const auto value, doc.get(target.parent, *target.prop));
  const auto* obj = value ? std::get_if<am::ObjectRef>(&*value) : nullptr;
  if (obj == nullptr || (obj->type != am::ObjType::kList && obj->type != am::ObjType::kText)) {
    return am::fail(am::Error::invalid_argument(path, "is no list or text"));
  }
  return obj->id;
}

// What the cursor, marks and spans commands read: the text or list at PATH of FILE, as of --at
// HEADS (given: the document is a copy as of those heads, PATH resolved there).
struct Sequence {
  am::Document doc;
  am::ObjId obj;
};

am::Result<Sequence> open_sequence(const std::string& file, const std::string& path, const std::string& at) {
  AM_TRY_ASSIGN(am::Document doc, load_file(file));
  if (!at.empty()) {
    AM_TRY_ASSIGN(const std::vector<am::ChangeHash> heads, parse_heads(at));
    AM_TRY_ASSIGN(doc, doc.fork_at(heads));
  }
  AM_TRY_ASSIGN(const am::ObjId obj, sequence_at(doc, path));
  return Sequence{std::move(doc), obj};
}

struct CursorOptions {
  std::string file;
  std::string path;
  std::optional<std::size_t> index;
  std::string move = "after";
  std::string resolve;
  std::string at;
};

int run_cursor(const CursorOptions& o) {
  auto seq = open_sequence(o.file, o.path, o.at);
  if (!seq) return fail_with_error(seq.error());
  const am::Document& doc = seq->doc;
  if (!o.resolve.empty()) {
    auto position = doc.get_cursor_position(seq->obj, o.resolve);
    if (!position) return fail_with_error(position.error());
    std::cout << *position << "\n";
    return kExitOk;
  }
  if (!o.index) return fail_with_error(am::Error::invalid_argument("cursor", "give INDEX or --resolve CURSOR"));
  const am::CursorMove move = o.move == "before" ? am::CursorMove::kBefore : am::CursorMove::kAfter;
  auto cursor = doc.get_cursor(seq->obj, *o.index, move);
  if (!cursor) return fail_with_error(cursor.error());
  std::cout << *cursor << "\n";
  return kExitOk;
}

struct MarksOptions {
  std::string file;
  std::string path;
  std::optional<std::size_t> index;
  std::string at;
};

// JS marks (an array of {name, value, start, end}) or, with --index, marksAt ({name: value}),
// values mapped as `amrepo export` maps them.
int run_marks(const MarksOptions& o) {
  auto seq = open_sequence(o.file, o.path, o.at);
  if (!seq) return fail_with_error(seq.error());
  std::string out;
  if (o.index) {
    auto marks = seq->doc.get_marks(seq->obj, *o.index);
    if (!marks) return fail_with_error(marks.error());
    out = "{";
    for (const auto& [name, value] : *marks) {
      if (out.size() > 1) out += ",";
      am::core::json_string(out, name);
      out += ":";
      am::core::json_scalar(out, value);
    }
    out += "}";
  } else {
    auto marks = seq->doc.marks(seq->obj);
    if (!marks) return fail_with_error(marks.error());
    out = "[";
    for (const am::Mark& m : *marks) {
      if (out.size() > 1) out += ",";
      out += "{\"name\":";
      am::core::json_string(out, m.name);
      out += ",\"value\":";
      am::core::json_scalar(out, m.value);
      out += ",\"start\":" + std::to_string(m.start) + ",\"end\":" + std::to_string(m.end) + "}";
    }
    out += "]";
  }
  std::cout << out << "\n";
  return kExitOk;
}

struct SpansOptions {
  std::string file;
  std::string path;
  std::string at;
};

// JS spans: text runs {type:"text", value, marks?} and blocks {type:"block", value:{..}}, values
// mapped as `amrepo export` maps them.
int run_spans(const SpansOptions& o) {
  auto seq = open_sequence(o.file, o.path, o.at);
  if (!seq) return fail_with_error(seq.error());
  auto spans = seq->doc.spans(seq->obj);
  if (!spans) return fail_with_error(spans.error());
  std::cout << am::to_json(*spans) << "\n";
  return kExitOk;
}

}  // namespace

void add_document_query_commands(CLI::App& app, CommandRunners& runners) {
  auto o = std::make_shared<CursorOptions>();
  CLI::App* cursor = app.add_subcommand(
      "cursor", "Print the cursor of INDEX in the text or list at PATH of FILE (as JS getCursor), or with "
                "--resolve the index a cursor points at now (as JS getCursorPosition)");
  cursor->add_option("FILE", o->file, "Automerge file")->required();
  cursor->add_option("PATH", o->path, "the text or list, as in amrepo set (\"/notes/0/body\")")->required();
  cursor->add_option("INDEX", o->index, "position (at or past the length: the end cursor \"e\")");
  cursor->add_option("--move", o->move, "where the cursor goes when its element is deleted: after (next element) "
                                        "or before (previous element)")
      ->check(CLI::IsMember({"after", "before"}))
      ->capture_default_str();
  cursor->add_option("--resolve", o->resolve, "a cursor (\"s\", \"e\", \"COUNTER@ACTOR\" or \"-COUNTER@ACTOR\")");
  cursor->add_option("--at", o->at, "read the document as of these heads (comma-separated hex hashes)");
  runners.emplace_back(cursor, [o] { return run_cursor(*o); });

  auto m = std::make_shared<MarksOptions>();
  CLI::App* marks = app.add_subcommand(
      "marks", "Print the marks of the text or list at PATH of FILE as JSON (JS marks), or with --index the "
               "marks on one element (JS marksAt)");
  marks->add_option("FILE", m->file, "Automerge file")->required();
  marks->add_option("PATH", m->path, "the text or list, as in amrepo set")->required();
  marks->add_option("--index", m->index, "an element index (an emoji or a block counts one)");
  marks->add_option("--at", m->at, "read the document as of these heads (comma-separated hex hashes)");
  runners.emplace_back(marks, [m] { return run_marks(*m); });

  auto sp = std::make_shared<SpansOptions>();
  CLI::App* spans = app.add_subcommand(
      "spans", "Print the text at PATH of FILE as spans (JS spans): runs of characters with their marks, and "
               "the blocks between them, as JSON");
  spans->add_option("FILE", sp->file, "Automerge file")->required();
  spans->add_option("PATH", sp->path, "the text, as in amrepo set")->required();
  spans->add_option("--at", sp->at, "read the document as of these heads (comma-separated hex hashes)");
  runners.emplace_back(spans, [sp] { return run_spans(*sp); });
}

}  // namespace amrepo
