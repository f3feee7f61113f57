// am::repo::Presence (include/am/repo/presence.h): the reference's presence protocol over a
// document's ephemeral messages, with its timers on the repo's TimerService.
//
// Locking: `mutex` guards the state and is held while sending (so sends leave in the order the
// state changed). `event_mutex` is taken first by whatever handles a peer's message or a timer
// and held until its observers have run, so observers run one at a time and in order; observers
// may take `mutex` (every public member), never `event_mutex`. Neither is held while calling
// into the repo in a way that could call back into us.
#include "am/repo/presence.h"

#include <limits>
#include <map>
#include <mutex>

#include <nlohmann/json.hpp>

#include "repo/runtime/repo_impl.h"

namespace am::repo {

using nlohmann::json;

namespace {

// The reference's envelope key and message types (src/presence/constants.ts, types.ts).
constexpr const char* kMarker = "__presence";
constexpr const char* kSnapshot = "snapshot";
constexpr const char* kUpdate = "update";
constexpr const char* kHeartbeat = "heartbeat";
constexpr const char* kGoodbye = "goodbye";

// Limits on what a peer's message may hold: presence states are small; these keep a hostile
// peer from making the CBOR decoder recurse deeply or allocate a huge tree.
constexpr std::size_t kMaxDepth = 32;
constexpr std::size_t kMaxItems = std::size_t{1} << 16;

// Compact JSON text; invalid UTF-8 from a peer becomes U+FFFD rather than an exception.
std::string text_of(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

// cbor-x writes a JS number that is an integer of 32 bits or less as a CBOR integer and any other
// number as a float; a CBOR uint64/int64 would decode in JS as a BigInt. Wider integers are made
// doubles first, so what JS reads is what a JS peer would have sent.
void widen_large_integers(json& value) {
  constexpr std::int64_t kMinInt = -(std::int64_t{1} << 32);
  constexpr std::uint64_t kMaxUint = (std::uint64_t{1} << 32) - 1;
  if (value.is_number_unsigned()) {
    const auto n = value.get<std::uint64_t>();
    if (n > kMaxUint) value = static_cast<double>(n);
  } else if (value.is_number_integer()) {
    const auto n = value.get<std::int64_t>();
    if (n < kMinInt || (n > 0 && static_cast<std::uint64_t>(n) > kMaxUint)) value = static_cast<double>(n);
  } else if (value.is_structured()) {
    for (auto& child : value) widen_large_integers(child);
  }
}

Bytes encode_envelope(json message) {
  widen_large_integers(message);
  json envelope = json::object();
  envelope[kMarker] = std::move(message);
  const std::vector<std::uint8_t> cbor = json::to_cbor(envelope);
  return Bytes(cbor.begin(), cbor.end());
}

// A first pass over a peer's CBOR, before nlohmann's DOM builder (which recurses, and trusts
// declared lengths) sees it: checks the structure, refuses deep nesting and huge item counts,
// and turns each `undefined` (0xf7, what cbor-x writes for a JS undefined, which nlohmann does
// not read) into null, as JSON.stringify does in an array.
class CborPrepass {
 public:
  explicit CborPrepass(Bytes& data) : data_(data) {}
  bool run() {
    std::size_t pos = 0;
    return item(pos, 0) && pos == data_.size();
  }

 private:
  // One item's initial byte and argument; `info` 31 is an indefinite length.
  bool head(std::size_t& pos, std::uint8_t& major, std::uint8_t& info, std::uint64_t& arg) const {
    if (pos >= data_.size()) return false;
    const std::uint8_t b = data_[pos++];
    major = static_cast<std::uint8_t>(b >> 5);
    info = static_cast<std::uint8_t>(b & 0x1f);
    arg = info;
    if (info < 24) return true;
    if (info > 27) return info == 31;  // 28-30 are reserved
    const std::size_t n = std::size_t{1} << (info - 24);
    if (data_.size() - pos < n) return false;
    arg = 0;
    for (std::size_t i = 0; i < n; ++i) arg = (arg << 8) | data_[pos++];
    return true;
  }

  bool at_break(std::size_t& pos) {
    if (pos < data_.size() && data_[pos] == 0xff) {
      ++pos;
      return true;
    }
    return false;
  }

  bool item(std::size_t& pos, std::size_t depth) {
    if (++items_ > kMaxItems || depth > kMaxDepth) return false;
    const std::size_t start = pos;
    std::uint8_t major = 0, info = 0;
    std::uint64_t arg = 0;
    if (!head(pos, major, info, arg)) return false;
    switch (major) {
      case 0:
      case 1: return info != 31;
      case 2:
      case 3:
        if (info == 31) {  // chunks of the same major type up to a break
          while (!at_break(pos)) {
            std::uint8_t chunk_major = 0, chunk_info = 0;
            std::uint64_t length = 0;
            if (!head(pos, chunk_major, chunk_info, length) || chunk_major != major || chunk_info == 31 ||
                data_.size() - pos < length) {
              return false;
            }
            pos += static_cast<std::size_t>(length);
          }
          return true;
        }
        if (data_.size() - pos < arg) return false;
        pos += static_cast<std::size_t>(arg);
        return true;
      case 4:
      case 5: {
        const std::uint64_t per_entry = major == 5 ? 2 : 1;
        if (info == 31) {
          while (!at_break(pos)) {
            if (pos >= data_.size()) return false;
            for (std::uint64_t k = 0; k < per_entry; ++k) {
              if (!item(pos, depth + 1)) return false;
            }
          }
          return true;
        }
        if (arg > kMaxItems) return false;
        for (std::uint64_t k = 0; k < arg * per_entry; ++k) {
          if (!item(pos, depth + 1)) return false;
        }
        return true;
      }
      case 6: return info != 31 && item(pos, depth + 1);  // a tag: its item follows
      default:  // 7: simple values and floats (head() took their bytes)
        if (info == 23) data_[start] = 0xf6;
        return info != 31;  // a break outside an indefinite-length item
    }
  }

  Bytes& data_;
  std::size_t items_ = 0;
};

// Byte strings (a JS Uint8Array) have no JSON form: they become arrays of byte values.
void bytes_to_arrays(json& value) {
  if (value.is_binary()) {
    const std::vector<std::uint8_t>& bytes = value.get_binary();
    value = json(std::vector<unsigned>(bytes.begin(), bytes.end()));
  } else if (value.is_structured()) {
    for (auto& child : value) bytes_to_arrays(child);
  }
}

// The presence message inside a peer's ephemeral data, or nullopt if it is not one.
std::optional<json> decode_presence_message(const Bytes& received) {
  Bytes data = received;
  if (!CborPrepass(data).run()) return std::nullopt;
  try {
    json envelope = json::from_cbor(data.begin(), data.end(), /*strict=*/true, /*allow_exceptions=*/false,
                                    json::cbor_tag_handler_t::ignore);
    if (!envelope.is_object()) return std::nullopt;
    auto it = envelope.find(kMarker);
    if (it == envelope.end() || !it->is_object()) return std::nullopt;
    auto type = it->find("type");
    if (type == it->end() || !type->is_string()) return std::nullopt;
    bytes_to_arrays(*it);
    return std::move(*it);
  } catch (const json::exception&) {  // declared lengths too large for the DOM builder, etc.
    return std::nullopt;
  }
}

Result<json> parse_json(std::string_view text, const char* what) {
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return fail(Error::invalid_argument(what, "not valid JSON: " + std::string(text)));
  return value;
}

}  // namespace

const char* to_string(PresenceEvent::Kind kind) {
  switch (kind) {
    case PresenceEvent::Kind::kSnapshot: return kSnapshot;
    case PresenceEvent::Kind::kUpdate: return kUpdate;
    case PresenceEvent::Kind::kHeartbeat: return kHeartbeat;
    case PresenceEvent::Kind::kGoodbye: return kGoodbye;
    case PresenceEvent::Kind::kExpired: return "expired";
  }
  return "?";
}

struct Presence::State : std::enable_shared_from_this<Presence::State> {
  using Clock = std::chrono::steady_clock;
  using Observer = std::function<void(const PresenceEvent&)>;
  struct Peer {
    json state = json::object();
    Clock::time_point last_seen;
    Clock::time_point last_active;
  };

  State(DocHandle h, std::weak_ptr<Repo::Impl> r) : handle(std::move(h)), repo(std::move(r)) {}

  DocHandle handle;  // set once; its members are thread-safe
  const std::weak_ptr<Repo::Impl> repo;

  std::mutex event_mutex;
  mutable std::mutex mutex;
  bool running = false;
  // Bumped by start() and stop(): a timer of an earlier run finds a different value and stops.
  std::uint64_t run = 0;
  // The next heartbeat is due then; sending state moves it (JS resetHeartbeats). One timer at a
  // time chases it, whatever the rate of updates: the run it was started for, 0 if none.
  Clock::time_point heartbeat_due;
  std::uint64_t heartbeat_timer_run = 0;
  PresenceOptions options;
  json local = json::object();
  std::map<PeerId, Peer> peers;
  std::uint64_t next_observer = 1;
  std::map<std::uint64_t, Observer> observers;
  Subscription ephemeral;

  // --- sending (with `mutex` held) ------------------------------------------------------------

  void send_locked(json message) {
    if (!running) return;
    handle.broadcast(encode_envelope(std::move(message)));
  }

  void send_snapshot_locked() {
    send_locked(json{{"type", kSnapshot}, {"state", local}});
    reset_heartbeats_locked();
  }

  void reset_heartbeats_locked() {
    if (!running) return;
    heartbeat_due = Clock::now() + options.heartbeat_interval;
    if (heartbeat_timer_run == run) return;  // the pending timer will find the new time
    heartbeat_timer_run = run;
    schedule_heartbeat(run, options.heartbeat_interval);
  }

  // --- timers ---------------------------------------------------------------------------------

  // Runs `task` on an io thread after `delay`, unless the repo stopped or this state is gone.
  void after(std::chrono::milliseconds delay, std::function<void(State&)> task) {
    auto impl = repo.lock();
    if (!impl || impl->stopped) return;
    impl->timers.schedule(Clock::now() + delay, [weak = weak_from_this(), task = std::move(task)] {
      if (auto self = weak.lock()) task(*self);
    });
  }

  void schedule_heartbeat(std::uint64_t for_run, std::chrono::milliseconds delay) {
    after(delay, [for_run](State& s) {
      std::lock_guard<std::mutex> lock(s.mutex);
      if (s.heartbeat_timer_run != for_run) return;  // a later run has its own timer
      if (!s.running || s.run != for_run) {
        s.heartbeat_timer_run = 0;
        return;
      }
      const Clock::time_point now = Clock::now();
      if (now < s.heartbeat_due) {  // state went out meanwhile: wait for the new time
        s.schedule_heartbeat(for_run, std::chrono::ceil<std::chrono::milliseconds>(s.heartbeat_due - now));
        return;
      }
      s.send_locked(json{{"type", kHeartbeat}});
      s.heartbeat_due = now + s.options.heartbeat_interval;
      s.schedule_heartbeat(for_run, s.options.heartbeat_interval);
    });
  }

  // Expiry runs at the heartbeat period, not the TTL's, as in the reference: peers then expire
  // between TTL and TTL + one heartbeat interval after they were last heard from.
  void schedule_expiry(std::uint64_t for_run) {
    after(options.heartbeat_interval, [for_run](State& s) {
      std::lock_guard<std::mutex> events(s.event_mutex);
      std::vector<PresenceEvent> expired;
      {
        std::lock_guard<std::mutex> lock(s.mutex);
        if (!s.running || s.run != for_run) return;
        const Clock::time_point threshold = Clock::now() - s.options.peer_ttl;
        for (auto it = s.peers.begin(); it != s.peers.end();) {
          if (it->second.last_seen >= threshold) {
            ++it;
            continue;
          }
          PresenceEvent e;
          e.kind = PresenceEvent::Kind::kExpired;
          e.peer = it->first;
          expired.push_back(std::move(e));
          it = s.peers.erase(it);
        }
        s.schedule_expiry(for_run);
      }
      s.notify(expired);
    });
  }

  // A message from a peer we do not know: send our snapshot a little later (JS announce).
  void schedule_announce_locked() {
    after(options.announce_delay, [for_run = run](State& s) {
      std::lock_guard<std::mutex> lock(s.mutex);
      if (!s.running || s.run != for_run) return;
      s.send_snapshot_locked();
    });
  }

  // --- receiving ------------------------------------------------------------------------------

  void receive(const PeerId& sender, const Bytes& data) {
    std::optional<json> message = decode_presence_message(data);
    if (!message) return;
    std::lock_guard<std::mutex> events(event_mutex);
    std::vector<PresenceEvent> out;
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!running) return;
      if (auto e = apply_locked(sender, *message)) out.push_back(std::move(*e));
    }
    notify(out);
  }

  std::optional<PresenceEvent> apply_locked(const PeerId& sender, const json& message) {
    const std::string& type = message.at("type").get_ref<const std::string&>();
    const auto known = peers.find(sender);
    const bool joined = known == peers.end();
    if (joined) schedule_announce_locked();
    const Clock::time_point now = Clock::now();
    PresenceEvent e;
    e.peer = sender;
    if (type == kHeartbeat) {
      // A heartbeat from an unknown peer does not make it known: its snapshot will.
      if (!joined) known->second.last_seen = now;
      e.kind = PresenceEvent::Kind::kHeartbeat;
      return e;
    }
    if (type == kGoodbye) {
      if (!joined) peers.erase(known);
      e.kind = PresenceEvent::Kind::kGoodbye;
      return e;
    }
    json changed = json::object();
    if (type == kUpdate) {
      auto channel = message.find("channel");
      if (channel == message.end() || !channel->is_string()) return std::nullopt;
      auto value = message.find("value");
      e.kind = PresenceEvent::Kind::kUpdate;
      e.channel = channel->get<std::string>();
      changed[e.channel] = value == message.end() ? json() : *value;
      e.value = text_of(changed[e.channel]);
    } else if (type == kSnapshot) {
      auto state = message.find("state");
      // A state that is not an object adds no channels (JS spreads it into an object).
      if (state != message.end() && state->is_object()) changed = *state;
      e.kind = PresenceEvent::Kind::kSnapshot;
      e.value = text_of(changed);
    } else {
      return std::nullopt;  // a type this version does not know
    }
    Peer& peer = peers[sender];
    // Channels named replace ours; the others stay (JS update() merges).
    for (auto& [channel, value] : changed.items()) peer.state[channel] = value;
    peer.last_seen = now;
    peer.last_active = now;
    e.joined = joined;
    return e;
  }

  // With event_mutex held, not mutex.
  void notify(const std::vector<PresenceEvent>& events) {
    if (events.empty()) return;
    std::vector<Observer> targets;
    {
      std::lock_guard<std::mutex> lock(mutex);
      for (const auto& [id, observer] : observers) targets.push_back(observer);
    }
    for (const auto& e : events) {
      for (const auto& observer : targets) observer(e);
    }
  }

  PeerPresenceState view_locked(const PeerId& id, const Peer& peer) const {
    return PeerPresenceState{id, text_of(peer.state), peer.last_seen, peer.last_active};
  }
};

Presence::Presence(DocHandle handle) {
  std::weak_ptr<Repo::Impl> repo = handle.entry_->repo;
  state_ = std::make_shared<State>(std::move(handle), std::move(repo));
}

Presence::~Presence() {
  stop();
  // Wait out an observer call in flight on an io thread, then make sure no later one starts:
  // observers often refer to what is being destroyed with this Presence.
  std::lock_guard<std::mutex> events(state_->event_mutex);
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->observers.clear();
}

Status Presence::start(std::string_view initial_state, PresenceOptions options) {
  auto initial = parse_json(initial_state, "presence initial state");
  if (!initial) return fail(initial.error());
  if (!initial->is_object()) {
    return fail(Error::invalid_argument("presence initial state", "must be a JSON object"));
  }
  auto impl = state_->repo.lock();
  if (!impl || impl->stopped) return fail(Error::cancelled("the repo has stopped"));
  // Subscribed before running is set: a message in between is dropped as if it came before.
  Subscription listening = state_->handle.on_ephemeral(
      [weak = std::weak_ptr<State>(state_)](const PeerId& sender, const Bytes& data) {
        if (auto s = weak.lock()) s->receive(sender, data);
      });
  std::lock_guard<std::mutex> lock(state_->mutex);
  State& s = *state_;
  if (s.running) return {};
  s.running = true;
  ++s.run;
  s.options = options;
  s.peers.clear();
  s.local = std::move(*initial);
  s.ephemeral = std::move(listening);
  s.send_snapshot_locked();
  s.schedule_expiry(s.run);
  return {};
}

Status Presence::broadcast(std::string_view channel, std::string_view value) {
  auto parsed = parse_json(value, "presence value");
  if (!parsed) return fail(parsed.error());
  std::lock_guard<std::mutex> lock(state_->mutex);
  State& s = *state_;
  const std::string name(channel);
  s.local[name] = std::move(*parsed);
  s.send_locked(json{{"type", kUpdate}, {"channel", name}, {"value", s.local[name]}});
  s.reset_heartbeats_locked();
  return {};
}

void Presence::stop() {
  Subscription listening;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    State& s = *state_;
    if (!s.running) return;
    s.send_locked(json{{"type", kGoodbye}});
    s.running = false;
    ++s.run;
    listening = std::move(s.ephemeral);
  }
  listening.reset();  // takes the document's lock: not under ours
}

bool Presence::running() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->running;
}

std::string Presence::local_state() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return text_of(state_->local);
}

std::vector<PeerPresenceState> Presence::peer_states() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  std::vector<PeerPresenceState> out;
  for (const auto& [id, peer] : state_->peers) out.push_back(state_->view_locked(id, peer));
  return out;
}

std::optional<PeerPresenceState> Presence::peer_state(const PeerId& peer) const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  auto it = state_->peers.find(peer);
  if (it == state_->peers.end()) return std::nullopt;
  return state_->view_locked(it->first, it->second);
}

Subscription Presence::on_event(std::function<void(const PresenceEvent&)> observer) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  const std::uint64_t id = state_->next_observer++;
  state_->observers[id] = std::move(observer);
  return Subscription([weak = std::weak_ptr<State>(state_), id] {
    if (auto s = weak.lock()) {
      std::lock_guard<std::mutex> l(s->mutex);
      s->observers.erase(id);
    }
  });
}

}  // namespace am::repo
