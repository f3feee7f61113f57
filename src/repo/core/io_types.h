// What the sans-IO repo core asks its driver to do, and what the driver reports back.
//
// The hub and the document actors never touch sockets, files or clocks: they emit storage tasks
// and outgoing messages as data, and are told the current time with every event. A driver (the
// Asio runtime, or the deterministic simulation in tests) performs the tasks and feeds the
// outcomes back. Value types.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "am/bytes.h"
#include "am/repo/ids.h"
#include "am/repo/storage.h"
#include "am/result.h"

namespace am::repo::core {

/// Milliseconds on the driver's monotonic clock (virtual time in the simulation).
using Millis = std::int64_t;

/// Identifies one storage task of one hub or actor; unique within that emitter.
using TaskId = std::uint64_t;

/// One call on the StorageAdapter interface.
struct StorageTask {
  enum class Kind { kLoad, kSave, kRemove, kLoadRange, kRemoveRange };
  TaskId id = 0;
  Kind kind = Kind::kLoad;
  StorageKey key;  // the key, or the prefix for the range kinds
  Bytes data;      // kSave only
};

/// The outcome of a StorageTask. `value` is set for kLoad (nullopt when the key is absent),
/// `entries` for kLoadRange.
struct StorageOutcome {
  TaskId id = 0;
  Status status;
  std::optional<Bytes> value;
  std::vector<StorageEntry> entries;
};

/// Performs `task` on `storage` (blocking) and packages the result. Never throws other than
/// std::bad_alloc.
StorageOutcome run_storage_task(StorageAdapter& storage, const StorageTask& task);

/// What a peer told us about itself in the handshake.
struct PeerInfo {
  PeerId peer_id;
  std::optional<StorageId> storage_id;  // absent for a storage-less peer
  bool is_ephemeral = true;
  /// Whom the transport authenticated the connection as (empty: no authentication).
  std::string principal;

  friend bool operator==(const PeerInfo&, const PeerInfo&) = default;
};

}  // namespace am::repo::core
