// Internal helpers of the storage adapters (src/repo/storage).
#pragma once

#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "am/repo/storage.h"

namespace am::repo::storage {

/// `["a", "b\x00"]`: a key for error messages, with control bytes, '"' and '\' escaped.
std::string printable_key(const StorageKey& key);

/// The keys of `entries`, values dropped (list_keys from a key-only scan).
inline std::vector<StorageKey> keys_of(std::vector<StorageEntry> entries) {
  std::vector<StorageKey> keys;
  keys.reserve(entries.size());
  for (auto& entry : entries) keys.push_back(std::move(entry.first));
  return keys;
}

/// The operating system's text for an errno value (thread-safe, unlike strerror).
std::string errno_text(int err);

}  // namespace am::repo::storage
