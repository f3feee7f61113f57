// The document actor's storage part: loading (snapshots, incrementals, sync states), debounced
// and durable saves, compaction into a snapshot, merging chunks other processes wrote, removal.
#include "repo/core/doc_storage.h"

#include <algorithm>
#include <utility>

#include "core/util/sha256.h"

namespace am::repo::core {
namespace {

// JS names a snapshot by SHA-256 of its heads' hex strings, concatenated (heads sorted).
std::string snapshot_name(const std::vector<ChangeHash>& heads) {
  std::string joined;
  for (const ChangeHash& h : heads) joined += h.to_hex();
  const auto digest =
      am::util::sha256(ByteView(reinterpret_cast<const std::uint8_t*>(joined.data()), joined.size()));
  return to_hex(ByteView(digest.data(), digest.size()));
}

std::string chunk_name(ByteView chunk) {
  const auto digest = am::util::sha256(chunk);
  return to_hex(ByteView(digest.data(), digest.size()));
}

bool by_key(const StorageEntry& a, const StorageEntry& b) { return a.first < b.first; }

}  // namespace

TaskId DocStorage::add_task(StorageTask::Kind kind, StorageKey key, Bytes data) {
  const TaskId id = next_task_++;
  ctx_.effects.storage.push_back(StorageTask{id, kind, std::move(key), std::move(data)});
  return id;
}

void DocStorage::storage_error(std::string message) {
  ctx_.effects.events.push_back(
      DocEvent{DocEvent::Kind::kStorageError, ctx_.state, {}, {}, {}, {}, std::move(message)});
}

bool DocStorage::start_loading() {
  if (!ctx_.config.has_storage) return false;
  const std::string id = ctx_.config.document_id.to_string();
  for (const auto& [purpose, kind] : {std::pair{TaskPurpose::kLoadSnapshots, kSnapshotKeyKind},
                                      std::pair{TaskPurpose::kLoadIncrementals, kIncrementalKeyKind}}) {
    StorageKey prefix{id, std::string(kind)};
    const TaskId t = add_task(StorageTask::Kind::kLoadRange, prefix);
    tasks_[t] = make_task(purpose, std::move(prefix));
    ++loads_outstanding_;
  }
  return true;
}

void DocStorage::apply_loaded() {
  std::sort(loaded_snapshots_.begin(), loaded_snapshots_.end(), by_key);
  std::sort(loaded_incrementals_.begin(), loaded_incrementals_.end(), by_key);
  for (auto* entries : {&loaded_snapshots_, &loaded_incrementals_}) {
    const bool snapshot = entries == &loaded_snapshots_;
    for (auto& [key, bytes] : *entries) {
      if (auto st = ctx_.doc.load_incremental(bytes); !st) {
        // A chunk we cannot read is moved aside, not deleted: copied to
        // {doc, "quarantine", kind, name} (which no loader reads), then removed once the copy is
        // stored. It never stops the document (or the server) from loading what it can.
        StorageKey aside{ctx_.config.document_id.to_string(), "quarantine"};
        aside.insert(aside.end(), key.begin() + 1, key.end());
        storage_error("unreadable chunk " + storage_key_to_string(key) + " (" + st.error().to_string() +
                      ") moved to " + storage_key_to_string(aside));
        if (ctx_.config.has_storage) {
          const TaskId t = add_task(StorageTask::Kind::kSave, aside, bytes);
          PendingTask task = make_task(TaskPurpose::kQuarantineCopy, std::move(aside));
          task.original = key;
          tasks_[t] = std::move(task);
        }
        continue;
      }
      known_chunks_[key] = {snapshot, bytes.size()};
    }
    entries->clear();
    entries->shrink_to_fit();
  }
  last_saved_heads_ = ctx_.doc.heads();
}

void DocStorage::load_sync_state(const PeerId& peer, const StorageId& storage_id) {
  StorageKey key{ctx_.config.document_id.to_string(), std::string(kSyncStateKeyKind), storage_id.str()};
  const TaskId t = add_task(StorageTask::Kind::kLoad, key);
  tasks_[t] = PendingTask{TaskPurpose::kLoadSyncState, std::move(key), 0, {}, false, peer, {}};
}

StorageCompletion DocStorage::complete(StorageOutcome outcome, Millis now) {
  auto it = tasks_.find(outcome.id);
  if (it == tasks_.end()) return {};
  PendingTask task = std::move(it->second);
  tasks_.erase(it);
  if (!outcome.status) storage_error(storage_key_to_string(task.key) + ": " + outcome.status.error().to_string());
  switch (task.purpose) {
    case TaskPurpose::kLoadSnapshots:
    case TaskPurpose::kLoadIncrementals: {
      auto& into = task.purpose == TaskPurpose::kLoadSnapshots ? loaded_snapshots_ : loaded_incrementals_;
      into = std::move(outcome.entries);
      if (--loads_outstanding_ == 0 && ctx_.state == DocState::kLoading) {
        return StorageCompletion{StorageCompletion::Kind::kLoaded, {}, {}};
      }
      break;
    }
    case TaskPurpose::kSave:
      return save_done(task, outcome, now);
    case TaskPurpose::kRemoveSuperseded:
      --removes_outstanding_;
      break;
    case TaskPurpose::kLoadSyncState: {
      StorageCompletion loaded{StorageCompletion::Kind::kSyncStateLoaded, task.peer, {}};
      if (outcome.status && outcome.value) loaded.sync_state = std::move(outcome.value);
      return loaded;
    }
    case TaskPurpose::kQuarantineCopy:
      // Only a stored copy lets the original go; a failed copy leaves it where it was.
      if (outcome.status && ctx_.state != DocState::kDeleted) {
        const TaskId t = add_task(StorageTask::Kind::kRemove, task.original);
        tasks_[t] = make_task(TaskPurpose::kQuarantineRemove, task.original);
      }
      break;
    case TaskPurpose::kSaveSyncState:
    case TaskPurpose::kDelete:
    case TaskPurpose::kQuarantineRemove:
      break;
  }
  return {};
}

void DocStorage::save_at(Millis when) {
  if (ctx_.config.has_storage) save_due_ = when;
}

void DocStorage::schedule_save(Millis now) {
  if (!ctx_.config.has_storage || ctx_.state == DocState::kDeleted) return;
  if (!save_due_) save_due_ = now + ctx_.config.save_debounce_ms;
}

bool DocStorage::save_without_debounce(Millis now) {
  save_due_ = now;  // no debounce: replies wait for this save
  if (save_in_flight_) return true;
  save_due_.reset();
  return start_save();
}

bool DocStorage::take_due_save(Millis now) {
  if (!save_due_ || *save_due_ > now || save_in_flight_) return false;
  save_due_.reset();
  return true;
}

bool DocStorage::start_save() {
  std::vector<ChangeHash> heads = ctx_.doc.heads();
  if (heads.empty() || heads == last_saved_heads_) return false;
  std::size_t snapshot_bytes = 0;
  std::size_t incremental_bytes = 0;
  for (const auto& [key, info] : known_chunks_) (info.first ? snapshot_bytes : incremental_bytes) += info.second;
  // The JS rule (spec §4.3): small documents are rewritten whole; larger ones get incrementals
  // until those outweigh the snapshot.
  const bool compact = snapshot_bytes < ctx_.config.compact_below_bytes || incremental_bytes >= snapshot_bytes;
  const std::string id = ctx_.config.document_id.to_string();
  Bytes data;
  StorageKey key;
  if (compact) {
    data = ctx_.doc.save();
    key = {id, std::string(kSnapshotKeyKind), snapshot_name(heads)};
  } else {
    data = ctx_.doc.save_after(last_saved_heads_);
    key = {id, std::string(kIncrementalKeyKind), chunk_name(data)};
  }
  PendingTask task{TaskPurpose::kSave, key, data.size(), std::move(heads), compact, {}, {}};
  const TaskId t = add_task(StorageTask::Kind::kSave, std::move(key), std::move(data));
  tasks_[t] = std::move(task);
  save_in_flight_ = true;
  saving_changes_ = ctx_.doc.change_count();
  return true;
}

StorageCompletion DocStorage::save_done(const PendingTask& task, const StorageOutcome& outcome, Millis now) {
  save_in_flight_ = false;
  const std::string id = ctx_.config.document_id.to_string();
  if (ctx_.state == DocState::kDeleted) {
    // The delete waited for this write so that the write cannot resurrect the document.
    const TaskId t = add_task(StorageTask::Kind::kRemoveRange, {id});
    tasks_[t] = make_task(TaskPurpose::kDelete, {id});
    return {};
  }
  if (!outcome.status) {
    save_due_ = now + 10 * std::max<Millis>(ctx_.config.save_debounce_ms, 1);  // retry later
    return {};
  }
  last_saved_heads_ = task.heads;
  if (task.snapshot) {
    // Remove exactly the chunks this snapshot supersedes: chunks written meanwhile by another
    // process sharing the store are not known here and so are never removed.
    for (const auto& [key, info] : known_chunks_) {
      if (key == task.key) continue;
      const TaskId t = add_task(StorageTask::Kind::kRemove, key);
      tasks_[t] = make_task(TaskPurpose::kRemoveSuperseded, key);
      ++removes_outstanding_;
    }
    known_chunks_.clear();
  }
  known_chunks_[task.key] = {task.snapshot, task.size};
  const bool caught_up = ctx_.doc.heads() == last_saved_heads_;
  return StorageCompletion{caught_up ? StorageCompletion::Kind::kSavedAll : StorageCompletion::Kind::kSavedBehind,
                           {}, {}, saving_changes_};
}

bool DocStorage::flush(Millis now) {
  if (!ctx_.config.has_storage || ctx_.state == DocState::kDeleted || ctx_.state == DocState::kLoading) {
    return false;
  }
  if (ctx_.doc.heads() != last_saved_heads_ && !save_in_flight_) save_due_ = now;
  if (sync_save_due_) sync_save_due_ = now;
  return true;
}

void DocStorage::sync_state_changed(Millis now) {
  if (!sync_save_due_) sync_save_due_ = now + ctx_.config.save_debounce_ms;
}

bool DocStorage::begin_sync_state_save() {
  sync_save_due_.reset();
  return ctx_.config.has_storage && ctx_.state != DocState::kDeleted;
}

void DocStorage::save_sync_state(const PeerId& peer, const StorageId& storage_id, Bytes encoded) {
  StorageKey key{ctx_.config.document_id.to_string(), std::string(kSyncStateKeyKind), storage_id.str()};
  const TaskId t = add_task(StorageTask::Kind::kSave, key, std::move(encoded));
  tasks_[t] = PendingTask{TaskPurpose::kSaveSyncState, std::move(key), 0, {}, false, peer, {}};
}

bool DocStorage::merge_chunks(std::vector<StorageEntry> chunks, Millis now) {
  std::sort(chunks.begin(), chunks.end(), by_key);
  const std::vector<ChangeHash> before = ctx_.doc.heads();
  const bool all_saved = before == last_saved_heads_;
  for (auto& [key, bytes] : chunks) {
    if (key.size() < 2 || known_chunks_.count(key) != 0) continue;
    if (auto st = ctx_.doc.load_incremental(bytes); !st) {
      storage_error("unreadable chunk " + storage_key_to_string(key) +
                    " (saved by another process): " + st.error().to_string());
      continue;
    }
    // Known from now on, so a later snapshot of ours (which contains it) supersedes it.
    known_chunks_[key] = {key[1] == kSnapshotKeyKind, bytes.size()};
  }
  const std::vector<ChangeHash> after = ctx_.doc.heads();
  if (after == before) return false;
  if (all_saved) {
    last_saved_heads_ = after;  // everything we have is in storage
  } else {
    schedule_save(now);
  }
  ctx_.effects.events.push_back(DocEvent{DocEvent::Kind::kHeadsChanged, ctx_.state, before, after, {}, {}, {}});
  return true;
}

void DocStorage::remove() {
  save_due_.reset();
  sync_save_due_.reset();
  if (ctx_.config.has_storage && !save_in_flight_) {
    const std::string id = ctx_.config.document_id.to_string();
    const TaskId t = add_task(StorageTask::Kind::kRemoveRange, {id});
    tasks_[t] = make_task(TaskPurpose::kDelete, {id});
  }
}

bool DocStorage::pending_io() const {
  if (!tasks_.empty() || save_due_ || sync_save_due_) return true;
  return ctx_.config.has_storage && ctx_.state == DocState::kReady && ctx_.doc.heads() != last_saved_heads_;
}

std::optional<Millis> DocStorage::next_wake() const {
  std::optional<Millis> wake = save_in_flight_ ? std::nullopt : save_due_;
  if (sync_save_due_ && (!wake || *sync_save_due_ < *wake)) wake = sync_save_due_;
  return wake;
}

}  // namespace am::repo::core
