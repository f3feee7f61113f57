// Diffing two states of a document into patches shaped as the reference's (core/history_view.h).
#include <algorithm>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/encoding/utf8.h"
#include "core/history_view.h"

namespace am::core {
namespace {

// The marks of one state along a walk in index order: the value of each mark name at a
// position, from the state's spans. Unmarked text (a null winning value) has no entry, as text
// never marked: the reference compares the two alike (changed_marks).
class MarkCursor {
 public:
  explicit MarkCursor(std::vector<Mark> spans) {
    for (Mark& m : spans) by_name_[m.name].spans.push_back(std::move(m));
  }
  bool empty() const { return by_name_.empty(); }
  /// REQUIRES: `at` never decreases from one call to the next.
  std::map<std::string, ScalarValue> at(std::size_t at) {
    std::map<std::string, ScalarValue> out;
    for (auto& [name, run] : by_name_) {
      while (run.next < run.spans.size() && run.spans[run.next].end <= at) ++run.next;
      if (run.next < run.spans.size() && run.spans[run.next].start <= at) out.emplace(name, run.spans[run.next].value);
    }
    return out;
  }

 private:
  struct Run {
    std::vector<Mark> spans;  // sorted by start, disjoint
    std::size_t next = 0;
  };
  std::map<std::string, Run> by_name_;
};

// Whether the value of a place lost all its concurrent values (given how many values it has in
// the state before and after) while its winner stays: see Differ::put_again and stable_path.
bool losers_gone(std::size_t n_before, std::size_t n_after) { return n_before > 1 && n_after == 1; }

// Builds the patches of one object, recursing into nested objects. `fresh` means the object
// did not exist (or was replaced) before: everything in it is new.
class Differ {
 public:
  /// `touched`: only some keys are walked (touched_object); nested objects are then walked
  /// through their own entries, never from their parent (unless new there).
  Differ(const StateView& before, const StateView& after, bool touched = false)
      : before_(before), after_(after), touched_(touched) {}

  // The reference orders patches object by object, in object id order (the root first), each
  // object's own patches in key or index order; so every object's patches go to a bucket of
  // their own, and take() concatenates the buckets sorted by id.
  void object(const Object& o, std::vector<Prop>& path, bool fresh) {
    const std::size_t outer = current_;
    current_ = buckets_.size();
    buckets_.push_back(Bucket{o.id, {}});
    if (is_sequence(o.type)) {
      sequence(o, path, fresh);
    } else {
      map(o, path, fresh);
    }
    current_ = outer;
  }

  // The patches of the touched `keys` of an object that is at `path` in both states (a sequence
  // with marks, or with many touched elements, is walked whole: marks span untouched elements).
  void touched_object(const Object& o, std::vector<Prop>& path, std::span<const std::uint32_t> keys) {
    const std::size_t outer = current_;
    current_ = buckets_.size();
    buckets_.push_back(Bucket{o.id, {}});
    if (!is_sequence(o.type)) {
      std::vector<std::string_view> names;
      names.reserve(keys.size());
      for (std::uint32_t k : keys) names.push_back(ops().key_name(k));
      std::sort(names.begin(), names.end());  // o.props order
      for (std::string_view name : names) {
        if (auto it = o.props.find(name); it != o.props.end()) map_key(it->first, it->second, path, false);
      }
    } else if (o.has_marks || keys.size() * 4 > o.elems.size()) {
      sequence(o, path, false);
    } else {
      std::vector<std::pair<std::size_t, std::uint32_t>> order;  // (position, handle)
      order.reserve(keys.size());
      for (std::uint32_t h : keys) order.emplace_back(o.seq.index_of(h), h);
      std::sort(order.begin(), order.end());
      pending_marks_.clear();
      SeqWalk walk = seq_walk(o, false, false);
      for (const auto& [position, h] : order) {
        // Elements before this one are as they are after (their patches came first): its index
        // after is its offset now.
        walk.index = o.seq.offset_of(h, walk.unit);
        element(walk, h, path);
      }
    }
    current_ = outer;
  }

  std::vector<Patch> take() {
    const auto& actors = after_.doc().actors();
    std::stable_sort(buckets_.begin(), buckets_.end(),
                     [&](const Bucket& a, const Bucket& b) { return actors.less(a.id, b.id); });
    std::vector<Patch> out;
    for (Bucket& b : buckets_) {
      for (Patch& p : b.patches) {
        // The reference gathers mark changes until the next other patch, whichever object they
        // are in: adjacent mark patches become one, under the first one's path.
        if (p.kind == Patch::Kind::kMark && !out.empty() && out.back().kind == Patch::Kind::kMark) {
          std::vector<Mark>& into = out.back().marks;
          into.insert(into.end(), p.marks.begin(), p.marks.end());
          std::stable_sort(into.begin(), into.end(), [](const Mark& x, const Mark& y) {
            return x.name != y.name ? x.name < y.name : x.start < y.start;
          });
          continue;
        }
        out.push_back(std::move(p));
      }
    }
    return out;
  }

 private:
  struct Bucket {
    OpId id;
    std::vector<Patch> patches;
    std::size_t splice_width = 0;  // of the last patch, when it is a splice (in the walk's units)
  };

  const OpSet& ops() const { return after_.doc().opset(); }

  // A value that changed: put it, and describe a new object's contents.
  void put_value(const Op& op, std::vector<Prop>& path, bool conflict) {
    Patch p;
    p.kind = Patch::Kind::kPut;
    p.path = path;
    p.value = after_.value_of(op);
    p.conflict = conflict;
    patches_ptr()->push_back(std::move(p));
    if (make_type(op.action)) object(ops().object(*ops().object_index(op.id)), path, true);
  }

  // Whether a visible op other than the winner `wa` is new: not visible in the state before
  // (for a diff backwards, one that was overwritten there counts too).
  bool new_loser(std::span<const std::uint32_t> list, std::uint32_t insert_op, std::uint32_t wa) const {
    for (std::uint32_t i : after_.visible_ops(list, insert_op)) {
      if (i != wa && !before_.visible(ops().op(i))) return true;
    }
    return false;
  }

  // Whether an op other than the winner `wa` is visible in both states. The reference's log
  // takes a value as conflicted already only through such ops: one that the new ops overwrite
  // does not count (op_set2/change/batch.rs, OpValueOption::set).
  bool kept_loser(std::span<const std::uint32_t> before_list, std::uint32_t insert_op, std::uint32_t wa) const {
    for (std::uint32_t i : before_.visible_ops(before_list, insert_op)) {
      if (i != wa && after_.visible(ops().op(i))) return true;
    }
    return false;
  }

  // The winner `wa` stays and the value is to be flagged `conflict`. A list element: when a new
  // op is a loser, in the log and the diff alike. A map key or a text character: in the log when
  // a new op is a loser and no loser it had stays; in the full diff when it had none and now has
  // one (the diff flags it as the log does: a `put` with `conflict` in neither).
  bool gains_conflict(std::span<const std::uint32_t> before_list, std::span<const std::uint32_t> after_list,
                      std::uint32_t insert_op, std::uint32_t wa, std::size_t n_before, std::size_t n_after,
                      bool list) const {
    if (n_after < 2) return false;
    if (list) return new_loser(after_list, insert_op, wa);
    if (!touched_) return n_before == 1;
    return new_loser(after_list, insert_op, wa) && !kept_loser(before_list, insert_op, wa);
  }

  // How much a counter that is the winner in both states grew (0 for any other value).
  std::int64_t counter_growth(const Op& op) const {
    if (!op.is_counter()) return 0;
    const auto b = std::get<Counter>(std::get<ScalarValue>(before_.value_of(op))).value;
    const auto a = std::get<Counter>(std::get<ScalarValue>(after_.value_of(op))).value;
    return a - b;
  }

  // The winner `wa` stays with all its losers gone: a map key or a list element is put again,
  // without `conflict` (the reference's diff and log alike: iter/map_range.rs, MapDiff; batch.rs:
  // the winner is exposed), but a counter that grew is incremented instead.
  bool put_again(const Op& op, std::size_t n_before, std::size_t n_after) const {
    return losers_gone(n_before, n_after) && counter_growth(op) == 0;
  }

  void conflict(const std::vector<Prop>& path) {
    Patch p;
    p.kind = Patch::Kind::kConflict;
    p.path = path;
    patches_ptr()->push_back(std::move(p));
  }

  // The same op is the winner in both states: report counter growth (unless `gained`: a new
  // value loses to it, and the reference then reports the increment in neither its diff nor its
  // log) and nested changes.
  void same_value(const Op& op, std::vector<Prop>& path, bool gained) {
    if (const std::int64_t n = gained ? 0 : counter_growth(op); n != 0) {
      Patch p;
      p.kind = Patch::Kind::kIncrement;
      p.path = path;
      p.increment = n;
      patches_ptr()->push_back(std::move(p));
    }
    if (make_type(op.action) && !touched_) object(ops().object(*ops().object_index(op.id)), path, false);
  }

  void map(const Object& o, std::vector<Prop>& path, bool fresh) {
    for (const auto& [key, list] : o.props) map_key(key, list, path, fresh);
  }

  void map_key(const std::string& key, const KeyOps& list, std::vector<Prop>& path, bool fresh) {
    const std::uint32_t wb = fresh ? kNone32 : before_.winner(before_.candidates(list), kNone32);
    const std::uint32_t wa = after_.winner(after_.candidates(list), kNone32);
    path.push_back(key);
    if (wa == kNone32) {
      if (wb != kNone32) {
        Patch p;
        p.kind = Patch::Kind::kDelete;
        p.path = path;
        patches_ptr()->push_back(std::move(p));
      }
    } else {
      const std::size_t n_after = after_.visible_ops(after_.candidates(list), kNone32).size();
      const std::size_t n_before = fresh ? 0 : before_.visible_ops(before_.candidates(list), kNone32).size();
      const Op& op = ops().op(wa);
      if (wa != wb || put_again(op, n_before, n_after)) {
        put_value(op, path, n_after > 1);
      } else {
        if (gains_conflict(before_.candidates(list), after_.candidates(list), kNone32, wa, n_before, n_after, false)) {
          conflict(path);
        }
        same_value(op, path, n_after > 1 && new_loser(after_.candidates(list), kNone32, wa));
      }
    }
    path.pop_back();
  }

  // A walk over a sequence's elements in index order.
  struct SeqWalk {
    const Object& o;
    bool fresh;
    bool text;
    WidthUnit unit;
    MarkCursor marks_before;
    MarkCursor marks_after;
    bool marked;
    std::size_t index = 0;   // in the state after
    std::size_t bindex = 0;  // in the state before (only read for marks)
    std::size_t units(SeqWidth w) const { return unit == WidthUnit::kUtf16 ? w.utf16 : w.chars; }
  };

  SeqWalk seq_walk(const Object& o, bool fresh, bool with_marks) const {
    MarkCursor mb(fresh || !with_marks ? std::vector<Mark>{} : before_.marks(o));
    MarkCursor ma(with_marks ? after_.marks(o) : std::vector<Mark>{});
    const bool marked = !mb.empty() || !ma.empty();
    return SeqWalk{o, fresh, o.type == ObjType::kText, after_.doc().unit_for(o), std::move(mb), std::move(ma), marked};
  }

  // Walks the elements in order. Marks: an element present in both states whose marks differ
  // adds to pending mark spans, sent as one mark patch before the next other patch of the
  // object (and at its end), as the reference does; inserted text carries its marks inline.
  void sequence(const Object& o, std::vector<Prop>& path, bool fresh) {
    pending_marks_.clear();
    SeqWalk walk = seq_walk(o, fresh, true);
    for (const SequenceIndex::Handle h : o.seq) element(walk, h, path);
    flush_marks(path);
  }

  // One element of a walk: its patches, and the walk moved past it.
  void element(SeqWalk& w, SequenceIndex::Handle h, std::vector<Prop>& path) {
    const Element& e = w.o.elems[h];
    const std::span<const std::uint32_t> e_ops = w.o.ops_of(h);
    const std::uint32_t wb = w.fresh ? kNone32 : before_.winner(e_ops, e.insert_op);
    const std::uint32_t wa = after_.winner(e_ops, e.insert_op);
    if (wb == kNone32 && wa == kNone32) return;
    const std::size_t bw = wb == kNone32 ? 0 : w.units(before_.element_width(w.o, h));
    const std::size_t b_at = w.bindex;
    w.bindex += bw;
    if (wb != kNone32 && (wa == kNone32 || wa != wb)) {
      flush_marks(path);
      if (wa == kNone32 || w.text) {
        remove(path, w.index, bw);
        if (wa == kNone32) return;
      } else {
        // A list element overwritten: put the new value in place.
        path.push_back(w.index);
        put_value(ops().op(wa), path, after_.visible_ops(e_ops, e.insert_op).size() > 1);
        path.pop_back();
        w.index += 1;
        return;
      }
    }
    const Op& op = ops().op(wa);
    const std::size_t width = w.units(after_.element_width(w.o, h));
    if (wb == kNone32 || (w.text && wa != wb)) {
      flush_marks(path);
      if (w.text && !make_type(op.action)) {
        std::map<std::string, ScalarValue> inline_marks;
        if (w.marked) inline_marks = w.marks_after.at(w.index);
        splice(path, w.index, width, op, std::move(inline_marks));
      } else {
        // A block marker (a map in a text) is an inserted object, as in a list: without the
        // marks around it (the reference's diff and log both leave them off).
        insert(path, w.index, op, after_.visible_ops(e_ops, e.insert_op).size() > 1);
      }
      w.index += width;
      return;
    }
    if (w.marked) changed_marks(w.marks_before.at(b_at), w.marks_after.at(w.index), w.index, width);
    // The value stays. It can have concurrent values only with ops on the element besides its
    // insert. A text character is flagged as a map key is, and never put again: where a list
    // element would be, the reference's diff reports nothing for it.
    std::size_t n_before = 1, n_after = 1;
    if (!e_ops.empty()) {
      n_before = before_.visible_ops(e_ops, e.insert_op).size();
      n_after = after_.visible_ops(e_ops, e.insert_op).size();
    }
    const bool again = !w.text && put_again(op, n_before, n_after);
    if (again) flush_marks(path);
    path.push_back(w.index);
    if (again) {
      put_value(op, path, false);
    } else {
      if (gains_conflict(e_ops, e_ops, e.insert_op, wa, n_before, n_after, !w.text)) conflict(path);
      same_value(op, path, n_after > 1 && new_loser(e_ops, e.insert_op, wa));
    }
    path.pop_back();
    w.index += width;
  }

  // Adds the marks that differ between an element's two states to the pending spans: a new or
  // changed value, or null where a mark is gone. As in the reference, text unmarked (null) and
  // text never marked are alike, so an unmark reports only where it hides a mark of the other
  // state, and a mark and an unmark inside it made after `from` give just the marked parts.
  void changed_marks(const std::map<std::string, ScalarValue>& before, const std::map<std::string, ScalarValue>& after,
                     std::size_t index, std::size_t width) {
    auto add = [&](const std::string& name, const ScalarValue& value) {
      for (auto it = pending_marks_.rbegin(); it != pending_marks_.rend(); ++it) {
        if (it->name != name) continue;
        if (it->end == index && it->value == value) {
          it->end = index + width;
          return;
        }
        break;
      }
      pending_marks_.push_back(Mark{name, value, index, index + width});
    };
    for (const auto& [name, value] : after) {
      auto it = before.find(name);
      if (it == before.end() || !(it->second == value)) add(name, value);
    }
    for (const auto& [name, value] : before) {
      if (!after.count(name)) add(name, ScalarValue(Null{}));
    }
  }

  void flush_marks(const std::vector<Prop>& path) {
    if (pending_marks_.empty()) return;
    std::stable_sort(pending_marks_.begin(), pending_marks_.end(), [](const Mark& a, const Mark& b) {
      return a.name != b.name ? a.name < b.name : a.start < b.start;
    });
    Patch p;
    p.kind = Patch::Kind::kMark;
    p.path = path;
    p.marks = std::move(pending_marks_);
    pending_marks_.clear();
    patches_ptr()->push_back(std::move(p));
  }

  bool continues(const Patch& last, Patch::Kind kind, const std::vector<Prop>& path, std::size_t index) const {
    if (last.kind != kind || last.path.size() != path.size() + 1) return false;
    if (!std::equal(path.begin(), path.end(), last.path.begin())) return false;
    const std::size_t at = std::get<std::size_t>(last.path.back());
    switch (kind) {
      case Patch::Kind::kDelete: return at == index;
      case Patch::Kind::kInsert: return at + last.values.size() == index;
      case Patch::Kind::kSpliceText: return at + buckets_[current_].splice_width == index;
      default: return false;
    }
  }

  void remove(std::vector<Prop>& path, std::size_t index, std::size_t width) {
    if (!patches_ptr()->empty() && continues(patches_ptr()->back(), Patch::Kind::kDelete, path, index)) {
      patches_ptr()->back().length += width;
      return;
    }
    Patch p;
    p.kind = Patch::Kind::kDelete;
    p.path = path;
    p.path.push_back(index);
    p.length = width;
    patches_ptr()->push_back(std::move(p));
  }

  void insert(std::vector<Prop>& path, std::size_t index, const Op& op, bool conflicted) {
    // Consecutive inserted elements (objects too) make one patch; an object's contents follow in
    // its own bucket.
    Patch* p = nullptr;
    if (!patches_ptr()->empty() && continues(patches_ptr()->back(), Patch::Kind::kInsert, path, index)) {
      p = &patches_ptr()->back();
    } else {
      Patch fresh_patch;
      fresh_patch.kind = Patch::Kind::kInsert;
      fresh_patch.path = path;
      fresh_patch.path.push_back(index);
      patches_ptr()->push_back(std::move(fresh_patch));
      p = &patches_ptr()->back();
    }
    p->values.push_back(after_.value_of(op));
    if (conflicted) {
      p->conflicts.resize(p->values.size() - 1, false);
      p->conflicts.push_back(true);
    } else if (!p->conflicts.empty()) {
      p->conflicts.push_back(false);
    }
    if (make_type(op.action)) {
      path.push_back(index);
      object(ops().object(*ops().object_index(op.id)), path, true);
      path.pop_back();
    }
  }

  /// `width`: the element's, in the walk's units.
  void splice(std::vector<Prop>& path, std::size_t index, std::size_t width, const Op& op,
              std::map<std::string, ScalarValue> marks) {
    const std::string s = (op.action == Action::kSet && op.value.is_string())
                              ? std::string(op.value.str())
                              : std::string(enc::kObjectReplacementUtf8);
    // One splice per run of inserted text with the same marks.
    if (!patches_ptr()->empty() && continues(patches_ptr()->back(), Patch::Kind::kSpliceText, path, index) &&
        patches_ptr()->back().inserted_marks == marks) {
      patches_ptr()->back().text += s;
      buckets_[current_].splice_width += width;
      return;
    }
    Patch p;
    p.kind = Patch::Kind::kSpliceText;
    p.path = path;
    p.path.push_back(index);
    p.text = s;
    p.inserted_marks = std::move(marks);
    patches_ptr()->push_back(std::move(p));
    buckets_[current_].splice_width = width;
  }

  const StateView& before_;
  const StateView& after_;
  const bool touched_;
  std::vector<Bucket> buckets_;
  std::size_t current_ = 0;
  std::vector<Mark> pending_marks_;  // of the sequence being walked
  std::vector<Patch>* patches_ptr() { return &buckets_[current_].patches; }
};

// losers_gone at a place: its winner (an object, so never a counter) is put again with all its
// contents (Differ::put_again), so an object there is covered by its parent's patches.
bool losers_went(const StateView& before, const StateView& after, std::span<const std::uint32_t> before_list,
                 std::span<const std::uint32_t> after_list, std::uint32_t insert_op) {
  return losers_gone(before.visible_ops(before_list, insert_op).size(), after.visible_ops(after_list, insert_op).size());
}

// The path of object `oi` when it is the winner at the same place in both states, so that the
// (touched) diff of its parent leaves it to its own entry; nullopt otherwise (new, gone or
// replaced: its parent's patches cover it).
std::optional<std::vector<Prop>> stable_path(const StateView& before, const StateView& after, std::uint32_t oi) {
  const Document::Impl& d = after.doc();
  std::vector<Prop> path;
  while (oi != kRootObject) {
    const Object& o = d.opset().object(oi);
    const std::uint32_t make = *d.opset().op_index(o.id);
    const Op& mk = d.opset().op(make);
    const Object& parent = d.opset().object(mk.obj);
    if (is_sequence(parent.type)) {
      const std::uint32_t h = mk.key;
      const Element& e = parent.elems[h];
      const auto e_ops = parent.ops_of(h);
      if (after.winner(e_ops, e.insert_op) != make || before.winner(e_ops, e.insert_op) != make) return std::nullopt;
      if (parent.type != ObjType::kText && losers_went(before, after, e_ops, e_ops, e.insert_op)) return std::nullopt;
      path.emplace_back(static_cast<std::size_t>(parent.seq.offset_of(h, d.unit_for(parent))));
    } else {
      const std::string& name = d.opset().key_name(mk.key);
      const auto it = parent.props.find(name);
      if (it == parent.props.end()) return std::nullopt;
      const KeyOps& k = it->second;
      if (after.winner(after.candidates(k), kNone32) != make || before.winner(before.candidates(k), kNone32) != make ||
          losers_went(before, after, before.candidates(k), after.candidates(k), kNone32)) {
        return std::nullopt;
      }
      path.emplace_back(name);
    }
    oi = mk.obj;
  }
  std::reverse(path.begin(), path.end());
  return path;
}

}  // namespace

std::vector<Patch> diff_touched(const StateView& before, const StateView& after, const TouchLog& log) {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> entries = log.entries;
  std::sort(entries.begin(), entries.end());
  entries.erase(std::unique(entries.begin(), entries.end()), entries.end());
  struct Touched {
    std::uint32_t object;
    std::size_t begin, end;  // its keys in `keys`
  };
  std::vector<Touched> objects;
  std::vector<std::uint32_t> keys;
  keys.reserve(entries.size());
  for (const auto& [oi, key] : entries) {
    if (objects.empty() || objects.back().object != oi) objects.push_back(Touched{oi, keys.size(), keys.size()});
    keys.push_back(key);
    objects.back().end = keys.size();
  }
  const Document::Impl& d = after.doc();
  std::sort(objects.begin(), objects.end(), [&](const Touched& a, const Touched& b) {
    return d.actors().less(d.opset().object(a.object).id, d.opset().object(b.object).id);
  });
  Differ differ(before, after, true);
  for (const Touched& t : objects) {
    std::optional<std::vector<Prop>> path = stable_path(before, after, t.object);
    if (!path) continue;
    differ.touched_object(d.opset().object(t.object), *path,
                          std::span<const std::uint32_t>(keys).subspan(t.begin, t.end - t.begin));
  }
  return differ.take();
}

std::vector<Patch> diff_states(const StateView& before, const StateView& after) {
  Differ differ(before, after);
  std::vector<Prop> path;
  differ.object(after.doc().opset().object(kRootObject), path, false);
  return differ.take();
}

}  // namespace am::core
