// Remote-heads gossip in the runtime (RepoOptions::enable_remote_heads_gossiping): the public
// calls, and the heads that reach handles, from a connected peer's sync messages (the document's
// actor) or from gossip for our subscriptions (the hub's RemoteHeadsGossip). See repo_impl.h.
#include "repo/runtime/repo_impl.h"

namespace am::repo {

namespace {
std::uint64_t wall_clock_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}
}  // namespace

std::optional<RemoteHeads> DocHandle::remote_heads(const StorageId& storage_id) const {
  std::lock_guard<std::mutex> lock(entry_->mutex);
  auto it = entry_->remote_heads.find(storage_id);
  if (it == entry_->remote_heads.end()) return std::nullopt;
  return it->second;
}

Subscription DocHandle::on_remote_heads(std::function<void(const RemoteHeads&)> observer) {
  std::lock_guard<std::mutex> lock(entry_->mutex);
  const std::uint64_t id = entry_->next_observer++;
  entry_->remote_heads_observers[id] = std::move(observer);
  return Subscription([entry = entry_, id] {
    std::lock_guard<std::mutex> l(entry->mutex);
    entry->remote_heads_observers.erase(id);
  });
}

void Repo::subscribe_to_remotes(std::vector<StorageId> storage_ids) {
  if (!impl_->options.enable_remote_heads_gossiping) {
    impl_->log(LogLevel::kWarn, "subscribe_to_remotes called but remote heads gossiping is not enabled");
    return;
  }
  impl_->hub_post([ids = std::move(storage_ids)](core::Hub& h) { h.subscribe_to_remotes(ids); });
}

void Repo::unsubscribe_from_remotes(std::vector<StorageId> storage_ids) {
  if (!impl_->options.enable_remote_heads_gossiping) return;
  impl_->hub_post([ids = std::move(storage_ids)](core::Hub& h) { h.unsubscribe_from_remotes(ids); });
}

bool Repo::Impl::record_remote_heads(DocHandle::Entry& entry, RemoteHeads heads, bool only_if_changed,
                                     std::vector<std::function<void()>>& after) {
  auto [it, inserted] = entry.remote_heads.try_emplace(heads.storage_id);
  if (!inserted && only_if_changed && it->second.heads == heads.heads) return false;
  it->second = std::move(heads);
  for (const auto& [oid, observer] : entry.remote_heads_observers) {
    after.push_back([observer, value = it->second] { observer(value); });
  }
  return true;
}

void Repo::Impl::peer_heads_changed(DocHandle::Entry& entry, const core::PeerHeadsSeen& event,
                                    std::vector<std::function<void()>>& after) {
  const std::uint64_t now_ms = wall_clock_ms();
  // The same heads as before (another peer of that store told us first): nothing new for
  // subscribers either.
  if (!record_remote_heads(entry, RemoteHeads{event.storage_id, event.heads, now_ms}, true, after)) return;
  hub_post([doc = entry.id, storage_id = event.storage_id, heads = event.heads, now_ms](core::Hub& h) {
    h.peer_heads_changed(doc, storage_id, heads, now_ms);
  });
}

void Repo::Impl::deliver_remote_heads(std::vector<core::RemoteHeadsUpdate> updates) {
  for (core::RemoteHeadsUpdate& u : updates) {
    RemoteHeads value{u.storage_id, {}, u.timestamp};
    bool readable = true;
    for (const std::string& text : u.heads) {
      auto head = parse_head(text);
      if (!head) {
        readable = false;
        break;
      }
      value.heads.push_back(*head);
    }
    if (!readable) {
      log(LogLevel::kDebug, "remote-heads-changed for " + u.document.to_string() + " from " + u.storage_id.str() +
                                " has a head that is not a bs58check change hash; ignored");
      continue;
    }
    // As the reference, only documents open here have handles to tell.
    auto entry = entry_of(u.document);
    if (!entry || stopped) continue;
    entry->queue->post([self = shared_from_this(), entry, value = std::move(value)]() mutable {
      std::vector<std::function<void()>> after;
      {
        std::lock_guard<std::mutex> lock(entry->mutex);
        self->record_remote_heads(*entry, std::move(value), false, after);
      }
      for (auto& f : after) f();
    });
  }
}

}  // namespace am::repo
