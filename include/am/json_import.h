// Building a document from JSON: the inverse of Document::to_json.
//
// Part of the separate library am_json (target am::json), so that am_core keeps no dependency on
// a JSON parser. Mapping from JSON to Automerge values:
//   object  -> map            array -> list
//   string  -> text object (as JS Automerge 3 does), or a scalar str with scalar_strings
//   integer -> int (int64); uint (uint64) above INT64_MAX; below INT64_MIN or above UINT64_MAX
//              (or written with a fraction or exponent) -> f64
//   other numbers -> f64; -0.0 is stored as 0.0, because to_json writes f64 -0.0 as "-0", which
//              reads back as the integer 0 (with 0.0 the JSON text of a document is stable under
//              to_json -> document_from_json -> to_json). Numbers beyond the range of a double
//              (1e400) are rejected as malformed ("number overflow").
//   true / false / null -> bool / null
// Duplicate keys in a JSON object: the last one wins. Strings are UTF-8 as read by the parser
// (ill-formed UTF-8 and unpaired \u surrogate escapes are rejected as malformed JSON).
//
// Errors: every failure is a returned Error, never an exception (only std::bad_alloc may
// escape). Malformed JSON, a top level that is not a JSON object, nesting deeper than
// kJsonImportMaxDepth or input longer than JsonImportOptions::max_bytes all give
// ErrorCode::kInvalidArgument with a message naming the problem; these are detected before
// anything is written to the document.
// Thread safety: as for the Document being written; the functions keep no state.
#pragma once

#include <cstddef>
#include <string_view>

#include "am/document.h"
#include "am/limits.h"
#include "am/result.h"

namespace am {

/// Maximum nesting of JSON objects and arrays, counting the top-level object as level 1.
inline constexpr std::size_t kJsonImportMaxDepth = 100;

/// How import_json and document_from_json read their input.
struct JsonImportOptions {
  /// Strings become text objects by default, as JS Automerge 3 does; scalar str on request.
  bool scalar_strings = false;
  /// Inputs longer than this many bytes are rejected before parsing (64 MiB by default).
  std::size_t max_bytes = kDefaultMaxJsonImportBytes;
};

/// Parses `json_text`, which must be a JSON object, and puts each of its keys into the map
/// `obj` of `doc` (typically ObjId::root()), nested values becoming new objects. Keys of `obj`
/// that the JSON does not mention are left alone; the ones it does are overwritten. The writes go
/// into the document's pending transaction, which is not committed.
/// Errors: kInvalidArgument for malformed or too large or too deeply nested input, a top level
/// that is not an object, or an `obj` that is not a map of `doc` (then nothing is written).
[[nodiscard]] Status import_json(Document& doc, const ObjId& obj, std::string_view json_text,
                                 const JsonImportOptions& options = {});

/// A new document (created with `doc_options`) holding `json_text` at its root, as one committed
/// change with time 0 and no message (the change is made, empty, even for "{}").
/// Errors: as import_json.
[[nodiscard]] Result<Document> document_from_json(std::string_view json_text,
                                                  const DocumentOptions& doc_options = {},
                                                  const JsonImportOptions& options = {});

}  // namespace am
