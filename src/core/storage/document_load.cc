// Reading a document chunk (format spec §2.6): decode_document_body turns the rows that
// document_rows.cc reads into preds and the ops of each change, which change_rebuild.cc makes
// into changes. Writing one is document_save.cc.
#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/encoding/byte_reader.h"
#include "core/encoding/column_spec.h"
#include "core/storage/change_rebuild.h"
#include "core/storage/document_chunk.h"
#include "core/storage/document_rows.h"

namespace am::storage {
namespace {

using core::kNone32;
using doc::ChangeColumns;
using doc::ChangeCursor;
using doc::Actors;
using doc::ChangeKey;
using doc::ChangeRow;
using doc::ChangeSlots;
using doc::ColumnSource;
using doc::corrupt;
using doc::DeleteRow;
using doc::DocOp;
using doc::id_text;
using doc::kMaxCounter;
using doc::kWhat;
using doc::OpRows;
using doc::pack;
using doc::Preds;
using doc::RawId;
using core::ScratchVector;

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

// Lamport order of two ids: counter, then the actor's rank in byte order.
bool lamport_less_ids(RawId a, RawId b, const std::vector<std::uint32_t>& rank) {
  if (a.counter != b.counter) return a.counter < b.counter;
  return rank[a.actor] < rank[b.actor];
}

// Grouping `total` items into n groups (preds by successor, successors by pred): `begin` holds
// each group's count in begin[0, n) and becomes where each group ends (begin[n] = total). Each
// item is then put one before its group's end, back to front, which leaves begin[g] where group
// g begins: no second array.
void counts_to_ends(ScratchVector<std::uint32_t>& begin, std::size_t n, std::size_t total) {
  for (std::size_t g = 1; g < n; ++g) begin[g] += begin[g - 1];
  begin[n] = static_cast<std::uint32_t>(total);
}

// Sorts each of the n groups of `items` (group g is items[begin[g], begin[g + 1])) by `less`.
template <class T, class Less>
void sort_each_group(ScratchVector<T>& items, const ScratchVector<std::uint32_t>& begin, std::size_t n, Less less) {
  for (std::size_t g = 0; g < n; ++g) {
    if (begin[g + 1] - begin[g] > 1) std::sort(items.begin() + begin[g], items.begin() + begin[g + 1], less);
  }
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
        deletes.push_back(DeleteRow{s, static_cast<std::uint32_t>(i)});
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
  ScratchVector<std::uint32_t>& pred_begin = out.begin;
  pred_begin.assign(num_ops + 1, 0);
  for (const std::uint32_t j : succ_row) ++pred_begin[j];
  counts_to_ends(pred_begin, num_ops, succ_row.size());
  ScratchVector<std::uint32_t>& preds = out.rows;
  preds.resize(succ.size());
  for (std::size_t i = num_stored; i-- > 0;) {
    const auto [succ_first, succ_end] = succ_range(i);
    for (std::size_t k = succ_end; k-- > succ_first;) preds[--pred_begin[succ_row[k]]] = static_cast<std::uint32_t>(i);
  }
  sort_each_group(preds, pred_begin, num_ops,
                  [&](std::uint32_t a, std::uint32_t b) { return lamport_less_ids(ops[a].id, ops[b].id, rank); });
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
  succ_begin.assign(num_stored + 1, 0);
  for (const std::uint32_t i : preds.rows) ++succ_begin[i];
  counts_to_ends(succ_begin, num_stored, preds.rows.size());
  ScratchVector<RawId>& succ = rows.succ;
  succ.resize(preds.rows.size());
  for (std::size_t j = num_rows; j-- > 0;) {
    const RawId id = rows.id(static_cast<std::uint32_t>(j));
    for (std::uint32_t p = preds.begin[j + 1]; p-- > preds.begin[j];) succ[--succ_begin[preds.rows[p]]] = id;
  }
  sort_each_group(succ, succ_begin, num_stored, [&](RawId a, RawId b) { return lamport_less_ids(a, b, rank); });
}

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
  // The change row of op `id`, or kNone32. Ops come in document order, where consecutive ops
  // are often of the same or the next change (typing): the previous answer for the actor and its
  // successor are tried before a binary search.
  std::vector<std::size_t> last_found(num_actors, 0);
  auto change_of = [&](RawId id) __attribute__((always_inline)) -> std::uint32_t {
    const auto& max_ops = max_ops_by_actor[id.actor];
    const std::uint32_t ctr = id.counter;
    auto is_answer = [&](std::size_t k) { return k < max_ops.size() && max_ops[k] >= ctr && (k == 0 || max_ops[k - 1] < ctr); };
    std::size_t k = last_found[id.actor];
    if (!is_answer(k) && !is_answer(++k)) {
      k = static_cast<std::size_t>(std::lower_bound(max_ops.begin(), max_ops.end(), ctr) - max_ops.begin());
      if (k == max_ops.size()) return kNone32;
    }
    last_found[id.actor] = k;
    return by_actor[id.actor][k];
  };
  auto no_change = [](RawId id) { return fail(corrupt("op " + id_text(id) + " belongs to no change")); };
  // A stored row keeps its change in aux (its successors are no longer needed) for the second
  // pass; a delete row has no room for it (12 bytes) and finds it again.
  for (DocOp& op : op_rows.ops) {
    op.aux = change_of(op.id);
    if (op.aux == kNone32) return no_change(op.id);
    ++op_count[op.aux];
  }
  for (const DeleteRow& d : op_rows.deletes) {
    const std::uint32_t change = change_of(d.id);
    if (change == kNone32) return no_change(d.id);
    ++op_count[change];
  }
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
  Status failure;
  // Puts row r (op `id` of change row `change`) in its slot; false (having set `failure`) if
  // the slot cannot be its. Inlined into both loops below, a million rows each.
  auto place = [&](std::uint32_t r, RawId id, std::uint32_t change) __attribute__((always_inline)) {
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
  };
  std::uint32_t r = 0;
  for (const DocOp& op : op_rows.ops) {
    if (!place(r++, op.id, op.aux)) return failure;
  }
  for (const DeleteRow& d : op_rows.deletes) {
    if (!place(r++, d.id, change_of(d.id))) return failure;
  }
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
