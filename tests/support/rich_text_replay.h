// Replays the rich-text golden vectors of tools/jsref/vectors/rich_text.mjs (extra.steps: scripted
// calls per change, merges) through Document's API: identical change bytes, equal spans and text
// after every step, spans at every earlier heads, block() at every index of the merged text, and
// the reference's changes applied out of order. Shared by blocks_test.cc and update_spans_test.cc.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "am/document.h"

namespace am::test {

/// A document of actor "<letter> x 32" counting UTF-16 units, as the vectors' docs.
Document rich_text_doc(char actor_letter);
/// The text at root key "text", or the root when there is none.
ObjId rich_text_of(const Document& d);
/// A block value in the vectors' tagged JSON ({"$raw": s} a string scalar, a plain string a text,
/// {"$date": ms}, {"$bytes": hex}; a positive integer an int, another number a float64).
Hydrated untag(const nlohmann::json& v);
/// A JS mark's `expand` ("before", "after", "both", "none"; anything else: JS's default "after").
ExpandMark expand_of(const std::string& s);
/// Replays vector `name` as described above; failures are recorded as test failures.
void replay_rich_text_vector(const std::string& name);

}  // namespace am::test
