// File-system StorageAdapter in the JS nodefs layout (see include/am/repo/storage_fs.h and spec
// §4.4). POSIX calls with errno, no exceptions: every failure becomes an am::Error naming the
// operation, the path and the operating system's reason.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "am/repo/storage_fs.h"
#include "core/encoding/utf8.h"
#include "repo/storage/storage_util.h"

namespace am::repo {
namespace {

using storage::errno_text;
using storage::printable_key;

constexpr std::size_t kMaxNameBytes = 255;           // NAME_MAX of Linux file systems
constexpr int kMaxAttempts = 16;                     // retries when directories vanish under us
constexpr std::size_t kMaxRecycledFiles = 256;      // removed files kept for reuse (see recycle)
constexpr std::time_t kOrphanAgeSeconds = 60 * 60;   // temp files older than this are orphans

Error io_error(std::string_view op, const std::string& path, int err) {
  return Error::io_error("fs storage", std::string(op) + " " + path + ": " + errno_text(err));
}

Error conflict_error(const StorageKey& key, const std::string& path) {
  return Error::invalid_argument(
      "fs storage", "key " + printable_key(key) + " conflicts with a stored key (" + path +
                        " and a file or directory on its path)");
}

// The byte offset just after the first two UTF-16 code units of valid UTF-8 text `s` (where JS
// `s.slice(0, 2)` ends), or npos if `s` has fewer units or the cut would split a surrogate pair.
std::size_t js_splay_offset(std::string_view s) {
  std::size_t offset = 0;
  int units = 0;
  while (units < 2) {
    if (offset >= s.size()) return std::string_view::npos;
    const std::size_t len = enc::utf8_sequence_length(s[offset]);
    units += static_cast<int>(enc::utf16_units(len));  // code points above U+FFFF take two
    offset += len;
  }
  return units == 2 ? offset : std::string_view::npos;
}

bool usable_segment(std::string_view seg) {
  return !seg.empty() && seg != "." && seg != ".." && seg.size() <= kMaxNameBytes;
}

// The path segments below the base directory for a validated key or prefix with at least one
// component, or nullopt when the layout cannot represent it.
std::optional<std::vector<std::string_view>> layout_segments(const StorageKey& key) {
  const std::string_view k0 = key[0];
  const std::size_t split = js_splay_offset(k0);
  if (split == std::string_view::npos || split >= k0.size()) return std::nullopt;
  std::vector<std::string_view> segs{k0.substr(0, split), k0.substr(split)};
  for (std::size_t i = 1; i < key.size(); ++i) segs.emplace_back(key[i]);
  for (const std::string_view seg : segs) {
    if (!usable_segment(seg)) return std::nullopt;
  }
  return segs;
}

std::string join_path(const std::string& base, const std::vector<std::string_view>& segs,
                      std::size_t count) {
  std::string path = base;
  for (std::size_t i = 0; i < count; ++i) {
    path.push_back('/');
    path.append(segs[i]);
  }
  return path;
}

std::string parent_of(const std::string& path) { return path.substr(0, path.find_last_of('/')); }

bool is_dot(const char* name) {
  return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

// fsync of a directory, so the entries created, renamed or removed in it are durable.
Status fsync_dir(const std::string& dir, bool missing_ok) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    if (missing_ok && errno == ENOENT) return {};
    return fail(io_error("open directory", dir, errno));
  }
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return fail(io_error("fsync directory", dir, err));
  return {};
}

// The regular file at `path`, or nullopt when there is none (missing, a directory, or a path
// through a file).
Result<std::optional<Bytes>> read_file(const std::string& path) {
  // O_NONBLOCK: opening a FIFO someone left in the tree must not hang; no effect on files.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR || err == ENAMETOOLONG) return std::optional<Bytes>();
    return fail(io_error("open", path, err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return fail(io_error("fstat", path, err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return std::optional<Bytes>();
  }
  Bytes data;
  data.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  for (;;) {
    if (got == data.size()) data.resize(data.size() + 65536);  // the file grew since fstat
    const ssize_t n = ::read(fd, data.data() + got, data.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return fail(io_error("read", path, err));
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  data.resize(got);
  return std::optional<Bytes>(std::move(data));
}

// Names in directory `dir` except "." and "..", or nullopt when the directory does not exist
// (or vanished, or is not a directory).
struct DirEntry {
  std::string name;
  unsigned char type;  // DT_* (DT_UNKNOWN on file systems that do not report it)
};
Result<std::optional<std::vector<DirEntry>>> list_dir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) return std::optional<std::vector<DirEntry>>();
    return fail(io_error("opendir", dir, err));
  }
  std::vector<DirEntry> out;
  for (;;) {
    errno = 0;
    const dirent* e = ::readdir(d);
    if (e == nullptr) {
      const int err = errno;
      ::closedir(d);
      if (err != 0 && err != ENOENT) return fail(io_error("readdir", dir, err));
      break;
    }
    if (!is_dot(e->d_name)) out.push_back({e->d_name, e->d_type});
  }
  return std::optional<std::vector<DirEntry>>(std::move(out));
}

enum class Kind { kMissing, kFile, kDir, kOther };

Result<Kind> kind_of(const std::string& path, unsigned char dtype, bool follow_links) {
  if (dtype == DT_REG) return Kind::kFile;
  if (dtype == DT_DIR) return Kind::kDir;
  if (dtype != DT_UNKNOWN && !(dtype == DT_LNK && follow_links)) return Kind::kOther;
  struct stat st {};
  const int rc = follow_links ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st);
  if (rc != 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) return Kind::kMissing;
    return fail(io_error("stat", path, err));
  }
  if (S_ISREG(st.st_mode)) return Kind::kFile;
  if (S_ISDIR(st.st_mode)) return Kind::kDir;
  return Kind::kOther;
}

class FsStorage final : public StorageAdapter {
 public:
  FsStorage(std::string base, FsStorageOptions options)
      : base_(std::move(base)),
        tmp_dir_(base_ + "/" + std::string(kFsStorageTempDir)),
        options_(options) {}
  ~FsStorage() override {
    for (const std::string& file : recycled_) ::unlink(file.c_str());
  }

  Result<std::optional<Bytes>> load(const StorageKey& key) override {
    AM_TRY_STATUS(validate_storage_key(key));
    const auto segs = layout_segments(key);
    if (!segs) return std::optional<Bytes>();
    return read_file(join_path(base_, *segs, segs->size()));
  }

  Status save(const StorageKey& key, ByteView data) override {
    AM_TRY_STATUS(validate_storage_key(key));
    const auto segs = layout_segments(key);
    if (!segs) {
      return fail(Error::invalid_argument(
          "fs storage", "key " + printable_key(key) +
                            " cannot be stored in the nodefs layout (the first component needs "
                            "at least 3 UTF-16 units, no \".\"/\"..\" halves, no unpaired "
                            "surrogate at the split, names of at most 255 bytes)"));
    }
    const std::string path = join_path(base_, *segs, segs->size());
    std::string tmp;
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      if (tmp.empty()) {
        AM_TRY_ASSIGN(tmp, write_temp(data));
      }
      if (auto made = make_dirs(key, *segs); !made) {
        ::unlink(tmp.c_str());
        return made;
      }
      if (::rename(tmp.c_str(), path.c_str()) == 0) {
        if (options_.sync) AM_TRY_STATUS(fsync_dir(parent_of(path), false));
        return {};
      }
      const int err = errno;
      if (err == ENOENT) {
        // A concurrent remove_range took the key's directory (make it again), or an orphan
        // sweep took our temp file (write it again).
        if (::access(tmp.c_str(), F_OK) != 0) tmp.clear();
        continue;
      }
      ::unlink(tmp.c_str());
      if (err == EISDIR || err == ENOTDIR || err == ENOTEMPTY || err == EEXIST) {
        return fail(conflict_error(key, path));
      }
      return fail(io_error("rename " + tmp + " to", path, err));
    }
    if (!tmp.empty()) ::unlink(tmp.c_str());
    return fail(Error::io_error("fs storage", "saving " + path +
                                                  ": its directory kept vanishing (concurrent "
                                                  "remove_range?)"));
  }

  Status remove(const StorageKey& key) override {
    AM_TRY_STATUS(validate_storage_key(key));
    const auto segs = layout_segments(key);
    if (!segs) return {};
    const std::string path = join_path(base_, *segs, segs->size());
    if (!recycle(path) && ::unlink(path.c_str()) != 0) {
      const int err = errno;
      // EISDIR/EPERM on a directory: a directory is a prefix of keys, not a key.
      if (err == ENOENT || err == ENOTDIR || err == EISDIR) return {};
      if (err == EPERM) {
        auto kind = kind_of(path, DT_UNKNOWN, false);
        if (kind && *kind == Kind::kDir) return {};
      }
      return fail(io_error("unlink", path, err));
    }
    if (options_.sync) return fsync_dir(parent_of(path), true);
    return {};
  }

  Result<std::vector<StorageEntry>> load_range(const StorageKey& prefix) override {
    return scan(prefix, true);
  }

  Result<std::vector<StorageKey>> list_keys(const StorageKey& prefix) override {
    AM_TRY_ASSIGN(auto entries, scan(prefix, false));
    return storage::keys_of(std::move(entries));
  }

  // The entries under `prefix`, with their values or (with_data false) empty values.
  Result<std::vector<StorageEntry>> scan(const StorageKey& prefix, bool with_data) {
    AM_TRY_STATUS(validate_storage_prefix(prefix));
    std::vector<StorageEntry> out;
    if (prefix.empty()) {
      AM_TRY_ASSIGN(auto firsts, list_dir(base_));
      if (!firsts) return fail(io_error("opendir", base_, ENOENT));
      for (const DirEntry& first : *firsts) {
        if (!is_splay_dir(first.name)) continue;
        const std::string first_path = base_ + "/" + first.name;
        AM_TRY_ASSIGN(auto seconds, list_dir(first_path));
        if (!seconds) continue;
        for (const DirEntry& second : *seconds) {
          StorageKey key{first.name + second.name};
          if (!validate_storage_key(key) || !layout_segments(key)) continue;
          AM_TRY_STATUS(walk(first_path + "/" + second.name, second.type, key, out, with_data));
        }
      }
      return out;
    }
    const auto segs = layout_segments(prefix);
    if (!segs) return out;
    StorageKey key = prefix;
    AM_TRY_STATUS(walk(join_path(base_, *segs, segs->size()), DT_UNKNOWN, key, out, with_data));
    return out;
  }

  Status remove_range(const StorageKey& prefix) override {
    AM_TRY_STATUS(validate_storage_prefix(prefix));
    if (prefix.empty()) {
      AM_TRY_ASSIGN(auto firsts, list_dir(base_));
      if (!firsts) return {};
      for (const DirEntry& first : *firsts) {
        if (is_splay_dir(first.name)) AM_TRY_STATUS(remove_tree(base_ + "/" + first.name));
      }
      if (options_.sync) return fsync_dir(base_, true);
      return {};
    }
    const auto segs = layout_segments(prefix);
    if (!segs) return {};
    const std::string path = join_path(base_, *segs, segs->size());
    AM_TRY_STATUS(remove_tree(path));
    if (options_.sync) return fsync_dir(parent_of(path), true);
    return {};
  }

  // Deletes temp files older than kOrphanAgeSeconds (left by crashed writers). Best effort.
  void sweep_orphans() {
    auto names = list_dir(tmp_dir_);
    if (!names || !*names) return;
    const std::time_t now = std::time(nullptr);
    for (const DirEntry& e : **names) {
      const std::string path = tmp_dir_ + "/" + e.name;
      struct stat st {};
      if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
          now - st.st_mtime > kOrphanAgeSeconds) {
        ::unlink(path.c_str());
      }
    }
  }

 private:
  // A first-level directory name of the layout: exactly two UTF-16 units.
  static bool is_splay_dir(const std::string& name) {
    if (name == kFsStorageTempDir) return false;
    const StorageKey as_key{name};
    return validate_storage_key(as_key).has_value() && js_splay_offset(name) == name.size();
  }

  // A name in tmp_dir_ no other writer uses.
  std::string fresh_temp_name() {
    static std::atomic<std::uint64_t> counter{0};
    return tmp_dir_ + "/" + std::to_string(::getpid()) + "-" +
           std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
  }

  // Moves the regular file at `path` into tmp_dir_ for write_temp to reuse, instead of unlinking
  // it; false when it did not (not a regular file, enough kept, or the rename failed). Why: a
  // server saving small documents removes a superseded chunk per save, and creating an inode
  // right after freeing others is costly on ext4 without a journal (it probes each candidate
  // for a recent deletion): 14% of the server's CPU in the 1,000-editor benchmark. Reusing
  // the removed file's inode skips that. To readers it is an unlink (the key is gone).
  bool recycle(const std::string& path) {
    {
      std::lock_guard<std::mutex> lock(recycle_mutex_);
      if (recycled_.size() >= kMaxRecycledFiles) return false;
    }
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
    const std::string spare = fresh_temp_name();
    if (::rename(path.c_str(), spare.c_str()) != 0) return false;
    std::lock_guard<std::mutex> lock(recycle_mutex_);
    recycled_.push_back(spare);
    return true;
  }

  // An open, emptied recycled file and its path, or -1 when none is left.
  int take_recycled(std::string& path) {
    while (true) {
      {
        std::lock_guard<std::mutex> lock(recycle_mutex_);
        if (recycled_.empty()) return -1;
        path = std::move(recycled_.back());
        recycled_.pop_back();
      }
      const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
      if (fd >= 0) return fd;
      ::unlink(path.c_str());  // an orphan sweep took it, or it is unusable: drop it
    }
  }

  // Writes `data` to a file in tmp_dir_ (fsync'ed when options_.sync), a recycled one or a new
  // one, and returns its path.
  Result<std::string> write_temp(ByteView data) {
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      std::string tmp;
      int fd = take_recycled(tmp);
      if (fd < 0) {
        tmp = fresh_temp_name();
        fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      }
      if (fd < 0) {
        const int err = errno;
        if (err == EEXIST) continue;  // a crashed process with the same pid left it
        if (err == ENOENT) {          // someone removed the temp folder: make it again
          if (::mkdir(tmp_dir_.c_str(), 0777) != 0 && errno != EEXIST) {
            return fail(io_error("mkdir", tmp_dir_, errno));
          }
          continue;
        }
        return fail(io_error("create", tmp, err));
      }
      std::size_t done = 0;
      while (done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0) {
          if (errno == EINTR) continue;
          const int err = errno;
          ::close(fd);
          ::unlink(tmp.c_str());
          return fail(io_error("write", tmp, err));
        }
        done += static_cast<std::size_t>(n);
      }
      if (options_.sync && ::fsync(fd) != 0) {
        const int err = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        return fail(io_error("fsync", tmp, err));
      }
      if (::close(fd) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        return fail(io_error("close", tmp, err));
      }
      return tmp;
    }
    return fail(Error::io_error("fs storage", "could not create a temporary file in " + tmp_dir_));
  }

  // Creates the directories of every segment but the last, fsync'ing the parent of each one
  // created. Restarts from the top when a concurrent remove_range deletes one under us.
  Status make_dirs(const StorageKey& key, const std::vector<std::string_view>& segs) {
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      bool restart = false;
      for (std::size_t depth = 1; depth < segs.size(); ++depth) {
        const std::string dir = join_path(base_, segs, depth);
        if (::mkdir(dir.c_str(), 0777) == 0) {
          if (options_.sync) AM_TRY_STATUS(fsync_dir(parent_of(dir), true));
          continue;
        }
        const int err = errno;
        if (err == EEXIST) continue;  // a file here shows up as ENOTDIR one level down
        if (err == ENOTDIR) return fail(conflict_error(key, dir));
        if (err == ENOENT) {
          restart = true;
          break;
        }
        return fail(io_error("mkdir", dir, err));
      }
      if (!restart) return {};
    }
    return fail(Error::io_error("fs storage", "creating the directories of " +
                                                  printable_key(key) + ": they kept vanishing"));
  }

  // Adds the entry at `path` (key `key`) to `out`: a file is one entry, a directory every file
  // below it. Things that vanish meanwhile, and names that are not valid key components, are
  // skipped. Without `with_data` files are not read and their entries have empty values.
  Status walk(const std::string& path, unsigned char dtype, StorageKey& key,
              std::vector<StorageEntry>& out, bool with_data) {
    AM_TRY_ASSIGN(const Kind kind, kind_of(path, dtype, true));
    if (kind == Kind::kFile) {
      if (!with_data) {
        out.emplace_back(key, Bytes{});
        return {};
      }
      AM_TRY_ASSIGN(auto data, read_file(path));
      if (data) out.emplace_back(key, std::move(*data));
      return {};
    }
    if (kind != Kind::kDir) return {};
    AM_TRY_ASSIGN(auto entries, list_dir(path));
    if (!entries) return {};
    for (const DirEntry& e : *entries) {
      key.push_back(e.name);
      if (validate_storage_key(key)) {
        if (auto st = walk(path + "/" + e.name, e.type, key, out, with_data); !st) return st;
      }
      key.pop_back();
    }
    return {};
  }

  // rm -r without following symbolic links. Vanished entries are fine; a directory that a
  // concurrent writer refilled stays (its new keys were saved after this call began).
  Status remove_tree(const std::string& path) {
    AM_TRY_ASSIGN(const Kind kind, kind_of(path, DT_UNKNOWN, false));
    if (kind == Kind::kMissing) return {};
    if (kind != Kind::kDir) {
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return fail(io_error("unlink", path, errno));
      }
      return {};
    }
    AM_TRY_ASSIGN(auto entries, list_dir(path));
    if (!entries) return {};
    for (const DirEntry& e : *entries) {
      const std::string child = path + "/" + e.name;
      if (e.type == DT_DIR || e.type == DT_UNKNOWN) {
        AM_TRY_STATUS(remove_tree(child));
      } else if (::unlink(child.c_str()) != 0 && errno != ENOENT) {
        return fail(io_error("unlink", child, errno));
      }
    }
    if (::rmdir(path.c_str()) != 0) {
      const int err = errno;
      if (err != ENOENT && err != ENOTEMPTY && err != EEXIST) {
        return fail(io_error("rmdir", path, err));
      }
    }
    return {};
  }

  const std::string base_;     // the store's root, without a trailing '/'
  const std::string tmp_dir_;  // base_/.am-tmp: in-flight writes
  const FsStorageOptions options_;
  std::mutex recycle_mutex_;
  std::vector<std::string> recycled_;  // removed files in tmp_dir_, for write_temp to reuse
};

Status make_dir_tree(const std::string& dir) {
  // mkdir -p, each level tolerating EEXIST.
  for (std::size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    const std::string part = dir.substr(0, pos);
    if (::mkdir(part.c_str(), 0777) != 0 && errno != EEXIST) {
      return fail(io_error("mkdir", part, errno));
    }
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return fail(io_error("stat", dir, errno));
  if (!S_ISDIR(st.st_mode)) return fail(io_error("open", dir, ENOTDIR));
  return {};
}

}  // namespace

Result<std::unique_ptr<StorageAdapter>> open_fs_storage(const std::string& base_dir,
                                                        FsStorageOptions options) {
  std::string base = base_dir;
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  if (base.empty()) return fail(Error::invalid_argument("fs storage", "empty base directory"));
  AM_TRY_STATUS(make_dir_tree(base));
  AM_TRY_STATUS(make_dir_tree(base + "/" + std::string(kFsStorageTempDir)));
  auto storage = std::make_unique<FsStorage>(base, options);
  storage->sweep_orphans();
  return std::unique_ptr<StorageAdapter>(std::move(storage));
}

}  // namespace am::repo
