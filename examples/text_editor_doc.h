// The text editor example's view of its document: where the text is, how blocks are built, and
// how spans (text runs with marks, and blocks) are shown on one line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "am/document.h"
#include "am/rich_text.h"

namespace editor {

// The text object at the root key "text", as JS editors (automerge-prosemirror) keep it.
inline std::optional<am::ObjId> text_object(const am::Document& d) {
  auto v = d.get(am::ObjId::root(), "text");
  if (!v || !*v) return std::nullopt;
  const auto* ref = std::get_if<am::ObjectRef>(&**v);
  if (ref == nullptr || ref->type != am::ObjType::kText) return std::nullopt;
  return ref->id;
}

// The block JS `splitBlock(doc, ["text"], i, {type, parents: [], attrs: {}})` writes: JS strings
// become text objects (so `type` is text, not a string scalar), and the empty list and map
// are written as objects too.
inline am::Block paragraph_block(const std::string& type) {
  return am::Block{{"attrs", am::Hydrated::map_of({})},
                   {"parents", am::Hydrated::list_of({})},
                   {"type", am::Hydrated::text_of(type)}};
}

// A mark value typed on the command line: true/false, an integer, or else a string.
inline am::ScalarValue parse_scalar(const std::string& word) {
  if (word == "true") return true;
  if (word == "false") return false;
  if (!word.empty() && word.find_first_not_of("-0123456789") == std::string::npos && word != "-") {
    try {
      return static_cast<std::int64_t>(std::stoll(word));
    } catch (const std::exception&) {  // out of range: keep it as text
    }
  }
  return word;
}

// A value as it reads in `show`: strings and text bare, anything else as JSON.
inline std::string plain(const am::Hydrated& v) {
  if (v.kind == am::Hydrated::Kind::kText) return v.text;
  if (v.kind == am::Hydrated::Kind::kScalar) {
    if (const auto* s = std::get_if<std::string>(&v.scalar)) return *s;
  }
  return am::to_json(v);
}

// A block as `[TYPE in PARENT/PARENT KEY=VALUE ...]` (parents and attrs only when present).
inline std::string render_block(const am::Block& block) {
  std::string out = "[";
  if (auto t = block.find("type"); t != block.end()) out += plain(t->second);
  if (auto p = block.find("parents"); p != block.end() && !p->second.list.empty()) {
    out += " in ";
    for (std::size_t i = 0; i < p->second.list.size(); ++i) out += (i ? "/" : "") + plain(p->second.list[i]);
  }
  if (auto a = block.find("attrs"); a != block.end()) {
    for (const auto& [key, value] : a->second.map) out += " " + key + "=" + plain(value);
  }
  return out + "]";
}

// The text on one line: blocks as render_block() shows them, marked runs wrapped in
// `<NAME>..</NAME>` (`<NAME=VALUE>` for a value other than true), marks opened by name and
// closed in reverse. Plain text without blocks or marks shows as itself.
inline std::string render(const std::vector<am::Span>& spans) {
  std::string out;
  for (const auto& span : spans) {
    if (span.kind == am::Span::Kind::kBlock) {
      out += render_block(span.block);
      continue;
    }
    std::string close;
    for (const auto& [name, value] : span.marks) {
      const bool is_true = std::holds_alternative<bool>(value) && std::get<bool>(value);
      out += "<" + name + (is_true ? "" : "=" + plain(am::Hydrated::of(value))) + ">";
      close = "</" + name + ">" + close;
    }
    out += span.text + close;
  }
  return out;
}

// The spans of the document's text (none when it has no text yet).
inline std::vector<am::Span> spans_of(const am::Document& d) {
  if (auto t = text_object(d)) {
    if (auto spans = d.spans(*t)) return *spans;
  }
  return {};
}

}  // namespace editor
