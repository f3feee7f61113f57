// am::repo::InProcessTransport: two Connection endpoints joined in memory, for connecting two
// Repos of one process with no socket (an app's UI repo and its background repo, tests).
//
//   auto a = am::repo::Repo::open({}).value();
//   auto b = am::repo::Repo::open({}).value();
//   am::repo::InProcessTransport::connect(*a, *b);  // a dials, b accepts; both handshake and sync
//
// Each endpoint delivers its frames and its close through an Executor, so the receiver's
// callbacks never run on the sender's thread: connect() uses each repo's own threads
// (Repo::executor()); pair() takes any two executors. The endpoints pass the transport
// conformance suite (tests/support/transport_conformance.h) like the built-in transports.
//
// This header includes no third-party header.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "am/repo/transport.h"

namespace am::repo {

class Repo;

/// How an in-process pair behaves. A plain value; every field has a default.
struct InProcessOptions {
  /// Largest frame each endpoint accepts; a bigger one closes the receiver with
  /// kFrameTooLarge (and the sender with kPeerClosed). 0 = no limit (the default: both ends
  /// are in one process, and each Repo still enforces its own max_message_bytes).
  std::size_t max_frame_bytes = 0;
  /// Names the pair in describe() ("in-process <name> a" / "... b"); empty: a number.
  std::string name;
};

/// Makes connected pairs of in-memory endpoints. Stateless; every member is static and
/// thread-safe.
///
/// Semantics of an endpoint (a Connection, see am/repo/transport.h for the contract):
///   - send() hands the frame to the other endpoint at once (no copy, no thread switch); the
///     other endpoint's on_frame runs later on its executor, in send order.
///   - close() drops the frames this endpoint has not delivered yet and reports kLocalClose
///     to it; the other endpoint gets the frames already sent to it, then kPeerClosed. Frames
///     sent by either side after that are dropped.
///   - Callbacks of one endpoint are serialized even on a multi-threaded executor (one task
///     drains its queue at a time); on_close comes exactly once and last, then the handler is
///     released.
///   - The two endpoints share their state; either may be dropped by its user at any time
///     (whoever holds the other, e.g. a Repo, keeps the shared state alive).
class InProcessTransport {
 public:
  /// Two connected endpoints, not started: the first delivers its callbacks through
  /// `executor_a`, the second through `executor_b` (they may be the same).
  static std::pair<std::shared_ptr<Connection>, std::shared_ptr<Connection>> pair(
      Executor executor_a, Executor executor_b, InProcessOptions options = {});

  /// Connects two running repos: makes a pair on their executors, hands the first endpoint to
  /// `dialer` (Repo::add_connection, kDialer: it sends `join`) and the second to `acceptor`
  /// (kAcceptor). The handshake, share policy, events and stats are those of any connection;
  /// stopping either repo closes the pair, and the other repo sees kTheyClosed. No redial.
  /// REQUIRES: distinct repos with distinct peer ids.
  static void connect(Repo& dialer, Repo& acceptor, InProcessOptions options = {});
};

}  // namespace am::repo
