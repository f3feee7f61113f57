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
  const auto& ops = v.doc().opset;
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
  return std::optional<Value>(v.value_of(ops.op(v.winner(e.ops, e.insert_op))));
}

// Builds the patches of one object, recursing into nested objects. `fresh` means the object
// did not exist (or was replaced) before: everything in it is new.
class Differ {
 public:
  Differ(const StateView& before, const StateView& after) : before_(before), after_(after) {}

  void object(const Object& o, std::vector<Prop>& path, bool fresh) {
    if (is_sequence(o.type)) {
      sequence(o, path, fresh);
    } else {
      map(o, path, fresh);
    }
  }

  std::vector<Patch> take() { return std::move(patches_); }

 private:
  const OpSet& ops() const { return after_.doc().opset; }

  // A value that changed: put it, and describe a new object's contents.
  void put_value(const Op& op, std::vector<Prop>& path, bool conflict) {
    Patch p;
    p.kind = Patch::Kind::kPut;
    p.path = path;
    p.value = after_.value_of(op);
    p.conflict = conflict;
    patches_.push_back(std::move(p));
    if (make_type(op.action)) object(ops().object(*ops().object_index(op.id)), path, true);
  }

  // The same op is the winner in both states: report counter growth and nested changes.
  void same_value(const Op& op, std::vector<Prop>& path) {
    if (op.is_counter()) {
      const auto b = std::get<Counter>(std::get<ScalarValue>(before_.value_of(op))).value;
      const auto a = std::get<Counter>(std::get<ScalarValue>(after_.value_of(op))).value;
      if (a != b) {
        Patch p;
        p.kind = Patch::Kind::kIncrement;
        p.path = path;
        p.increment = a - b;
        patches_.push_back(std::move(p));
      }
    }
    if (make_type(op.action)) object(ops().object(*ops().object_index(op.id)), path, false);
  }

  void map(const Object& o, std::vector<Prop>& path, bool fresh) {
    for (const auto& [key, list] : o.props) {
      const std::uint32_t wb = fresh ? kNone32 : before_.winner(before_.candidates(list), kNone32);
      const std::uint32_t wa = after_.winner(after_.candidates(list), kNone32);
      path.push_back(key);
      if (wa == kNone32) {
        if (wb != kNone32) {
          Patch p;
          p.kind = Patch::Kind::kDelete;
          p.path = path;
          patches_.push_back(std::move(p));
        }
      } else {
        const bool conflict_after = after_.visible_ops(after_.candidates(list), kNone32).size() > 1;
        const bool conflict_before = !fresh && before_.visible_ops(before_.candidates(list), kNone32).size() > 1;
        if (wa != wb || conflict_after != conflict_before) {
          put_value(ops().op(wa), path, conflict_after);
        } else {
          same_value(ops().op(wa), path);
        }
      }
      path.pop_back();
    }
  }

  void sequence(const Object& o, std::vector<Prop>& path, bool fresh) {
    const bool text = o.type == ObjType::kText;
    const WidthUnit unit = after_.doc().unit_for(o);
    std::size_t index = 0;
    auto units = [&](SeqWidth w) -> std::size_t { return unit == WidthUnit::kUtf16 ? w.utf16 : w.chars; };
    for (const SequenceIndex::Handle h : o.seq) {
      const Element& e = o.elems[h];
      const std::uint32_t wb = fresh ? kNone32 : before_.winner(e.ops, e.insert_op);
      const std::uint32_t wa = after_.winner(e.ops, e.insert_op);
      if (wb == kNone32 && wa == kNone32) continue;
      if (wb != kNone32 && (wa == kNone32 || wa != wb)) {
        const std::size_t w = units(before_.element_width(o, h));
        if (wa == kNone32 || text) {
          remove(path, index, w);
          if (wa == kNone32) continue;
        } else {
          // A list element overwritten: put the new value in place.
          path.push_back(index);
          put_value(ops().op(wa), path, after_.visible_ops(e.ops, e.insert_op).size() > 1);
          path.pop_back();
          index += 1;
          continue;
        }
      }
      const Op& op = ops().op(wa);
      const std::size_t w = units(after_.element_width(o, h));
      if (wb == kNone32 || text) {
        if (wb == kNone32 || wa != wb) {
          if (text) {
            splice(path, index, op);
          } else {
            insert(path, index, op);
          }
          index += w;
          continue;
        }
      }
      path.push_back(index);
      same_value(op, path);
      path.pop_back();
      index += w;
    }
  }

  bool continues(const Patch& last, Patch::Kind kind, const std::vector<Prop>& path, std::size_t index) const {
    if (last.kind != kind || last.path.size() != path.size() + 1) return false;
    if (!std::equal(path.begin(), path.end(), last.path.begin())) return false;
    const std::size_t at = std::get<std::size_t>(last.path.back());
    switch (kind) {
      case Patch::Kind::kDelete: return at == index;
      case Patch::Kind::kInsert: return at + last.values.size() == index;
      case Patch::Kind::kSpliceText: {
        std::size_t w = 0;
        const auto unit = after_.doc().options.text_unit;
        for (std::size_t i = 0; i < last.text.size(); ++i) {
          const auto c = static_cast<unsigned char>(last.text[i]);
          if ((c & 0xc0) != 0x80) w += (unit == TextUnit::kUtf16 && c >= 0xf0) ? 2 : 1;
        }
        return at + w == index;
      }
      default: return false;
    }
  }

  void remove(std::vector<Prop>& path, std::size_t index, std::size_t width) {
    if (!patches_.empty() && continues(patches_.back(), Patch::Kind::kDelete, path, index)) {
      patches_.back().length += width;
      return;
    }
    Patch p;
    p.kind = Patch::Kind::kDelete;
    p.path = path;
    p.path.push_back(index);
    p.length = width;
    patches_.push_back(std::move(p));
  }

  void insert(std::vector<Prop>& path, std::size_t index, const Op& op) {
    if (!patches_.empty() && continues(patches_.back(), Patch::Kind::kInsert, path, index) &&
        !make_type(op.action)) {
      patches_.back().values.push_back(after_.value_of(op));
      return;
    }
    Patch p;
    p.kind = Patch::Kind::kInsert;
    p.path = path;
    p.path.push_back(index);
    p.values.push_back(after_.value_of(op));
    patches_.push_back(std::move(p));
    if (make_type(op.action)) {
      path.push_back(index);
      object(ops().object(*ops().object_index(op.id)), path, true);
      path.pop_back();
    }
  }

  void splice(std::vector<Prop>& path, std::size_t index, const Op& op) {
    const std::string s = (op.action == Action::kSet && op.value.is_string())
                              ? std::string(op.value.str())
                              : std::string(enc::kObjectReplacementUtf8);
    if (!patches_.empty() && continues(patches_.back(), Patch::Kind::kSpliceText, path, index)) {
      patches_.back().text += s;
      return;
    }
    Patch p;
    p.kind = Patch::Kind::kSpliceText;
    p.path = path;
    p.path.push_back(index);
    p.text = s;
    patches_.push_back(std::move(p));
  }

  const StateView& before_;
  const StateView& after_;
  std::vector<Patch> patches_;
};

Result<std::vector<std::pair<std::string, Value>>> map_range_in(const StateView& v, const ObjId& obj,
                                                                std::string_view begin,
                                                                std::string_view end) {
  AM_TRY_ASSIGN(const Object* o, v.object(obj));
  if (is_sequence(o->type)) return fail(Error::invalid_argument("object " + obj.to_string(), "is not a map"));
  std::vector<std::pair<std::string, Value>> out;
  for (auto it = o->props.lower_bound(begin); it != o->props.end(); ++it) {
    if (!end.empty() && it->first >= end) break;
    const std::uint32_t w = v.winner(v.candidates(it->second), kNone32);
    if (w != kNone32) out.emplace_back(it->first, v.value_of(v.doc().opset.op(w)));
  }
  return out;
}

Result<std::vector<Value>> list_range_in(const StateView& v, const ObjId& obj, std::size_t begin,
                                         std::size_t end) {
  AM_TRY_ASSIGN(const Object* o, v.object(obj));
  if (!is_sequence(o->type)) return fail(Error::invalid_argument("object " + obj.to_string(), "is not a list or text"));
  std::vector<Value> out;
  std::size_t index = 0;
  for (const SequenceIndex::Handle h : o->seq) {
    if (index >= end) break;
    const Element& e = o->elems[h];
    const std::uint32_t w = v.winner(e.ops, e.insert_op);
    if (w == kNone32) continue;
    if (index >= begin) out.push_back(v.value_of(v.doc().opset.op(w)));
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
    if (h != SequenceIndex::kNone) vis = v.visible_ops(o->elems[h].ops, o->elems[h].insert_op);
  }
  std::vector<Conflict> out;
  for (auto i : vis) {
    const Op& op = impl_->opset.op(i);
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
  Differ differ(b, a);
  std::vector<Prop> path;
  differ.object(impl_->opset.object(kRootObject), path, false);
  return differ.take();
}

}  // namespace am
