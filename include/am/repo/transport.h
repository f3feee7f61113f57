// am::repo::Connection: the seam between a Repo and whatever carries its messages. The built-in
// WebSocket and TCP transports implement it (Repo::listen_websocket, Repo::connect_tcp, ...); an
// application implements it to sync over its own channel (a game's session, a device link, a
// pipe between processes) and hands the connection to Repo::add_connection or, to be redialed
// with backoff, to Repo::connect. docs/transports.md explains how to write one, with a complete
// example (examples/custom_transport.cc).
//
// A connection carries whole frames: one CBOR-encoded automerge-repo message per frame, ordered
// and reliable. The transport frames them however its channel needs (a length prefix on a byte
// stream, one message per datagram of a reliable message channel) and never splits, merges,
// reorders or drops frames of an open connection.
//
// Threading contract (the part to get right):
//   - send(), close() and describe() may be called from any thread, concurrently, also from
//     inside the handler's callbacks; they must not block for long (queue, then return) and must
//     not call the handler synchronously.
//   - The handler's callbacks may run on any thread the transport owns, but the callbacks of one
//     connection are serialized: never two at once, each frame in the order it arrived, on_close
//     exactly once and last.
//   - Callbacks must not throw.
// The Repo's handler only posts work to the repo's own threads, so it returns quickly and never
// calls back into the connection from inside a callback.
//
// This header includes no third-party header.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "am/bytes.h"
#include "am/result.h"

namespace am::repo {

/// Why a connection closed.
enum class CloseReason {
  kLocalClose,     ///< Connection::close() was called on this side
  kPeerClosed,     ///< the peer closed cleanly (TCP end of stream between frames, WS close frame)
  kIoError,        ///< the channel failed or was reset, or the stream ended abruptly
  kProtocolError,  ///< the peer broke the framing (bad WS frame, WS text message)
  kFrameTooLarge,  ///< the peer announced or sent a frame above the transport's frame limit
  kTimeout,        ///< missed keepalive pong, or a handshake that took too long
  kSlowPeer,       ///< the peer reads so slowly that too many of our frames piled up
};

/// Why a connection closed and, for people, what happened ("read: Connection reset by peer").
/// A plain value.
struct CloseInfo {
  CloseReason reason = CloseReason::kLocalClose;  ///< the category a Repo acts on
  std::string detail;                             ///< for logs and ConnectionEvent::detail
};

/// "local-close", "peer-closed", "io-error", "protocol-error", "frame-too-large", "timeout",
/// "slow-peer".
std::string_view to_string(CloseReason reason);

/// One established, ordered, reliable, message-oriented connection to one peer. Implement it to
/// plug a new channel into a Repo (see the file comment and docs/transports.md).
///
/// Ownership: shared (std::shared_ptr). A Repo keeps its reference until on_close; the
/// implementation should keep itself alive while its channel is open (e.g. its reader thread
/// or pending operations hold a shared_ptr to it), so dropping the last user reference does not
/// close it: close() does. Release the handler right after calling on_close, which breaks
/// cycles through handlers that capture the connection.
///
/// Thread safety: send(), close(), describe() and principal() are safe from any thread, also
/// from inside the handler's callbacks. start() is called once. The callbacks follow the
/// contract in the file comment.
class Connection {
 public:
  /// The receiver's callbacks; a receiver sets both.
  struct Handler {
    /// One received frame, in the order the peer sent them.
    std::function<void(Bytes)> on_frame;
    /// Called exactly once, after the last on_frame. (A built-in transport whose event loop
    /// was stopped calls nothing more.)
    std::function<void(const CloseInfo&)> on_close;
  };

  virtual ~Connection() = default;

  /// Starts delivering frames; frames that arrived earlier are delivered first, in order. If the
  /// connection closed before start(), on_close is delivered after start(). REQUIRES: called once.
  virtual void start(Handler handler) = 0;

  /// Queues `frame` for sending; frames go out in the order send() was called. A frame sent
  /// after the connection closed is dropped silently. A transport with a frame limit need not
  /// check it here (the receiver enforces its own limit).
  virtual void send(Bytes frame) = 0;

  /// Closes the connection; on_close(kLocalClose) follows unless it already closed for another
  /// reason. Frames queued earlier are flushed best-effort, for a bounded time. Idempotent.
  virtual void close() = 0;

  /// For logs and ConnectionEvent::description: "tcp 127.0.0.1:5432", "ws://127.0.0.1:3030/",
  /// "unix /run/app.sock".
  virtual std::string describe() const = 0;

  /// Whom the transport authenticated the peer as: the name the share policy sees
  /// (SharePolicy::access_level) and logs show. Empty (the default) for an unauthenticated
  /// peer, and on the dialing side. Constant once the connection is handed to a Repo.
  virtual std::string principal() const { return {}; }
};

/// Runs a task later on some thread it owns, never inside the call (Repo::executor() posts to a
/// repo's io threads; InProcessTransport delivers through one). An executor that was shut down
/// may drop tasks. Must be thread-safe.
using Executor = std::function<void(std::function<void()> task)>;

/// Which side of a connection we are. The automerge-repo handshake is asymmetric: the dialer
/// (kDialer) sends `join` first and the acceptor (kAcceptor) answers with `peer`.
enum class ConnectionRole {
  kDialer,    ///< we opened the connection (a client): we send `join`
  kAcceptor,  ///< the peer opened it (a server): we wait for `join`
};

/// Receives the result of one dial: a connection (not yet started) or why dialing failed (the
/// error's message goes to ConnectionEvent::detail of a kDialFailed event). Call it exactly once,
/// from any thread.
using DialCallback = std::function<void(Result<std::shared_ptr<Connection>>)>;

/// Makes one attempt to open a connection, reporting the outcome to the callback (later, from
/// any thread, or before returning). Repo::connect calls it again, after a backoff wait, each
/// time the previous connection closed or the attempt failed: the first time on the thread
/// calling Repo::connect, later on one of the repo's threads. Must not block: a slow dial runs
/// on a thread of its own and calls the callback from there.
using Connector = std::function<void(DialCallback on_dialed)>;

}  // namespace am::repo
