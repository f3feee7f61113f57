// An in-memory StorageAdapter: a sorted map under a lock. For tests, ephemeral repos and caches.
#pragma once

#include <memory>

#include "am/repo/storage.h"

namespace am::repo {

/// A new, empty in-memory store. Nothing persists beyond the object's lifetime.
/// Thread safety: as StorageAdapter (one reader/writer lock guards the map).
std::unique_ptr<StorageAdapter> make_memory_storage();

}  // namespace am::repo
