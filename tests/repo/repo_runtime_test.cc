// The public Repo API over real sockets on 127.0.0.1, real files and real threads.
// AM_TEST_IO_THREADS sets the repos' io threads (the TSan run uses 4).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "am/repo/repo.h"
#include "am/repo/storage_fs.h"
#include "am/repo/storage_memory.h"

namespace am::repo {
namespace {

using namespace std::chrono_literals;

std::size_t io_threads() {
  if (const char* env = std::getenv("AM_TEST_IO_THREADS")) return static_cast<std::size_t>(std::atoi(env));
  return 1;
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / ("am-repo-runtime-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::unique_ptr<Repo> open_repo(const std::string& name, std::shared_ptr<StorageAdapter> storage,
                                std::shared_ptr<const SharePolicy> policy = nullptr) {
  RepoOptions o;
  o.peer_id = name;
  o.storage = std::move(storage);
  o.share_policy = std::move(policy);
  o.io_threads = io_threads();
  o.save_debounce = 10ms;
  auto repo = Repo::open(std::move(o));
  EXPECT_TRUE(repo) << (repo ? "" : repo.error().to_string());
  return repo ? std::move(*repo) : nullptr;
}

std::shared_ptr<StorageAdapter> fs_storage(const std::filesystem::path& dir) {
  auto s = open_fs_storage(dir.string());
  EXPECT_TRUE(s);
  return std::shared_ptr<StorageAdapter>(std::move(*s));
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

Status put_string(DocHandle& h, const std::string& key, const std::string& value) {
  return h.change([&](Document& d) { (void)d.put(ObjId::root(), key, value); });
}

// Waits (bounded) until `pred` holds.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 10s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

enum class Transport { kWebSocket, kTcp };

class RepoOverTransport : public ::testing::TestWithParam<Transport> {
 protected:
  std::uint16_t listen(Repo& server) {
    auto port = GetParam() == Transport::kWebSocket ? server.listen_websocket("127.0.0.1", 0)
                                                     : server.listen_tcp("127.0.0.1", 0);
    EXPECT_TRUE(port) << (port ? "" : port.error().to_string());
    return port ? *port : 0;
  }
  EndpointId dial(Repo& client, std::uint16_t port, Backoff backoff = {}) {
    if (GetParam() == Transport::kWebSocket) {
      return client.connect_websocket("ws://127.0.0.1:" + std::to_string(port) + "/", backoff);
    }
    return client.connect_tcp("127.0.0.1", port, backoff);
  }
};

TEST_P(RepoOverTransport, ClientsSyncThroughAServer) {
  TempDir dir;
  auto server = open_repo("server", fs_storage(dir.path / "server"), answer_requests_only());
  auto alice = open_repo("alice", fs_storage(dir.path / "alice"));
  auto bob = open_repo("bob", nullptr);
  ASSERT_TRUE(server && alice && bob);
  const std::uint16_t port = listen(*server);
  std::mutex events_mutex;
  std::vector<ConnectionEvent> events;
  auto sub = server->on_connection_event([&](const ConnectionEvent& e) {
    std::lock_guard<std::mutex> lock(events_mutex);
    events.push_back(e);
  });
  dial(*alice, port);
  dial(*bob, port);
  ASSERT_TRUE(alice->wait_for_peer(PeerId("server"), 10s));
  ASSERT_TRUE(bob->wait_for_peer(PeerId("server"), 10s));
  ASSERT_TRUE(server->wait_for_peer(PeerId("alice"), 10s));

  DocHandle doc = alice->create();
  ASSERT_TRUE(put_string(doc, "title", "from alice"));
  ASSERT_TRUE(doc.wait_synced(PeerId("server"), 10s));

  auto found = bob->find(doc.id(), 10s).get();
  ASSERT_TRUE(found) << found.error().to_string();
  EXPECT_EQ(get_string(*found, "title"), "from alice");

  // An edit on bob reaches alice through the server, with patches.
  std::atomic<int> remote_changes{0};
  auto obs = doc.on_change([&](const DocumentChange& c) {
    if (!c.local && !c.patches.empty()) ++remote_changes;
  });
  ASSERT_TRUE(put_string(*found, "title", "from bob"));
  ASSERT_TRUE(eventually([&] { return get_string(doc, "title") == "from bob"; }));
  EXPECT_TRUE(eventually([&] { return remote_changes.load() >= 1; }));

  // The server stored it in the nodefs layout, and its StorageId.
  ASSERT_TRUE(server->flush(10s));
  const std::string id = doc.id().to_string();
  EXPECT_TRUE(std::filesystem::exists(dir.path / "server" / id.substr(0, 2) / id.substr(2) / "snapshot"));
  EXPECT_TRUE(std::filesystem::exists(dir.path / "server" / "st" / "orage-adapter-id"));

  // The handshake events carried the client's identity.
  std::lock_guard<std::mutex> lock(events_mutex);
  bool saw_alice = false;
  for (const auto& e : events) {
    if (e.kind == ConnectionEvent::Kind::kHandshakeComplete && e.peer == PeerId("alice")) {
      saw_alice = true;
      EXPECT_TRUE(e.peer_storage_id.has_value());
      EXPECT_FALSE(e.peer_is_ephemeral);
    }
  }
  EXPECT_TRUE(saw_alice);
}

TEST_P(RepoOverTransport, UnknownDocumentIsUnavailable) {
  auto server = open_repo("server", std::shared_ptr<StorageAdapter>(make_memory_storage()), answer_requests_only());
  auto client = open_repo("client", nullptr);
  const std::uint16_t port = listen(*server);
  dial(*client, port);
  ASSERT_TRUE(client->wait_for_peer(PeerId("server"), 10s));
  auto result = client->find(DocumentId::random(), 10s).get();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kNotFound);
}

// Documents nobody has are released from memory (a flood of random ids must not grow the
// server), and one that appears later is found as usual.
TEST_P(RepoOverTransport, UnavailableDocumentsAreReleasedAndCanAppearLater) {
  auto server = open_repo("server", std::shared_ptr<StorageAdapter>(make_memory_storage()), answer_requests_only());
  auto client = open_repo("client", nullptr);
  const std::uint16_t port = listen(*server);
  dial(*client, port);
  ASSERT_TRUE(client->wait_for_peer(PeerId("server"), 10s));
  std::vector<DocumentId> ids;
  for (int i = 0; i < 40; ++i) ids.push_back(DocumentId::random());
  std::vector<std::future<Result<DocHandle>>> finds;
  for (const DocumentId& id : ids) finds.push_back(client->find(id, 10s));
  for (auto& f : finds) {
    auto r = f.get();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kNotFound) << r.error().to_string();
  }
  EXPECT_TRUE(eventually([&] { return server->open_documents().empty(); }))
      << server->open_documents().size() << " unavailable documents still in the server's memory";
  EXPECT_TRUE(eventually([&] { return client->open_documents().empty(); }));
  // Someone else creates one of them under that id: the client finds it through the server.
  auto creator = open_repo("creator", nullptr);
  dial(*creator, port);
  ASSERT_TRUE(creator->wait_for_peer(PeerId("server"), 10s));
  Document initial;
  (void)initial.put(ObjId::root(), "k", std::string("appeared"));
  initial.commit();
  auto made = creator->import(initial.save(), ids[7]);
  ASSERT_TRUE(made) << made.error().to_string();
  ASSERT_TRUE(made->wait_synced(PeerId("server"), 10s));
  auto found = client->find(ids[7], 10s).get();
  ASSERT_TRUE(found) << found.error().to_string();
  EXPECT_EQ(get_string(*found, "k"), "appeared");
}

// RepoOptions::idle_timeout: a document leaves the server's memory once no connected peer uses
// it and it has been idle that long, and comes back from storage when asked for again.
TEST_P(RepoOverTransport, IdleDocumentsLeaveMemoryAndComeBackFromStorage) {
  TempDir dir;
  RepoOptions so;
  so.peer_id = "server";
  so.storage = fs_storage(dir.path / "server");
  so.share_policy = answer_requests_only();
  so.io_threads = io_threads();
  so.save_debounce = 10ms;
  so.idle_timeout = 150ms;
  auto opened = Repo::open(so);
  ASSERT_TRUE(opened) << opened.error().to_string();
  auto server = std::move(*opened);
  const std::uint16_t port = listen(*server);
  auto client = open_repo("client", nullptr);
  dial(*client, port);
  ASSERT_TRUE(client->wait_for_peer(PeerId("server"), 10s));
  DocHandle doc = client->create();
  ASSERT_TRUE(put_string(doc, "k", "kept on disk"));
  ASSERT_TRUE(doc.wait_synced(PeerId("server"), 10s));
  const DocumentId id = doc.id();
  ASSERT_EQ(server->open_documents(), std::vector<DocumentId>{id});
  // In use by a connected peer: stays, however long it is idle.
  std::this_thread::sleep_for(600ms);
  EXPECT_EQ(server->open_documents(), std::vector<DocumentId>{id}) << "dropped while a peer syncs it";
  client->stop();
  client.reset();
  EXPECT_TRUE(eventually([&] { return server->open_documents().empty(); })) << "an idle document stayed in memory";
  // Asked for again: loaded from storage, content intact.
  auto reader = open_repo("reader", nullptr);
  dial(*reader, port);
  ASSERT_TRUE(reader->wait_for_peer(PeerId("server"), 10s));
  auto found = reader->find(id, 10s).get();
  ASSERT_TRUE(found) << found.error().to_string();
  EXPECT_EQ(get_string(*found, "k"), "kept on disk");
  EXPECT_EQ(server->open_documents(), std::vector<DocumentId>{id});
}

TEST_P(RepoOverTransport, ClientReconnectsAfterServerRestart) {
  TempDir dir;
  auto server = open_repo("server", fs_storage(dir.path / "server"), answer_requests_only());
  auto client = open_repo("client", fs_storage(dir.path / "client"));
  const std::uint16_t port = listen(*server);
  Backoff fast;
  fast.initial = 20ms;
  fast.max = 200ms;
  // The first connection's completion future reports why it ended.
  std::mutex finished_mutex;
  std::optional<std::uint64_t> first_connection;
  // Shared with the waiting thread, which may outlive this test if an assertion ends it early.
  auto first_closed = std::make_shared<std::promise<ConnectionEvent>>();
  std::shared_future<ConnectionEvent> first_finished = first_closed->get_future().share();
  auto sub = client->on_connection_event([&](const ConnectionEvent& e) {
    if (e.kind != ConnectionEvent::Kind::kConnected) return;
    std::lock_guard<std::mutex> lock(finished_mutex);
    if (first_connection) return;
    first_connection = e.connection;
    auto f = client->connection_finished(e.connection);
    ASSERT_TRUE(f.has_value());
    std::thread([f = *f, first_closed] { first_closed->set_value(f.get()); }).detach();
  });
  dial(*client, port, fast);
  ASSERT_TRUE(client->wait_for_peer(PeerId("server"), 10s));
  DocHandle doc = client->create();
  ASSERT_TRUE(put_string(doc, "k", "before"));
  ASSERT_TRUE(doc.wait_synced(PeerId("server"), 10s));
  server->stop();
  server.reset();
  ASSERT_TRUE(eventually([&] { return client->peers().empty(); }));
  {
    std::lock_guard<std::mutex> lock(finished_mutex);
    ASSERT_TRUE(first_connection.has_value());
  }
  ASSERT_EQ(first_finished.wait_for(10s), std::future_status::ready);
  // The server closed it: cleanly (WebSocket close frame, TCP end of stream) or, when the
  // server's threads stopped first, as an abrupt end.
  const auto reason = first_finished.get().reason;
  EXPECT_TRUE(reason == ConnectionEvent::Reason::kTheyClosed || reason == ConnectionEvent::Reason::kIoError)
      << to_string(reason);
  ASSERT_TRUE(put_string(doc, "k", "while the server was down"));
  // Same port, same storage: the client's dialer finds it again and finishes syncing.
  server = open_repo("server", fs_storage(dir.path / "server"), answer_requests_only());
  auto again = GetParam() == Transport::kWebSocket ? server->listen_websocket("127.0.0.1", port)
                                                    : server->listen_tcp("127.0.0.1", port);
  ASSERT_TRUE(again) << again.error().to_string();
  ASSERT_TRUE(client->wait_for_peer(PeerId("server"), 10s));
  ASSERT_TRUE(doc.wait_synced(PeerId("server"), 10s));
  auto on_server = server->find(doc.id(), 10s).get();
  ASSERT_TRUE(on_server);
  EXPECT_EQ(get_string(*on_server, "k"), "while the server was down");
}

TEST_P(RepoOverTransport, EphemeralMessagesReachOtherClients) {
  auto server = open_repo("server", nullptr, answer_requests_only());
  auto a = open_repo("a", nullptr);
  auto b = open_repo("b", nullptr);
  const std::uint16_t port = listen(*server);
  dial(*a, port);
  dial(*b, port);
  ASSERT_TRUE(a->wait_for_peer(PeerId("server"), 10s));
  ASSERT_TRUE(b->wait_for_peer(PeerId("server"), 10s));
  DocHandle doc = a->create();
  ASSERT_TRUE(doc.wait_synced(PeerId("server"), 10s));
  auto on_b = b->find(doc.id(), 10s).get();
  ASSERT_TRUE(on_b);
  std::mutex m;
  std::vector<std::pair<std::string, Bytes>> got;
  auto sub = on_b->on_ephemeral([&](const PeerId& sender, const Bytes& data) {
    std::lock_guard<std::mutex> lock(m);
    got.emplace_back(sender.str(), data);
  });
  ASSERT_TRUE(on_b->wait_synced(PeerId("server"), 10s));
  doc.broadcast(Bytes{0xa1, 0x61, 0x78, 0x01});  // CBOR {"x": 1}
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lock(m);
    return !got.empty();
  }));
  std::lock_guard<std::mutex> lock(m);
  EXPECT_EQ(got[0].first, "a");
  EXPECT_EQ(got[0].second, (Bytes{0xa1, 0x61, 0x78, 0x01}));
}

INSTANTIATE_TEST_SUITE_P(Transports, RepoOverTransport, ::testing::Values(Transport::kWebSocket, Transport::kTcp),
                         [](const auto& info) { return info.param == Transport::kWebSocket ? "WebSocket" : "Tcp"; });

TEST(Repo, ImportExportAndStorageRoundTrip) {
  TempDir dir;
  DocumentId id;
  {
    auto repo = open_repo("one", fs_storage(dir.path));
    DocHandle doc = repo->create();
    ASSERT_TRUE(put_string(doc, "k", "persisted"));
    id = doc.id();
    repo->stop();  // flushes
  }
  auto repo = open_repo("two", fs_storage(dir.path));
  auto stored = repo->stored_documents();
  ASSERT_TRUE(stored);
  EXPECT_EQ(*stored, std::vector<DocumentId>{id});
  auto bytes = repo->export_document(id, 10s);
  ASSERT_TRUE(bytes) << bytes.error().to_string();
  auto imported = repo->import(*bytes);
  ASSERT_TRUE(imported);
  EXPECT_EQ(get_string(*imported, "k"), "persisted");
  EXPECT_NE(imported->id(), id);
  ASSERT_TRUE(repo->remove(id));
  ASSERT_TRUE(eventually([&] {
    auto s = repo->stored_documents();
    return s && std::find(s->begin(), s->end(), id) == s->end();
  }));
}

// Two repos on one store (as two servers on one PostgreSQL database): reload_document merges
// what the other saved, tells observers, and writes nothing itself.
TEST(Repo, ReloadDocumentMergesWhatAnotherRepoSavedWithoutSavingItAgain) {
  std::shared_ptr<StorageAdapter> store(make_memory_storage());
  auto one = open_repo("one", store);
  auto two = open_repo("two", store);
  ASSERT_TRUE(one && two);
  DocHandle a = one->create();
  ASSERT_TRUE(put_string(a, "k", "v1"));
  ASSERT_TRUE(one->flush(10s));
  auto found = two->find(a.id(), 10s).get();
  ASSERT_TRUE(found) << found.error().to_string();
  DocHandle b = *found;
  EXPECT_EQ(get_string(b, "k"), "v1");
  std::atomic<int> remote_changes{0};
  auto obs = b.on_change([&](const DocumentChange& c) {
    if (!c.local && !c.patches.empty()) ++remote_changes;
  });

  ASSERT_TRUE(put_string(a, "k", "v2"));
  ASSERT_TRUE(one->flush(10s));
  auto keys = [&] {
    std::set<StorageKey> out;
    auto r = store->load_range({a.id().to_string()});
    EXPECT_TRUE(r);
    if (r) {
      for (const auto& [k, v] : *r) out.insert(k);
    }
    return out;
  };
  const auto written_by_one = keys();
  EXPECT_EQ(get_string(b, "k"), "v1");  // nothing tells two by itself
  two->reload_document(a.id());
  ASSERT_TRUE(eventually([&] { return get_string(b, "k") == "v2"; }));
  EXPECT_TRUE(eventually([&] { return remote_changes.load() == 1; }));
  EXPECT_EQ(b.heads(), a.heads());
  ASSERT_TRUE(two->flush(10s));
  EXPECT_EQ(keys(), written_by_one);  // two saved nothing: the changes were in storage already

  // Unknown and unopened documents are ignored; a second reload changes nothing.
  two->reload_document(DocumentId::random());
  two->reload_document(a.id());
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(remote_changes.load(), 1);

  // And the other way round, after two compacts what it now knows.
  ASSERT_TRUE(put_string(b, "k", "v3"));
  ASSERT_TRUE(two->flush(10s));
  one->reload_document(a.id());
  ASSERT_TRUE(eventually([&] { return get_string(a, "k") == "v3"; }));
  EXPECT_EQ(a.heads(), b.heads());
}

// stop() waits a second for the connections to close; when the io threads are busy longer than
// that (here an observer holds the only one; in amrepo serve, after a request flood, the closes
// were queued behind thousands of documents) connections are still registered when the event
// loop stops. They must not outlive it: destroyed later with the repo, a WebSocket stream
// touched Beast's websocket service after its io_context had gone (SIGSEGV on SIGTERM).
TEST(Repo, StopsWhenTheConnectionsCannotCloseInTime) {
  RepoOptions so;
  so.peer_id = "server";
  so.io_threads = 1;
  auto server = Repo::open(so);
  ASSERT_TRUE(server);
  auto port = (*server)->listen_websocket("127.0.0.1", 0);
  ASSERT_TRUE(port);
  auto client = open_repo("client", nullptr);
  client->connect_websocket("ws://127.0.0.1:" + std::to_string(*port) + "/");
  ASSERT_TRUE(eventually([&] { return (*server)->stats().peers == 1; }));
  DocHandle doc = (*server)->create();
  std::atomic<bool> busy{false};
  Subscription sub = doc.on_change([&busy](const DocumentChange&) {
    busy = true;
    std::this_thread::sleep_for(1500ms);
  });
  ASSERT_TRUE(doc.change([](Document& d) { (void)d.put(ObjId::root(), "k", std::int64_t{1}); }));
  ASSERT_TRUE(eventually([&] { return busy.load(); }));
  (*server)->stop();
  EXPECT_EQ((*server)->stats().connections, 0u);
  server->reset();  // crashed here: use after free in the WebSocket stream's destructor
  sub.reset();
}

}  // namespace
}  // namespace am::repo
