// The changes a document has applied, in application order, stored compactly.
//
// Per change: its hash and metadata (author, seq, ops, time, deps as row indexes) in a small
// fixed-size entry; the canonical chunk bytes of all changes in an arena of blocks; messages and extra
// bytes, which are rare, in side tables. The decoded ops are not kept: they live in the op set,
// and a change's chunk is decoded again on the rare occasions that need its ops (rebuild).
// Memory is about 90 bytes per change plus its chunk, against several hundred for decoded
// changes. Internal to am_core; not thread-safe.
#pragma once

#include <cassert>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <algorithm>
#include <vector>

#include "am/bytes.h"
#include "am/types.h"
#include "core/chunk_arena.h"
#include "core/storage/change.h"

namespace am::storage {
/// Rebuilds the change chunks of a document chunk body that loaded before (document_load.cc):
/// calls `chunk(row, bytes)` for every change row, in row order.
Status rebuild_change_chunks(ByteView document_body, std::size_t max_decoded_bytes,
                             const std::function<void(std::size_t, ByteView)>& chunk);
}  // namespace am::storage

namespace am::core {

struct HashOfChangeHash {
  std::size_t operator()(const ChangeHash& h) const noexcept {
    std::size_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | h.bytes[static_cast<std::size_t>(i)];
    return v;
  }
};

/// The order in which the reference applies a batch of changes (rust/automerge change_queue.rs,
/// pop_topo_sorted_ready): Kahn's algorithm with a FIFO, seeded with the items that wait on
/// nothing, in batch order; an item joins the FIFO when the last item it waits on is taken. Items
/// whose count never reaches zero (they wait on something outside the batch) are left out.
/// `waits[i]`: how many items item i waits on. `for_each_waiter(j, f)` calls f(i) for every item i
/// that waits on item j, in batch order. Returns batch indexes in apply order.
template <class ForEachWaiter>
std::vector<std::size_t> fifo_topological_order(std::vector<std::uint32_t> waits,
                                                ForEachWaiter&& for_each_waiter) {
  std::vector<std::size_t> order;  // also the FIFO: entries past `next` are still to be taken
  for (std::size_t i = 0; i < waits.size(); ++i) {
    if (waits[i] == 0) order.push_back(i);
  }
  for (std::size_t next = 0; next < order.size(); ++next) {
    for_each_waiter(order[next], [&](std::size_t i) {
      if (--waits[i] == 0) order.push_back(i);
    });
  }
  return order;
}

class History {
 public:
  static constexpr std::uint32_t kNone = UINT32_MAX;

  /// 60 bytes: 64-bit fields as two halves so that nothing pads. A change's seq and op
  /// counters fit 32 bits (applying checks), its deps end where the next change's begin, the
  /// rare message and extra bytes live in side tables, and where its chunk is in locs_ (absent
  /// while a loaded document's chunks are not built).
  struct Entry {
    ChangeHash hash;
    std::uint32_t author = 0;  // document actor index
    std::uint32_t seq = 0;
    std::uint32_t start_op = 0;
    std::uint32_t op_count = 0;
    std::uint32_t deps_begin = 0;  // into deps_
    std::uint32_t time_lo = 0;
    std::uint32_t time_hi = 0;

    std::int64_t time() const { return static_cast<std::int64_t>((std::uint64_t{time_hi} << 32) | time_lo); }
    void set_time(std::int64_t t) {
      const auto v = static_cast<std::uint64_t>(t);
      time_lo = static_cast<std::uint32_t>(v);
      time_hi = static_cast<std::uint32_t>(v >> 32);
    }
    /// start_op - 1 for an empty change.
    std::uint64_t max_op() const { return std::uint64_t{start_op} + op_count - 1; }
  };
  static_assert(sizeof(Entry) == 60, "History::Entry is meant to be 60 bytes");

  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  const Entry& operator[](std::size_t i) const { return entries_[i]; }
  const ChangeHash& hash(std::size_t i) const { return entries_[i].hash; }
  /// The change's chunk. A change loaded from a document chunk gets its chunk rebuilt on first
  /// use (all changes of that document at once). The view is valid until truncate() drops the
  /// change or the history is destroyed (chunk bytes never move).
  ByteView chunk(std::size_t i) const {
    if (i >= locs_.size() || !locs_[i].stored()) materialize(i);
    if (i >= locs_.size() || !locs_[i].stored()) return {};  // cannot happen: it loaded before
    return arena_.view(locs_[i]);
  }
  Bytes chunk_copy(std::size_t i) const {
    const ByteView c = chunk(i);
    return Bytes(c.begin(), c.end());
  }
  /// Row indexes of the change's deps, in the change's own (hash-sorted) dep order.
  std::span<const std::uint32_t> deps(std::size_t i) const {
    const std::size_t end = i + 1 < entries_.size() ? entries_[i + 1].deps_begin : deps_.size();
    return std::span<const std::uint32_t>(deps_).subspan(entries_[i].deps_begin, end - entries_[i].deps_begin);
  }
  /// The message; an engaged empty string is a local commit with message "" (kept apart from
  /// no message, as the reference's documents do).
  std::optional<std::string_view> message(std::size_t i) const {
    const auto* m = find_row(messages_, i);
    if (m == nullptr) return std::nullopt;
    return std::string_view(*m);
  }
  /// Whether any change has a message / extra bytes (both side tables are usually empty).
  bool any_message() const { return !messages_.empty(); }
  bool any_extra_bytes() const { return !extras_.empty(); }
  ByteView extra_bytes(std::size_t i) const {
    const auto* x = find_row(extras_, i);
    return x == nullptr ? ByteView{} : ByteView(*x);
  }

  std::optional<std::uint32_t> find(const ChangeHash& h) const {
    if (slots_.empty()) return std::nullopt;
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = HashOfChangeHash{}(h) & mask;; i = (i + 1) & mask) {
      const std::uint32_t slot = slots_[i];
      if (slot == 0) return std::nullopt;
      if (entries_[slot - 1].hash == h) return slot - 1;
    }
  }
  bool contains(const ChangeHash& h) const { return find(h).has_value(); }

  /// Marks the rows of `heads` and of all their ancestors (unknown hashes are ignored).
  std::vector<bool> ancestors(const std::vector<ChangeHash>& heads) const {
    std::vector<bool> seen(entries_.size(), false);
    std::vector<std::uint32_t> stack;
    for (const ChangeHash& h : heads) {
      if (auto row = find(h)) stack.push_back(*row);
    }
    while (!stack.empty()) {
      const std::uint32_t i = stack.back();
      stack.pop_back();
      if (seen[i]) continue;
      seen[i] = true;
      for (std::uint32_t dep : deps(i)) stack.push_back(dep);
    }
    return seen;
  }

  /// The rows a replay of `heads` and their ancestors applies, in the order the reference's
  /// fork_at applies them: a depth-first walk from the heads (repeats dropped; the last head
  /// first, each change's deps pushed in its dep order), reversed, then applied as one batch
  /// (fifo_topological_order). It decides the order in which the copy saves its changes.
  /// REQUIRES: every head is a change of this history.
  std::vector<std::uint32_t> fork_order(const std::vector<ChangeHash>& heads) const {
    std::vector<bool> seen(entries_.size(), false);
    std::vector<std::uint32_t> stack;
    for (const ChangeHash& h : heads) {
      const std::uint32_t row = *find(h);
      if (!seen[row]) stack.push_back(row);
      seen[row] = true;
    }
    std::vector<std::uint32_t> walk;
    while (!stack.empty()) {
      const std::uint32_t row = stack.back();
      stack.pop_back();
      for (std::uint32_t dep : deps(row)) {
        if (!seen[dep]) stack.push_back(dep);
        seen[dep] = true;
      }
      walk.push_back(row);
    }
    std::reverse(walk.begin(), walk.end());
    // Every dep is in the batch (it holds all ancestors): waiters as compressed rows by position.
    std::vector<std::uint32_t> position(entries_.size(), kNone);
    for (std::size_t k = 0; k < walk.size(); ++k) position[walk[k]] = static_cast<std::uint32_t>(k);
    std::vector<std::uint32_t> waits(walk.size(), 0);
    std::vector<std::uint32_t> first(walk.size() + 1, 0);
    for (std::size_t k = 0; k < walk.size(); ++k) {
      waits[k] = static_cast<std::uint32_t>(deps(walk[k]).size());
      for (std::uint32_t dep : deps(walk[k])) ++first[position[dep] + 1];
    }
    for (std::size_t k = 0; k < walk.size(); ++k) first[k + 1] += first[k];
    std::vector<std::uint32_t> waiters(first.back());
    std::vector<std::uint32_t> fill(first.begin(), first.end() - 1);
    for (std::size_t k = 0; k < walk.size(); ++k) {
      for (std::uint32_t dep : deps(walk[k])) waiters[fill[position[dep]]++] = static_cast<std::uint32_t>(k);
    }
    const std::vector<std::size_t> order =
        fifo_topological_order(std::move(waits), [&](std::size_t j, auto&& take) {
          for (std::uint32_t w = first[j]; w < first[j + 1]; ++w) take(waiters[w]);
        });
    std::vector<std::uint32_t> rows;
    rows.reserve(order.size());
    for (std::size_t k : order) rows.push_back(walk[k]);
    return rows;
  }

  /// Appends a change. REQUIRES: its deps are present; seq and op counters fit 32 bits.
  /// Returns its row index.
  std::uint32_t append(const storage::StoredChange& sc, std::uint32_t author) {
    const storage::Change& c = sc.change;
    return append_encoded(sc.hash, sc.chunk, author, c.seq, c.start_op, c.ops.size(), c.time,
                          c.message ? std::optional<std::string_view>(*c.message) : std::nullopt, c.extra_bytes, c.deps);
  }

  /// append() of a change given by its chunk and fields (a local commit builds no Change).
  /// REQUIRES: the deps are in the history.
  std::uint32_t append_encoded(const ChangeHash& hash, ByteView chunk, std::uint32_t author, std::uint64_t seq,
                               std::uint64_t start_op, std::size_t op_count, std::int64_t time,
                               std::optional<std::string_view> message, ByteView extra,
                               std::span<const ChangeHash> deps) {
    const auto row = static_cast<std::uint32_t>(entries_.size());
    Entry e = make_entry(hash, author, seq, start_op, op_count, time, message, extra, row);
    if (locs_.size() < row) locs_.resize(row);  // the rows in between are lazy
    locs_.push_back(arena_.append(chunk));
    for (const ChangeHash& d : deps) deps_.push_back(*find(d));
    entries_.push_back(e);
    index_row(row);
    return row;
  }

  /// A document chunk whose changes are appended with append_lazy: their chunks are rebuilt
  /// from it when first needed. Returns its id for append_lazy.
  std::uint32_t add_lazy_source(Bytes document_body, std::size_t max_decoded_bytes) {
    lazy_.push_back(LazySource{std::make_shared<const Bytes>(std::move(document_body)), max_decoded_bytes,
                               static_cast<std::uint32_t>(entries_.size()), 0});
    return static_cast<std::uint32_t>(lazy_.size() - 1);
  }

  /// Appends a change rebuilt from row `source_row` of lazy source `source`, without its chunk.
  /// `dep_rows` are history rows, in the change's own (hash-sorted) dep order. REQUIRES: the
  /// dep rows exist; the source's rows are appended in order (0, 1, ...) right after
  /// add_lazy_source, with nothing else appended in between. With `defer_index` the change is not findable by hash until reindex()
  /// (cheaper for a whole document: one pass at the end instead of a cache miss per change).
  std::uint32_t append_lazy(const ChangeHash& hash, std::uint32_t source, std::uint32_t source_row,
                            std::uint32_t author, std::uint64_t seq, std::uint64_t start_op,
                            std::uint32_t op_count, std::int64_t time,
                            std::optional<std::string_view> message, ByteView extra,
                            std::span<const std::uint32_t> dep_rows, bool defer_index = false) {
    const auto row = static_cast<std::uint32_t>(entries_.size());
    Entry e = make_entry(hash, author, seq, start_op, op_count, time, message, extra, row);
    // No locs_ entry: a row past locs_ (or marked lazy there) is built from its lazy source.
    deps_.insert(deps_.end(), dep_rows.begin(), dep_rows.end());
    entries_.push_back(e);
    LazySource& src = lazy_[source];
    assert(src.first_row + source_row == row && source_row == src.count);
    (void)source_row;
    src.count += 1;
    if (!defer_index) index_row(row);
    return row;
  }

  /// Rebuilds the hash index over every change (after append_lazy with defer_index).
  void reindex() {
    std::size_t want = 64;
    while (want < entries_.size() * 2) want *= 2;
    rehash(std::max(want, slots_.size()));
  }

  /// Drops every change from row `n` on (to undo a batch that failed part-way).
  void truncate(std::size_t n) {
    if (n >= entries_.size()) return;
    deps_.resize(entries_[n].deps_begin);
    entries_.resize(n);
    if (locs_.size() > n) locs_.resize(n);
    const ChunkArena::Loc* last = nullptr;
    for (const ChunkArena::Loc& l : locs_) {
      if (l.stored() && (last == nullptr || l.end_key() > last->end_key())) last = &l;
    }
    arena_.truncate(last);
    for (auto& src : lazy_) {
      src.count = n <= src.first_row ? 0 : std::min<std::uint32_t>(src.count, static_cast<std::uint32_t>(n - src.first_row));
    }
    while (!messages_.empty() && messages_.back().first >= n) messages_.pop_back();
    while (!extras_.empty() && extras_.back().first >= n) extras_.pop_back();
    rehash(slots_.size());
  }

  /// Sizes the containers for `changes` more changes of about `chunk_bytes` bytes in all.
  /// Without `index`, the hash index is left to grow (or to reindex()).
  void reserve(std::size_t changes, std::size_t chunk_bytes, bool index = true) {
    entries_.reserve(entries_.size() + changes);
    std::size_t want = 64;
    while (want < (entries_.size() + changes) * 2) want *= 2;
    if (index && want > slots_.size()) rehash(want);
    deps_.reserve(deps_.size() + changes);
    arena_.reserve(chunk_bytes);
  }

 private:
  Entry make_entry(const ChangeHash& hash, std::uint32_t author, std::uint64_t seq, std::uint64_t start_op,
                   std::size_t op_count, std::int64_t time, const std::optional<std::string>& message,
                   ByteView extra, std::uint32_t row) {
    return make_entry(hash, author, seq, start_op, op_count, time,
                      message ? std::optional<std::string_view>(*message) : std::nullopt, extra, row);
  }
  Entry make_entry(const ChangeHash& hash, std::uint32_t author, std::uint64_t seq, std::uint64_t start_op,
                   std::size_t op_count, std::int64_t time, std::optional<std::string_view> message,
                   ByteView extra, std::uint32_t row) {
    Entry e;
    e.hash = hash;
    e.author = author;
    e.seq = static_cast<std::uint32_t>(seq);
    e.start_op = static_cast<std::uint32_t>(start_op);
    e.op_count = static_cast<std::uint32_t>(op_count);
    e.set_time(time);
    e.deps_begin = static_cast<std::uint32_t>(deps_.size());
    if (message) messages_.emplace_back(row, std::string(*message));
    if (!extra.empty()) extras_.emplace_back(row, Bytes(extra.begin(), extra.end()));
    return e;
  }
  void index_row(std::uint32_t row) {
    if ((entries_.size()) * 2 > slots_.size()) {
      rehash(std::max<std::size_t>(64, slots_.size() * 2));
    } else {
      insert_slot(row);
    }
  }
  // The value for `row` in a side table sorted by row, or nullptr.
  template <class T>
  static const T* find_row(const std::vector<std::pair<std::uint32_t, T>>& table, std::size_t row) {
    const auto it = std::lower_bound(table.begin(), table.end(), row,
                                     [](const auto& e, std::size_t r) { return e.first < r; });
    return it != table.end() && it->first == row ? &it->second : nullptr;
  }

  struct LazySource {
    std::shared_ptr<const Bytes> body;  // the document chunk body; copies of a history share it
    std::size_t max_decoded_bytes = 0;  // the limit it loaded with
    std::uint32_t first_row = 0;        // chunk row r is history row first_row + r, for r < count
    std::uint32_t count = 0;
  };

  // Builds the chunks of every not-yet-built change of the lazy source that holds row i, then
  // drops the source.
  void materialize(std::size_t i) const {
    LazySource* found = nullptr;
    for (LazySource& l : lazy_) {
      if (l.body && i >= l.first_row && i - l.first_row < l.count) found = &l;
    }
    if (found == nullptr) return;
    LazySource& src = *found;
    if (locs_.size() < entries_.size()) locs_.resize(entries_.size());
    const std::shared_ptr<const Bytes> body = src.body;
    (void)storage::rebuild_change_chunks(*body, src.max_decoded_bytes, [&](std::size_t source_row, ByteView chunk) {
      if (source_row >= src.count) return;
      const std::size_t row = src.first_row + source_row;
      if (row >= locs_.size() || locs_[row].stored()) return;
      locs_[row] = arena_.append(chunk);
    });
    src.body.reset();
    src.count = 0;
  }

  void insert_slot(std::uint32_t row) {
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = HashOfChangeHash{}(entries_[row].hash) & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = row + 1;
  }
  void rehash(std::size_t capacity) {
    slots_.assign(capacity, 0);
    for (std::uint32_t row = 0; row < entries_.size(); ++row) insert_slot(row);
  }

  // Mutable: chunk() builds lazy chunks on first use.
  std::vector<Entry> entries_;
  mutable std::vector<ChunkArena::Loc> locs_;  // per row while built; rows past the end are lazy
  mutable ChunkArena arena_;
  mutable std::vector<LazySource> lazy_;
  std::vector<std::uint32_t> deps_;
  std::vector<std::pair<std::uint32_t, std::string>> messages_;  // (row, message), by row
  std::vector<std::pair<std::uint32_t, Bytes>> extras_;          // (row, extra bytes), by row
  // Open addressing over row + 1 (0 = empty), at most half full: 4-8 bytes per change instead
  // of a ~70-byte hash-map node, and lookups touch one small array.
  std::vector<std::uint32_t> slots_;
};

}  // namespace am::core
