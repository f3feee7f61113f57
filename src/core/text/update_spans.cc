// Document::update_spans: the reference's updateSpans (text_diff.rs myers_block_diff, then
// apply_marks_diff). Both the current and the desired spans are cut into items, a block or one
// extended grapheme cluster; Myers' diff runs over the items and its runs go through the
// reference's Replace hook (a removed run next to an inserted one becomes one replacement). Each
// event is applied at a running index that is advanced by the *diff's* widths, not re-read from
// the document. The ops must come out as the reference's, so this file copies its behaviour,
// including what reads as bugs (docs/design/rich-text-blocks.md §4):
//  - a removed grapheme is one single-element delete, so "👍🏽" loses only "👍" and the running
//    index drifts from the document; the index may then fall inside a surrogate pair, where an
//    insert goes after that character and a delete takes the next character;
//  - a block that differs is updated in place key by key, and a list that shrinks loses its
//    first elements, not its last (update_list);
//  - marks: every current mark that is not exactly a desired (name, value, start, end) is
//    unmarked, then every desired one not present is marked.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "am/document.h"
#include "core/document_impl.h"
#include "core/encoding/utf8.h"
#include "core/json.h"
#include "core/text/grapheme.h"
#include "core/text/myers.h"

namespace am {
namespace {

// Width of UTF-8 text in `unit`: code points, plus one more per astral code point in UTF-16.
std::size_t units(std::string_view s, WidthUnit unit) {
  std::size_t n = 0;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c & 0xC0) != 0x80) ++n;
    if (unit == WidthUnit::kUtf16 && c >= 0xF0) ++n;
  }
  return n;
}

// Where an insert at `index` of text `o` lands (op_set.rs query_insert_at): after the element
// that holds unit index-1, so an index inside a surrogate pair moves to the end of that character.
std::size_t landing(const Object& o, WidthUnit unit, std::size_t index) {
  if (index == 0) return index;
  const std::uint32_t h = o.seq.last_visible_before(index, unit);
  if (h == SequenceIndex::kNone) return index;  // past the end: the insert reports it
  const SeqWidth w = o.seq.width_of(h);
  return static_cast<std::size_t>(o.seq.offset_of(h, unit)) + (unit == WidthUnit::kUtf16 ? w.utf16 : w.chars);
}

// ---- items: what the diff compares -------------------------------------------------------------

// Appends an injective encoding of `h` (kind tags, JSON-escaped strings), so that two values get
// equal keys exactly when they are equal Hydrated values (a text "p" and a string "p" differ).
void append_key(std::string& out, const Hydrated& h) {
  switch (h.kind) {
    case Hydrated::Kind::kScalar:
      out += 's' + std::to_string(h.scalar.index()) + ':';
      core::json_scalar(out, h.scalar);
      return;
    case Hydrated::Kind::kText:
      out += 't';
      core::json_string(out, h.text);
      return;
    case Hydrated::Kind::kList:
      out += '[';
      for (const Hydrated& e : h.list) {
        append_key(out, e);
        out += ',';
      }
      out += ']';
      return;
    case Hydrated::Kind::kMap:
      out += '{';
      for (const auto& [k, v] : h.map) {
        core::json_string(out, k);
        out += ':';
        append_key(out, v);
        out += ',';
      }
      out += '}';
      return;
  }
}

// append_key of the value `v` as it is in `doc`, except that a map entry or list element with
// concurrent values gets a '!' after it: the reference's hydrated values carry a conflict flag and
// compare unequal to the same value without it, so a conflicted block is never "unchanged" (its
// update then resolves the conflict, see Document::put).
Status append_doc_key(std::string& out, const Document& doc, const Value& v) {
  const auto* ref = std::get_if<ObjectRef>(&v);
  if (!ref) {
    append_key(out, Hydrated::of(std::get<ScalarValue>(v)));
    return {};
  }
  const auto entry = [&](const Prop& prop) -> Status {
    AM_TRY_ASSIGN(const std::optional<Value> value, doc.get(ref->id, prop));
    if (value) AM_TRY_STATUS(append_doc_key(out, doc, *value));
    AM_TRY_ASSIGN(const std::vector<Conflict> all, doc.get_all(ref->id, prop));
    if (all.size() > 1) out += '!';
    out += ',';
    return {};
  };
  switch (ref->type) {
    case ObjType::kText: {
      AM_TRY_ASSIGN(const std::string t, doc.text(ref->id));
      out += 't';
      core::json_string(out, t);
      return {};
    }
    case ObjType::kList: {
      AM_TRY_ASSIGN(const std::size_t n, doc.length(ref->id));
      out += '[';
      for (std::size_t i = 0; i < n; ++i) AM_TRY_STATUS(entry(Prop(i)));
      out += ']';
      return {};
    }
    default: {
      AM_TRY_ASSIGN(const std::vector<std::string> keys, doc.keys(ref->id));
      out += '{';
      for (const std::string& k : keys) {
        core::json_string(out, k);
        out += ':';
        AM_TRY_STATUS(entry(Prop(k)));
      }
      out += '}';
      return {};
    }
  }
}

// One element of the flattened spans: a block, or one grapheme cluster of a text span.
struct Item {
  std::string key;                // compared by the diff: 'g' + cluster, or 'b' + block key
  const Block* block = nullptr;   // a block (points into the spans the items were made from)
  std::string_view grapheme;      // otherwise the cluster (points into those spans)
};

// The items of `spans`, in order. A cluster never spans two text spans (each span is cut alone,
// as the reference cuts each of its spans).
std::vector<Item> items_of(const std::vector<Span>& spans) {
  std::vector<Item> out;
  for (const Span& s : spans) {
    if (s.kind == Span::Kind::kBlock) {
      Item it;
      it.block = &s.block;
      it.key = "b";
      append_key(it.key, Hydrated::map_of(s.block));
      out.push_back(std::move(it));
      continue;
    }
    for (const std::string_view g : core::grapheme_clusters(s.text)) {
      Item it;
      it.grapheme = g;
      it.key = "g" + std::string(g);
      out.push_back(std::move(it));
    }
  }
  return out;
}

// ---- the reference's object updater (inner.rs update_map / update_list / update_value) --------

class Updater {
 public:
  explicit Updater(Document& doc) : doc_(doc) {}

  // Makes the map `obj` hold `want`: present keys in key order, then added keys sorted, then
  // removed keys sorted.
  Status update_map(const ObjId& obj, const Block& want) {
    AM_TRY_ASSIGN(const std::vector<std::string> keys, doc_.keys(obj));
    std::vector<std::string> gone;
    for (const std::string& key : keys) {
      const auto it = want.find(key);
      if (it == want.end()) {
        gone.push_back(key);
        continue;
      }
      AM_TRY_ASSIGN(const std::optional<Value> old, doc_.get(obj, Prop(key)));
      AM_TRY_STATUS(update_value(obj, Prop(key), it->second, old));
    }
    for (const auto& [key, value] : want) {
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
        AM_TRY_STATUS(update_value(obj, Prop(key), value, std::nullopt));
      }
    }
    for (const std::string& key : gone) AM_TRY_STATUS(doc_.remove(obj, Prop(key)));
    return {};
  }

  // Makes the list `obj` hold `want`: the common prefix updated, then new elements appended; when
  // the list shrinks it deletes indexes extra-1 .. 0, i.e. its *first* elements (reference bug).
  Status update_list(const ObjId& obj, const std::vector<Hydrated>& want) {
    AM_TRY_ASSIGN(const std::size_t have, doc_.length(obj));
    for (std::size_t i = 0; i < want.size(); ++i) {
      std::optional<Value> old;
      if (i < have) {
        AM_TRY_ASSIGN(old, doc_.get(obj, Prop(i)));
      }
      AM_TRY_STATUS(update_value(obj, Prop(i), want[i], old));
    }
    for (std::size_t i = have > want.size() ? have - want.size() : 0; i > 0; --i) {
      AM_TRY_STATUS(doc_.remove(obj, Prop(i - 1)));
    }
    return {};
  }

 private:
  // Writes `want` at `prop` of `parent`, where `old` is there now (nullopt: a new key or index).
  Status update_value(const ObjId& parent, const Prop& prop, const Hydrated& want, const std::optional<Value>& old) {
    const ObjectRef* ref = old ? std::get_if<ObjectRef>(&*old) : nullptr;
    // A table, like no object at all, matches none of the in-place updates below.
    const ObjType have = ref ? ref->type : ObjType::kTable;
    if (have == ObjType::kMap && want.kind == Hydrated::Kind::kMap) return update_map(ref->id, want.map);
    if (have == ObjType::kList && want.kind == Hydrated::Kind::kList) return update_list(ref->id, want.list);
    if (have == ObjType::kText && want.kind == Hydrated::Kind::kText) return doc_.update_text(ref->id, want.text);
    const bool insert = !old && std::holds_alternative<std::size_t>(prop);
    if (want.kind == Hydrated::Kind::kScalar) {
      if (insert) return doc_.insert(parent, std::get<std::size_t>(prop), want.scalar);
      return doc_.put(parent, prop, want.scalar);  // Document::put resolves a same-value put
    }
    const ObjType type = want.kind == Hydrated::Kind::kMap ? ObjType::kMap
                         : want.kind == Hydrated::Kind::kList ? ObjType::kList
                                                              : ObjType::kText;
    Result<ObjId> made = insert ? doc_.insert_object(parent, std::get<std::size_t>(prop), type)
                                : doc_.put_object(parent, prop, type);
    if (!made) return fail(made.error());
    if (type == ObjType::kMap) return update_map(*made, want.map);
    if (type == ObjType::kList) return update_list(*made, want.list);
    return doc_.splice_text(*made, 0, 0, want.text);
  }

  Document& doc_;
};

// ---- pass 1: text and blocks ------------------------------------------------------------------

// Applies the diff's events to the text as the reference's BlockDiffHook does.
class SpanEditor {
 public:
  SpanEditor(Document& doc, Document::Impl& d, const ObjId& text, const std::vector<Item>& old_items,
             const std::vector<Item>& new_items)
      : doc_(doc), d_(d), text_(text), unit_(d.text_unit()), old_(old_items), new_(new_items) {}

  Status equal(std::size_t old_index, std::size_t len) {
    for (std::size_t i = old_index; i < old_index + len; ++i) idx_ += width(old_[i]);
    return {};
  }
  Status remove(std::size_t old_index, std::size_t len) {
    for (std::size_t i = old_index; i < old_index + len; ++i) AM_TRY_STATUS(remove_one(old_[i]));
    return {};
  }
  // Clusters in a row go in as one splice; a block goes in alone.
  Status insert(std::size_t new_index, std::size_t len) {
    std::string run;
    for (std::size_t i = new_index; i < new_index + len; ++i) {
      if (new_[i].block == nullptr) {
        run += new_[i].grapheme;
        continue;
      }
      AM_TRY_STATUS(splice(run));
      run.clear();
      AM_TRY_STATUS(split(*new_[i].block));
    }
    return splice(run);
  }
  // Pairwise: block for block updates in place when they differ; anything else is a delete
  // then an insert of the single item; the longer side's leftovers are deleted or inserted one
  // by one.
  Status replace(std::size_t old_index, std::size_t old_len, std::size_t new_index, std::size_t new_len) {
    for (std::size_t k = 0; k < std::max(old_len, new_len); ++k) {
      const Item* o = k < old_len ? &old_[old_index + k] : nullptr;
      const Item* n = k < new_len ? &new_[new_index + k] : nullptr;
      if (o && n && o->block && n->block) {
        if (o->key != n->key) AM_TRY_STATUS(update_block(*n->block));
        ++idx_;
        continue;
      }
      if (o) AM_TRY_STATUS(remove_one(*o));
      if (n) AM_TRY_STATUS(n->block ? split(*n->block) : splice(std::string(n->grapheme)));
    }
    return {};
  }

 private:
  std::size_t width(const Item& it) const { return it.block ? 1 : units(it.grapheme, unit_); }

  Result<const Object*> object() const { return d_.object_for(text_); }
  Result<std::size_t> insert_index(std::size_t index) const {
    AM_TRY_ASSIGN(const Object* o, object());
    return landing(*o, unit_, index);
  }

  Status splice(const std::string& s) {
    if (s.empty()) return {};
    AM_TRY_ASSIGN(const std::size_t at, insert_index(idx_));
    AM_TRY_STATUS(doc_.splice_text(text_, at, 0, s));
    idx_ += units(s, unit_);
    return {};
  }
  Status split(const Block& b) {
    AM_TRY_ASSIGN(const std::size_t at, insert_index(idx_));
    AM_TRY_ASSIGN(const ObjId id, doc_.insert_object(text_, at, ObjType::kMap));
    AM_TRY_STATUS(Updater(doc_).update_map(id, b));
    ++idx_;
    return {};
  }
  // A block goes by join_block: the element holding idx, whatever it is. A cluster goes by a
  // one-unit text delete: the element starting at idx, or the next one when idx is inside an
  // element; nothing when there is none.
  Status remove_one(const Item& it) {
    AM_TRY_ASSIGN(const Object* o, object());
    const std::uint32_t h = d_.element_at(*o, idx_);
    if (it.block) {
      if (h == SequenceIndex::kNone) {
        return fail(Error::invalid_argument("update_spans", "index " + std::to_string(idx_) + " is out of bounds"));
      }
      return doc_.remove(text_, idx_);
    }
    if (h == SequenceIndex::kNone) return {};
    std::size_t start = static_cast<std::size_t>(o->seq.offset_of(h, unit_));
    if (start < idx_) {
      const SeqWidth w = o->seq.width_of(h);
      start += unit_ == WidthUnit::kUtf16 ? w.utf16 : w.chars;
      if (d_.element_at(*o, start) == SequenceIndex::kNone) return {};
    }
    return doc_.remove(text_, start);
  }
  // The block at idx is made to hold `b` key by key (the element there must be a map).
  Status update_block(const Block& b) {
    AM_TRY_ASSIGN(const std::optional<Value> v, doc_.get(text_, Prop(idx_)));
    const ObjectRef* ref = v ? std::get_if<ObjectRef>(&*v) : nullptr;
    if (!ref || ref->type != ObjType::kMap) {
      return fail(Error::invalid_argument("update_spans", "no block at index " + std::to_string(idx_)));
    }
    return Updater(doc_).update_map(ref->id, b);
  }

  Document& doc_;
  Document::Impl& d_;
  const ObjId& text_;
  WidthUnit unit_;
  const std::vector<Item>& old_;
  const std::vector<Item>& new_;
  std::size_t idx_ = 0;  // the running index, in the diff's widths
};

// The reference's Replace hook (similar's): buffers runs, so that a removed run and an inserted
// run between two equal runs reach the editor as one replace, and equal runs as one.
class ReplaceHook final : public core::DiffSink {
 public:
  explicit ReplaceHook(SpanEditor& editor) : editor_(editor) {}

  Status equal(std::size_t old_index, std::size_t new_index, std::size_t len) override {
    AM_TRY_STATUS(flush_changes());
    if (eq_) {
      eq_->len += len;
    } else {
      eq_ = Run{old_index, new_index, len};
    }
    return {};
  }
  Status remove(std::size_t old_index, std::size_t old_len, std::size_t new_index) override {
    AM_TRY_STATUS(flush_equal());
    if (del_) {
      del_->len += old_len;
    } else {
      del_ = Run{old_index, new_index, old_len};
    }
    return {};
  }
  Status insert(std::size_t old_index, std::size_t new_index, std::size_t new_len) override {
    AM_TRY_STATUS(flush_equal());
    if (ins_) {
      ins_->len += new_len;
    } else {
      ins_ = Run{old_index, new_index, new_len};
    }
    return {};
  }
  Status finish() {
    AM_TRY_STATUS(flush_equal());
    return flush_changes();
  }

 private:
  struct Run {
    std::size_t old_index;
    std::size_t new_index;
    std::size_t len;
  };
  Status flush_equal() {
    if (!eq_) return {};
    const Run r = *eq_;
    eq_.reset();
    return editor_.equal(r.old_index, r.len);
  }
  Status flush_changes() {
    const std::optional<Run> del = std::exchange(del_, std::nullopt);
    const std::optional<Run> ins = std::exchange(ins_, std::nullopt);
    if (del && ins) return editor_.replace(del->old_index, del->len, ins->new_index, ins->len);
    if (del) return editor_.remove(del->old_index, del->len);
    if (ins) return editor_.insert(ins->new_index, ins->len);
    return {};
  }

  SpanEditor& editor_;
  std::optional<Run> eq_, del_, ins_;
};

}  // namespace

// ---- the call ---------------------------------------------------------------------------------

Status Document::update_spans(const ObjId& text, const std::vector<Span>& desired, ExpandMark default_expand,
                              const std::map<std::string, ExpandMark>& per_mark_expand) {
  // No for_local_write() here: every write below goes through a public method that copies a
  // shared op set itself, and every pointer into the op set is taken again after the writes
  // before it, so spans already as desired copy nothing.
  AM_TRY_ASSIGN(const Object* o, impl_->object_for(text));
  if (o->type != ObjType::kText) return fail(Error::invalid_argument("object " + text.to_string(), "is not text"));
  for (const Span& s : desired) {
    if (s.kind == Span::Kind::kText && !enc::is_valid_utf8(s.text)) {
      return fail(Error::invalid_argument("update_spans", "text is not valid UTF-8"));
    }
  }
  // Pass 1: text and blocks.
  AM_TRY_ASSIGN(const std::vector<Span> current, spans(text));
  std::vector<Item> old_items = items_of(current);
  // The current blocks' keys come from the document, where conflicts show (append_doc_key).
  const WidthUnit unit = impl_->text_unit();
  for (std::size_t i = 0, at = 0; i < old_items.size(); ++i) {
    Item& it = old_items[i];
    if (it.block == nullptr) {
      at += units(it.grapheme, unit);
      continue;
    }
    AM_TRY_ASSIGN(const std::optional<Value> v, get(text, Prop(at)));
    if (v) {
      it.key = "b";
      AM_TRY_STATUS(append_doc_key(it.key, *this, *v));
    }
    ++at;
  }
  const std::vector<Item> new_items = items_of(desired);
  std::vector<std::string_view> old_keys, new_keys;
  for (const Item& it : old_items) old_keys.emplace_back(it.key);
  for (const Item& it : new_items) new_keys.emplace_back(it.key);
  SpanEditor editor(*this, *impl_, text, old_items, new_items);
  ReplaceHook hook(editor);
  AM_TRY_STATUS(core::myers_diff(old_keys, new_keys, hook));
  AM_TRY_STATUS(hook.finish());

  // Pass 2: marks. The desired marks are one (name, value, start, end) per mark of each text span.
  std::vector<Mark> want;
  std::size_t idx = 0;
  for (const Span& s : desired) {
    if (s.kind == Span::Kind::kBlock) {
      ++idx;
      continue;
    }
    const std::size_t w = units(s.text, unit);
    for (const auto& [name, value] : s.marks) want.push_back(Mark{name, value, idx, idx + w});
    idx += w;
  }
  const auto expand_of = [&](const std::string& name) {
    const auto it = per_mark_expand.find(name);
    return it == per_mark_expand.end() ? default_expand : it->second;
  };
  AM_TRY_ASSIGN(const std::vector<Mark> have, marks(text));
  for (const Mark& m : have) {
    if (std::find(want.begin(), want.end(), m) != want.end()) continue;
    AM_TRY_STATUS(unmark(text, m.start, m.end, expand_of(m.name), m.name));
  }
  for (const Mark& m : want) {
    AM_TRY_ASSIGN(const std::vector<Mark> now, marks(text));  // re-read: an earlier mark may cover it
    if (std::find(now.begin(), now.end(), m) != now.end()) continue;
    // After a drift (see the top of this file) a desired edge may fall inside a character; the
    // reference's inserts move it to the end of that character.
    // When both edges land after the same character, the reference's end goes right after its
    // begin (inner.rs mark: its position is not past the begin's), even with expand "none"; a
    // reversed range asks mark() for exactly that.
    AM_TRY_ASSIGN(const Object* now_text, impl_->object_for(text));
    const std::size_t start = landing(*now_text, unit, m.start);
    std::size_t end = m.start == m.end ? start : landing(*now_text, unit, m.end);
    if (m.start < m.end && end == start && start > 0) end = start - 1;
    AM_TRY_STATUS(mark(text, start, end, expand_of(m.name), m.name, m.value));
  }
  return {};
}

}  // namespace am
