// am::repo::Presence: who else has a document open and what they are doing (cursors, names,
// selections), shared through the document's ephemeral messages, wire-compatible with the JS
// reference's Presence (@automerge/automerge-repo 2.5.6, src/presence).
//
//   am::repo::Presence presence(handle);
//   (void)presence.start(R"({"name":"ada","cursor":0})");
//   auto sub = presence.on_event([&](const am::repo::PresenceEvent& e) { ... });
//   (void)presence.broadcast("cursor", "12");
//   for (const auto& peer : presence.peer_states()) { ... peer.state ... }
//   presence.stop();  // peers forget us at once
//
// Model (the reference's). Our state is a JSON object whose keys are channels. start() sends it
// whole (a "snapshot"); broadcast(channel, value) replaces one channel and sends only that (an
// "update"). With nothing to send for a heartbeat interval we send a "heartbeat". Each peer's
// state is the merge of what it sent: a snapshot or update replaces the channels it names and
// keeps the others. A peer is forgotten when it says goodbye (stop()), or when nothing came from
// it for the peer TTL (checked once per heartbeat interval). A message from a peer we do not
// know makes us send our snapshot again shortly after (announce_delay), so a peer that joins
// late learns our state; a heartbeat from an unknown peer does not make it known.
//
// Values. Given and returned as JSON text (objects, arrays, strings, numbers, booleans, null).
// On the wire each message is the CBOR map {"__presence": {type, ...}} that JS handle.broadcast
// writes with cbor-x: integers beyond 32 bits go as float64 (as cbor-x writes JS numbers), so JS
// reads numbers, never BigInts. From a peer, a JS undefined reads as null and a byte string
// (Uint8Array) as an array of its byte values. What a peer sends that is not a presence message
// (or nests deeper than 32 levels) is ignored.
//
// Ownership. A Presence holds its DocHandle; destroying it stops it (sending goodbye). Timers run
// on the repo's timer and io threads; once the repo stops, nothing more is sent or received.
//
// Threads. Every member may be called from any thread, except that the destructor must not run
// inside an observer. Observers run on the repo's io threads, one at a time, in the order the
// messages and timers were handled; they may call the Presence's members (not its destructor).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "am/repo/ids.h"
#include "am/repo/repo.h"
#include "am/result.h"

namespace am::repo {

/// The reference's default heartbeat interval (DEFAULT_HEARTBEAT_INTERVAL_MS).
inline constexpr std::chrono::milliseconds kPresenceHeartbeatInterval{15000};
/// The reference's default peer TTL, three heartbeat intervals (DEFAULT_PEER_TTL_MS).
inline constexpr std::chrono::milliseconds kPresencePeerTtl{3 * kPresenceHeartbeatInterval};
/// The reference waits this long before answering an unknown peer with our snapshot (it
/// hard-codes it, so that the new peer is ready to receive).
inline constexpr std::chrono::milliseconds kPresenceAnnounceDelay{500};

/// How a Presence paces itself (JS start({heartbeatMs, peerTtlMs})). Shorter values are for
/// tests; both sides of a conversation should agree within a factor of a few.
struct PresenceOptions {
  /// With nothing else sent for this long, a heartbeat is sent; peers are also checked for
  /// expiry at this period.
  std::chrono::milliseconds heartbeat_interval = kPresenceHeartbeatInterval;
  /// A peer that sent nothing for this long is forgotten at the next check.
  std::chrono::milliseconds peer_ttl = kPresencePeerTtl;
  /// Delay before answering a message from an unknown peer with our snapshot.
  std::chrono::milliseconds announce_delay = kPresenceAnnounceDelay;
};

/// What we know of one peer (JS PeerState). A plain value.
struct PeerPresenceState {
  PeerId peer;        ///< the peer (JS peerId: the sending repo's peer id)
  std::string state;  ///< its channels and their values, a JSON object (compact text)
  std::chrono::steady_clock::time_point last_seen;    ///< when anything last came from it
  std::chrono::steady_clock::time_point last_active;  ///< when its state last changed
};

/// One thing that happened to a peer, reported by Presence::on_event (JS Presence events
/// "snapshot", "update", "heartbeat", "goodbye", and "pruning" split into one kExpired per peer).
/// A plain value.
struct PresenceEvent {
  /// What happened.
  enum class Kind {
    kSnapshot,   ///< the peer sent its whole state (`value`); the peer is known from now on
    kUpdate,     ///< the peer set one channel (`channel`, `value`); the peer is known from now on
    kHeartbeat,  ///< the peer is still there (reported even for an unknown peer, as JS does)
    kGoodbye,    ///< the peer stopped; it is forgotten
    kExpired,    ///< nothing came from the peer for the TTL; it is forgotten
  };
  Kind kind = Kind::kSnapshot;  ///< what happened
  PeerId peer;                  ///< to whom
  /// kSnapshot, kUpdate: the peer was not known before this message (it joined).
  bool joined = false;
  std::string channel;  ///< kUpdate: which channel
  std::string value;    ///< kSnapshot: the state sent; kUpdate: the channel's value (JSON text)
};
/// "snapshot", "update", "heartbeat", "goodbye", "expired".
const char* to_string(PresenceEvent::Kind kind);

/// Ephemeral per-peer state on one document (JS Presence). See the file comment for the model.
/// Not copyable or movable (timers and the ephemeral observer refer to it).
class Presence {
 public:
  /// Inactive until start(). REQUIRES: a handle from a repo (not default-constructed).
  explicit Presence(DocHandle handle);
  /// stop(), then unregisters. REQUIRES: not inside one of this Presence's observers.
  ~Presence();
  Presence(const Presence&) = delete;
  Presence& operator=(const Presence&) = delete;

  /// Starts listening to the document's ephemeral messages, sends `initial_state` (a JSON
  /// object) to the peers and starts heartbeats and peer expiry. Forgets the peers of an
  /// earlier run. kInvalidArgument if `initial_state` is not a JSON object, kCancelled if the
  /// repo has stopped; a no-op (success) if already running.
  [[nodiscard]] Status start(std::string_view initial_state = "{}", PresenceOptions options = {});
  /// Sets `channel` of our state to `value` (JSON text) and sends it to the peers. The state
  /// changes even when not running (then nothing is sent, as in JS). kInvalidArgument if
  /// `value` is not JSON.
  [[nodiscard]] Status broadcast(std::string_view channel, std::string_view value);
  /// Sends goodbye (peers forget us at once), stops heartbeats and expiry and stops listening.
  /// The peers' last states stay readable. Idempotent.
  void stop();
  /// Between start() and stop().
  bool running() const;

  /// Our state, a JSON object (compact text).
  std::string local_state() const;
  /// The peers we know, by peer id.
  std::vector<PeerPresenceState> peer_states() const;
  /// One peer's state, if we know it.
  std::optional<PeerPresenceState> peer_state(const PeerId& peer) const;
  /// Called for every event of every peer (see PresenceEvent), on an io thread.
  Subscription on_event(std::function<void(const PresenceEvent&)> observer);

  /// @cond INTERNAL
  struct State;  // shared with the timers and the ephemeral observer (src/repo/runtime/presence.cc)
  /// @endcond

 private:
  std::shared_ptr<State> state_;
};

}  // namespace am::repo
