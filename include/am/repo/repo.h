// am::repo::Repo: a store of Automerge documents that syncs with peers (JS automerge-repo 2.x
// compatible) over WebSocket and TCP and persists to a StorageAdapter.
//
//   auto repo = am::repo::Repo::open({.storage = am::repo::open_fs_storage("data").value()});
//   am::repo::DocHandle doc = (*repo)->create();
//   doc.change([](am::Document& d) { (void)d.put(am::ObjId::root(), "title", std::string("hi")); });
//   (*repo)->connect_websocket("ws://127.0.0.1:3030");
//
// Threading. A Repo runs its own threads: `io_threads` event-loop threads for the network and
// the documents (each document's work is serialized: one document never runs on two threads at
// once, different documents may), and `storage_threads` for blocking storage calls. Every public
// member of Repo and DocHandle may be called from any thread. Callbacks (observers, find
// callbacks, connection events) run on the repo's io threads: those of one document in order,
// never concurrently. Calls that block (the future-returning ones' get(), wait_synced, sync_all,
// stop) must not be made from a callback.
//
// Errors are values (am::Result / am::Status); nothing throws across this API except
// std::bad_alloc.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "am/bytes.h"
#include "am/document.h"
#include "am/limits.h"
#include "am/repo/ids.h"
#include "am/repo/share_policy.h"
#include "am/repo/storage.h"
#include "am/repo/transport.h"
#include "am/result.h"

namespace am::repo {

class Repo;
class Presence;

/// Where a document handle is in its life (JS DocHandle states). kUnloaded: the document was
/// dropped from memory by Repo::remove_from_cache (JS "unloaded"); find() loads it again into a
/// new handle, and this one refuses changes.
enum class DocumentState { kLoading, kRequesting, kReady, kUnavailable, kDeleted, kUnloaded };
const char* to_string(DocumentState state);

/// One change of a document as observers see it.
struct DocumentChange {
  std::vector<ChangeHash> heads_before;  ///< the document's heads before the change
  std::vector<ChangeHash> heads_after;   ///< and after it
  /// From heads_before to heads_after. While observers stay, from the document's patch log
  /// (Document::diff_incremental: cost in proportion to the change, the reference's
  /// patchCallback shapes); for the first event after subscribing, a diff.
  std::vector<Patch> patches;
  bool local = false;          ///< made through DocHandle::change on this repo
};

/// What one connected peer has of a document.
struct PeerDocumentStatus {
  PeerId peer;           ///< the connected peer
  bool syncing = false;  ///< the document is synced with this peer (share policy)
  bool has_document = false;  ///< the peer has shown it has the document
  std::optional<std::vector<ChangeHash>> their_heads;  ///< from their last sync message
};

/// What one store (a StorageId) is known to have of a document: remote-heads gossip (JS
/// DocHandle's syncInfo: `lastHeads`, `lastSyncTimestamp`). A plain value.
struct RemoteHeads {
  StorageId storage_id;          ///< whose heads
  std::vector<ChangeHash> heads;  ///< that store's heads of the document, as last heard
  /// When they were seen, ms since the Unix epoch, by the repo connected to that store (our
  /// clock for a peer we sync with directly; the relaying repo's for gossip).
  std::uint64_t timestamp_ms = 0;
};

/// Keeps an observer registered; destroying or reset()ing it unregisters. Move-only.
class Subscription {
 public:
  Subscription() = default;
  /// Calls `cancel` once, when destroyed or reset.
  explicit Subscription(std::function<void()> cancel) : cancel_(std::move(cancel)) {}
  /// Takes over `other`'s registration.
  Subscription(Subscription&& other) noexcept : cancel_(std::move(other.cancel_)) { other.cancel_ = nullptr; }
  Subscription& operator=(Subscription&& other) noexcept {
    if (this != &other) {
      reset();
      cancel_ = std::move(other.cancel_);
      other.cancel_ = nullptr;
    }
    return *this;
  }
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;
  ~Subscription() { reset(); }
  /// Unregisters now (idempotent).
  void reset() {
    if (cancel_) cancel_();
    cancel_ = nullptr;
  }

 private:
  std::function<void()> cancel_;
};

/// A reference to one document of a repo. Cheap to copy; all copies refer to the same document.
/// A handle stays valid after the repo stops (reads work, changes fail with kCancelled).
/// Thread safety: every member is safe from any thread.
class DocHandle {
 public:
  DocHandle() = default;
  /// The document's id. REQUIRES: a handle from the repo (not default-constructed).
  const DocumentId& id() const;
  /// "automerge:<id>".
  std::string url() const;
  /// Where the document is in its life now.
  DocumentState state() const;
  /// The document's current heads, sorted.
  std::vector<ChangeHash> heads() const;

  /// Runs `read` with the document locked (no concurrent change). Do not call into the repo
  /// from inside it.
  void read(const std::function<void(const Document&)>& read) const;
  /// Runs `edit` on the document, commits what it did (with `options`), then saves and syncs.
  /// kInvalidArgument unless the document is ready; kCancelled after the repo stopped.
  [[nodiscard]] Status change(const std::function<void(Document&)>& edit, const CommitOptions& options = {});
  /// Makes a change as if the document were at `heads` (JS handle.changeAt): as change(), but
  /// through Document::change_at, whose rules (the actor, deps, no change without ops, errors)
  /// apply. The result's new_heads is JS's return value. Fails like change(), and on a view.
  [[nodiscard]] Result<Document::ChangeAtResult> change_at(const std::vector<ChangeHash>& heads,
                                                           const std::function<Status(Document&)>& edit,
                                                           const CommitOptions& options = {});
  /// The saved form of the document (Automerge save()).
  Bytes save() const;

  // ---- history and views (JS DocHandle view, history, diff, metadata) ---------------------
  /// A read-only handle on this document as of `heads` (JS handle.view(heads)): read(), save(),
  /// heads() and history() see the document at those heads; change() fails with
  /// kInvalidArgument; url() carries the heads ("automerge:ID#HEAD|HEAD"); observers never
  /// fire. The view is a copy taken now. Unknown heads are kInvalidArgument.
  [[nodiscard]] Result<DocHandle> view(const std::vector<ChangeHash>& heads) const;
  /// Whether this handle is a view at fixed heads (view(), or find() of a URL with heads).
  bool is_read_only() const { return view_ != nullptr; }
  /// The hash of every change in application order (JS history(), where each entry is the
  /// one-hash heads [hash] of the document right after that change).
  std::vector<ChangeHash> history() const;
  /// The patches from `from` to `to` (JS handle.diff); `to` defaults to the current heads.
  [[nodiscard]] Result<std::vector<Patch>> diff(const std::vector<ChangeHash>& from,
                                                std::optional<std::vector<ChangeHash>> to = std::nullopt) const;
  /// A change's metadata and ops (JS handle.metadata); `change` defaults to the first of the
  /// current heads. nullopt when the document lacks it (or has no changes).
  std::optional<ChangeInfo> metadata(std::optional<ChangeHash> change = std::nullopt) const;
  /// Called once when Repo::remove deletes the document (JS handle event "delete"), on an io
  /// thread, after the changes queued before it.
  Subscription on_delete(std::function<void()> observer);

  /// Called after every change, local or from peers, with patches.
  Subscription on_change(std::function<void(const DocumentChange&)> observer);
  /// Sends `data` to every peer this document is synced with (JS handle.broadcast; JS peers
  /// expect CBOR-encoded data).
  void broadcast(Bytes data);
  /// Called for each ephemeral message from another peer: the originator's PeerId and the data.
  Subscription on_ephemeral(std::function<void(const PeerId& sender, const Bytes& data)> observer);

  /// The connected peers and what each has of this document.
  std::vector<PeerDocumentStatus> peers() const;
  /// The last heads heard of `storage_id` for this document (JS getSyncInfo/getRemoteHeads):
  /// from a peer with that StorageId we sync with, or from remote-heads gossip for a StorageId
  /// the repo subscribes to (Repo::subscribe_to_remotes). nullopt when none were heard, and
  /// always when RepoOptions::enable_remote_heads_gossiping is off.
  std::optional<RemoteHeads> remote_heads(const StorageId& storage_id) const;
  /// Called whenever remote_heads() of some StorageId changes (JS handle event `remote-heads`),
  /// on an io thread, in order with this document's other events. Only with
  /// RepoOptions::enable_remote_heads_gossiping.
  Subscription on_remote_heads(std::function<void(const RemoteHeads&)> observer);
  /// Blocks until `peer` reports heads equal to ours, or `timeout` (kTimeout).
  [[nodiscard]] Status wait_synced(const PeerId& peer, std::chrono::milliseconds timeout) const;

  /// Whether this handle refers to a document (false when default-constructed).
  explicit operator bool() const { return entry_ != nullptr; }
  /// @cond INTERNAL
  struct Entry;  // the repo's record of an open document (src/repo/runtime)
  struct View;   // a view's fixed heads and its copy of the document
  /// @endcond

 private:
  friend class Repo;      // the only maker of handles
  friend class Presence;  // reaches the repo's timers through the handle
  explicit DocHandle(std::shared_ptr<Entry> entry) : entry_(std::move(entry)) {}
  std::shared_ptr<Entry> entry_;
  std::shared_ptr<View> view_;  // set on read-only views only
};

/// A document entering or leaving a repo, reported by Repo::on_document_event: the JS Repo's
/// events "document", "delete-document" and "unavailable-document" (automerge-repo 2.5.6 still
/// declares all three in RepoEvents but emits only "delete-document"; these follow the declared
/// meanings, as 1.x emitted them). A plain value.
struct DocumentEvent {
  /// What happened.
  enum class Kind {
    kAdded,        ///< JS "document": a document was created or discovered, i.e. a handle for it
                   ///< was made in memory: create(), import(), find() or find_with_progress() of
                   ///< one not in memory, or a peer's request or sync message that opened it
    kDeleted,      ///< JS "delete-document": Repo::remove() deleted it
    kUnavailable,  ///< JS "unavailable-document": nobody has it (not in storage, and every
                   ///< peer asked answered unavailable), so a find of it fails
  };
  Kind kind = Kind::kAdded;  ///< what happened
  DocumentId document;       ///< to which document
};

/// The steps of Repo::find_with_progress (JS FindProgress states; JS reports kRequesting as
/// state "loading" with progress 75, the step where its handle enters "requesting").
enum class FindState {
  kLoading,      ///< started (progress 0), reading storage (25), found in storage (50)
  kRequesting,   ///< not in storage: asking peers (75)
  kReady,        ///< found; the handle is ready (final)
  kUnavailable,  ///< nobody has it (final)
  kFailed,       ///< deleted, timed out, or called after stop(); `error` says which (final)
};
/// "loading", "requesting", "ready", "unavailable", "failed".
const char* to_string(FindState state);

/// One step of Repo::find_with_progress. A plain value.
struct FindProgress {
  FindState state = FindState::kLoading;  ///< the step
  int progress = 0;     ///< JS's loading percentage: 0, 25, 50, 75; 100 on a final step
  DocHandle handle;     ///< the document's handle (empty only when the repo had stopped)
  std::optional<Error> error;  ///< kFailed: why
};

/// A connection's life, reported by Repo::on_connection_event.
struct ConnectionEvent {
  /// What happened.
  enum class Kind {
    kConnected,          ///< the transport is open; the join/peer handshake starts
    kHandshakeComplete,  ///< `peer` and its metadata are known; documents sync from now on
    kClosed,             ///< `reason` says why; `detail` for people
    kDialFailed,         ///< a dial attempt failed before any connection (`detail` says why, e.g.
                         ///< HTTP 401); the dialer retries per its Backoff. `connection` is 0.
  };
  /// Why a connection closed (kNone for the other kinds): they closed it, an I/O error, a
  /// protocol error (ours or theirs), they sent `error`, a newer connection of the same peer
  /// replaced it, no join/peer handshake in time, we closed it, or the transport timed out (a
  /// keepalive pong missed, or the transport's own handshake, such as a WebSocket upgrade, too
  /// slow).
  enum class Reason { kNone, kTheyClosed, kIoError, kProtocolError, kTheySentError, kReplaced,
                      kHandshakeTimeout, kLocalClose, kTimeout };
  Kind kind = Kind::kConnected;  ///< what happened
  std::uint64_t connection = 0;  ///< unique per repo
  std::string description;       ///< "ws://127.0.0.1:3030/", "tcp 127.0.0.1:5000"
  std::optional<PeerId> peer;                ///< once the handshake completed
  std::optional<StorageId> peer_storage_id;  ///< the peer's store, if it has one
  bool peer_is_ephemeral = true;             ///< the peer keeps nothing (JS isEphemeral)
  Reason reason = Reason::kNone;             ///< kClosed: why
  std::string detail;                        ///< kClosed: what happened, for people
};
const char* to_string(ConnectionEvent::Reason reason);

/// How a dialer retries: exponential backoff from `initial` to `max`, +-`jitter` (a fraction),
/// forever unless `max_attempts` (0 = unlimited).
struct Backoff {
  std::chrono::milliseconds initial{200};  ///< the first wait
  std::chrono::milliseconds max{10'000};   ///< the longest wait
  double jitter = 0.25;                    ///< each wait varies by up to this fraction
  std::size_t max_attempts = 0;            ///< give up after this many (0 = never)
};

/// One protocol message, for tracing (RepoOptions::message_trace).
struct MessageTrace {
  bool outgoing = false;          ///< sent by us (false: received)
  std::uint64_t connection = 0;   ///< as in ConnectionEvent
  std::string type;                       ///< "sync", "request", "join", ...; "undecodable"
  std::optional<std::string> sender;      ///< senderId
  std::optional<std::string> target;      ///< targetId
  std::optional<DocumentId> document;  ///< documentId, for document messages
  std::size_t bytes = 0;                  ///< the whole frame
  std::size_t data_bytes = 0;             ///< its `data` payload (sync message, ephemeral data)
};

/// Severity of a message the repo logs about something it handled itself.
enum class LogLevel { kError, kWarn, kInfo, kDebug };

/// Upper bounds (ms) of the sync reply latency histogram buckets in RepoStats.
inline constexpr std::int64_t kLatencyBucketsMs[] = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500};

/// Counters of a running repo (for health and metrics endpoints).
struct RepoStats {
  std::chrono::milliseconds uptime{0};  ///< since Repo::open
  std::size_t connections = 0;     ///< open transport connections
  std::size_t peers = 0;           ///< connections with a completed handshake
  std::size_t open_documents = 0;  ///< documents in memory
  std::uint64_t messages_in = 0;   ///< protocol messages received
  std::uint64_t messages_out = 0;  ///< protocol messages sent
  std::uint64_t bytes_in = 0;      ///< their bytes
  std::uint64_t bytes_out = 0;     ///< their bytes
  std::uint64_t connections_accepted = 0;  ///< since the start, including closed ones
  std::uint64_t writes_refused = 0;  ///< sync messages whose changes were dropped: the peer may only read
  /// Sync reply latency: from receiving a peer's sync message to sending the answer (after the
  /// durable save). Cumulative counts per bucket of kLatencyBucketsMs, plus the +Inf bucket last;
  /// `latency_sum_ms` and `latency_count` as Prometheus histograms have them.
  std::vector<std::uint64_t> latency_buckets;
  std::uint64_t latency_sum_ms = 0;  ///< sum of all latencies
  std::uint64_t latency_count = 0;   ///< how many were measured
};

/// Answers plain HTTP GETs on a WebSocket port: (content type, body) for a target, or nullopt
/// for 404. Runs on an io thread; must not block.
using HttpHandler = std::function<std::optional<std::pair<std::string, std::string>>(std::string_view target)>;

/// How a listener admits peers (Repo::listen_websocket, Repo::listen_tcp). Every field has a
/// default: any path, no HTTP endpoints, no authentication, no connection limit.
struct ListenOptions {
  /// WebSocket only: "/" accepts upgrades at any path; another value only at that path.
  std::string path = "/";
  /// WebSocket only: answers plain HTTP GETs (health, metrics).
  HttpHandler http_handler;
  /// Who may connect. Given the bearer token a peer presented (WebSocket `Authorization: Bearer`
  /// header or `?token=` query parameter; TCP a first `Bearer <token>` frame; empty when it
  /// presented none), returns the principal the share policy sees for this peer
  /// (SharePolicy::access_level), or an error: the peer is refused (HTTP 401 / a TCP `error`
  /// message) with the error's message. Unset: everyone, with an empty principal. Runs on an io
  /// thread; must be thread-safe and not block.
  std::function<Result<std::string>(std::string_view token)> authenticate;
  /// Connections open at once on this listener above which new ones are closed at once; 0 = no
  /// limit.
  std::size_t max_connections = 0;
  /// WebSocket only: serve wss:// (TLS 1.2+) with this PEM certificate chain and tls_key_file;
  /// listen_websocket fails (kInvalidArgument) when they do not load or do not match.
  std::string tls_cert_file;
  std::string tls_key_file;  ///< the PEM private key of tls_cert_file
};

/// How Repo::open sets up a repo. Every field has a default.
struct RepoOptions {
  /// Our PeerId; "peer-<random>" when empty.
  std::string peer_id;
  /// Where documents persist; null makes an ephemeral repo (no StorageId; JS isEphemeral).
  std::shared_ptr<StorageAdapter> storage;
  /// Default: share everything (the JS default for applications); servers use
  /// answer_requests_only().
  std::shared_ptr<const SharePolicy> share_policy;
  /// Documents never loaded or served.
  std::vector<DocumentId> denylist;
  std::size_t io_threads = 1;       ///< event-loop threads (network and documents)
  std::size_t storage_threads = 2;  ///< threads for blocking storage calls
  std::chrono::milliseconds save_debounce{100};  ///< local changes are saved this long after the last one
  /// Largest frame accepted from a peer (a first sync message carries a whole document).
  std::size_t max_message_bytes = kDefaultMaxMessageBytes;
  /// The join/peer handshake (and a WebSocket upgrade) must finish in this time.
  std::chrono::milliseconds handshake_timeout{10'000};
  /// WebSocket servers ping every client this often and drop one that misses a pong; 0 = off.
  std::chrono::milliseconds ping_interval{5'000};
  /// A connection whose unsent frames exceed this many bytes (a peer that stopped reading) is
  /// closed instead of growing memory; 0 = no limit.
  std::size_t max_queued_bytes = kDefaultMaxQueuedBytes;
  /// Documents one connection may open per second (requests or sync messages for documents
  /// not in memory, each costing a storage read), with bursts of as many; above it that peer's
  /// further such messages wait, in order, and a peer with 10,000 waiting is disconnected.
  /// 0 = no limit (the library default; amrepo serve sets 1000).
  double max_document_opens_per_second = 0;
  /// Documents untouched this long, fully saved and synced with no connected peer (no handle
  /// held either) are dropped from memory and loaded again from storage when next needed.
  /// 0 = keep every document in memory (the default); ignored without storage.
  std::chrono::milliseconds idle_timeout{0};
  /// What one chunk of a document found through storage or peers may inflate to (the
  /// decompression cap); beyond it the chunk or message is refused (kResourceLimit).
  std::size_t max_inflated_bytes = kDefaultMaxInflatedBytes;
  /// Peers of the Go port automerge-repo-go (UUID ids, `message` payloads, a join without
  /// metadata or versions; its first version's JSON framing too) are recognised by their join
  /// and spoken to in their dialect (docs/interop.md, "Legacy peers"). Current peers never send
  /// such a join. false: such a join is taken as a current one and the peer's frames fail.
  bool accept_go_peers = true;
  /// wss:// dials trust servers whose certificates this PEM file's CAs signed (a self-signed
  /// server certificate can be its own CA); empty: the system's CA certificates.
  std::string tls_ca_file;
  /// Where the repo reports what it handled itself (a storage write that failed and will be
  /// retried, an unreadable chunk left in place, a peer dropped for a protocol error). Called
  /// from io threads; must be thread-safe. Default: errors and warnings to stderr.
  std::function<void(LogLevel, const std::string&)> log;
  /// Remote-heads gossip (JS enableRemoteHeadsGossiping; docs/remote-heads.md): keep the heads
  /// peers with a StorageId report (DocHandle::remote_heads), relay subscriptions to StorageIds
  /// to the peers the share policy announces to, and send subscribers the heads we learn.
  /// Off (the default, as in JS): gossip messages are ignored and none are sent.
  bool enable_remote_heads_gossiping = false;
  /// Called for every message sent or received (from io threads, possibly concurrently; it must
  /// be thread-safe and quick). Costs a decode per frame when set.
  std::function<void(const MessageTrace&)> message_trace;
};

/// Identifies a listener or dialer of a repo.
using EndpointId = std::uint64_t;

/// A store of Automerge documents that syncs with peers and persists to storage: the
/// automerge-repo Repo. Create it with open(); it owns its threads (see the file comment).
/// Ownership: unique; destroying it stops it. Thread safety: every member is safe from any
/// thread; the blocking ones (find(...).get(), sync_all, flush, stop) not from its callbacks.
class Repo {
 public:
  /// Starts the repo's threads and reads (or creates) the StorageId. kIOError if storage fails.
  [[nodiscard]] static Result<std::unique_ptr<Repo>> open(RepoOptions options);
  /// stop().
  ~Repo();
  Repo(const Repo&) = delete;
  Repo& operator=(const Repo&) = delete;

  /// Our PeerId (RepoOptions::peer_id or the generated one).
  const PeerId& peer_id() const;
  /// This repo's StorageId; nullopt for an ephemeral repo.
  std::optional<StorageId> storage_id() const;

  /// A new document holding one empty change (never an empty document, as JS create()).
  DocHandle create();
  /// A new document with `initial`'s history (its changes are copied).
  [[nodiscard]] Result<DocHandle> create(const Document& initial);
  /// A document from saved bytes (JS import), under `id` or a new random id.
  [[nodiscard]] Result<DocHandle> import(ByteView saved, std::optional<DocumentId> id = std::nullopt);
  /// Finds a document: open handles, then storage, then peers. The callback gets the ready
  /// handle, kNotFound ("unavailable") when no reachable peer has it, or kTimeout.
  void find(const DocumentId& id, std::function<void(Result<DocHandle>)> callback,
            std::chrono::milliseconds timeout = std::chrono::seconds(60));
  /// find() as a future.
  std::future<Result<DocHandle>> find(const DocumentId& id,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(60));
  /// find() of an id as text (JS find(id)): an automerge: URL (with heads: a read-only view()
  /// at those heads, kInvalidArgument when the document lacks them), bs58check text,
  /// or a legacy UUID (parse_document_id_loose; the first UUID logs a deprecation warning, as
  /// the reference does). Text that is none of these completes with kInvalidArgument.
  std::future<Result<DocHandle>> find(std::string_view id_or_url,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(60));
  /// The saved bytes of a document (found as find() does).
  [[nodiscard]] Result<Bytes> export_document(const DocumentId& id,
                                              std::chrono::milliseconds timeout = std::chrono::seconds(60));
  /// find() with each step reported (JS findWithProgress): `on_progress` runs on an io thread,
  /// in order, ending with exactly one final step (kReady, kUnavailable or kFailed). A document
  /// already in memory in a final state answers with that one step; otherwise the steps are
  /// loading 0, loading 25, then loading 50 (found in storage) or requesting 75 (asking
  /// peers), then the final one. After `timeout` without a final step: kFailed with kTimeout.
  /// A find still running when the repo stops reports nothing more.
  void find_with_progress(const DocumentId& id, std::function<void(const FindProgress&)> on_progress,
                          std::chrono::milliseconds timeout = std::chrono::seconds(60));
  /// Deletes a document from this repo and its storage (local only, as in JS).
  [[nodiscard]] Status remove(const DocumentId& id);
  /// Drops a document from memory without deleting it (JS removeFromCache): waits until it is
  /// ready and saved, then forgets it, so peers' messages and the next find() load it from
  /// storage into a new handle; handles still held report kUnloaded and refuse changes. Blocks
  /// (not from a callback). kNotFound when it is not in memory, kInvalidArgument when it is
  /// unavailable or deleted (JS only logs these two; so do we, at warn level), kTimeout,
  /// kCancelled after stop().
  [[nodiscard]] Status remove_from_cache(const DocumentId& id,
                                         std::chrono::milliseconds timeout = std::chrono::seconds(30));
  /// Calls `observer` for every DocumentEvent (on an io thread; those of one document in
  /// order) while the subscription lives.
  Subscription on_document_event(std::function<void(const DocumentEvent&)> observer);
  /// Replaces the share policy (null: share_everything()) and re-evaluates it as
  /// share_policy_changed() does.
  void set_share_policy(std::shared_ptr<const SharePolicy> policy);
  /// The share policy's answers changed (JS shareConfigChanged): every open document is
  /// re-evaluated for every connected peer. A peer it now announces to starts syncing the
  /// document; a peer it no longer gives access to stops. Asynchronous.
  void share_policy_changed();
  /// Asks to hear the heads of these stores (JS subscribeToRemotes) for the documents open here:
  /// the subscription goes to every connected peer the share policy announces to (and to those
  /// that connect later), which relay it on; their answers reach DocHandle::on_remote_heads.
  /// Asynchronous. Without RepoOptions::enable_remote_heads_gossiping it only logs a warning,
  /// as JS does.
  void subscribe_to_remotes(std::vector<StorageId> storage_ids);
  /// Ends subscribe_to_remotes for these stores (JS unsubscribeFromRemotes).
  void unsubscribe_from_remotes(std::vector<StorageId> storage_ids);
  /// Documents open in memory.
  std::vector<DocumentId> open_documents() const;
  /// Documents in storage (reads the store's keys; may be slow for big stores).
  [[nodiscard]] Result<std::vector<DocumentId>> stored_documents() const;
  /// Reads an open, ready document's chunks from storage again and merges what another process
  /// sharing the store saved (for servers behind one database; see StorageChangeFeed). New
  /// changes reach observers and peers as changes received from a peer do, and are not saved
  /// again. Asynchronous; does nothing for a document that is not open, that is unavailable,
  /// or in an ephemeral repo; a document still loading or saving is read again shortly after.
  void reload_document(const DocumentId& id);

  /// Accepts WebSocket clients (JS WebSocketClientAdapter, or connect_websocket) on host:port
  /// (port 0 picks one). Returns the bound port.
  [[nodiscard]] Result<std::uint16_t> listen_websocket(const std::string& host, std::uint16_t port,
                                                       const std::string& path = "/",
                                                       HttpHandler http_handler = {});
  /// As above, with authentication and limits.
  [[nodiscard]] Result<std::uint16_t> listen_websocket(const std::string& host, std::uint16_t port,
                                                       ListenOptions options);
  /// Accepts length-prefixed TCP connections. Returns the bound port.
  [[nodiscard]] Result<std::uint16_t> listen_tcp(const std::string& host, std::uint16_t port,
                                                 ListenOptions options = {});
  /// Connects to ws[s]://host:port/path and keeps reconnecting (with `backoff`) until stop().
  /// A nonempty `auth_token` is presented as `Authorization: Bearer <token>`.
  EndpointId connect_websocket(const std::string& url, Backoff backoff = {}, std::string auth_token = {});
  /// Connects over length-prefixed TCP and keeps reconnecting until stop(). A nonempty
  /// `auth_token` is sent as the first frame (see ListenOptions::authenticate).
  EndpointId connect_tcp(const std::string& host, std::uint16_t port, Backoff backoff = {},
                         std::string auth_token = {});
  /// Syncs over a connection the application made itself (am/repo/transport.h,
  /// docs/transports.md), exactly as over a built-in transport's: the same join/peer handshake
  /// (and its handshake_timeout), the same limits (max_message_bytes, document-open rate), the
  /// share policy sees Connection::principal(), and the same ConnectionEvents and stats. `role`
  /// says which side we are: kDialer sends `join`, kAcceptor answers it. The repo starts the
  /// connection, keeps it until its on_close, and closes it on stop(); it does not redial (see
  /// connect()). After stop() the connection is closed at once.
  void add_connection(std::shared_ptr<Connection> connection, ConnectionRole role);
  /// Dials through `connector` as the dialing side and keeps reconnecting with `backoff` until
  /// disconnect() or stop(), like connect_tcp: a new attempt after each failed dial and after
  /// each connection closes. `description` names the endpoint in kDialFailed events.
  EndpointId connect(Connector connector, std::string description, Backoff backoff = {});
  /// Stops a dialer (its connection closes) or a listener.
  void disconnect(EndpointId endpoint);
  /// Posts tasks to this repo's io threads (for transports that deliver on the repo's threads,
  /// e.g. InProcessTransport::connect). The executor may outlive the repo: after stop() it drops
  /// what it is given. Tasks posted from one thread may run concurrently when io_threads > 1.
  Executor executor() const;

  /// Calls `observer` for every connection event (on an io thread) while the subscription lives.
  Subscription on_connection_event(std::function<void(const ConnectionEvent&)> observer);
  /// Completes with the kClosed event of connection `connection` (automerge-repo-rs's
  /// ConnComplete). nullopt when no such connection is open (it never existed or already
  /// closed); ask from the kConnected event to never miss one.
  std::optional<std::shared_future<ConnectionEvent>> connection_finished(std::uint64_t connection) const;
  /// Counters for health and metrics endpoints.
  RepoStats stats() const;
  /// Peers with a completed handshake.
  std::vector<PeerId> peers() const;
  /// Blocks until `peer` has completed a handshake, or `timeout`.
  [[nodiscard]] Status wait_for_peer(const PeerId& peer, std::chrono::milliseconds timeout) const;
  /// Blocks until every ready document is in sync with every peer it is shared with.
  [[nodiscard]] Status sync_all(std::chrono::milliseconds timeout);
  /// Saves every document with unsaved changes and waits for the writes.
  [[nodiscard]] Status flush(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  /// Flushes saves, closes connections and listeners, stops the threads. Idempotent.
  void stop();

  /// @cond INTERNAL
  struct Impl;
  /// @endcond

 private:
  struct Threads;
  Repo(std::shared_ptr<Impl> impl, std::unique_ptr<Threads> threads);
  std::shared_ptr<Impl> impl_;
  // Declared after impl_ so it is destroyed first: pending work that refers to impl_ and to
  // open sockets goes with it, and the sockets close.
  std::unique_ptr<Threads> threads_;
};

}  // namespace am::repo
