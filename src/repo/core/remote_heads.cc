#include "repo/core/remote_heads.h"

#include <algorithm>
#include <utility>

namespace am::repo::core {

void RemoteHeadsGossip::subscribe(const std::vector<StorageId>& storage_ids) {
  std::vector<StorageId> added;
  for (const StorageId& id : storage_ids) {
    if (ours_.insert(id).second) added.push_back(id);
  }
  if (!added.empty()) send_subscription_change(generous_peers(), added, {});
}

void RemoteHeadsGossip::unsubscribe(const std::vector<StorageId>& storage_ids) {
  std::vector<StorageId> removed;
  for (const StorageId& id : storage_ids) {
    // A StorageId a peer subscribed to through us stays subscribed upstream.
    if (ours_.erase(id) != 0 && theirs_.count(id) == 0) removed.push_back(id);
  }
  if (!removed.empty()) send_subscription_change(generous_peers(), {}, removed);
}

void RemoteHeadsGossip::peer_connected(const PeerId& peer, bool generous) {
  if (!generous || !generous_.insert(peer).second) return;
  if (!ours_.empty()) send_subscription_change({peer}, {ours_.begin(), ours_.end()}, {});
  for (const auto& [document, by_storage] : known_) {
    for (const auto& [storage_id, known] : by_storage) send_heads(peer, document, storage_id, known);
  }
}

void RemoteHeadsGossip::peer_disconnected(const PeerId& peer) {
  generous_.erase(peer);
  open_docs_.erase(peer);
  subscription_counts_.erase(peer);
  std::vector<StorageId> removed;
  for (auto it = theirs_.begin(); it != theirs_.end();) {
    if (it->second.erase(peer) != 0 && it->second.empty()) {
      // Unlike the reference, a StorageId we subscribe to ourselves stays subscribed upstream.
      if (ours_.count(it->first) == 0) removed.push_back(it->first);
      it = theirs_.erase(it);
    } else {
      ++it;
    }
  }
  if (!removed.empty()) send_subscription_change(generous_peers(), {}, removed);
}

void RemoteHeadsGossip::peer_opened_document(const PeerId& peer, const DocumentId& document) {
  if (!open_docs_[peer].insert(document).second) return;
  auto doc = known_.find(document);
  if (doc == known_.end()) return;
  for (const auto& [storage_id, known] : doc->second) {
    auto subs = theirs_.find(storage_id);
    if (subs != theirs_.end() && subs->second.count(peer) != 0) send_heads(peer, document, storage_id, known);
  }
}

void RemoteHeadsGossip::forget_document(const DocumentId& document) {
  known_.erase(document);
  for (auto& [peer, docs] : open_docs_) docs.erase(document);
}

void RemoteHeadsGossip::receive(const wire::RemoteSubscriptionChangeMessage& message) {
  const PeerId& from = message.sender_id;
  std::vector<StorageId> forward_add, forward_remove;
  std::size_t& count = subscription_counts_[from];
  if (message.add) {
    for (const StorageId& id : *message.add) {
      auto subs = theirs_.find(id);
      if (subs != theirs_.end() && subs->second.count(from) != 0) continue;  // already
      if (count >= kMaxSubscriptionsPerPeer) break;
      const bool created = subs == theirs_.end();
      if (created) subs = theirs_.emplace(id, std::set<PeerId>{}).first;
      if (created && ours_.count(id) == 0) forward_add.push_back(id);
      subs->second.insert(from);
      ++count;
    }
  }
  if (message.remove) {
    for (const StorageId& id : *message.remove) {
      auto subs = theirs_.find(id);
      if (subs == theirs_.end() || subs->second.erase(from) == 0) continue;
      --count;
      if (subs->second.empty()) {
        theirs_.erase(subs);
        if (ours_.count(id) == 0) forward_remove.push_back(id);
      }
    }
  }
  if (!forward_add.empty() || !forward_remove.empty()) {
    // The reference also sends it back to the sender when that is a generous peer; it needs no
    // echo of its own subscription.
    std::vector<PeerId> peers;
    for (const PeerId& p : generous_) {
      if (p != from) peers.push_back(p);
    }
    send_subscription_change(peers, forward_add, forward_remove);
  }
  auto open = open_docs_.find(from);
  if (open == open_docs_.end()) return;
  // What we already know of those stores, for the documents it has open. (The reference sends it
  // only for stores someone here followed before; we keep heads of connected peers' stores
  // either way, as it does, so a first subscriber gets them too.)
  if (!message.add) return;
  for (const StorageId& id : *message.add) {
    for (const DocumentId& document : open->second) {
      auto doc = known_.find(document);
      if (doc == known_.end()) continue;
      if (auto k = doc->second.find(id); k != doc->second.end()) send_heads(from, document, id, k->second);
    }
  }
}

void RemoteHeadsGossip::receive(const wire::RemoteHeadsChangedMessage& message) {
  for (const auto& [storage_id, remote] : message.new_heads) {
    const bool ours = ours_.count(storage_id) != 0;
    auto subs = theirs_.find(storage_id);
    if (!ours && subs == theirs_.end()) continue;  // nobody here wants this store's heads
    auto [entry, created] = known_[message.document_id].try_emplace(storage_id);
    if (!created && entry->second.timestamp >= remote.timestamp) continue;  // not newer than ours
    Known& known = entry->second;
    known = Known{remote.heads, remote.timestamp};
    if (ours) effects_.updates.push_back(RemoteHeadsUpdate{message.document_id, storage_id, remote.heads, remote.timestamp});
    // Generous peers hear of every change; subscribers of documents they have open. One message
    // each, and none back to where it came from.
    std::set<PeerId> targets;
    for (const PeerId& p : generous_) targets.insert(p);
    if (subs != theirs_.end()) {
      for (const PeerId& p : subs->second) {
        if (has_open(p, message.document_id)) targets.insert(p);
      }
    }
    targets.erase(message.sender_id);
    for (const PeerId& p : targets) send_heads(p, message.document_id, storage_id, known);
  }
}

void RemoteHeadsGossip::peer_heads_changed(const DocumentId& document, const StorageId& storage_id,
                                           std::vector<std::string> heads, std::uint64_t now_ms) {
  const Known seen{std::move(heads), now_ms};
  auto [entry, created] = known_[document].try_emplace(storage_id);
  if (created || entry->second.timestamp < now_ms) entry->second = seen;
  auto subs = theirs_.find(storage_id);
  if (subs == theirs_.end()) return;
  for (const PeerId& p : subs->second) {
    if (has_open(p, document)) send_heads(p, document, storage_id, seen);
  }
}

RemoteHeadsEffects RemoteHeadsGossip::take_effects() { return std::exchange(effects_, RemoteHeadsEffects{}); }

std::size_t RemoteHeadsGossip::known_heads() const {
  std::size_t n = 0;
  for (const auto& [document, by_storage] : known_) n += by_storage.size();
  return n;
}

std::size_t RemoteHeadsGossip::subscribers(const StorageId& storage_id) const {
  auto it = theirs_.find(storage_id);
  return it == theirs_.end() ? 0 : it->second.size();
}

void RemoteHeadsGossip::send_subscription_change(const std::vector<PeerId>& peers, const std::vector<StorageId>& add,
                                                 const std::vector<StorageId>& remove) {
  for (const PeerId& peer : peers) {
    wire::RemoteSubscriptionChangeMessage m{self_, peer, std::nullopt, std::nullopt};
    if (!add.empty()) m.add = add;
    if (!remove.empty()) m.remove = remove;
    effects_.outgoing.emplace_back(std::move(m));
  }
}

void RemoteHeadsGossip::send_heads(const PeerId& target, const DocumentId& document, const StorageId& storage_id,
                                   const Known& known) {
  wire::RemoteHeadsChangedMessage m{self_, target, document, {}};
  m.new_heads.emplace(storage_id, wire::RemoteHeads{known.heads, known.timestamp});
  effects_.outgoing.emplace_back(std::move(m));
}

bool RemoteHeadsGossip::has_open(const PeerId& peer, const DocumentId& document) const {
  auto it = open_docs_.find(peer);
  return it != open_docs_.end() && it->second.count(document) != 0;
}

}  // namespace am::repo::core
