// SequenceIndex micro-benchmarks: building a 260,000-element sequence (random positions and a
// typing pattern) and the lookups the CRDT makes against it. The "per_op" counter is the time
// per single index operation (the benchmark's own time is per batch of operations).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "core/opset/sequence_index.h"

namespace am::core {
namespace {

using Handle = SequenceIndex::Handle;
constexpr std::uint32_t kElements = 260000;
constexpr std::uint32_t kLookups = 100000;

// Text-like widths: one code point, 1 in 20 outside the BMP (2 UTF-16 units), 1 in 10 deleted.
SeqWidth width_for(std::uint64_t r) {
  if (r % 10 == 0) return SeqWidth{0, 0};
  return SeqWidth{1, r % 20 == 1 ? 2u : 1u};
}

void set_per_op(benchmark::State& state, std::uint64_t ops_per_iteration) {
  state.counters["per_op"] = benchmark::Counter(
      static_cast<double>(ops_per_iteration),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// insert(pos) at uniformly random positions.
void BM_InsertRandomPos(benchmark::State& state) {
  std::mt19937_64 rng(1);
  std::vector<std::uint64_t> r(kElements);
  for (auto& x : r) x = rng();
  for (auto _ : state) {
    SequenceIndex idx;
    for (Handle h = 0; h < kElements; ++h) {
      idx.insert(static_cast<std::size_t>(r[h] % (std::uint64_t{h} + 1)), h, width_for(r[h] >> 32));
    }
    benchmark::DoNotOptimize(idx.size());
  }
  set_per_op(state, kElements);
}
BENCHMARK(BM_InsertRandomPos)->Unit(benchmark::kMillisecond);

// insert_after(random existing element), the CRDT's way of applying a remote insert.
void BM_InsertAfterRandom(benchmark::State& state) {
  std::mt19937_64 rng(2);
  std::vector<std::uint64_t> r(kElements);
  for (auto& x : r) x = rng();
  for (auto _ : state) {
    SequenceIndex idx;
    for (Handle h = 0; h < kElements; ++h) {
      const Handle prev = h == 0 ? SequenceIndex::kNone : static_cast<Handle>(r[h] % h);
      idx.insert_after(prev, h, width_for(r[h] >> 32));
    }
    benchmark::DoNotOptimize(idx.size());
  }
  set_per_op(state, kElements);
}
BENCHMARK(BM_InsertAfterRandom)->Unit(benchmark::kMillisecond);

// Typing: the cursor jumps to a random place every ~50 keystrokes, then inserts at the cursor.
// Arg 0: insert(pos) at the moving position; arg 1: insert_after(previous keystroke).
void BM_InsertTyping(benchmark::State& state) {
  const bool after = state.range(0) == 1;
  std::mt19937_64 rng(3);
  std::vector<std::uint64_t> r(kElements);
  for (auto& x : r) x = rng();
  for (auto _ : state) {
    SequenceIndex idx;
    std::size_t pos = 0;
    Handle prev = SequenceIndex::kNone;
    for (Handle h = 0; h < kElements; ++h) {
      if (r[h] % 50 == 0) {
        pos = static_cast<std::size_t>((r[h] >> 8) % (std::uint64_t{h} + 1));
        prev = pos == 0 ? SequenceIndex::kNone : idx.at(pos - 1);
      }
      if (after) {
        idx.insert_after(prev, h, width_for(r[h] >> 32));
        prev = h;
      } else {
        idx.insert(pos++, h, width_for(r[h] >> 32));
      }
    }
    benchmark::DoNotOptimize(idx.size());
  }
  set_per_op(state, kElements);
}
BENCHMARK(BM_InsertTyping)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// A 260,000-element index built by random inserts, shared by the lookup benchmarks.
const SequenceIndex& built_index() {
  static const SequenceIndex idx = [] {
    std::mt19937_64 rng(4);
    SequenceIndex s;
    s.reserve(kElements);
    for (Handle h = 0; h < kElements; ++h) {
      const std::uint64_t r = rng();
      s.insert(static_cast<std::size_t>(r % (std::uint64_t{h} + 1)), h, width_for(r >> 32));
    }
    return s;
  }();
  return idx;
}

std::vector<std::uint64_t> random_values(std::uint64_t seed, std::uint64_t bound) {
  std::mt19937_64 rng(seed);
  std::vector<std::uint64_t> v(kLookups);
  for (auto& x : v) x = rng() % bound;
  return v;
}

void BM_IndexOf(benchmark::State& state) {
  const SequenceIndex& idx = built_index();
  const auto hs = random_values(5, kElements);
  for (auto _ : state) {
    std::size_t acc = 0;
    for (const auto h : hs) acc += idx.index_of(static_cast<Handle>(h));
    benchmark::DoNotOptimize(acc);
  }
  set_per_op(state, kLookups);
}
BENCHMARK(BM_IndexOf)->Unit(benchmark::kMicrosecond);

void BM_OffsetOf(benchmark::State& state) {
  const WidthUnit u = static_cast<WidthUnit>(state.range(0));
  const SequenceIndex& idx = built_index();
  const auto hs = random_values(6, kElements);
  for (auto _ : state) {
    std::uint64_t acc = 0;
    for (const auto h : hs) acc += idx.offset_of(static_cast<Handle>(h), u);
    benchmark::DoNotOptimize(acc);
  }
  set_per_op(state, kLookups);
}
BENCHMARK(BM_OffsetOf)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

void BM_FindByOffset(benchmark::State& state) {
  const WidthUnit u = static_cast<WidthUnit>(state.range(0));
  const SequenceIndex& idx = built_index();
  const auto offs = random_values(7, idx.total_width(u));
  for (auto _ : state) {
    std::uint64_t acc = 0;
    for (const auto o : offs) acc += idx.find_by_offset(o, u);
    benchmark::DoNotOptimize(acc);
  }
  set_per_op(state, kLookups);
}
BENCHMARK(BM_FindByOffset)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

void BM_At(benchmark::State& state) {
  const SequenceIndex& idx = built_index();
  const auto pos = random_values(8, kElements);
  for (auto _ : state) {
    std::uint64_t acc = 0;
    for (const auto p : pos) acc += idx.at(static_cast<std::size_t>(p));
    benchmark::DoNotOptimize(acc);
  }
  set_per_op(state, kLookups);
}
BENCHMARK(BM_At)->Unit(benchmark::kMicrosecond);

void BM_SetWidth(benchmark::State& state) {
  SequenceIndex idx = built_index();
  const auto hs = random_values(9, kElements);
  std::uint32_t flip = 0;
  for (auto _ : state) {
    for (const auto h : hs) idx.set_width(static_cast<Handle>(h), SeqWidth{flip & 1, flip & 1});
    ++flip;
    benchmark::DoNotOptimize(idx.total_width(WidthUnit::kChars));
  }
  set_per_op(state, kLookups);
}
BENCHMARK(BM_SetWidth)->Unit(benchmark::kMicrosecond);

// Walking the whole sequence with next().
void BM_IterateNext(benchmark::State& state) {
  const SequenceIndex& idx = built_index();
  for (auto _ : state) {
    std::uint64_t acc = 0;
    for (Handle h = idx.first(); h != SequenceIndex::kNone; h = idx.next(h)) acc += h;
    benchmark::DoNotOptimize(acc);
  }
  set_per_op(state, kElements);
}
BENCHMARK(BM_IterateNext)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace am::core
