// Document's rich-text calls: blocks (split/join/update/read) and spans (am/rich_text.h).
//
// A block is written as the reference's hydrate updater writes a new map: the makeMap element,
// then each key in sorted order, nested values depth first. A Hydrated kText becomes a text
// object filled by splice_text (one op per code point, as the reference), a string scalar one
// `set`. The bytes must match the reference's, so the order here is not a matter of taste.
#include "am/document.h"
#include "core/document_impl.h"
#include "core/history_view.h"
#include "core/text/rich_text_read.h"

namespace am {

namespace {

// The text object `obj`, or kInvalidArgument.
Result<const Object*> text_object(const Document::Impl& d, const ObjId& obj) {
  AM_TRY_ASSIGN(const Object* o, d.object_for(obj));
  if (o->type != ObjType::kText) return fail(Error::invalid_argument("object " + obj.to_string(), "is not text"));
  return o;
}

ObjType object_kind(Hydrated::Kind k) {
  switch (k) {
    case Hydrated::Kind::kText: return ObjType::kText;
    case Hydrated::Kind::kList: return ObjType::kList;
    default: return ObjType::kMap;
  }
}

Status fill(Document& doc, const ObjId& obj, const Hydrated& value);

// Writes `value` at `prop` of `parent` (a map key, or a list index when `insert`).
Status write_value(Document& doc, const ObjId& parent, const Prop& prop, bool insert, const Hydrated& value) {
  if (value.kind == Hydrated::Kind::kScalar) {
    if (insert) return doc.insert(parent, std::get<std::size_t>(prop), value.scalar);
    return doc.put(parent, prop, value.scalar);
  }
  const ObjType type = object_kind(value.kind);
  Result<ObjId> made = insert ? doc.insert_object(parent, std::get<std::size_t>(prop), type)
                              : doc.put_object(parent, prop, type);
  if (!made) return fail(made.error());
  return fill(doc, *made, value);
}

// Writes the contents of a new, empty object `obj` of value's kind.
Status fill(Document& doc, const ObjId& obj, const Hydrated& value) {
  switch (value.kind) {
    case Hydrated::Kind::kText:
      return doc.splice_text(obj, 0, 0, value.text);
    case Hydrated::Kind::kList:
      for (std::size_t i = 0; i < value.list.size(); ++i) {
        AM_TRY_STATUS(write_value(doc, obj, Prop(i), /*insert=*/true, value.list[i]));
      }
      return {};
    case Hydrated::Kind::kMap:
      for (const auto& [key, v] : value.map) AM_TRY_STATUS(write_value(doc, obj, Prop(key), false, v));
      return {};
    case Hydrated::Kind::kScalar:
      break;
  }
  return {};
}

Error out_of_bounds(std::string_view what, std::size_t index) {
  return Error::invalid_argument(what, "index " + std::to_string(index) + " is out of bounds");
}

}  // namespace

Result<ObjId> Document::split_block(const ObjId& text, std::size_t index, const Block& block) {
  AM_TRY_ASSIGN(const Object* o, text_object(*impl_, text));
  if (index > impl_->length_of(*o)) return fail(out_of_bounds("split_block", index));
  impl_->for_local_write();  // `o` is not read again: a refused call copies nothing
  AM_TRY_ASSIGN(const ObjId id, insert_object(text, index, ObjType::kMap));
  AM_TRY_STATUS(fill(*this, id, Hydrated::map_of(block)));
  return id;
}

Status Document::join_block(const ObjId& text, std::size_t index) {
  AM_TRY_ASSIGN(const Object* o, text_object(*impl_, text));
  if (index >= impl_->length_of(*o)) return fail(out_of_bounds("join_block", index));
  impl_->for_local_write();  // `o` is not read again: a refused call copies nothing
  return remove(text, index);
}

Result<ObjId> Document::update_block(const ObjId& text, std::size_t index, const Block& block) {
  AM_TRY_ASSIGN(const Object* o, text_object(*impl_, text));
  if (index >= impl_->length_of(*o)) return fail(out_of_bounds("update_block", index));
  impl_->for_local_write();  // `o` is not read again: a refused call copies nothing
  AM_TRY_STATUS(join_block(text, index));
  return split_block(text, index, block);
}

Result<std::optional<Block>> Document::block(const ObjId& text, std::size_t index) const {
  AM_TRY_ASSIGN(const Object* o, text_object(*impl_, text));
  const std::uint32_t h = impl_->element_at(*o, index);
  if (h == SequenceIndex::kNone) return std::optional<Block>();
  const core::StateView now(*impl_, core::Clock{});
  const Element& e = o->elems[h];
  const Op& op = impl_->opset().op(now.winner(o->ops_of(h), e.insert_op));
  if (op.action != Action::kMakeMap) return std::optional<Block>();
  return std::optional<Block>(core::hydrate(now, impl_->opset().object(*impl_->opset().object_index(op.id))).map);
}

Result<std::vector<Span>> Document::spans(const ObjId& text) const {
  AM_TRY_ASSIGN(const Object* o, text_object(*impl_, text));
  return core::spans_of(core::StateView(*impl_, core::Clock{}), *o);
}

Result<std::vector<Span>> Document::spans_at(const ObjId& text, const std::vector<ChangeHash>& heads) const {
  AM_TRY_ASSIGN(core::Clock clock, core::clock_at(*impl_, heads));
  const core::StateView then(*impl_, std::move(clock));
  AM_TRY_ASSIGN(const Object* o, then.object(text));
  if (o->type != ObjType::kText) return fail(Error::invalid_argument("object " + text.to_string(), "is not text"));
  return core::spans_of(then, *o);
}

}  // namespace am
