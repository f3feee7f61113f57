#include "core/storage/op_columns.h"

#include <string>

namespace am::storage {

ByteView* op_column_slot(OpColumnData& c, std::uint32_t spec, OpChunkKind kind) {
  if (spec == kOpObjActor.raw()) return &c.obj_actor;
  if (spec == kOpObjCounter.raw()) return &c.obj_counter;
  if (spec == kOpKeyActor.raw()) return &c.key_actor;
  if (spec == kOpKeyCounter.raw()) return &c.key_counter;
  if (spec == kOpKeyString.raw()) return &c.key_string;
  if (spec == kOpInsert.raw()) return &c.insert;
  if (spec == kOpAction.raw()) return &c.action;
  if (spec == kOpValueMeta.raw()) return &c.value_meta;
  if (spec == kOpValueRaw.raw()) return &c.value_raw;
  if (spec == kOpExpand.raw()) return &c.expand;
  if (spec == kOpMarkName.raw()) return &c.mark_name;
  if (kind == OpChunkKind::kChange) {
    if (spec == kOpPredGroup.raw()) return &c.ref_count;
    if (spec == kOpPredActor.raw()) return &c.ref_actor;
    if (spec == kOpPredCounter.raw()) return &c.ref_counter;
  } else {
    if (spec == kOpIdActor.raw()) return &c.id_actor;
    if (spec == kOpIdCounter.raw()) return &c.id_counter;
    if (spec == kOpSuccCount.raw()) return &c.ref_count;
    if (spec == kOpSuccActor.raw()) return &c.ref_actor;
    if (spec == kOpSuccCounter.raw()) return &c.ref_counter;
  }
  return nullptr;
}

Status OpColumnReader::check_done(std::uint64_t refs_left) const {
  const OpColumnNames& n = layout_.names;
  const enc::RowErrors& e = layout_.errors;
  AM_TRY_STATUS(enc::check_done(obj_actor_, has_obj_actor_, n.obj_actor, e));
  AM_TRY_STATUS(enc::check_done(obj_counter_, has_obj_counter_, n.obj_counter, e));
  AM_TRY_STATUS(enc::check_done(key_actor_, has_key_actor_, n.key_actor, e));
  AM_TRY_STATUS(enc::check_done(key_counter_, has_key_counter_, n.key_counter, e));
  AM_TRY_STATUS(enc::check_done(key_string_, has_key_string_, n.key_string, e));
  AM_TRY_STATUS(enc::check_done(insert_, !c_.insert.empty(), n.insert, e));
  AM_TRY_STATUS(enc::check_done(values_, !c_.value_meta.empty(), n.value_items, e));
  if (values_.raw_remaining() != 0) {
    // (Without a metadata column every raw byte is unclaimed.)
    return fail(Error::corruption(n.value, "bytes not claimed by any value metadata"));
  }
  AM_TRY_STATUS(enc::check_done(ref_count_, !c_.ref_count.empty(), n.ref_count, e));
  if (refs_left != 0) return fail(Error::corruption(n.ref_actor, "more pred ids than the pred counts claim"));
  AM_TRY_STATUS(enc::check_done(ref_counter_, !c_.ref_counter.empty(), n.ref_counter, e));
  AM_TRY_STATUS(enc::check_done(expand_, has_expand_, n.expand, e));
  AM_TRY_STATUS(enc::check_done(mark_name_, has_mark_name_, n.mark_name, e));
  return {};
}

}  // namespace am::storage
