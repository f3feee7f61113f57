// Patches from the log of local edits (core/local_patch_log.h), folded as the reference folds
// its patch log: events grouped by object (a stable sort by object id, so each object's events
// keep their order), and each event joined to the patch before it where it continues it (an
// insert or splice inside the one before, a delete inside an insert or splice, which then
// shrinks or goes, a delete at the index of the delete before). Paths are read in the current
// state; an event on an object that is no longer reachable gives no patch.
#include <algorithm>
#include <optional>
#include <unordered_map>

#include "core/encoding/utf8.h"
#include "core/history_view.h"
#include "core/local_patch_log.h"

namespace am::core {

void LocalPatchLog::mark(std::uint32_t object, std::size_t start, std::size_t end, const std::string& name,
                         const ScalarValue& value) {
  if (!recording()) return;
  const std::size_t len = end > start ? end - start : 0;
  if (events_.empty() || events_.back().kind != LocalEvent::Kind::kMark || events_.back().object != object) {
    LocalEvent e;
    e.kind = LocalEvent::Kind::kMark;
    e.object = object;
    add(std::move(e));
    if (!recording()) return;  // the log overflowed
  }
  // Spans stay grouped by name, in name order; within a name, a span that continues the last
  // one with the same value extends it.
  std::vector<Mark>& spans = events_.back().spans;
  auto after_name = std::upper_bound(spans.begin(), spans.end(), name,
                                     [](const std::string& n, const Mark& m) { return n < m.name; });
  if (after_name != spans.begin()) {
    Mark& last = *(after_name - 1);
    if (last.name == name && last.value == value && last.end == start) {
      last.end = start + len;
      return;
    }
  }
  spans.insert(after_name, Mark{name, value, start, start + len});
}

namespace {

// Text widths in the document's unit, and unit offsets as byte offsets, of a UTF-8 string.
std::size_t units_of(std::string_view s, WidthUnit unit) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t len = enc::utf8_sequence_length(s[i]);
    n += unit == WidthUnit::kUtf16 ? enc::utf16_units(len) : 1;
    i += len;
  }
  return n;
}

std::size_t byte_at_unit(std::string_view s, std::size_t units, WidthUnit unit) {
  std::size_t i = 0;
  for (std::size_t n = 0; i < s.size() && n < units;) {
    const std::size_t len = enc::utf8_sequence_length(s[i]);
    n += unit == WidthUnit::kUtf16 ? enc::utf16_units(len) : 1;
    i += len;
  }
  return std::min(i, s.size());
}

class LocalPatchBuilder {
 public:
  explicit LocalPatchBuilder(const Document::Impl& d) : d_(d) {}

  void event(const LocalEvent& e) {
    switch (e.kind) {
      case LocalEvent::Kind::kPut: put(e); break;
      case LocalEvent::Kind::kInsert: insert(e); break;
      case LocalEvent::Kind::kSplice: splice(e); break;
      case LocalEvent::Kind::kDeleteSeq: delete_seq(e); break;
      case LocalEvent::Kind::kDeleteKey: keyed(e, Patch::Kind::kDelete); break;
      case LocalEvent::Kind::kIncrement: keyed(e, Patch::Kind::kIncrement); break;
      case LocalEvent::Kind::kMark: mark(e); break;
    }
  }

  std::vector<Patch> take() { return std::move(patches_); }

 private:
  // The current path of object `oi`, or nullptr when it is not reachable from the root.
  const std::vector<Prop>* path_of(std::uint32_t oi) {
    auto [it, fresh] = paths_.try_emplace(oi);
    if (fresh) it->second = reachable_path(oi);
    return it->second ? &*it->second : nullptr;
  }

  std::optional<std::vector<Prop>> reachable_path(std::uint32_t oi) const {
    const OpSet& ops = d_.opset();
    std::vector<Prop> path;
    while (oi != kRootObject) {
      const Object& o = ops.object(oi);
      const std::uint32_t make = *ops.op_index(o.id);
      const Op& mk = ops.op(make);
      const Object& parent = ops.object(mk.obj);
      if (is_sequence(parent.type)) {
        const std::uint32_t h = mk.key;
        const Element& e = parent.elems[h];
        if (ops.winner(parent.ops_of(h), e.insert_op) != make) return std::nullopt;
        path.emplace_back(static_cast<std::size_t>(parent.seq.offset_of(h, d_.unit_for(parent))));
      } else {
        const std::string& name = ops.key_name(mk.key);
        const auto it = parent.props.find(name);
        if (it == parent.props.end() || ops.winner(it->second.live(), kNone32) != make) return std::nullopt;
        path.emplace_back(name);
      }
      oi = mk.obj;
    }
    std::reverse(path.begin(), path.end());
    return path;
  }

  // The last patch, when it is on object `oi` (it may then be continued).
  Patch* tail(std::uint32_t oi) { return !patches_.empty() && objects_.back() == oi ? &patches_.back() : nullptr; }

  // A new patch on `oi` at its path plus `last` (if any); false when `oi` is unreachable.
  Patch* push(std::uint32_t oi, Patch::Kind kind, const Prop* last) {
    const std::vector<Prop>* path = path_of(oi);
    if (path == nullptr) return nullptr;
    Patch p;
    p.kind = kind;
    p.path = *path;
    if (last != nullptr) p.path.push_back(*last);
    patches_.push_back(std::move(p));
    objects_.push_back(oi);
    last_splice_marks_.clear();
    return &patches_.back();
  }

  void pop() {
    patches_.pop_back();
    objects_.pop_back();
  }

  static std::size_t index_of(const Patch& p) { return std::get<std::size_t>(p.path.back()); }
  WidthUnit unit_of(std::uint32_t oi) const { return d_.unit_for(d_.opset().object(oi)); }

  void put(const LocalEvent& e) {
    if (Patch* p = push(e.object, Patch::Kind::kPut, &e.prop)) p->value = e.value;
  }

  void keyed(const LocalEvent& e, Patch::Kind kind) {
    if (Patch* p = push(e.object, kind, &e.prop)) p->increment = e.by;
  }

  void insert(const LocalEvent& e) {
    if (Patch* t = tail(e.object); t && t->kind == Patch::Kind::kInsert) {
      const std::size_t at = index_of(*t);
      if (e.index >= at && e.index <= at + t->values.size()) {
        t->values.insert(t->values.begin() + static_cast<std::ptrdiff_t>(e.index - at), e.value);
        return;
      }
    }
    const Prop index(e.index);
    if (Patch* p = push(e.object, Patch::Kind::kInsert, &index)) p->values.push_back(e.value);
  }

  void splice(const LocalEvent& e) {
    const WidthUnit unit = unit_of(e.object);
    if (Patch* t = tail(e.object); t && t->kind == Patch::Kind::kSpliceText && e.marks == last_splice_marks_) {
      const std::size_t at = index_of(*t);
      if (e.index >= at && e.index <= at + units_of(t->text, unit)) {
        t->text.insert(byte_at_unit(t->text, e.index - at, unit), e.text);
        return;
      }
    }
    const Prop index(e.index);
    if (Patch* p = push(e.object, Patch::Kind::kSpliceText, &index)) {
      p->text = e.text;
      p->inserted_marks = e.marks;
      last_splice_marks_ = e.marks;
    }
  }

  void delete_seq(const LocalEvent& e) {
    if (e.length == 0) return;
    if (Patch* t = tail(e.object); t && (t->kind == Patch::Kind::kSpliceText || t->kind == Patch::Kind::kInsert ||
                                         (t->kind == Patch::Kind::kDelete && !t->path.empty() &&
                                          std::holds_alternative<std::size_t>(t->path.back())))) {
      const std::size_t at = index_of(*t);
      const std::size_t last = e.index + e.length - 1;
      if (t->kind == Patch::Kind::kSpliceText) {
        const WidthUnit unit = unit_of(e.object);
        if (e.index >= at && last < at + units_of(t->text, unit)) {
          const std::size_t from = byte_at_unit(t->text, e.index - at, unit);
          t->text.erase(from, byte_at_unit(t->text, e.index - at + e.length, unit) - from);
          if (t->text.empty()) pop();
          return;
        }
      } else if (t->kind == Patch::Kind::kInsert) {
        if (e.index >= at && last < at + t->values.size()) {
          const auto first = t->values.begin() + static_cast<std::ptrdiff_t>(e.index - at);
          t->values.erase(first, first + static_cast<std::ptrdiff_t>(e.length));
          if (t->values.empty()) pop();
          return;
        }
      } else if (at == e.index) {  // a delete at the same index: one longer delete
        t->length += e.length;
        return;
      }
    }
    const Prop index(e.index);
    if (Patch* p = push(e.object, Patch::Kind::kDelete, &index)) p->length = e.length;
  }

  void mark(const LocalEvent& e) {
    if (Patch* t = tail(e.object); t && t->kind == Patch::Kind::kMark) {
      t->marks.insert(t->marks.end(), e.spans.begin(), e.spans.end());
      return;
    }
    if (e.spans.empty()) return;
    if (Patch* p = push(e.object, Patch::Kind::kMark, nullptr)) p->marks = e.spans;
  }

  const Document::Impl& d_;
  std::vector<Patch> patches_;
  std::vector<std::uint32_t> objects_;  // the object of each patch
  // The marks of the last splice pushed (the reference compares a splice's marks with these,
  // which a push of any other patch clears).
  std::map<std::string, ScalarValue> last_splice_marks_;
  std::unordered_map<std::uint32_t, std::optional<std::vector<Prop>>> paths_;
};

}  // namespace

std::vector<Patch> local_patches(const Document::Impl& d, const LocalPatchLog& log) {
  const std::vector<LocalEvent>& events = log.events();
  std::vector<const LocalEvent*> order;
  order.reserve(events.size());
  for (const LocalEvent& e : events) order.push_back(&e);
  std::stable_sort(order.begin(), order.end(), [&](const LocalEvent* a, const LocalEvent* b) {
    return a->object != b->object && d.actors().less(d.opset().object(a->object).id, d.opset().object(b->object).id);
  });
  LocalPatchBuilder builder(d);
  for (const LocalEvent* e : order) builder.event(*e);
  return builder.take();
}

}  // namespace am::core
