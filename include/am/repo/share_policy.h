// Which documents a repo shares with which peers (automerge-repo's shareConfig, spec §3.5).
#pragma once

#include <memory>

#include "am/repo/ids.h"

namespace am::repo {

/// Decides, per (peer, document), whether the repo offers a document to a peer unprompted and
/// whether it answers a peer that asks for it.
///
///   announce(peer, doc)  true: start syncing `doc` with `peer` on our own initiative (send it our
///                        changes, or ask it for the document when we lack it).
///   access(peer, doc)    true: answer `peer` when it sends a request or sync message for `doc`;
///                        false: answer "doc-unavailable" and never send it the document.
///
/// A document is synced with a peer when announce is true, or when access is true and that peer
/// has itself asked about the document. announce implies nothing about access: a policy that
/// announces a document it denies access to is treated as denying.
///
/// Thread safety: called from the repo's threads, possibly concurrently for different documents;
/// implementations must be thread-safe and must not block (they run on the document's strand).
class SharePolicy {
 public:
  virtual ~SharePolicy() = default;
  /// Offer `document` to `peer` unprompted (or ask it for the document)?
  virtual bool announce(const PeerId& peer, const DocumentId& document) const = 0;
  /// Answer `peer` about `document` when it asks?
  virtual bool access(const PeerId& peer, const DocumentId& document) const = 0;
};

/// The JS default for applications: announce every document to every peer, answer everyone.
std::shared_ptr<const SharePolicy> share_everything();

/// The sync-server default (JS `sharePolicy: () => false`): announce nothing, answer every peer
/// that asks. A server with this policy never forwards a request to other peers.
std::shared_ptr<const SharePolicy> answer_requests_only();

}  // namespace am::repo
