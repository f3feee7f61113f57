// Diffing two states of a document into patches shaped as the reference's (core/history_view.h).
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "core/encoding/utf8.h"
#include "core/history_view.h"

namespace am::core {
namespace {

// The marks of one state along a walk in index order: the value of each mark name at a
// position (Null where it was unmarked), from the state's spans.
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

// Builds the patches of one object, recursing into nested objects. `fresh` means the object
// did not exist (or was replaced) before: everything in it is new.
class Differ {
 public:
  Differ(const StateView& before, const StateView& after) : before_(before), after_(after) {}

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

  std::vector<Patch> take() {
    const auto& actors = after_.doc().actors;
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
  };

  const OpSet& ops() const { return after_.doc().opset; }

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
        patches_ptr()->push_back(std::move(p));
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
          patches_ptr()->push_back(std::move(p));
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

  // Walks the elements in order. Marks: an element present in both states whose marks differ
  // adds to pending mark spans, sent as one mark patch before the next other patch of the
  // object (and at its end), as the reference does; inserted text carries its marks inline.
  void sequence(const Object& o, std::vector<Prop>& path, bool fresh) {
    const bool text = o.type == ObjType::kText;
    const WidthUnit unit = after_.doc().unit_for(o);
    MarkCursor marks_before(fresh ? std::vector<Mark>{} : before_.marks(o, true));
    MarkCursor marks_after(after_.marks(o, true));
    const bool marked = !marks_before.empty() || !marks_after.empty();
    pending_marks_.clear();
    std::size_t index = 0;   // in the state after
    std::size_t bindex = 0;  // in the state before
    auto units = [&](SeqWidth w) -> std::size_t { return unit == WidthUnit::kUtf16 ? w.utf16 : w.chars; };
    for (const SequenceIndex::Handle h : o.seq) {
      const Element& e = o.elems[h];
      const std::uint32_t wb = fresh ? kNone32 : before_.winner(e.ops, e.insert_op);
      const std::uint32_t wa = after_.winner(e.ops, e.insert_op);
      if (wb == kNone32 && wa == kNone32) continue;
      const std::size_t bw = wb == kNone32 ? 0 : units(before_.element_width(o, h));
      const std::size_t b_at = bindex;
      bindex += bw;
      if (wb != kNone32 && (wa == kNone32 || wa != wb)) {
        flush_marks(path);
        if (wa == kNone32 || text) {
          remove(path, index, bw);
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
      if (wb == kNone32 || (text && wa != wb)) {
        flush_marks(path);
        std::map<std::string, ScalarValue> inline_marks;
        if (marked) {
          for (auto& [name, value] : marks_after.at(index)) {
            if (!std::holds_alternative<Null>(value)) inline_marks.emplace(name, std::move(value));
          }
        }
        if (text) {
          splice(path, index, op, std::move(inline_marks));
        } else {
          insert(path, index, op, after_.visible_ops(e.ops, e.insert_op).size() > 1, std::move(inline_marks));
        }
        index += w;
        continue;
      }
      if (marked) changed_marks(marks_before.at(b_at), marks_after.at(index), index, w);
      path.push_back(index);
      same_value(op, path);
      path.pop_back();
      index += w;
    }
    flush_marks(path);
  }

  // Adds the marks that differ between an element's two states to the pending spans.
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
    // A mark gone from a marked element is removed; one that was only unmarked (null) before is
    // no change (the reference reports neither that nor an unmark of an unmarked element as gone).
    for (const auto& [name, value] : before) {
      if (!after.count(name) && !std::holds_alternative<Null>(value)) add(name, ScalarValue(Null{}));
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

  void insert(std::vector<Prop>& path, std::size_t index, const Op& op, bool conflicted,
              std::map<std::string, ScalarValue> marks) {
    // Consecutive inserted elements (objects too) make one patch; an object's contents follow in
    // its own bucket.
    Patch* p = nullptr;
    if (!patches_ptr()->empty() && continues(patches_ptr()->back(), Patch::Kind::kInsert, path, index) &&
        patches_ptr()->back().inserted_marks == marks) {
      p = &patches_ptr()->back();
    } else {
      Patch fresh_patch;
      fresh_patch.kind = Patch::Kind::kInsert;
      fresh_patch.path = path;
      fresh_patch.path.push_back(index);
      fresh_patch.inserted_marks = std::move(marks);
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

  void splice(std::vector<Prop>& path, std::size_t index, const Op& op, std::map<std::string, ScalarValue> marks) {
    const std::string s = (op.action == Action::kSet && op.value.is_string())
                              ? std::string(op.value.str())
                              : std::string(enc::kObjectReplacementUtf8);
    // One splice per run of inserted text with the same marks.
    if (!patches_ptr()->empty() && continues(patches_ptr()->back(), Patch::Kind::kSpliceText, path, index) &&
        patches_ptr()->back().inserted_marks == marks) {
      patches_ptr()->back().text += s;
      return;
    }
    Patch p;
    p.kind = Patch::Kind::kSpliceText;
    p.path = path;
    p.path.push_back(index);
    p.text = s;
    p.inserted_marks = std::move(marks);
    patches_ptr()->push_back(std::move(p));
  }

  const StateView& before_;
  const StateView& after_;
  std::vector<Bucket> buckets_;
  std::size_t current_ = 0;
  std::vector<Mark> pending_marks_;  // of the sequence being walked
  std::vector<Patch>* patches_ptr() { return &buckets_[current_].patches; }
};

}  // namespace

std::vector<Patch> diff_states(const StateView& before, const StateView& after) {
  Differ differ(before, after);
  std::vector<Prop> path;
  differ.object(after.doc().opset.object(kRootObject), path, false);
  return differ.take();
}

}  // namespace am::core
