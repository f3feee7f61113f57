// The document actor's storage half: loading (snapshots, incrementals, sync states), debounced
// and durable saves, compaction into a snapshot, merging chunks other processes wrote, removal.
#include <algorithm>
#include <utility>

#include "core/util/sha256.h"
#include "repo/core/doc_actor.h"
#include "repo/core/doc_actor_peer.h"

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

}  // namespace

TaskId DocActor::add_task(StorageTask::Kind kind, StorageKey key, Bytes data) {
  const TaskId id = next_task_++;
  effects_.storage.push_back(StorageTask{id, kind, std::move(key), std::move(data)});
  return id;
}

void DocActor::start_loading(Millis now) {
  if (!config_.has_storage) {
    finish_loading(now);
    return;
  }
  const std::string id = config_.document_id.to_string();
  for (const auto& [purpose, kind] : {std::pair{TaskPurpose::kLoadSnapshots, kSnapshotKeyKind},
                                      std::pair{TaskPurpose::kLoadIncrementals, kIncrementalKeyKind}}) {
    StorageKey prefix{id, std::string(kind)};
    const TaskId t = add_task(StorageTask::Kind::kLoadRange, prefix);
    tasks_[t] = make_task(purpose, std::move(prefix));
    ++loads_outstanding_;
  }
}

void DocActor::finish_loading(Millis now) {
  auto by_key = [](const StorageEntry& a, const StorageEntry& b) { return a.first < b.first; };
  std::sort(loaded_snapshots_.begin(), loaded_snapshots_.end(), by_key);
  std::sort(loaded_incrementals_.begin(), loaded_incrementals_.end(), by_key);
  for (auto* entries : {&loaded_snapshots_, &loaded_incrementals_}) {
    const bool snapshot = entries == &loaded_snapshots_;
    for (auto& [key, bytes] : *entries) {
      if (auto st = doc_.load_incremental(bytes); !st) {
        // A chunk we cannot read is moved aside, not deleted: copied to
        // {doc, "quarantine", kind, name} (which no loader reads), then removed once the copy is
        // stored. It never stops the document (or the server) from loading what it can.
        StorageKey aside{config_.document_id.to_string(), "quarantine"};
        aside.insert(aside.end(), key.begin() + 1, key.end());
        effects_.events.push_back(DocEvent{DocEvent::Kind::kStorageError, state_, {}, {}, {}, {},
                                           "unreadable chunk " + storage_key_to_string(key) + " (" +
                                               st.error().to_string() + ") moved to " +
                                               storage_key_to_string(aside)});
        if (config_.has_storage) {
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
  last_saved_heads_ = doc_.heads();
  set_state(last_saved_heads_.empty() ? DocState::kRequesting : DocState::kReady);
  auto queued = std::move(queued_);
  queued_.clear();
  for (auto& [from, message] : queued) process(from, message, now);
  pump(now);
}

void DocActor::storage_done(StorageOutcome outcome, Millis now) {
  auto it = tasks_.find(outcome.id);
  if (it == tasks_.end()) return;
  PendingTask task = std::move(it->second);
  tasks_.erase(it);
  if (!outcome.status) {
    effects_.events.push_back(DocEvent{DocEvent::Kind::kStorageError, state_, {}, {}, {}, {},
                                       storage_key_to_string(task.key) + ": " +
                                           outcome.status.error().to_string()});
  }
  switch (task.purpose) {
    case TaskPurpose::kLoadSnapshots:
    case TaskPurpose::kLoadIncrementals: {
      auto& into = task.purpose == TaskPurpose::kLoadSnapshots ? loaded_snapshots_ : loaded_incrementals_;
      into = std::move(outcome.entries);
      if (--loads_outstanding_ == 0 && state_ == DocState::kLoading) finish_loading(now);
      break;
    }
    case TaskPurpose::kSave:
      save_done(task, outcome, now);
      break;
    case TaskPurpose::kRemoveSuperseded:
      --removes_outstanding_;
      break;
    case TaskPurpose::kLoadSyncState: {
      Peer* p = peer(task.peer);
      if (p == nullptr || !p->sync_state_loading) break;
      p->sync_state_loading = false;
      if (outcome.status && outcome.value) {
        if (auto decoded = SyncState::decode(*outcome.value)) p->sync = std::move(*decoded);
      }
      std::vector<wire::Message> held = std::move(p->held);
      for (const wire::Message& m : held) process(task.peer, m, now);
      pump(now);
      break;
    }
    case TaskPurpose::kQuarantineCopy:
      // Only a stored copy lets the original go; a failed copy leaves it where it was.
      if (outcome.status && state_ != DocState::kDeleted) {
        const TaskId t = add_task(StorageTask::Kind::kRemove, task.original);
        tasks_[t] = make_task(TaskPurpose::kQuarantineRemove, task.original);
      }
      break;
    case TaskPurpose::kSaveSyncState:
    case TaskPurpose::kDelete:
    case TaskPurpose::kQuarantineRemove:
      break;
  }
}

void DocActor::schedule_save(Millis now) {
  if (!config_.has_storage || state_ == DocState::kDeleted) return;
  if (!save_due_) save_due_ = now + config_.save_debounce_ms;
}

void DocActor::start_save(Millis now) {
  (void)now;
  std::vector<ChangeHash> heads = doc_.heads();
  if (heads.empty() || heads == last_saved_heads_) {
    release_acks(now);
    return;
  }
  std::size_t snapshot_bytes = 0;
  std::size_t incremental_bytes = 0;
  for (const auto& [key, info] : known_chunks_) (info.first ? snapshot_bytes : incremental_bytes) += info.second;
  // The JS rule (spec §4.3): small documents are rewritten whole; larger ones get incrementals
  // until those outweigh the snapshot.
  const bool compact = snapshot_bytes < config_.compact_below_bytes || incremental_bytes >= snapshot_bytes;
  const std::string id = config_.document_id.to_string();
  Bytes data;
  StorageKey key;
  if (compact) {
    data = doc_.save();
    key = {id, std::string(kSnapshotKeyKind), snapshot_name(heads)};
  } else {
    data = doc_.save_after(last_saved_heads_);
    key = {id, std::string(kIncrementalKeyKind), chunk_name(data)};
  }
  PendingTask task{TaskPurpose::kSave, key, data.size(), std::move(heads), compact, {}, {}};
  const TaskId t = add_task(StorageTask::Kind::kSave, std::move(key), std::move(data));
  tasks_[t] = std::move(task);
  save_in_flight_ = true;
}

void DocActor::save_done(const PendingTask& task, const StorageOutcome& outcome, Millis now) {
  save_in_flight_ = false;
  if (state_ == DocState::kDeleted) {
    // The delete waited for this write so that the write cannot resurrect the document.
    const TaskId t = add_task(StorageTask::Kind::kRemoveRange, {config_.document_id.to_string()});
    tasks_[t] = make_task(TaskPurpose::kDelete, {config_.document_id.to_string()});
    return;
  }
  if (!outcome.status) {
    save_due_ = now + 10 * std::max<Millis>(config_.save_debounce_ms, 1);  // retry later
    return;
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
  if (doc_.heads() == last_saved_heads_) {
    release_acks(now);
  } else if (!awaiting_durable_.empty()) {
    start_save(now);  // changes arrived during the write: save them before acknowledging
  } else {
    schedule_save(now);
  }
}

void DocActor::release_acks(Millis now) {
  if (awaiting_durable_.empty()) return;
  // The other peers were sent the changes when they arrived; only the authors wait for this.
  std::set<PeerId> held;
  held.swap(awaiting_durable_);
  for (const PeerId& peer : held) pump(now, &peer);
}

void DocActor::save_sync_states(Millis now) {
  (void)now;
  sync_save_due_.reset();
  if (!config_.has_storage || state_ == DocState::kDeleted) return;
  const std::string id = config_.document_id.to_string();
  for (auto& [pid, p] : peers_) {
    if (!p->sync_state_dirty || !persists_sync_state(p->info)) continue;
    p->sync_state_dirty = false;
    StorageKey key{id, std::string(kSyncStateKeyKind), p->info.storage_id->str()};
    const TaskId t = add_task(StorageTask::Kind::kSave, key, p->sync.encode());
    tasks_[t] = PendingTask{TaskPurpose::kSaveSyncState, std::move(key), 0, {}, false, pid, {}};
  }
}

void DocActor::remove(Millis now) {
  (void)now;
  if (state_ == DocState::kDeleted) return;
  set_state(DocState::kDeleted);
  queued_.clear();
  save_due_.reset();
  sync_save_due_.reset();
  if (config_.has_storage && !save_in_flight_) {
    const TaskId t = add_task(StorageTask::Kind::kRemoveRange, {config_.document_id.to_string()});
    tasks_[t] = make_task(TaskPurpose::kDelete, {config_.document_id.to_string()});
  }
}

bool DocActor::merge_stored(std::vector<StorageEntry> chunks, Millis now) {
  if (state_ == DocState::kLoading || save_in_flight_) return false;
  if (state_ != DocState::kReady) return true;
  std::sort(chunks.begin(), chunks.end(), [](const StorageEntry& a, const StorageEntry& b) { return a.first < b.first; });
  const std::vector<ChangeHash> before = doc_.heads();
  const bool all_saved = before == last_saved_heads_;
  for (auto& [key, bytes] : chunks) {
    if (key.size() < 2 || known_chunks_.count(key) != 0) continue;
    if (auto st = doc_.load_incremental(bytes); !st) {
      effects_.events.push_back(DocEvent{DocEvent::Kind::kStorageError, state_, {}, {}, {}, {},
                                         "unreadable chunk " + storage_key_to_string(key) +
                                             " (saved by another process): " + st.error().to_string()});
      continue;
    }
    // Known from now on, so a later snapshot of ours (which contains it) supersedes it.
    known_chunks_[key] = {key[1] == kSnapshotKeyKind, bytes.size()};
  }
  const std::vector<ChangeHash> after = doc_.heads();
  if (after == before) return true;
  if (all_saved) {
    last_saved_heads_ = after;  // everything we have is in storage
  } else {
    schedule_save(now);
  }
  effects_.events.push_back(DocEvent{DocEvent::Kind::kHeadsChanged, state_, before, after, {}, {}, {}});
  pump(now);
  return true;
}

}  // namespace am::repo::core
