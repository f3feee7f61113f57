// Connections of the runtime: transports attached as dialer or acceptor, their closing, and
// the dialers that (re)connect with backoff. See repo_impl.h.
#include "repo/runtime/repo_impl.h"

namespace am::repo {

net::TransportOptions Repo::Impl::transport_options() const {
  net::TransportOptions t;
  t.max_frame_bytes = options.max_message_bytes;
  t.handshake_timeout = options.handshake_timeout;
  t.ping_interval = options.ping_interval;
  t.max_queued_bytes = options.max_queued_bytes;
  t.tls_ca_file = options.tls_ca_file;
  return t;
}

void Repo::Impl::mark_first_attempt_done(Dialer& d) {
  if (d.first_attempt_done) return;
  d.first_attempt_done = true;
  hub.set_pending_dials(pending_dials(), now());
}

std::size_t Repo::Impl::pending_dials() const {
  std::size_t n = 0;
  for (const auto& [id, d] : dialers) n += d.active && !d.first_attempt_done;
  return n;
}

void Repo::Impl::attach(std::shared_ptr<net::Connection> connection, core::ConnectionRole role, std::optional<EndpointId> dialer) {
  if (role == core::ConnectionRole::kAcceptor) ++accepted;
  hub_post([self = shared_from_this(), connection, role, dialer](core::Hub& h) {
    if (self->closing) {  // stop() has begun: it would not close this one
      close_without_attaching(connection);
      return;
    }
    const core::ConnectionId id = h.add_connection(role, self->now(), connection->principal());
    Conn conn;
    conn.connection = connection;
    conn.description = connection->describe();
    conn.dialer = dialer;
    self->conns[id] = std::move(conn);
    if (dialer) {
      if (auto d = self->dialers.find(*dialer); d != self->dialers.end()) d->second.connection = id;
    }
    std::weak_ptr<Impl> weak = self;
    connection->start(net::Connection::Handler{
        [weak, id](Bytes frame) {
          if (auto s = weak.lock()) {
            ++s->messages_in;
            s->bytes_in += frame.size();
            if (s->options.message_trace) s->trace(false, id, frame);
            s->hub_post([s, id, frame = std::move(frame)](core::Hub& target) { target.receive_frame(id, frame, s->now()); });
          }
        },
        [weak, id](const net::CloseInfo& info) {
          if (auto s = weak.lock()) s->connection_closed(id, info);
        }});
    ConnectionEvent ev;
    ev.kind = ConnectionEvent::Kind::kConnected;
    ev.connection = id;
    ev.description = connection->describe();
    std::vector<std::function<void()>> after;
    self->notify_connection(ev, after);
    for (auto& f : after) self->io.post(std::move(f));
  });
}

void Repo::Impl::connection_closed(core::ConnectionId id, const net::CloseInfo& info) {
  hub_post([self = shared_from_this(), id, info](core::Hub& h) {
    h.connection_lost(id, core_reason(info.reason), info.detail, self->now());
  });
  // A second step, so that the close event above has been dispatched (with this
  // connection's description and completion) before the connection is forgotten.
  hub_post([self = shared_from_this(), id, info](core::Hub&) {
    auto it = self->conns.find(id);
    if (it == self->conns.end()) return;
    if (it->second.finished) {
      // The hub never reported it (it ended before the hub took it): report it here.
      ConnectionEvent ev;
      ev.kind = ConnectionEvent::Kind::kClosed;
      ev.connection = id;
      ev.description = it->second.description;
      ev.reason = public_reason(core_reason(info.reason));
      ev.detail = info.detail;
      it->second.finished->set_value(ev);
    }
    std::optional<EndpointId> dialer = it->second.dialer;
    self->conns.erase(it);
    if (!dialer) return;
    auto d = self->dialers.find(*dialer);
    if (d == self->dialers.end()) return;
    d->second.connection.reset();
    self->mark_first_attempt_done(d->second);
    if (d->second.active && !self->stopped) self->schedule_redial(*dialer);
  });
}

void Repo::Impl::schedule_redial(EndpointId id) {
  Dialer& d = dialers.at(id);
  if (d.backoff.max_attempts != 0 && d.attempts >= d.backoff.max_attempts) {
    d.active = false;
    hub.set_pending_dials(pending_dials(), now());
    return;
  }
  const auto delay = runtime::backoff_delay(d.backoff, d.attempts, rng);
  ++d.attempts;
  timers.schedule(Clock::now() + delay, [self = shared_from_this(), id] { self->dial(id); });
}

void Repo::Impl::dial(EndpointId id) {
  if (stopped) return;
  Dialer d;
  {
    std::lock_guard<std::mutex> lock(hub_mutex);
    auto it = dialers.find(id);
    if (it == dialers.end() || !it->second.active) return;
    d = it->second;
  }
  std::weak_ptr<Impl> weak = shared_from_this();
  auto on_dialed = [weak, id](Result<std::shared_ptr<net::Connection>> result) {
    auto self = weak.lock();
    if (!self) return;
    if (result) {
      bool active = false;
      {
        std::lock_guard<std::mutex> lock(self->hub_mutex);
        auto it = self->dialers.find(id);
        active = it != self->dialers.end() && it->second.active && !self->stopped;
      }
      if (!active) {
        (*result)->start(net::Connection::Handler{[](Bytes) {}, [](const net::CloseInfo&) {}});
        (*result)->close();
        return;
      }
      self->attach(std::move(*result), core::ConnectionRole::kInitiator, id);
      return;
    }
    self->hub_post([self, id, error = result.error()](core::Hub&) {
      auto it = self->dialers.find(id);
      if (it == self->dialers.end()) return;
      ConnectionEvent ev;
      ev.kind = ConnectionEvent::Kind::kDialFailed;
      ev.description = it->second.connector ? it->second.description
                       : it->second.websocket ? it->second.url
                                              : "tcp://" + it->second.host + ":" + std::to_string(it->second.port);
      ev.detail = error.to_string();
      std::vector<std::function<void()>> after;
      self->notify_connection(ev, after);
      for (auto& f : after) self->io.post(std::move(f));
      self->mark_first_attempt_done(it->second);
      if (it->second.active && !self->stopped) self->schedule_redial(id);
    });
  };
  if (d.connector) {
    d.connector(DialCallback(std::move(on_dialed)));
    return;
  }
  net::TransportOptions transport = transport_options();
  transport.auth_token = d.auth_token;
  if (d.websocket) {
    net::dial_websocket(io, d.url, on_dialed, std::move(transport));
  } else {
    net::dial_tcp(io, d.host, d.port, on_dialed, std::move(transport));
  }
}

EndpointId Repo::Impl::add_dialer(Dialer d) {
  EndpointId id;
  {
    std::lock_guard<std::mutex> lock(hub_mutex);
    id = next_endpoint++;
    dialers[id] = std::move(d);
  }
  hub_post([self = shared_from_this()](core::Hub& h) { h.set_pending_dials(self->pending_dials(), self->now()); });
  dial(id);
  return id;
}

}  // namespace am::repo
