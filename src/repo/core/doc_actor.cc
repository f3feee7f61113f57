// The document actor: its life cycle (create, find, remove), the find state machine, its timers
// and the effects it hands to the runtime, and what follows when its parts report back. Storage
// is DocStorage (doc_storage.cc); peers and sync are DocPeers (doc_peers.cc).
#include "repo/core/doc_actor.h"

#include <algorithm>
#include <utility>

namespace am::repo::core {

const char* to_string(DocState state) {
  switch (state) {
    case DocState::kLoading: return "loading";
    case DocState::kRequesting: return "requesting";
    case DocState::kReady: return "ready";
    case DocState::kUnavailable: return "unavailable";
    case DocState::kDeleted: return "deleted";
  }
  return "?";
}

DocActor::DocActor(DocActorConfig config, Document doc, DocState state)
    : config_(std::move(config)), doc_(std::move(doc)), state_(state), storage_(context()), peers_(context()) {}

DocActor::~DocActor() = default;

std::unique_ptr<DocActor> DocActor::create(DocActorConfig config, Document document, Millis now) {
  std::unique_ptr<DocActor> actor(new DocActor(std::move(config), std::move(document), DocState::kReady));
  actor->storage_.save_at(now);  // JS saves a new document at once
  return actor;
}

std::unique_ptr<DocActor> DocActor::find(DocActorConfig config, Millis now) {
  DocumentOptions options;
  options.max_inflated_bytes = config.max_inflated_bytes;
  std::unique_ptr<DocActor> actor(new DocActor(std::move(config), Document(options), DocState::kLoading));
  actor->start_loading(now);
  return actor;
}

// --- life cycle and state ---------------------------------------------------------------------

void DocActor::set_state(DocState state) {
  if (state_ == state) return;
  state_ = state;
  effects_.events.push_back(DocEvent{DocEvent::Kind::kStateChanged, state, {}, {}, {}, {}, {}});
}

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

void DocActor::set_network_pending(bool pending, Millis now) {
  network_pending_ = pending;
  network_known_ = true;
  pump(now);
}

void DocActor::evaluate_availability(Millis now) {
  if (state_ != DocState::kRequesting && state_ != DocState::kUnavailable) return;
  // Until the hub has told us who is connected we cannot know that nobody has it.
  if (network_pending_ || !network_known_) return;
  if (peers_.still_finding()) return;
  if (!doc_.heads().empty()) {
    // Whatever we hold is all anyone reachable has.
    set_state(DocState::kReady);
    pump(now);
    return;
  }
  set_state(DocState::kUnavailable);
  peers_.tell_unavailable();
}

void DocActor::maybe_ready(Millis now) {
  (void)now;
  if (state_ != DocState::kRequesting && state_ != DocState::kUnavailable) return;
  if (doc_.heads().empty()) return;
  if (peers_.caught_up_with_a_supplier()) set_state(DocState::kReady);
}

void DocActor::remove(Millis now) {
  (void)now;
  if (state_ == DocState::kDeleted) return;
  set_state(DocState::kDeleted);
  queued_.clear();
  storage_.remove();
}

// --- peers and messages -----------------------------------------------------------------------

void DocActor::meet_peer(const PeerInfo& info) {
  if (peers_.meet(info)) storage_.load_sync_state(info.peer_id, *info.storage_id);
}

void DocActor::add_peer(const PeerInfo& info, Millis now) {
  if (state_ == DocState::kDeleted) return;
  if (peers_.knows(info.peer_id)) {
    peers_.refresh_policy(info.peer_id);  // the share policy changed (Hub::share_policy_changed)
  } else {
    meet_peer(info);
  }
  // Only this peer can have something new to send or ask; the others are as they were.
  pump(now, &info.peer_id);
}

void DocActor::remove_peer(const PeerId& id, Millis now) {
  if (!peers_.knows(id)) return;
  if (peers_.has_unsaved_sync_state(id)) save_sync_states();
  peers_.remove(id, now);
  pump(now);
}

void DocActor::receive(const PeerInfo& from, const wire::Message& message, Millis now, bool more_coming) {
  if (state_ != DocState::kDeleted && !peers_.knows(from.peer_id)) meet_peer(from);
  receive(from.peer_id, message, now, more_coming);
}

void DocActor::receive(const PeerId& from, const wire::Message& message, Millis now, bool more_coming) {
  if (state_ == DocState::kDeleted) return;
  if (state_ == DocState::kLoading) {
    queued_.emplace_back(from, message);
    return;
  }
  const std::vector<ChangeHash> heads_before = doc_.heads();
  const DocState state_before = state_;
  process(from, message, now);
  // A message that changed neither our document nor our state only changed what we know of its
  // sender: the other peers' messages would be what they were. (With many peers on a busy
  // document, answering every acknowledgement by generating a message for every peer made the
  // work per change grow with the square of the peers.)
  if (state_ == DocState::kReady && state_before == DocState::kReady && doc_.heads() == heads_before) {
    deferred_pump_peers_.insert(from);
  } else {
    deferred_pump_all_ = true;
  }
  if (more_coming) return;
  if (deferred_pump_all_) {
    pump(now);
    return;
  }
  std::set<PeerId> senders;
  senders.swap(deferred_pump_peers_);
  for (const PeerId& sender : senders) pump(now, &sender);
}

void DocActor::process(const PeerId& from, const wire::Message& message, Millis now) {
  const std::optional<SyncApplied> applied = peers_.receive(from, message, now);
  if (!applied) return;
  if (applied->sync_state_changed) storage_.sync_state_changed(now);
  if (applied->heads_after != applied->heads_before) {
    effects_.events.push_back(
        DocEvent{DocEvent::Kind::kHeadsChanged, state_, applied->heads_before, applied->heads_after, {}, {}, {}});
    if (config_.durable_acks && config_.has_storage) {
      // No debounce: the answer to the author waits for this save (DocPeers holds it).
      if (!storage_.save_without_debounce(now)) release_acks(now);
    } else {
      storage_.schedule_save(now);
    }
  }
  maybe_ready(now);
}

void DocActor::pump(Millis now, const PeerId* only) {
  if (only == nullptr) {
    deferred_pump_all_ = false;
    deferred_pump_peers_.clear();
  }
  if (state_ == DocState::kLoading || state_ == DocState::kDeleted) return;
  peers_.send_sync(now, only);
  evaluate_availability(now);
}

void DocActor::broadcast(Bytes data, const SessionId& session, std::uint64_t count, Millis now) {
  (void)now;
  if (state_ == DocState::kDeleted) return;
  peers_.broadcast(std::move(data), session, count);
}

void DocActor::local_change(const std::vector<ChangeHash>& heads_before, Millis now) {
  std::vector<ChangeHash> after = doc_.heads();
  if (after == heads_before) return;
  effects_.events.push_back(DocEvent{DocEvent::Kind::kHeadsChanged, state_, heads_before, after, {}, {}, {}});
  storage_.schedule_save(now);
  pump(now);
}

// --- storage ----------------------------------------------------------------------------------

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
      // Changes arrived during the write: the authors of those it covered are answered now, the
      // others once a save covers theirs.
      release_acks(now, done.saved_changes);
      if (peers_.awaiting_durable()) {
        save_or_release(now);
      } else {
        storage_.schedule_save(now);
      }
      break;
    case StorageCompletion::Kind::kSyncStateLoaded: {
      auto held = peers_.sync_state_loaded(done.peer, done.sync_state);
      if (!held) break;
      for (const wire::Message& m : *held) process(done.peer, m, now);
      pump(now);
      break;
    }
  }
}

void DocActor::save_or_release(Millis now) {
  if (!storage_.start_save()) release_acks(now);
}

void DocActor::release_acks(Millis now, std::size_t saved_changes) {
  // The other peers were sent the changes when they arrived; only the authors wait for this.
  for (const PeerId& peer : peers_.take_awaiting_durable(saved_changes)) pump(now, &peer);
}

void DocActor::save_sync_states() {
  if (!storage_.begin_sync_state_save()) return;
  for (UnsavedSyncState& unsaved : peers_.take_unsaved_sync_states()) {
    storage_.save_sync_state(unsaved.peer, unsaved.storage_id, std::move(unsaved.encoded));
  }
}

bool DocActor::merge_stored(std::vector<StorageEntry> chunks, Millis now) {
  if (state_ == DocState::kLoading || storage_.saving()) return false;
  if (state_ != DocState::kReady) return true;
  if (storage_.merge_chunks(std::move(chunks), now)) pump(now);
  return true;
}

void DocActor::flush(Millis now) {
  if (storage_.flush(now)) tick(now);
}

// --- timers and effects -----------------------------------------------------------------------

void DocActor::tick(Millis now) {
  if (storage_.take_due_save(now)) save_or_release(now);
  if (storage_.sync_states_due(now)) save_sync_states();
  peers_.forget_expired_parked(now);
  for (const PeerId& pid : peers_.overdue(now)) {
    peers_.forget_in_flight(pid);
    // A slow peer (one loading a big document) has all we have sent; only newer changes need a
    // message, and generating one for nothing costs a walk of what it lacks.
    if (peers_.behind(pid)) pump(now, &pid);
  }
}

void DocActor::update_wake() {
  std::optional<Millis> wake = storage_.next_wake();
  if (const std::optional<Millis> peers_wake = peers_.next_wake(); peers_wake && (!wake || *peers_wake < *wake)) {
    wake = peers_wake;
  }
  effects_.wake_at = wake;
}

std::vector<PeerSyncInfo> DocActor::peers() const { return peers_.sync_info(); }

bool DocActor::pending_io() const { return storage_.pending_io(); }

bool DocActor::quiescent() const {
  if (state_ != DocState::kReady && state_ != DocState::kUnavailable) return false;
  if (pending_io() || peers_.awaiting_durable()) return false;
  return !peers_.engaged();
}

DocEffects DocActor::take_effects() {
  update_wake();
  DocEffects out = std::move(effects_);
  effects_ = DocEffects{};
  return out;
}

}  // namespace am::repo::core
