// Rich text values: block contents and the spans of a text (docs/design/rich-text-blocks.md).
//
// A block is a map object inserted as one element of a text (JS splitBlock); spans() reads a
// text as runs of characters with equal marks and the blocks between them (JS spans). These are
// plain value types; Document (am/document.h) reads and writes them.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "am/value.h"

namespace am {

/// A value with its nested objects expanded (the reference's hydrate::Value): what a block's
/// keys hold. kText keeps a text object apart from a string scalar (JS RawString): they are
/// different ops and the reference compares them unequal. Value type; not thread-safe to mutate.
struct Hydrated {
  /// Which member holds the value.
  enum class Kind : std::uint8_t { kScalar, kText, kList, kMap };
  Kind kind = Kind::kScalar;             ///< which of the members below is meant
  ScalarValue scalar;                    ///< kScalar: the value (a string here is a JS RawString)
  std::string text;                      ///< kText: the text object's content, UTF-8
  std::vector<Hydrated> list;            ///< kList: the elements
  std::map<std::string, Hydrated> map;   ///< kMap: the entries (sorted: also the write order)

  /// A scalar (a string becomes a string scalar, JS RawString).
  static Hydrated of(ScalarValue v) {
    Hydrated h;
    h.scalar = std::move(v);
    return h;
  }
  /// A text object holding `s` (UTF-8); what a plain JS string in a block becomes.
  static Hydrated text_of(std::string s) {
    Hydrated h;
    h.kind = Kind::kText;
    h.text = std::move(s);
    return h;
  }
  /// A list of values.
  static Hydrated list_of(std::vector<Hydrated> items) {
    Hydrated h;
    h.kind = Kind::kList;
    h.list = std::move(items);
    return h;
  }
  /// A map of values.
  static Hydrated map_of(std::map<std::string, Hydrated> entries) {
    Hydrated h;
    h.kind = Kind::kMap;
    h.map = std::move(entries);
    return h;
  }
  /// Equal kind and equal content (only the member `kind` names is compared).
  friend bool operator==(const Hydrated& a, const Hydrated& b);
};

/// The contents of a block: by convention `type` (a string), `parents` (a list of strings) and
/// `attrs` (a map), but any keys are stored as given, as the reference does.
using Block = std::map<std::string, Hydrated>;

/// One span of a text (JS spans): a run of characters with the same live marks, or a block.
/// Value type.
struct Span {
  /// A text run or a block.
  enum class Kind : std::uint8_t { kText, kBlock };
  Kind kind = Kind::kText;                     ///< which members below are meant
  std::string text;                            ///< kText: the characters, UTF-8
  std::map<std::string, ScalarValue> marks;    ///< kText: live marks (no nulls); empty = none
  Block block;                                 ///< kBlock: the block's contents
  friend bool operator==(const Span&, const Span&) = default;
};

/// JSON of a hydrated value as the JS API gives it (text objects and string scalars both as
/// strings; scalars mapped as Document::to_json maps them).
std::string to_json(const Hydrated& value);
/// JSON of spans as JS spans() gives them: `{"type":"text","value":..,"marks":{..}}` (marks left
/// out when there are none) and `{"type":"block","value":{..}}`.
std::string to_json(const std::vector<Span>& spans);

}  // namespace am
