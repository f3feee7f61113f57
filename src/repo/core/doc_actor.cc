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
    : config_(std::move(config)), doc_(std::move(doc)), state_(state), storage_(context()) {}

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

void DocActor::update_wake() {
  std::optional<Millis> wake;
  auto consider = [&](std::optional<Millis> t) {
    if (t && (!wake || *t < *wake)) wake = t;
  };
  consider(storage_.next_wake());
  for (const auto& [pid, since] : changes_in_flight_) consider(since + kChangesInFlightTimeoutMs);
  effects_.wake_at = wake;
}

void DocActor::tick(Millis now) {
  if (storage_.take_due_save(now)) save_or_release(now);
  if (storage_.sync_states_due(now)) save_sync_states();
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
  if (storage_.flush(now)) tick(now);
}

bool DocActor::pending_io() const { return storage_.pending_io(); }

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
