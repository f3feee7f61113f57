// am::Document: transactions, history and the public API over the op set (core/opset/op_set.h).
//
// A failed remote change or a rollback rebuilds the op set from the change history, which keeps
// the apply path simple and free of undo logic.
#include "am/document.h"

#include <algorithm>
#include <charconv>
#include <random>
#include <set>

#include "core/document_impl.h"
#include "core/history_view.h"
#include "core/encoding/byte_reader.h"
#include "core/storage/chunk.h"
#include "core/storage/document_chunk.h"

namespace am {

// ---- public API ---------------------------------------------------------------------------------

ActorId ActorId::random() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  ActorId a;
  a.bytes.resize(16);
  for (std::size_t i = 0; i < 16; i += 8) {
    const std::uint64_t v = rng();
    for (std::size_t j = 0; j < 8; ++j) a.bytes[i + j] = static_cast<std::uint8_t>(v >> (8 * j));
  }
  return a;
}

std::optional<ActorId> ActorId::from_hex(std::string_view hex) {
  ActorId a;
  if (hex.empty() || !am::from_hex(hex, a.bytes)) return std::nullopt;
  return a;
}

std::string ObjId::to_string() const {
  if (is_root()) return "_root";
  return std::to_string(counter_) + "@" + actor_.to_hex();
}

std::optional<ObjId> ObjId::parse(std::string_view text) {
  if (text == "_root") return root();
  const auto at = text.find('@');
  if (at == std::string_view::npos || at == 0) return std::nullopt;
  std::uint64_t counter = 0;
  auto r = std::from_chars(text.data(), text.data() + at, counter);
  if (r.ec != std::errc() || r.ptr != text.data() + at || counter == 0) return std::nullopt;
  auto actor = ActorId::from_hex(text.substr(at + 1));
  if (!actor) return std::nullopt;
  return ObjId(counter, std::move(*actor));
}

Document::Document(DocumentOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Document::~Document() = default;
Document::Document(Document&&) noexcept = default;
Document& Document::operator=(Document&&) noexcept = default;

const ActorId& Document::actor() const { return impl_->actor; }
void Document::set_actor(ActorId actor) {
  if (impl_->tx_open) impl_->commit({});
  impl_->actor = std::move(actor);
}

void Document::set_commit_clock(CommitClock clock) { impl_->options.commit_clock = std::move(clock); }


// ---- local edits, each also logged for diff_incremental() (core/local_patch_log.h) -----------

namespace {

using core::LocalEvent;

// The object index behind `obj` (which an edit just resolved, so it exists).
std::uint32_t object_index(const Document::Impl& d, const ObjId& obj) { return *d.resolve_obj(obj); }

// The marks text inserted at `index` of `o` carries (as the reference's splice patch gives them).
std::map<std::string, ScalarValue> inserted_marks(const Document::Impl& d, const Object& o, std::size_t index) {
  std::map<std::string, ScalarValue> out;
  if (!o.has_marks) return out;  // without mark ops there is nothing to find
  for (const Mark& m : core::StateView(d, core::Clock{}).marks(o)) {
    if (m.start <= index && index < m.end) out[m.name] = m.value;
  }
  return out;
}

// Logs `value` written at `prop` of `obj` (a put, or an insert when `inserted`). In a text it is
// a splice (a string) or an inserted object (a block); a put there first deletes the element it
// replaces, `replaced_width` units wide.
void log_write(Document::Impl& d, const ObjId& obj, const Prop& prop, Value value, bool inserted,
               std::size_t replaced_width = 0) {
  if (!d.local_log.recording()) return;
  const std::uint32_t oi = object_index(d, obj);
  const Object& o = d.opset().object(oi);
  LocalEvent e;
  e.object = oi;
  if (!is_sequence(o.type)) {
    e.kind = LocalEvent::Kind::kPut;
    e.prop = prop;
    e.value = std::move(value);
    d.local_log.add(std::move(e));
    return;
  }
  e.index = std::get<std::size_t>(prop);
  if (o.type == ObjType::kText && !inserted) {
    LocalEvent gone = e;
    gone.kind = LocalEvent::Kind::kDeleteSeq;
    gone.length = replaced_width;
    d.local_log.add(std::move(gone));
  }
  const auto* scalar = std::get_if<ScalarValue>(&value);
  const auto* str = scalar ? std::get_if<std::string>(scalar) : nullptr;
  if (o.type == ObjType::kText && str) {
    e.kind = LocalEvent::Kind::kSplice;
    e.text = *str;
    e.marks = inserted_marks(d, o, e.index);
  } else if (o.type == ObjType::kText || inserted) {
    e.kind = LocalEvent::Kind::kInsert;
    e.value = std::move(value);
  } else {
    e.kind = LocalEvent::Kind::kPut;
    e.prop = prop;
    e.value = std::move(value);
  }
  d.local_log.add(std::move(e));
}

// The width (in the object's unit) of the element at `prop` of a text, 0 elsewhere.
std::size_t text_width_at(const Document::Impl& d, const ObjId& obj, const Prop& prop) {
  const Object& o = d.opset().object(object_index(d, obj));
  if (o.type != ObjType::kText || !std::holds_alternative<std::size_t>(prop)) return 0;
  const std::uint32_t h = d.element_at(o, std::get<std::size_t>(prop));
  if (h == SequenceIndex::kNone) return 0;
  const SeqWidth w = o.seq.width_of(h);
  return d.unit_for(o) == WidthUnit::kUtf16 ? w.utf16 : w.chars;
}

}  // namespace

Status Document::put(const ObjId& obj, const Prop& prop, ScalarValue value) {
  // No pointer into the op set outlives a step here, so a shared op set is copied only once an
  // op is certain (a put of the value already there writes nothing).
  Impl& d = *impl_;
  AM_TRY_ASSIGN(ResolvedOp op, d.target(obj, prop));
  // As the reference resolves a put (op_set.rs resolve_action): when the winning value is
  // already this one, nothing is written if it stands alone, and otherwise a delete of the
  // other (conflicting) values is, which changes nothing that shows (so nothing is logged).
  if (!op.pred.empty()) {
    const auto winner = std::max_element(op.pred.begin(), op.pred.end(), [&](OpId a, OpId b) { return d.actors().less(a, b); });
    const Op& w = d.opset().op(*d.opset().op_index(*winner));
    if (w.action == Action::kSet && w.value.get() == value) {
      if (op.pred.size() == 1) return {};
      op.pred.erase(winner);
      return d.for_local_write().put_op(std::move(op), Action::kDelete, Null{});
    }
  }
  const std::size_t replaced = text_width_at(d, obj, prop);
  AM_TRY_STATUS(d.for_local_write().put_op(std::move(op), Action::kSet, value));
  log_write(d, obj, prop, Value(std::move(value)), false, replaced);
  return {};
}

Result<ObjId> Document::put_object(const ObjId& obj, const Prop& prop, ObjType type) {
  Impl& d = impl_->for_local_write();
  AM_TRY_ASSIGN(ResolvedOp op, d.target(obj, prop));
  const std::size_t replaced = text_width_at(d, obj, prop);
  AM_TRY_STATUS(d.put_op(std::move(op), make_action(type), Null{}));
  const ObjId made = d.to_obj_id(d.tx_ops.back().id);
  log_write(d, obj, prop, ObjectRef{type, made}, false, replaced);
  return made;
}

Status Document::insert(const ObjId& obj, std::size_t index, ScalarValue value) {
  Impl& d = impl_->for_local_write();
  std::size_t placed = index;
  AM_TRY_ASSIGN(ResolvedOp op, d.insertion(obj, index, &placed));
  AM_TRY_STATUS(d.put_op(std::move(op), Action::kSet, value));
  log_write(d, obj, placed, Value(std::move(value)), true);
  return {};
}

Result<ObjId> Document::insert_object(const ObjId& obj, std::size_t index, ObjType type) {
  Impl& d = impl_->for_local_write();
  std::size_t placed = index;
  AM_TRY_ASSIGN(ResolvedOp op, d.insertion(obj, index, &placed));
  AM_TRY_STATUS(d.put_op(std::move(op), make_action(type), Null{}));
  const ObjId made = d.to_obj_id(d.tx_ops.back().id);
  log_write(d, obj, placed, ObjectRef{type, made}, true);
  return made;
}

Status Document::remove(const ObjId& obj, const Prop& prop) {
  Impl& d = *impl_;
  AM_TRY_ASSIGN(ResolvedOp op, d.target(obj, prop));
  if (op.pred.empty()) return {};  // nothing visible there: nothing to delete
  d.for_local_write();  // a shared op set is copied only now: nothing below holds a pointer into it
  const bool seq = std::holds_alternative<std::size_t>(prop);
  const std::size_t width = seq ? std::max<std::size_t>(1, text_width_at(d, obj, prop)) : 0;
  AM_TRY_STATUS(d.put_op(std::move(op), Action::kDelete, Null{}));
  if (d.local_log.recording()) {
    LocalEvent e;
    e.object = object_index(d, obj);
    e.kind = seq ? LocalEvent::Kind::kDeleteSeq : LocalEvent::Kind::kDeleteKey;
    if (seq) e.index = std::get<std::size_t>(prop);
    e.prop = prop;
    e.length = width;
    d.local_log.add(std::move(e));
  }
  return {};
}

Status Document::increment(const ObjId& obj, const Prop& prop, std::int64_t by) {
  Impl& d = impl_->for_local_write();
  AM_TRY_ASSIGN(ResolvedOp op, d.target(obj, prop));
  AM_TRY_ASSIGN(auto current, get(obj, prop));
  const auto* scalar = current ? std::get_if<ScalarValue>(&*current) : nullptr;
  if (!scalar || !std::holds_alternative<Counter>(*scalar)) {
    return fail(Error::invalid_argument("increment", "the value is not a counter"));
  }
  // Incrementing a counter that has concurrent values also overwrites them: the reference then
  // logs the counter's new value as a put (an increment would leave the conflict showing).
  std::optional<Value> replacement;
  if (op.pred.size() > 1) {
    for (const OpId id : op.pred) {
      const Op& c = d.opset().op(*d.opset().op_index(id));
      if (!c.is_counter()) continue;
      replacement = ScalarValue{Counter{c.value.int_value() + d.opset().inc_total(c) + by}};
      break;
    }
  }
  AM_TRY_STATUS(d.put_op(std::move(op), Action::kIncrement, ScalarValue{by}));
  if (d.local_log.recording()) {
    if (replacement) {
      log_write(d, obj, prop, std::move(*replacement), false);
    } else {
      LocalEvent e;
      e.kind = LocalEvent::Kind::kIncrement;
      e.object = object_index(d, obj);
      e.prop = prop;
      e.by = by;
      d.local_log.add(std::move(e));
    }
  }
  return {};
}

Status Document::splice(const ObjId& obj, std::size_t pos, std::size_t del,
                        const std::vector<ScalarValue>& values) {
  // Inserts first, then deletes after them, as the reference (see splice_text).
  Impl& d = impl_->for_local_write();
  for (std::size_t i = 0; i < values.size(); ++i) {
    AM_TRY_STATUS(insert(obj, pos + i, values[i]));
    // In a list without marks, the rest go each right after the one before (what insertion()
    // finds at pos + i, without searching the index for it).
    AM_TRY_ASSIGN(const Object* o, d.object_for(obj));
    if (o->type != ObjType::kList || o->has_marks) continue;
    ResolvedOp op = Impl::insert_into(*o);
    for (++i; i < values.size(); ++i) {
      op.value = values[i];
      AM_TRY_STATUS(d.insert_after_last(op));
      if (d.local_log.recording()) log_write(d, obj, pos + i, Value(values[i]), true);
    }
  }
  for (std::size_t i = 0; i < del; ++i) AM_TRY_STATUS(remove(obj, pos + values.size()));
  return {};
}

Status Document::splice_text(const ObjId& obj, std::size_t pos, std::size_t del, std::string_view text) {
  Impl& d = impl_->for_local_write();
  AM_TRY_ASSIGN(const Object* o, d.object_for(obj));
  if (o->type != ObjType::kText) return fail(Error::invalid_argument("object " + obj.to_string(), "is not text"));
  if (!enc::is_valid_utf8(text)) return fail(Error::invalid_argument("splice_text", "text is not valid UTF-8"));
  // The reference inserts first and then deletes what follows the inserted text, so the
  // inserted characters take the lower op counters (probed: splice(1, 2, "XY") of "abcd" is
  // two inserts, then two deletes). Insert one element per code point, each after the previous
  // one. A paste is one op per character: size the transaction once rather than moving every
  // pending op as it grows (PendingOps::reserve grows geometrically, so many small splices stay
  // linear).
  d.tx_ops.reserve(d.tx_ops.size() + text.size());
  // The log gets one splice and one delete, as the reference logs a splice, not an event per op.
  std::optional<core::LocalPatchLog::Pause> whole_splice;
  whole_splice.emplace(d.local_log);
  // Text inserted inside a character goes after it (see Impl::insertion).
  const std::size_t start = text.empty() ? pos : d.insertion_index(*o, pos);
  std::size_t at = start;
  // Without marks, each character after the first goes right after the one before (what
  // insertion() would find at `at`, without searching the index for it). With marks, each
  // one's place comes from the Peritext rule in insertion().
  std::optional<ResolvedOp> next_after_previous;
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
    const std::string_view cp = text.substr(i, len);
    if (next_after_previous) {
      std::get<std::string>(next_after_previous->value).assign(cp);  // no allocation per character
      AM_TRY_STATUS(d.insert_after_last(*next_after_previous));
    } else {
      AM_TRY_STATUS(insert(obj, at, std::string(cp)));
      if (!o->has_marks) {
        next_after_previous = Impl::insert_into(*o);
        next_after_previous->value = std::string();
      }
    }
    const SeqWidth w = text_width(cp);
    at += d.unit_for(*o) == WidthUnit::kUtf16 ? w.utf16 : w.chars;
    i += len;
  }
  // Delete whole elements from `at` until `del` units are gone; a deletion that starts inside a
  // character starts after it, as the reference's inner_splice does.
  std::size_t removed = 0;
  while (removed < del) {
    const std::uint32_t h = d.element_at(*o, at);
    if (h == SequenceIndex::kNone) break;
    const SeqWidth w = o->seq.width_of(h);
    const std::size_t width = d.unit_for(*o) == WidthUnit::kUtf16 ? w.utf16 : w.chars;
    if (const auto begins = static_cast<std::size_t>(o->seq.offset_of(h, d.unit_for(*o))); begins < at) {
      at = begins + width;
      continue;
    }
    AM_TRY_STATUS(remove(obj, at));
    removed += width;
  }
  whole_splice.reset();
  if (d.local_log.recording()) {
    const std::uint32_t oi = object_index(d, obj);
    if (!text.empty()) {
      core::LocalEvent e;
      e.kind = core::LocalEvent::Kind::kSplice;
      e.object = oi;
      e.index = start;
      e.text = std::string(text);
      e.marks = inserted_marks(d, d.opset().object(oi), start);
      d.local_log.add(std::move(e));
    }
    if (removed > 0) {
      core::LocalEvent e;
      e.kind = core::LocalEvent::Kind::kDeleteSeq;
      e.object = oi;
      e.index = at;
      e.length = removed;
      d.local_log.add(std::move(e));
    }
  }
  return {};
}

Status Document::mark(const ObjId& obj, std::size_t start, std::size_t end, ExpandMark expand,
                      std::string_view name, ScalarValue value) {
  Impl& d = impl_->for_local_write();
  AM_TRY_ASSIGN(const Object* o, d.object_for(obj));
  if (!is_sequence(o->type)) return fail(Error::invalid_argument("object " + obj.to_string(), "is not a list or text"));
  if (start > d.length_of(*o) || end > d.length_of(*o)) {
    return fail(Error::invalid_argument("mark", "range [" + std::to_string(start) + ", " +
                                                    std::to_string(end) + ") is out of range"));
  }
  // An empty or reversed range is legal in the reference (inner.rs mark). Empty and expanding
  // nowhere, it would end before it begins: nothing is written. Otherwise the end goes right
  // after the begin op, so the mark covers nothing yet but can still grow by its expand.
  if (start == end && expand == ExpandMark::kNone) return {};
  // Both positions are found before either op exists, as the reference does.
  AM_TRY_ASSIGN(ResolvedOp begin, d.insertion(obj, start));
  std::optional<ResolvedOp> finish;
  if (start < end) {
    AM_TRY_ASSIGN(finish, d.insertion(obj, end));
  }
  const std::optional<OpId> container = begin.obj;
  begin.expand = expand == ExpandMark::kBefore || expand == ExpandMark::kBoth;
  begin.mark_name = std::string(name);
  AM_TRY_STATUS(d.put_op(std::move(begin), Action::kMark, value));
  if (!finish) {
    finish.emplace();
    finish->obj = container;
    finish->insert = true;
    finish->elem = d.tx_ops.back().id;  // the begin just written
  }
  finish->expand = expand == ExpandMark::kAfter || expand == ExpandMark::kBoth;
  AM_TRY_STATUS(d.put_op(std::move(*finish), Action::kMark, Null{}));
  // Logged over its whole range with its value, whatever showed there before (the reference's
  // local log); an end placed right after the begin covers nothing yet.
  d.local_log.mark(object_index(d, obj), start, start < end ? end : start, std::string(name), value);
  return {};
}

Status Document::unmark(const ObjId& obj, std::size_t start, std::size_t end, ExpandMark expand,
                        std::string_view name) {
  return mark(obj, start, end, expand, name, Null{});
}

Result<std::vector<Mark>> Document::marks(const ObjId& obj) const {
  AM_TRY_ASSIGN(const Object* o, impl_->object_for(obj));
  if (!is_sequence(o->type)) return fail(Error::invalid_argument("object " + obj.to_string(), "is not a list or text"));
  return core::StateView(*impl_, core::Clock{}).marks(*o);
}

std::size_t Document::pending_ops() const { return impl_->tx_ops.size(); }
ChangeHash Document::commit(const CommitOptions& options) { return impl_->commit(options); }
std::optional<ChangeHash> Document::commit_if_pending(const CommitOptions& options) {
  if (impl_->tx_ops.empty()) return std::nullopt;
  return impl_->commit(options);
}
std::size_t Document::rollback() { return impl_->rollback(); }

Result<std::optional<Value>> Document::get(const ObjId& obj, const Prop& prop) const {
  AM_TRY_ASSIGN(const Object* o, impl_->object_for(obj));
  const OpSet& ops = impl_->opset();
  if (const auto* key = std::get_if<std::string>(&prop)) {
    if (is_sequence(o->type)) return std::optional<Value>();
    auto it = o->props.find(*key);
    if (it == o->props.end()) return std::optional<Value>();
    const std::uint32_t w = ops.winner(it->second.live(), kNone32);
    if (w == kNone32) return std::optional<Value>();
    return std::optional<Value>(impl_->value_of(ops.op(w)));
  }
  if (!is_sequence(o->type)) return std::optional<Value>();
  const std::uint32_t h = impl_->element_at(*o, std::get<std::size_t>(prop));
  if (h == SequenceIndex::kNone) return std::optional<Value>();
  const Element& e = o->elems[h];
  return std::optional<Value>(impl_->value_of(ops.op(ops.winner(o->ops_of(h), e.insert_op))));
}

Result<std::vector<Conflict>> Document::get_all(const ObjId& obj, const Prop& prop) const {
  AM_TRY_ASSIGN(const Object* o, impl_->object_for(obj));
  const OpSet& ops = impl_->opset();
  std::vector<std::uint32_t> vis;
  if (const auto* key = std::get_if<std::string>(&prop)) {
    if (auto it = o->props.find(*key); it != o->props.end() && !is_sequence(o->type)) {
      ops.visible_ops(it->second.live(), kNone32, vis);
    }
  } else if (is_sequence(o->type)) {
    const std::uint32_t h = impl_->element_at(*o, std::get<std::size_t>(prop));
    if (h != SequenceIndex::kNone) ops.visible_ops(o->ops_of(h), o->elems[h].insert_op, vis);
  }
  std::vector<Conflict> out;
  for (auto i : vis) out.push_back(Conflict{impl_->value_of(ops.op(i)), impl_->op_id_string(ops.op(i).id)});
  return out;
}

Result<std::vector<std::string>> Document::keys(const ObjId& obj) const {
  AM_TRY_ASSIGN(const Object* o, impl_->object_for(obj));
  std::vector<std::string> out;
  for (const auto& [key, ops] : o->props) {
    if (impl_->opset().winner(ops.live(), kNone32) != kNone32) out.push_back(key);
  }
  return out;
}

Result<std::size_t> Document::length(const ObjId& obj) const {
  AM_TRY_ASSIGN(const Object* o, impl_->object_for(obj));
  if (is_sequence(o->type)) return impl_->length_of(*o);
  AM_TRY_ASSIGN(auto k, keys(obj));
  return k.size();
}

Result<std::string> Document::text(const ObjId& obj) const {
  AM_TRY_ASSIGN(const Object* o, impl_->object_for(obj));
  if (o->type != ObjType::kText) return fail(Error::invalid_argument("object " + obj.to_string(), "is not text"));
  return core::StateView(*impl_, core::Clock{}).text(*o);
}

Result<ObjType> Document::object_type(const ObjId& obj) const {
  AM_TRY_ASSIGN(const Object* o, impl_->object_for(obj));
  return o->type;
}

Result<std::string> Document::get_cursor(const ObjId& obj, std::size_t index, CursorMove move) const {
  AM_TRY_ASSIGN(const Object* o, impl_->object_for(obj));
  if (!is_sequence(o->type)) return fail(Error::invalid_argument("object " + obj.to_string(), "is not a list or text"));
  const std::uint32_t h = impl_->element_at(*o, index);
  if (h == SequenceIndex::kNone) return std::string(kCursorEnd);  // at or past the end, as JS
  std::string id = impl_->op_id_string(impl_->opset().op(o->elems[h].insert_op).id);
  return move == CursorMove::kBefore ? "-" + id : id;
}

Result<std::size_t> Document::get_cursor_position(const ObjId& obj, std::string_view cursor) const {
  AM_TRY_ASSIGN(const Object* o, impl_->object_for(obj));
  if (!is_sequence(o->type)) return fail(Error::invalid_argument("object " + obj.to_string(), "is not a list or text"));
  if (cursor == kCursorStart) return std::size_t{0};
  if (cursor == kCursorEnd) return impl_->length_of(*o);
  const bool before = cursor.starts_with('-');
  const std::string_view element = before ? cursor.substr(1) : cursor;
  const auto id = ObjId::parse(element);
  const auto actor = id && !id->is_root() ? impl_->actors().find(id->actor().bytes) : std::nullopt;
  if (!actor || id->counter() > UINT32_MAX) return fail(Error::invalid_argument("cursor", std::string(cursor) + " is not a cursor of this document"));
  const auto idx = impl_->opset().op_index(OpId{static_cast<std::uint32_t>(id->counter()), *actor});
  const Op* op = idx ? &impl_->opset().op(*idx) : nullptr;
  if (!op || !op->insert || &impl_->opset().object(op->obj) != o) {
    return fail(Error::invalid_argument("cursor", std::string(cursor) + " is not an element of " + obj.to_string()));
  }
  const WidthUnit unit = impl_->unit_for(*o);
  // JS (Rust get_cursor_position_for): an element whose insert op is still visible is where the
  // cursor points. An "after" cursor on a hidden element counts the visible width before it, which
  // is where the next visible element now starts. A "before" cursor on a hidden element walks up
  // the insertion chain instead -- the element it was inserted after, then that one's, ... -- and
  // resolves to the first one still visible, or 0 at the head (a mark's start is an element whose
  // op is never visible). That ancestor is not in general the previous visible element in text
  // order: elements inserted later after an ancestor sit between it and the cursor's element.
  if (op->visible() || !before) return static_cast<std::size_t>(o->seq.offset_of(op->key, unit));
  for (std::uint32_t parent = impl_->opset().insert_ref(*idx); parent != kNone32;) {
    const std::uint32_t insert_op = o->elems[parent].insert_op;
    if (impl_->opset().op(insert_op).visible()) return static_cast<std::size_t>(o->seq.offset_of(parent, unit));
    parent = impl_->opset().insert_ref(insert_op);
  }
  return std::size_t{0};
}

Status Document::splice_text_at_cursor(const ObjId& obj, std::string_view cursor, std::size_t del,
                                       std::string_view text) {
  AM_TRY_ASSIGN(const std::size_t at, get_cursor_position(obj, cursor));
  return splice_text(obj, at, del, text);
}

Result<std::string> Document::to_json(const ObjId& obj) const {
  AM_TRY_ASSIGN(const Object* o, impl_->object_for(obj));
  std::string out;
  core::StateView(*impl_, core::Clock{}).to_json(out, *o);
  return out;
}

std::vector<ChangeHash> Document::heads() const {
  return std::vector<ChangeHash>(impl_->heads.begin(), impl_->heads.end());
}

namespace {

// Decodes the chunks left in `r` and applies their changes atomically.
Status apply_chunks(Document::Impl& doc, enc::ByteReader& r) {
  std::vector<storage::StoredChange> incoming;
  while (!r.empty()) {
    AM_TRY_ASSIGN(const storage::ChunkView c, storage::read_chunk(r));
    if (c.type == storage::ChunkType::kDocument) {
      // A whole document (as a V2 sync message carries): its changes, rebuilt and verified.
      storage::DocumentDecodeOptions decode;
      decode.max_decoded_bytes = doc.options.max_inflated_bytes;
      AM_TRY_ASSIGN(storage::DecodedDocument d, storage::decode_document_body(c.body, decode));
      for (auto& sc : d.changes) incoming.push_back(std::move(sc));
      continue;
    }
    storage::ChangeDecodeLimits limits;
    limits.max_inflated_bytes = doc.options.max_inflated_bytes;
    AM_TRY_ASSIGN(storage::StoredChange sc, storage::decode_change_chunk(c.whole, limits));
    incoming.push_back(std::move(sc));
  }
  return doc.apply_stored(std::move(incoming));
}

}  // namespace

Status Document::apply_changes(ByteView chunks) {
  enc::ByteReader r(chunks, "changes");
  // A whole document into an empty one (a sync peer's first message): stream it, as load does,
  // and undo it if anything after it fails, so that the call stays atomic.
  if (impl_->is_empty() && !r.empty()) {
    enc::ByteReader peek(chunks, "changes");
    auto first = storage::read_chunk(peek);
    if (first && first->type == storage::ChunkType::kDocument) {
      Status s = impl_->stream_document(first->body, /*verify_heads=*/true, impl_->options.max_inflated_bytes);
      if (s) s = apply_chunks(*impl_, peek);
      if (!s) impl_->reset_empty();
      return s;
    }
  }
  return apply_chunks(*impl_, r);
}

Status Document::apply_changes(const std::vector<Bytes>& changes) {
  std::vector<storage::StoredChange> incoming;
  storage::ChangeDecodeLimits limits;
  limits.max_inflated_bytes = impl_->options.max_inflated_bytes;
  for (const Bytes& b : changes) {
    AM_TRY_ASSIGN(storage::StoredChange sc, storage::decode_change_chunk(b, limits));
    incoming.push_back(std::move(sc));
  }
  return impl_->apply_stored(std::move(incoming));
}

std::vector<Bytes> Document::get_changes(const std::vector<ChangeHash>& since) const {
  const core::History& h = impl_->history;
  const std::vector<bool> known = h.ancestors(since);
  std::vector<Bytes> out;
  for (std::size_t i = 0; i < h.size(); ++i) {
    if (!known[i]) out.push_back(h.chunk_copy(i));
  }
  return out;
}

std::optional<Bytes> Document::get_change_by_hash(const ChangeHash& hash) const {
  const auto row = impl_->history.find(hash);
  if (!row) return std::nullopt;
  return impl_->history.chunk_copy(*row);
}

bool Document::has_change(const ChangeHash& hash) const { return impl_->history.contains(hash); }

std::vector<ChangeHash> Document::get_missing_deps() const { return get_missing_deps({}); }

std::vector<ChangeHash> Document::get_missing_deps(const std::vector<ChangeHash>& heads) const {
  std::set<ChangeHash> missing;
  std::set<ChangeHash> queued;
  for (const auto& q : impl_->queue) queued.insert(q.hash);
  auto want = [&](const ChangeHash& h) {
    if (!impl_->history.contains(h) && !queued.count(h)) missing.insert(h);
  };
  for (const auto& q : impl_->queue) {
    for (const ChangeHash& d : q.change.deps) want(d);
  }
  for (const ChangeHash& h : heads) want(h);
  return std::vector<ChangeHash>(missing.begin(), missing.end());
}

std::optional<Bytes> Document::get_last_local_change() const {
  if (!impl_->last_local) return std::nullopt;
  return impl_->history.chunk_copy(*impl_->last_local);
}

std::size_t Document::change_count() const { return impl_->history.size(); }

namespace {
// The changes of `from` that `to` lacks, decoded again from their chunks, in the reference's
// order (automerge.rs get_changes_added): a depth-first walk from `from`'s heads (the last one
// first) through deps, reversed. The apply queue starts from this order, and the resulting
// history order decides what save() writes.
std::vector<storage::StoredChange> missing_from(const Document::Impl& to, const Document::Impl& from) {
  std::vector<std::uint32_t> stack;
  for (const ChangeHash& h : from.heads) stack.push_back(*from.history.find(h));
  std::vector<bool> seen(from.history.size(), false);
  std::vector<std::uint32_t> found;
  while (!stack.empty()) {
    const std::uint32_t row = stack.back();
    stack.pop_back();
    if (seen[row] || to.history.contains(from.history.hash(row))) continue;
    seen[row] = true;
    found.push_back(row);
    for (const std::uint32_t dep : from.history.deps(row)) stack.push_back(dep);
  }
  std::vector<storage::StoredChange> out;
  out.reserve(found.size());
  for (auto it = found.rbegin(); it != found.rend(); ++it) {
    // These chunks were decoded when they were applied to `from`.
    if (auto sc = storage::decode_change_chunk(from.history.chunk(*it))) out.push_back(std::move(*sc));
  }
  return out;
}
}  // namespace

Status Document::merge(const Document& other) {
  if (impl_->tx_open) impl_->commit({});
  return impl_->apply_stored(missing_from(*impl_, *other.impl_));
}

Result<Document> Document::fork_at(const std::vector<ChangeHash>& heads, std::optional<ActorId> actor) const {
  const core::History& history = impl_->history;
  for (const ChangeHash& h : heads) {
    if (!history.contains(h)) return fail(Error::invalid_argument("heads", h.to_hex() + " is not a change of this document"));
  }
  // The copy applies the changes in the reference's order, which its save follows.
  const std::vector<std::uint32_t> order = history.fork_order(heads);
  // When that is this document's own order (all of it: a linear history, say), the copy is
  // fork(), which shares the op set instead of replaying history.
  bool own_order = !impl_->tx_open && order.size() == history.size();
  for (std::size_t k = 0; own_order && k < order.size(); ++k) own_order = order[k] == k;
  if (own_order) return fork(std::move(actor));
  DocumentOptions o = impl_->options;
  o.actor = actor ? std::move(actor) : std::optional<ActorId>(ActorId::random());
  Document copy(o);
  std::vector<Bytes> changes;
  changes.reserve(order.size());
  for (std::uint32_t row : order) changes.push_back(history.chunk_copy(row));
  AM_TRY_STATUS(copy.apply_changes(changes));
  return copy;
}

Document Document::fork(std::optional<ActorId> actor) const {
  DocumentOptions o = impl_->options;
  o.actor = actor ? std::move(actor) : std::optional<ActorId>(ActorId::random());
  Document copy(o);
  const Impl& from = *impl_;
  if (from.tx_open) {
    // The op set holds the open transaction's ops, which the fork must not see: replay the
    // committed changes instead (they applied here already).
    (void)copy.impl_->apply_stored(missing_from(*copy.impl_, from));
    return copy;
  }
  // Share the committed state as it is: the same document as replaying every change, without
  // decoding and applying them again; the op set is copied when either document first writes.
  // The queue of changes waiting for deps stays here.
  Impl& to = *copy.impl_;
  from.share_opset_with(to);
  to.history = from.history;
  to.heads = from.heads;
  to.changes_by_actor = from.changes_by_actor;
  to.max_op = from.max_op;
  return copy;
}

}  // namespace am

