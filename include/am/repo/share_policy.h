// Which documents a repo shares with which peers (automerge-repo's shareConfig, spec §3.5).
#pragma once

#include <memory>
#include <string>

#include "am/repo/ids.h"

namespace am::repo {

/// What a peer may do with a document (SharePolicy::access_level).
enum class DocumentAccess {
  kNone,   ///< answered "doc-unavailable"; never sent the document
  kRead,   ///< sent the document and its updates; changes it sends are dropped, not applied
  kWrite,  ///< full two-way sync
};

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
  /// What `peer` may do with `document`, knowing whom its connection authenticated as
  /// (`principal`: the name ListenOptions::authenticate returned; empty when the listener does
  /// not authenticate, and for connections we dialed). This is what the repo asks; the default
  /// maps access() to kWrite or kNone. Override it for read-only peers or per-principal rules.
  virtual DocumentAccess access_level(const PeerId& peer, const std::string& principal,
                                      const DocumentId& document) const {
    (void)principal;
    return access(peer, document) ? DocumentAccess::kWrite : DocumentAccess::kNone;
  }
};

/// The JS default for applications: announce every document to every peer, answer everyone.
std::shared_ptr<const SharePolicy> share_everything();

/// The sync-server default (JS `sharePolicy: () => false`): announce nothing, answer every peer
/// that asks. A server with this policy never forwards a request to other peers.
std::shared_ptr<const SharePolicy> answer_requests_only();

}  // namespace am::repo
