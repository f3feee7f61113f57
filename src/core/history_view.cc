#include "core/history_view.h"

#include <algorithm>
#include <map>

#include "core/encoding/utf8.h"

namespace am::core {

Result<Clock> clock_at(const Document::Impl& d, const std::vector<ChangeHash>& heads) {
  Clock c;
  c.current = false;
  c.max_counter.assign(d.actors().size(), 0);
  for (const ChangeHash& h : heads) {
    if (!d.history.contains(h)) {
      return fail(Error::invalid_argument("heads", "change " + h.to_hex() + " is not in this document"));
    }
  }
  const std::vector<bool> included = d.history.ancestors(heads);
  for (std::size_t i = 0; i < d.history.size(); ++i) {
    if (!included[i]) continue;
    const auto& e = d.history[i];
    c.max_counter[e.author] = std::max(c.max_counter[e.author], static_cast<std::uint32_t>(e.max_op()));
  }
  return c;
}

bool StateView::hides(const Op& target, const OpId& succ) const {
  if (!clock_.covers(succ)) return false;
  const auto idx = d_.opset().op_index(succ);
  if (!idx) return true;  // a delete: not stored, always hides
  const Op& s = d_.opset().op(*idx);
  return !(s.action == Action::kIncrement && target.is_counter());
}

bool StateView::visible(const Op& op) const {
  if (clock_.current) return op.visible();
  if (!exists(op) || op.action == Action::kIncrement || op.action == Action::kMark) return false;
  for (const OpId& s : d_.opset().successors(op)) {
    if (hides(op, s)) return false;
  }
  return true;
}

std::uint32_t StateView::winner(std::span<const std::uint32_t> ops, std::uint32_t insert_op) const {
  std::uint32_t best = kNone32;
  auto consider = [&](std::uint32_t i) {
    const Op& op = d_.opset().op(i);
    if (visible(op) && (best == kNone32 || d_.actors().less(d_.opset().op(best).id, op.id))) best = i;
  };
  if (insert_op != kNone32) consider(insert_op);
  for (std::uint32_t i : ops) consider(i);
  return best;
}

std::vector<std::uint32_t> StateView::visible_ops(std::span<const std::uint32_t> ops,
                                                  std::uint32_t insert_op) const {
  std::vector<std::uint32_t> out;
  if (insert_op != kNone32 && visible(d_.opset().op(insert_op))) out.push_back(insert_op);
  for (std::uint32_t i : ops) {
    if (visible(d_.opset().op(i))) out.push_back(i);
  }
  std::sort(out.begin(), out.end(), [&](std::uint32_t a, std::uint32_t b) {
    return d_.actors().less(d_.opset().op(a).id, d_.opset().op(b).id);
  });
  return out;
}

Value StateView::value_of(const Op& op) const {
  if (clock_.current || !op.is_counter()) return d_.value_of(op);
  std::int64_t total = op.value.int_value();
  for (const OpId& s : d_.opset().successors(op)) {
    if (!clock_.covers(s)) continue;
    const auto idx = d_.opset().op_index(s);
    if (!idx) continue;
    const Op& inc = d_.opset().op(*idx);
    if (inc.action != Action::kIncrement) continue;
    total += inc.value.int_value();  // an int or a uint (two's complement, as applying adds it)
  }
  return ScalarValue{Counter{total}};
}

Result<const Object*> StateView::object(const ObjId& id) const {
  AM_TRY_ASSIGN(const Object* o, d_.object_for(id));
  if (o->id.counter != 0 && !clock_.covers(o->id)) {
    return fail(Error::invalid_argument("object " + id.to_string(), "does not exist at these heads"));
  }
  return o;
}

SeqWidth StateView::element_width(const Object& o, std::uint32_t handle) const {
  if (clock_.current) return o.seq.width_of(handle);
  const Element& e = o.elems[handle];
  const std::uint32_t w = winner(o.ops_of(handle), e.insert_op);
  if (w == kNone32) return {};
  const Op& op = d_.opset().op(w);
  if (o.type == ObjType::kText && op.action == Action::kSet && op.value.is_string()) {
    return text_width(op.value.str());
  }
  return {1, 1};
}

std::uint32_t StateView::element_at(const Object& o, std::size_t index) const {
  if (clock_.current) return d_.element_at(o, index);
  const WidthUnit unit = d_.unit_for(o);
  std::size_t pos = 0;
  for (const SequenceIndex::Handle h : o.seq) {
    const SeqWidth sw = element_width(o, h);
    const std::size_t w = unit == WidthUnit::kUtf16 ? sw.utf16 : sw.chars;
    if (w > 0 && index < pos + w) return h;
    pos += w;
  }
  return SequenceIndex::kNone;
}

std::size_t StateView::length(const Object& o) const {
  if (clock_.current) return d_.length_of(o);
  if (!is_sequence(o.type)) {
    std::size_t n = 0;
    for (const auto& [key, ops] : o.props) n += winner(candidates(ops), kNone32) != kNone32 ? 1u : 0u;
    return n;
  }
  const WidthUnit unit = d_.unit_for(o);
  std::size_t n = 0;
  for (const SequenceIndex::Handle h : o.seq) {
    const SeqWidth sw = element_width(o, h);
    n += unit == WidthUnit::kUtf16 ? sw.utf16 : sw.chars;
  }
  return n;
}

std::string StateView::text(const Object& o) const {
  std::string s;
  // An element shows its winning value's string, or U+FFFC for anything else (a block, an
  // embedded object).
  auto append = [&](std::uint32_t w) {
    if (w == kNone32) return;
    const Op& op = d_.opset().op(w);
    if (op.action == Action::kSet && op.value.is_string()) {
      s += op.value.str();
    } else {
      s += enc::kObjectReplacementUtf8;
    }
  };
  if (clock_.current) {
    // Now, only elements with width show anything; whole leaves of deleted characters are
    // skipped from above. Every character is at least a byte.
    s.reserve(o.seq.total_width(WidthUnit::kChars));
    o.seq.for_each_visible([&](SequenceIndex::Handle h) {
      const Element& e = o.elems[h];
      const std::span<const std::uint32_t> others = o.ops_of(h);
      append(others.empty() ? e.insert_op : winner(others, e.insert_op));
    });
    return s;
  }
  for (const SequenceIndex::Handle h : o.seq) {
    const Element& e = o.elems[h];
    append(winner(o.ops_of(h), e.insert_op));
  }
  return s;
}

void StateView::to_json(std::string& out, const Object& o) const {
  auto value_json = [&](const Op& op) {
    if (make_type(op.action)) {
      to_json(out, d_.opset().object(*d_.opset().object_index(op.id)));
    } else {
      json_scalar(out, std::get<ScalarValue>(value_of(op)));
    }
  };
  switch (o.type) {
    case ObjType::kMap:
    case ObjType::kTable: {
      out.push_back('{');
      bool first = true;
      for (const auto& [key, ops] : o.props) {
        const std::uint32_t w = winner(candidates(ops), kNone32);
        if (w == kNone32) continue;
        if (!first) out.push_back(',');
        first = false;
        json_string(out, key);
        out.push_back(':');
        value_json(d_.opset().op(w));
      }
      out.push_back('}');
      return;
    }
    case ObjType::kList: {
      out.push_back('[');
      bool first = true;
      auto element_json = [&](SequenceIndex::Handle h) {
        const Element& e = o.elems[h];
        const std::uint32_t w = winner(o.ops_of(h), e.insert_op);
        if (w == kNone32) return;
        if (!first) out.push_back(',');
        first = false;
        value_json(d_.opset().op(w));
      };
      if (clock_.current) {
        o.seq.for_each_visible(element_json);  // whole leaves of deleted items skipped from above
      } else {
        for (const SequenceIndex::Handle h : o.seq) element_json(h);
      }
      out.push_back(']');
      return;
    }
    case ObjType::kText:
      json_string(out, text(o));
      return;
  }
}

// Marks of a text or list, as maximal spans per name with a non-null winning value, sorted by
// name then start. Within a name the begin op with the greatest id wins where spans overlap.
std::vector<Mark> StateView::marks(const Object& o) const {
  struct Active {
    OpId begin;
    ScalarValue value;
  };
  std::map<std::string, std::vector<Active>> active;  // name -> open marks
  std::map<std::string, std::vector<Mark>> out;
  const WidthUnit unit = d_.unit_for(o);
  std::uint64_t pos = 0;
  for (const SequenceIndex::Handle h : o.seq) {
    const Op& op = d_.opset().op(o.elems[h].insert_op);
    if (op.action == Action::kMark) {
      if (!exists(op)) continue;  // made after these heads
      if (op.has_mark_name) {
        active[d_.opset().key_name(d_.opset().mark_name(op))].push_back(Active{op.id, op.value.get()});
      } else {
        // An end pairs with the begin whose counter is one less, same actor.
        for (auto& [name, list] : active) {
          auto it = std::find_if(list.begin(), list.end(), [&](const Active& a) {
            return a.begin.actor == op.id.actor && a.begin.counter + 1 == op.id.counter;
          });
          if (it != list.end()) {
            list.erase(it);
            break;
          }
        }
      }
      continue;
    }
    const SeqWidth sw = element_width(o, h);
    const std::uint64_t w = unit == WidthUnit::kUtf16 ? sw.utf16 : sw.chars;
    if (w == 0) continue;
    for (const auto& [name, list] : active) {
      const Active* best = nullptr;
      for (const Active& a : list) {
        if (!best || d_.actors().less(best->begin, a.begin)) best = &a;
      }
      if (!best || std::holds_alternative<Null>(best->value)) continue;
      auto& spans = out[name];
      if (!spans.empty() && spans.back().end == pos && spans.back().value == best->value) {
        spans.back().end = static_cast<std::size_t>(pos + w);
      } else {
        spans.push_back(Mark{name, best->value, static_cast<std::size_t>(pos),
                             static_cast<std::size_t>(pos + w)});
      }
    }
    pos += w;
  }
  std::vector<Mark> result;
  for (auto& [name, spans] : out) {
    for (auto& m : spans) result.push_back(std::move(m));
  }
  return result;
}


}  // namespace am::core
