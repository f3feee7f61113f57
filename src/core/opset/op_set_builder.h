// DocOrderBuilder: an op set built straight from a document chunk's ops, which are stored in
// document order (format spec §2.5: objects root first then by op id; map keys by bytes then op
// id; sequence elements in RGA order, each insert followed by the ops on its element).
//
// Applying a loaded document's changes one op at a time (OpSet::apply) integrates every insert
// with RGA, updates the sequence tree at a position and indexes ids out of order. In document
// order each object's ops arrive grouped and each sequence's elements arrive in their final
// order, so the builder appends: elements at the end of their sequence, ops at the end of their
// key, ids into the id index in one pass at the end. It checks that the order is one that RGA
// (and the rest of §3) produces; where it is not (a document no correct writer makes), add() or
// finish() returns false and the caller applies the changes instead, which gives the same state
// for every order RGA accepts and the usual errors for the rest.
//
// Internal to am_core; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/opset/op_set.h"

namespace am::core {

/// Builds an OpSet from stored ops in document order. Use: add() every stored op (deletes are
/// not stored: they are the successors that are not stored ops), then finish(). Owns the op set
/// until finish() hands it over. Not thread-safe.
class DocOrderBuilder {
 public:
  /// `actors` must hold every actor the ops name; the op set gets a copy.
  DocOrderBuilder(const ActorTable& actors, std::size_t num_ops);

  /// Adds the next stored op; `op.pred` is ignored, `succ` is the op's successors (Lamport
  /// order). False when the op breaks document order or an invariant that apply checks; the
  /// builder is then unusable.
  bool add(const OpView& op, std::span<const OpId> succ) { return add(op, succ, OpValue(*op.value)); }
  /// The same with the op's value given as `value` (`op.value` is not read).
  bool add(const OpView& op, std::span<const OpId> succ, OpValue value);
  /// The next op, when it inserts the one ASCII character `c` right after the element the
  /// previous op made (its key is that insert's id; the caller checks this in the stored rows),
  /// with the set action and no mark name or expand: what add() does for it, without looking
  /// up the object or the parent (typing makes most ops of a text such). False, as add(), when
  /// it breaks document order, and when the previous op made no element.
  bool add_typed_char(OpId id, char c, std::span<const OpId> succ);

  /// A hint: the object of the next op that is not in the current object has about `n`
  /// elements (its insert ops), so that its element array and path are sized once.
  void expect_elements(std::size_t n) { expected_elements_ = n; }

  /// A hint: the op set will hold about `n` objects (the root included), sized once rather than
  /// grown by copying every object made so far.
  void expect_objects(std::size_t n) { set_.objects_.reserve(n); }

  /// Indexes the ids, settles counters and widths. False on a duplicate id or a successor
  /// that is not what it should be; otherwise moves the op set into `out`.
  bool finish(OpSet& out);

 private:
  // The path from the list head to the latest element of the sequence being built (path_:
  // handles, kNone32 for the head). An element's parent must be on it, and siblings come in
  // descending id order, so each entry's latest child matters: for every entry but the last it
  // is the next entry, and for the last it is top_last_child_ (kNone32: none yet). Typing makes
  // the path as long as the text: 4 bytes an entry, ids read from the ops.
  OpId element_id(const Object& o, std::uint32_t handle) const {
    return set_.ops_[o.elems[handle].insert_op].id;
  }

  bool enter_object(std::uint32_t oi);
  bool place_in_map(Object& o, std::uint32_t idx, const OpView& op);
  bool place_in_sequence(Object& o, std::uint32_t idx, const OpView& op);
  void build_sequence(Object& o);

  // Packs the small per-object arrays of a document with many objects into huge-page slabs
  // (core/util/big_alloc.h); first, so that it outlives set_.
  BulkBlocks bulk_;
  std::size_t num_ops_ = 0;
  std::size_t sequences_entered_ = 0;
  OpSet set_;
  std::uint32_t current_object_ = kNone32;
  std::vector<std::uint8_t> object_done_;  // per object: its ops are all added
  ScratchVector<std::uint32_t> path_;  // freed in finish()
  std::uint32_t top_last_child_ = kNone32;
  // The map key of the previous op in this object (a key's ops are consecutive).
  KeyOps* last_key_ = nullptr;
  std::string_view last_key_name_;  // the key in the object's map node: stable
  std::uint32_t last_key_index_ = kNone32;
  std::vector<std::uint32_t> counters_;  // counter ops with successors (increments to sum)
  std::size_t expected_elements_ = 0;
  // The element the latest op made, if it was an insert (add_typed_char's parent).
  std::uint32_t last_insert_handle_ = kNone32;
  bool failed_ = false;
};

}  // namespace am::core
