#include "repo/core/doc_actor.h"

#include <algorithm>
#include <utility>

#include "core/util/sha256.h"

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

struct DocActor::Peer {
  PeerInfo info;
  SyncState sync;
  PeerDocStatus status = PeerDocStatus::kUnknown;
  bool announce = false;
  bool access = false;
  bool read_only = false;         // access, but its changes are dropped (DocumentAccess::kRead)
  bool told_read_only = false;    // we reported its first refused write
  bool asked_us = false;          // the peer sent us a request or sync for this document
  bool requested = false;         // we sent it a request
  bool told_unavailable = false;  // we sent it doc-unavailable
  bool sync_state_loading = false;
  bool sync_state_dirty = false;
  /// Sync and request messages that arrived while its persisted sync state was loading;
  /// processed, in order, once it is loaded.
  std::vector<wire::Message> held;
  /// The heads the peer advertised when it first showed it has the document.
  std::optional<std::vector<ChangeHash>> supplier_target;
};

namespace {

// Flow control: while a message that carried changes to a peer is unanswered, further changes
// for it wait and go together in one message when it answers. A peer applying changes always
// answers (its heads moved), so under light load this costs nothing; under heavy load it keeps
// the messages per peer at one per round trip instead of one per change, and every message's
// cost (a Bloom filter over the changes since the last sync point) from growing with the
// backlog. Should an answer never come, the changes go after this long anyway.
constexpr Millis kChangesInFlightTimeoutMs = 1000;

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

bool persists_sync_state(const PeerInfo& info) {
  return info.storage_id.has_value() && !info.is_ephemeral;
}

}  // namespace

DocActor::DocActor(DocActorConfig config, Document doc, DocState state)
    : config_(std::move(config)), doc_(std::move(doc)), state_(state) {}

DocActor::~DocActor() = default;

std::unique_ptr<DocActor> DocActor::create(DocActorConfig config, Document document, Millis now) {
  std::unique_ptr<DocActor> actor(new DocActor(std::move(config), std::move(document), DocState::kReady));
  if (actor->config_.has_storage) actor->save_due_ = now;  // JS saves a new document at once
  return actor;
}

std::unique_ptr<DocActor> DocActor::find(DocActorConfig config, Millis now) {
  DocumentOptions options;
  options.max_inflated_bytes = config.max_inflated_bytes;
  std::unique_ptr<DocActor> actor(new DocActor(std::move(config), Document(options), DocState::kLoading));
  actor->start_loading(now);
  return actor;
}

// --- storage ------------------------------------------------------------------------------------

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
  for (const auto& [purpose, kind] : {std::pair{TaskPurpose::kLoadSnapshots, "snapshot"},
                                      std::pair{TaskPurpose::kLoadIncrementals, "incremental"}}) {
    StorageKey prefix{id, kind};
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
    key = {id, "snapshot", snapshot_name(heads)};
  } else {
    data = doc_.save_after(last_saved_heads_);
    key = {id, "incremental", chunk_name(data)};
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

void DocActor::update_wake() {
  std::optional<Millis> wake;
  auto consider = [&](std::optional<Millis> t) {
    if (t && (!wake || *t < *wake)) wake = t;
  };
  if (!save_in_flight_) consider(save_due_);
  consider(sync_save_due_);
  for (const auto& [pid, since] : changes_in_flight_) consider(since + kChangesInFlightTimeoutMs);
  effects_.wake_at = wake;
}

void DocActor::save_sync_states(Millis now) {
  (void)now;
  sync_save_due_.reset();
  if (!config_.has_storage || state_ == DocState::kDeleted) return;
  const std::string id = config_.document_id.to_string();
  for (auto& [pid, p] : peers_) {
    if (!p->sync_state_dirty || !persists_sync_state(p->info)) continue;
    p->sync_state_dirty = false;
    StorageKey key{id, "sync-state", p->info.storage_id->str()};
    const TaskId t = add_task(StorageTask::Kind::kSave, key, p->sync.encode());
    tasks_[t] = PendingTask{TaskPurpose::kSaveSyncState, std::move(key), 0, {}, false, pid, {}};
  }
}

void DocActor::tick(Millis now) {
  if (save_due_ && *save_due_ <= now && !save_in_flight_) {
    save_due_.reset();
    start_save(now);
  }
  if (sync_save_due_ && *sync_save_due_ <= now) save_sync_states(now);
  std::vector<PeerId> unanswered;
  for (const auto& [pid, since] : changes_in_flight_) {
    if (now - since >= kChangesInFlightTimeoutMs) unanswered.push_back(pid);
  }
  for (const PeerId& pid : unanswered) {
    changes_in_flight_.erase(pid);
    // A slow peer (one loading a big document) has all we have sent; only newer changes need a
    // message, and generating one for nothing costs a walk of what it lacks.
    const Peer* p = peer(pid);
    if (p != nullptr && p->sync.last_sent_heads != doc_.heads()) pump(now, &pid);
  }
}

void DocActor::flush(Millis now) {
  if (!config_.has_storage || state_ == DocState::kDeleted || state_ == DocState::kLoading) return;
  if (doc_.heads() != last_saved_heads_ && !save_in_flight_) save_due_ = now;
  if (sync_save_due_) sync_save_due_ = now;
  tick(now);
}

bool DocActor::pending_io() const {
  if (!tasks_.empty() || save_due_ || sync_save_due_) return true;
  return config_.has_storage && state_ == DocState::kReady && doc_.heads() != last_saved_heads_;
}

bool DocActor::quiescent() const {
  if (state_ != DocState::kReady && state_ != DocState::kUnavailable) return false;
  if (pending_io() || !awaiting_durable_.empty()) return false;
  return std::none_of(peers_.begin(), peers_.end(), [this](const auto& entry) {
    const Peer& p = *entry.second;
    return is_active(p) || (p.announce && p.access) || p.sync_state_dirty || p.sync_state_loading;
  });
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
    known_chunks_[key] = {key[1] == "snapshot", bytes.size()};
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

DocEffects DocActor::take_effects() {
  update_wake();
  DocEffects out = std::move(effects_);
  effects_ = DocEffects{};
  return out;
}

// --- peers and sync -----------------------------------------------------------------------------

DocActor::Peer* DocActor::peer(const PeerId& id) {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : it->second.get();
}

bool DocActor::is_active(const Peer& p) const { return p.access && (p.announce || p.asked_us); }

void DocActor::set_status(Peer& p, PeerDocStatus status) {
  if (p.status == status) return;
  p.status = status;
  DocEvent e{DocEvent::Kind::kPeerStatus, state_, {}, {}, p.info.peer_id, {}, {}};
  effects_.events.push_back(std::move(e));
}

void DocActor::set_state(DocState state) {
  if (state_ == state) return;
  state_ = state;
  effects_.events.push_back(DocEvent{DocEvent::Kind::kStateChanged, state, {}, {}, {}, {}, {}});
}

void DocActor::add_peer(const PeerInfo& info, Millis now) {
  if (state_ == DocState::kDeleted) return;
  meet_peer(info);
  // Only this peer can have something new to send or ask; the others are as they were.
  pump(now, &info.peer_id);
}

DocActor::Peer& DocActor::meet_peer(const PeerInfo& info) {
  auto p = std::make_unique<Peer>();
  p->info = info;
  p->announce = config_.policy->announce(info.peer_id, config_.document_id);
  const DocumentAccess level = config_.policy->access_level(info.peer_id, info.principal, config_.document_id);
  p->access = level != DocumentAccess::kNone;
  p->read_only = level == DocumentAccess::kRead;
  if (auto parked = parked_sync_states_.find(info.peer_id); parked != parked_sync_states_.end()) {
    // Only the persisted part survives, so anything lost in flight is sent again (JS #206).
    if (auto decoded = SyncState::decode(parked->second.encoded)) p->sync = std::move(*decoded);
    parked_sync_states_.erase(parked);
  } else if (config_.has_storage && persists_sync_state(info)) {
    StorageKey key{config_.document_id.to_string(), "sync-state", info.storage_id->str()};
    const TaskId t = add_task(StorageTask::Kind::kLoad, key);
    tasks_[t] = PendingTask{TaskPurpose::kLoadSyncState, std::move(key), 0, {}, false, info.peer_id, {}};
    p->sync_state_loading = true;
  }
  Peer& added = *p;
  peers_[info.peer_id] = std::move(p);
  return added;
}

void DocActor::receive(const PeerInfo& from, const wire::Message& message, Millis now, bool more_coming) {
  if (state_ != DocState::kDeleted && peers_.find(from.peer_id) == peers_.end()) meet_peer(from);
  receive(from.peer_id, message, now, more_coming);
}

void DocActor::remove_peer(const PeerId& id, Millis now) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  if (it->second->sync_state_dirty && persists_sync_state(it->second->info)) save_sync_states(now);
  parked_sync_states_[id] = ParkedSyncState{it->second->sync.encode(), next_parked_order_++};
  if (parked_sync_states_.size() > kMaxParkedSyncStates) {
    // A document that never goes idle (someone is always on it) would otherwise keep one for
    // every peer that ever visited: JS clients usually come back with a new PeerId.
    parked_sync_states_.erase(std::min_element(
        parked_sync_states_.begin(), parked_sync_states_.end(),
        [](const auto& a, const auto& b) { return a.second.parked_order < b.second.parked_order; }));
  }
  unanswered_since_.erase(id);
  changes_in_flight_.erase(id);
  peers_.erase(it);
  pump(now);
}

void DocActor::set_network_pending(bool pending, Millis now) {
  network_pending_ = pending;
  network_known_ = true;
  pump(now);
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
  Peer* p = peer(from);
  if (p == nullptr) return;
  if (p->sync_state_loading && (std::holds_alternative<wire::SyncMessage>(message) ||
                                std::holds_alternative<wire::RequestMessage>(message))) {
    p->held.push_back(message);  // processed on top of the stored sync state, once loaded
    return;
  }
  if (const auto* m = std::get_if<wire::EphemeralMessage>(&message)) {
    if (!p->access) return;
    effects_.events.push_back(DocEvent{DocEvent::Kind::kEphemeral, state_, {}, {}, m->sender_id, m->data, {}});
    relay_ephemeral(from, *m);
    return;
  }
  if (std::holds_alternative<wire::DocUnavailableMessage>(message)) {
    set_status(*p, PeerDocStatus::kUnavailable);
    return;
  }
  const bool is_request = std::holds_alternative<wire::RequestMessage>(message);
  const Bytes* data = nullptr;
  if (const auto* m = std::get_if<wire::RequestMessage>(&message)) data = &m->data;
  if (const auto* m = std::get_if<wire::SyncMessage>(&message)) data = &m->data;
  if (data == nullptr) return;  // remote-heads gossip is tolerated and ignored
  if (!p->access) {
    if (!p->told_unavailable) {
      effects_.outgoing.emplace_back(
          wire::DocUnavailableMessage{config_.self, from, config_.document_id});
      p->told_unavailable = true;
    }
    return;
  }
  p->asked_us = true;
  receive_sync(*p, *data, is_request, now);
}

void DocActor::receive_sync(Peer& p, ByteView data, bool is_request, Millis now) {
  auto decoded = SyncMessage::decode(data);
  if (!decoded) return;  // a malformed sync message changes nothing
  changes_in_flight_.erase(p.info.peer_id);
  if (is_request && p.status == PeerDocStatus::kUnknown) set_status(p, PeerDocStatus::kWants);
  if (!decoded->heads.empty()) {
    set_status(p, PeerDocStatus::kHas);
    if (!p.supplier_target) p.supplier_target = decoded->heads;
  }
  Bytes without_changes;
  if (p.read_only && !decoded->changes.empty()) {
    // A read-only peer's writes are refused: the rest of its message still counts, so it keeps
    // receiving ours. (We also never ask it for changes; see pump.)
    decoded->changes.clear();
    without_changes = decoded->encode();
    data = without_changes;
    // Every refusal is an event (for counters); the first per peer carries a message to log.
    std::string message;
    if (!p.told_read_only) {
      p.told_read_only = true;
      message = "peer " + p.info.peer_id.str() + " (" + p.info.principal + ") may only read document " +
                config_.document_id.to_string() + "; its changes were dropped";
    }
    effects_.events.push_back(
        DocEvent{DocEvent::Kind::kWriteRefused, state_, {}, {}, p.info.peer_id, {}, std::move(message)});
  }
  const std::vector<ChangeHash> before = doc_.heads();
  // A change-less message whose heads equal ours makes receive_sync_message take our heads as
  // known to the peer (Automerge: last_sent_heads = their heads), so that we do not answer it.
  // While our answers to this peer wait for a durable save we have not sent our heads, and the
  // peer, whose message is in flight, waits for an answer it would never get: keep what we
  // really sent.
  const std::optional<std::vector<ChangeHash>> held_back =
      awaiting_durable_.count(p.info.peer_id) != 0 ? std::optional(p.sync.last_sent_heads) : std::nullopt;
  if (!receive_sync_message(doc_, p.sync, data)) return;  // all-or-nothing: nothing changed
  if (held_back) p.sync.last_sent_heads = *held_back;
  unanswered_since_.try_emplace(p.info.peer_id, now);
  if (persists_sync_state(p.info) && config_.has_storage) {
    p.sync_state_dirty = true;
    if (!sync_save_due_) sync_save_due_ = now + config_.save_debounce_ms;
  }
  std::vector<ChangeHash> after = doc_.heads();
  if (after != before) {
    effects_.events.push_back(DocEvent{DocEvent::Kind::kHeadsChanged, state_, before, after, {}, {}, {}});
    if (config_.durable_acks && config_.has_storage) {
      awaiting_durable_.insert(p.info.peer_id);
      save_due_ = now;  // no debounce: replies wait for this save
      if (!save_in_flight_) {
        save_due_.reset();
        start_save(now);
      }
    } else {
      schedule_save(now);
    }
  }
  maybe_ready(now);
}

void DocActor::maybe_ready(Millis now) {
  (void)now;
  if (state_ != DocState::kRequesting && state_ != DocState::kUnavailable) return;
  if (doc_.heads().empty()) return;
  for (const auto& [pid, p] : peers_) {
    if (!p->supplier_target) continue;
    const bool caught_up = std::all_of(p->supplier_target->begin(), p->supplier_target->end(),
                                       [&](const ChangeHash& h) { return doc_.has_change(h); });
    if (caught_up) {
      set_state(DocState::kReady);
      return;
    }
  }
}

void DocActor::relay_ephemeral(const PeerId& from, const wire::EphemeralMessage& message) {
  for (const auto& [pid, p] : peers_) {
    if (pid == from || pid == message.sender_id || !is_active(*p)) continue;
    wire::EphemeralMessage copy = message;
    copy.target_id = pid;
    effects_.outgoing.emplace_back(std::move(copy));
  }
}

void DocActor::broadcast(Bytes data, const SessionId& session, std::uint64_t count, Millis now) {
  (void)now;
  if (state_ == DocState::kDeleted) return;
  for (const auto& [pid, p] : peers_) {
    if (!is_active(*p)) continue;
    effects_.outgoing.emplace_back(
        wire::EphemeralMessage{config_.self, pid, config_.document_id, count, session, data});
  }
}

void DocActor::local_change(const std::vector<ChangeHash>& heads_before, Millis now) {
  std::vector<ChangeHash> after = doc_.heads();
  if (after == heads_before) return;
  effects_.events.push_back(DocEvent{DocEvent::Kind::kHeadsChanged, state_, heads_before, after, {}, {}, {}});
  schedule_save(now);
  pump(now);
}

void DocActor::pump(Millis now, const PeerId* only) {
  if (only == nullptr) {
    deferred_pump_all_ = false;
    deferred_pump_peers_.clear();
  }
  if (state_ == DocState::kLoading || state_ == DocState::kDeleted) return;
  const bool have_doc = !doc_.heads().empty();
  bool supplied = false;
  if (state_ != DocState::kReady) {
    for (const auto& [pid, p] : peers_) supplied |= p->status == PeerDocStatus::kHas && is_active(*p);
  }
  auto first = peers_.begin(), last = peers_.end();
  if (only != nullptr) {
    first = peers_.find(*only);
    last = first == peers_.end() ? first : std::next(first);
  }
  for (auto it = first; it != last; ++it) {
    const PeerId& pid = it->first;
    const std::unique_ptr<Peer>& p = it->second;
    if (p->sync_state_loading || !is_active(*p)) continue;
    if (awaiting_durable_.count(pid) != 0) continue;  // released when the save completes
    if (auto f = changes_in_flight_.find(pid); f != changes_in_flight_.end() && now - f->second < kChangesInFlightTimeoutMs) {
      continue;  // sent when it answers (or by tick after the timeout)
    }
    bool as_request = false;
    if (state_ != DocState::kReady) {
      if (p->status == PeerDocStatus::kHas) {
        // keep syncing with a supplier
      } else if (p->status == PeerDocStatus::kUnknown && p->announce && !supplied && !p->requested) {
        as_request = !have_doc;
        p->requested = true;
      } else {
        continue;  // requesters wait until we have caught up; others were asked already
      }
    }
    std::optional<SyncState> state_before;
    if (p->read_only) state_before = p->sync;
    const std::uint64_t sent_before = p->sync.changes_sent;
    auto message = generate_sync_message(doc_, p->sync);
    if (message && p->sync.changes_sent > sent_before) changes_in_flight_[pid] = now;
    if (message && p->read_only) {
      // A read-only peer's heads never become ours (we drop its changes), so the protocol would
      // answer each of its messages and it each of ours, forever. Say something only when we
      // have changes for it or our heads moved; never ask it for changes we would drop.
      auto m = SyncMessage::decode(*message);
      if (m && m->changes.empty() && state_before->last_sent_heads == doc_.heads()) {
        p->sync = std::move(*state_before);
        message.reset();
      } else if (m && !m->need.empty()) {
        m->need.clear();
        *message = m->encode();
      }
    }
    auto since = unanswered_since_.find(pid);
    if (!message) {
      if (since != unanswered_since_.end()) unanswered_since_.erase(since);  // nothing to answer
      continue;
    }
    if (since != unanswered_since_.end()) {
      effects_.reply_latencies_ms.push_back(now - since->second);
      unanswered_since_.erase(since);
    }
    if (as_request) {
      effects_.outgoing.emplace_back(wire::RequestMessage{config_.self, pid, config_.document_id, std::move(*message)});
    } else {
      effects_.outgoing.emplace_back(wire::SyncMessage{config_.self, pid, config_.document_id, std::move(*message)});
    }
  }
  evaluate_availability(now);
}

void DocActor::evaluate_availability(Millis now) {
  if (state_ != DocState::kRequesting && state_ != DocState::kUnavailable) return;
  // Until the hub has told us who is connected we cannot know that nobody has it.
  if (network_pending_ || !network_known_) return;
  for (const auto& [pid, p] : peers_) {
    if (!is_active(*p) && !(p->announce && p->access)) continue;
    if (p->status == PeerDocStatus::kHas) return;  // a supplier: wait to catch up
    if (p->announce && p->access && p->status == PeerDocStatus::kUnknown) return;  // still asking
  }
  if (!doc_.heads().empty()) {
    // Whatever we hold is all anyone reachable has.
    set_state(DocState::kReady);
    pump(now);
    return;
  }
  set_state(DocState::kUnavailable);
  for (auto& [pid, p] : peers_) {
    if (p->status != PeerDocStatus::kWants || p->told_unavailable || !p->access) continue;
    effects_.outgoing.emplace_back(wire::DocUnavailableMessage{config_.self, pid, config_.document_id});
    p->told_unavailable = true;
  }
}

std::vector<PeerSyncInfo> DocActor::peers() const {
  std::vector<PeerSyncInfo> out;
  for (const auto& [pid, p] : peers_) {
    out.push_back(PeerSyncInfo{pid, p->status, is_active(*p), p->sync.their_heads, p->sync.shared_heads});
  }
  return out;
}

}  // namespace am::repo::core
