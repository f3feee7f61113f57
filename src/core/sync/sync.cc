// The sync protocol (format spec §4.4-§4.5) over a Document's change graph.
#include "am/sync.h"

#include <algorithm>
#include <unordered_set>

#include "core/document_impl.h"
#include "core/encoding/byte_reader.h"
#include "core/encoding/leb128.h"
#include "core/sync/bloom.h"
#include "core/sync/change_graph.h"

namespace am {

namespace sync_detail {

std::vector<std::uint32_t> changes_since_by_full_walk(const Document::Impl& d, const std::vector<ChangeHash>& heads) {
  const std::vector<bool> known = d.history.ancestors(heads);
  std::vector<std::uint32_t> out;
  for (std::uint32_t i = 0; i < d.history.size(); ++i) {
    if (!known[i]) out.push_back(i);
  }
  return out;
}

// A sync peer usually knows all but the last few changes, and a server generates a message per
// peer per change: walking the whole history each time made that quadratic in a document's
// life (500 clients editing 50 documents fell seconds behind). So walk back from the newest row
// in descending row order (a change's deps always have smaller rows, hence a row's flag is final
// when the walk reaches it) and stop once every row reached and not yet visited is an ancestor of
// `heads`. The flags live in a window of the newest rows, reused by the thread (a server calls
// this per peer per message: a hash map per call made malloc a fifth of its CPU). A walk that
// would leave the window starts again with a window four times as large, so a peer some hundred
// changes behind costs a few hundred steps, not a walk of the whole history.
std::vector<std::uint32_t> changes_since(const Document::Impl& d, const std::vector<ChangeHash>& heads) {
  const std::size_t n = d.history.size();
  std::vector<std::uint32_t> base;
  for (const ChangeHash& h : heads) {
    if (auto row = d.history.find(h)) base.push_back(*row);
  }
  if (base.empty()) {
    std::vector<std::uint32_t> all(n);
    for (std::uint32_t i = 0; i < n; ++i) all[i] = i;
    return all;
  }
  std::vector<std::uint32_t> head_rows;
  for (const ChangeHash& h : d.heads) {
    if (auto row = d.history.find(h)) head_rows.push_back(*row);
  }
  // The newest row is always a head (nothing can depend on it).
  const std::size_t newest = n - 1;
  enum : std::uint8_t { kUnreached = 0, kUnknown = 1, kKnown = 2 };  // kKnown: ancestor of `heads`
  thread_local std::vector<std::uint8_t> flags;                    // flags[newest - row]
  std::vector<std::uint32_t> out;
  for (std::size_t window = std::min<std::size_t>(n, 64);; window = std::min(n, window * 4)) {
    flags.assign(window, kUnreached);
    out.clear();
    std::size_t unknown_pending = 0;
    bool overflow = false;
    auto reach = [&](std::size_t row, bool known) {
      const std::size_t slot = newest - row;
      if (slot >= window) {
        // A known row beyond the window matters only to a walk that goes there, which restarts.
        if (!known) overflow = true;
        return;
      }
      std::uint8_t& f = flags[slot];
      if (f == kUnreached) {
        f = known ? kKnown : kUnknown;
        unknown_pending += !known;
      } else if (known && f == kUnknown) {
        f = kKnown;
        --unknown_pending;
      }
    };
    for (std::uint32_t row : base) reach(row, true);
    for (std::uint32_t row : head_rows) reach(row, false);
    // Every unknown row still pending lies in the window past `slot`, so `slot` stays inside it.
    for (std::size_t slot = 0; unknown_pending > 0 && !overflow; ++slot) {
      const std::uint8_t f = flags[slot];
      if (f == kUnreached) continue;
      const auto row = static_cast<std::uint32_t>(newest - slot);
      if (f == kUnknown) {
        --unknown_pending;
        out.push_back(row);
      }
      for (std::uint32_t dep : d.history.deps(row)) reach(dep, f == kKnown);
    }
    if (!overflow) break;  // with window == n nothing can overflow
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace sync_detail

namespace {

using sync_detail::changes_since;

using core::BloomFilter;

constexpr std::uint8_t kSyncStateType = 0x43;
// The largest hash list we accept in one message: far more than any real document has heads.
constexpr std::uint64_t kMaxHashes = std::uint64_t{1} << 20;

Error protocol(const Error& e) { return Error::protocol(e.message); }

Result<std::vector<ChangeHash>> read_hashes(enc::ByteReader& r) {
  auto n = r.uleb();
  if (!n) return fail(protocol(n.error()));
  if (*n > kMaxHashes || *n * 32 > r.remaining()) return fail(Error::protocol("sync message", "hash list longer than the message"));
  std::vector<ChangeHash> out(static_cast<std::size_t>(*n));
  for (auto& h : out) {
    auto b = r.bytes(32);
    std::copy(b->begin(), b->end(), h.bytes.begin());
  }
  return out;
}

void write_hashes(Bytes& out, const std::vector<ChangeHash>& hashes) {
  enc::put_uleb(out, hashes.size());
  for (const auto& h : hashes) out.insert(out.end(), h.bytes.begin(), h.bytes.end());
}

std::vector<ChangeHash> sorted_unique(std::vector<ChangeHash> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// ---- the change graph of a document ----

bool has(const Document::Impl& d, const ChangeHash& h) { return d.history.contains(h); }

// Rows (in application order) of the changes that are not ancestors of `heads`.

std::vector<ChangeHash> missing_deps(const Document::Impl& d, const std::vector<ChangeHash>& heads) {
  std::unordered_set<ChangeHash, core::HashOfChangeHash> queued;
  for (const auto& q : d.queue) queued.insert(q.hash);
  std::vector<ChangeHash> out;
  auto consider = [&](const ChangeHash& h) {
    if (!has(d, h) && !queued.count(h)) out.push_back(h);
  };
  for (const auto& q : d.queue) {
    for (const auto& dep : q.change.deps) consider(dep);
  }
  for (const auto& h : heads) consider(h);
  return sorted_unique(std::move(out));
}

// Changes the peer lacks according to its `have` summaries and explicit `need` (spec §4.4).
std::vector<ChangeHash> hashes_to_send(const Document::Impl& d, const std::vector<SyncHave>& have,
                                       const std::vector<ChangeHash>& need) {
  if (have.empty()) {
    std::vector<ChangeHash> out;
    for (const auto& h : need) {
      if (has(d, h)) out.push_back(h);
    }
    return out;
  }
  std::vector<ChangeHash> last_sync;
  std::vector<BloomFilter> blooms;
  for (const auto& h : have) {
    last_sync.insert(last_sync.end(), h.last_sync.begin(), h.last_sync.end());
    // Filters were validated when the message was decoded.
    blooms.push_back(BloomFilter::decode(h.bloom).value_or(BloomFilter()));
  }
  const auto candidates = changes_since(d, sorted_unique(std::move(last_sync)));
  // Candidates are in application order, so a change's deps come before it: one forward pass
  // marks what their filters lack and, with it, whatever depends on that (they lack it too).
  std::vector<bool> send(candidates.size(), false);
  auto candidate_index = [&](std::uint32_t row) -> std::optional<std::size_t> {
    const auto it = std::lower_bound(candidates.begin(), candidates.end(), row);
    if (it == candidates.end() || *it != row) return std::nullopt;
    return static_cast<std::size_t>(it - candidates.begin());
  };
  for (std::size_t k = 0; k < candidates.size(); ++k) {
    const ChangeHash& h = d.history.hash(candidates[k]);
    bool lacks = std::none_of(blooms.begin(), blooms.end(), [&](const BloomFilter& b) { return b.contains(h); });
    for (std::uint32_t dep : d.history.deps(candidates[k])) {
      if (lacks) break;
      const auto j = candidate_index(dep);
      lacks = j && send[*j];
    }
    send[k] = lacks;
  }
  std::vector<ChangeHash> out;
  for (const auto& h : need) {
    const auto row = d.history.find(h);
    if (!row) continue;
    const auto k = candidate_index(*row);
    if (!k || !send[*k]) out.push_back(h);
  }
  for (std::size_t k = 0; k < candidates.size(); ++k) {
    if (send[k]) out.push_back(d.history.hash(candidates[k]));
  }
  return out;
}

// Removes from `sent` every hash that is one of `heads` or their ancestor. One pass over `sent`
// (erasing by position) rather than one tree search per ancestor: after a whole document was
// sent and acknowledged, that is every change.
void drop_acknowledged(const Document::Impl& d, const std::vector<ChangeHash>& heads, SyncState& state) {
  std::set<ChangeHash>& sent = state.sent_hashes;
  // Empty heads acknowledge nothing (and their changes_since would be the whole history).
  if (heads.empty() || (sent.empty() && state.sent_whole_at.empty())) return;
  // What is not acknowledged is what came after `heads`: usually the last few changes.
  const std::vector<std::uint32_t> unacknowledged = changes_since(d, heads);
  const bool whole_acknowledged = std::all_of(state.sent_whole_at.begin(), state.sent_whole_at.end(), [&](const ChangeHash& h) {
    const auto row = d.history.find(h);
    return row && !std::binary_search(unacknowledged.begin(), unacknowledged.end(), *row);
  });
  if (whole_acknowledged) state.sent_whole_at.clear();
  for (auto it = sent.begin(); it != sent.end();) {
    const auto row = d.history.find(*it);
    if (row && !std::binary_search(unacknowledged.begin(), unacknowledged.end(), *row)) {
      it = sent.erase(it);
    } else {
      ++it;
    }
  }
}

void forget_sent(SyncState& state) {
  state.sent_hashes.clear();
  state.sent_whole_at.clear();
}

// Rows [0, n) of the history were all sent with a whole document: n is one past the newest of
// the heads we had then (history is append-only, so what we had then is a prefix of it, and
// its last change was one of those heads).
std::size_t rows_sent_whole(const Document::Impl& d, const SyncState& state) {
  std::size_t n = 0;
  for (const ChangeHash& h : state.sent_whole_at) {
    if (auto row = d.history.find(h)) n = std::max<std::size_t>(n, *row + 1);
  }
  return n;
}

// The whole document as a fresh peer gets it; shared by every such peer while heads stay put.
Bytes whole_document_bytes(Document& doc, const std::vector<ChangeHash>& heads) {
  const Document::Impl& d = detail::DocumentAccess::impl(doc);
  if (d.history.size() < Document::Impl::kWholeSaveCacheMinChanges) return doc.save();
  Document::Impl::FreshPeerCache& cache = d.fresh_peer_at(heads);
  if (cache.save.empty()) cache.save = doc.save();
  return cache.save;
}

// Our Bloom filter of the changes since `shared_heads`. For a peer we share nothing with it
// covers every change, the same bytes for each such peer while our heads stay put: kept in the
// document (big documents only, as the whole save).
Bytes bloom_since(const Document::Impl& d, const std::vector<ChangeHash>& shared_heads, const std::vector<ChangeHash>& our_heads) {
  // Hashed from the history in place: for a fresh peer this is every change, and a vector of
  // them (8 MB for 260,000) grown one hash at a time was most of a big document's fetch (perf).
  auto build = [&] {
    const std::vector<std::uint32_t> since = changes_since(d, shared_heads);
    const auto hash_at = [&](std::size_t k) -> const ChangeHash& { return d.history.hash(since[k]); };
    return BloomFilter::from_hashes(since.size(), hash_at).encode();
  };
  if (!shared_heads.empty() || d.history.size() < Document::Impl::kWholeSaveCacheMinChanges) return build();
  Document::Impl::FreshPeerCache& cache = d.fresh_peer_at(our_heads);
  if (cache.bloom.empty()) cache.bloom = build();
  return cache.bloom;
}

}  // namespace

std::uint8_t SyncMessage::flags() const {
  std::uint8_t bits = 0;
  if (trailer) {
    for (std::uint8_t b : *trailer) {
      if (b & 0x80) bits = static_cast<std::uint8_t>(bits | (b & 0x7f));
    }
  }
  return bits;
}

Result<SyncMessage> SyncMessage::decode(ByteView bytes) {
  enc::ByteReader r(bytes, "sync message");
  SyncMessage m;
  auto type = r.byte();
  if (!type || (*type != kV1 && *type != kV2)) {
    return fail(Error::protocol("sync message", "not a sync message (first byte must be 0x42 or 0x43)"));
  }
  m.version = *type;
  AM_TRY_ASSIGN(m.heads, read_hashes(r));
  AM_TRY_ASSIGN(m.need, read_hashes(r));
  auto have_count = r.uleb();
  if (!have_count) return fail(protocol(have_count.error()));
  if (*have_count > r.remaining()) return fail(Error::protocol("sync message", "have list longer than the message"));
  for (std::uint64_t i = 0; i < *have_count; ++i) {
    SyncHave h;
    AM_TRY_ASSIGN(h.last_sync, read_hashes(r));
    auto bloom = r.length_prefixed();
    if (!bloom) return fail(protocol(bloom.error()));
    AM_TRY_STATUS(BloomFilter::decode(*bloom).map([](const BloomFilter&) {}));
    h.bloom.assign(bloom->begin(), bloom->end());
    m.have.push_back(std::move(h));
  }
  auto change_count = r.uleb();
  if (!change_count) return fail(protocol(change_count.error()));
  if (*change_count > r.remaining()) return fail(Error::protocol("sync message", "change list longer than the message"));
  for (std::uint64_t i = 0; i < *change_count; ++i) {
    auto c = r.length_prefixed();
    if (!c) return fail(protocol(c.error()));
    m.changes.emplace_back(c->begin(), c->end());
  }
  if (!r.empty()) {
    auto t = r.length_prefixed();
    if (!t) return fail(protocol(t.error()));
    m.trailer = Bytes(t->begin(), t->end());
    // Anything after the trailer is from a future version; ignored, as the reference does.
  }
  return m;
}

Bytes SyncMessage::encode() const {
  Bytes out{version};
  write_hashes(out, heads);
  write_hashes(out, need);
  enc::put_uleb(out, have.size());
  for (const auto& h : have) {
    write_hashes(out, h.last_sync);
    enc::put_uleb(out, h.bloom.size());
    out.insert(out.end(), h.bloom.begin(), h.bloom.end());
  }
  enc::put_uleb(out, changes.size());
  for (const auto& c : changes) {
    enc::put_uleb(out, c.size());
    out.insert(out.end(), c.begin(), c.end());
  }
  if (trailer) {
    enc::put_uleb(out, trailer->size());
    out.insert(out.end(), trailer->begin(), trailer->end());
  }
  return out;
}

Bytes SyncState::encode() const {
  Bytes out{kSyncStateType};
  write_hashes(out, shared_heads);
  return out;
}

Result<SyncState> SyncState::decode(ByteView bytes) {
  enc::ByteReader r(bytes, "sync state");
  auto type = r.byte();
  if (!type || *type != kSyncStateType) return fail(Error::corruption("sync state", "wrong type byte"));
  auto heads = read_hashes(r);
  if (!heads) return fail(Error::corruption("sync state", heads.error().message));
  SyncState s;
  s.shared_heads = std::move(*heads);
  s.their_have = std::vector<SyncHave>{};
  return s;
}

namespace {
Bytes trailer_with(std::uint8_t bits) { return Bytes{0x02, static_cast<std::uint8_t>(0x80 | bits)}; }
}  // namespace

bool has_our_changes(const Document& doc, const SyncState& state) {
  for (const ChangeHash& head : doc.heads()) {
    if (std::find(state.shared_heads.begin(), state.shared_heads.end(), head) == state.shared_heads.end()) return false;
  }
  return true;
}

std::optional<Bytes> generate_sync_message(Document& doc, SyncState& state) {
  (void)doc.commit_if_pending();
  const Document::Impl& d = detail::DocumentAccess::impl(doc);
  const std::vector<ChangeHash> our_heads = doc.heads();
  // The common answer to an acknowledgement: both sides have the same heads, we said so already
  // and they asked for nothing. The work below (Bloom filter, graph walks) would find nothing
  // to send either: their filter covers every change after their last sync point.
  if (state.have_responded && state.last_sent_heads == our_heads && state.their_heads &&
      *state.their_heads == our_heads && state.their_need && state.their_need->empty() && state.their_have) {
    return std::nullopt;
  }
  const std::vector<ChangeHash> their_heads = state.their_heads.value_or(std::vector<ChangeHash>{});
  const std::vector<ChangeHash> our_need = state.read_only ? std::vector<ChangeHash>{} : missing_deps(d, their_heads);

  std::vector<SyncHave> our_have;
  if (std::all_of(our_need.begin(), our_need.end(), [&](const ChangeHash& h) {
        return std::find(their_heads.begin(), their_heads.end(), h) != their_heads.end();
      })) {
    our_have.push_back(SyncHave{state.shared_heads, bloom_since(d, state.shared_heads, our_heads)});
  }

  // They report a sync point we do not have: we lost data. Ask them to start over.
  if (state.their_have && !state.their_have->empty()) {
    const auto& first = state.their_have->front();
    if (!std::all_of(first.last_sync.begin(), first.last_sync.end(), [&](const ChangeHash& h) { return has(d, h); })) {
      SyncMessage reset;
      reset.version = SyncMessage::kV1;
      reset.heads = our_heads;
      reset.have.push_back(SyncHave{});
      reset.trailer = trailer_with(SyncMessage::kFlagSupportsSyncReset);
      return reset.encode();
    }
  }

  std::vector<Bytes> changes;
  std::vector<ChangeHash> sending;
  bool whole = false;  // changes holds the whole document
  const std::uint8_t version = state.peer_supports_v2 ? SyncMessage::kV2 : SyncMessage::kV1;
  if (state.their_have && state.their_need && !state.peer_read_only) {
    auto whole_document = [&] {
      changes.clear();
      sending.clear();
      if (d.history.empty()) return;
      changes.push_back(whole_document_bytes(doc, our_heads));
      whole = true;
    };
    if (state.peer_supports_v2 && state.their_heads && state.their_heads->empty()) {
      whole_document();
    } else {
      const std::size_t sent_whole_rows = rows_sent_whole(d, state);
      for (const auto& h : hashes_to_send(d, *state.their_have, *state.their_need)) {
        if (state.sent_hashes.count(h)) continue;
        if (sent_whole_rows != 0) {
          if (auto row = d.history.find(h); row && *row < sent_whole_rows) continue;
        }
        sending.push_back(h);
      }
      if (state.peer_supports_v2 && sending.size() > d.history.size() / 3) {
        whole_document();
      } else if (!sending.empty()) {
        if (version == SyncMessage::kV2) {
          Bytes joined;
          for (const auto& h : sending) {
            const ByteView chunk = d.history.chunk(*d.history.find(h));
            joined.insert(joined.end(), chunk.begin(), chunk.end());
          }
          changes.push_back(std::move(joined));
        } else {
          for (const auto& h : sending) changes.push_back(d.history.chunk_copy(*d.history.find(h)));
        }
      }
    }
  }

  const bool heads_unchanged = state.last_sent_heads == our_heads;
  const bool heads_equal = state.their_heads && *state.their_heads == our_heads;
  if (heads_unchanged && state.have_responded) {
    if (sending.empty() && !whole && (heads_equal || state.read_only)) return std::nullopt;
    if (state.in_flight) return std::nullopt;
  }

  state.have_responded = true;
  state.last_sent_heads = our_heads;
  if (whole) {
    // Everything we have counts as sent: one entry instead of one per change.
    state.sent_hashes.clear();
    state.sent_whole_at = our_heads;
    state.changes_sent += d.history.size();
  } else {
    // Sorted first, so that each insert lands next to the previous one.
    std::sort(sending.begin(), sending.end());
    for (const ChangeHash& h : sending) state.sent_hashes.insert(state.sent_hashes.end(), h);
    state.changes_sent += sending.size();
  }

  SyncMessage m;
  m.version = version;
  m.heads = our_heads;
  m.need = our_need;
  m.have = std::move(our_have);
  m.changes = std::move(changes);
  std::uint8_t bits = SyncMessage::kFlagSupportsSyncReset;
  if (state.read_only) bits |= SyncMessage::kFlagReadOnly;
  if (state.needs_reset) {
    state.needs_reset = false;
    if (state.peer_supports_reset) {
      bits |= SyncMessage::kFlagSyncReset;
    } else {
      m.heads.clear();  // an old peer treats empty heads as "lost everything"
    }
  }
  m.trailer = trailer_with(bits);
  state.in_flight = true;
  return m.encode();
}

Status receive_sync_message(Document& doc, SyncState& state, ByteView bytes) {
  AM_TRY_ASSIGN(SyncMessage m, SyncMessage::decode(bytes));
  (void)doc.commit_if_pending();
  const std::vector<ChangeHash> before_heads = doc.heads();
  if (!m.changes.empty() && !state.read_only) {
    Bytes joined;
    for (const auto& c : m.changes) joined.insert(joined.end(), c.begin(), c.end());
    AM_TRY_STATUS(doc.apply_changes(ByteView(joined)));
  }
  // The message is accepted: update the state.
  state.in_flight = false;
  if (m.trailer) {
    const std::uint8_t bits = m.flags();
    state.peer_supports_v2 = true;
    state.peer_supports_reset = (bits & SyncMessage::kFlagSupportsSyncReset) != 0;
    if (bits & SyncMessage::kFlagSyncReset) forget_sent(state);
    state.peer_read_only = (bits & SyncMessage::kFlagReadOnly) != 0;
  }
  const Document::Impl& d = detail::DocumentAccess::impl(doc);
  if (!m.changes.empty() && !state.read_only) {
    const std::vector<ChangeHash> after = doc.heads();
    std::vector<ChangeHash> advanced;
    for (const auto& h : after) {
      if (std::find(before_heads.begin(), before_heads.end(), h) == before_heads.end()) advanced.push_back(h);
    }
    for (const auto& h : state.shared_heads) {
      if (std::find(after.begin(), after.end(), h) != after.end()) advanced.push_back(h);
    }
    state.shared_heads = sorted_unique(std::move(advanced));
  }
  drop_acknowledged(d, m.heads, state);
  if (m.changes.empty() && m.heads == before_heads) state.last_sent_heads = m.heads;
  std::vector<ChangeHash> known;
  for (const auto& h : m.heads) {
    if (has(d, h)) known.push_back(h);
  }
  if (known.size() == m.heads.size()) {
    state.shared_heads = m.heads;
    if (m.heads.empty()) {  // the peer lost its data: start over
      state.last_sent_heads.clear();
      forget_sent(state);
    }
  } else {
    known.insert(known.end(), state.shared_heads.begin(), state.shared_heads.end());
    state.shared_heads = sorted_unique(std::move(known));
  }
  state.their_have = std::move(m.have);
  state.their_heads = std::move(m.heads);
  state.their_need = std::move(m.need);
  return {};
}

}  // namespace am
