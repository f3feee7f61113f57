#include "repo/sim/repo_sim.h"

#include <set>
#include <stdexcept>

#include "am/repo/storage_memory.h"
#include "repo/core/wire/cbor_codec.h"

namespace am::repo::sim {

using core::ConnectionId;
using core::DocActor;
using core::Hub;

struct Sim::Node {
  PeerOptions options;
  std::unique_ptr<StorageAdapter> storage;
  int generation = 0;
  std::unique_ptr<Hub> hub;
  std::map<DocumentId, std::unique_ptr<DocActor>> actors;
  std::set<DocumentId> dirty;
  std::map<DocumentId, Millis> wake_scheduled;
  std::optional<Millis> hub_wake_scheduled;
  std::map<DocumentId, std::vector<ReceivedEphemeral>> ephemera;
  std::map<DocumentId, std::vector<DocState>> states;
  std::vector<core::ConnectionEvent> connection_events;
};

struct Sim::Link {
  int a = -1, b = -1;
  int gen_a = 0, gen_b = 0;
  ConnectionId conn_a = 0, conn_b = 0;
  bool open = true;
  bool dropped = false;  // in-flight frames are lost (crash, abrupt disconnect)
  Millis last_to_b = 0, last_to_a = 0;
};

Sim::Sim(std::uint64_t seed) : rng_(seed) {}
Sim::~Sim() = default;

Millis Sim::latency() { return 1 + static_cast<Millis>(rng_() % 5); }

void Sim::schedule(Millis at, std::function<void()> fn) {
  queue_.emplace(std::pair{at, seq_++}, std::move(fn));
}

int Sim::add_peer(PeerOptions options) {
  auto node = std::make_unique<Node>();
  node->options = std::move(options);
  if (node->options.storage) node->storage = make_memory_storage();
  nodes_.push_back(std::move(node));
  const int index = static_cast<int>(nodes_.size() - 1);
  start_node(index);
  return index;
}

int Sim::peer_index(const std::string& name) const {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i]->options.name == name) return static_cast<int>(i);
  }
  return -1;
}

const std::string& Sim::name(int peer) const { return nodes_.at(static_cast<std::size_t>(peer))->options.name; }

void Sim::start_node(int peer) {
  Node& n = *nodes_.at(static_cast<std::size_t>(peer));
  core::HubConfig config;
  config.peer_id = PeerId(n.options.name);
  config.has_storage = n.options.storage;
  config.policy = n.options.policy;
  config.session_id = SessionId(n.options.name + "-session-" + std::to_string(n.generation));
  config.new_storage_id = StorageId(n.options.name + "-storage");
  n.hub = std::make_unique<Hub>(std::move(config));
  n.hub->start(now_);
  settle(peer);
}

StorageAdapter& Sim::storage(int peer) {
  Node& n = *nodes_.at(static_cast<std::size_t>(peer));
  if (!n.storage) throw std::logic_error("peer has no storage");
  return *n.storage;
}

Sim::Link* Sim::link_between(int a, int b) {
  for (auto& l : links_) {
    if (l->open && ((l->a == a && l->b == b) || (l->a == b && l->b == a))) return l.get();
  }
  return nullptr;
}

bool Sim::connected(int a, int b) const {
  for (const auto& l : links_) {
    if (l->open && ((l->a == a && l->b == b) || (l->a == b && l->b == a))) return true;
  }
  return false;
}

void Sim::connect(int initiator, int acceptor) {
  auto link = std::make_unique<Link>();
  link->a = initiator;
  link->b = acceptor;
  link->gen_a = nodes_[static_cast<std::size_t>(initiator)]->generation;
  link->gen_b = nodes_[static_cast<std::size_t>(acceptor)]->generation;
  link->conn_b = nodes_[static_cast<std::size_t>(acceptor)]->hub->add_connection(core::ConnectionRole::kAcceptor, now_);
  link->conn_a = nodes_[static_cast<std::size_t>(initiator)]->hub->add_connection(core::ConnectionRole::kInitiator, now_);
  links_.push_back(std::move(link));
  settle(acceptor);
  settle(initiator);
}

void Sim::disconnect(int a, int b) {
  Link* l = link_between(a, b);
  if (l == nullptr) return;
  l->open = false;
  l->dropped = true;
  for (auto [peer, conn, gen] : {std::tuple{l->a, l->conn_a, l->gen_a}, std::tuple{l->b, l->conn_b, l->gen_b}}) {
    Node& n = *nodes_[static_cast<std::size_t>(peer)];
    if (n.generation != gen) continue;
    n.hub->connection_lost(conn, core::DisconnectReason::kTheyClosed, "link cut", now_);
    settle(peer);
  }
}

void Sim::restart(int peer) {
  Node& n = *nodes_.at(static_cast<std::size_t>(peer));
  for (auto& l : links_) {
    if (!l->open || (l->a != peer && l->b != peer)) continue;
    l->open = false;
    l->dropped = true;
    const bool peer_is_a = l->a == peer;
    const int other = peer_is_a ? l->b : l->a;
    const ConnectionId other_conn = peer_is_a ? l->conn_b : l->conn_a;
    const int other_gen = peer_is_a ? l->gen_b : l->gen_a;
    Node& o = *nodes_[static_cast<std::size_t>(other)];
    if (o.generation != other_gen) continue;
    o.hub->connection_lost(other_conn, core::DisconnectReason::kTheyClosed, "peer crashed", now_);
    settle(other);
  }
  ++n.generation;
  n.actors.clear();
  n.dirty.clear();
  n.wake_scheduled.clear();
  n.hub_wake_scheduled.reset();
  start_node(peer);
}

// --- application commands ---------------------------------------------------------------------

namespace {
core::DocActorConfig actor_config(const DocumentId& id, const PeerOptions& options) {
  core::DocActorConfig c;
  c.document_id = id;
  c.self = PeerId(options.name);
  c.policy = options.policy;
  c.has_storage = options.storage;
  return c;
}
}  // namespace

DocumentId Sim::create(int peer, const std::function<void(Document&)>& init) {
  Node& n = *nodes_.at(static_cast<std::size_t>(peer));
  DocumentId::Raw raw{};
  for (auto& b : raw) b = static_cast<std::uint8_t>(rng_());
  const DocumentId id = DocumentId::uuid_v4(raw);
  ActorId actor;
  actor.bytes.resize(16);
  for (auto& b : actor.bytes) b = static_cast<std::uint8_t>(rng_());
  Document doc(DocumentOptions{actor, TextUnit::kUtf16});
  if (init) init(doc);
  doc.commit();  // never an empty document: at least one (possibly empty) change
  n.actors[id] = DocActor::create(actor_config(id, n.options), std::move(doc), now_);
  n.dirty.insert(id);
  n.hub->open_document(id, now_);
  settle(peer);
  return id;
}

void Sim::find(int peer, const DocumentId& id) {
  Node& n = *nodes_.at(static_cast<std::size_t>(peer));
  if (n.actors.count(id) != 0) return;
  n.actors[id] = DocActor::find(actor_config(id, n.options), now_);
  n.dirty.insert(id);
  n.hub->open_document(id, now_);
  settle(peer);
}

void Sim::change(int peer, const DocumentId& id, const std::function<void(Document&)>& edit) {
  Node& n = *nodes_.at(static_cast<std::size_t>(peer));
  DocActor& actor = *n.actors.at(id);
  if (actor.state() != DocState::kReady) throw std::logic_error("change on a document that is not ready");
  const auto before = actor.document().heads();
  edit(actor.document());
  actor.document().commit();
  actor.local_change(before, now_);
  n.dirty.insert(id);
  settle(peer);
}

void Sim::broadcast(int peer, const DocumentId& id, Bytes data) {
  Node& n = *nodes_.at(static_cast<std::size_t>(peer));
  const std::uint64_t count = n.hub->next_ephemeral_count();
  n.actors.at(id)->broadcast(std::move(data), n.hub->session_id(), count, now_);
  n.dirty.insert(id);
  settle(peer);
}

void Sim::remove(int peer, const DocumentId& id) {
  Node& n = *nodes_.at(static_cast<std::size_t>(peer));
  n.actors.at(id)->remove(now_);
  n.dirty.insert(id);
  settle(peer);
}

void Sim::set_pending_dials(int peer, std::size_t count) {
  nodes_.at(static_cast<std::size_t>(peer))->hub->set_pending_dials(count, now_);
  settle(peer);
}

void Sim::flush(int peer) {
  Node& n = *nodes_.at(static_cast<std::size_t>(peer));
  for (auto& [id, actor] : n.actors) {
    actor->flush(now_);
    n.dirty.insert(id);
  }
  settle(peer);
}

// --- driving ------------------------------------------------------------------------------------

void Sim::settle(int peer) {
  Node& n = *nodes_.at(static_cast<std::size_t>(peer));
  for (int guard = 0; guard < 100000; ++guard) {
    core::HubEffects he = n.hub->take_effects();
    const bool hub_busy = !he.frames.empty() || !he.closes.empty() || !he.connection_events.empty() ||
                          !he.to_actors.empty() || !he.storage.empty();
    route_hub_effects(peer, std::move(he));
    if (n.dirty.empty() && !hub_busy) return;
    auto dirty = std::move(n.dirty);
    n.dirty.clear();
    for (const DocumentId& id : dirty) {
      auto it = n.actors.find(id);
      if (it == n.actors.end()) continue;
      route_actor_effects(peer, id, it->second->take_effects());
    }
  }
  throw std::logic_error("sim: settle did not converge");
}

void Sim::route_hub_effects(int peer, core::HubEffects effects) {
  Node& n = *nodes_.at(static_cast<std::size_t>(peer));
  const int gen = n.generation;
  for (auto& [conn, frame] : effects.frames) {
    for (auto& l : links_) {
      if (!l->open) continue;
      if (l->a == peer && l->gen_a == gen && l->conn_a == conn) {
        deliver(peer, l->b, l->conn_b, std::move(frame));
        break;
      }
      if (l->b == peer && l->gen_b == gen && l->conn_b == conn) {
        deliver(peer, l->a, l->conn_a, std::move(frame));
        break;
      }
    }
  }
  for (ConnectionId conn : effects.closes) {
    for (auto& l : links_) {
      if (!l->open) continue;
      const bool mine_a = l->a == peer && l->gen_a == gen && l->conn_a == conn;
      const bool mine_b = l->b == peer && l->gen_b == gen && l->conn_b == conn;
      if (!mine_a && !mine_b) continue;
      l->open = false;  // frames already in flight still arrive, then the end
      const int other = mine_a ? l->b : l->a;
      const ConnectionId other_conn = mine_a ? l->conn_b : l->conn_a;
      const int other_gen = mine_a ? l->gen_b : l->gen_a;
      const Millis at = std::max(now_, mine_a ? l->last_to_b : l->last_to_a) + 1;
      schedule(at, [this, other, other_conn, other_gen] {
        Node& o = *nodes_[static_cast<std::size_t>(other)];
        if (o.generation != other_gen) return;
        o.hub->connection_lost(other_conn, core::DisconnectReason::kTheyClosed, "closed by peer", now_);
        settle(other);
      });
    }
  }
  for (auto& e : effects.connection_events) n.connection_events.push_back(std::move(e));
  for (auto& t : effects.to_actors) {
    using K = core::ToActor::Kind;
    if (t.kind == K::kSpawn) {
      if (n.actors.count(t.document) == 0) {
        n.actors[t.document] = DocActor::find(actor_config(t.document, n.options), now_);
      }
      n.dirty.insert(t.document);
      continue;
    }
    auto it = n.actors.find(t.document);
    if (it == n.actors.end()) continue;
    DocActor& actor = *it->second;
    switch (t.kind) {
      case K::kPeerAdded: actor.add_peer(t.peer, now_); break;
      case K::kPeerRemoved: actor.remove_peer(t.peer.peer_id, now_); break;
      case K::kMessage: actor.receive(t.peer, *t.message, now_); break;
      case K::kNetworkPending: actor.set_network_pending(t.pending, now_); break;
      case K::kSpawn: break;
    }
    n.dirty.insert(t.document);
  }
  for (auto& task : effects.storage) run_storage(peer, std::nullopt, std::move(task));
  if (effects.wake_at && (!n.hub_wake_scheduled || *effects.wake_at < *n.hub_wake_scheduled)) {
    n.hub_wake_scheduled = effects.wake_at;
    schedule(*effects.wake_at, [this, peer, gen] {
      Node& m = *nodes_[static_cast<std::size_t>(peer)];
      if (m.generation != gen) return;
      m.hub_wake_scheduled.reset();
      m.hub->tick(now_);
      settle(peer);
    });
  }
}

void Sim::route_actor_effects(int peer, const DocumentId& id, core::DocEffects effects) {
  Node& n = *nodes_.at(static_cast<std::size_t>(peer));
  const int gen = n.generation;
  for (const auto& m : effects.outgoing) n.hub->send(m);
  for (auto& task : effects.storage) run_storage(peer, id, std::move(task));
  for (auto& e : effects.events) {
    switch (e.kind) {
      case core::DocEvent::Kind::kStateChanged: n.states[id].push_back(e.state); break;
      case core::DocEvent::Kind::kEphemeral:
        n.ephemera[id].push_back(ReceivedEphemeral{e.peer.str(), std::move(e.data)});
        break;
      case core::DocEvent::Kind::kStorageError: ++storage_errors_; break;
      default: break;
    }
  }
  if (effects.wake_at) {
    auto ws = n.wake_scheduled.find(id);
    if (ws == n.wake_scheduled.end() || *effects.wake_at < ws->second) {
      n.wake_scheduled[id] = *effects.wake_at;
      schedule(*effects.wake_at, [this, peer, gen, id] {
        Node& m = *nodes_[static_cast<std::size_t>(peer)];
        if (m.generation != gen) return;
        m.wake_scheduled.erase(id);
        auto it = m.actors.find(id);
        if (it == m.actors.end()) return;
        it->second->tick(now_);
        m.dirty.insert(id);
        settle(peer);
      });
    }
  }
}

void Sim::run_storage(int peer, std::optional<DocumentId> doc, core::StorageTask task) {
  Node& n = *nodes_.at(static_cast<std::size_t>(peer));
  const int gen = n.generation;
  const Millis at = now_ + static_cast<Millis>(rng_() % 3);
  schedule(at, [this, peer, gen, doc, task = std::move(task)] {
    Node& m = *nodes_[static_cast<std::size_t>(peer)];
    // A crash loses the writes that had not happened yet (the strict reading of "crash").
    if (m.generation != gen) return;
    core::StorageOutcome outcome = core::run_storage_task(*m.storage, task);
    if (doc) {
      auto it = m.actors.find(*doc);
      if (it == m.actors.end()) return;
      it->second->storage_done(std::move(outcome), now_);
      m.dirty.insert(*doc);
    } else {
      m.hub->storage_done(std::move(outcome), now_);
    }
    settle(peer);
  });
}

void Sim::deliver(int from, int to, ConnectionId to_conn, Bytes frame) {
  Link* l = link_between(from, to);
  if (l == nullptr) return;
  Millis& last = l->a == from ? l->last_to_b : l->last_to_a;
  const Millis at = std::max(now_ + latency(), last);  // in order per direction
  last = at;
  const int to_gen = l->a == to ? l->gen_a : l->gen_b;
  schedule(at, [this, from, to, to_conn, to_gen, l, frame = std::move(frame)] {
    if (l->dropped) return;
    Node& n = *nodes_[static_cast<std::size_t>(to)];
    if (n.generation != to_gen) return;
    if (auto decoded = wire::decode(frame)) log_.push_back(LoggedMessage{now_, from, to, std::move(*decoded)});
    n.hub->receive_frame(to_conn, frame, now_);
    settle(to);
  });
}

bool Sim::run_until(const std::function<bool()>& done, Millis limit) {
  const Millis end = now_ + limit;
  while (!done()) {
    if (queue_.empty()) return false;
    auto it = queue_.begin();
    if (it->first.first > end) return false;
    now_ = std::max(now_, it->first.first);
    auto fn = std::move(it->second);
    queue_.erase(it);
    fn();
  }
  return true;
}

std::vector<core::PeerSyncInfo> Sim::sync_info(int peer, const DocumentId& id) const {
  const Node& n = *nodes_.at(static_cast<std::size_t>(peer));
  auto it = n.actors.find(id);
  return it == n.actors.end() ? std::vector<core::PeerSyncInfo>{} : it->second->peers();
}

void Sim::run(Millis limit) {
  const Millis end = now_ + limit;
  while (!queue_.empty()) {
    auto it = queue_.begin();
    if (it->first.first > end) break;
    now_ = std::max(now_, it->first.first);
    auto fn = std::move(it->second);
    queue_.erase(it);
    fn();
  }
  if (queue_.empty()) return;
  now_ = end;
}

// --- inspection ---------------------------------------------------------------------------------

std::optional<DocState> Sim::state(int peer, const DocumentId& id) const {
  const Node& n = *nodes_.at(static_cast<std::size_t>(peer));
  auto it = n.actors.find(id);
  if (it == n.actors.end()) return std::nullopt;
  return it->second->state();
}

const Document* Sim::document(int peer, const DocumentId& id) const {
  const Node& n = *nodes_.at(static_cast<std::size_t>(peer));
  auto it = n.actors.find(id);
  return it == n.actors.end() ? nullptr : &it->second->document();
}

std::vector<ChangeHash> Sim::heads(int peer, const DocumentId& id) const {
  const Document* d = document(peer, id);
  return d == nullptr ? std::vector<ChangeHash>{} : d->heads();
}

const std::vector<ReceivedEphemeral>& Sim::ephemera(int peer, const DocumentId& id) {
  return nodes_.at(static_cast<std::size_t>(peer))->ephemera[id];
}

const std::vector<DocState>& Sim::state_history(int peer, const DocumentId& id) {
  return nodes_.at(static_cast<std::size_t>(peer))->states[id];
}

const std::vector<core::ConnectionEvent>& Sim::connection_events(int peer) {
  return nodes_.at(static_cast<std::size_t>(peer))->connection_events;
}

}  // namespace am::repo::sim
