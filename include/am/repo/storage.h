// The storage interface of the repo: a key/value store whose keys are arrays of strings, mirroring
// automerge-repo's StorageAdapterInterface (JS 2.5.x, spec §4.1).
//
// The repo writes these keys (spec §4.2):
//   {"storage-adapter-id"}                  this store's StorageId (UTF-8 UUID text)
//   {docId, "snapshot", hash}               a whole saved document
//   {docId, "incremental", hash}            one or more changes
//   {docId, "sync-state", storageId}        the sync state with one remote store
// and loads a document with load_range({docId, "snapshot"}) + load_range({docId, "incremental"}).
// There is no locking: several repos (threads, processes, a JS repo) may share one store; the
// repo stays correct because chunk names are content hashes and it removes only exact keys it
// knows were superseded.
//
// Implementations: storage_memory.h, storage_fs.h (the JS nodefs directory layout),
// storage_sqlite.h, storage_postgres.h (when built with libpq; several servers may share one
// database). Your own: implement StorageAdapter and pass it in RepoOptions::storage; run the
// conformance suite (tests/repo/storage_conformance_test.cc) against it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "am/bytes.h"
#include "am/result.h"

namespace am::repo {

/// A storage key: one or more components, e.g. {docId, "incremental", sha256hex}.
/// A valid component is non-empty UTF-8 text without '/' or NUL and is neither "." nor "..".
using StorageKey = std::vector<std::string>;

/// One entry returned by StorageAdapter::load_range.
using StorageEntry = std::pair<StorageKey, Bytes>;

/// Stops a StorageChangeFeed::watch when destroyed.
class StorageWatch {
 public:
  virtual ~StorageWatch() = default;
};

/// Reports saves that *other* adapter instances (other processes, other machines) made to the
/// same store, so that a server sharing the store with other servers can reload what they
/// wrote (the PostgreSQL adapter: LISTEN/NOTIFY). Optional: StorageAdapter::change_feed() is
/// null for stores without one.
class StorageChangeFeed {
 public:
  virtual ~StorageChangeFeed() = default;

  /// Calls `on_saved(key)` for each key another instance saved, after its save committed, from
  /// a thread of the feed (one call at a time; it must be quick and must not call back into the
  /// feed). The empty key means "changes may have been missed" (the feed lost its connection
  /// and got it back): the receiver should reload everything it holds. Reporting stops when the
  /// returned watch is destroyed (which waits for a running call to return). kIOError if the
  /// feed cannot start.
  [[nodiscard]] virtual Result<std::unique_ptr<StorageWatch>> watch(
      std::function<void(const StorageKey& key)> on_saved) = 0;
};

/// A key/value store with prefix ranges.
///
/// Every call blocks until the operation is done (the repo runtime runs them on a thread pool)
/// and, for stores that persist, until the data is durable where the implementation says so.
///
/// Prefix semantics are component-wise: key K has prefix P when K has at least P.size()
/// components and the first P.size() are equal to P's. So {"abc"} does not have prefix {"ab"},
/// {"d", "incremental", "h"} has prefix {"d", "incremental"} and has itself as a prefix, and
/// every key has the empty prefix {}.
///
/// Errors: a key with no components, or any invalid component, fails with kInvalidArgument
/// (for prefixes: any invalid component; the empty prefix is valid). The operating system or
/// database refusing an operation is kIOError, with the path or database and the reason.
/// An implementation may refuse (kInvalidArgument) to save keys it cannot represent, such as a
/// key that is a proper prefix of another stored key, or, for the nodefs layout, a first
/// component shorter than three characters; such keys are then never found by the other calls.
/// The repo never uses such keys.
///
/// Thread safety: every implementation is safe to call from several threads at once, on one
/// object. Calls on the same key from different threads are atomic with respect to each other:
/// a load sees either the old or the new whole value, never a mix.
class StorageAdapter {
 public:
  virtual ~StorageAdapter() = default;

  /// The value stored under `key`, or nullopt when there is none.
  [[nodiscard]] virtual Result<std::optional<Bytes>> load(const StorageKey& key) = 0;

  /// Stores `data` (copied; may be empty) under `key`, replacing any previous value.
  [[nodiscard]] virtual Status save(const StorageKey& key, ByteView data) = 0;

  /// Removes the value under `key`. Removing a missing key succeeds.
  [[nodiscard]] virtual Status remove(const StorageKey& key) = 0;

  /// Every entry whose key has the prefix `prefix` (see above), in no particular order. Entries
  /// saved or removed concurrently with the call may or may not be included.
  [[nodiscard]] virtual Result<std::vector<StorageEntry>> load_range(const StorageKey& prefix) = 0;

  /// Removes every entry whose key has the prefix `prefix`. The empty prefix removes everything.
  [[nodiscard]] virtual Status remove_range(const StorageKey& prefix) = 0;

  /// The keys of the entries `load_range(prefix)` would return, without their values, in no
  /// particular order (for listing and copying large stores). The default calls load_range and
  /// drops the values; the built-in adapters read keys only.
  [[nodiscard]] virtual Result<std::vector<StorageKey>> list_keys(const StorageKey& prefix);

  /// The store's feed of other instances' saves, or null (the default) when it has none. Owned
  /// by the adapter and valid as long as it is.
  virtual StorageChangeFeed* change_feed() { return nullptr; }
};

/// kInvalidArgument (naming the key and the offending component) unless `key` has at least one
/// component and every component is valid.
[[nodiscard]] Status validate_storage_key(const StorageKey& key);

/// As validate_storage_key, but the empty prefix is valid.
[[nodiscard]] Status validate_storage_prefix(const StorageKey& prefix);

/// Whether `key` has the component-wise prefix `prefix`.
bool storage_key_has_prefix(const StorageKey& key, const StorageKey& prefix);

/// The components joined with '/', for messages and for stores keyed by text: {"a","b"} -> "a/b".
/// Since valid components contain no '/', the joined text of valid keys is unique.
std::string storage_key_to_string(const StorageKey& key);

/// The inverse of storage_key_to_string for valid keys (stores keyed by text read keys back
/// with it): "a/b" -> {"a","b"}.
StorageKey storage_key_from_string(std::string_view joined);

/// @name The repo's storage layout
/// The keys automerge-repo (JS, every storage adapter) and this library write: a document's
/// chunks are {document id, "snapshot", SHA-256 of its heads} and {document id, "incremental",
/// SHA-256 of the chunk}; a peer's sync state is {document id, "sync-state", its storage id}.
/// @{
inline constexpr std::string_view kSnapshotKeyKind = "snapshot";
inline constexpr std::string_view kIncrementalKeyKind = "incremental";
inline constexpr std::string_view kSyncStateKeyKind = "sync-state";

/// Whether `key` names a snapshot: three components, the second "snapshot".
bool is_snapshot_key(const StorageKey& key);
/// Whether `key` names a document chunk, snapshot or incremental.
bool is_document_chunk_key(const StorageKey& key);
/// Whether `key` names a peer's sync state.
bool is_sync_state_key(const StorageKey& key);
/// @}

}  // namespace am::repo
