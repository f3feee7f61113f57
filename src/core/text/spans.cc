// Spans of a text and hydrated block contents (core/text/rich_text_read.h).
//
// The spans walk follows marks the way StateView::marks() does (a markEnd closes the markBegin
// whose counter is one less, same actor; among overlapping marks of one name the greatest begin
// id wins; a null winner is no mark), so that spans and marks() always agree.
#include <algorithm>
#include <map>
#include <string>

#include "am/rich_text.h"
#include "core/json.h"
#include "core/text/rich_text_read.h"

namespace am {

bool operator==(const Hydrated& a, const Hydrated& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Hydrated::Kind::kScalar: return a.scalar == b.scalar;
    case Hydrated::Kind::kText: return a.text == b.text;
    case Hydrated::Kind::kList: return a.list == b.list;
    case Hydrated::Kind::kMap: return a.map == b.map;
  }
  return false;
}

namespace {

void append_json(std::string& out, const Hydrated& h) {
  switch (h.kind) {
    case Hydrated::Kind::kScalar: core::json_scalar(out, h.scalar); return;
    case Hydrated::Kind::kText: core::json_string(out, h.text); return;
    case Hydrated::Kind::kList: {
      out.push_back('[');
      for (std::size_t i = 0; i < h.list.size(); ++i) {
        if (i > 0) out.push_back(',');
        append_json(out, h.list[i]);
      }
      out.push_back(']');
      return;
    }
    case Hydrated::Kind::kMap: {
      out.push_back('{');
      bool first = true;
      for (const auto& [key, value] : h.map) {
        if (!first) out.push_back(',');
        first = false;
        core::json_string(out, key);
        out.push_back(':');
        append_json(out, value);
      }
      out.push_back('}');
      return;
    }
  }
}

}  // namespace

std::string to_json(const Hydrated& value) {
  std::string out;
  append_json(out, value);
  return out;
}

std::string to_json(const std::vector<Span>& spans) {
  std::string out = "[";
  for (const Span& s : spans) {
    if (out.size() > 1) out.push_back(',');
    if (s.kind == Span::Kind::kBlock) {
      out += "{\"type\":\"block\",\"value\":";
      Hydrated map;
      map.kind = Hydrated::Kind::kMap;
      map.map = s.block;
      append_json(out, map);
      out.push_back('}');
      continue;
    }
    out += "{\"type\":\"text\",\"value\":";
    core::json_string(out, s.text);
    if (!s.marks.empty()) {
      out += ",\"marks\":{";
      bool first = true;
      for (const auto& [name, value] : s.marks) {
        if (!first) out.push_back(',');
        first = false;
        core::json_string(out, name);
        out.push_back(':');
        core::json_scalar(out, value);
      }
      out.push_back('}');
    }
    out.push_back('}');
  }
  out.push_back(']');
  return out;
}

namespace core {
namespace {

Hydrated hydrate_op(const StateView& v, const Op& op) {
  const Document::Impl& d = v.doc();
  if (make_type(op.action)) return hydrate(v, d.opset().object(*d.opset().object_index(op.id)));
  return Hydrated::of(std::get<ScalarValue>(v.value_of(op)));
}

// The marks open at one point of a walk along a sequence, and the live set they give.
class MarkTracker {
 public:
  explicit MarkTracker(const Document::Impl& d) : d_(d) {}

  // A markBegin or markEnd element (that exists in the state).
  void step(const Op& op) {
    dirty_ = true;
    if (op.has_mark_name) {
      open_[d_.opset().key_name(d_.opset().mark_name(op))].push_back(Open{op.id, op.value.get()});
      return;
    }
    for (auto& [name, list] : open_) {
      auto it = std::find_if(list.begin(), list.end(), [&](const Open& a) {
        return a.begin.actor == op.id.actor && a.begin.counter + 1 == op.id.counter;
      });
      if (it != list.end()) {
        list.erase(it);
        return;
      }
    }
  }

  // name -> value of the marks covering the next element (null winners left out).
  const std::map<std::string, ScalarValue>& live() {
    if (!dirty_) return live_;
    dirty_ = false;
    live_.clear();
    for (const auto& [name, list] : open_) {
      const Open* best = nullptr;
      for (const Open& a : list) {
        if (!best || d_.actors().less(best->begin, a.begin)) best = &a;
      }
      if (best && !std::holds_alternative<Null>(best->value)) live_.emplace(name, best->value);
    }
    return live_;
  }

 private:
  struct Open {
    OpId begin;
    ScalarValue value;
  };
  const Document::Impl& d_;
  std::map<std::string, std::vector<Open>> open_;
  std::map<std::string, ScalarValue> live_;
  bool dirty_ = false;
};

}  // namespace

Hydrated hydrate(const StateView& v, const Object& o) {
  const Document::Impl& d = v.doc();
  switch (o.type) {
    case ObjType::kMap:
    case ObjType::kTable: {
      Hydrated out = Hydrated::map_of({});
      for (const auto& [key, ops] : o.props) {
        const std::uint32_t w = v.winner(v.candidates(ops), kNone32);
        if (w != kNone32) out.map.emplace(key, hydrate_op(v, d.opset().op(w)));
      }
      return out;
    }
    case ObjType::kList: {
      Hydrated out = Hydrated::list_of({});
      for (const SequenceIndex::Handle h : o.seq) {
        if (v.element_width(o, h).chars == 0) continue;  // not visible in this state
        const Element& e = o.elems[h];
        out.list.push_back(hydrate_op(v, d.opset().op(v.winner(o.ops_of(h), e.insert_op))));
      }
      return out;
    }
    case ObjType::kText:
      return Hydrated::text_of(v.text(o));
  }
  return {};
}

std::vector<Span> spans_of(const StateView& v, const Object& o) {
  const Document::Impl& d = v.doc();
  MarkTracker marks(d);
  std::vector<Span> out;
  bool in_run = false;  // whether out.back() is a text run that the next character may extend
  for (const SequenceIndex::Handle h : o.seq) {
    const Element& e = o.elems[h];
    const Op& first = d.opset().op(e.insert_op);
    if (first.action == Action::kMark) {
      if (v.exists(first)) marks.step(first);
      continue;
    }
    if (v.element_width(o, h).chars == 0) continue;  // deleted, or not there yet
    const Op& op = d.opset().op(v.winner(o.ops_of(h), e.insert_op));
    if (op.action == Action::kMakeMap) {
      Span block;
      block.kind = Span::Kind::kBlock;
      block.block = hydrate(v, d.opset().object(*d.opset().object_index(op.id))).map;
      out.push_back(std::move(block));
      in_run = false;
      continue;
    }
    // Other objects and non-string scalars in a text are not part of any span (the reference
    // skips them too).
    if (op.action != Action::kSet || !op.value.is_string()) continue;
    const auto& live = marks.live();
    if (!in_run || out.back().marks != live) {
      Span run;
      run.marks = live;
      out.push_back(std::move(run));
      in_run = true;
    }
    out.back().text += op.value.str();
  }
  return out;
}

}  // namespace core
}  // namespace am
