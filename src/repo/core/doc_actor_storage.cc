// The document actor's side of storage: what it does when DocStorage finishes loading or saving,
// when a peer's sync state arrives or is due, on removal and when other processes' chunks merge.
#include <utility>

#include "repo/core/doc_actor.h"
#include "repo/core/doc_actor_peer.h"

namespace am::repo::core {

void DocActor::start_loading(Millis now) {
  if (!storage_.start_loading()) finish_loading(now);
}

void DocActor::finish_loading(Millis now) {
  storage_.apply_loaded();
  set_state(doc_.heads().empty() ? DocState::kRequesting : DocState::kReady);
  auto queued = std::move(queued_);
  queued_.clear();
  for (auto& [from, message] : queued) process(from, message, now);
  pump(now);
}

void DocActor::storage_done(StorageOutcome outcome, Millis now) {
  StorageCompletion done = storage_.complete(std::move(outcome), now);
  switch (done.kind) {
    case StorageCompletion::Kind::kNothing:
      break;
    case StorageCompletion::Kind::kLoaded:
      finish_loading(now);
      break;
    case StorageCompletion::Kind::kSavedAll:
      release_acks(now);
      break;
    case StorageCompletion::Kind::kSavedBehind:
      if (!awaiting_durable_.empty()) {
        save_or_release(now);  // changes arrived during the write: save them before acknowledging
      } else {
        storage_.schedule_save(now);
      }
      break;
    case StorageCompletion::Kind::kSyncStateLoaded: {
      Peer* p = peer(done.peer);
      if (p == nullptr || !p->sync_state_loading) break;
      p->sync_state_loading = false;
      if (done.sync_state) {
        if (auto decoded = SyncState::decode(*done.sync_state)) p->sync = std::move(*decoded);
      }
      std::vector<wire::Message> held = std::move(p->held);
      for (const wire::Message& m : held) process(done.peer, m, now);
      pump(now);
      break;
    }
  }
}

void DocActor::save_or_release(Millis now) {
  if (!storage_.start_save()) release_acks(now);
}

void DocActor::release_acks(Millis now) {
  if (awaiting_durable_.empty()) return;
  // The other peers were sent the changes when they arrived; only the authors wait for this.
  std::set<PeerId> held;
  held.swap(awaiting_durable_);
  for (const PeerId& peer : held) pump(now, &peer);
}

void DocActor::save_sync_states() {
  if (!storage_.begin_sync_state_save()) return;
  for (auto& [pid, p] : peers_) {
    if (!p->sync_state_dirty || !persists_sync_state(p->info)) continue;
    p->sync_state_dirty = false;
    storage_.save_sync_state(pid, *p->info.storage_id, p->sync.encode());
  }
}

void DocActor::remove(Millis now) {
  (void)now;
  if (state_ == DocState::kDeleted) return;
  set_state(DocState::kDeleted);
  queued_.clear();
  storage_.remove();
}

bool DocActor::merge_stored(std::vector<StorageEntry> chunks, Millis now) {
  if (state_ == DocState::kLoading || storage_.saving()) return false;
  if (state_ != DocState::kReady) return true;
  if (storage_.merge_chunks(std::move(chunks), now)) pump(now);
  return true;
}

}  // namespace am::repo::core
