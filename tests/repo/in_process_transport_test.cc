// The public in-process transport (am/repo/in_process_transport.h): the conformance suite every
// transport passes, on a two-thread executor (so the endpoint, not the executor, serializes the
// callbacks), and two Repos of one process syncing a document through it.
#include "am/repo/in_process_transport.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include "am/repo/repo.h"
#include "am/repo/storage_memory.h"
#include "repo/net/transport.h"
#include "support/transport_conformance.h"

namespace am::test {
namespace {

// Both endpoints deliver through one IoContext with two threads; shutdown() stops it.
class InProcessPairs : public PairFactory {
 public:
  std::optional<ConnectedPair> connect(const PairOptions& options) override {
    repo::InProcessOptions o;
    o.max_frame_bytes = options.max_frame_bytes;
    auto executor = [io = io_.get()](std::function<void()> task) { io->post(std::move(task)); };
    auto [a, b] = repo::InProcessTransport::pair(executor, executor, o);
    return ConnectedPair{a, b};
  }
  void shutdown() override { io_->stop(); }

 private:
  std::unique_ptr<repo::net::IoContext> io_ = std::make_unique<repo::net::IoContext>(2);
};

INSTANTIATE_TEST_SUITE_P(InProcess, TransportConformance,
                         ::testing::Values(TransportUnderTest{"in_process", [] {
                           return std::make_unique<InProcessPairs>();
                         }}),
                         transport_name);

}  // namespace
}  // namespace am::test

namespace am::repo {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<Repo> open_repo(const std::string& name, std::shared_ptr<const SharePolicy> policy = nullptr) {
  RepoOptions o;
  o.peer_id = name;
  o.storage = std::shared_ptr<StorageAdapter>(make_memory_storage());
  o.share_policy = std::move(policy);
  o.save_debounce = 10ms;
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

TEST(InProcessTransport, TwoReposSyncADocumentBothWays) {
  auto app = open_repo("app");
  auto worker = open_repo("worker");
  ASSERT_TRUE(app && worker);
  InProcessTransport::connect(*app, *worker);
  ASSERT_TRUE(app->wait_for_peer(PeerId("worker"), 10s));
  ASSERT_TRUE(worker->wait_for_peer(PeerId("app"), 10s));

  // Created with its title, so whatever version reaches the worker has it (a title set after
  // create() could still be in flight when the worker's find is answered).
  Document initial;
  ASSERT_TRUE(initial.put(ObjId::root(), "title", std::string("in one process")));
  initial.commit();
  auto created = app->create(initial);
  ASSERT_TRUE(created) << created.error().to_string();
  DocHandle doc = *created;
  auto found = worker->find(doc.id(), 10s).get();
  ASSERT_TRUE(found) << found.error().to_string();
  EXPECT_EQ(get_string(*found, "title"), "in one process");

  ASSERT_TRUE(found->change([](Document& d) { (void)d.put(ObjId::root(), "reply", std::string("seen")); }));
  // The side that changed waits for the other to report its new heads (the app's own view of
  // the worker's heads may still be the old ones, equal to its own).
  ASSERT_TRUE(found->wait_synced(PeerId("app"), 10s));
  EXPECT_EQ(get_string(doc, "reply"), "seen");
  EXPECT_EQ(app->stats().connections, 1u);
  EXPECT_EQ(worker->stats().connections_accepted, 1u);
}

TEST(InProcessTransport, StoppingOneRepoClosesTheOtherSide) {
  auto app = open_repo("app");
  auto worker = open_repo("worker");
  ASSERT_TRUE(app && worker);
  std::promise<std::uint64_t> connected;
  Subscription sub = worker->on_connection_event([&, done = false](const ConnectionEvent& e) mutable {
    if (e.kind == ConnectionEvent::Kind::kConnected && !done) {
      done = true;
      connected.set_value(e.connection);
    }
  });
  InProcessTransport::connect(*app, *worker, InProcessOptions{0, "ui"});
  ASSERT_TRUE(worker->wait_for_peer(PeerId("app"), 10s));
  const std::uint64_t id = connected.get_future().get();
  auto finished = worker->connection_finished(id);
  ASSERT_TRUE(finished.has_value());
  app->stop();
  ASSERT_EQ(finished->wait_for(10s), std::future_status::ready);
  const ConnectionEvent closed = finished->get();
  EXPECT_EQ(closed.reason, ConnectionEvent::Reason::kTheyClosed);
  EXPECT_EQ(closed.description, "in-process ui b");
  EXPECT_TRUE(worker->peers().empty());
}

TEST(InProcessTransport, AnExecutorOfAStoppedRepoDropsTasks) {
  auto repo = open_repo("r");
  ASSERT_TRUE(repo);
  Executor executor = repo->executor();
  std::promise<void> ran;
  executor([&] { ran.set_value(); });
  EXPECT_EQ(ran.get_future().wait_for(10s), std::future_status::ready);
  repo.reset();  // stops and destroys the repo; the executor outlives it
  bool ran_after = false;
  executor([&] { ran_after = true; });
  EXPECT_FALSE(ran_after);  // dropped, not run inline (there is no thread left to run it)
}

}  // namespace
}  // namespace am::repo
