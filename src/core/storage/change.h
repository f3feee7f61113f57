// Changes: the unit of history, and their chunk encoding (format spec §2.3).
//
// A Change holds its ops with actor references as indexes into the change's own actor table
// (index 0 = the author, then every other referenced actor sorted by bytes). A decoded change
// keeps the exact bytes it came from, so its hash never depends on re-encoding; encoding a
// Change built in memory produces the canonical bytes the reference produces.
#pragma once

#include <cstddef>
#include <cstdint>
#include <array>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "am/bytes.h"
#include "am/limits.h"
#include "am/result.h"
#include "am/types.h"
#include "am/value.h"
#include "core/encoding/rle.h"
#include "core/encoding/value_column.h"

namespace am::storage {

/// Op actions (spec §3.3). Values >= 8 are rejected when reading.
enum class Action : std::uint8_t {
  kMakeMap = 0,
  kSet = 1,
  kMakeList = 2,
  kDelete = 3,
  kMakeText = 4,
  kIncrement = 5,
  kMakeTable = 6,
  kMark = 7,
};

/// An op id inside a change: Lamport counter and index into Change::actors.
struct ChangeOpId {
  std::uint64_t counter = 0;
  std::uint32_t actor = 0;
  friend bool operator==(const ChangeOpId&, const ChangeOpId&) = default;
};

/// The key of an op: a map key, or a sequence element id. An element id with counter 0 is the
/// list head (`_head`); its actor is then meaningless and encoded as null.
struct ElemKey {
  ChangeOpId elem;
  bool is_head() const { return elem.counter == 0; }
  friend bool operator==(const ElemKey&, const ElemKey&) = default;
};
using OpKey = std::variant<std::string, ElemKey>;

/// One operation.
struct ChangeOp {
  std::optional<ChangeOpId> obj;  // nullopt = the root map
  OpKey key;
  bool insert = false;
  Action action = Action::kSet;
  ScalarValue value = Null{};         // the value of set/inc/mark ops; Null for the others
  std::vector<ChangeOpId> pred;       // sorted in Lamport order (counter, then actor bytes)
  bool expand = false;                // marks: see spec §3.8
  std::optional<std::string> mark_name;  // set on a mark begin op only
  friend bool operator==(const ChangeOp&, const ChangeOp&) = default;
};

/// A change. Value type; not thread-safe to mutate.
struct Change {
  std::vector<ChangeHash> deps;  // sorted ascending
  std::vector<Bytes> actors;     // [0] = author; [1..] = other referenced actors, sorted
  std::uint64_t seq = 0;
  std::uint64_t start_op = 0;
  std::int64_t time = 0;
  std::optional<std::string> message;  // an empty string on the wire reads as nullopt
  std::vector<ChangeOp> ops;           // ops[i] has counter start_op + i
  Bytes extra_bytes;                   // trailing bytes, preserved and hashed

  /// Counter of the last op (start_op - 1 for an empty change).
  std::uint64_t max_op() const { return start_op + ops.size() - 1; }
  friend bool operator==(const Change&, const Change&) = default;
};

/// A change together with its canonical bytes and hash.
struct StoredChange {
  Change change;
  Bytes chunk;       // the complete type-1 chunk (header + body)
  ChangeHash hash;   // SHA-256 over type || uLEB(len) || body
};

/// Limits applied while decoding untrusted changes.
struct ChangeDecodeLimits {
  std::uint64_t max_ops = std::uint64_t{1} << 24;  // rows per change, and pred entries per change
  std::size_t max_inflated_bytes = kDefaultMaxInflatedBytes;  // a compressed change's inflated body
};

/// Decodes the body of a type-1 change chunk. The result's `chunk` is rebuilt from `body`
/// (identical to the original chunk) and `hash` computed from it. Errors are kCorruption and
/// name the field or column. Rejects: deflated columns, unsorted columns, actions >= 8,
/// start_op 0 or past u32, actor/counter references out of range, invalid UTF-8, rows of
/// different lengths, and more than `limits.max_ops` rows (that one is kResourceLimit).
/// Unknown columns are ignored (they stay in `chunk`). Bytes after the columns are extra bytes.
[[nodiscard]] Result<StoredChange> decode_change_body(ByteView body,
                                                      const ChangeDecodeLimits& limits = {});

/// Decodes one chunk that must be a change (type 1) or compressed change (type 2).
[[nodiscard]] Result<StoredChange> decode_change_chunk(ByteView chunk,
                                                       const ChangeDecodeLimits& limits = {});

/// One op as the canonical encoder takes it, by reference: actors are change-local indexes.
struct ChangeOpRef {
  std::optional<ChangeOpId> obj;      // nullopt = the root map
  bool is_map = false;
  std::string_view map_key;           // map ops
  ChangeOpId elem;                    // sequence ops; counter 0 = _head
  bool insert = false;
  Action action = Action::kSet;
  const ScalarValue* value = nullptr;  // nullptr = null (unless raw_value is set)
  // Instead of `value`: a string or bytes value in its stored encoding, already checked, which
  // is its canonical encoding too (the loader copies text this way rather than decoding it).
  std::optional<enc::RawValue> raw_value;
  std::span<const ChangeOpId> pred;   // Lamport-sorted
  bool expand = false;
  std::optional<std::string_view> mark_name;
};

/// `op` as the encoder takes it; refers into `op`, which must outlive the result.
ChangeOpRef ref_of(const ChangeOp& op);

/// The header fields of a change, by reference.
struct ChangeHeaderRef {
  std::span<const ChangeHash> deps;     // sorted
  ByteView author;
  std::span<const ByteView> others;     // the other referenced actors, sorted by bytes
  std::uint64_t seq = 0;
  std::uint64_t start_op = 0;
  std::int64_t time = 0;
  std::string_view message;             // empty = none
  ByteView extra;
};

/// `change`'s header fields by reference, its actors after the author put in `others` (which the
/// result points into, as it does into `change`: both must outlive it).
ChangeHeaderRef header_ref_of(const Change& change, std::vector<ByteView>& others);

/// The canonical change encoder (spec §2.3), reusable: add() every op in counter order, then
/// finish(). Keeps its column writers and buffers across changes, so encoding allocates nothing
/// in the steady state. Not thread-safe.
class CanonicalChangeEncoder {
 public:
  void add(const ChangeOpRef& op);
  /// The same columns as one add() per byte of `chars` (REQUIRES: each an ASCII character):
  /// typed text, op i inserting chars[i] into `obj` (never the root) right after the element
  /// {first_key_counter + i, key_actor}, with the set action and no preds, expand or mark name.
  /// What the loader rebuilds for every run of ops typed one after another.
  void add_typing_run(ChangeOpId obj, std::uint32_t key_actor, std::uint64_t first_key_counter, ByteView chars);
  /// The same columns as one add() per element deleted: n deletes in `obj` (never the root) of
  /// the elements {first_counter + i * step, actor}, i < n, each with that element's insert as
  /// its one pred (a deleted selection, or backspaces with step -1). REQUIRES: the counters stay
  /// valid (1 .. 2^32-1).
  void add_delete_run(ChangeOpId obj, std::uint32_t actor, std::uint64_t first_counter, std::int64_t step,
                      std::uint64_t n);
  /// Writes the chunk of the ops added since the last finish(). Returns the whole chunk
  /// (header + body), valid until the next call on this encoder, and sets `hash`.
  ByteView finish(const ChangeHeaderRef& header, ChangeHash& hash);
  /// The same bytes as add(op) then finish(header, hash), for a change of exactly this one op
  /// (most changes), written straight into the columns without the RLE machinery.
  /// REQUIRES: nothing added since the last finish().
  ByteView finish_single(const ChangeOpRef& op, const ChangeHeaderRef& header, ChangeHash& hash);

 private:
  ByteView write_chunk(const ChangeHeaderRef& header, ChangeHash& hash);

  enc::UIntRleWriter obj_actor_;
  enc::UIntRleWriter obj_counter_;
  enc::UIntRleWriter key_actor_;
  enc::DeltaWriter key_counter_;
  enc::StringRleWriter key_string_;
  enc::BooleanWriter insert_;
  enc::UIntRleWriter action_;
  enc::ValueWriter values_;
  enc::UIntRleWriter pred_group_;
  enc::UIntRleWriter pred_actor_;
  enc::DeltaWriter pred_counter_;
  enc::BooleanWriter expand_;
  bool any_expand_ = false;
  enc::StringRleWriter mark_name_;
  std::array<Bytes, 14> cols_;
  Bytes chunk_;
};

/// Encodes a change in canonical form (spec §2.3): columns omitted per the table, canonical
/// RLE, deps as given (callers keep them sorted). REQUIRES: ops reference actors in range.
StoredChange encode_change(Change change);

/// This thread's encoder (the one encode_change() uses): for a caller that has its ops in
/// another form than ChangeOp (a commit's pending ops), to add them without building a Change.
CanonicalChangeEncoder& thread_change_encoder();

/// As encode_change() for a change already in canonical form (author first, then the other
/// referenced actors sorted; preds Lamport-sorted; no empty message), skipping the
/// canonicalisation: what the document loader rebuilds. REQUIRES canonical form.
StoredChange encode_canonical_change(Change change);

}  // namespace am::storage
