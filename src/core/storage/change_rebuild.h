// Rebuilding a document's changes (format spec §2.6) from its op rows, their preds and the ops
// of each change, which document_load.cc derives from the rows.
//
// Internal to the document loader (document_load.cc); not thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "am/bytes.h"
#include "am/result.h"
#include "core/storage/document_chunk.h"
#include "core/storage/document_rows.h"
#include "core/util/big_alloc.h"

namespace am::storage::doc {

// The document's actors and their rank in byte order (Lamport ties), whatever order they are
// stored in.
struct Actors {
  std::vector<ByteView> bytes;
  std::vector<std::uint32_t> rank;
};

// Every op's preds, Lamport-sorted: the stored rows rows[begin[i]] .. rows[begin[i + 1]] for op
// row i (a pred is always a stored op: only they have successors). A row index is half an id.
struct Preds {
  core::ScratchVector<std::uint32_t> begin;
  core::ScratchVector<std::uint32_t> rows;
};

// Where each change's ops are: change row r has the op rows slots[begin[r]] .. slots[begin[r + 1]]
// in counter order, from start_op[r].
struct ChangeSlots {
  core::ScratchVector<std::uint32_t> start_op;
  core::ScratchVector<std::uint32_t> begin;
  core::ScratchVector<std::uint32_t> slots;
};

// Rebuilds, encodes and hashes every change, in row order, hands each to the options' sinks (or
// decodes it into out.changes), and checks the heads when the options say so. Its buffers are
// freed when it returns.
Status rebuild_changes(const Actors& actors, const OpRows& op_rows, const Preds& preds, const ChangeSlots& slots,
                       const ChangeColumns& cc, const DocumentDecodeOptions& options, DecodedDocument& out);

}  // namespace am::storage::doc
