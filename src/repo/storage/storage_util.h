// Internal helpers of the storage adapters (src/repo/storage).
#pragma once

#include <string>
#include <system_error>

#include "am/repo/storage.h"

namespace am::repo::storage {

/// `["a", "b\x00"]`: a key for error messages, with control bytes, '"' and '\' escaped.
std::string printable_key(const StorageKey& key);

/// The operating system's text for an errno value (thread-safe, unlike strerror).
std::string errno_text(int err);

}  // namespace am::repo::storage
