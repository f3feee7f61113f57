#include "core/storage/document_rows.h"

#include <unordered_map>

#include "core/encoding/column_rows.h"
#include "core/encoding/leb128.h"
#include "core/storage/document_columns.h"
#include "core/util/deflate.h"

namespace am::storage::doc {
namespace {

constexpr std::uint64_t kNumActions = 8;

Error column_ends(std::string_view column, std::uint64_t row) {
  return corrupt(std::string(column) + " column ends at row " + std::to_string(row));
}

Error column_has_more(std::string_view column) {
  return corrupt(std::string(column) + " column has more items than there are rows");
}

// Row-wise reading: a reader's own error gets the chunk as context.
constexpr enc::RowErrors kRowErrors{column_ends, column_has_more, kWhat, true};

Result<std::uint32_t> actor_index(const std::optional<std::uint64_t>& v, std::size_t num_actors,
                                  std::string_view what, std::size_t row) {
  if (!v) return fail(corrupt(std::string(what) + " is null at row " + std::to_string(row)));
  if (*v >= num_actors) {
    return fail(corrupt(std::string(what) + " index " + std::to_string(*v) + " out of range at row " +
                        std::to_string(row)));
  }
  return static_cast<std::uint32_t>(*v);
}

template <class T>
Result<std::uint32_t> counter(const std::optional<T>& v, std::string_view what, std::size_t row) {
  if (!v) return fail(corrupt(std::string(what) + " is null at row " + std::to_string(row)));
  if (*v <= 0 || static_cast<std::uint64_t>(*v) > kMaxCounter) {
    return fail(corrupt(std::string(what) + " " + std::to_string(*v) + " out of range at row " +
                        std::to_string(row)));
  }
  return static_cast<std::uint32_t>(*v);
}

// Sizes `v` for the rows an RLE column claims, if the decoding budget could pay for them (if
// not, reading fails on the budget before long).
template <class T>
void reserve_rows(T& v, ByteView column, std::size_t extra, std::size_t budget,
                  std::size_t row_cost) {
  const std::uint64_t cap = budget / row_cost;
  auto n = enc::count_rle_items<enc::UIntCodec>(column, cap, "", "");
  if (n && *n + extra <= cap) v.reserve(static_cast<std::size_t>(*n + extra));
}

// In document order, every mark end (a mark op without a name) must come after its begin (the
// named mark op whose counter is one less, same actor) and be in the same object. The reference
// refuses documents that break this ("invalid mark operation order"); a buggy writer made some
// (upstream fixture broken_zero_width_mark), and a re-save of one cannot be loaded by JS.
Status check_mark_order(const OpRows& rows) {
  std::unordered_map<std::uint64_t, std::uint32_t> begins;  // begin op id -> its object
  for (std::size_t row = 0; row < rows.ops.size(); ++row) {
    const DocOp& op = rows.ops[row];
    if (op.action != Action::kMark) continue;
    if (op.has_mark_name) {
      begins[pack(op.id)] = op.obj;
      continue;
    }
    const RawId begin{op.id.counter - 1, op.id.actor};
    const auto it = op.id.counter == 0 ? begins.end() : begins.find(pack(begin));
    if (it == begins.end()) {
      return fail(corrupt("invalid mark operation order: mark end " + id_text(op.id) +
                          " occurs before mark begin " + id_text(begin) + " (op row " + std::to_string(row) + ")"));
    }
    if (it->second != op.obj) {  // an object has one index
      return fail(corrupt("invalid mark operation order: mark end " + id_text(op.id) +
                          " is in another object than mark begin " + id_text(begin)));
    }
  }
  return {};
}

}  // namespace

std::string id_text(RawId id) {
  return std::to_string(id.counter) + "@actor" + std::to_string(id.actor);
}

Status ColumnSource::over_budget() {
  return fail(Error::resource_limit(kWhat, "decodes to more than the configured limit (max_inflated_bytes)"));
}

Result<ByteView> ColumnSource::data(const enc::StoredColumn& col, std::string_view group) {
  if (!col.spec.deflate()) {
    AM_TRY_STATUS(charge(col.data.size()));
    return col.data;
  }
  core::ScratchBytes inflated;
  if (Status s = util::inflate_raw_into(col.data, budget_, inflated); !s) {
    return fail(s.error().with_context(std::string(kWhat) + ": " + std::string(group) + " column " +
                                       std::to_string(col.spec.normalized())));
  }
  AM_TRY_STATUS(charge(inflated.size()));
  buffers_.push_back(std::move(inflated));
  return ByteView(buffers_.back().data(), buffers_.back().size());
}

Status classify_changes(const std::vector<enc::StoredColumn>& cols, ColumnSource& src,
                        ChangeColumns& c) {
  for (const enc::StoredColumn& col : cols) {
    ByteView* slot = nullptr;
    const std::uint32_t spec = col.spec.normalized();
    if (spec == kChActor.raw()) slot = &c.actor;
    else if (spec == kChSeq.raw()) slot = &c.seq;
    else if (spec == kChMaxOp.raw()) slot = &c.max_op;
    else if (spec == kChTime.raw()) slot = &c.time;
    else if (spec == kChMessage.raw()) slot = &c.message;
    else if (spec == kChDepCount.raw()) slot = &c.dep_count;
    else if (spec == kChDepIndex.raw()) slot = &c.dep_index;
    else if (spec == kChExtraMeta.raw()) slot = &c.extra_meta;
    else if (spec == kChExtraRaw.raw()) slot = &c.extra_raw;
    if (slot == nullptr) continue;  // unknown columns are dropped, as the reference does
    AM_TRY_ASSIGN(*slot, src.data(col, "change"));
  }
  return {};
}

Status classify_ops(const std::vector<enc::StoredColumn>& cols, ColumnSource& src, OpColumnData& c) {
  for (const enc::StoredColumn& col : cols) {
    ByteView* slot = op_column_slot(c, col.spec.normalized(), OpChunkKind::kDocument);
    if (slot == nullptr) continue;
    AM_TRY_ASSIGN(*slot, src.data(col, "op"));
  }
  return {};
}

Result<bool> ChangeCursor::next(std::size_t row, ChangeRow& r, std::vector<std::uint32_t>& deps, ColumnSource* src) {
  if (!actor_.next(u_)) {
    if (!actor_.ok()) return fail(actor_.status("change actor").error().with_context(std::string(kWhat)));
    return false;
  }
  if (src) AM_TRY_STATUS(src->charge(kChangeRowCost));
  AM_TRY_ASSIGN(r.actor, actor_index(u_, num_actors_, "change actor", row));
  AM_TRY_STATUS(enc::next_item(seq_, true, s_, "change seq", row, kRowErrors));
  if (!s_ || *s_ <= 0) return fail(corrupt("change seq missing or not positive at row " + std::to_string(row)));
  r.seq = static_cast<std::uint64_t>(*s_);
  AM_TRY_STATUS(enc::next_item(max_op_, true, s_, "change max_op", row, kRowErrors));
  if (!s_ || *s_ < 0 || static_cast<std::uint64_t>(*s_) > kMaxCounter) {
    return fail(corrupt("change max_op missing or out of range at row " + std::to_string(row)));
  }
  r.max_op = static_cast<std::uint32_t>(*s_);
  AM_TRY_STATUS(enc::next_item(time_, has_time_, s_, "change time", row, kRowErrors));
  r.time = s_.value_or(0);
  AM_TRY_STATUS(enc::next_item(message_, has_message_, str_, "change message", row, kRowErrors));
  r.message = str_;
  AM_TRY_STATUS(enc::next_item(dep_count_, has_dep_count_, u_, "change deps count", row, kRowErrors));
  const std::uint64_t ndeps = u_.value_or(0);
  deps.clear();
  for (std::uint64_t k = 0; k < ndeps; ++k) {
    if (src) AM_TRY_STATUS(src->charge(sizeof(std::uint32_t)));
    AM_TRY_STATUS(enc::next_item(dep_index_, true, s_, "change deps index", row, kRowErrors));
    if (!s_ || *s_ < 0 || static_cast<std::uint64_t>(*s_) >= row) {
      return fail(corrupt("change at row " + std::to_string(row) +
                          " depends on a missing or later change row"));
    }
    deps.push_back(static_cast<std::uint32_t>(*s_));
  }
  r.extra = {};
  if (has_extra_) {
    enc::RawValue raw;
    if (!extra_.next(raw)) {
      if (!extra_.ok()) return fail(extra_.status("change extra bytes").error().with_context(std::string(kWhat)));
      return fail(corrupt("change extra bytes column ends at row " + std::to_string(row)));
    }
    if (raw.type_code != enc::kValueBytes && !(raw.type_code == enc::kValueNull && raw.bytes.empty())) {
      return fail(corrupt("change extra bytes are not bytes at row " + std::to_string(row)));
    }
    r.extra = raw.bytes;
  }
  return true;
}

Status ChangeCursor::check_done() const {
  AM_TRY_STATUS(enc::check_done(seq_, true, "change seq", kRowErrors));
  AM_TRY_STATUS(enc::check_done(max_op_, true, "change max_op", kRowErrors));
  AM_TRY_STATUS(enc::check_done(time_, has_time_, "change time", kRowErrors));
  AM_TRY_STATUS(enc::check_done(message_, has_message_, "change message", kRowErrors));
  AM_TRY_STATUS(enc::check_done(dep_count_, has_dep_count_, "change deps count", kRowErrors));
  AM_TRY_STATUS(enc::check_done(dep_index_, !c_.dep_index.empty(), "change deps index", kRowErrors));
  AM_TRY_STATUS(enc::check_done(extra_, has_extra_, "change extra bytes", kRowErrors));
  if (extra_.raw_remaining() != 0 || (!has_extra_ && !c_.extra_raw.empty())) {
    return fail(corrupt("change extra bytes column has unclaimed bytes"));
  }
  return {};
}

// Validates the change rows and keeps their actor and max_op.
Status read_changes(const ChangeColumns& c, std::size_t num_actors, ColumnSource& src, std::vector<ChangeKey>& keys) {
  reserve_rows(keys, c.actor, 0, src.budget(), kChangeRowCost);
  ChangeCursor cursor(c, num_actors);
  ChangeRow r;
  std::vector<std::uint32_t> deps;
  for (std::size_t row = 0;; ++row) {
    AM_TRY_ASSIGN(const bool more, cursor.next(row, r, deps, &src));
    if (!more) break;
    keys.push_back(ChangeKey{r.actor, r.max_op});
  }
  return cursor.check_done();
}

namespace {

// ---- the op rows, column by column ----------------------------------------------------------
// Each op column is decoded on its own, run by run: a run of equal items (most of a document's
// items: one object, one actor, counters that step by one) is checked once and stored in every
// row of the run, where reading row by row cost a few dozen instructions per item. The first
// error in column order is reported, which for a file with several faults may not be the one in
// the lowest row.

// What a column pass leaves for the next one: the actor item was null.
constexpr std::uint32_t kNullActor = UINT32_MAX;

[[gnu::noinline]] Status bad_row(const char* what, std::uint64_t row) {
  return fail(corrupt(std::string(what) + " at row " + std::to_string(row)));
}

// Feeds the `rows` items of an RLE column to fill(row, count, value) run by run (a literal run
// item by item). An absent column is one run of nulls, or an error if `required`. Errors: the
// column ends early, has items after the last row, or is malformed.
template <class Codec, class Fill>
Status for_each_run(ByteView data, bool required, std::uint64_t rows, std::string_view column, Fill&& fill) {
  using V = typename Codec::value_type;
  if (data.empty()) {
    if (rows == 0) return {};
    if (required) return fail(column_ends(column, 0));
    return fill(std::uint64_t{0}, rows, std::optional<V>{});
  }
  enc::RleReader<Codec> r(data);
  std::optional<V> v;
  std::uint64_t row = 0;
  std::uint64_t count = 0;
  while (row < rows) {
    if (!r.next_run(v, count)) return enc::item_missing(r, column, row, kRowErrors);
    if (count > rows - row) return fail(column_has_more(column));
    AM_TRY_STATUS(fill(row, count, v));
    row += count;
  }
  return enc::check_done(r, true, column, kRowErrors);
}

// A delta column run by run: fill(row, count, first, step) with the absolute values first,
// first + step, ... (wrapping, as DeltaReader); first is empty for a run of nulls.
template <class Fill>
Status for_each_delta_run(ByteView data, bool required, std::uint64_t rows, std::string_view column, Fill&& fill) {
  std::uint64_t absolute = 0;
  return for_each_run<enc::IntCodec>(
      data, required, rows, column,
      [&](std::uint64_t row, std::uint64_t count, const std::optional<std::int64_t>& delta) -> Status {
        if (!delta) return fill(row, count, std::optional<std::int64_t>{}, std::int64_t{0});
        const auto step = static_cast<std::uint64_t>(*delta);
        const std::uint64_t first = absolute + step;
        absolute += step * count;
        return fill(row, count, std::optional<std::int64_t>{static_cast<std::int64_t>(first)}, *delta);
      });
}

// A boolean column: fill(row, count) for every run of true. An absent column is all false.
template <class Fill>
Status for_each_true_run(ByteView data, std::uint64_t rows, std::string_view column, Fill&& fill) {
  if (data.empty()) return {};
  enc::BooleanReader r(data);
  bool v = false;
  std::uint64_t row = 0;
  std::uint64_t count = 0;
  while (row < rows) {
    if (!r.next_run(v, count)) return enc::item_missing(r, column, row, kRowErrors);
    if (count > rows - row) return fail(column_has_more(column));
    if (v && count != 0) fill(row, count);
    row += count;
  }
  // A canonical column ends on its last run: anything after it, even a zero-length run, is
  // refused (a zero-length run between two others is read as nothing).
  return enc::check_done(r, true, column, kRowErrors);
}

// The counters of a delta run (monotonic): the first checked, then how far the step may go.
Status check_counter_run(const std::optional<std::int64_t>& first, std::int64_t step, std::uint64_t count,
                         std::string_view what, std::uint64_t row) {
  if (auto c = counter(first, what, row); !c) return fail(std::move(c.error()));
  if (count < 2 || step == 0) return {};
  const auto start = static_cast<std::uint64_t>(*first);
  const std::uint64_t magnitude = step > 0 ? static_cast<std::uint64_t>(step) : std::uint64_t{0} - static_cast<std::uint64_t>(step);
  const std::uint64_t room = step > 0 ? kMaxCounter - start : start - 1;  // how far it may move
  const std::uint64_t steps_allowed = room / magnitude;
  if (count - 1 > steps_allowed) {
    return fail(corrupt(std::string(what) + " out of range at row " + std::to_string(row + steps_allowed + 1)));
  }
  return {};
}

// The op rows' own columns: action, object, key, id, flags, value, mark name.
// One delta run of the key counter column: rows [row, row + n) have first, first + step, ...
// (or no key, when first is null), checked against what the earlier columns set.
Status read_key_counter_run(ScratchVector<DocOp>& ops, std::uint64_t row, std::uint64_t n,
                            const std::optional<std::int64_t>& first, std::int64_t step) {
  // A run whose two ends are valid counters holds only valid counters (it is linear): typed
  // text is long runs of step 1, taken without a check per op.
  if (first && n != 0 && *first > 0 && static_cast<std::uint64_t>(*first) <= kMaxCounter) {
    const auto from = static_cast<std::uint64_t>(*first);
    const std::uint64_t room = step >= 0 ? kMaxCounter - from : from - 1;  // before the run leaves the range
    const std::uint64_t magnitude = static_cast<std::uint64_t>(step);
    const std::uint64_t stride = step >= 0 ? magnitude : 0 - magnitude;
    if (n == 1 || stride <= room / (n - 1)) {
      auto value = static_cast<std::uint32_t>(*first);
      for (std::uint64_t i = row; i < row + n; ++i, value += static_cast<std::uint32_t>(step)) {
        DocOp& op = ops[i];
        if (op.is_map) return bad_row("op has both a map key and an element key", i);
        if (op.elem.actor == kNullActor) return bad_row("op key actor is null", i);
        op.elem.counter = value;
      }
      return {};
    }
  }
  for (std::uint64_t i = row; i < row + n; ++i) {
    DocOp& op = ops[i];
    if (op.is_map) {
      if (first) return bad_row("op has both a map key and an element key", i);
      continue;
    }
    if (!first) return bad_row("op has no key", i);
    const std::int64_t value = static_cast<std::int64_t>(static_cast<std::uint64_t>(*first) +
                                                         static_cast<std::uint64_t>(step) * (i - row));
    if (value == 0) {
      if (op.elem.actor != kNullActor) return bad_row("_head key with an actor", i);
      op.elem = RawId{};
      continue;
    }
    if (op.elem.actor == kNullActor) return bad_row("op key actor is null", i);
    AM_TRY_ASSIGN(op.elem.counter, counter(std::optional<std::int64_t>{value}, "op key counter", i));
  }
  return {};
}

Status read_op_columns(const OpColumnData& c, std::size_t num_actors, std::uint64_t rows, OpRows& out) {
  ScratchVector<DocOp>& ops = out.ops;
  using U = std::optional<std::uint64_t>;
  using S = std::optional<std::int64_t>;
  using Str = std::optional<std::string_view>;
  if (Status st = for_each_run<enc::UIntCodec>(c.action, true, rows, "op action", [&](std::uint64_t row, std::uint64_t n, const U& v) -> Status {
    if (!v || *v >= kNumActions) return bad_row("op action missing or unknown", row);
    const auto action = static_cast<Action>(*v);
    if (action == Action::kDelete) return bad_row("delete op stored in a document", row);
    for (std::uint64_t i = row; i < row + n; ++i) ops[i].action = action;
    return {};
  }); !st) {
    return st;
  }
  if (!c.obj_actor.empty() || !c.obj_counter.empty()) {
    // An object's ops are one run in a valid document; the map gives an object named in two
    // runs one index all the same.
    std::unordered_map<std::uint64_t, std::uint32_t> object_index;
    RawId last_obj{};  // the root: not in object_index
    std::uint32_t last_index = 0;
    if (Status st = for_each_run<enc::UIntCodec>(c.obj_actor, false, rows, "op obj actor", [&](std::uint64_t row, std::uint64_t n, const U& v) -> Status {
      std::uint32_t actor = kNullActor;
      if (v) {
        AM_TRY_ASSIGN(actor, actor_index(v, num_actors, "op obj actor", row));
      }
      for (std::uint64_t i = row; i < row + n; ++i) ops[i].aux = actor;  // until the counter is read
      return {};
    }); !st) {
      return st;
    }
    if (Status st = for_each_run<enc::UIntCodec>(c.obj_counter, false, rows, "op obj counter", [&](std::uint64_t row, std::uint64_t n, const U& v) -> Status {
      std::uint32_t ctr = 0;
      if (v) {
        AM_TRY_ASSIGN(ctr, counter(v, "op obj counter", row));
      }
      for (std::uint64_t i = row; i < row + n; ++i) {
        const std::uint32_t actor = ops[i].aux;
        ops[i].aux = 0;
        if ((actor == kNullActor) == static_cast<bool>(v)) return bad_row("op obj has only one of actor and counter", i);
        if (!v) continue;  // the root: index 0
        const RawId id{ctr, actor};
        if (pack(id) != pack(last_obj)) {
          last_obj = id;
          const auto [it, added] = object_index.try_emplace(pack(id), static_cast<std::uint32_t>(out.objects.size()));
          if (added) {
            if (out.objects.size() >= kMaxObjectsPerDocument) {
              return fail(Error::resource_limit(kWhat, "a document names more than 16,777,215 objects"));
            }
            out.objects.push_back(id);
          }
          last_index = it->second;
        }
        ops[i].obj = last_index & (kMaxObjectsPerDocument - 1);
      }
      return {};
    }); !st) {
      return st;
    }
  }
  if (Status st = for_each_run<enc::StringCodec>(c.key_string, false, rows, "op key string", [&](std::uint64_t row, std::uint64_t n, const Str& v) -> Status {
    if (!v) return {};
    const auto offset = static_cast<std::uint32_t>(reinterpret_cast<const std::uint8_t*>(v->data()) - out.keys.data());
    for (std::uint64_t i = row; i < row + n; ++i) {
      ops[i].is_map = true;
      ops[i].elem = RawId{offset, static_cast<std::uint32_t>(v->size())};
    }
    return {};
  }); !st) {
    return st;
  }
  if (Status st = for_each_run<enc::UIntCodec>(c.key_actor, false, rows, "op key actor", [&](std::uint64_t row, std::uint64_t n, const U& v) -> Status {
    std::uint32_t actor = kNullActor;
    for (std::uint64_t i = row; i < row + n; ++i) {
      if (ops[i].is_map) {
        if (v) return bad_row("op has both a map key and an element key", i);
        continue;
      }
      if (v && actor == kNullActor) {
        AM_TRY_ASSIGN(actor, actor_index(v, num_actors, "op key actor", i));
      }
      ops[i].elem.actor = actor;
    }
    return {};
  }); !st) {
    return st;
  }
  if (Status st = for_each_delta_run(c.key_counter, false, rows, "op key counter", [&](std::uint64_t row, std::uint64_t n, const S& first, std::int64_t step) -> Status {
    return read_key_counter_run(ops, row, n, first, step);
  }); !st) {
    return st;
  }
  if (Status st = for_each_run<enc::UIntCodec>(c.id_actor, true, rows, "op id actor", [&](std::uint64_t row, std::uint64_t n, const U& v) -> Status {
    AM_TRY_ASSIGN(const std::uint32_t actor, actor_index(v, num_actors, "op id actor", row));
    for (std::uint64_t i = row; i < row + n; ++i) ops[i].id.actor = actor;
    return {};
  }); !st) {
    return st;
  }
  if (Status st = for_each_delta_run(c.id_counter, true, rows, "op id counter", [&](std::uint64_t row, std::uint64_t n, const S& first, std::int64_t step) -> Status {
    AM_TRY_STATUS(check_counter_run(first, step, n, "op id counter", row));
    auto value = static_cast<std::uint32_t>(*first);
    for (std::uint64_t i = row; i < row + n; ++i, value += static_cast<std::uint32_t>(step)) ops[i].id.counter = value;
    return {};
  }); !st) {
    return st;
  }
  if (Status st = for_each_true_run(c.insert, rows, "op insert", [&](std::uint64_t row, std::uint64_t n) {
    for (std::uint64_t i = row; i < row + n; ++i) ops[i].insert = true;
  }); !st) {
    return st;
  }
  std::size_t raw_pos = 0;
  if (Status st = for_each_run<enc::UIntCodec>(c.value_meta, false, rows, "op value", [&](std::uint64_t row, std::uint64_t n, const U& v) -> Status {
    const std::uint64_t meta = v.value_or(0);  // a null metadata entry reads as a null value
    const std::uint64_t len = meta >> 4;
    const auto type = static_cast<std::uint8_t>(meta & 0x0f);
    if (len >= kMaxValueBytes) return fail(Error::resource_limit(kWhat, "a value of 256 MiB or more"));
    if (len != 0 && n > (c.value_raw.size() - raw_pos) / len) {
      return kRowErrors.reader_error(enc::column_status("op value", "value length runs past the raw value column", raw_pos));
    }
    for (std::uint64_t i = row; i < row + n; ++i) {
      ops[i].value_type = type & 0x0fu;
      if (len != 0) {
        ops[i].value_offset = static_cast<std::uint32_t>(raw_pos);
        ops[i].value_len = static_cast<std::uint32_t>(len) & static_cast<std::uint32_t>(kMaxValueBytes - 1);
        raw_pos += len;
      }
    }
    return {};
  }); !st) {
    return st;
  }
  if (raw_pos != c.value_raw.size()) return fail(corrupt("op value column has unclaimed bytes"));
  if (Status st = for_each_true_run(c.expand, rows, "op expand", [&](std::uint64_t row, std::uint64_t n) {
    for (std::uint64_t i = row; i < row + n; ++i) ops[i].expand = true;
  }); !st) {
    return st;
  }
  return for_each_run<enc::StringCodec>(c.mark_name, false, rows, "op mark name", [&](std::uint64_t row, std::uint64_t n, const Str& v) -> Status {
    if (!v) return {};
    for (std::uint64_t i = row; i < row + n; ++i) {
      ops[i].has_mark_name = true;
      out.mark_names.emplace_back(static_cast<std::uint32_t>(i), *v);
    }
    return {};
  });
}

// The successors: each row's count, then the ids of all rows in one list (op.aux: where a row's
// begin).
Status read_successors(const OpColumnData& c, std::size_t num_actors, std::uint64_t rows, ColumnSource& src, OpRows& out) {
  using U = std::optional<std::uint64_t>;
  using S = std::optional<std::int64_t>;
  const std::uint64_t allowed = src.budget() / kSuccCost;
  std::uint64_t total = 0;
  if (Status st = for_each_run<enc::UIntCodec>(c.ref_count, false, rows, "op succ count", [&](std::uint64_t row, std::uint64_t n, const U& v) -> Status {
    const std::uint64_t k = v.value_or(0);
    if (k != 0 && n > (allowed - total) / k) return ColumnSource::over_budget();
    for (std::uint64_t i = row; i < row + n; ++i, total += k) out.ops[i].aux = static_cast<std::uint32_t>(total);
    return {};
  }); !st) {
    return st;
  }
  if (total > UINT32_MAX) return fail(Error::resource_limit(kWhat, "4 Gi successors or more"));
  AM_TRY_STATUS(src.charge(static_cast<std::size_t>(total * kSuccCost)));
  ScratchVector<RawId>& succ = out.succ;
  succ.resize(static_cast<std::size_t>(total));
  if (Status st = for_each_run<enc::UIntCodec>(c.ref_actor, true, total, "op succ actor", [&](std::uint64_t item, std::uint64_t n, const U& v) -> Status {
    AM_TRY_ASSIGN(const std::uint32_t actor, actor_index(v, num_actors, "op succ actor", item));
    for (std::uint64_t i = item; i < item + n; ++i) succ[i].actor = actor;
    return {};
  }); !st) {
    return st;
  }
  return for_each_delta_run(c.ref_counter, true, total, "op succ counter", [&](std::uint64_t item, std::uint64_t n, const S& first, std::int64_t step) -> Status {
    AM_TRY_STATUS(check_counter_run(first, step, n, "op succ counter", item));
    auto value = static_cast<std::uint32_t>(*first);
    for (std::uint64_t i = item; i < item + n; ++i, value += static_cast<std::uint32_t>(step)) succ[i].counter = value;
    return {};
  });
}

}  // namespace

Status read_ops(const OpColumnData& c, std::size_t num_actors, ColumnSource& src, OpRows& out) {
  out.keys = c.key_string;
  out.raw = c.value_raw;
  if (c.key_string.size() > UINT32_MAX || c.value_raw.size() > UINT32_MAX) {
    return fail(Error::resource_limit(kWhat, "a key or value column of 4 GiB or more"));
  }
  // One row per action item.
  auto rows = enc::count_rle_items<enc::UIntCodec>(c.action, UINT64_MAX, "op action", "ops");
  if (!rows) return fail(rows.error().with_context(std::string(kWhat)));
  if (*rows > src.budget() / kOpRowCost) return ColumnSource::over_budget();
  AM_TRY_STATUS(src.charge(static_cast<std::size_t>(*rows * kOpRowCost)));
  out.ops.resize(static_cast<std::size_t>(*rows));
  AM_TRY_STATUS(read_op_columns(c, num_actors, *rows, out));
  AM_TRY_STATUS(read_successors(c, num_actors, *rows, src, out));
  if (!out.mark_names.empty() || !c.mark_name.empty()) AM_TRY_STATUS(check_mark_order(out));
  return {};
}

}  // namespace am::storage::doc
