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

// Reading the op columns: the names the errors give them.
constexpr OpColumnLayout kOpLayout{
    OpChunkKind::kDocument,
    {.obj_actor = "op obj actor",
     .obj_counter = "op obj counter",
     .key_actor = "op key actor",
     .key_counter = "op key counter",
     .key_string = "op key string",
     .id_actor = "op id actor",
     .id_counter = "op id counter",
     .insert = "op insert",
     .action = "op action",
     .value = "op value",
     .value_items = "op value",
     .ref_count = "op succ count",
     .ref_actor = "op succ actor",
     .ref_counter = "op succ counter",
     .expand = "op expand",
     .mark_name = "op mark name"},
    kRowErrors};

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
  std::unordered_map<std::uint64_t, RawId> begins;  // begin op id -> its object
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
    if (pack(it->second) != pack(op.obj)) {  // the root is (0, 0)
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
  auto inflated = util::inflate_raw(col.data, budget_);
  if (!inflated) {
    return fail(inflated.error().with_context(std::string(kWhat) + ": " + std::string(group) +
                                              " column " + std::to_string(col.spec.normalized())));
  }
  AM_TRY_STATUS(charge(inflated->size()));
  buffers_.push_back(std::move(*inflated));
  return ByteView(buffers_.back());
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

Status read_ops(const OpColumnData& c, std::size_t num_actors, ColumnSource& src, OpRows& out) {
  BigVector<DocOp>& ops = out.ops;
  BigVector<RawId>& succ = out.succ;
  out.keys = c.key_string;
  out.raw = c.value_raw;
  if (c.key_string.size() > UINT32_MAX || c.value_raw.size() > UINT32_MAX) {
    return fail(Error::resource_limit(kWhat, "a key or value column of 4 GiB or more"));
  }
  {
    const std::uint64_t cap = src.budget() / kSuccCost;
    auto nsucc = enc::count_rle_items<enc::UIntCodec>(c.ref_actor, cap, "", "");
    const std::size_t deletes = nsucc ? static_cast<std::size_t>(*nsucc) : 0;
    if (nsucc) succ.reserve(deletes);
    reserve_rows(ops, c.action, deletes, src.budget(), kOpRowCost);
  }
  OpColumnReader in(c, kOpLayout);
  std::optional<std::uint64_t> u1;
  std::optional<std::uint64_t> u2;
  std::optional<std::int64_t> s1;
  std::optional<std::string_view> str;
  for (std::size_t row = 0;; ++row) {
    if (!in.next_action(u1)) {
      AM_TRY_STATUS(in.action_error());
      break;
    }
    AM_TRY_STATUS(src.charge(kOpRowCost));
    auto bad = [row](const char* what) {
      return fail(corrupt(std::string(what) + " at row " + std::to_string(row)));
    };
    DocOp op;
    if (!u1 || *u1 >= kNumActions) return bad("op action missing or unknown");
    op.action = static_cast<Action>(*u1);
    if (op.action == Action::kDelete) return bad("delete op stored in a document");

    AM_TRY_STATUS(in.obj(row, u1, u2));
    if (u1.has_value() != u2.has_value()) return bad("op obj has only one of actor and counter");
    if (u1) {
      AM_TRY_ASSIGN(op.obj.actor, actor_index(u1, num_actors, "op obj actor", row));
      AM_TRY_ASSIGN(op.obj.counter, counter(u2, "op obj counter", row));
    }

    AM_TRY_STATUS(in.key(row, u1, s1, str));
    if (str) {
      if (u1 || s1) return bad("op has both a map key and an element key");
      op.is_map = true;
      op.elem.counter = static_cast<std::uint32_t>(reinterpret_cast<const std::uint8_t*>(str->data()) - out.keys.data());
      op.elem.actor = static_cast<std::uint32_t>(str->size());
    } else if (!s1) {
      return bad("op has no key");
    } else if (*s1 == 0) {
      if (u1) return bad("_head key with an actor");
    } else {
      AM_TRY_ASSIGN(op.elem.actor, actor_index(u1, num_actors, "op key actor", row));
      AM_TRY_ASSIGN(op.elem.counter, counter(s1, "op key counter", row));
    }

    AM_TRY_STATUS(in.id_actor(row, u1));
    AM_TRY_ASSIGN(op.id.actor, actor_index(u1, num_actors, "op id actor", row));
    AM_TRY_STATUS(in.id_counter(row, s1));
    AM_TRY_ASSIGN(op.id.counter, counter(s1, "op id counter", row));

    bool flag = false;
    AM_TRY_STATUS(in.insert(row, flag));
    op.insert = flag;

    enc::RawValue value;
    AM_TRY_STATUS(in.value(row, value));
    op.value_type = value.type_code;
    if (!value.bytes.empty()) {
      op.value_offset = static_cast<std::uint32_t>(value.bytes.data() - out.raw.data());
      op.value_len = static_cast<std::uint32_t>(value.bytes.size());
    }

    AM_TRY_STATUS(in.ref_count(row, u1));
    const std::uint64_t nsucc = u1.value_or(0);
    op.aux = static_cast<std::uint32_t>(succ.size());
    for (std::uint64_t k = 0; k < nsucc; ++k) {
      AM_TRY_STATUS(src.charge(kSuccCost));
      RawId id;
      AM_TRY_STATUS(in.ref_actor(row, u2));
      AM_TRY_ASSIGN(id.actor, actor_index(u2, num_actors, "op succ actor", row));
      AM_TRY_STATUS(in.ref_counter(row, s1));
      AM_TRY_ASSIGN(id.counter, counter(s1, "op succ counter", row));
      succ.push_back(id);
    }

    AM_TRY_STATUS(in.expand(row, flag));
    op.expand = flag;
    AM_TRY_STATUS(in.mark_name(row, str));
    if (str) {
      op.has_mark_name = true;
      out.mark_names.emplace_back(static_cast<std::uint32_t>(row), *str);
    }
    ops.push_back(op);
  }
  AM_TRY_STATUS(in.check_done());
  if (in.has_mark_names()) AM_TRY_STATUS(check_mark_order(out));
  return {};
}

}  // namespace am::storage::doc
