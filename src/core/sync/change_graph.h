// Walks of a document's change graph that the sync protocol needs, exposed for tests.
#pragma once

#include <cstdint>
#include <vector>

#include "am/document.h"

namespace am::sync_detail {

/// Rows (ascending, i.e. application order) of the changes of `d` that are neither in `heads`
/// nor ancestors of them; hashes `d` does not have are ignored. Costs about the changes since
/// `heads`, not the whole history.
std::vector<std::uint32_t> changes_since(const Document::Impl& d, const std::vector<ChangeHash>& heads);
/// The same by marking every ancestor of `heads` (linear in the history); the reference for tests.
std::vector<std::uint32_t> changes_since_by_full_walk(const Document::Impl& d, const std::vector<ChangeHash>& heads);

}  // namespace am::sync_detail
