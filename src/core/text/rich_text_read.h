// Reading rich text in one state of a document: block contents (hydrated maps) and spans.
// Internal: used by src/core/text/blocks.cc (the Document API) and by the spans at heads.
#pragma once

#include <vector>

#include "am/rich_text.h"
#include "core/history_view.h"

namespace am::core {

/// The object `o` with everything nested in it, as it is in the state `v` (Rust hydrate).
/// Maps and tables become kMap, lists kList, text kText. Holds no reference afterwards.
Hydrated hydrate(const StateView& v, const Object& o);

/// The spans of the text `o` in the state `v` (JS spans): see Document::spans.
std::vector<Span> spans_of(const StateView& v, const Object& o);

}  // namespace am::core
