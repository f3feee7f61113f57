// The runtime behind am::repo::Repo: drives the sans-IO hub and document actors (src/repo/core)
// with real threads, sockets (src/repo/net), timers and a storage thread pool.
//
// This file: the public Repo API. The state and the other parts: repo_impl.h.
#include "repo/runtime/repo_impl.h"

namespace am::repo {

const char* to_string(DocumentState state) {
  switch (state) {
    case DocumentState::kLoading: return "loading";
    case DocumentState::kRequesting: return "requesting";
    case DocumentState::kReady: return "ready";
    case DocumentState::kUnavailable: return "unavailable";
    case DocumentState::kDeleted: return "deleted";
    case DocumentState::kUnloaded: return "unloaded";
  }
  return "?";
}

const char* to_string(ConnectionEvent::Reason reason) {
  using R = ConnectionEvent::Reason;
  switch (reason) {
    case R::kNone: return "none";
    case R::kTheyClosed: return "they closed";
    case R::kIoError: return "i/o error";
    case R::kProtocolError: return "protocol error";
    case R::kTheySentError: return "they sent an error";
    case R::kReplaced: return "replaced by a newer connection";
    case R::kHandshakeTimeout: return "handshake timeout";
    case R::kLocalClose: return "closed locally";
    case R::kTimeout: return "timeout";
  }
  return "?";
}

// --- Repo ---------------------------------------------------------------------------------------

struct Repo::Threads {
  std::unique_ptr<net::IoContext> io;
  std::unique_ptr<net::IoContext> storage;
};

Repo::Repo(std::shared_ptr<Impl> impl, std::unique_ptr<Threads> threads)
    : impl_(std::move(impl)), threads_(std::move(threads)) {}
Repo::~Repo() { stop(); }

Result<std::unique_ptr<Repo>> Repo::open(RepoOptions options) {
  if (options.peer_id.empty()) options.peer_id = "peer-" + random_uuid_string().substr(0, 12);
  if (!options.share_policy) options.share_policy = share_everything();
  auto threads = std::make_unique<Threads>();
  threads->io = std::make_unique<net::IoContext>(std::max<std::size_t>(1, options.io_threads));
  if (options.storage) threads->storage = std::make_unique<net::IoContext>(std::max<std::size_t>(1, options.storage_threads));
  auto impl = std::make_shared<Impl>(std::move(options), *threads->io, threads->storage.get());
  impl->hub_post([impl](core::Hub& h) { h.start(impl->now()); });
  impl->schedule_idle_sweep();
  {
    std::unique_lock<std::mutex> lock(impl->hub_mutex);
    if (!impl->hub_cv.wait_for(lock, kStorageIdWait, [&] { return impl->hub.ready(); })) {
      lock.unlock();
      impl->stopped = true;
      impl->timers.stop();
      impl->io.stop();
      if (impl->storage_io) impl->storage_io->stop();
      impl.reset();
      threads.reset();
      return fail(Error::timeout("storage did not answer while reading the StorageId"));
    }
  }
  return std::unique_ptr<Repo>(new Repo(std::move(impl), std::move(threads)));
}

const PeerId& Repo::peer_id() const { return impl_->hub.peer_id(); }

std::optional<StorageId> Repo::storage_id() const {
  std::lock_guard<std::mutex> lock(impl_->hub_mutex);
  return impl_->hub.storage_id();
}

DocHandle Repo::create() {
  Document doc;
  doc.commit();  // an empty change: peers read "no heads" as "does not have it"
  return impl_->open_new(DocumentId::random(), std::move(doc));
}

Result<DocHandle> Repo::create(const Document& initial) {
  Document doc;
  auto changes = initial.get_changes();
  if (!changes.empty()) {
    if (auto st = doc.apply_changes(changes); !st) return fail(st.error());
  } else {
    doc.commit();
  }
  return impl_->open_new(DocumentId::random(), std::move(doc));
}

Result<DocHandle> Repo::import(ByteView saved, std::optional<DocumentId> id) {
  auto doc = Document::load(saved);
  if (!doc) return fail(doc.error().with_context("import"));
  if (doc->heads().empty()) doc->commit();
  const DocumentId doc_id = id ? *id : DocumentId::random();
  if (impl_->entry_of(doc_id)) return fail(Error::invalid_argument("import", "document " + doc_id.to_string() + " is already open"));
  return impl_->open_new(doc_id, std::move(*doc));
}

void Repo::find(const DocumentId& id, std::function<void(Result<DocHandle>)> callback, std::chrono::milliseconds timeout) {
  auto& impl = *impl_;
  if (impl.stopped) {
    callback(fail(Error::cancelled("the repo has stopped")));
    return;
  }
  auto [entry, created] = impl.get_or_create(id, [&] { return core::DocActor::find(impl.actor_config(id), impl.now()); });
  if (created) {
    impl.hub_post([id, self = impl_](core::Hub& h) { h.open_document(id, self->now()); });
    impl.opened(entry);
  }
  std::uint64_t waiter = 0;
  {
    std::lock_guard<std::mutex> lock(entry->mutex);
    const core::DocState s = entry->actor->state();
    if (s == core::DocState::kReady || s == core::DocState::kUnavailable || s == core::DocState::kDeleted) {
      // answered below, without the lock
    } else {
      waiter = entry->next_observer++;
      entry->find_waiters[waiter] = callback;
    }
    if (waiter == 0) {
      if (s == core::DocState::kReady) {
        impl.io.post([callback, entry = entry] { callback(DocHandle(entry)); });
      } else {
        const std::string why = "document " + id.to_string() + " is " + core::to_string(s);
        impl.io.post([callback, why] { callback(fail(Error::not_found(why))); });
      }
      return;
    }
  }
  // Weak: a pending timeout must not keep a released document (see schedule_eviction) alive;
  // a released one has answered its waiters already.
  impl.timers.schedule(Clock::now() + timeout, [weak = std::weak_ptr<DocHandle::Entry>(entry), waiter, id] {
    auto held = weak.lock();
    if (!held) return;
    std::function<void(Result<DocHandle>)> cb;
    {
      std::lock_guard<std::mutex> lock(held->mutex);
      auto it = held->find_waiters.find(waiter);
      if (it == held->find_waiters.end()) return;
      cb = std::move(it->second);
      held->find_waiters.erase(it);
    }
    cb(fail(Error::timeout("finding " + id.to_string() + " timed out")));
  });
}

std::future<Result<DocHandle>> Repo::find(const DocumentId& id, std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<std::promise<Result<DocHandle>>>();
  auto future = promise->get_future();
  find(id, [promise](Result<DocHandle> r) { promise->set_value(std::move(r)); }, timeout);
  return future;
}

std::future<Result<DocHandle>> Repo::find(std::string_view id_or_url, std::chrono::milliseconds timeout) {
  auto id = parse_document_id_loose(id_or_url);
  if (!id) {
    std::promise<Result<DocHandle>> refused;
    refused.set_value(fail(std::move(id).error()));
    return refused.get_future();
  }
  if (parse_legacy_uuid(id_or_url)) impl_->warn_legacy_uuid("find(\"" + std::string(id_or_url) + "\")");
  auto url = AutomergeUrl::parse(id_or_url);
  if (!url || !url->heads) return find(*id, timeout);
  // A URL with heads: the document as of those heads, read-only (JS find of such a URL).
  auto promise = std::make_shared<std::promise<Result<DocHandle>>>();
  auto future = promise->get_future();
  find(*id, [promise, heads = *url->heads](Result<DocHandle> found) {
    if (!found) {
      promise->set_value(std::move(found));
      return;
    }
    promise->set_value(found->view(heads));
  }, timeout);
  return future;
}

Result<Bytes> Repo::export_document(const DocumentId& id, std::chrono::milliseconds timeout) {
  auto handle = find(id, timeout).get();
  if (!handle) return fail(handle.error());
  return handle->save();
}

Status Repo::remove(const DocumentId& id) {
  auto entry = impl_->entry_of(id);
  if (!entry) {
    auto [e, created] = impl_->get_or_create(id, [&] { return core::DocActor::find(impl_->actor_config(id), impl_->now()); });
    entry = e;
  }
  impl_->actor_post(entry, [self = impl_](core::DocActor& a) { a.remove(self->now()); });
  impl_->hub_post([id](core::Hub& h) { h.close_document(id); });
  impl_->post_document_event(entry, DocumentEvent::Kind::kDeleted);
  if (!impl_->stopped) {
    // The handle's own "delete" event, on its queue like its other events; each observer once.
    entry->queue->post([entry] {
      std::map<std::uint64_t, std::function<void()>> observers;
      {
        std::lock_guard<std::mutex> lock(entry->mutex);
        observers.swap(entry->delete_observers);
      }
      for (auto& entry_observer : observers) entry_observer.second();
    });
  }
  return {};
}

void Repo::reload_document(const DocumentId& id) { impl_->reload(id, 0); }

std::vector<DocumentId> Repo::open_documents() const {
  std::lock_guard<std::mutex> lock(impl_->docs_mutex);
  std::vector<DocumentId> out;
  for (const auto& [id, entry] : impl_->docs) out.push_back(id);
  return out;
}

Result<std::vector<DocumentId>> Repo::stored_documents() const {
  if (!impl_->options.storage) return std::vector<DocumentId>{};
  auto entries = impl_->options.storage->load_range({});
  if (!entries) return fail(entries.error());
  std::set<DocumentId> ids;
  for (const auto& [key, value] : *entries) {
    if (!is_document_chunk_key(key)) continue;
    if (auto id = DocumentId::parse(key[0])) ids.insert(*id);
  }
  return std::vector<DocumentId>(ids.begin(), ids.end());
}

Result<std::uint16_t> Repo::listen_websocket(const std::string& host, std::uint16_t port, const std::string& path,
                                             HttpHandler http_handler) {
  ListenOptions options;
  options.path = path;
  options.http_handler = std::move(http_handler);
  return listen_websocket(host, port, std::move(options));
}

Result<std::uint16_t> Repo::listen_websocket(const std::string& host, std::uint16_t port, ListenOptions options) {
  std::weak_ptr<Impl> weak = impl_;
  net::TransportOptions transport = impl_->transport_options();
  transport.http_handler = std::move(options.http_handler);
  transport.authenticate = std::move(options.authenticate);
  transport.max_connections = options.max_connections;
  transport.tls_cert_file = std::move(options.tls_cert_file);
  transport.tls_key_file = std::move(options.tls_key_file);
  auto listener = net::listen_websocket(impl_->io, host, port, options.path, [weak](std::shared_ptr<net::Connection> c) {
    if (auto s = weak.lock()) s->attach(std::move(c), core::ConnectionRole::kAcceptor, std::nullopt);
  }, transport);
  if (!listener) return fail(listener.error());
  const std::uint16_t bound = (*listener)->port();
  std::lock_guard<std::mutex> lock(impl_->hub_mutex);
  impl_->listeners[impl_->next_endpoint++] = std::move(*listener);
  return bound;
}

RepoStats Repo::stats() const {
  RepoStats s;
  s.uptime = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - impl_->epoch);
  {
    std::lock_guard<std::mutex> lock(impl_->hub_mutex);
    s.connections = impl_->conns.size();
    s.peers = impl_->hub.peers().size();
  }
  {
    std::lock_guard<std::mutex> lock(impl_->docs_mutex);
    s.open_documents = impl_->docs.size();
  }
  s.messages_in = impl_->messages_in;
  s.messages_out = impl_->messages_out;
  s.bytes_in = impl_->bytes_in;
  s.bytes_out = impl_->bytes_out;
  s.connections_accepted = impl_->accepted;
  s.writes_refused = impl_->writes_refused;
  std::uint64_t cumulative = 0;
  for (const auto& b : impl_->latency_buckets) {
    cumulative += b;
    s.latency_buckets.push_back(cumulative);
  }
  s.latency_sum_ms = impl_->latency_sum;
  s.latency_count = impl_->latency_count;
  return s;
}

Result<std::uint16_t> Repo::listen_tcp(const std::string& host, std::uint16_t port, ListenOptions options) {
  std::weak_ptr<Impl> weak = impl_;
  net::TransportOptions transport = impl_->transport_options();
  transport.authenticate = std::move(options.authenticate);
  transport.max_connections = options.max_connections;
  auto listener = net::listen_tcp(impl_->io, host, port, [weak](std::shared_ptr<net::Connection> c) {
    if (auto s = weak.lock()) s->attach(std::move(c), core::ConnectionRole::kAcceptor, std::nullopt);
  }, std::move(transport));
  if (!listener) return fail(listener.error());
  const std::uint16_t bound = (*listener)->port();
  std::lock_guard<std::mutex> lock(impl_->hub_mutex);
  impl_->listeners[impl_->next_endpoint++] = std::move(*listener);
  return bound;
}

EndpointId Repo::connect_websocket(const std::string& url, Backoff backoff, std::string auth_token) {
  Impl::Dialer d;
  d.websocket = true;
  d.url = url;
  d.backoff = backoff;
  d.auth_token = std::move(auth_token);
  return impl_->add_dialer(std::move(d));
}

EndpointId Repo::connect_tcp(const std::string& host, std::uint16_t port, Backoff backoff,
                             std::string auth_token) {
  Impl::Dialer d;
  d.websocket = false;
  d.host = host;
  d.port = port;
  d.backoff = backoff;
  d.auth_token = std::move(auth_token);
  return impl_->add_dialer(std::move(d));
}

void Repo::add_connection(std::shared_ptr<Connection> connection, ConnectionRole role) {
  if (!connection) return;
  if (impl_->stopped) {
    close_without_attaching(connection);
    return;
  }
  impl_->attach(std::move(connection),
                role == ConnectionRole::kDialer ? core::ConnectionRole::kInitiator : core::ConnectionRole::kAcceptor,
                std::nullopt);
}

Executor Repo::executor() const {
  return [gate = impl_->executor_gate](std::function<void()> task) {
    std::lock_guard<std::mutex> lock(gate->mutex);
    if (gate->io) gate->io->post(std::move(task));
  };
}

EndpointId Repo::connect(Connector connector, std::string description, Backoff backoff) {
  Impl::Dialer d;
  d.websocket = false;
  d.connector = std::move(connector);
  d.description = std::move(description);
  d.backoff = backoff;
  return impl_->add_dialer(std::move(d));
}

void Repo::disconnect(EndpointId endpoint) {
  std::unique_ptr<net::Listener> listener;
  std::shared_ptr<net::Connection> connection;
  {
    std::lock_guard<std::mutex> lock(impl_->hub_mutex);
    if (auto l = impl_->listeners.find(endpoint); l != impl_->listeners.end()) {
      listener = std::move(l->second);
      impl_->listeners.erase(l);
    }
    if (auto d = impl_->dialers.find(endpoint); d != impl_->dialers.end()) {
      d->second.active = false;
      if (d->second.connection) {
        if (auto c = impl_->conns.find(*d->second.connection); c != impl_->conns.end()) connection = c->second.connection;
      }
    }
  }
  if (listener) listener->close();
  if (connection) connection->close();
  impl_->hub_post([self = impl_](core::Hub& h) { h.set_pending_dials(self->pending_dials(), self->now()); });
}

Subscription Repo::on_connection_event(std::function<void(const ConnectionEvent&)> observer) {
  std::lock_guard<std::mutex> lock(impl_->hub_mutex);
  const std::uint64_t id = impl_->next_observer++;
  impl_->connection_observers[id] = std::move(observer);
  std::weak_ptr<Impl> weak = impl_;
  return Subscription([weak, id] {
    if (auto s = weak.lock()) {
      std::lock_guard<std::mutex> l(s->hub_mutex);
      s->connection_observers.erase(id);
    }
  });
}

std::optional<std::shared_future<ConnectionEvent>> Repo::connection_finished(std::uint64_t connection) const {
  std::lock_guard<std::mutex> lock(impl_->hub_mutex);
  auto it = impl_->conns.find(connection);
  if (it == impl_->conns.end()) return std::nullopt;
  return it->second.finished_future;
}

std::vector<PeerId> Repo::peers() const {
  std::lock_guard<std::mutex> lock(impl_->hub_mutex);
  std::vector<PeerId> out;
  for (const auto& p : impl_->hub.peers()) out.push_back(p.peer_id);
  return out;
}

Status Repo::wait_for_peer(const PeerId& peer, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(impl_->hub_mutex);
  const bool ok = impl_->hub_cv.wait_for(lock, timeout, [&] {
    for (const auto& p : impl_->hub.peers()) {
      if (p.peer_id == peer) return true;
    }
    return false;
  });
  if (!ok) return fail(Error::timeout("peer " + peer.str() + " did not connect"));
  return {};
}

Status Repo::sync_all(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::vector<std::shared_ptr<DocHandle::Entry>> entries;
  {
    std::lock_guard<std::mutex> lock(impl_->docs_mutex);
    for (const auto& [id, e] : impl_->docs) entries.push_back(e);
  }
  for (const auto& entry : entries) {
    std::unique_lock<std::mutex> lock(entry->mutex);
    if (entry->actor->state() != core::DocState::kReady) continue;
    const bool ok = entry->cv.wait_until(lock, deadline, [&] {
      for (const auto& p : entry->actor->peers()) {
        if (p.active && !Impl::synced_with(*entry->actor, p.peer)) return false;
      }
      return true;
    });
    if (!ok) return fail(Error::timeout("document " + entry->id.to_string() + " is not in sync"));
  }
  return {};
}

Status Repo::flush(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::vector<std::shared_ptr<DocHandle::Entry>> entries;
  {
    std::lock_guard<std::mutex> lock(impl_->docs_mutex);
    for (const auto& [id, e] : impl_->docs) entries.push_back(e);
  }
  for (const auto& entry : entries) impl_->actor_post(entry, [self = impl_](core::DocActor& a) { a.flush(self->now()); });
  for (const auto& entry : entries) {
    std::unique_lock<std::mutex> lock(entry->mutex);
    if (!entry->cv.wait_until(lock, deadline, [&] { return !entry->actor->pending_io(); })) {
      return fail(Error::timeout("saving " + entry->id.to_string() + " did not finish"));
    }
  }
  return {};
}

void Repo::stop() {
  if (!impl_ || impl_->stopped) return;
  if (impl_->options.storage) {
    if (auto st = flush(kStopFlushTimeout); !st) impl_->log(LogLevel::kError, "stop: " + st.error().to_string());
  }
  std::vector<std::shared_ptr<net::Connection>> connections;
  std::map<EndpointId, std::unique_ptr<net::Listener>> listeners;
  {
    std::lock_guard<std::mutex> lock(impl_->hub_mutex);
    impl_->closing = true;
    for (auto& [id, d] : impl_->dialers) d.active = false;
    for (auto& [id, c] : impl_->conns) connections.push_back(c.connection);
    listeners = std::move(impl_->listeners);
  }
  for (auto& [id, l] : listeners) l->close();
  for (auto& c : connections) c->close();
  {
    // Give the close handshakes a moment, so peers see a clean close rather than a reset.
    std::unique_lock<std::mutex> lock(impl_->hub_mutex);
    impl_->hub_cv.wait_for(lock, kStopCloseGrace, [&] { return impl_->conns.empty(); });
  }
  impl_->stopped = true;
  {
    std::lock_guard<std::mutex> lock(impl_->executor_gate->mutex);
    impl_->executor_gate->io = nullptr;
  }
  impl_->timers.stop();
  impl_->io.stop();
  if (impl_->storage_io) impl_->storage_io->stop();
  // Tasks that never ran hold the impl (and the entries) alive: drop them, then the entries.
  impl_->hub_queue->clear();
  // Connections whose close did not get through in the second above (busy io threads) are
  // still registered. Drop them now, while the IoContext they belong to still exists: left in
  // the impl they would be destroyed after it (threads_ goes first), and a WebSocket stream
  // destroyed after its io_context touches Beast's freed websocket service.
  std::map<core::ConnectionId, Impl::Conn> leftover;
  {
    std::lock_guard<std::mutex> lock(impl_->hub_mutex);
    leftover.swap(impl_->conns);
  }
  for (auto& [id, conn] : leftover) {
    if (!conn.finished) continue;
    ConnectionEvent ev;
    ev.kind = ConnectionEvent::Kind::kClosed;
    ev.connection = id;
    ev.description = conn.description;
    ev.reason = ConnectionEvent::Reason::kLocalClose;
    conn.finished->set_value(ev);
  }
  leftover.clear();
  std::map<DocumentId, std::shared_ptr<DocHandle::Entry>> docs;
  std::vector<std::weak_ptr<SerialQueue>> queues;
  {
    std::lock_guard<std::mutex> lock(impl_->docs_mutex);
    docs.swap(impl_->docs);
    queues.swap(impl_->document_queues);
  }
  // Also the queues of entries released earlier: their tasks would keep them alive forever.
  for (auto& weak : queues) {
    if (auto queue = weak.lock()) queue->clear();
  }
}

}  // namespace am::repo
