// Reading a document chunk (format spec §2.6): decode_document_body rebuilds the changes from
// the rows that document_rows.cc reads. Writing one is document_save.cc.
#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/encoding/byte_reader.h"
#include "core/encoding/column_spec.h"
#include "core/encoding/utf8.h"
#include "core/encoding/value_column.h"
#include "core/storage/document_chunk.h"
#include "core/storage/document_rows.h"

namespace am::storage {
namespace {

using core::kNone32;
using doc::ChangeColumns;
using doc::ChangeCursor;
using doc::ChangeKey;
using doc::ChangeRow;
using doc::ColumnSource;
using doc::corrupt;
using doc::DeleteRow;
using doc::DocOp;
using doc::id_text;
using doc::kMaxCounter;
using doc::kWhat;
using doc::OpRows;
using doc::pack;
using doc::RawId;
using core::ScratchVector;

// Ops of one change decoded and handed on at a time: a change can hold a whole document.
constexpr std::uint32_t kOpBatch = 4096;
// The value of a delete (ops handed on always point at a value).
const ScalarValue kNullValue = Null{};

// Open-addressing map from op ids to op rows that keeps only the rows, 4 bytes a slot: a slot's
// key is the id of the row it holds, read from the rows (which build_preds reads next anyway).
// Keys and rows side by side took 12 bytes a slot, 17 MB of egwalker-A1's peak. Sized once,
// never grows.
class IdMap {
 public:
  IdMap(const OpRows& rows, std::size_t max_entries) : rows_(&rows) {
    std::size_t cap = 16;
    while (cap < 2 * max_entries + 16) cap <<= 1;
    slots_.assign(cap, kNone32);
    mask_ = cap - 1;
  }
  // Returns the row stored for `id`, or stores `row` for it. REQUIRES: a row stored is a row of
  // the ops with that id by the next call (build_preds appends a new delete right away).
  std::pair<std::uint32_t, bool> emplace(RawId id, std::uint32_t row) {
    const std::uint64_t key = pack(id);
    for (std::size_t i = slot(key);; i = (i + 1) & mask_) {
      const std::uint32_t held = slots_[i];
      if (held == kNone32) {
        slots_[i] = row;
        return {row, true};
      }
      if (pack(rows_->id(held)) == key) return {held, false};
    }
  }

 private:
  std::size_t slot(std::uint64_t key) const {
    key ^= key >> 33;  // murmur3's finaliser: every key bit reaches the low bits
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    return static_cast<std::size_t>(key) & mask_;
  }
  const OpRows* rows_;
  ScratchVector<std::uint32_t> slots_;
  std::size_t mask_ = 0;
};

// Op id -> op row, for build_preds. An actor numbers its ops consecutively within a change and
// only other actors' changes leave gaps, so most actors' ids fill a dense range of counters: an
// actor whose range is at most kDenseFactor times its number of ids gets an array indexed by
// counter (4 bytes per counter, no cache miss beyond the row); the others share an IdMap (8-16
// bytes per id and a miss per lookup). Sized once from every id it will see; never grows.
class OpRowIndex {
 public:
  static constexpr std::uint64_t kDenseFactor = 4;

  // for_each_id(f) calls f(id) for every id that emplace() will be given.
  template <class ForEachId>
  OpRowIndex(const OpRows& rows, std::size_t num_actors, ForEachId&& for_each_id)
      : dense_(num_actors), sparse_(rows, 0) {
    std::size_t sparse_ids = 0;
    for_each_id([&](RawId id) {
      if (id.actor >= dense_.size()) {
        ++sparse_ids;
        return;
      }
      Dense& d = dense_[id.actor];
      d.min = std::min(d.min, id.counter);
      d.max = std::max(d.max, id.counter);
      ++d.count;
    });
    for (Dense& d : dense_) {
      if (d.count == 0) continue;
      const std::uint64_t range = std::uint64_t{d.max} - d.min + 1;
      if (range <= kDenseFactor * d.count) {
        d.rows.assign(static_cast<std::size_t>(range), kNone32);
      } else {
        sparse_ids += static_cast<std::size_t>(d.count);
      }
    }
    sparse_ = IdMap(rows, sparse_ids);
  }

  // Returns the row stored for `id`, inserting `row` if absent. REQUIRES: id was seen by the
  // constructor's for_each_id.
  std::pair<std::uint32_t, bool> emplace(RawId id, std::uint32_t row) {
    if (id.actor < dense_.size() && !dense_[id.actor].rows.empty()) {
      std::uint32_t& slot = dense_[id.actor].rows[id.counter - dense_[id.actor].min];
      if (slot != kNone32) return {slot, false};
      slot = row;
      return {row, true};
    }
    return sparse_.emplace(id, row);
  }

 private:
  struct Dense {
    std::uint32_t min = UINT32_MAX;
    std::uint32_t max = 0;
    std::uint64_t count = 0;
    ScratchVector<std::uint32_t> rows;  // empty: the actor's ids are in sparse_
  };
  std::vector<Dense> dense_;
  IdMap sparse_;
};

// The document's actors and their rank in byte order (Lamport ties), whatever order they are
// stored in.
struct Actors {
  std::vector<ByteView> bytes;
  std::vector<std::uint32_t> rank;
};

// Reads the body up to and including the columns: actors, heads (into `out`), the change and
// op columns (inflated by `src`, which then holds them), and the head indexes.
Status read_body(ByteView body, ColumnSource& src, Actors& actors, DecodedDocument& out, ChangeColumns& cc,
                 OpColumnData& oc) {
  enc::ByteReader r(body, kWhat);
  AM_TRY_ASSIGN(const std::uint64_t num_actors64, r.uleb());
  if (num_actors64 > r.remaining()) return fail(r.error("actor count exceeds the data"));
  const auto num_actors = static_cast<std::size_t>(num_actors64);
  std::vector<ByteView>& bytes = actors.bytes;
  bytes.reserve(num_actors);
  for (std::size_t i = 0; i < num_actors; ++i) {
    AM_TRY_ASSIGN(const ByteView a, r.length_prefixed());
    bytes.push_back(a);
  }
  std::vector<std::uint32_t> by_bytes(num_actors);
  for (std::size_t i = 0; i < num_actors; ++i) by_bytes[i] = static_cast<std::uint32_t>(i);
  auto bytes_less = [&](std::uint32_t a, std::uint32_t b) {
    return std::lexicographical_compare(bytes[a].begin(), bytes[a].end(), bytes[b].begin(), bytes[b].end());
  };
  std::sort(by_bytes.begin(), by_bytes.end(), bytes_less);
  actors.rank.resize(num_actors);
  for (std::size_t i = 0; i < num_actors; ++i) {
    if (i > 0 && !bytes_less(by_bytes[i - 1], by_bytes[i])) return fail(corrupt("duplicate actor id"));
    actors.rank[by_bytes[i]] = static_cast<std::uint32_t>(i);
  }

  AM_TRY_ASSIGN(const std::uint64_t num_heads, r.uleb());
  if (num_heads > r.remaining() / 32) return fail(r.error("head count exceeds the data"));
  out.heads.resize(static_cast<std::size_t>(num_heads));
  for (ChangeHash& h : out.heads) {
    AM_TRY_ASSIGN(const ByteView b, r.bytes(32));
    std::copy(b.begin(), b.end(), h.bytes.begin());
  }

  AM_TRY_ASSIGN(const auto change_meta, enc::read_column_metadata(r, /*allow_deflate=*/true));
  AM_TRY_ASSIGN(const auto op_meta, enc::read_column_metadata(r, /*allow_deflate=*/true));
  AM_TRY_ASSIGN(const auto change_stored, enc::read_column_data(r, change_meta));
  AM_TRY_ASSIGN(const auto op_stored, enc::read_column_data(r, op_meta));
  // Head indexes follow (absent in old documents). Like the reference, they are read but not
  // relied on: the heads are recomputed from the rebuilt changes.
  if (!r.empty()) {
    for (std::uint64_t i = 0; i < num_heads; ++i) AM_TRY_STATUS(r.uleb());
  }
  AM_TRY_STATUS(doc::classify_changes(change_stored, src, cc));
  return doc::classify_ops(op_stored, src, oc);
}

// Every op's preds, Lamport-sorted: the stored rows rows[begin[i]] .. rows[begin[i + 1]] for op
// row i (a pred is always a stored op: only they have successors). A row index is half an id.
struct Preds {
  ScratchVector<std::uint32_t> begin;
  ScratchVector<std::uint32_t> rows;
};

// Lamport order of two ids: counter, then the actor's rank in byte order.
bool lamport_less_ids(RawId a, RawId b, const std::vector<std::uint32_t>& rank) {
  if (a.counter != b.counter) return a.counter < b.counter;
  return rank[a.actor] < rank[b.actor];
}

// Turns the successor lists into preds, adding a delete row to `rows` for every successor that
// is not a stored op, and frees the successor lists (rebuild_successors makes them again from
// the preds, after the change rebuild: they are not kept through its peak).
Status build_preds(OpRows& rows, const std::vector<std::uint32_t>& rank, Preds& out) {
  const ScratchVector<DocOp>& ops = rows.ops;
  ScratchVector<DeleteRow>& deletes = rows.deletes;
  ScratchVector<RawId>& succ = rows.succ;
  const std::size_t num_stored = ops.size();
  OpRowIndex index(rows, rank.size(), [&](auto&& f) {
    for (std::size_t i = 0; i < num_stored; ++i) f(ops[i].id);
    for (const RawId& s : succ) f(s);
  });
  for (std::size_t i = 0; i < num_stored; ++i) {
    if (!index.emplace(ops[i].id, static_cast<std::uint32_t>(i)).second) {
      return fail(corrupt("duplicate op id " + id_text(ops[i].id)));
    }
  }
  deletes.reserve(succ.size());  // no reallocation while the index reads ids from it
  // The row of every successor entry: the stored op it is or the delete made for it.
  ScratchVector<std::uint32_t> succ_row(succ.size());
  auto succ_range = [&](std::size_t i) {
    return std::pair<std::size_t, std::size_t>(ops[i].aux, i + 1 < num_stored ? ops[i + 1].aux : succ.size());
  };
  for (std::size_t i = 0; i < num_stored; ++i) {
    const auto [succ_first, succ_end] = succ_range(i);
    for (std::size_t k = succ_first; k < succ_end; ++k) {
      const RawId s = succ[k];
      const DocOp& x = ops[i];
      const auto [j, added] = index.emplace(s, static_cast<std::uint32_t>(num_stored + deletes.size()));
      if (added) {
        deletes.push_back(DeleteRow{s, static_cast<std::uint32_t>(i), 0});
      } else if (j < num_stored) {
        // Applying assumes an op and its preds share an object.
        if (ops[j].obj != x.obj) {  // an object has one index
          return fail(corrupt("op " + id_text(s) + " succeeds an op in another object"));
        }
      } else {
        // One delete of several ops: they must share its object and key, whatever the order.
        DocOp scratch;
        const DocOp& d = rows.row(j, scratch);
        const RawId x_key = OpRows::delete_key(x);
        if (d.obj != x.obj || d.is_map != x.is_map ||
            (d.is_map ? rows.key(d) != rows.key(x)
                      : (d.elem.counter != x_key.counter || (d.elem.counter != 0 && d.elem.actor != x_key.actor)))) {
          return fail(corrupt("op " + id_text(s) + " deletes ops at different keys"));
        }
      }
      succ_row[k] = j;
    }
  }
  index = OpRowIndex(rows, 0, [](auto&&) {});  // done with: freed before the preds are made
  const std::size_t num_ops = rows.num_rows();
  // pred_begin[j] is first where row j's preds end (counts summed up to j); each pred is then
  // put one before that, back to front, which leaves it where they begin. No second array.
  ScratchVector<std::uint32_t>& pred_begin = out.begin;
  pred_begin.assign(num_ops + 1, 0);
  for (const std::uint32_t j : succ_row) ++pred_begin[j];
  for (std::size_t i = 1; i < num_ops; ++i) pred_begin[i] += pred_begin[i - 1];
  pred_begin[num_ops] = static_cast<std::uint32_t>(succ_row.size());
  ScratchVector<std::uint32_t>& preds = out.rows;
  preds.resize(succ.size());
  for (std::size_t i = num_stored; i-- > 0;) {
    const auto [succ_first, succ_end] = succ_range(i);
    for (std::size_t k = succ_end; k-- > succ_first;) preds[--pred_begin[succ_row[k]]] = static_cast<std::uint32_t>(i);
  }
  auto lamport_less = [&](std::uint32_t a, std::uint32_t b) { return lamport_less_ids(ops[a].id, ops[b].id, rank); };
  for (std::size_t i = 0; i < num_ops; ++i) {
    auto first = preds.begin() + pred_begin[i];
    auto last = preds.begin() + pred_begin[i + 1];
    if (last - first > 1) std::sort(first, last, lamport_less);
  }
  // Done with: freed before the changes are rebuilt.
  core::release_all(succ_row);
  core::release_all(succ);
  return {};
}

// The successor lists of the stored ops again, from the preds (the inverse relation), each in
// Lamport order as a document stores them; and where each op's begin: succ_begin[i] ..
// succ_begin[i + 1] for stored row i. Needs the delete rows (their ids).
void rebuild_successors(OpRows& rows, const Preds& preds, const std::vector<std::uint32_t>& rank,
                        ScratchVector<std::uint32_t>& succ_begin) {
  const std::size_t num_stored = rows.ops.size();
  const std::size_t num_rows = rows.num_rows();
  // succ_begin[i] is first where op i's successors end; each is put one before that, back to
  // front, which leaves it where they begin (as build_preds does with the preds).
  succ_begin.assign(num_stored + 1, 0);
  for (const std::uint32_t i : preds.rows) ++succ_begin[i];
  for (std::size_t i = 1; i < num_stored; ++i) succ_begin[i] += succ_begin[i - 1];
  succ_begin[num_stored] = static_cast<std::uint32_t>(preds.rows.size());
  ScratchVector<RawId>& succ = rows.succ;
  succ.resize(preds.rows.size());
  for (std::size_t j = num_rows; j-- > 0;) {
    const RawId id = rows.id(static_cast<std::uint32_t>(j));
    for (std::uint32_t p = preds.begin[j + 1]; p-- > preds.begin[j];) succ[--succ_begin[preds.rows[p]]] = id;
  }
  auto lamport_less = [&](RawId a, RawId b) { return lamport_less_ids(a, b, rank); };
  for (std::size_t i = 0; i < num_stored; ++i) {
    auto first = succ.begin() + succ_begin[i];
    auto last = succ.begin() + succ_begin[i + 1];
    if (last - first > 1) std::sort(first, last, lamport_less);
  }
}

// Where each change's ops are: change row r has the op rows slots[begin[r]] .. slots[begin[r + 1]]
// in counter order, from start_op[r].
struct ChangeSlots {
  ScratchVector<std::uint32_t> start_op;
  ScratchVector<std::uint32_t> begin;
  ScratchVector<std::uint32_t> slots;
};

// Assigns every op to the change of its actor with the smallest max_op >= its counter (the op's
// aux becomes that row) and checks that each change's ops have consecutive counters ending at
// its max_op.
Status assign_ops(OpRows& op_rows, const std::vector<ChangeKey>& rows, std::size_t num_actors, ChangeSlots& out) {
  const std::size_t num_changes = rows.size();
  const std::size_t num_ops = op_rows.num_rows();
  // Per actor: its rows and, alongside, their max_ops (searched as one compact array).
  std::vector<std::vector<std::uint32_t>> by_actor(num_actors);
  std::vector<std::vector<std::uint32_t>> max_ops_by_actor(num_actors);
  for (std::size_t row = 0; row < num_changes; ++row) {
    auto& list = by_actor[rows[row].actor];
    auto& max_ops = max_ops_by_actor[rows[row].actor];
    if (!max_ops.empty() && max_ops.back() > rows[row].max_op) {
      return fail(corrupt("change rows of an actor are not in max_op order (row " +
                          std::to_string(row) + ")"));
    }
    list.push_back(static_cast<std::uint32_t>(row));
    max_ops.push_back(rows[row].max_op);
  }
  std::vector<std::uint32_t> op_count(num_changes, 0);
  // Ops come in document order, where consecutive ops are often of the same or the next change
  // (typing): try the previous answer for the actor and its successor before a binary search.
  std::vector<std::size_t> last_found(num_actors, 0);
  // Stored rows, then delete rows: f(row, id, aux) for each, without a branch per row, until
  // f returns false (having set `failure`). f is inlined into both loops (each f is called
  // twice, so the compiler would otherwise call it, for a million rows).
  Status failure;
  auto for_each_row = [&](auto&& f) -> Status {
    std::uint32_t r = 0;
    for (DocOp& op : op_rows.ops) {
      if (!f(r++, op.id, op.aux)) return failure;
    }
    for (DeleteRow& d : op_rows.deletes) {
      if (!f(r++, d.id, d.aux)) return failure;
    }
    return {};
  };
  AM_TRY_STATUS(for_each_row([&](std::uint32_t, RawId id, std::uint32_t& aux) __attribute__((always_inline)) {
    const auto& max_ops = max_ops_by_actor[id.actor];
    const std::uint32_t ctr = id.counter;
    auto is_answer = [&](std::size_t k) { return k < max_ops.size() && max_ops[k] >= ctr && (k == 0 || max_ops[k - 1] < ctr); };
    std::size_t k = last_found[id.actor];
    if (!is_answer(k) && !is_answer(++k)) {
      k = static_cast<std::size_t>(std::lower_bound(max_ops.begin(), max_ops.end(), ctr) - max_ops.begin());
      if (k == max_ops.size()) {
        failure = fail(corrupt("op " + id_text(id) + " belongs to no change"));
        return false;
      }
    }
    last_found[id.actor] = k;
    const std::uint32_t row = by_actor[id.actor][k];
    aux = row;  // the successors are no longer needed
    ++op_count[row];
    return true;
  }));
  core::release_all(max_ops_by_actor);
  ScratchVector<std::uint32_t>& start_op = out.start_op;
  ScratchVector<std::uint32_t>& slot_begin = out.begin;
  start_op.resize(num_changes);
  slot_begin.assign(num_changes + 1, 0);
  for (std::size_t row = 0; row < num_changes; ++row) {
    const std::uint32_t n = op_count[row];
    if (n > rows[row].max_op) {
      return fail(corrupt("change at row " + std::to_string(row) + " has more ops than its max_op"));
    }
    const std::uint64_t first_op = std::uint64_t{rows[row].max_op} - n + 1;
    if (first_op > kMaxCounter) {
      return fail(corrupt("change at row " + std::to_string(row) + " has start_op past 2^32-1"));
    }
    start_op[row] = static_cast<std::uint32_t>(first_op);
    slot_begin[row + 1] = slot_begin[row] + n;
  }
  ScratchVector<std::uint32_t>& slots = out.slots;
  slots.assign(num_ops, kNone32);
  return for_each_row([&](std::uint32_t r, RawId id, std::uint32_t change) __attribute__((always_inline)) {
    if (id.counter < start_op[change]) {
      failure = fail(corrupt("the ops of the change at row " + std::to_string(change) +
                             " do not have consecutive counters"));
      return false;
    }
    std::uint32_t& slot = slots[slot_begin[change] + (id.counter - start_op[change])];
    if (slot != kNone32) {
      failure = fail(corrupt("duplicate op id " + id_text(id)));
      return false;
    }
    slot = r;
    return true;
  });
}

// Rebuilds, encodes and hashes the changes one row at a time, in row order (§2.6): the actor
// table of each change, its ops with change-local actor indexes, its deps by hash. Keeps its
// scratch buffers across changes.
class ChangeRebuilder {
 public:
  ChangeRebuilder(const Actors& actors, const OpRows& rows, const Preds& preds, const ChangeSlots& slots,
                  const DocumentDecodeOptions& options, std::size_t num_changes)
      : actors_(actors), rows_(rows), preds_(preds), slots_(slots), options_(options),
        hashes_(options.hash_of_row ? 0 : num_changes), referenced_(num_changes, 0),
        local_(actors.bytes.size(), kNone32) {}

  // Rebuilds change row `row` (`cr`, with dep rows `row_deps`) and hands it on: to the sink, or
  // decoded into out.changes.
  Status rebuild(std::size_t row, const ChangeRow& cr, const std::vector<std::uint32_t>& row_deps,
                 DecodedDocument& out);

  // The heads of the rebuilt changes must be the stored heads.
  Status verify_heads(const std::vector<ChangeHash>& stored_heads) const;

 private:
  // The hash of every row built so far: kept here unless the sink keeps them (hash_of_row).
  const ChangeHash& hash_of(std::size_t row) const {
    return options_.hash_of_row ? options_.hash_of_row(row) : hashes_[row];
  }
  // The id of pred p (an index into the preds' rows).
  RawId pred_id(std::uint32_t p) const { return rows_.ops[preds_.rows[p]].id; }
  void sort_deps(const std::vector<std::uint32_t>& row_deps);
  void actor_table(std::uint32_t author, std::uint32_t first, std::uint32_t last);
  Status add_ops(std::uint32_t first, std::uint32_t last, ChangeOpRef& single_op);
  std::uint32_t typing_run_end(std::uint32_t s, std::uint32_t end) const;
  void add_typing_run(std::uint32_t s, std::uint32_t end);
  struct DeleteRun {
    std::uint32_t end;  // s itself when there is no run
    std::int64_t step;  // between element counters
  };
  DeleteRun delete_run(std::uint32_t s, std::uint32_t end) const;

  const Actors& actors_;
  const OpRows& rows_;
  const Preds& preds_;
  const ChangeSlots& slots_;
  const DocumentDecodeOptions& options_;
  std::vector<ChangeHash> hashes_;
  std::vector<std::uint8_t> referenced_;
  std::vector<std::uint32_t> local_;  // document actor -> change-local index; kNone32 outside
  std::vector<std::uint32_t> others_;
  std::vector<ByteView> other_bytes_;
  std::vector<std::pair<ChangeHash, std::uint32_t>> dep_pairs_;
  std::vector<ChangeHash> dep_hashes_;
  std::vector<std::uint32_t> dep_sorted_;
  std::vector<ScalarValue> values_;
  std::vector<RebuiltOp> rops_;
  std::vector<ChangeOpId> local_preds_;
  std::vector<RawId> pred_ids_;  // the preds of the batch's rops
  Bytes run_chars_;
  CanonicalChangeEncoder encoder_;
};

void ChangeRebuilder::sort_deps(const std::vector<std::uint32_t>& row_deps) {
  dep_pairs_.clear();
  for (const std::uint32_t dep : row_deps) {
    dep_pairs_.emplace_back(hash_of(dep), dep);
    referenced_[dep] = 1;
  }
  std::sort(dep_pairs_.begin(), dep_pairs_.end());
  dep_hashes_.clear();
  dep_sorted_.clear();
  for (const auto& [h, dep] : dep_pairs_) {
    dep_hashes_.push_back(h);
    dep_sorted_.push_back(dep);
  }
}

// Actor table: the author, then every other referenced actor in byte order. Sets local_ for
// them; rebuild() resets it.
void ChangeRebuilder::actor_table(std::uint32_t author, std::uint32_t first, std::uint32_t last) {
  const ScratchVector<std::uint32_t>& slots = slots_.slots;
  const ScratchVector<std::uint32_t>& pred_begin = preds_.begin;
  others_.clear();
  local_[author] = 0;
  auto use = [&](std::uint32_t a) {
    if (local_[a] == kNone32) {
      local_[a] = 0;
      others_.push_back(a);
    }
  };
  const std::size_t num_stored = rows_.ops.size();
  // Stops once every actor of the document is in the table: with one or two actors, a change
  // of a million ops is then looked at once or only until the other actor shows up.
  const std::size_t num_actors = actors_.bytes.size();
  for (std::uint32_t s = first; s < last && others_.size() + 1 < num_actors; ++s) {
    const std::uint32_t r = slots[s];
    if (r < num_stored) {
      const DocOp& op = rows_.ops[r];
      if (op.obj != 0) use(rows_.obj_id(op).actor);
      if (!op.is_map && op.elem.counter != 0) use(op.elem.actor);
    } else {
      // A delete of x: x's object, and x's key; when x is an insert that is x's id, a pred.
      const DocOp& x = rows_.ops[rows_.deletes[r - num_stored].target];
      if (x.obj != 0) use(rows_.obj_id(x).actor);
      if (!x.is_map && !x.insert && x.elem.counter != 0) use(x.elem.actor);
    }
    for (std::uint32_t p = pred_begin[r]; p < pred_begin[r + 1]; ++p) use(pred_id(p).actor);
  }
  const std::vector<std::uint32_t>& rank = actors_.rank;
  std::sort(others_.begin(), others_.end(), [&](std::uint32_t a, std::uint32_t b) { return rank[a] < rank[b]; });
  other_bytes_.clear();
  for (std::size_t k = 0; k < others_.size(); ++k) {
    local_[others_[k]] = static_cast<std::uint32_t>(k + 1);
    other_bytes_.push_back(actors_.bytes[others_[k]]);
  }
}

// Where the run of typed characters that starts at slot `s` ends (s itself when none does):
// each op of it inserts one ASCII character, with no preds, right after the op before it in
// the change (so into the same object). Such runs are most of a text's ops, and the encoder
// takes them in one call. Not one of them is decoded or looked at again.
std::uint32_t ChangeRebuilder::typing_run_end(std::uint32_t s, std::uint32_t end) const {
  const ScratchVector<std::uint32_t>& slots = slots_.slots;
  const ScratchVector<std::uint32_t>& pred_begin = preds_.begin;
  DocOp prev_scratch;
  const DocOp* prev = &rows_.row(slots[s - 1], prev_scratch);
  std::uint32_t k = s;
  for (; k < end; ++k) {
    const std::uint32_t r = slots[k];
    if (r >= rows_.ops.size()) break;  // a delete types nothing
    const DocOp& op = rows_.ops[r];
    const bool typed = rows_.types_after(*prev, op) && op.obj != 0 && op.elem.counter != 0 &&
                       pred_begin[r + 1] == pred_begin[r];
    if (!typed) break;
    prev = &op;
  }
  return k;
}

void ChangeRebuilder::add_typing_run(std::uint32_t s, std::uint32_t end) {
  const ScratchVector<std::uint32_t>& slots = slots_.slots;
  run_chars_.clear();
  // Typed characters are inserts: stored rows.
  for (std::uint32_t k = s; k < end; ++k) run_chars_.push_back(rows_.raw[rows_.ops[slots[k]].value_offset]);
  DocOp head_scratch;
  const DocOp& head = rows_.row(slots[s], head_scratch);
  const RawId obj = rows_.obj_id(head);
  encoder_.add_typing_run(ChangeOpId{obj.counter, local_[obj.actor]}, local_[head.elem.actor],
                          head.elem.counter, run_chars_);
}

// The run of deletes that starts at slot `s`: where it ends (s itself when op s is not such a
// delete) and its step. Each deletes one element of the same object and actor, the element's
// insert being its one pred, the element counters a constant step apart (a deleted selection:
// +1; backspaces: -1).
ChangeRebuilder::DeleteRun ChangeRebuilder::delete_run(std::uint32_t s, std::uint32_t end) const {
  const ScratchVector<std::uint32_t>& slots = slots_.slots;
  const ScratchVector<std::uint32_t>& pred_begin = preds_.begin;
  auto element_delete = [&](std::uint32_t k, const DocOp& op) {
    const std::uint32_t pb = pred_begin[slots[k]];
    return op.action == Action::kDelete && !op.is_map && !op.insert && !op.expand && !op.has_mark_name &&
           op.obj != 0 && op.elem.counter != 0 && pred_begin[slots[k] + 1] == pb + 1 &&
           pack(pred_id(pb)) == pack(op.elem);
  };
  DocOp head_scratch;
  DocOp op_scratch;
  const DocOp& head = rows_.row(slots[s], head_scratch);
  if (!element_delete(s, head)) return {s, 0};
  std::uint32_t k = s + 1;
  std::int64_t step = 0;
  std::uint32_t prev_counter = head.elem.counter;
  for (; k < end; ++k) {
    const DocOp& op = rows_.row(slots[k], op_scratch);
    if (!element_delete(k, op) || op.obj != head.obj || op.elem.actor != head.elem.actor) break;
    const std::int64_t d = std::int64_t{op.elem.counter} - std::int64_t{prev_counter};
    if (k == s + 1) step = d;
    if (d == 0 || d != step) break;
    prev_counter = op.elem.counter;
  }
  return {k, step};
}

// The ops, at most kOpBatch at a time (a change can hold most of a document's ops): decoded
// values, handed to op_sink, encoded with change-local actor indexes. A change of one op is left
// in `single_op` for the encoder's one-op fast path.
Status ChangeRebuilder::add_ops(std::uint32_t first, std::uint32_t last, ChangeOpRef& single_op) {
  const ScratchVector<std::uint32_t>& slots = slots_.slots;
  const ScratchVector<std::uint32_t>& pred_begin = preds_.begin;
  DocOp head_scratch;
  DocOp op_scratch;
  for (std::uint32_t batch = first; batch < last; batch += kOpBatch) {
    const std::uint32_t batch_end = std::min<std::uint32_t>(last, batch + kOpBatch);
    std::size_t batch_preds = 0;
    for (std::uint32_t s = batch; s < batch_end; ++s) batch_preds += pred_begin[slots[s] + 1] - pred_begin[slots[s]];
    values_.clear();
    values_.reserve(batch_end - batch);  // no reallocation: rops point into it
    rops_.clear();
    local_preds_.clear();
    local_preds_.reserve(batch_preds);  // no reallocation: the encoder's spans point into it
    pred_ids_.clear();
    if (options_.op_sink) pred_ids_.reserve(batch_preds);  // no reallocation: rops point into it
    for (std::uint32_t s = batch; s < batch_end; ++s) {
      if (!options_.op_sink && s > first) {  // an op sink wants every op one by one
        const std::uint32_t run_end = typing_run_end(s, batch_end);
        if (run_end != s) {
          add_typing_run(s, run_end);
          s = run_end - 1;
          continue;
        }
      }
      if (!options_.op_sink) {
        const DeleteRun run = delete_run(s, batch_end);
        if (run.end - s >= 2) {
          const DocOp& head = rows_.row(slots[s], head_scratch);
          const RawId obj = rows_.obj_id(head);
          encoder_.add_delete_run(ChangeOpId{obj.counter, local_[obj.actor]}, local_[head.elem.actor],
                                  head.elem.counter, run.step, run.end - s);
          s = run.end - 1;
          continue;
        }
      }
      const DocOp& op = rows_.row(slots[s], op_scratch);
      ChangeOpRef co;
      const ScalarValue* value = nullptr;
      if (!options_.op_sink && op.action != Action::kDelete &&
          (op.value_type == enc::kValueString || op.value_type == enc::kValueBytes)) {
        // Text: the stored bytes are the canonical encoding; check them instead of decoding.
        const enc::RawValue raw = rows_.value(op);
        if (op.value_type == enc::kValueString &&
            !enc::is_valid_utf8(std::string_view(reinterpret_cast<const char*>(raw.bytes.data()), raw.bytes.size()))) {
          return fail(Error::corruption("value column", "invalid UTF-8 in string value")
                          .with_context(std::string(kWhat) + ": op " + id_text(op.id)));
        }
        co.raw_value = raw;
      } else if (op.action != Action::kDelete) {
        auto decoded = enc::decode_scalar(rows_.value(op));
        if (!decoded) return fail(decoded.error().with_context(std::string(kWhat) + ": op " + id_text(op.id)));
        values_.push_back(std::move(*decoded));
        value = &values_.back();
      } else {
        value = &kNullValue;
      }
      const std::uint32_t pb = pred_begin[slots[s]];
      const std::uint32_t pe = pred_begin[slots[s] + 1];
      std::optional<std::string_view> mark_name;
      if (op.has_mark_name) mark_name = rows_.mark_name(slots[s]);
      if (options_.op_sink) {
        RebuiltOp& ro = rops_.emplace_back();
        ro.id = op.id;
        ro.obj = rows_.obj_id(op);
        ro.is_map = op.is_map;
        if (op.is_map) ro.map_key = rows_.key(op);
        ro.elem = op.elem;
        ro.insert = op.insert;
        ro.action = op.action;
        ro.value = value;  // never null here: text takes the raw path only without an op sink
        const std::size_t first_pred = pred_ids_.size();
        for (std::uint32_t p = pb; p < pe; ++p) pred_ids_.push_back(pred_id(p));
        ro.pred = std::span<const RawId>(pred_ids_.data() + first_pred, pe - pb);
        ro.expand = op.expand;
        ro.mark_name = mark_name;
      }

      if (op.obj != 0) {
        const RawId obj = rows_.obj_id(op);
        co.obj = ChangeOpId{obj.counter, local_[obj.actor]};
      }
      co.is_map = op.is_map;
      if (op.is_map) {
        co.map_key = rows_.key(op);
      } else if (op.elem.counter != 0) {
        co.elem = ChangeOpId{op.elem.counter, local_[op.elem.actor]};
      }
      co.insert = op.insert;
      co.action = op.action;
      co.value = value;
      const std::size_t pfirst = local_preds_.size();
      for (std::uint32_t p = pb; p < pe; ++p) {
        const RawId pred = pred_id(p);
        local_preds_.push_back(ChangeOpId{pred.counter, local_[pred.actor]});
      }
      co.pred = std::span<const ChangeOpId>(local_preds_.data() + pfirst, pe - pb);
      co.expand = op.expand;
      co.mark_name = mark_name;
      if (last - first == 1) {
        single_op = co;  // most changes: encoded by the one-op fast path
      } else {
        encoder_.add(co);
      }
    }
    if (options_.op_sink) AM_TRY_STATUS(options_.op_sink(rops_));
  }
  return {};
}

Status ChangeRebuilder::rebuild(std::size_t row, const ChangeRow& cr, const std::vector<std::uint32_t>& row_deps,
                                DecodedDocument& out) {
  sort_deps(row_deps);
  const std::uint32_t first = slots_.begin[row];
  const std::uint32_t last = slots_.begin[row + 1];
  actor_table(cr.actor, first, last);

  RebuiltChange rc;
  rc.row = static_cast<std::uint32_t>(row);
  rc.actors = actors_.bytes;
  rc.author = cr.actor;
  rc.others = others_;
  rc.seq = cr.seq;
  rc.start_op = slots_.start_op[row];
  rc.op_count = last - first;
  rc.time = cr.time;
  rc.message = cr.message;
  rc.extra = cr.extra;
  if (options_.change_begin) AM_TRY_STATUS(options_.change_begin(rc));

  ChangeOpRef single_op;
  AM_TRY_STATUS(add_ops(first, last, single_op));
  local_[cr.actor] = kNone32;
  for (std::uint32_t a : others_) local_[a] = kNone32;

  rc.dep_rows = dep_sorted_;
  rc.deps = dep_hashes_;
  ChangeHeaderRef h;
  h.deps = dep_hashes_;
  h.author = actors_.bytes[cr.actor];
  h.others = other_bytes_;
  h.seq = cr.seq;
  h.start_op = slots_.start_op[row];
  h.time = cr.time;
  h.message = rc.message.value_or(std::string_view{});
  h.extra = rc.extra;
  rc.chunk = last - first == 1 ? encoder_.finish_single(single_op, h, rc.hash) : encoder_.finish(h, rc.hash);
  if (!options_.hash_of_row) hashes_[row] = rc.hash;
  if (options_.sink) return options_.sink(rc);
  // The collected form: the change decoded from its canonical chunk.
  auto sc = decode_change_chunk(rc.chunk);
  if (!sc) return fail(sc.error().with_context(std::string(kWhat) + ": change at row " + std::to_string(row)));
  // An empty message and no message encode alike in a change, but a document keeps them
  // apart ("" for a local commit with an empty message, null otherwise): keep "" as an
  // engaged empty message so that saving writes it back.
  if (rc.message && rc.message->empty()) sc->change.message = std::string();
  out.changes.push_back(std::move(*sc));
  return {};
}

Status ChangeRebuilder::verify_heads(const std::vector<ChangeHash>& stored_heads) const {
  std::vector<ChangeHash> computed;
  for (std::size_t row = 0; row < referenced_.size(); ++row) {
    if (!referenced_[row]) computed.push_back(hash_of(row));
  }
  std::sort(computed.begin(), computed.end());
  std::vector<ChangeHash> stored = stored_heads;
  std::sort(stored.begin(), stored.end());
  if (computed != stored) {
    return fail(corrupt("the heads of the rebuilt changes (" + std::to_string(computed.size()) +
                        ") do not match the stored heads (" + std::to_string(stored.size()) + ")"));
  }
  return {};
}

// Rebuilds, encodes and hashes every change, in row order, and checks the heads. The
// rebuilder's buffers are gone when it returns.
Status rebuild_changes(const Actors& actors, const OpRows& op_rows, const Preds& preds, const ChangeSlots& slots,
                       const ChangeColumns& cc, const DocumentDecodeOptions& options, DecodedDocument& out) {
  const std::size_t num_changes = slots.start_op.size();
  ChangeRebuilder rebuilder(actors, op_rows, preds, slots, options, num_changes);
  if (!options.sink) out.changes.reserve(num_changes);
  ChangeCursor cursor(cc, actors.bytes.size());
  ChangeRow cr;
  std::vector<std::uint32_t> row_deps;
  for (std::size_t row = 0; row < num_changes; ++row) {
    AM_TRY_ASSIGN(const bool more, cursor.next(row, cr, row_deps, nullptr));
    if (!more) return fail(corrupt("change columns end early"));  // cannot happen: read before
    AM_TRY_STATUS(rebuilder.rebuild(row, cr, row_deps, out));
  }
  if (options.verify_heads) AM_TRY_STATUS(rebuilder.verify_heads(out.heads));
  return {};
}

}  // namespace

StoredOp StoredOps::operator[](std::size_t i) const {
  const DocOp& op = rows_.ops[i];
  StoredOp s;
  s.id = op.id;
  s.obj = rows_.obj_id(op);
  s.is_map = op.is_map;
  if (op.is_map) {
    s.map_key = rows_.key(op);
  } else {
    s.elem = op.elem;
  }
  s.insert = op.insert;
  s.action = op.action;
  s.value = rows_.value(op);
  s.succ = std::span<const DocOpId>(rows_.succ.data() + succ_begin_[i], succ_begin_[i + 1] - succ_begin_[i]);
  s.expand = op.expand;
  if (op.has_mark_name) s.mark_name = rows_.mark_name(static_cast<std::uint32_t>(i));
  return s;
}

StoredOps::Outline StoredOps::outline(std::size_t i) const {
  const DocOp& op = rows_.ops[i];
  return {rows_.obj_id(op), op.insert, op.action};
}

bool StoredOps::typed_char(std::size_t i, DocOpId& id, char& c, std::span<const DocOpId>& succ) const {
  const DocOp& prev = rows_.ops[i - 1];
  const DocOp& op = rows_.ops[i];
  // prev must have made the element op goes after.
  if (!prev.insert || prev.is_map || !rows_.types_after(prev, op)) return false;
  id = op.id;
  c = static_cast<char>(rows_.raw[op.value_offset]);
  succ = std::span<const DocOpId>(rows_.succ.data() + succ_begin_[i], succ_begin_[i + 1] - succ_begin_[i]);
  return true;
}

void StoredOps::release_before(std::size_t i) {
  if (i >= count_) {
    // All of them, to the end of their blocks: the partial huge page at the end goes too.
    core::release_block(rows_.ops);
    core::release_block(rows_.succ);
    core::release_block(succ_begin_);
    return;
  }
  core::release_elements(rows_.ops, 0, i);
  core::release_elements(rows_.succ, 0, succ_begin_[i]);
  core::release_elements(succ_begin_, 0, i);
}

Result<DecodedDocument> decode_document_body(ByteView body, const DocumentDecodeOptions& options) {
  ColumnSource src(options.max_decoded_bytes);
  Actors actors;
  DecodedDocument out;
  ChangeColumns cc;
  OpColumnData oc;
  AM_TRY_STATUS(read_body(body, src, actors, out, cc, oc));
  const std::size_t num_actors = actors.bytes.size();

  std::vector<ChangeKey> rows;
  AM_TRY_STATUS(doc::read_changes(cc, num_actors, src, rows));
  OpRows op_rows;
  AM_TRY_STATUS(doc::read_ops(oc, num_actors, src, op_rows));
  const std::size_t num_stored = op_rows.ops.size();
  const std::size_t num_changes = rows.size();

  // Where each stored op's successors begin, for stored_ops (made after the rebuild).
  ScratchVector<std::uint32_t> succ_begin;
  {
    // Preds from succs; a delete op for every successor that is not a stored op.
    Preds preds;
    AM_TRY_STATUS(build_preds(op_rows, actors.rank, preds));
    // Ops to changes: the change of the op's actor with the smallest max_op >= counter.
    ChangeSlots slots;
    AM_TRY_STATUS(assign_ops(op_rows, rows, num_actors, slots));
    core::release_all(rows);  // the rebuild reads the change rows again

    if (options.on_sizes) options.on_sizes(num_changes, num_stored);

    AM_TRY_STATUS(rebuild_changes(actors, op_rows, preds, slots, cc, options, out));
    if (options.stored_ops) {
      core::release_all(slots.slots);
      rebuild_successors(op_rows, preds, actors.rank, succ_begin);
    }
  }  // the preds and slots are freed before the caller builds from the stored ops
  if (options.stored_ops) {
    // The rebuilt deletes were for the changes only.
    core::release_all(op_rows.deletes);
    StoredOps stored(op_rows, num_stored, succ_begin);
    AM_TRY_STATUS(options.stored_ops(stored));
  }
  return out;
}

Status rebuild_change_chunks(ByteView document_body, std::size_t max_decoded_bytes,
                             const std::function<void(std::size_t, ByteView)>& chunk) {
  DocumentDecodeOptions options;
  options.verify_heads = false;
  options.max_decoded_bytes = max_decoded_bytes;
  options.sink = [&](const RebuiltChange& rc) -> Status {
    chunk(rc.row, rc.chunk);
    return {};
  };
  AM_TRY_STATUS(decode_document_body(document_body, options));
  return {};
}

}  // namespace am::storage
