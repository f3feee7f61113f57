// Document chunks (format spec §2.4-§2.6): a whole document as one chunk, and back.
//
// Writing: the change metadata of every change (in application order) plus every op of the op
// set except deletes, in the canonical row order of §2.5 (objects root first then by op id; map
// keys by UTF-8 bytes then op id; sequence elements in RGA order, each insert followed by the ops
// that overwrite or increment it).
//
// Reading: a document stores neither preds, start ops, change actor tables nor delete ops, so
// the changes are rebuilt (§2.6): preds from successors, a delete op for every successor that is
// not a stored op, ops assigned to changes by actor and max_op, then every change encoded in
// canonical form and hashed. The rebuilt hashes must reproduce the stored heads.
//
// Internal to am_core; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "am/bytes.h"
#include "am/result.h"
#include "am/types.h"
#include "core/history.h"
#include "core/opset/op_set.h"
#include "core/encoding/value_column.h"
#include "core/storage/change.h"
#include "core/util/big_alloc.h"
#include "core/util/deflate.h"

namespace am::storage {

/// The state a document chunk is written from: views of a Document::Impl. All references must
/// stay valid during encode_document_chunk.
struct DocumentSource {
  const core::ActorTable& actors;
  const core::OpSet& opset;
  const core::History& history;                                     // application order
  const std::vector<std::vector<std::uint32_t>>& changes_by_actor;  // per actor: change indexes
  /// The last committed op counter. Ops with larger counters (an open transaction) and
  /// successors with larger counters are left out.
  std::uint32_t max_op = 0;
};

/// Encodes the document chunk (header included) in canonical form. With `compress`, every
/// column of at least 256 bytes is raw-DEFLATEd (spec §1.8); without it the output is what the
/// reference's saveNoCompress() writes. Cost: O(ops + changes), plus O(log n) per sequence step.
Bytes encode_document_chunk(const DocumentSource& doc, bool compress);

/// An op id in a document chunk: counter and index into the chunk's actor table.
struct DocOpId {
  std::uint32_t counter = 0;
  std::uint32_t actor = 0;
};

/// One op of a rebuilt change, by reference into the decoder's buffers.
struct RebuiltOp {
  DocOpId id;
  DocOpId obj;                     // counter 0: the root
  bool is_map = false;
  std::string_view map_key;        // map ops
  DocOpId elem;                    // sequence ops; counter 0: _head
  bool insert = false;
  Action action = Action::kSet;
  const ScalarValue* value = nullptr;  // decoded value (Null for deletes)
  std::span<const DocOpId> pred;   // Lamport-sorted
  bool expand = false;
  std::optional<std::string_view> mark_name;
};

/// A change rebuilt from a document chunk (§2.6), canonically encoded and hashed. Every view is
/// valid only during the callback it is passed to. change_begin sees the fields up to op_count;
/// sink sees them all.
struct RebuiltChange {
  std::uint32_t row = 0;
  std::span<const ByteView> actors;  // the document's actor table
  std::uint32_t author = 0;          // index into actors
  /// The other actors the change's ops refer to, in byte order (its actor table after the author).
  std::span<const std::uint32_t> others;
  std::uint64_t seq = 0;
  std::uint64_t start_op = 0;
  std::uint32_t op_count = 0;
  std::int64_t time = 0;
  /// Engaged iff the document stores a message (an empty one is a local commit with "").
  std::optional<std::string_view> message;
  ByteView extra;
  /// Rows of the deps (earlier rows of the same chunk), in the change's dep order (by hash).
  std::span<const std::uint32_t> dep_rows;
  std::span<const ChangeHash> deps;  // their hashes, sorted
  ByteView chunk;                    // the canonical change chunk
  ChangeHash hash;
};

/// A stored op of a document chunk (every op but deletes), by reference into the decoder's
/// buffers.
struct StoredOp {
  DocOpId id;
  DocOpId obj;                     // counter 0: the root
  bool is_map = false;
  std::string_view map_key;        // map ops
  DocOpId elem;                    // sequence ops; counter 0: _head
  bool insert = false;
  Action action = Action::kSet;
  enc::RawValue value;             // as stored; the rebuild has validated it
  std::span<const DocOpId> succ;   // as stored
  bool expand = false;
  std::optional<std::string_view> mark_name;
};

namespace doc {
struct OpRows;
}

/// The stored ops of a document chunk in document order (§2.5). Valid only during the callback
/// it is passed to.
class StoredOps {
 public:
  StoredOps(doc::OpRows& rows, std::size_t count, core::ScratchVector<std::uint32_t>& succ_begin)
      : rows_(rows), count_(count), succ_begin_(succ_begin) {}
  std::size_t size() const { return count_; }
  /// REQUIRES: i < size().
  StoredOp operator[](std::size_t i) const;
  /// Op i's object, whether it is an insert, and its action, without the rest.
  /// REQUIRES: i < size().
  struct Outline {
    DocOpId obj;
    bool insert = false;
    Action action = Action::kSet;
  };
  Outline outline(std::size_t i) const;
  /// Whether op i inserts one ASCII character right after the element op i - 1 made, in the
  /// same object, with no mark name or expand (typing: most ops of a text); if so, its id,
  /// character and successors. The loader takes such ops without a StoredOp.
  /// REQUIRES: 0 < i < size().
  bool typed_char(std::size_t i, DocOpId& id, char& c, std::span<const DocOpId>& succ) const;
  /// The caller is done with ops [0, i): their memory goes back to the system (whole huge
  /// blocks), so that the loaded state need not exist beside every decoded row; i == size():
  /// every op, the partly used last blocks included. Reading them afterwards is undefined.
  /// REQUIRES: i <= size().
  void release_before(std::size_t i);

 private:
  doc::OpRows& rows_;
  std::size_t count_;
  core::ScratchVector<std::uint32_t>& succ_begin_;  // op i: rows_.succ[succ_begin_[i], succ_begin_[i + 1])
};

struct DocumentDecodeOptions {
  /// Fail (kCorruption) when the heads of the rebuilt changes differ from the stored heads.
  bool verify_heads = true;
  /// Budget for what the chunk may expand to: the bytes of every column (after inflating)
  /// plus 32 bytes per change row, 16 per op row and 16 per successor entry. Exceeding it is
  /// kResourceLimit, so a few bytes cannot claim gigabytes.
  std::size_t max_decoded_bytes = util::kDefaultInflateLimit;
  /// Streaming, per change in row order: change_begin(change), then op_sink with its ops in
  /// counter order, a bounded batch at a time (so that a change of a million ops never exists
  /// as a million decoded ops), then sink(change) once it is encoded and hashed. Each is
  /// optional; an error from any stops the decoding.
  std::function<Status(const RebuiltChange&)> change_begin;
  std::function<Status(std::span<const RebuiltOp>)> op_sink;
  /// When set, each rebuilt change is handed to `sink` as soon as it is built (in row order)
  /// instead of being collected in DecodedDocument::changes, so that a big document never
  /// holds all its decoded changes at once. An error from the sink stops the decoding. Heads
  /// are verified after the last change: a caller that streams must discard what it applied
  /// if decoding then fails.
  std::function<Status(const RebuiltChange&)> sink;
  /// With a sink that keeps every change's hash: the hash of an earlier row (which the sink was
  /// handed), so that the decoder does not keep its own copy of every hash.
  std::function<const ChangeHash&(std::size_t row)> hash_of_row;
  /// Called once before the first change with the number of change rows and of stored (not
  /// delete) op rows, so that a streaming caller can size its containers.
  std::function<void(std::size_t changes, std::size_t stored_ops)> on_sizes;
  /// Called once, after the last change was rebuilt and the heads verified, with the stored ops
  /// in document order, for a caller that builds its state from that order instead of from
  /// op_sink. The decoder keeps every op's successors for it (8 bytes each), frees the preds
  /// and change slots first, and hands back the rows of the rebuilt deletes.
  std::function<Status(StoredOps&)> stored_ops;
};

struct DecodedDocument {
  std::vector<ChangeHash> heads;      // as stored in the chunk
  std::vector<StoredChange> changes;  // rebuilt, in row (application) order
};

/// Parses the body of a document chunk (type 0) and rebuilds its changes. Malformed input is
/// kCorruption naming the part at fault; never reads out of bounds. Ops and changes are only
/// checked for what the rebuild needs (ids, references, contiguous op counters); applying the
/// changes checks the rest.
[[nodiscard]] Result<DecodedDocument> decode_document_body(ByteView body,
                                                           const DocumentDecodeOptions& options = {});

}  // namespace am::storage
