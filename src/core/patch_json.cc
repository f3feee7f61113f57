// patches_to_json (am/document.h): patches in the JSON shape of the JS reference's diff.
#include <map>
#include <string>
#include <vector>

#include "am/document.h"
#include "core/json.h"

namespace am {
namespace {

using core::json_scalar;
using core::json_string;

void patch_value_json(std::string& out, const Value& value) {
  if (const auto* obj = std::get_if<ObjectRef>(&value)) {
    // A new object appears empty; its contents follow as patches of their own.
    switch (obj->type) {
      case ObjType::kList: out += "[]"; return;
      case ObjType::kText: out += "\"\""; return;
      case ObjType::kMap:
      case ObjType::kTable: out += "{}"; return;
    }
  }
  json_scalar(out, std::get<ScalarValue>(value));
}

void path_json(std::string& out, const std::vector<Prop>& path) {
  out += "[";
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (i > 0) out += ",";
    if (const auto* key = std::get_if<std::string>(&path[i])) {
      json_string(out, *key);
    } else {
      out += std::to_string(std::get<std::size_t>(path[i]));
    }
  }
  out += "]";
}

// JS `marks` of a splice or insert: present only when the inserted elements carry marks.
void marks_json(std::string& out, const std::map<std::string, ScalarValue>& marks) {
  if (marks.empty()) return;
  out += ",\"marks\":{";
  bool first = true;
  for (const auto& [name, value] : marks) {
    if (!first) out += ",";
    first = false;
    json_string(out, name);
    out += ":";
    json_scalar(out, value);
  }
  out += "}";
}

}  // namespace

std::string patches_to_json(const std::vector<Patch>& patches) {
  std::string out = "[";
  for (std::size_t i = 0; i < patches.size(); ++i) {
    const Patch& p = patches[i];
    if (i > 0) out += ",";
    out += "{\"action\":";
    switch (p.kind) {
      case Patch::Kind::kPut: out += "\"put\""; break;
      case Patch::Kind::kInsert: out += "\"insert\""; break;
      case Patch::Kind::kDelete: out += "\"del\""; break;
      case Patch::Kind::kSpliceText: out += "\"splice\""; break;
      case Patch::Kind::kIncrement: out += "\"inc\""; break;
      case Patch::Kind::kMark: out += "\"mark\""; break;
      case Patch::Kind::kConflict: out += "\"conflict\""; break;
    }
    out += ",\"path\":";
    path_json(out, p.path);
    switch (p.kind) {
      case Patch::Kind::kPut:
        out += ",\"value\":";
        patch_value_json(out, p.value);
        if (p.conflict) out += ",\"conflict\":true";
        break;
      case Patch::Kind::kInsert:
        out += ",\"values\":[";
        for (std::size_t v = 0; v < p.values.size(); ++v) {
          if (v > 0) out += ",";
          patch_value_json(out, p.values[v]);
        }
        out += "]";
        if (!p.conflicts.empty()) {
          out += ",\"conflicts\":[";
          for (std::size_t c = 0; c < p.conflicts.size(); ++c) out += c > 0 ? (p.conflicts[c] ? ",true" : ",false") : (p.conflicts[c] ? "true" : "false");
          out += "]";
        }
        marks_json(out, p.inserted_marks);
        break;
      case Patch::Kind::kDelete:
        if (p.length > 1) out += ",\"length\":" + std::to_string(p.length);
        break;
      case Patch::Kind::kSpliceText:
        out += ",\"value\":";
        json_string(out, p.text);
        marks_json(out, p.inserted_marks);
        break;
      case Patch::Kind::kConflict:
        break;  // the path says it all
      case Patch::Kind::kMark:
        out += ",\"marks\":[";
        for (std::size_t m = 0; m < p.marks.size(); ++m) {
          if (m > 0) out += ",";
          out += "{\"name\":";
          json_string(out, p.marks[m].name);
          out += ",\"value\":";
          json_scalar(out, p.marks[m].value);
          out += ",\"start\":" + std::to_string(p.marks[m].start) + ",\"end\":" + std::to_string(p.marks[m].end) + "}";
        }
        out += "]";
        break;
      case Patch::Kind::kIncrement:
        out += ",\"value\":" + std::to_string(p.increment);
        break;
    }
    out += "}";
  }
  out += "]";
  return out;
}

}  // namespace am
