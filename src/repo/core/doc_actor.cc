// The document actor: its life cycle (create, find, remove), its timers and the effects it hands
// to the runtime. Storage is doc_actor_storage.cc; peers and sync are doc_actor_peers.cc.
#include "repo/core/doc_actor.h"

#include <algorithm>
#include <utility>

#include "repo/core/doc_actor_peer.h"

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

DocEffects DocActor::take_effects() {
  update_wake();
  DocEffects out = std::move(effects_);
  effects_ = DocEffects{};
  return out;
}

}  // namespace am::repo::core
