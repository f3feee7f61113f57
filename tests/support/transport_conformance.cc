// The transport conformance cases (see support/transport_conformance.h): what every
// am::repo::Connection promises, whatever carries the frames.
#include "support/transport_conformance.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <thread>
#include <utility>
#include <vector>

#include "support/test_bytes.h"

namespace am::test {

void TransportConformance::SetUp() {
  factory_ = GetParam().make();
  ASSERT_TRUE(factory_) << "no PairFactory for " << GetParam().name;
}

void TransportConformance::TearDown() {
  if (!factory_) return;
  for (auto& connection : connections_) connection->close();
  for (auto& recorder : recorders_) {
    EXPECT_TRUE(recorder->wait_for_close()) << "a started connection never reported on_close";
  }
  factory_->shutdown();  // every callback that will ever run has run
  for (auto& recorder : recorders_) {
    EXPECT_EQ(recorder->close_count(), 1) << "on_close must run exactly once";
    EXPECT_EQ(recorder->frames_after_close(), 0) << "on_frame after on_close";
    EXPECT_FALSE(recorder->callbacks_overlapped()) << "callbacks of one connection overlapped";
  }
  connections_.clear();
}

std::optional<ConnectedPair> TransportConformance::connect(const PairOptions& options) {
  auto pair = factory_->connect(options);
  if (pair) {
    connections_.push_back(pair->client);
    connections_.push_back(pair->server);
  }
  return pair;
}

std::optional<ConnectedPair> TransportConformance::connect_faulty(Faults faults) {
  auto pair = connect();
  if (!pair) return std::nullopt;
  ConnectedPair wrapped{FaultyConnection::wrap(pair->client, faults), FaultyConnection::wrap(pair->server, faults)};
  connections_.push_back(wrapped.client);
  connections_.push_back(wrapped.server);
  return wrapped;
}

std::shared_ptr<Recorder> TransportConformance::start(const std::shared_ptr<Connection>& connection,
                                                      std::function<void(const Bytes&)> on_frame_hook) {
  auto recorder = std::make_shared<Recorder>();
  recorder->set_on_frame(std::move(on_frame_hook));
  recorders_.push_back(recorder);
  connection->start(recorder->handler());
  return recorder;
}

namespace {

using namespace std::chrono_literals;

// ---- the conformance cases -----------------------------------------------------------------

TEST_P(TransportConformance, ThousandFramesArriveInOrderBothWays) {
  auto pair = connect();
  ASSERT_TRUE(pair);
  auto client = start(pair->client);
  auto server = start(pair->server);
  std::vector<Bytes> to_server;
  std::vector<Bytes> to_client;
  for (std::uint32_t i = 0; i < 1000; ++i) {
    to_server.push_back(pattern((i * 37) % 700, i));  // sizes vary, including zero
    to_client.push_back(pattern((i * 53) % 900, i + 5000));
  }
  for (std::size_t i = 0; i < 1000; ++i) {
    pair->client->send(to_server[i]);
    pair->server->send(to_client[i]);
  }
  ASSERT_TRUE(server->wait_for_frames(1000)) << server->frame_count();
  ASSERT_TRUE(client->wait_for_frames(1000)) << client->frame_count();
  EXPECT_TRUE(server->frames() == to_server);
  EXPECT_TRUE(client->frames() == to_client);
  EXPECT_FALSE(server->close_info()) << show(server->close_info());
}

TEST_P(TransportConformance, LargeFramesArriveIntact) {
  auto pair = connect();
  ASSERT_TRUE(pair);
  auto client = start(pair->client);
  auto server = start(pair->server);
  const Bytes big_up = pattern(20u << 20, 1);
  const Bytes big_down = pattern((20u << 20) + 3, 2);
  pair->client->send(big_up);
  pair->client->send(text("after"));
  pair->server->send(big_down);
  ASSERT_TRUE(server->wait_for_frames(2)) << show(server->close_info());
  ASSERT_TRUE(client->wait_for_frames(1)) << show(client->close_info());
  const auto up = server->frames();
  EXPECT_TRUE(up[0] == big_up);
  EXPECT_EQ(up[1], text("after"));
  EXPECT_TRUE(client->frames()[0] == big_down);
}

TEST_P(TransportConformance, ZeroLengthFrameIsDelivered) {
  auto pair = connect();
  ASSERT_TRUE(pair);
  auto server = start(pair->server);
  start(pair->client);
  pair->client->send(Bytes{});
  pair->client->send(text("x"));
  ASSERT_TRUE(server->wait_for_frames(2));
  EXPECT_EQ(server->frames(), (std::vector<Bytes>{Bytes{}, text("x")}));
}

TEST_P(TransportConformance, LocalCloseHereIsPeerClosedThere) {
  auto pair = connect();
  ASSERT_TRUE(pair);
  auto client = start(pair->client);
  auto server = start(pair->server);
  pair->client->close();
  const auto mine = client->wait_for_close();
  const auto theirs = server->wait_for_close();
  ASSERT_TRUE(mine);
  ASSERT_TRUE(theirs);
  EXPECT_EQ(mine->reason, CloseReason::kLocalClose) << show(mine);
  EXPECT_EQ(theirs->reason, CloseReason::kPeerClosed) << show(theirs);
}

TEST_P(TransportConformance, ServerCloseIsPeerClosedAtTheClient) {
  auto pair = connect();
  ASSERT_TRUE(pair);
  auto client = start(pair->client);
  auto server = start(pair->server);
  pair->server->close();
  const auto theirs = client->wait_for_close();
  ASSERT_TRUE(theirs);
  EXPECT_EQ(theirs->reason, CloseReason::kPeerClosed) << show(theirs);
  const auto mine = server->wait_for_close();
  ASSERT_TRUE(mine);
  EXPECT_EQ(mine->reason, CloseReason::kLocalClose) << show(mine);
}

TEST_P(TransportConformance, FramesSentBeforeCloseAreFlushed) {
  auto pair = connect();
  ASSERT_TRUE(pair);
  start(pair->client);
  auto server = start(pair->server);
  for (std::uint32_t i = 0; i < 100; ++i) pair->client->send(pattern(1000, i));
  pair->client->close();
  const auto theirs = server->wait_for_close();
  ASSERT_TRUE(theirs);
  EXPECT_EQ(theirs->reason, CloseReason::kPeerClosed) << show(theirs);
  const auto frames = server->frames();
  ASSERT_EQ(frames.size(), 100u);
  for (std::uint32_t i = 0; i < 100; ++i) EXPECT_TRUE(frames[i] == pattern(1000, i)) << i;
}

TEST_P(TransportConformance, CloseIsIdempotentFromManyThreads) {
  auto pair = connect();
  ASSERT_TRUE(pair);
  auto client = start(pair->client);
  auto server = start(pair->server);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) pair->client->close();
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_TRUE(client->wait_for_close());
  EXPECT_EQ(client->close_info()->reason, CloseReason::kLocalClose);
  ASSERT_TRUE(server->wait_for_close());
  pair->client->close();
  pair->server->close();
  // The destructor checks that each side saw on_close exactly once.
}

TEST_P(TransportConformance, SendAfterCloseIsDroppedSilently) {
  auto pair = connect();
  ASSERT_TRUE(pair);
  auto client = start(pair->client);
  auto server = start(pair->server);
  pair->client->close();
  pair->client->send(text("too late"));
  ASSERT_TRUE(client->wait_for_close());
  pair->client->send(text("much too late"));
  ASSERT_TRUE(server->wait_for_close());
  pair->server->send(text("to a closed peer"));  // the receiving side closed too: also dropped
  EXPECT_EQ(server->frame_count(), 0u);
  EXPECT_EQ(client->frame_count(), 0u);
}

TEST_P(TransportConformance, BothSidesClosingAtOnceEachReportOnce) {
  auto pair = connect();
  ASSERT_TRUE(pair);
  auto client = start(pair->client);
  auto server = start(pair->server);
  for (int i = 0; i < 50; ++i) {
    pair->client->send(pattern(100, static_cast<std::uint32_t>(i)));
    pair->server->send(pattern(100, static_cast<std::uint32_t>(i)));
  }
  std::thread other([&] { pair->server->close(); });
  pair->client->close();
  other.join();
  for (auto* recorder : {client.get(), server.get()}) {
    const auto info = recorder->wait_for_close();
    ASSERT_TRUE(info);
    EXPECT_TRUE(one_of(info->reason, {CloseReason::kLocalClose, CloseReason::kPeerClosed}))
        << show(info);
  }
}

TEST_P(TransportConformance, FramesSentBeforeStartAreDeliveredAfterIt) {
  auto pair = connect();
  ASSERT_TRUE(pair);
  start(pair->client);
  for (std::uint32_t i = 0; i < 3; ++i) pair->client->send(pattern(10, i));
  pair->client->send(text("marker"));
  auto server = start(pair->server);
  ASSERT_TRUE(server->wait_for_frames(4));
  const auto frames = server->frames();
  for (std::uint32_t i = 0; i < 3; ++i) EXPECT_TRUE(frames[i] == pattern(10, i));
  EXPECT_EQ(frames[3], text("marker"));
}

TEST_P(TransportConformance, CloseBeforeStartIsReportedByStart) {
  auto pair = connect();
  ASSERT_TRUE(pair);
  auto client = start(pair->client);
  pair->server->close();
  auto server = start(pair->server);
  const auto info = server->wait_for_close();
  ASSERT_TRUE(info);
  EXPECT_EQ(info->reason, CloseReason::kLocalClose);
  const auto theirs = client->wait_for_close();
  ASSERT_TRUE(theirs);
  EXPECT_EQ(theirs->reason, CloseReason::kPeerClosed) << show(theirs);
}

TEST_P(TransportConformance, CallbacksOfOneConnectionNeverOverlap) {
  auto pair = connect();
  ASSERT_TRUE(pair);
  start(pair->client);
  // The hook widens the window in which an overlapping callback would be caught.
  auto server = start(pair->server, [](const Bytes&) { std::this_thread::yield(); });
  constexpr int kThreads = 4;
  constexpr int kPerThread = 250;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        pair->client->send(Bytes{static_cast<std::uint8_t>(t), static_cast<std::uint8_t>(i >> 8),
                                 static_cast<std::uint8_t>(i)});
      }
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_TRUE(server->wait_for_frames(kThreads * kPerThread));
  // Each sending thread's frames arrive in the order it sent them.
  std::vector<int> next(kThreads, 0);
  for (const Bytes& f : server->frames()) {
    ASSERT_EQ(f.size(), 3u);
    const int t = f[0];
    EXPECT_EQ((f[1] << 8) | f[2], next[static_cast<std::size_t>(t)]++) << "thread " << t;
  }
  EXPECT_FALSE(server->callbacks_overlapped());
}

TEST_P(TransportConformance, OversizedFrameClosesWithFrameTooLarge) {
  if (!factory_->has_frame_limit()) GTEST_SKIP() << "this transport has no frame limit";
  PairOptions options;
  options.max_frame_bytes = 1024;
  auto pair = connect(options);
  ASSERT_TRUE(pair);
  auto client = start(pair->client);
  auto server = start(pair->server);
  pair->client->send(pattern(1024, 1));  // exactly the limit: accepted
  pair->client->send(pattern(1025, 2));
  pair->client->send(pattern(10, 3));  // never delivered: the connection is gone
  const auto info = server->wait_for_close();
  ASSERT_TRUE(info);
  if (factory_->frame_too_large_may_be_io_error()) {
    // wss: Beast fails the connection the same way but reports the error of its TLS teardown
    // (the peer's data after our close_notify) instead of message_too_big.
    EXPECT_TRUE(one_of(info->reason, {CloseReason::kFrameTooLarge, CloseReason::kIoError})) << show(info);
  } else {
    EXPECT_EQ(info->reason, CloseReason::kFrameTooLarge) << show(info);
  }
  ASSERT_EQ(server->frame_count(), 1u);
  EXPECT_TRUE(server->frames()[0] == pattern(1024, 1));
  const auto theirs = client->wait_for_close();
  ASSERT_TRUE(theirs);
  EXPECT_TRUE(one_of(theirs->reason, {CloseReason::kPeerClosed, CloseReason::kIoError}))
      << show(theirs);
}

TEST_P(TransportConformance, FailedReadClosesWithIoError) {
  Faults faults;
  faults.fail_read_at = 5;
  auto pair = connect_faulty(faults);
  ASSERT_TRUE(pair);
  auto client = start(pair->client);
  auto server = start(pair->server);
  for (std::uint32_t i = 0; i < 10; ++i) pair->client->send(pattern(100, i));
  const auto info = server->wait_for_close();
  ASSERT_TRUE(info);
  EXPECT_EQ(info->reason, CloseReason::kIoError) << show(info);
  const auto frames = server->frames();
  ASSERT_EQ(frames.size(), 4u);  // the fifth read failed
  for (std::uint32_t i = 0; i < 4; ++i) EXPECT_TRUE(frames[i] == pattern(100, i));
  const auto theirs = client->wait_for_close();
  ASSERT_TRUE(theirs);
  EXPECT_TRUE(one_of(theirs->reason, {CloseReason::kPeerClosed, CloseReason::kIoError}))
      << show(theirs);
}

TEST_P(TransportConformance, FailedWriteClosesWithIoError) {
  Faults faults;
  faults.fail_write_at = 5;
  auto pair = connect_faulty(faults);
  ASSERT_TRUE(pair);
  auto client = start(pair->client);
  auto server = start(pair->server);
  for (std::uint32_t i = 0; i < 10; ++i) pair->client->send(pattern(100, i));
  const auto info = client->wait_for_close();
  ASSERT_TRUE(info);
  EXPECT_EQ(info->reason, CloseReason::kIoError) << show(info);
  const auto theirs = server->wait_for_close();
  ASSERT_TRUE(theirs);
  EXPECT_TRUE(one_of(theirs->reason, {CloseReason::kPeerClosed, CloseReason::kIoError}))
      << show(theirs);
  const auto frames = server->frames();
  ASSERT_EQ(frames.size(), 4u);  // the fifth write failed, so nothing after it went out
  for (std::uint32_t i = 0; i < 4; ++i) EXPECT_TRUE(frames[i] == pattern(100, i));
}

}  // namespace
}  // namespace am::test
