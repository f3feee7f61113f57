// The op columns (format spec §2.3 for change chunks, §2.5 for document chunks): their specs,
// and the row-wise reader of a change chunk's ops.
//
// A change and a document store their ops in the same columns, except that a document also
// stores every op's id (column 2) and, where a change lists each op's predecessors (column 7),
// lists its successors (column 8). A change's ops are read row by row (OpColumnReader; what
// makes a row valid stays with the decoder, change.cc); a document's, which can be millions,
// column by column and run by run (document_rows.cc).
//
// Internal to am_core; not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "am/bytes.h"
#include "am/result.h"
#include "core/encoding/column_rows.h"
#include "core/encoding/column_spec.h"
#include "core/encoding/rle.h"
#include "core/encoding/value_column.h"

namespace am::storage {

// Op columns common to changes and documents.
inline constexpr enc::ColumnSpec kOpObjActor{0, enc::ColumnType::kActor};
inline constexpr enc::ColumnSpec kOpObjCounter{0, enc::ColumnType::kInteger};
inline constexpr enc::ColumnSpec kOpKeyActor{1, enc::ColumnType::kActor};
inline constexpr enc::ColumnSpec kOpKeyCounter{1, enc::ColumnType::kDeltaInteger};
inline constexpr enc::ColumnSpec kOpKeyString{1, enc::ColumnType::kString};
inline constexpr enc::ColumnSpec kOpInsert{3, enc::ColumnType::kBoolean};
inline constexpr enc::ColumnSpec kOpAction{4, enc::ColumnType::kInteger};
inline constexpr enc::ColumnSpec kOpValueMeta{5, enc::ColumnType::kValueMetadata};
inline constexpr enc::ColumnSpec kOpValueRaw{5, enc::ColumnType::kValue};
inline constexpr enc::ColumnSpec kOpExpand{9, enc::ColumnType::kBoolean};
inline constexpr enc::ColumnSpec kOpMarkName{10, enc::ColumnType::kString};
// Change chunks only: the predecessors.
inline constexpr enc::ColumnSpec kOpPredGroup{7, enc::ColumnType::kGroup};
inline constexpr enc::ColumnSpec kOpPredActor{7, enc::ColumnType::kActor};
inline constexpr enc::ColumnSpec kOpPredCounter{7, enc::ColumnType::kDeltaInteger};
// Document chunks only: the op ids and the successors.
inline constexpr enc::ColumnSpec kOpIdActor{2, enc::ColumnType::kActor};
inline constexpr enc::ColumnSpec kOpIdCounter{2, enc::ColumnType::kDeltaInteger};
inline constexpr enc::ColumnSpec kOpSuccCount{8, enc::ColumnType::kGroup};
inline constexpr enc::ColumnSpec kOpSuccActor{8, enc::ColumnType::kActor};
inline constexpr enc::ColumnSpec kOpSuccCounter{8, enc::ColumnType::kDeltaInteger};

/// Where the op columns come from.
enum class OpChunkKind : std::uint8_t { kChange, kDocument };

/// The known op columns of one chunk; an absent column is an empty view (a column listed with
/// zero bytes means the same: the canonical form omits empty columns). `refs` are the pred
/// columns of a change, the successor columns of a document; `id` is empty in a change.
struct OpColumnData {
  ByteView obj_actor, obj_counter, key_actor, key_counter, key_string, id_actor, id_counter,
      insert, action, value_meta, value_raw, ref_count, ref_actor, ref_counter, expand, mark_name;
};

/// The slot of `data` that the column with normalized spec `spec` fills in a chunk of `kind`,
/// or nullptr for a column that kind does not know (decoders ignore those, as the reference).
ByteView* op_column_slot(OpColumnData& data, std::uint32_t spec, OpChunkKind kind);

/// How a decoder names the op columns in its errors.
struct OpColumnNames {
  std::string_view obj_actor, obj_counter, key_actor, key_counter, key_string,
      insert, action, value, value_items, ref_count, ref_actor, ref_counter, expand, mark_name;
};

/// How the change decoder names the columns and reports their errors.
struct OpColumnLayout {
  OpColumnNames names;
  enc::RowErrors errors;
};

/// Reads a change chunk's op rows one column group at a time, in row order. An absent column
/// reads as nulls (false for flags), except the ones every row needs: the action, insert, value
/// and pred count columns; the pred ids must supply as many items as the counts claim. Every
/// read returns an error naming the column when the column ends early or is malformed. Views
/// refer into the column bytes. REQUIRES: the column bytes and `layout` outlive the reader.
class OpColumnReader {
 public:
  OpColumnReader(const OpColumnData& c, const OpColumnLayout& layout)
      : c_(c), layout_(layout), obj_actor_(c.obj_actor), obj_counter_(c.obj_counter),
        key_actor_(c.key_actor), key_counter_(c.key_counter), key_string_(c.key_string),
        insert_(c.insert), action_(c.action),
        values_(c.value_meta, c.value_raw), ref_count_(c.ref_count), ref_actor_(c.ref_actor),
        ref_counter_(c.ref_counter), expand_(c.expand), mark_name_(c.mark_name),
        has_obj_actor_(!c.obj_actor.empty()), has_obj_counter_(!c.obj_counter.empty()),
        has_key_actor_(!c.key_actor.empty()), has_key_counter_(!c.key_counter.empty()),
        has_key_string_(!c.key_string.empty()),
        has_expand_(!c.expand.empty()), has_mark_name_(!c.mark_name.empty()) {}
  OpColumnReader(const OpColumnReader&) = delete;
  OpColumnReader& operator=(const OpColumnReader&) = delete;

  /// The action of row `row` (the rows are counted beforehand).
  Status action(std::uint64_t row, std::optional<std::uint64_t>& out) {
    return enc::next_item(action_, true, out, layout_.names.action, row, layout_.errors);
  }

  Status obj(std::uint64_t row, std::optional<std::uint64_t>& actor, std::optional<std::uint64_t>& counter) {
    AM_TRY_STATUS(enc::next_item(obj_actor_, has_obj_actor_, actor, layout_.names.obj_actor, row, layout_.errors));
    return enc::next_item(obj_counter_, has_obj_counter_, counter, layout_.names.obj_counter, row, layout_.errors);
  }
  Status key(std::uint64_t row, std::optional<std::uint64_t>& actor, std::optional<std::int64_t>& counter,
             std::optional<std::string_view>& str) {
    AM_TRY_STATUS(enc::next_item(key_actor_, has_key_actor_, actor, layout_.names.key_actor, row, layout_.errors));
    AM_TRY_STATUS(
        enc::next_item(key_counter_, has_key_counter_, counter, layout_.names.key_counter, row, layout_.errors));
    return enc::next_item(key_string_, has_key_string_, str, layout_.names.key_string, row, layout_.errors);
  }
  Status insert(std::uint64_t row, bool& out) {
    return enc::next_bool(insert_, true, out, layout_.names.insert, row, layout_.errors);
  }
  /// The raw value.
  Status value(std::uint64_t row, enc::RawValue& out) {
    if (values_.next(out)) [[likely]] return {};
    if (!values_.ok()) return layout_.errors.reader_error(values_.status(layout_.names.value));
    return fail(layout_.errors.ends_early(layout_.names.value_items, row));
  }
  /// The number of preds of the row.
  Status ref_count(std::uint64_t row, std::optional<std::uint64_t>& out) {
    return enc::next_item(ref_count_, true, out, layout_.names.ref_count, row, layout_.errors);
  }
  Status ref_actor(std::uint64_t row, std::optional<std::uint64_t>& out) {
    return enc::next_item(ref_actor_, true, out, layout_.names.ref_actor, row, layout_.errors);
  }
  Status ref_counter(std::uint64_t row, std::optional<std::int64_t>& out) {
    return enc::next_item(ref_counter_, true, out, layout_.names.ref_counter, row, layout_.errors);
  }
  Status expand(std::uint64_t row, bool& out) {
    return enc::next_bool(expand_, has_expand_, out, layout_.names.expand, row, layout_.errors);
  }
  Status mark_name(std::uint64_t row, std::optional<std::string_view>& out) {
    return enc::next_item(mark_name_, has_mark_name_, out, layout_.names.mark_name, row, layout_.errors);
  }

  /// After the last row: every present column must be used up and every raw value byte
  /// claimed. The decoder counts the pred ids before reading (a bound on what rows may claim)
  /// and passes how many no row claimed as `refs_left`.
  Status check_done(std::uint64_t refs_left = 0) const;

 private:
  const OpColumnData& c_;
  const OpColumnLayout& layout_;
  enc::UIntRleReader obj_actor_;
  enc::UIntRleReader obj_counter_;
  enc::UIntRleReader key_actor_;
  enc::DeltaReader key_counter_;
  enc::StringRleReader key_string_;
  enc::BooleanReader insert_;
  enc::UIntRleReader action_;
  enc::ValueReader values_;
  enc::UIntRleReader ref_count_;
  enc::UIntRleReader ref_actor_;
  enc::DeltaReader ref_counter_;
  enc::BooleanReader expand_;
  enc::StringRleReader mark_name_;
  bool has_obj_actor_, has_obj_counter_, has_key_actor_, has_key_counter_, has_key_string_;
  bool has_expand_, has_mark_name_;
};

}  // namespace am::storage
