// RemoteHeadsGossip: remote-heads gossip as automerge-repo 2.5.6 does it (RemoteHeadsSubscriptions
// in the reference), without IO.
//
// A repo may want to know what some store (a StorageId) has of a document even when it is not
// connected to that store: a client wants to know whether the sync server, or another client
// behind it, has its changes. It subscribes to StorageIds; its peers relay the subscription to
// their own peers and, whenever they learn that store's heads for a document, send the
// subscriber a `remote-heads-changed` message.
//
// Who sends what to whom (all as the reference does):
//   * `remote-subscription-change` (add/remove StorageIds) goes to the "generous" peers only:
//     those the share policy announces to (the hub asks it once, when the peer connects). A repo
//     forwards a subscription it received to its own generous peers when it is new to it
//     (neither ours nor anyone else's already), and a removal once nobody wants the StorageId.
//   * Heads are learnt two ways: directly (a connected peer with that StorageId sent us a sync
//     message that changed its heads: peer_heads_changed, stamped with our clock), or from a
//     relayed `remote-heads-changed`, kept only when its timestamp is newer than what we have.
//   * A subscriber hears of a document's heads only once it has the document open with us
//     (it announced it or sent us a message about it: peer_opened_document); it is sent the
//     heads we already know for the StorageIds it subscribes to when it opens the document and
//     when it subscribes. Generous peers get every relayed change (except its sender) whether
//     subscribed or not, and everything we know when they connect.
//   * Our own subscriptions: a change of a subscribed StorageId becomes an update for our handles.
//
// Heads travel as the bs58check text they were sent as; they are not parsed here. Memory: what
// is known per (document, StorageId) is forgotten when the hub closes the document (it leaves
// memory; the hub passes on only heads of documents in memory), and a peer's subscriptions, at
// most kMaxSubscriptionsPerPeer, when it disconnects.
//
// Thread safety: none; the hub calls it from its strand.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "am/repo/ids.h"
#include "repo/core/wire/messages.h"

namespace am::repo::core {

/// Heads of a StorageId we subscribe to, for our own handles of the document.
struct RemoteHeadsUpdate {
  DocumentId document;
  StorageId storage_id;
  std::vector<std::string> heads;  // bs58check change hashes, as sent
  std::uint64_t timestamp = 0;     // ms since the epoch, as stamped by whoever saw the heads

  friend bool operator==(const RemoteHeadsUpdate&, const RemoteHeadsUpdate&) = default;
};

/// What the gossip wants done since the last take_effects(), in order.
struct RemoteHeadsEffects {
  /// remote-subscription-change and remote-heads-changed messages, senderId and targetId set.
  std::vector<wire::Message> outgoing;
  std::vector<RemoteHeadsUpdate> updates;
};

class RemoteHeadsGossip {
 public:
  /// StorageIds one peer may subscribe to through us; further ones are ignored (a peer would
  /// otherwise grow our memory without bound while it stays connected).
  static constexpr std::size_t kMaxSubscriptionsPerPeer = 1024;

  explicit RemoteHeadsGossip(PeerId self) : self_(std::move(self)) {}

  /// Repo::subscribe_to_remotes: the new ones are sent to the generous peers.
  void subscribe(const std::vector<StorageId>& storage_ids);
  /// Ends our subscriptions; a StorageId a peer still wants from us stays subscribed upstream.
  void unsubscribe(const std::vector<StorageId>& storage_ids);
  bool subscribed(const StorageId& storage_id) const { return ours_.count(storage_id) != 0; }

  /// A peer completed its handshake. `generous`: the share policy announces to it; it is sent
  /// our subscriptions and every heads we know.
  void peer_connected(const PeerId& peer, bool generous);
  /// The peer's last connection ended: its subscriptions end with it.
  void peer_disconnected(const PeerId& peer);
  /// The peer has the document open with us (announced to it, or it sent a message about it).
  void peer_opened_document(const PeerId& peer, const DocumentId& document);
  /// The document left memory: what we know of its heads is forgotten.
  void forget_document(const DocumentId& document);

  void receive(const wire::RemoteSubscriptionChangeMessage& message);
  void receive(const wire::RemoteHeadsChangedMessage& message);
  /// A directly connected peer whose store is `storage_id` told us new heads of `document`;
  /// `now_ms`: our wall clock, ms since the epoch.
  void peer_heads_changed(const DocumentId& document, const StorageId& storage_id, std::vector<std::string> heads,
                          std::uint64_t now_ms);

  RemoteHeadsEffects take_effects();

  /// (document, StorageId) pairs whose heads we know.
  std::size_t known_heads() const;
  /// Peers subscribed to `storage_id` through us.
  std::size_t subscribers(const StorageId& storage_id) const;

 private:
  struct Known {
    std::vector<std::string> heads;
    std::uint64_t timestamp = 0;
  };

  void send_subscription_change(const std::vector<PeerId>& peers, const std::vector<StorageId>& add,
                                const std::vector<StorageId>& remove);
  void send_heads(const PeerId& target, const DocumentId& document, const StorageId& storage_id, const Known& known);
  bool has_open(const PeerId& peer, const DocumentId& document) const;
  std::vector<PeerId> generous_peers() const { return {generous_.begin(), generous_.end()}; }

  PeerId self_;
  std::map<DocumentId, std::map<StorageId, Known>> known_;
  std::set<StorageId> ours_;
  std::map<StorageId, std::set<PeerId>> theirs_;  // never holds an empty set
  std::set<PeerId> generous_;
  std::map<PeerId, std::set<DocumentId>> open_docs_;
  std::map<PeerId, std::size_t> subscription_counts_;  // entries of theirs_ per peer
  RemoteHeadsEffects effects_;
};

}  // namespace am::repo::core
