// Path-addressed edits for the amrepo client commands (set, del, incr, splice).
//
// A path is JSON-pointer-like: "/todos/0/title". Each segment is a map key, or a decimal index
// into a list or text; "~1" stands for "/" and "~0" for "~" inside a segment. "" and "/" name
// the root map.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "am/document.h"

namespace amrepo {

/// Where a path points: the object holding the last segment and that segment (nullopt for the
/// root itself).
struct PathTarget {
  am::ObjId parent;
  am::ObjType parent_type = am::ObjType::kMap;
  std::optional<am::Prop> prop;
};

/// Resolves every segment but the last, which may name something that does not exist yet.
/// kInvalidArgument naming the segment when a step is missing or not an object.
am::Result<PathTarget> resolve_path(const am::Document& doc, std::string_view path);

/// Writes `value` at the target: scalars as scalars (strings as text objects, as JS Automerge
/// 3 does), objects and arrays as new maps and lists. A string where a text object already is
/// edits that text with Document::update_text (minimal splices) instead of replacing it. In a
/// list, an index equal to the length appends. The root takes only an object (its keys are
/// written, others kept).
am::Status set_json(am::Document& doc, const PathTarget& target, const nlohmann::json& value);

/// Deletes the key or element at the target.
am::Status delete_at(am::Document& doc, const PathTarget& target);

/// Adds `by` to the counter at the target; an absent map key becomes a counter of `by`.
am::Status increment_at(am::Document& doc, const PathTarget& target, std::int64_t by);

/// Splices the text object at the target: deletes `del` units at `pos`, inserts `text`.
am::Status splice_at(am::Document& doc, const PathTarget& target, std::size_t pos, std::size_t del,
                     std::string_view text);

/// Changes the document from `before` (its current JSON) to `after` with few ops: map keys
/// added, removed or changed one by one; text edited with one splice (common prefix and suffix
/// kept); lists element by element (extra elements appended or removed at the end). Returns the
/// number of paths changed.
am::Result<std::size_t> apply_json_diff(am::Document& doc, const nlohmann::json& before, const nlohmann::json& after);

}  // namespace amrepo
