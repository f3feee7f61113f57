// The application-facing document API of Repo beyond find/create: document events (JS Repo
// "document", "delete-document", "unavailable-document"), find_with_progress (JS
// findWithProgress), remove_from_cache (JS removeFromCache) and the share policy changed at run
// time (JS shareConfigChanged). See repo_impl.h.
#include "repo/runtime/repo_impl.h"

namespace am::repo {

const char* to_string(FindState state) {
  switch (state) {
    case FindState::kLoading: return "loading";
    case FindState::kRequesting: return "requesting";
    case FindState::kReady: return "ready";
    case FindState::kUnavailable: return "unavailable";
    case FindState::kFailed: return "failed";
  }
  return "?";
}

// --- the policy that can be swapped -------------------------------------------------------------

bool SwitchablePolicy::announce(const PeerId& peer, const DocumentId& document) const {
  return current()->announce(peer, document);
}
bool SwitchablePolicy::access(const PeerId& peer, const DocumentId& document) const {
  return current()->access(peer, document);
}
DocumentAccess SwitchablePolicy::access_level(const PeerId& peer, const std::string& principal,
                                              const DocumentId& document) const {
  return current()->access_level(peer, principal, document);
}

// --- document events ----------------------------------------------------------------------------

void Repo::Impl::notify_document(DocumentEvent::Kind kind, const DocumentId& id) {
  std::vector<std::function<void(const DocumentEvent&)>> observers;
  {
    std::lock_guard<std::mutex> lock(document_observers_mutex);
    for (const auto& [oid, observer] : document_observers) observers.push_back(observer);
  }
  const DocumentEvent event{kind, id};
  for (const auto& observer : observers) observer(event);
}

void Repo::Impl::post_document_event(const std::shared_ptr<DocHandle::Entry>& entry, DocumentEvent::Kind kind) {
  if (stopped) return;
  // On the document's queue: after the events already queued for it, before later ones.
  entry->queue->post([self = shared_from_this(), kind, id = entry->id] { self->notify_document(kind, id); });
}

void Repo::Impl::opened(const std::shared_ptr<DocHandle::Entry>& entry) {
  actor_post(entry, [](core::DocActor&) {});  // dispatch its first effects (storage loads)
  post_document_event(entry, DocumentEvent::Kind::kAdded);
}

Subscription Repo::on_document_event(std::function<void(const DocumentEvent&)> observer) {
  std::lock_guard<std::mutex> lock(impl_->document_observers_mutex);
  const std::uint64_t id = impl_->next_document_observer++;
  impl_->document_observers[id] = std::move(observer);
  return Subscription([weak = std::weak_ptr<Impl>(impl_), id] {
    if (auto self = weak.lock()) {
      std::lock_guard<std::mutex> l(self->document_observers_mutex);
      self->document_observers.erase(id);
    }
  });
}

// --- find with progress -------------------------------------------------------------------------

namespace {

// One find_with_progress: turns the actor's state changes into the JS steps. Touched only on
// the document's queue (its initial step and the state observer's calls run there, in order).
// Every state emits the whole sequence up to it, skipping steps already reported, so the
// initial step and the first state changes may arrive in either order.
struct ProgressTracker {
  std::function<void(const FindProgress&)> on_progress;
  DocHandle handle;
  std::weak_ptr<DocHandle::Entry> entry;  // the handle's, for the timeout
  bool cached = false;     // final when find_with_progress was called: one step only (JS)
  int last_progress = -1;  // the last loading percentage reported
  bool done = false;
  std::uint64_t observer = 0;

  void step(FindState state, int progress, std::optional<Error> error = std::nullopt) {
    if (done) return;
    if (state == FindState::kLoading || state == FindState::kRequesting) {
      if (progress <= last_progress) return;
      last_progress = progress;
    } else {
      done = true;
    }
    on_progress(FindProgress{state, progress, handle, std::move(error)});
  }

  // loading 0, 25 while storage is read; 50 when storage had it, or requesting 75 when it asks
  // peers; then ready, unavailable or failed.
  void on_state(core::DocState s) {
    const bool final_state = s == core::DocState::kReady || s == core::DocState::kUnavailable ||
                             s == core::DocState::kDeleted;
    if (!(cached && final_state) && s != core::DocState::kDeleted) {
      step(FindState::kLoading, 0);
      step(FindState::kLoading, 25);
      if (s == core::DocState::kRequesting || s == core::DocState::kUnavailable) step(FindState::kRequesting, 75);
      if (s == core::DocState::kReady && last_progress < 75) step(FindState::kLoading, 50);  // from storage
    }
    switch (s) {
      case core::DocState::kLoading:
      case core::DocState::kRequesting: break;
      case core::DocState::kReady: step(FindState::kReady, 100); break;
      case core::DocState::kUnavailable: step(FindState::kUnavailable, 100); break;
      case core::DocState::kDeleted:
        step(FindState::kFailed, 100, Error::not_found("document " + handle.id().to_string() + " was deleted"));
        break;
    }
  }
};

}  // namespace

void Repo::find_with_progress(const DocumentId& id, std::function<void(const FindProgress&)> on_progress,
                              std::chrono::milliseconds timeout) {
  auto& impl = *impl_;
  if (impl.stopped) {
    on_progress(FindProgress{FindState::kFailed, 0, {}, Error::cancelled("the repo has stopped")});
    return;
  }
  auto [entry, created] = impl.get_or_create(id, [&] { return core::DocActor::find(impl.actor_config(id), impl.now()); });
  auto tracker = std::make_shared<ProgressTracker>();
  tracker->on_progress = std::move(on_progress);
  tracker->handle = DocHandle(entry);
  tracker->entry = entry;
  // Registers for the actor's state changes, reading the state under the same lock so none is
  // missed, then reports the steps up to that state; a final state answers with that one step,
  // as JS's handle cache does.
  auto start = [tracker](DocHandle::Entry& e) {
    core::DocState state;
    {
      std::lock_guard<std::mutex> lock(e.mutex);
      state = e.actor->state();
      if (state == core::DocState::kLoading || state == core::DocState::kRequesting) {
        tracker->observer = e.next_observer++;
        e.state_observers[tracker->observer] = [tracker](core::DocState next) { tracker->on_state(next); };
      } else {
        tracker->cached = true;
      }
    }
    return state;
  };
  if (created) {
    // Before the actor's first turn, so not even its first state change is missed.
    const core::DocState initial = start(*entry);
    impl.hub_post([id, self = impl_](core::Hub& h) { h.open_document(id, self->now()); });
    impl.opened(entry);
    entry->queue->post([tracker, initial] { tracker->on_state(initial); });
  } else {
    // On the document's queue, after what is queued for it (a remove() just made, say).
    entry->queue->post([tracker, start, entry = entry] { tracker->on_state(start(*entry)); });
  }
  // Weak: a pending timeout must keep neither the tracker nor (through its handle) the document
  // alive; a tracker that reported its final step is gone by then.
  impl.timers.schedule(Clock::now() + timeout, [weak = std::weak_ptr<ProgressTracker>(tracker), id] {
    auto pending = weak.lock();
    if (!pending) return;
    auto held = pending->entry.lock();
    if (!held) return;
    held->queue->post([held, pending, id] {
      {
        std::lock_guard<std::mutex> lock(held->mutex);
        held->state_observers.erase(pending->observer);
      }
      pending->step(FindState::kFailed, pending->last_progress,
                    Error::timeout("finding " + id.to_string() + " timed out"));
    });
  });
}

// --- remove from cache --------------------------------------------------------------------------

Status Repo::remove_from_cache(const DocumentId& id, std::chrono::milliseconds timeout) {
  if (impl_->stopped) return fail(Error::cancelled("the repo has stopped"));
  auto entry = impl_->entry_of(id);
  if (!entry) {
    impl_->log(LogLevel::kWarn, "remove_from_cache: " + id.to_string() + " is not in memory");
    return fail(Error::not_found("remove_from_cache: " + id.to_string() + " is not in memory"));
  }
  const auto deadline = Clock::now() + timeout;
  // JS waits for ready, unloaded, deleted or unavailable; only a ready document is unloaded.
  impl_->actor_post(entry, [self = impl_](core::DocActor& a) { a.flush(self->now()); });
  {
    std::unique_lock<std::mutex> lock(entry->mutex);
    const bool settled = entry->cv.wait_until(lock, deadline, [&] {
      const core::DocState s = entry->actor->state();
      return (s == core::DocState::kReady && !entry->actor->pending_io()) || s == core::DocState::kUnavailable ||
             s == core::DocState::kDeleted;
    });
    if (!settled) return fail(Error::timeout("remove_from_cache: " + id.to_string() + " did not settle"));
    if (entry->actor->state() != core::DocState::kReady) {
      const std::string why = std::string("remove_from_cache: ") + id.to_string() + " is " +
                              core::to_string(entry->actor->state()) + ", not ready";
      impl_->log(LogLevel::kWarn, why);
      return fail(Error::invalid_argument("remove_from_cache", why));
    }
    entry->unloaded = true;  // handles still held report kUnloaded and refuse changes
  }
  // On the hub's queue, as eviction: afterwards the hub routes nothing to this actor, and the
  // next message or find about the document loads it from storage into a new one.
  auto removed = std::make_shared<std::promise<void>>();
  auto future = removed->get_future();
  impl_->hub_post([self = impl_, id, entry, removed](core::Hub& h) {
    {
      std::lock_guard<std::mutex> lock(self->docs_mutex);
      if (auto it = self->docs.find(id); it != self->docs.end() && it->second == entry) self->docs.erase(it);
    }
    h.close_document(id);
    removed->set_value();
  });
  if (future.wait_until(deadline) != std::future_status::ready) {
    return fail(Error::timeout("remove_from_cache: " + id.to_string() + " was not released"));
  }
  return {};
}

// --- the share policy at run time ---------------------------------------------------------------

void Repo::set_share_policy(std::shared_ptr<const SharePolicy> policy) {
  impl_->policy->set(policy ? std::move(policy) : share_everything());
  share_policy_changed();
}

void Repo::share_policy_changed() {
  impl_->hub_post([self = impl_](core::Hub& h) { h.share_policy_changed(self->now()); });
}

}  // namespace am::repo
