// OpIdIndex: op id -> index of the op in the op set. Internal to am_core; not thread-safe.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/util/big_alloc.h"

namespace am::core {

/// An op id with the actor as an index into the document's actor table.
struct OpId {
  std::uint32_t counter = 0;
  std::uint32_t actor = 0;
  friend bool operator==(const OpId&, const OpId&) = default;
};
inline std::uint64_t pack(OpId id) { return (std::uint64_t{id.counter} << 32) | id.actor; }

/// Op id -> op index.
///
/// An actor numbers its ops with growing counters, a change's ops consecutively, so per actor
/// the ids come in runs: each run maps consecutive counters to a slice of one flat array of op
/// indexes (4 bytes per counter; a short gap, such as a delete, which is not stored, holds
/// kEmpty). A document written by one actor is one run and a lookup is one array read; with
/// several actors, a binary search over the actor's runs (the latest run is tried first, since
/// edits mostly refer to recent ops). This replaced a hash table: about 4 bytes per op instead of
/// 16-24, and appends instead of a cache miss per insert. An id below the actor's latest run
/// and outside every run (no valid history produces one) goes to a small hash map.
///
/// A loaded document's ops are in document order, where a text's typed characters follow each
/// other: consecutive counters of an actor mostly have consecutive op indexes. assign() then
/// keeps such an actor as linear runs instead (12 bytes per run of counters whose indexes
/// ascend by one: moby-dick's 1,237,585 counters are 14 runs, egwalker-S2's 1,104,627 are
/// 50,779) when that takes at most half the bytes of its slots; a lookup is then a binary
/// search over the runs, the latest tried first, and ops added later extend the latest run.
class OpIdIndex {
 public:
  std::optional<std::uint32_t> find(OpId id) const {
    if (id.counter == 0) return std::nullopt;
    if (id.actor < actors_.size()) {
      const std::uint32_t v = actors_[id.actor].find(id.counter);
      if (v != kEmpty) return v;
    }
    if (!stray_.empty()) {
      if (auto it = stray_.find(pack(id)); it != stray_.end()) return it->second;
    }
    return std::nullopt;
  }
  bool contains(OpId id) const { return find(id).has_value(); }

  /// Inserts id -> value unless id is present. Returns false (and changes nothing) if present.
  /// REQUIRES: id.counter != 0, value != UINT32_MAX.
  bool insert(OpId id, std::uint32_t value) {
    if (actors_.size() <= id.actor) actors_.resize(std::size_t{id.actor} + 1);
    PerActor& a = actors_[id.actor];
    switch (a.place(id.counter, value)) {
      case Placed::kStored: ++size_; return true;
      case Placed::kPresent: return false;
      case Placed::kOutside: break;
    }
    if (!stray_.emplace(pack(id), value).second) return false;
    ++size_;
    return true;
  }
  std::size_t size() const { return size_; }
  /// The bytes the index holds on the heap (capacities; the hash map's entries counted, not its
  /// buckets): what assign()'s choice between slots and linear runs is about.
  std::size_t memory_bytes() const {
    std::size_t bytes = actors_.capacity() * sizeof(PerActor) + stray_.size() * 2 * sizeof(std::uint64_t);
    for (const PerActor& a : actors_) {
      bytes += a.runs.capacity() * sizeof(Run) + a.slots.capacity() * sizeof(std::uint32_t) +
               a.linear.capacity() * sizeof(LinearRun);
    }
    return bytes;
  }

  /// Replaces the contents with id_at(i) -> i for every i < n, the ids in any order (a document's
  /// ops in document order): per actor, linear runs when they take at most half the bytes of
  /// slots, else one run of slots over its counters when they are dense (at most four counters
  /// per id), else runs of sorted counters. O(n) for dense actors, O(n + r log r) for r linear
  /// runs, where n inserts in that order would send most ids to the hash map. Returns false on a duplicate or zero id,
  /// leaving the index empty. REQUIRES: n < UINT32_MAX.
  template <class IdAt>
  bool assign(std::size_t n, IdAt&& id_at);

 private:
  static constexpr std::uint32_t kEmpty = UINT32_MAX;
  // A gap of up to this many counters extends the latest run (kEmpty slots) instead of starting
  // a new one: cheaper than a run for the few deletes between two stored ops of a change.
  static constexpr std::uint32_t kMaxGap = 16;

  enum class Placed { kStored, kPresent, kOutside };

  struct Run {
    std::uint32_t first_counter = 0;
    std::uint32_t offset = 0;  // into slots; the run ends where the next one begins
  };

  // Counters [first_counter, first_counter + count) have op indexes first_value, +1, ...
  struct LinearRun {
    std::uint32_t first_counter = 0;
    std::uint32_t first_value = 0;
    std::uint32_t count = 0;
    std::uint64_t end() const { return std::uint64_t{first_counter} + count; }
  };

  struct PerActor {
    std::vector<Run> runs;  // ascending first_counter
    BigVector<std::uint32_t> slots;
    // When not empty, the actor is kept as these instead (runs and slots are empty), ascending
    // first_counter.
    std::vector<LinearRun> linear;

    static constexpr std::size_t kNoSlot = SIZE_MAX;

    // The end (one past the last counter) of run r: 64 bits, a run may end at counter 2^32 - 1.
    std::uint64_t end_of(std::size_t r) const {
      const std::size_t stop = r + 1 < runs.size() ? runs[r + 1].offset : slots.size();
      return std::uint64_t{runs[r].first_counter} + (stop - runs[r].offset);
    }
    // The slot of `counter`, or kNoSlot when no run covers it.
    std::size_t slot_of(std::uint32_t counter) const {
      if (runs.empty() || counter < runs.front().first_counter) return kNoSlot;
      std::size_t r = runs.size() - 1;
      if (counter < runs[r].first_counter) {
        const auto it = std::upper_bound(runs.begin(), runs.end(), counter,
                                         [](std::uint32_t c, const Run& run) { return c < run.first_counter; });
        r = static_cast<std::size_t>(it - runs.begin()) - 1;
      }
      if (counter >= end_of(r)) return kNoSlot;
      return runs[r].offset + (counter - runs[r].first_counter);
    }
    std::uint32_t find(std::uint32_t counter) const {
      if (!linear.empty()) return find_linear(counter);
      const std::size_t s = slot_of(counter);
      return s == kNoSlot ? kEmpty : slots[s];
    }
    std::uint32_t find_linear(std::uint32_t counter) const {
      const LinearRun* r = &linear.back();
      if (counter < r->first_counter) {
        const auto it = std::upper_bound(linear.begin(), linear.end(), counter,
                                         [](std::uint32_t c, const LinearRun& run) { return c < run.first_counter; });
        if (it == linear.begin()) return kEmpty;
        r = &*(it - 1);
      }
      return counter < r->end() ? r->first_value + (counter - r->first_counter) : kEmpty;
    }
    Placed place_linear(std::uint32_t counter, std::uint32_t value) {
      if (find_linear(counter) != kEmpty) return Placed::kPresent;
      LinearRun& last = linear.back();
      if (counter < last.end()) return Placed::kOutside;  // in a gap below the latest run
      if (counter == last.end() && std::uint64_t{last.first_value} + last.count == value) {
        ++last.count;
      } else {
        linear.push_back(LinearRun{counter, value, 1});
      }
      return Placed::kStored;
    }
    // Sorts the linear runs (made in document order) by counter, by radix through (counter,
    // run) pairs: egwalker-S2's 50,779 runs took 19 M instructions in std::sort. False if two
    // overlap (an id twice). Defined after detail::sort_by_counter.
    template <class Pairs>
    bool sort_linear(Pairs& pairs, Pairs& scratch);
    Placed place(std::uint32_t counter, std::uint32_t value) {
      if (!linear.empty()) return place_linear(counter, value);
      if (const std::size_t s = slot_of(counter); s != kNoSlot) {
        if (slots[s] != kEmpty) return Placed::kPresent;
        slots[s] = value;  // a gap's slot
        return Placed::kStored;
      }
      const std::uint64_t end = runs.empty() ? 0 : end_of(runs.size() - 1);
      if (!runs.empty() && counter < end) return Placed::kOutside;  // below the latest run
      if (runs.empty() || counter - end > kMaxGap) {
        runs.push_back(Run{counter, static_cast<std::uint32_t>(slots.size())});
      } else {
        slots.insert(slots.end(), static_cast<std::size_t>(counter - end), kEmpty);
      }
      slots.push_back(value);
      return Placed::kStored;
    }
  };

  std::vector<PerActor> actors_;
  std::unordered_map<std::uint64_t, std::uint32_t> stray_;
  std::size_t size_ = 0;
};

namespace detail {

/// Below this many pairs, sort_by_counter calls std::sort: a radix pass costs a 2,048-entry
/// histogram whatever the count.
inline constexpr std::size_t kRadixMinPairs = 256;

/// Sorts (counter, value) pairs by counter, pairs of equal counters in their order: the order
/// std::sort gives when the values of equal counters ascend, as OpIdIndex::assign's do. A long
/// array goes by radix, 11 bits a pass over the bits where its counters differ: a load sorts
/// the ops of every actor whose counters are sparse, and std::sort of them was 4.5% of
/// egwalker-A1's sync to an empty peer. `scratch` is a buffer of the same type (any contents),
/// kept by the caller across calls.
template <class Pairs>
void sort_by_counter(Pairs& pairs, Pairs& scratch) {
  const std::size_t n = pairs.size();
  if (n < kRadixMinPairs) {
    std::sort(pairs.begin(), pairs.end());
    return;
  }
  std::uint32_t lo = UINT32_MAX;
  std::uint32_t hi = 0;
  for (const auto& p : pairs) {
    lo = std::min(lo, p.first);
    hi = std::max(hi, p.first);
  }
  constexpr int kBits = 11;
  constexpr std::uint32_t kMask = (std::uint32_t{1} << kBits) - 1;
  scratch.resize(n);
  std::array<std::uint32_t, std::size_t{1} << kBits> at{};
  const int bits = static_cast<int>(std::bit_width(hi - lo));  // libstdc++ 12 returns the unsigned type
  for (int shift = 0; shift < bits; shift += kBits) {
    at.fill(0);
    for (const auto& p : pairs) ++at[((p.first - lo) >> shift) & kMask];
    std::uint32_t sum = 0;
    for (std::uint32_t& a : at) sum += std::exchange(a, sum);
    for (const auto& p : pairs) scratch[at[((p.first - lo) >> shift) & kMask]++] = p;
    pairs.swap(scratch);
  }
}

}  // namespace detail

template <class Pairs>
bool OpIdIndex::PerActor::sort_linear(Pairs& pairs, Pairs& scratch) {
  pairs.clear();
  for (std::size_t k = 0; k < linear.size(); ++k) pairs.emplace_back(linear[k].first_counter, static_cast<std::uint32_t>(k));
  detail::sort_by_counter(pairs, scratch);
  std::vector<LinearRun> sorted;
  sorted.reserve(linear.size());
  for (const auto& p : pairs) {
    const LinearRun& run = linear[p.second];
    if (!sorted.empty() && run.first_counter < sorted.back().end()) return false;
    sorted.push_back(run);
  }
  linear = std::move(sorted);
  pairs = Pairs();
  return true;
}

template <class IdAt>
bool OpIdIndex::assign(std::size_t n, IdAt&& id_at) {
  actors_.clear();
  stray_.clear();
  size_ = 0;
  struct Span {
    std::uint32_t min = UINT32_MAX;
    std::uint32_t max = 0;
    std::size_t count = 0;
    std::size_t linear_runs = 0;  // maximal runs of ids (c, a), (c + 1, a), ... at i, i + 1, ...
  };
  enum class Layout : std::uint8_t { kLinear, kDense, kSparse };
  std::vector<Span> spans;
  OpId prev{};
  // Id i continues the linear run of id i - 1: the same actor's next counter.
  auto continues_run = [&](std::size_t i, OpId id) { return i > 0 && prev.actor == id.actor && prev.counter + 1 == id.counter; };
  for (std::size_t i = 0; i < n; ++i) {
    const OpId id = id_at(i);
    if (id.counter == 0) return false;
    if (spans.size() <= id.actor) spans.resize(std::size_t{id.actor} + 1);
    Span& s = spans[id.actor];
    s.min = std::min(s.min, id.counter);
    s.max = std::max(s.max, id.counter);
    ++s.count;
    if (!continues_run(i, id)) ++s.linear_runs;
    prev = id;
  }
  // Per actor, the smallest of: linear runs when they take at most half the bytes of slots,
  // else one run of slots over its counters when they are dense (at most four counters per
  // id), else runs of sorted counters.
  std::vector<Layout> layout(spans.size(), Layout::kSparse);
  for (std::size_t a = 0; a < spans.size(); ++a) {
    const Span& s = spans[a];
    if (s.count == 0) continue;
    const bool dense = s.max - s.min < 4 * s.count;
    const std::size_t slot_bytes = (dense ? std::size_t{s.max - s.min} + 1 : s.count) * sizeof(std::uint32_t);
    layout[a] = s.linear_runs * sizeof(LinearRun) <= slot_bytes / 2 ? Layout::kLinear
                : dense                                             ? Layout::kDense
                                                                    : Layout::kSparse;
  }
  actors_.resize(spans.size());
  std::vector<ScratchVector<std::pair<std::uint32_t, std::uint32_t>>> sparse(spans.size());  // freed here
  for (std::size_t a = 0; a < spans.size(); ++a) {
    if (layout[a] == Layout::kLinear) {
      actors_[a].linear.reserve(spans[a].linear_runs);
    } else if (layout[a] == Layout::kDense) {
      actors_[a].runs.push_back(Run{spans[a].min, 0});
      actors_[a].slots.assign(std::size_t{spans[a].max - spans[a].min} + 1, kEmpty);
    } else if (spans[a].count != 0) {
      sparse[a].reserve(spans[a].count);
    }
  }
  bool ok = true;
  for (std::size_t i = 0; i < n && ok; ++i) {
    const OpId id = id_at(i);
    PerActor& a = actors_[id.actor];
    switch (layout[id.actor]) {
      case Layout::kLinear:
        if (continues_run(i, id)) {
          ++a.linear.back().count;  // i - 1 is this actor's latest id
        } else {
          a.linear.push_back(LinearRun{id.counter, static_cast<std::uint32_t>(i), 1});
        }
        break;
      case Layout::kDense: {
        std::uint32_t& slot = a.slots[id.counter - spans[id.actor].min];
        ok = slot == kEmpty;
        slot = static_cast<std::uint32_t>(i);
        break;
      }
      case Layout::kSparse: sparse[id.actor].emplace_back(id.counter, static_cast<std::uint32_t>(i)); break;
    }
    prev = id;
  }
  ScratchVector<std::pair<std::uint32_t, std::uint32_t>> sort_scratch;
  for (std::size_t a = 0; a < actors_.size() && ok; ++a) {
    if (layout[a] == Layout::kLinear) ok = actors_[a].sort_linear(sparse[a], sort_scratch);
  }
  for (std::size_t a = 0; a < sparse.size() && ok; ++a) {
    auto& pairs = sparse[a];
    detail::sort_by_counter(pairs, sort_scratch);
    PerActor& per = actors_[a];
    for (std::size_t k = 0; k < pairs.size() && ok; ++k) {
      const std::uint32_t counter = pairs[k].first;
      if (k > 0 && pairs[k - 1].first == counter) {
        ok = false;
      } else if (k > 0 && counter - pairs[k - 1].first <= kMaxGap) {
        per.slots.insert(per.slots.end(), counter - pairs[k - 1].first - 1, kEmpty);
        per.slots.push_back(pairs[k].second);
      } else {
        per.runs.push_back(Run{counter, static_cast<std::uint32_t>(per.slots.size())});
        per.slots.push_back(pairs[k].second);
      }
    }
  }
  if (!ok) {
    actors_.clear();
    return false;
  }
  size_ = n;
  return true;
}

}  // namespace am::core
