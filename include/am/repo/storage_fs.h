// A StorageAdapter over plain files in the directory layout of the JS reference's
// @automerge/automerge-repo-storage-nodefs (2.5.x, spec §4.4), so a data directory can be shared
// with, or handed over to, a JS repo and the reference sync server.
//
// Layout. Key {k0, k1, ..., kn} is the file
//     <base>/<k0[0:2]>/<k0[2:]>/<k1>/.../<kn>
// where k0[0:2] is the first two UTF-16 code units of k0 (JS String.slice), e.g.
//     {"storage-adapter-id"}                    -> base/st/orage-adapter-id
//     {"2tdna9voKYp8AofPknxjEkWkhG3", "snapshot", "a619...db3a"}
//                                               -> base/2t/dna9voKYp8AofPknxjEkWkhG3/snapshot/a619...db3a
// load_range(prefix) walks the directory of the prefix recursively and turns every regular file
// below it back into a key (the first two path levels joined into k0).
//
// Keys the layout cannot represent are refused by save (kInvalidArgument) and never found by the
// other calls: a first component shorter than 3 UTF-16 code units (its file would be a directory
// of the splay level) or whose split would cut a surrogate pair, a split half that is "." or
// "..", a path segment longer than 255 bytes, and a key that is a proper prefix of a stored key
// or has one as its proper prefix (a file and a directory cannot share a path).
//
// Writes are atomic and durable, unlike the JS adapter's: the value goes to a fresh temporary
// file in <base>/.am-tmp/, which is fsync'ed and renamed over the key's file; then the key's
// directory (and any directory created for it) is fsync'ed. A crash leaves either the old or the
// new value, plus possibly an orphaned temporary file in <base>/.am-tmp/, which no walk of this
// adapter or of the JS adapter ever visits (JS walks only the directories of its prefixes).
// Orphans older than an hour are deleted when a store is opened. Removes fsync the parent
// directory too. A removed regular file is moved into <base>/.am-tmp/ rather than unlinked, and
// the next write reuses it (up to 256 are kept; the store removes those left when it closes):
// creating an inode just after freeing others is slow on ext4 without a journal.
//
// Several adapters, in this and other processes (including JS ones), may share one directory:
// every write is a rename, and walks ignore files and directories that vanish under them.
// (The JS adapter caches every value it saved in memory and serves loads from that cache, so a
// JS process does not see other processes' removes or overwrites of keys it saved itself.)
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "am/repo/storage.h"

namespace am::repo {

/// How open_fs_storage writes.
struct FsStorageOptions {
  /// fsync files and directories on save and remove. Turning it off keeps atomicity (a reader
  /// never sees a partial value) but loses durability across power loss; for tests only.
  bool sync = true;
};

/// The name of the folder inside the base directory that holds in-flight writes.
inline constexpr std::string_view kFsStorageTempDir = ".am-tmp";

/// Opens (creating it and its parents if needed) the store rooted at directory `base_dir`.
/// kIOError if the directory cannot be created or is not a directory.
/// Thread safety: as StorageAdapter; the object holds no lock, the file system orders writes.
[[nodiscard]] Result<std::unique_ptr<StorageAdapter>> open_fs_storage(const std::string& base_dir,
                                                                      FsStorageOptions options = {});

}  // namespace am::repo
