// Myers' O((N+M)·D) diff in linear space (divide and conquer on the middle snake), in the variant the
// reference's update_text uses (adapted there from the `similar` crate): the same prefix/suffix trimming,
// middle-snake search and tie-breaking, so the edit script, and hence the ops, come out identical.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "am/result.h"

namespace am::core {

/// Receives the edit script in order, left to right. Indexes are into the old/new sequences.
/// An error returned by a callback stops the diff and is passed on.
class DiffSink {
 public:
  virtual ~DiffSink() = default;
  /// old[old_index, +len) equals new[new_index, +len).
  virtual Status equal(std::size_t old_index, std::size_t new_index, std::size_t len) = 0;
  /// old[old_index, +old_len) is removed (new_index: where the new sequence stands).
  virtual Status remove(std::size_t old_index, std::size_t old_len, std::size_t new_index) = 0;
  /// new[new_index, +new_len) is inserted (old_index: where the old sequence stands).
  virtual Status insert(std::size_t old_index, std::size_t new_index, std::size_t new_len) = 0;
};

/// Diffs `old_seq` against `new_seq` (elements compared by value) into `sink`.
/// Time O((N+M)·D), memory O(N+M). Like the reference it has no cut-off heuristic: two long,
/// wholly different sequences take time proportional to the product of their lengths.
Status myers_diff(std::span<const std::string_view> old_seq, std::span<const std::string_view> new_seq,
                  DiffSink& sink);

}  // namespace am::core
