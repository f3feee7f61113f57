// The public DocHandle API over the runtime's document entries. See repo_impl.h.
#include "repo/runtime/repo_impl.h"

namespace am::repo {

// --- DocHandle ----------------------------------------------------------------------------------

const DocumentId& DocHandle::id() const { return entry_->id; }
std::string DocHandle::url() const { return std::string(AutomergeUrl::kPrefix) + entry_->id.to_string(); }

DocumentState DocHandle::state() const {
  std::lock_guard<std::mutex> lock(entry_->mutex);
  if (entry_->unloaded) return DocumentState::kUnloaded;
  return public_state(entry_->actor->state());
}

std::vector<ChangeHash> DocHandle::heads() const {
  std::lock_guard<std::mutex> lock(entry_->mutex);
  return entry_->actor->document().heads();
}

void DocHandle::read(const std::function<void(const Document&)>& read) const {
  std::lock_guard<std::mutex> lock(entry_->mutex);
  read(entry_->actor->document());
}

Bytes DocHandle::save() const {
  std::lock_guard<std::mutex> lock(entry_->mutex);
  return entry_->actor->document().save();
}

Status DocHandle::change(const std::function<void(Document&)>& edit, const CommitOptions& options) {
  auto repo = entry_->repo.lock();
  if (!repo || repo->stopped) return fail(Error::cancelled("the repo has stopped"));
  std::vector<ChangeHash> before;
  {
    std::lock_guard<std::mutex> lock(entry_->mutex);
    core::DocActor& actor = *entry_->actor;
    if (entry_->unloaded) return fail(Error::invalid_argument("change", "document is unloaded (remove_from_cache)"));
    if (actor.state() != core::DocState::kReady) {
      return fail(Error::invalid_argument("change", std::string("document is ") + core::to_string(actor.state())));
    }
    before = actor.document().heads();
    edit(actor.document());
    (void)actor.document().commit_if_pending(options);
  }
  // The actor learns of it on its queue, so observers run there, after earlier events.
  repo->actor_post(entry_, [repo, before, entry = entry_](core::DocActor& a) {
    entry->local_change_pending = true;
    a.local_change(before, repo->now());
  });
  return {};
}

Subscription DocHandle::on_change(std::function<void(const DocumentChange&)> observer) {
  std::lock_guard<std::mutex> lock(entry_->mutex);
  const std::uint64_t id = entry_->next_observer++;
  entry_->change_observers[id] = std::move(observer);
  return Subscription([entry = entry_, id] {
    std::lock_guard<std::mutex> l(entry->mutex);
    entry->change_observers.erase(id);
  });
}

Subscription DocHandle::on_ephemeral(std::function<void(const PeerId&, const Bytes&)> observer) {
  std::lock_guard<std::mutex> lock(entry_->mutex);
  const std::uint64_t id = entry_->next_observer++;
  entry_->ephemeral_observers[id] = std::move(observer);
  return Subscription([entry = entry_, id] {
    std::lock_guard<std::mutex> l(entry->mutex);
    entry->ephemeral_observers.erase(id);
  });
}

void DocHandle::broadcast(Bytes data) {
  auto repo = entry_->repo.lock();
  if (!repo) return;
  repo->hub_post([repo, entry = entry_, data = std::move(data)](core::Hub& h) mutable {
    const std::uint64_t count = h.next_ephemeral_count();
    repo->actor_post(entry, [repo, session = h.session_id(), count, data = std::move(data)](core::DocActor& a) mutable {
      a.broadcast(std::move(data), session, count, repo->now());
    });
  });
}

std::vector<PeerDocumentStatus> DocHandle::peers() const {
  std::lock_guard<std::mutex> lock(entry_->mutex);
  std::vector<PeerDocumentStatus> out;
  for (const auto& p : entry_->actor->peers()) {
    out.push_back(PeerDocumentStatus{p.peer, p.active, p.status == core::PeerDocStatus::kHas, p.their_heads});
  }
  return out;
}

Status DocHandle::wait_synced(const PeerId& peer, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(entry_->mutex);
  const bool ok = entry_->cv.wait_for(lock, timeout, [&] { return Repo::Impl::synced_with(*entry_->actor, peer); });
  if (!ok) return fail(Error::timeout("not in sync with " + peer.str() + " for " + entry_->id.to_string()));
  return {};
}

}  // namespace am::repo
