// The dialers' retry timing (src/repo/runtime/backoff.h).
#include "repo/runtime/backoff.h"

#include <gtest/gtest.h>

#include <chrono>
#include <random>

namespace am::repo::runtime {
namespace {

using namespace std::chrono_literals;

TEST(Backoff, DoublesFromInitialUpToMaxWithoutJitter) {
  Backoff b;
  b.initial = 200ms;
  b.max = 10'000ms;
  b.jitter = 0;
  std::mt19937_64 rng(1);
  EXPECT_EQ(backoff_delay(b, 0, rng), 200ms);
  EXPECT_EQ(backoff_delay(b, 1, rng), 400ms);
  EXPECT_EQ(backoff_delay(b, 5, rng), 6400ms);
  EXPECT_EQ(backoff_delay(b, 6, rng), 10'000ms);
  EXPECT_EQ(backoff_delay(b, 1000, rng), 10'000ms) << "the exponent is capped, the shift never overflows";
}

TEST(Backoff, JitterStaysWithinItsFraction) {
  Backoff b;
  b.initial = 1000ms;
  b.max = 1000ms;
  b.jitter = 0.25;
  std::mt19937_64 rng(7);
  bool below = false;
  bool above = false;
  for (int i = 0; i < 1000; ++i) {
    const auto d = backoff_delay(b, 3, rng);
    EXPECT_GE(d, 750ms);
    EXPECT_LE(d, 1250ms);
    below = below || d < 1000ms;
    above = above || d > 1000ms;
  }
  EXPECT_TRUE(below && above) << "the waits vary both ways";
}

}  // namespace
}  // namespace am::repo::runtime
