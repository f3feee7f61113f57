// The public DocHandle API over the runtime's document entries. See repo_impl.h.
#include <algorithm>

#include "repo/runtime/repo_impl.h"

namespace am::repo {

// --- DocHandle ----------------------------------------------------------------------------------

const DocumentId& DocHandle::id() const { return entry_->id; }
std::string DocHandle::url() const {
  if (view_) return AutomergeUrl{entry_->id, view_->heads}.to_string();
  return std::string(AutomergeUrl::kPrefix) + entry_->id.to_string();
}

DocumentState DocHandle::state() const {
  std::lock_guard<std::mutex> lock(entry_->mutex);
  if (entry_->unloaded) return DocumentState::kUnloaded;
  return public_state(entry_->actor->state());
}

std::vector<ChangeHash> DocHandle::heads() const {
  if (view_) return view_->heads;
  std::lock_guard<std::mutex> lock(entry_->mutex);
  return entry_->actor->document().heads();
}

void DocHandle::read(const std::function<void(const Document&)>& read) const {
  if (view_) {
    std::lock_guard<std::mutex> lock(view_->mutex);
    read(view_->doc);
    return;
  }
  std::lock_guard<std::mutex> lock(entry_->mutex);
  read(entry_->actor->document());
}

Bytes DocHandle::save() const {
  if (view_) {
    std::lock_guard<std::mutex> lock(view_->mutex);
    return view_->doc.save();
  }
  std::lock_guard<std::mutex> lock(entry_->mutex);
  return entry_->actor->document().save();
}

namespace {

// Why `entry`'s document cannot take a local change now, if it cannot. REQUIRES: entry.mutex held.
Status check_writable(const DocHandle::Entry& entry, const char* what) {
  if (entry.unloaded) return fail(Error::invalid_argument(what, "document is unloaded (remove_from_cache)"));
  if (entry.actor->state() != core::DocState::kReady) {
    return fail(Error::invalid_argument(what, std::string("document is ") + core::to_string(entry.actor->state())));
  }
  return {};
}

// Tells the document's actor of a local change made since `before`. The actor learns of it on
// its queue, so storage, sync and observers see it there, after earlier events.
void post_local_change(const std::shared_ptr<Repo::Impl>& repo, const std::shared_ptr<DocHandle::Entry>& entry,
                       std::vector<ChangeHash> before) {
  repo->actor_post(entry, [repo, before = std::move(before), entry](core::DocActor& a) {
    entry->local_change_pending = true;
    a.local_change(before, repo->now());
  });
}

}  // namespace

Status DocHandle::change(const std::function<void(Document&)>& edit, const CommitOptions& options) {
  if (view_) return fail(Error::invalid_argument("change", "this handle is a read-only view at fixed heads"));
  auto repo = entry_->repo.lock();
  if (!repo || repo->stopped) return fail(Error::cancelled("the repo has stopped"));
  std::vector<ChangeHash> before;
  {
    std::lock_guard<std::mutex> lock(entry_->mutex);
    AM_TRY_STATUS(check_writable(*entry_, "change"));
    core::DocActor& actor = *entry_->actor;
    before = actor.document().heads();
    edit(actor.document());
    (void)actor.document().commit_if_pending(options);
  }
  post_local_change(repo, entry_, std::move(before));
  return {};
}

Result<Document::ChangeAtResult> DocHandle::change_at(const std::vector<ChangeHash>& heads,
                                                      const std::function<Status(Document&)>& edit,
                                                      const CommitOptions& options) {
  if (view_) return fail(Error::invalid_argument("change_at", "this handle is a read-only view at fixed heads"));
  auto repo = entry_->repo.lock();
  if (!repo || repo->stopped) return fail(Error::cancelled("the repo has stopped"));
  std::vector<ChangeHash> before;
  Document::ChangeAtResult made;
  {
    std::lock_guard<std::mutex> lock(entry_->mutex);
    AM_TRY_STATUS(check_writable(*entry_, "change_at"));
    Document& doc = entry_->actor->document();
    before = doc.heads();
    AM_TRY_ASSIGN(made, doc.change_at(heads, edit, options));
  }
  if (made.change) post_local_change(repo, entry_, std::move(before));
  return made;
}

Subscription DocHandle::on_change(std::function<void(const DocumentChange&)> observer) {
  if (view_) return Subscription();  // a view never changes
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

// --- history and views -------------------------------------------------------------------------

Result<DocHandle> DocHandle::view(const std::vector<ChangeHash>& heads) const {
  Result<Document> copy = fail(Error::invalid_argument("view", "no document"));
  read([&](const Document& d) { copy = d.fork_at(heads); });
  if (!copy) return fail(std::move(copy).error());
  DocHandle out(entry_);
  auto v = std::make_shared<View>();
  v->heads = heads;
  std::sort(v->heads.begin(), v->heads.end());
  v->doc = std::move(*copy);
  out.view_ = std::move(v);
  return out;
}

std::vector<ChangeHash> DocHandle::history() const {
  std::vector<ChangeHash> out;
  read([&](const Document& d) {
    for (const ChangeInfo& c : d.history(false)) out.push_back(c.hash);
  });
  return out;
}

Result<std::vector<Patch>> DocHandle::diff(const std::vector<ChangeHash>& from,
                                           std::optional<std::vector<ChangeHash>> to) const {
  Result<std::vector<Patch>> out = std::vector<Patch>{};
  read([&](const Document& d) { out = d.diff(from, to ? *to : d.heads()); });
  return out;
}

std::optional<ChangeInfo> DocHandle::metadata(std::optional<ChangeHash> change) const {
  std::optional<ChangeInfo> out;
  read([&](const Document& d) {
    if (!change) {
      const auto heads = d.heads();
      if (heads.empty()) return;
      change = heads.front();
    }
    out = d.inspect_change(*change);
  });
  return out;
}

Subscription DocHandle::on_delete(std::function<void()> observer) {
  std::lock_guard<std::mutex> lock(entry_->mutex);
  const std::uint64_t id = entry_->next_observer++;
  entry_->delete_observers[id] = std::move(observer);
  return Subscription([entry = entry_, id] {
    std::lock_guard<std::mutex> l(entry->mutex);
    entry->delete_observers.erase(id);
  });
}

}  // namespace am::repo
