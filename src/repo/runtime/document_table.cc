// Documents in memory: their actors' configuration, eviction of unavailable ones, the idle
// sweep, reload after another process saved, and new documents. See repo_impl.h.
#include "repo/runtime/repo_impl.h"

namespace am::repo {

core::DocActorConfig Repo::Impl::actor_config(const DocumentId& id) const {
  core::DocActorConfig c;
  c.document_id = id;
  c.self = PeerId(options.peer_id);
  c.policy = options.share_policy;
  c.has_storage = options.storage != nullptr;
  c.save_debounce_ms = options.save_debounce.count();
  c.max_inflated_bytes = options.max_inflated_bytes;
  c.report_peer_heads = options.enable_remote_heads_gossiping;
  return c;
}

std::shared_ptr<DocHandle::Entry> Repo::Impl::entry_of(const DocumentId& id) const {
  std::lock_guard<std::mutex> lock(docs_mutex);
  auto it = docs.find(id);
  return it == docs.end() ? nullptr : it->second;
}

void Repo::Impl::schedule_eviction(const DocumentId& id, int attempt) {
  if (stopped || attempt > kMaxEvictionAttempts) return;
  timers.schedule(Clock::now() + (attempt == 0 ? kFirstEvictionDelay : kEvictionRetry),
                  [self = shared_from_this(), id, attempt] {
                    self->hub_post([self, id, attempt](core::Hub& h) {
                      bool retry = false;
                      {
                        std::lock_guard<std::mutex> lock(self->docs_mutex);
                        auto it = self->docs.find(id);
                        if (it == self->docs.end() || !it->second->unavailable) return;
                        if (it->second.use_count() > 1) {
                          retry = true;  // a handle, a timer or queued work still refers to it
                        } else {
                          self->docs.erase(it);
                        }
                      }
                      if (retry) return self->schedule_eviction(id, attempt + 1);
                      h.close_document(id);
                    });
                  });
}

void Repo::Impl::schedule_idle_sweep() {
  if (stopped || options.idle_timeout.count() <= 0 || !options.storage) return;
  const auto period = std::max(options.idle_timeout / 2, kMinIdleSweepPeriod);
  timers.schedule(Clock::now() + period, [self = shared_from_this()] {
    self->hub_post([self](core::Hub& h) {
      const core::Millis cutoff = self->now() - self->options.idle_timeout.count();
      std::vector<DocumentId> dropped;
      {
        std::lock_guard<std::mutex> lock(self->docs_mutex);
        for (auto it = self->docs.begin(); it != self->docs.end();) {
          const auto& entry = it->second;
          if (entry->quiescent && entry->last_event <= cutoff && entry.use_count() == 1) {
            dropped.push_back(it->first);
            it = self->docs.erase(it);
          } else {
            ++it;
          }
        }
      }
      for (const DocumentId& id : dropped) h.close_document(id);
      self->schedule_idle_sweep();
    });
  });
}

void Repo::Impl::reload(const DocumentId& id, int attempt) {
  if (stopped || !storage_io) return;
  auto entry = entry_of(id);
  if (!entry) return;
  storage_io->post([self = shared_from_this(), entry, attempt] {
    std::vector<StorageEntry> chunks;
    const std::string doc = entry->id.to_string();
    for (const std::string_view kind : {kSnapshotKeyKind, kIncrementalKeyKind}) {
      auto r = self->options.storage->load_range({doc, std::string(kind)});
      if (!r) {
        self->log(LogLevel::kError, "storage: reload " + doc + ": " + r.error().to_string());
        return;
      }
      std::move(r->begin(), r->end(), std::back_inserter(chunks));
    }
    self->actor_post(entry, [self, entry, attempt, chunks = std::move(chunks)](core::DocActor& a) mutable {
      if (a.merge_stored(std::move(chunks), self->now()) || attempt >= kMaxReloadAttempts) return;
      self->timers.schedule(Clock::now() + kReloadRetry,
                            [self, id = entry->id, attempt] { self->reload(id, attempt + 1); });
    });
  });
}

DocHandle Repo::Impl::open_new(const DocumentId& id, Document doc) {
  auto [entry, created] = get_or_create(id, [&] { return core::DocActor::create(actor_config(id), std::move(doc), now()); });
  if (created) {
    hub_post([id, self = shared_from_this()](core::Hub& h) { h.open_document(id, self->now()); });
    opened(entry);
  }
  return DocHandle(entry);
}

bool Repo::Impl::synced_with(const core::DocActor& actor, const PeerId& peer) {
  const auto heads = actor.document().heads();
  for (const auto& p : actor.peers()) {
    if (p.peer == peer) return p.their_heads && *p.their_heads == heads;
  }
  return false;
}

}  // namespace am::repo
