// Reads at historical heads and diffs between two states (core/history_view.h).
#include <algorithm>

#include "am/document.h"
#include "core/document_impl.h"
#include "core/encoding/utf8.h"
#include "core/history_view.h"

namespace am {

using core::Clock;
using core::StateView;

namespace {

Result<StateView> view_at(const Document::Impl& d, const std::vector<ChangeHash>& heads) {
  AM_TRY_ASSIGN(Clock c, core::clock_at(d, heads));
  return StateView(d, std::move(c));
}

Result<std::optional<Value>> get_in(const StateView& v, const ObjId& obj, const Prop& prop) {
  AM_TRY_ASSIGN(const Object* o, v.object(obj));
  const auto& ops = v.doc().opset();
  if (const auto* key = std::get_if<std::string>(&prop)) {
    if (is_sequence(o->type)) return std::optional<Value>();
    auto it = o->props.find(*key);
    if (it == o->props.end()) return std::optional<Value>();
    const std::uint32_t w = v.winner(v.candidates(it->second), kNone32);
    if (w == kNone32) return std::optional<Value>();
    return std::optional<Value>(v.value_of(ops.op(w)));
  }
  if (!is_sequence(o->type)) return std::optional<Value>();
  const std::uint32_t h = v.element_at(*o, std::get<std::size_t>(prop));
  if (h == SequenceIndex::kNone) return std::optional<Value>();
  const Element& e = o->elems[h];
  return std::optional<Value>(v.value_of(ops.op(v.winner(o->ops_of(h), e.insert_op))));
}

Result<std::vector<std::pair<std::string, Value>>> map_range_in(const StateView& v, const ObjId& obj,
                                                                std::string_view begin,
                                                                std::string_view end) {
  AM_TRY_ASSIGN(const Object* o, v.object(obj));
  if (is_sequence(o->type)) return fail(Error::invalid_argument("object " + obj.to_string(), "is not a map"));
  std::vector<std::pair<std::string, Value>> out;
  for (auto it = o->props.lower_bound(begin); it != o->props.end(); ++it) {
    if (!end.empty() && it->first >= end) break;
    const std::uint32_t w = v.winner(v.candidates(it->second), kNone32);
    if (w != kNone32) out.emplace_back(it->first, v.value_of(v.doc().opset().op(w)));
  }
  return out;
}

// list_range of a list now: a visible item is one unit wide, so the item at `begin` is found
// from above (O(log n)) and the walk stops after end - begin items, instead of resolving every
// item before `begin` (a UI paging through a long list).
std::vector<Value> current_list_range(const StateView& v, const Object& o, std::size_t begin, std::size_t end) {
  std::vector<Value> out;
  const std::uint64_t length = o.seq.total_width(core::WidthUnit::kChars);
  if (begin >= end || begin >= length) return out;
  const auto count = static_cast<std::size_t>(std::min<std::uint64_t>(end, length) - begin);
  out.reserve(count);
  const auto first = o.seq.find_by_offset(begin, core::WidthUnit::kChars);
  for (auto it = o.seq.iterator_at(first); out.size() < count; ++it) {
    if (it.width().chars == 0) continue;  // deleted
    const Element& e = o.elems[*it];
    out.push_back(v.value_of(v.doc().opset().op(v.winner(o.ops_of(*it), e.insert_op))));  // visible: has one
  }
  return out;
}

Result<std::vector<Value>> list_range_in(const StateView& v, const ObjId& obj, std::size_t begin,
                                         std::size_t end) {
  AM_TRY_ASSIGN(const Object* o, v.object(obj));
  if (!is_sequence(o->type)) return fail(Error::invalid_argument("object " + obj.to_string(), "is not a list or text"));
  // A text's element can be several characters wide: it walks every element.
  if (v.current() && o->type == ObjType::kList) return current_list_range(v, *o, begin, end);
  std::vector<Value> out;
  std::size_t index = 0;
  for (const SequenceIndex::Handle h : o->seq) {
    if (index >= end) break;
    const Element& e = o->elems[h];
    const std::uint32_t w = v.winner(o->ops_of(h), e.insert_op);
    if (w == kNone32) continue;
    if (index >= begin) out.push_back(v.value_of(v.doc().opset().op(w)));
    ++index;
  }
  return out;
}

}  // namespace

Result<std::vector<std::pair<std::string, Value>>> Document::map_range(const ObjId& obj,
                                                                       std::string_view begin,
                                                                       std::string_view end) const {
  return map_range_in(StateView(*impl_, Clock{}), obj, begin, end);
}

Result<std::vector<Value>> Document::list_range(const ObjId& obj, std::size_t begin, std::size_t end) const {
  return list_range_in(StateView(*impl_, Clock{}), obj, begin, end);
}

Result<std::vector<std::pair<std::string, Value>>> Document::map_range_at(
    const ObjId& obj, std::string_view begin, std::string_view end,
    const std::vector<ChangeHash>& heads) const {
  AM_TRY_ASSIGN(const StateView v, view_at(*impl_, heads));
  return map_range_in(v, obj, begin, end);
}

Result<std::vector<Value>> Document::list_range_at(const ObjId& obj, std::size_t begin, std::size_t end,
                                                   const std::vector<ChangeHash>& heads) const {
  AM_TRY_ASSIGN(const StateView v, view_at(*impl_, heads));
  return list_range_in(v, obj, begin, end);
}

namespace {

// JS marksAt: the marks spanning the element at `element_index`, found by its offset in the
// object's unit (the widths of the visible elements before it).
Result<std::map<std::string, ScalarValue>> marks_on_element(const StateView& v, const ObjId& obj,
                                                            std::size_t element_index) {
  AM_TRY_ASSIGN(const Object* o, v.object(obj));
  if (!is_sequence(o->type)) return fail(Error::invalid_argument("object " + obj.to_string(), "is not a list or text"));
  const WidthUnit unit = v.doc().unit_for(*o);
  std::uint64_t offset = 0;
  std::size_t seen = 0;
  bool found = false;
  for (const std::uint32_t handle : o->seq) {
    const SeqWidth w = v.element_width(*o, handle);
    const std::uint32_t width = unit == WidthUnit::kUtf16 ? w.utf16 : w.chars;
    if (width == 0) continue;
    if (seen == element_index) {
      found = true;
      break;
    }
    offset += width;
    ++seen;
  }
  std::map<std::string, ScalarValue> out;
  if (!found) return out;
  for (const Mark& m : v.marks(*o)) {
    if (m.start <= offset && offset < m.end) out[m.name] = m.value;
  }
  return out;
}

}  // namespace

Result<std::map<std::string, ScalarValue>> Document::get_marks(const ObjId& obj, std::size_t element_index) const {
  return marks_on_element(StateView(*impl_, Clock{}), obj, element_index);
}

Result<std::map<std::string, ScalarValue>> Document::get_marks_at(const ObjId& obj, std::size_t element_index,
                                                                  const std::vector<ChangeHash>& heads) const {
  AM_TRY_ASSIGN(const StateView v, view_at(*impl_, heads));
  return marks_on_element(v, obj, element_index);
}

Result<std::vector<Mark>> Document::marks_at(const ObjId& obj, const std::vector<ChangeHash>& heads) const {
  AM_TRY_ASSIGN(const StateView v, view_at(*impl_, heads));
  AM_TRY_ASSIGN(const Object* o, v.object(obj));
  if (!is_sequence(o->type)) return fail(Error::invalid_argument("object " + obj.to_string(), "is not a list or text"));
  return v.marks(*o);
}

Result<std::optional<Value>> Document::get_at(const ObjId& obj, const Prop& prop,
                                              const std::vector<ChangeHash>& heads) const {
  AM_TRY_ASSIGN(const StateView v, view_at(*impl_, heads));
  return get_in(v, obj, prop);
}

Result<std::vector<Conflict>> Document::get_all_at(const ObjId& obj, const Prop& prop,
                                                   const std::vector<ChangeHash>& heads) const {
  AM_TRY_ASSIGN(const StateView v, view_at(*impl_, heads));
  AM_TRY_ASSIGN(const Object* o, v.object(obj));
  std::vector<std::uint32_t> vis;
  if (const auto* key = std::get_if<std::string>(&prop)) {
    if (auto it = o->props.find(*key); it != o->props.end() && !is_sequence(o->type)) {
      vis = v.visible_ops(v.candidates(it->second), kNone32);
    }
  } else if (is_sequence(o->type)) {
    const std::uint32_t h = v.element_at(*o, std::get<std::size_t>(prop));
    if (h != SequenceIndex::kNone) vis = v.visible_ops(o->ops_of(h), o->elems[h].insert_op);
  }
  std::vector<Conflict> out;
  for (auto i : vis) {
    const Op& op = impl_->opset().op(i);
    out.push_back(Conflict{v.value_of(op), impl_->op_id_string(op.id)});
  }
  return out;
}

Result<std::vector<std::string>> Document::keys_at(const ObjId& obj,
                                                   const std::vector<ChangeHash>& heads) const {
  AM_TRY_ASSIGN(const StateView v, view_at(*impl_, heads));
  AM_TRY_ASSIGN(const Object* o, v.object(obj));
  std::vector<std::string> out;
  for (const auto& [key, ops] : o->props) {
    if (v.winner(v.candidates(ops), kNone32) != kNone32) out.push_back(key);
  }
  return out;
}

Result<std::size_t> Document::length_at(const ObjId& obj, const std::vector<ChangeHash>& heads) const {
  AM_TRY_ASSIGN(const StateView v, view_at(*impl_, heads));
  AM_TRY_ASSIGN(const Object* o, v.object(obj));
  return v.length(*o);
}

Result<std::string> Document::text_at(const ObjId& obj, const std::vector<ChangeHash>& heads) const {
  AM_TRY_ASSIGN(const StateView v, view_at(*impl_, heads));
  AM_TRY_ASSIGN(const Object* o, v.object(obj));
  if (o->type != ObjType::kText) return fail(Error::invalid_argument("object " + obj.to_string(), "is not text"));
  return v.text(*o);
}

Result<std::string> Document::to_json_at(const ObjId& obj, const std::vector<ChangeHash>& heads) const {
  AM_TRY_ASSIGN(const StateView v, view_at(*impl_, heads));
  AM_TRY_ASSIGN(const Object* o, v.object(obj));
  std::string out;
  v.to_json(out, *o);
  return out;
}

Result<std::vector<Patch>> Document::diff(const std::vector<ChangeHash>& before,
                                          const std::vector<ChangeHash>& after) const {
  AM_TRY_ASSIGN(const StateView b, view_at(*impl_, before));
  AM_TRY_ASSIGN(const StateView a, view_at(*impl_, after));
  return core::diff_states(b, a);
}

void Document::update_diff_cursor() {
  Impl& d = *impl_;
  d.cursor_set = true;
  d.cursor_counters.assign(d.actors().size(), 0);
  for (std::size_t a = 0; a < d.changes_by_actor.size() && a < d.actors().size(); ++a) {
    if (!d.changes_by_actor[a].empty()) {
      d.cursor_counters[a] = static_cast<std::uint32_t>(d.history[d.changes_by_actor[a].back()].max_op());
    }
  }
  if (d.tx_open && !d.tx_ops.empty()) {
    const std::uint32_t own = d.intern_actor(d.actor.bytes);
    if (own >= d.cursor_counters.size()) d.cursor_counters.resize(own + 1, 0);
    d.cursor_counters[own] = d.tx_start_op + static_cast<std::uint32_t>(d.tx_ops.size()) - 1;
  }
  d.cursor_heads.assign(d.heads.begin(), d.heads.end());
  // A log longer than a quarter of the document's ops would cost about what a whole diff does.
  const std::size_t limit = std::max<std::size_t>(std::size_t{1} << 14, d.opset().op_count() / 4);
  d.touch_log = core::TouchLog::started(limit);
  d.local_log.start(limit);
}

void Document::reset_diff_cursor() {
  Impl& d = *impl_;
  d.cursor_set = false;
  d.cursor_counters.clear();
  d.cursor_heads.clear();
  d.touch_log = core::TouchLog{};
  d.local_log.stop();
}

std::vector<ChangeHash> Document::diff_cursor() const { return impl_->cursor_set ? impl_->cursor_heads : std::vector<ChangeHash>{}; }

std::vector<Patch> Document::diff_incremental() {
  const Impl& d = *impl_;
  Clock before;
  before.current = false;
  if (d.cursor_set) before.max_counter = d.cursor_counters;  // none: the empty document
  const StateView b(d, std::move(before));
  const StateView a(d, Clock{});
  const core::TouchLog& log = d.touch_log;
  std::vector<Patch> patches;
  if (d.cursor_set && d.local_log.usable()) {
    patches = core::local_patches(d, d.local_log);  // only local edits since the cursor
  } else if (d.cursor_set && log.active && !log.overflow) {
    patches = core::diff_touched(b, a, log);
  } else {
    patches = core::diff_states(b, a);
  }
  update_diff_cursor();
  return patches;
}

}  // namespace am
