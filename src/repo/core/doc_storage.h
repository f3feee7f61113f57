// DocStorage: the storage part of a document actor (spec §4.3, §4.5). It loads the document's
// chunks, saves it (debounced, or at once for received changes under durable acknowledgements)
// with the JS compaction rule, moves unreadable chunks aside (quarantine), merges chunks other
// processes sharing the store wrote, loads and saves per-peer sync states on the actor's behalf,
// and removes the document.
//
// Sans-IO: every storage operation is a StorageTask appended to the effects; the runtime runs it
// and hands the outcome to complete(). What a completion means for the rest of the actor (the
// load finished, a save caught up, a peer's sync state arrived) comes back as a
// StorageCompletion for the actor to act on; this part never calls back into it.
//
// Ownership: owned by one DocActor; state (tasks in flight, known chunks, saved heads, save
// deadlines) is its own, the document and effects are the actor's (DocPartContext).
// Thread safety: none; called from the actor's strand only.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "repo/core/doc_types.h"

namespace am::repo::core {

/// What a completed storage task asks of the actor (DocStorage::complete).
struct StorageCompletion {
  enum class Kind {
    kNothing,          // bookkeeping only
    kLoaded,           // every chunk asked for while loading arrived: apply_loaded() is due
    kSavedAll,         // a save covering the current heads completed: held answers may go
    kSavedBehind,      // a save completed but changes arrived meanwhile
    kSyncStateLoaded,  // the stored sync state of `peer` arrived (sync_state, when one was read)
  };
  Kind kind = Kind::kNothing;
  PeerId peer;                      // kSyncStateLoaded
  std::optional<Bytes> sync_state;  // kSyncStateLoaded
  std::size_t saved_changes = 0;    // kSavedAll, kSavedBehind: how many of the document's changes the save covered
};

class DocStorage {
 public:
  explicit DocStorage(DocPartContext context) : ctx_(context) {}

  DocStorage(const DocStorage&) = delete;
  DocStorage& operator=(const DocStorage&) = delete;

  // --- loading -------------------------------------------------------------------------------
  /// Asks for the document's snapshots and incrementals. False without storage: nothing to load.
  bool start_loading();
  /// Loads what start_loading read into the document (unreadable chunks are quarantined) and
  /// takes the resulting heads as saved.
  void apply_loaded();
  /// Asks for the sync state stored for a peer with storage `storage_id`.
  void load_sync_state(const PeerId& peer, const StorageId& storage_id);

  /// Accounts for a finished task; reports a failure as a kStorageError event.
  StorageCompletion complete(StorageOutcome outcome, Millis now);

  // --- saving --------------------------------------------------------------------------------
  /// A save falls due at `when` (a new document is saved at once). Nothing without storage.
  void save_at(Millis when);
  /// A save falls due after the debounce, unless one is due already.
  void schedule_save(Millis now);
  /// Received changes are saved without debounce: now, or when the write in flight completes.
  /// False when there was nothing to save (answers held for a save may go).
  bool save_without_debounce(Millis now);
  /// Writes what is unsaved. False when there was nothing to save.
  bool start_save();
  /// True (and no longer due) when the debounced save is due and no write is in flight.
  bool take_due_save(Millis now);
  /// Makes every due or unsaved write due now (shutdown/flush). False when nothing may be
  /// written (no storage, loading or deleted).
  bool flush(Millis now);
  /// A write is in flight.
  bool saving() const { return save_in_flight_; }

  // --- sync states ---------------------------------------------------------------------------
  /// A peer's sync state changed: sync states are saved after the debounce.
  void sync_state_changed(Millis now);
  bool sync_states_due(Millis now) const { return sync_save_due_ && *sync_save_due_ <= now; }
  /// Starts a round of sync-state saves (save_sync_state per changed peer). False when nothing
  /// may be written (no storage, deleted).
  bool begin_sync_state_save();
  void save_sync_state(const PeerId& peer, const StorageId& storage_id, Bytes encoded);

  // --- other processes, removal, status --------------------------------------------------------
  /// Loads the chunks not known yet (see DocActor::merge_stored); call only when ready and not
  /// saving. True when the heads moved (a kHeadsChanged event was added).
  bool merge_chunks(std::vector<StorageEntry> chunks, Millis now);
  /// Cancels due saves and removes the document's range (after the write in flight, if any).
  void remove();
  /// Storage tasks are outstanding or a save is due.
  bool pending_io() const;
  /// The earliest deadline (save or sync-state save) tick() must meet.
  std::optional<Millis> next_wake() const;

 private:
  enum class TaskPurpose { kLoadSnapshots, kLoadIncrementals, kSave, kRemoveSuperseded,
                           kLoadSyncState, kSaveSyncState, kDelete, kQuarantineCopy,
                           kQuarantineRemove };
  struct PendingTask {
    TaskPurpose purpose;
    StorageKey key;
    std::size_t size = 0;           // kSave: bytes written
    std::vector<ChangeHash> heads;  // kSave: heads the write covers
    bool snapshot = false;          // kSave
    PeerId peer;                    // sync-state tasks
    StorageKey original;            // kQuarantineCopy: the unreadable chunk's key
  };
  static PendingTask make_task(TaskPurpose purpose, StorageKey key) {
    PendingTask t{purpose, std::move(key), 0, {}, false, {}, {}};
    return t;
  }

  TaskId add_task(StorageTask::Kind kind, StorageKey key, Bytes data = {});
  StorageCompletion save_done(const PendingTask& task, const StorageOutcome& outcome, Millis now);
  void storage_error(std::string message);

  DocPartContext ctx_;
  std::map<TaskId, PendingTask> tasks_;
  TaskId next_task_ = 1;
  std::vector<StorageEntry> loaded_snapshots_, loaded_incrementals_;
  int loads_outstanding_ = 0;
  std::map<StorageKey, std::pair<bool, std::size_t>> known_chunks_;  // key -> (snapshot?, size)
  std::vector<ChangeHash> last_saved_heads_;
  std::optional<Millis> save_due_;
  bool save_in_flight_ = false;
  std::size_t saving_changes_ = 0;  // the document's change count when the save in flight began
  int removes_outstanding_ = 0;
  std::optional<Millis> sync_save_due_;
};

}  // namespace am::repo::core
