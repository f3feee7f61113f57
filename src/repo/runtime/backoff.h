// The dialers' retry timing (Backoff in am/repo/repo.h), apart from the runtime so it can be
// read and tested on its own: the wait before the next attempt doubles from Backoff::initial up
// to Backoff::max and varies by +-Backoff::jitter.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <random>

#include "am/repo/repo.h"

namespace am::repo::runtime {

/// The exponent of the doubling is capped here, so that the shift cannot overflow (2^20 times
/// any sensible `initial` is far above any sensible `max`).
inline constexpr std::size_t kMaxBackoffDoublings = 20;

/// The wait before the next attempt when `attempts` waits came before it:
/// min(max, initial * 2^attempts) times a uniform factor in [1 - jitter, 1 + jitter].
/// Thread safety: none for `rng`; the caller serializes its use.
inline std::chrono::milliseconds backoff_delay(const Backoff& backoff, std::size_t attempts, std::mt19937_64& rng) {
  const double base = std::min<double>(static_cast<double>(backoff.max.count()),
                                       static_cast<double>(backoff.initial.count()) *
                                           static_cast<double>(1ULL << std::min<std::size_t>(attempts, kMaxBackoffDoublings)));
  std::uniform_real_distribution<double> jitter(1.0 - backoff.jitter, 1.0 + backoff.jitter);
  return std::chrono::milliseconds(static_cast<std::int64_t>(base * jitter(rng)));
}

}  // namespace am::repo::runtime
