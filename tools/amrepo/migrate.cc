#include "migrate.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "am/document.h"
#include "cli_common.h"
#include "file_tools.h"
#include "store.h"

namespace amrepo {
namespace {

using Clock = std::chrono::steady_clock;
using am::repo::StorageAdapter;
using am::repo::StorageEntry;

// Reads racing a compaction (snapshot written, incrementals removed) can miss a chunk.
constexpr int kReadAttempts = 5;
constexpr auto kReadRetryPause = std::chrono::milliseconds(50);
// Progress: a terminal line is redrawn at most this often; a log line is written this often.
constexpr auto kTerminalRefresh = std::chrono::milliseconds(200);
constexpr auto kLogLineEvery = std::chrono::seconds(5);

using am::repo::is_document_chunk_key;
using am::repo::is_snapshot_key;
using am::repo::is_sync_state_key;

// The document the chunks among `entries` make (snapshots first, as the repo loads them).
am::Result<am::Document> load_chunks(const std::vector<StorageEntry>& entries) {
  am::Document doc;
  for (const bool snapshots : {true, false}) {
    for (const auto& [key, bytes] : entries) {
      if (!is_document_chunk_key(key) || is_snapshot_key(key) != snapshots) continue;
      if (auto st = doc.load_incremental(bytes); !st) {
        return am::fail(am::Error(st.error().code, "chunk " + key[1] + "/" + key[2] + ": " + st.error().to_string()));
      }
    }
  }
  return doc;
}

// Every entry of the document at the source, and the document they make, causally complete.
struct SourceDocument {
  std::vector<StorageEntry> entries;
  std::vector<am::ChangeHash> heads;
  std::size_t chunk_bytes = 0;
};

am::Result<SourceDocument> read_source(StorageAdapter& source, const std::string& id) {
  am::Error last = am::Error::internal("read", "no attempt");
  for (int attempt = 0; attempt < kReadAttempts; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(kReadRetryPause);
    auto entries = source.load_range({id});
    if (!entries) return am::fail(entries.error());
    auto doc = load_chunks(*entries);
    if (!doc) {
      last = doc.error();
      continue;
    }
    if (!doc->get_missing_deps().empty()) {
      last = am::Error::missing_dependency(id, "its chunks lack changes they depend on");
      continue;
    }
    SourceDocument out;
    out.heads = doc->heads();
    for (const auto& [key, bytes] : *entries) {
      if (is_document_chunk_key(key)) out.chunk_bytes += bytes.size();
    }
    out.entries = std::move(*entries);
    return out;
  }
  return am::fail(last);
}

// Whether the destination's copy of the document holds every one of `heads`.
am::Result<bool> destination_has(StorageAdapter& destination, const std::string& id,
                                 const std::vector<am::ChangeHash>& heads) {
  auto entries = destination.load_range({id});
  if (!entries) return am::fail(entries.error());
  auto doc = load_chunks(*entries);
  if (!doc) return am::fail(doc.error());
  for (const auto& h : heads) {
    if (!doc->has_change(h)) return false;
  }
  return true;
}

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (bytes >= 1000 && u < 4) {
    bytes /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return buf;
}

std::string human_seconds(double s) {
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.0fs", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600, (static_cast<int>(s) % 3600) / 60);
  }
  return buf;
}

// Counts and the progress display of one run.
class Progress {
 public:
  Progress(std::size_t total, const std::string& mode)
      : total_(total), terminal_(mode != "never" && isatty(STDERR_FILENO)), log_lines_(mode == "always" && !terminal_) {}

  std::size_t copied = 0, skipped = 0, failed = 0;
  double bytes = 0;

  void update(bool last = false) {
    const auto now = Clock::now();
    if (terminal_ && (last || now - last_draw_ >= kTerminalRefresh)) {
      std::cerr << "\r" << line(now) << "\033[K" << (last ? "\n" : "") << std::flush;
      last_draw_ = now;
    } else if (log_lines_ && (last || now - last_draw_ >= kLogLineEvery)) {
      std::cerr << line(now) << "\n" << std::flush;
      last_draw_ = now;
    }
  }

  double elapsed_s() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

 private:
  std::string line(Clock::time_point now) const {
    const std::size_t done = copied + skipped + failed;
    const double s = std::chrono::duration<double>(now - start_).count();
    const double rate = s > 0 ? static_cast<double>(done) / s : 0;
    char pct[16];
    std::snprintf(pct, sizeof pct, "%.1f%%", total_ == 0 ? 100.0 : 100.0 * static_cast<double>(done) / static_cast<double>(total_));
    char rate_text[32];
    std::snprintf(rate_text, sizeof rate_text, "%.1f docs/s", rate);
    std::string out = "amrepo: migrate " + std::to_string(done) + "/" + std::to_string(total_) + " documents (" + pct +
                      "), " + rate_text + ", " + human_bytes(bytes) + " copied";
    if (rate > 0 && done < total_) out += ", ETA " + human_seconds(static_cast<double>(total_ - done) / rate);
    return out;
  }

  std::size_t total_;
  bool terminal_, log_lines_;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_draw_{};
};

am::Result<std::shared_ptr<StorageAdapter>> open_named(const std::string& flag, const std::string& name, bool create) {
  auto spec = parse_store(name);
  if (!spec) return am::fail(am::Error::invalid_argument(flag, spec.error().to_string()));
  if (spec->kind == StoreSpec::Kind::kMemory) return am::fail(am::Error::invalid_argument(flag, "memory: keeps nothing to migrate"));
  if (!create && spec->kind != StoreSpec::Kind::kPostgres && !std::filesystem::exists(spec->location)) {
    return am::fail(am::Error::not_found(flag, spec->location + " does not exist"));
  }
  OpenStoreOptions options;
  options.create = create;
  return open_store(*spec, options);
}

// The repo's own storage id travels with it: peers key their sync states by it.
am::Status copy_storage_id(StorageAdapter& source, StorageAdapter& destination) {
  const am::repo::StorageKey key{"storage-adapter-id"};
  auto ours = source.load(key);
  if (!ours) return am::fail(ours.error());
  if (!*ours) return {};
  auto theirs = destination.load(key);
  if (!theirs) return am::fail(theirs.error());
  if (*theirs) return {};  // the destination has its own identity already: keep it
  return destination.save(key, **ours);
}

// Copies one document; false (with the reason printed) when it could not be read or verified.
bool migrate_document(StorageAdapter& source, StorageAdapter& destination, const am::repo::DocumentId& id,
                      const MigrateOptions& options, Progress& progress) {
  const std::string name = id.to_string();
  auto report = [&](const std::string& what) {
    std::cerr << "\ramrepo: migrate: document " << name << ": " << what << "\033[K\n";
    ++progress.failed;
    return false;
  };
  auto doc = read_source(source, name);
  if (!doc) return report("cannot be read at the source: " + doc.error().to_string());
  auto present = destination_has(destination, name, doc->heads);
  if (present && *present) {
    ++progress.skipped;
    return true;
  }
  for (const auto& [key, bytes] : doc->entries) {
    if (!is_document_chunk_key(key) && !(options.keep_sync_states && is_sync_state_key(key))) continue;
    if (auto st = destination.save(key, bytes); !st) return report("cannot be written: " + st.error().to_string());
  }
  auto verified = destination_has(destination, name, doc->heads);
  if (!verified) return report("the copy does not load: " + verified.error().to_string());
  if (!*verified) return report("the copy lacks heads the source has");
  ++progress.copied;
  progress.bytes += static_cast<double>(doc->chunk_bytes);
  return true;
}

}  // namespace

int migrate(const MigrateOptions& options) {
  if (options.progress != "auto" && options.progress != "always" && options.progress != "never") {
    return fail_with(kExitUsage, "--progress must be auto, always or never");
  }
  if (options.from == options.to) return fail_with(kExitUsage, "--from and --to name the same store");
  auto source = open_named("--from", options.from, false);
  if (!source) return fail_with(source.error().code == am::ErrorCode::kInvalidArgument ? kExitUsage : kExitFailure,
                                source.error().to_string());
  auto destination = open_named("--to", options.to, true);
  if (!destination) return fail_with(destination.error().code == am::ErrorCode::kInvalidArgument ? kExitUsage : kExitFailure,
                                     destination.error().to_string());
  auto ids = list_store_documents(**source);
  if (!ids) return fail_with(kExitFailure, "listing the documents of --from: " + ids.error().to_string());
  if (auto st = copy_storage_id(**source, **destination); !st) return fail_with(kExitFailure, st.error().to_string());
  Progress progress(ids->size(), options.progress);
  for (const auto& id : *ids) {
    migrate_document(**source, **destination, id, options, progress);
    progress.update();
  }
  progress.update(true);
  std::cerr << "amrepo: migrated " << ids->size() << " documents from " << parse_store(options.from)->display_name()
            << " to " << parse_store(options.to)->display_name()
            << ": " << progress.copied << " copied, " << progress.skipped << " already there, " << progress.failed
            << " failed, in " << human_seconds(progress.elapsed_s()) << "\n";
  return progress.failed == 0 ? kExitOk : kExitCorrupt;
}

}  // namespace amrepo
