// The public transport seam (am/repo/transport.h) with a transport written outside the library:
// the example's Unix-socket connection (examples/socket_transport.h). It must pass the same
// conformance suite as the built-in transports, and a Repo must run the same handshake, limits,
// share policy and connection events over it (Repo::add_connection, Repo::connect).
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <atomic>
#include <cstdlib>
#include <future>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "am/repo/repo.h"
#include "am/repo/storage_memory.h"
#include "socket_transport.h"
#include "support/transport_conformance.h"

namespace am::test {
namespace {

// Pairs of the example's transport, from socketpair(2). Its threads end when its connections
// close, so there is nothing to shut down.
class SocketPairs : public PairFactory {
 public:
  std::optional<ConnectedPair> connect(const PairOptions& options) override {
    example::SocketOptions socket_options;
    if (options.max_frame_bytes != 0) socket_options.max_frame_bytes = options.max_frame_bytes;
    auto [a, b] = example::socket_pair("unix-pair", socket_options);
    EXPECT_TRUE(a && b) << "socketpair failed";
    if (!a || !b) return std::nullopt;
    return ConnectedPair{a, b};
  }
};

INSTANTIATE_TEST_SUITE_P(Example, TransportConformance,
                         ::testing::Values(TransportUnderTest{"unix_socket", [] {
                           return std::make_unique<SocketPairs>();
                         }}),
                         transport_name);

}  // namespace
}  // namespace am::test

namespace am::repo {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<Repo> open_repo(const std::string& name, std::shared_ptr<const SharePolicy> policy = nullptr,
                                std::chrono::milliseconds handshake_timeout = 10s) {
  RepoOptions o;
  o.peer_id = name;
  o.storage = std::shared_ptr<StorageAdapter>(make_memory_storage());
  o.share_policy = std::move(policy);
  o.save_debounce = 10ms;
  o.handshake_timeout = handshake_timeout;
  if (const char* env = std::getenv("AM_TEST_IO_THREADS")) o.io_threads = static_cast<std::size_t>(std::atoi(env));
  auto repo = Repo::open(std::move(o));
  EXPECT_TRUE(repo) << (repo ? "" : repo.error().to_string());
  return repo ? std::move(*repo) : nullptr;
}

std::optional<std::string> get_string(const DocHandle& h, const std::string& key) {
  std::optional<std::string> out;
  h.read([&](const Document& d) {
    auto v = d.get(ObjId::root(), key);
    if (!v || !*v) return;
    if (const auto* s = std::get_if<ScalarValue>(&**v)) {
      if (const auto* str = std::get_if<std::string>(s)) out = *str;
    }
  });
  return out;
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 10s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

// Connection events of one repo, collected for assertions.
class EventLog {
 public:
  explicit EventLog(Repo& repo)
      : sub_(repo.on_connection_event([this](const ConnectionEvent& e) {
          std::lock_guard<std::mutex> lock(mutex_);
          events_.push_back(e);
        })) {}
  std::vector<ConnectionEvent> events() {
    std::lock_guard<std::mutex> lock(mutex_);
    return events_;
  }
  std::size_t count(ConnectionEvent::Kind kind) {
    std::size_t n = 0;
    for (const auto& e : events()) n += e.kind == kind;
    return n;
  }

 private:
  std::mutex mutex_;
  std::vector<ConnectionEvent> events_;
  Subscription sub_;  // last: unsubscribes before the events go
};

TEST(RepoOverCustomTransport, AddedConnectionsHandshakeSyncAndReportEvents) {
  auto server = open_repo("server", answer_requests_only());
  auto client = open_repo("client");
  ASSERT_TRUE(server && client);
  EventLog server_events(*server);
  EventLog client_events(*client);
  auto [a, b] = example::socket_pair("test-pair");
  ASSERT_TRUE(a && b);
  client->add_connection(a, ConnectionRole::kDialer);
  server->add_connection(b, ConnectionRole::kAcceptor);
  ASSERT_TRUE(client->wait_for_peer(PeerId("server"), 10s));
  ASSERT_TRUE(server->wait_for_peer(PeerId("client"), 10s));

  DocHandle doc = client->create();
  ASSERT_TRUE(doc.change([](Document& d) { (void)d.put(ObjId::root(), "title", std::string("over a socketpair")); }));
  ASSERT_TRUE(doc.wait_synced(PeerId("server"), 10s));
  auto found = server->find(doc.id(), 10s).get();
  ASSERT_TRUE(found) << found.error().to_string();
  EXPECT_EQ(get_string(*found, "title"), "over a socketpair");

  const RepoStats stats = server->stats();
  EXPECT_EQ(stats.connections, 1u);
  EXPECT_EQ(stats.peers, 1u);
  EXPECT_EQ(stats.connections_accepted, 1u);
  EXPECT_GT(stats.messages_in, 0u);
  ASSERT_TRUE(eventually([&] { return client_events.count(ConnectionEvent::Kind::kHandshakeComplete) == 1; }));
  bool described = false;
  for (const auto& e : client_events.events()) {
    if (e.kind == ConnectionEvent::Kind::kConnected) described = e.description == "test-pair a";
  }
  EXPECT_TRUE(described) << "the connection's describe() names it in events";

  // The client goes away: the server sees the connection close, as with a built-in transport.
  client->stop();
  ASSERT_TRUE(eventually([&] { return server_events.count(ConnectionEvent::Kind::kClosed) == 1; }));
  for (const auto& e : server_events.events()) {
    if (e.kind == ConnectionEvent::Kind::kClosed) {
      EXPECT_EQ(e.reason, ConnectionEvent::Reason::kTheyClosed) << to_string(e.reason) << " " << e.detail;
      EXPECT_EQ(e.peer, PeerId("client"));
    }
  }
  EXPECT_TRUE(server->peers().empty());
}

// Records the principals the repo asks about; everyone may write.
class RecordingPolicy : public SharePolicy {
 public:
  bool announce(const PeerId&, const DocumentId&) const override { return false; }
  bool access(const PeerId&, const DocumentId&) const override { return true; }
  DocumentAccess access_level(const PeerId&, const std::string& principal, const DocumentId&) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    principals_.insert(principal);
    return principal == "reader" ? DocumentAccess::kRead : DocumentAccess::kWrite;
  }
  std::set<std::string> principals() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return principals_;
  }

 private:
  mutable std::mutex mutex_;
  mutable std::set<std::string> principals_;
};

TEST(RepoOverCustomTransport, ThePrincipalOfTheConnectionReachesTheSharePolicy) {
  auto policy = std::make_shared<RecordingPolicy>();
  auto server = open_repo("server", policy);
  auto client = open_repo("client");
  ASSERT_TRUE(server && client);
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  // The transport authenticated the peer its own way (say, SO_PEERCRED): it reports "reader".
  client->add_connection(example::SocketConnection::make(fds[0], "unix client"), ConnectionRole::kDialer);
  server->add_connection(example::SocketConnection::make(fds[1], "unix server", {}, "reader"),
                         ConnectionRole::kAcceptor);
  ASSERT_TRUE(client->wait_for_peer(PeerId("server"), 10s));
  DocHandle on_server = server->create();
  ASSERT_TRUE(on_server.change([](Document& d) { (void)d.put(ObjId::root(), "k", std::string("v")); }));
  // The reader reads...
  auto found = client->find(on_server.id(), 10s).get();
  ASSERT_TRUE(found) << found.error().to_string();
  EXPECT_EQ(get_string(*found, "k"), "v");
  EXPECT_EQ(policy->principals().count("reader"), 1u);
  // ...but its changes are refused, as for a token-authenticated WebSocket peer. The reader sends
  // a change only when the server's Bloom filter says the server lacks it, and the server never
  // asks a reader for changes, so a false positive of that (about 1% for a one-change filter)
  // keeps a change home. Each new change is a new chance: try a few.
  bool refused = false;
  for (int attempt = 0; attempt < 5 && !refused; ++attempt) {
    ASSERT_TRUE(found->change([&](Document& d) { (void)d.put(ObjId::root(), "k", "w" + std::to_string(attempt)); }));
    refused = eventually([&] { return server->stats().writes_refused > 0; }, 4s);
  }
  EXPECT_TRUE(refused) << "five changes of a reader, none reached the server to be refused";
  EXPECT_EQ(get_string(on_server, "k"), "v");
}

TEST(RepoOverCustomTransport, TheHandshakeTimeoutAppliesToAddedConnections) {
  auto server = open_repo("server", answer_requests_only(), 200ms);
  ASSERT_TRUE(server);
  EventLog events(*server);
  auto [a, b] = example::socket_pair("silent");
  ASSERT_TRUE(a && b);
  std::promise<CloseInfo> closed;
  a->start(Connection::Handler{[](Bytes) {}, [&closed](const CloseInfo& info) { closed.set_value(info); }});
  server->add_connection(b, ConnectionRole::kAcceptor);  // `a` never sends join
  auto done = closed.get_future();
  ASSERT_EQ(done.wait_for(10s), std::future_status::ready) << "the server never dropped the silent peer";
  EXPECT_EQ(done.get().reason, CloseReason::kPeerClosed);
  ASSERT_TRUE(eventually([&] { return events.count(ConnectionEvent::Kind::kClosed) == 1; }));
  for (const auto& e : events.events()) {
    if (e.kind == ConnectionEvent::Kind::kClosed) {
      EXPECT_EQ(e.reason, ConnectionEvent::Reason::kHandshakeTimeout) << to_string(e.reason);
    }
  }
}

// A connection whose transport reports a timeout as soon as it starts (what a missed keepalive
// pong looks like), through the repo's executor as the contract asks.
class TimingOutConnection : public Connection {
 public:
  explicit TimingOutConnection(Executor executor) : executor_(std::move(executor)) {}
  void start(Handler handler) override {
    executor_([handler = std::move(handler)] { handler.on_close({CloseReason::kTimeout, "no pong within 5000 ms"}); });
  }
  void send(Bytes) override {}
  void close() override {}
  std::string describe() const override { return "timing out"; }

 private:
  Executor executor_;
};

TEST(RepoOverCustomTransport, ATransportTimeoutIsReportedAsATimeoutNotAsTheHandshakes) {
  auto server = open_repo("server", answer_requests_only());
  ASSERT_TRUE(server);
  EventLog events(*server);
  server->add_connection(std::make_shared<TimingOutConnection>(server->executor()), ConnectionRole::kAcceptor);
  ASSERT_TRUE(eventually([&] { return events.count(ConnectionEvent::Kind::kClosed) == 1; }));
  for (const auto& e : events.events()) {
    if (e.kind != ConnectionEvent::Kind::kClosed) continue;
    EXPECT_EQ(e.reason, ConnectionEvent::Reason::kTimeout) << to_string(e.reason);
    EXPECT_STREQ(to_string(e.reason), "timeout");
  }
}

TEST(RepoOverCustomTransport, ConnectorIsRedialedWithBackoffUntilDisconnect) {
  auto server = open_repo("server", answer_requests_only());
  auto client = open_repo("client");
  ASSERT_TRUE(server && client);
  EventLog client_events(*client);
  // Shared with the connector, which the client's repo may call until it is destroyed.
  struct Dials {
    std::atomic<int> attempts{0};
    std::mutex mutex;
    std::shared_ptr<Connection> accepted;  // the server's side of the latest connection
  };
  auto dials = std::make_shared<Dials>();
  std::atomic<int>& attempts = dials->attempts;
  Repo* server_repo = server.get();  // destroyed after the client
  Backoff fast;
  fast.initial = 10ms;
  fast.max = 50ms;
  const EndpointId endpoint = client->connect(
      [dials, server_repo](DialCallback on_dialed) {
        // The first two attempts fail, as a dial to a server not yet up would.
        if (++dials->attempts <= 2) return on_dialed(fail(Error(ErrorCode::kIOError, "refused (test)")));
        auto [a, b] = example::socket_pair("dialed");
        {
          std::lock_guard<std::mutex> lock(dials->mutex);
          dials->accepted = b;
        }
        server_repo->add_connection(b, ConnectionRole::kAcceptor);
        on_dialed(std::shared_ptr<Connection>(a));
      },
      "unix:test", fast);
  ASSERT_TRUE(client->wait_for_peer(PeerId("server"), 10s));
  EXPECT_EQ(attempts.load(), 3);
  std::size_t failed = 0;
  for (const auto& e : client_events.events()) {
    if (e.kind != ConnectionEvent::Kind::kDialFailed) continue;
    ++failed;
    EXPECT_EQ(e.description, "unix:test");
    EXPECT_NE(e.detail.find("refused (test)"), std::string::npos) << e.detail;
  }
  EXPECT_EQ(failed, 2u);

  // The server drops the connection: the dialer connects again.
  {
    std::lock_guard<std::mutex> lock(dials->mutex);
    dials->accepted->close();
  }
  ASSERT_TRUE(eventually([&] { return attempts.load() == 4; }));
  ASSERT_TRUE(client->wait_for_peer(PeerId("server"), 10s));

  // disconnect() stops redialing.
  client->disconnect(endpoint);
  ASSERT_TRUE(eventually([&] { return client->peers().empty(); }));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(attempts.load(), 4);
}

TEST(RepoOverCustomTransport, ConnectionAddedAfterStopIsClosed) {
  auto repo = open_repo("stopped");
  ASSERT_TRUE(repo);
  repo->stop();
  auto [a, b] = example::socket_pair("late");
  ASSERT_TRUE(a && b);
  std::promise<CloseInfo> closed;
  b->start(Connection::Handler{[](Bytes) {}, [&closed](const CloseInfo& info) { closed.set_value(info); }});
  repo->add_connection(a, ConnectionRole::kDialer);
  auto done = closed.get_future();
  ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(done.get().reason, CloseReason::kPeerClosed);
}

}  // namespace
}  // namespace am::repo
