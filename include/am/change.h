// Reading history: a change decoded into the fields the JS reference's decodeChange and
// getHistory give (hash, actor, seq, start op, time, message, deps, and optionally its ops).
//
// Value types; thread safety as for std::vector. decode_change() never throws on bad bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "am/bytes.h"
#include "am/result.h"
#include "am/types.h"
#include "am/value.h"

namespace am {

/// One op of a change, shaped like an op of the JS decodeChange. Object and element ids are
/// written as the JS API writes them: "_root", "_head", "counter@actorhex".
struct ChangeOpInfo {
  /// The op's action, as decodeChange names it (see action_name()).
  enum class Action : std::uint8_t {
    kMakeMap, kSet, kMakeList, kDelete, kMakeText, kIncrement, kMakeTable, kMarkBegin, kMarkEnd,
  };
  Action action = Action::kSet;          ///< what the op does
  std::string obj;                       ///< the object it acts on
  std::optional<std::string> key;        ///< a map op's key
  std::optional<std::string> elem_id;    ///< a sequence op's element ("_head" at the start)
  bool insert = false;                   ///< whether it inserts a new element
  std::optional<ScalarValue> value;      ///< set, inc and markBegin ops
  std::optional<std::string> mark_name;  ///< markBegin ops
  bool expand = false;                   ///< mark ops: whether the mark grows at this edge
  std::vector<std::string> pred;         ///< the ops it overwrites or deletes
};

/// decodeChange's action names: "makeMap", "set", "makeList", "del", "makeText", "inc",
/// "makeTable", "markBegin", "markEnd".
const char* action_name(ChangeOpInfo::Action action);

/// A change's metadata and, when asked for, its ops (JS decodeChange; JS getHistory's
/// `change`). A plain value.
struct ChangeInfo {
  ChangeHash hash;                      ///< the change's hash
  std::string actor;                    ///< its author's actor id, hex
  std::uint64_t seq = 0;                ///< its number among its actor's changes, from 1
  std::uint64_t start_op = 0;           ///< the counter of its first op
  std::uint64_t op_count = 0;           ///< how many ops it has (also without `ops`)
  std::int64_t time = 0;                ///< seconds since the epoch, as committed (0: unset)
  std::optional<std::string> message;   ///< its message, if any
  std::vector<ChangeHash> deps;         ///< the changes it depends on, sorted
  Bytes extra_bytes;                    ///< bytes after its columns (usually none)
  std::optional<Bytes> author;          ///< the author footer in the extra bytes, if present
  std::vector<ChangeOpInfo> ops;        ///< its ops (empty unless decoded with ops)
};

/// Decodes one change chunk (type 1 or 2, as Document::get_changes gives them). Malformed bytes
/// are kCorruption; a compressed change over the default inflate budget is kResourceLimit.
[[nodiscard]] Result<ChangeInfo> decode_change(ByteView chunk, bool with_ops = true);

}  // namespace am
