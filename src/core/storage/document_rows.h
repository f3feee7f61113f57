// Reading the columns of a document chunk (format spec §2.4-§2.5) into rows: the change rows
// (ChangeCursor, read twice: once to validate and size, once while the changes are rebuilt) and
// the op rows with their successors (read_ops, column by column and run by run). What the rows
// become is document_load.cc.
//
// Internal to the document loader (document_load.cc, change_rebuild.cc); not thread-safe.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "am/bytes.h"
#include "am/limits.h"
#include "am/result.h"
#include "core/encoding/column_spec.h"
#include "core/encoding/rle.h"
#include "core/encoding/value_column.h"
#include "core/storage/change.h"
#include "core/storage/document_chunk.h"
#include "core/storage/op_columns.h"
#include "core/util/big_alloc.h"

namespace am::storage::doc {

inline constexpr std::string_view kWhat = "document chunk";
inline constexpr std::uint64_t kMaxCounter = UINT32_MAX;

// Decoding budget charged per decoded row (see DocumentDecodeOptions).
inline constexpr std::size_t kChangeRowCost = 32;
inline constexpr std::size_t kOpRowCost = 16;
inline constexpr std::size_t kSuccCost = 16;

inline Error corrupt(const std::string& detail) { return Error::corruption(kWhat, detail); }

// An op id as stored: counter and document actor index.
using RawId = DocOpId;
inline std::uint64_t pack(RawId id) { return (std::uint64_t{id.counter} << 32) | id.actor; }
std::string id_text(RawId id);

// One change row as read from the change columns; views into the columns.
struct ChangeRow {
  std::uint32_t actor = 0;
  std::uint32_t max_op = 0;
  std::uint64_t seq = 0;
  std::int64_t time = 0;
  std::optional<std::string_view> message;  // engaged iff not null (possibly empty)
  ByteView extra;
};

// What the rebuild keeps of every change row (8 bytes); the rest is read again, row by row, by
// a second ChangeCursor over the same columns.
struct ChangeKey {
  std::uint32_t actor = 0;
  std::uint32_t max_op = 0;
};

// The limits of a DocOp's packed fields: the objects a document's rows may name, and the
// length of one value.
static_assert(kMaxObjectsPerDocument == std::uint32_t{1} << 24 && kMaxValueBytes == std::uint64_t{1} << 28,
              "DocOp::obj is 24 bits, DocOp::value_len 28");

// An op row (32 bytes, as a document has one per op): strings and values as offsets into their
// columns, the object as an index into OpRows::objects, mark names (rare) in a side table.
struct DocOp {
  RawId id;
  RawId elem;  // sequence op: the key (counter 0: _head); map op: the key string as (offset,
               // length) into the key string column
  std::uint32_t value_offset = 0;  // into the raw value column
  std::uint32_t value_len : 28 = 0;
  std::uint32_t value_type : 4 = enc::kValueNull;
  // While the columns are read: the object's actor. While the preds are built: where the op's
  // successors begin in OpRows::succ (they end where the next stored op's begin). Afterwards:
  // the row of the change the op belongs to.
  std::uint32_t aux = 0;
  std::uint32_t obj : 24 = 0;  // OpRows::objects[obj] is its id; 0: the root
  Action action : 3 = Action::kSet;
  bool is_map : 1 = false;
  bool insert : 1 = false;
  bool expand : 1 = false;
  bool has_mark_name : 1 = false;  // OpRows::mark_names holds it
};
static_assert(sizeof(DocOp) == 32, "DocOp is meant to be 32 bytes");

using core::ScratchVector;

// A delete rebuilt from a successor id that is no stored op (deletes are not stored, §2.6):
// 12 bytes where a DocOp takes 32 (egwalker-S2 has 467,000). It looks like a delete of
// `target`, the first stored op it deletes: same object, same key.
struct DeleteRow {
  RawId id;
  std::uint32_t target = 0;  // a stored row
};
static_assert(sizeof(DeleteRow) == 12, "DeleteRow is meant to be 12 bytes");

// The op rows: one per stored op (a long text has millions), in big-block storage, then the
// rebuilt deletes. Row r < ops.size() is ops[r], a larger one deletes[r - ops.size()].
struct OpRows {
  ScratchVector<DocOp> ops;
  ScratchVector<DeleteRow> deletes;
  ScratchVector<RawId> succ;  // every stored row's successors, flattened
  std::vector<RawId> objects{RawId{}};  // the objects the rows name, once each; [0]: the root
  std::vector<std::pair<std::uint32_t, std::string_view>> mark_names;  // (row, name), by row
  ByteView keys;   // the key string column
  ByteView raw;    // the raw value column

  std::size_t num_rows() const { return ops.size() + deletes.size(); }
  RawId obj_id(const DocOp& op) const { return objects[op.obj]; }
  // The key of a delete of `x`: x's element when x is an insert, else x's own key (a map
  // op's: its key string).
  static RawId delete_key(const DocOp& x) { return !x.is_map && x.insert ? x.id : x.elem; }
  RawId id(std::uint32_t r) const { return r < ops.size() ? ops[r].id : deletes[r - ops.size()].id; }
  // Row r as a DocOp: the stored row itself, or a delete row made up from its target in
  // `scratch`, a default DocOp that only row() writes (the fields it leaves keep a delete's
  // defaults).
  const DocOp& row(std::uint32_t r, DocOp& scratch) const {
    if (r < ops.size()) [[likely]] return ops[r];
    const DeleteRow& d = deletes[r - ops.size()];
    const DocOp& x = ops[d.target];
    scratch.id = d.id;
    scratch.obj = x.obj;
    scratch.is_map = x.is_map;
    scratch.elem = delete_key(x);
    scratch.action = Action::kDelete;
    return scratch;
  }

  std::string_view key(const DocOp& op) const {
    return std::string_view(reinterpret_cast<const char*>(keys.data()) + op.elem.counter, op.elem.actor);
  }
  enc::RawValue value(const DocOp& op) const {
    enc::RawValue v;
    v.type_code = op.value_type;
    if (op.value_len != 0) v.bytes = raw.subspan(op.value_offset, op.value_len);
    return v;
  }
  // Whether `op` types one ASCII character right after `prev`, the op before it: an insert of a
  // one-byte string into the same sequence, keyed by prev's id, with no expand or mark name.
  // Most of a text's ops are such; the load takes runs of them at once. Callers add their own
  // conditions (preds, what prev was).
  bool types_after(const DocOp& prev, const DocOp& op) const {
    return !op.is_map && op.insert && op.action == Action::kSet && !op.expand && !op.has_mark_name &&
           op.value_type == enc::kValueString && op.value_len == 1 && raw[op.value_offset] < 0x80 &&
           op.obj == prev.obj && pack(op.elem) == pack(prev.id);
  }
  std::string_view mark_name(std::uint32_t row) const {
    const auto it = std::lower_bound(mark_names.begin(), mark_names.end(), row,
                                     [](const auto& e, std::uint32_t r) { return e.first < r; });
    return it != mark_names.end() && it->first == row ? it->second : std::string_view{};
  }
};

// The decoded bytes of a chunk's columns, and what is left of the decoding budget.
class ColumnSource {
 public:
  explicit ColumnSource(std::size_t budget) : budget_(budget) {}

  Status charge(std::size_t n) {
    if (n > budget_) [[unlikely]] return over_budget();
    budget_ -= n;
    return {};
  }

  // Returns the (inflated) data of `col`, valid as long as this object.
  Result<ByteView> data(const enc::StoredColumn& col, std::string_view group);

  std::size_t budget() const { return budget_; }
  // The error of a charge the budget cannot pay.
  static Status over_budget();

 private:
  std::size_t budget_;
  std::vector<core::ScratchBytes> buffers_;  // moving one keeps its data in place
};

struct ChangeColumns {
  ByteView actor, seq, max_op, time, message, dep_count, dep_index, extra_meta, extra_raw;
};

// The known columns of each group, inflated and charged to `src`; unknown ones are dropped, as
// the reference does.
Status classify_changes(const std::vector<enc::StoredColumn>& cols, ColumnSource& src, ChangeColumns& c);
Status classify_ops(const std::vector<enc::StoredColumn>& cols, ColumnSource& src, OpColumnData& c);

// Reads the change rows one at a time, validating each. The first pass (read_changes) charges
// the budget and checks the columns end together; the rebuild reads the rows again with a
// second cursor instead of keeping them.
class ChangeCursor {
 public:
  ChangeCursor(const ChangeColumns& c, std::size_t num_actors)
      : c_(c), num_actors_(num_actors), actor_(c.actor), seq_(c.seq), max_op_(c.max_op), time_(c.time),
        message_(c.message), dep_count_(c.dep_count), dep_index_(c.dep_index), extra_(c.extra_meta, c.extra_raw),
        has_time_(!c.time.empty()), has_message_(!c.message.empty()), has_dep_count_(!c.dep_count.empty()),
        has_extra_(!c.extra_meta.empty()) {}

  // Reads row `row` into `r` and its dep rows into `deps` (cleared first). False at the end.
  // With a `src`, charges it for the row and its deps.
  Result<bool> next(std::size_t row, ChangeRow& r, std::vector<std::uint32_t>& deps, ColumnSource* src);
  // After the last row: every column must be used up.
  Status check_done() const;

 private:
  const ChangeColumns& c_;
  std::size_t num_actors_;
  enc::UIntRleReader actor_;
  enc::DeltaReader seq_;
  enc::DeltaReader max_op_;
  enc::DeltaReader time_;
  enc::StringRleReader message_;
  enc::UIntRleReader dep_count_;
  enc::DeltaReader dep_index_;
  enc::ValueReader extra_;
  bool has_time_, has_message_, has_dep_count_, has_extra_;
  std::optional<std::uint64_t> u_;
  std::optional<std::int64_t> s_;
  std::optional<std::string_view> str_;
};

// Validates the change rows and keeps their actor and max_op.
Status read_changes(const ChangeColumns& c, std::size_t num_actors, ColumnSource& src, std::vector<ChangeKey>& keys);

// Decodes the op rows (stored ops only) and their successor lists, and checks the order of mark
// ops.
Status read_ops(const OpColumnData& c, std::size_t num_actors, ColumnSource& src, OpRows& out);

}  // namespace am::storage::doc
