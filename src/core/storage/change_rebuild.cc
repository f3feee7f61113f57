// The change rebuild of a document load (see change_rebuild.h).
#include "core/storage/change_rebuild.h"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/encoding/column_spec.h"
#include "core/encoding/utf8.h"
#include "core/encoding/value_column.h"

namespace am::storage::doc {
namespace {

using core::kNone32;
using core::ScratchVector;

// Ops of one change decoded and handed on at a time: a change can hold a whole document.
constexpr std::uint32_t kOpBatch = 4096;
// The value of a delete (ops handed on always point at a value).
const ScalarValue kNullValue = Null{};

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

}  // namespace

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

}  // namespace am::storage::doc
