// The CRDT state of a document: objects, map keys, RGA sequences and the ops in them.
//
// Ops are applied as they arrive, local or remote, through one path (OpSet::apply), so the
// semantics of §3 of the format spec live in one place. Deletes are not stored as ops: they only
// mark their predecessors as hidden. Internal to am_core; not thread-safe.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <variant>
#include <vector>

#include "am/document.h"
#include "am/limits.h"
#include "am/result.h"
#include "core/encoding/utf8.h"
#include "core/history.h"
#include "core/opset/op_id_index.h"
#include "core/opset/op_value.h"
#include "core/opset/sequence_index.h"
#include "core/opset/successors.h"
#include "core/storage/change.h"
#include "core/util/big_alloc.h"

namespace am::core {

using storage::Action;

inline constexpr std::uint32_t kNone32 = UINT32_MAX;
inline constexpr std::uint32_t kRootObject = 0;

/// Actors seen by a document, with their rank in byte order for Lamport comparisons.
class ActorTable {
 public:
  std::uint32_t intern(const Bytes& actor) {
    auto it = lookup_.find(actor);
    if (it != lookup_.end()) return it->second;
    const auto idx = static_cast<std::uint32_t>(actors_.size());
    actors_.push_back(actor);
    lookup_.emplace(actor, idx);
    // Ranks change for every actor that sorts after the new one; actors are few.
    rank_.assign(actors_.size(), 0);
    std::uint32_t r = 0;
    for (auto& [bytes, i] : lookup_) rank_[i] = r++;
    return idx;
  }
  std::optional<std::uint32_t> find(const Bytes& actor) const {
    auto it = lookup_.find(actor);
    if (it == lookup_.end()) return std::nullopt;
    return it->second;
  }
  const Bytes& bytes(std::uint32_t idx) const { return actors_[idx]; }
  std::uint32_t rank(std::uint32_t idx) const { return rank_[idx]; }
  std::size_t size() const { return actors_.size(); }

  /// Lamport order: counter, then actor bytes.
  bool less(OpId a, OpId b) const {
    if (a.counter != b.counter) return a.counter < b.counter;
    return rank_[a.actor] < rank_[b.actor];
  }

 private:
  std::vector<Bytes> actors_;
  std::map<Bytes, std::uint32_t> lookup_;
  std::vector<std::uint32_t> rank_;
};

/// An op resolved against the document: ids use document actor indexes.
struct ResolvedOp {
  OpId id;
  std::optional<OpId> obj;  // nullopt = root
  std::string map_key;      // map ops
  std::optional<OpId> elem; // sequence ops: element id; counter 0 = head
  bool insert = false;
  Action action = Action::kSet;
  ScalarValue value = Null{};
  std::vector<OpId> pred;
  bool expand = false;
  std::optional<std::string> mark_name;
};

/// An op to apply, by reference (ResolvedOp converts to it; the loader builds it directly).
struct OpView {
  OpId id;
  std::optional<OpId> obj;  // nullopt = root
  std::string_view map_key; // map ops
  std::optional<OpId> elem; // sequence ops: element id; counter 0 = head
  bool insert = false;
  Action action = Action::kSet;
  const ScalarValue* value = nullptr;  // REQUIRED: not null
  std::span<const OpId> pred;
  bool expand = false;
  std::optional<std::string_view> mark_name;
};

inline OpView view_of(const ResolvedOp& r) {
  OpView v;
  v.id = r.id;
  v.obj = r.obj;
  v.map_key = r.map_key;
  v.elem = r.elem;
  v.insert = r.insert;
  v.action = r.action;
  v.value = &r.value;
  v.pred = r.pred;
  v.expand = r.expand;
  if (r.mark_name) v.mark_name = std::string_view(*r.mark_name);
  return v;
}

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

/// A short list of trivially copyable items in one heap block (size and capacity in front of
/// the items), one pointer wide: empty lists (most sequence elements' op lists, most ops'
/// successors) cost nothing.
template <class T>
class SmallVec {
  static_assert(std::is_trivially_copyable_v<T> && alignof(T) <= 8);

 public:
  SmallVec() = default;
  SmallVec(const SmallVec& o) { copy_from(o); }
  SmallVec(SmallVec&& o) noexcept : h_(o.h_) { o.h_ = nullptr; }
  SmallVec& operator=(const SmallVec& o) {
    if (this != &o) {
      release();
      copy_from(o);
    }
    return *this;
  }
  SmallVec& operator=(SmallVec&& o) noexcept {
    if (this != &o) {
      release();
      h_ = o.h_;
      o.h_ = nullptr;
    }
    return *this;
  }
  ~SmallVec() { release(); }

  std::size_t size() const { return h_ ? h_->size : 0; }
  bool empty() const { return size() == 0; }
  const T* begin() const { return h_ ? data() : nullptr; }
  const T* end() const { return h_ ? data() + h_->size : nullptr; }
  const T& operator[](std::size_t i) const { return data()[i]; }
  operator std::span<const T>() const { return {begin(), size()}; }

  void insert(std::size_t pos, const T& v) {
    const std::uint32_t n = static_cast<std::uint32_t>(size());
    if (!h_ || h_->cap == n) {
      Header* q = allocate(n == 0 ? 2 : n * 2);
      q->size = n;
      if (h_) std::copy(data(), data() + n, reinterpret_cast<T*>(q + 1));
      release();
      h_ = q;
    }
    T* d = data();
    std::copy_backward(d + pos, d + n, d + n + 1);
    d[pos] = v;
    h_->size = n + 1;
  }
  void push_back(const T& v) { insert(size(), v); }

 private:
  struct alignas(8) Header {
    std::uint32_t size = 0;
    std::uint32_t cap = 0;
  };
  T* data() const { return reinterpret_cast<T*>(h_ + 1); }
  static Header* allocate(std::uint32_t cap) {
    auto* h = static_cast<Header*>(::operator new(sizeof(Header) + sizeof(T) * cap));
    h->cap = cap;
    h->size = 0;
    return h;
  }
  void release() {
    ::operator delete(h_);
    h_ = nullptr;
  }
  void copy_from(const SmallVec& o) {
    if (o.empty()) return;
    h_ = allocate(static_cast<std::uint32_t>(o.size()));
    h_->size = static_cast<std::uint32_t>(o.size());
    std::copy(o.begin(), o.end(), data());
  }
  Header* h_ = nullptr;
};
using OpList = SmallVec<std::uint32_t>;

/// A list of op indexes that holds up to two in place and more in a heap block: most map keys
/// are written once or twice, so most keys cost no allocation (and a copied object none per
/// key). 16 bytes. Value type.
class InlineIndexList {
 public:
  InlineIndexList() = default;
  InlineIndexList(const InlineIndexList& o) { copy_from(o); }
  InlineIndexList(InlineIndexList&& o) noexcept { take(o); }
  InlineIndexList& operator=(const InlineIndexList& o) {
    if (this != &o) {
      release();
      copy_from(o);
    }
    return *this;
  }
  InlineIndexList& operator=(InlineIndexList&& o) noexcept {
    if (this != &o) {
      release();
      take(o);
    }
    return *this;
  }
  ~InlineIndexList() { release(); }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const std::uint32_t* begin() const { return data(); }
  const std::uint32_t* end() const { return data() + size_; }
  std::uint32_t operator[](std::size_t i) const { return data()[i]; }
  std::uint32_t back() const { return data()[size_ - 1]; }
  operator std::span<const std::uint32_t>() const { return {data(), size_}; }

  void insert(std::size_t pos, std::uint32_t v) {
    if (size_ == capacity()) grow();
    std::uint32_t* d = data();
    std::copy_backward(d + pos, d + size_, d + size_ + 1);
    d[pos] = v;
    ++size_;
  }
  void push_back(std::uint32_t v) { insert(size_, v); }

 private:
  static constexpr std::uint32_t kInline = 2;
  bool on_heap() const { return heap_cap_ != 0; }
  std::uint32_t capacity() const { return on_heap() ? heap_cap_ : kInline; }
  std::uint32_t* data() { return on_heap() ? u_.heap : u_.in; }
  const std::uint32_t* data() const { return on_heap() ? u_.heap : u_.in; }
  void grow() {
    const std::uint32_t cap = capacity() * 2;
    auto* block = static_cast<std::uint32_t*>(::operator new(sizeof(std::uint32_t) * cap));
    std::copy(data(), data() + size_, block);
    release_block();
    u_.heap = block;
    heap_cap_ = cap;
  }
  void release_block() {
    if (on_heap()) ::operator delete(u_.heap);
    heap_cap_ = 0;
  }
  void release() {
    release_block();
    size_ = 0;
  }
  void copy_from(const InlineIndexList& o) {
    if (o.size_ > kInline) {
      u_.heap = static_cast<std::uint32_t*>(::operator new(sizeof(std::uint32_t) * o.size_));
      heap_cap_ = o.size_;
    }
    std::copy(o.begin(), o.end(), data());
    size_ = o.size_;
  }
  void take(InlineIndexList& o) {
    u_ = o.u_;
    size_ = o.size_;
    heap_cap_ = o.heap_cap_;
    o.heap_cap_ = 0;
    o.size_ = 0;
  }

  union {
    std::uint32_t in[kInline];
    std::uint32_t* heap;
  } u_ = {};
  std::uint32_t size_ = 0;
  std::uint32_t heap_cap_ = 0;  // 0: the items are in u_.in
};
static_assert(sizeof(InlineIndexList) == 16);

// Op::obj is 24 bits wide so that an op is 24 bytes: the objects a document may have.
static_assert(kMaxObjectsPerDocument == std::uint32_t{1} << 24, "Op::obj is 24 bits");

struct Op {
  OpId id;
  std::uint32_t obj : 24 = kRootObject;
  Action action : 3 = Action::kSet;
  bool insert : 1 = false;
  bool expand : 1 = false;
  bool has_mark_name : 1 = false;  // a mark begin: OpSet::mark_name has the name
  // A successor hides it (any but a counter's increment). An op is never shown again.
  bool hidden : 1 = false;
  // An insert whose reference element is not the element made just before its own
  // (OpSet::insert_ref keeps it apart).
  bool ref_elsewhere : 1 = false;
  // Map: the interned key. Sequence: the element the op is on; an insert's is the element it
  // creates (its reference is OpSet::insert_ref).
  std::uint32_t key = kNone32;
  OpValue value;  // a counter's increments: OpSet::inc_total
  // Its successors are OpSet::successors (most ops have none: they are kept apart).

  bool is_counter() const { return action == Action::kSet && value.is_counter(); }
  bool visible() const { return action != Action::kIncrement && action != Action::kMark && !hidden; }
};
// A document holds one per op that is not a delete: every byte here is a byte per character.
static_assert(sizeof(Op) == 24, "Op is meant to be 24 bytes");

/// A sequence element: the insert op that made it. Where its other ops are is
/// Object::ops_at's business: most elements (every typed character) have none, and a typed
/// text never has any, so an element is 4 bytes.
struct Element {
  std::uint32_t insert_op = kNone32;
};
static_assert(sizeof(Element) == 4, "Element is meant to be 4 bytes");

/// The ops at one map key, ascending op id, and where the visible ones begin. An op is only ever
/// hidden, never shown again, so everything before `live_from` stays hidden: reads of the
/// current value skip the key's overwritten history (n writes to one key would cost n^2 otherwise).
/// History views (reads at other heads) and save walk all of `ops`.
struct KeyOps {
  InlineIndexList ops;
  std::uint32_t live_from = 0;  // every op in ops[0, live_from) is hidden
  std::span<const std::uint32_t> live() const {
    return std::span<const std::uint32_t>(ops).subspan(live_from);
  }
};

struct Object {
  ObjType type = ObjType::kMap;
  OpId id;  // counter 0 for the root
  // When an op last changed this object: the op set's count of applied ops then (0: none since
  // the op set was built). With OpSet::stamp() it tells a cached read of the object is current.
  std::uint64_t changed = 0;
  bool has_marks = false;  // a mark op was ever applied to it (patches then walk its marks)
  std::map<std::string, KeyOps, std::less<>> props;  // key -> its ops
  SequenceIndex seq;
  BigVector<Element> elems;
  // Per element handle, where its other ops are in elem_ops (kNone32: none). Made when an
  // element of this object first gets one, and only as long as the highest such handle: an
  // element past its end has none.
  std::vector<std::uint32_t> ops_at;
  std::vector<OpList> elem_ops;  // the non-insert ops keyed on an element, ascending op id

  /// The non-insert ops keyed on element `h` of this object, ascending op id.
  std::span<const std::uint32_t> ops_of(std::uint32_t h) const {
    if (h >= ops_at.size() || ops_at[h] == kNone32) return {};
    return elem_ops[ops_at[h]];
  }
  /// The same list, to add to; made on first use.
  OpList& ops_to_add(std::uint32_t h) {
    if (h >= ops_at.size()) ops_at.resize(std::max<std::size_t>(h + 1, elems.size()), kNone32);
    if (ops_at[h] == kNone32) {
      ops_at[h] = static_cast<std::uint32_t>(elem_ops.size());
      elem_ops.emplace_back();
    }
    return elem_ops[ops_at[h]];
  }
};

inline bool is_sequence(ObjType t) { return t == ObjType::kList || t == ObjType::kText; }

inline std::optional<ObjType> make_type(Action a) {
  switch (a) {
    case Action::kMakeMap: return ObjType::kMap;
    case Action::kMakeList: return ObjType::kList;
    case Action::kMakeText: return ObjType::kText;
    case Action::kMakeTable: return ObjType::kTable;
    default: return std::nullopt;
  }
}

inline Action make_action(ObjType t) {
  switch (t) {
    case ObjType::kMap: return Action::kMakeMap;
    case ObjType::kList: return Action::kMakeList;
    case ObjType::kText: return Action::kMakeText;
    case ObjType::kTable: return Action::kMakeTable;
  }
  return Action::kMakeMap;
}

inline SeqWidth text_width(std::string_view s) {
  SeqWidth w;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t len = enc::utf8_sequence_length(s[i]);
    w.chars += 1;
    w.utf16 += static_cast<std::uint32_t>(enc::utf16_units(len));
    i += len;
  }
  return w;
}

/// The keys and elements that ops touched while recording (Document's diff cursor): what the
/// patches since the cursor can differ in. Entries are (object index, key), the key being a map
/// key's interned index or a sequence element's handle; duplicates are removed when read. Past
/// `limit` entries it gives up (`overflow`) and the patches come from a full diff instead.
/// The document owns it, not the op set: starting or stopping a log never copies an op set that
/// forks share. Value type; not thread-safe.
struct TouchLog {
  bool active = false;
  bool overflow = false;
  std::size_t limit = 0;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> entries;

  /// A fresh, active log of at most `max_entries` entries.
  static TouchLog started(std::size_t max_entries) {
    TouchLog log;
    log.active = true;
    log.limit = max_entries;
    return log;
  }

  void touch(std::uint32_t object, std::uint32_t key) {
    if (overflow) return;
    if (entries.size() >= limit) {
      overflow = true;
      release_all(entries);
      return;
    }
    entries.emplace_back(object, key);
  }
};

/// A process-unique number for one op set's contents over their life. A copy gets a new one
/// (its objects' `changed` counts say nothing about the original's after either writes); a move
/// hands it over and gives the source a new one. Value type; thread-safe.
class ContentStamp {
 public:
  ContentStamp() : value_(next()) {}
  ContentStamp(const ContentStamp&) : value_(next()) {}
  ContentStamp(ContentStamp&& o) noexcept : value_(o.value_) { o.value_ = next(); }
  ContentStamp& operator=(const ContentStamp&) {
    value_ = next();
    return *this;
  }
  ContentStamp& operator=(ContentStamp&& o) noexcept {
    value_ = o.value_;
    o.value_ = next();
    return *this;
  }
  std::uint64_t value() const { return value_; }

 private:
  static std::uint64_t next();
  std::uint64_t value_;
};

/// The CRDT state. Not thread-safe.
class OpSet {
 public:
  /// An empty document's op set; it reads actors from `actors` (its own copy), which
  /// intern_actor() extends.
  explicit OpSet(ActorTable actors = {}) : actors_(std::move(actors)) {
    objects_.emplace_back();  // the root map
    obj_index_.emplace(0, kRootObject);
  }
  /// A copy (the state of a document that stops sharing it, Document::Impl::own_opset); the
  /// scratch is not copied.
  OpSet(const OpSet& other)
      : actors_(other.actors_), ops_(other.ops_), objects_(other.objects_), op_index_(other.op_index_),
        inc_totals_(other.inc_totals_), mark_names_(other.mark_names_), obj_index_(other.obj_index_),
        keys_(other.keys_), key_index_(other.key_index_), ref_elsewhere_(other.ref_elsewhere_),
        succ_(other.succ_), applied_(other.applied_) {}
  OpSet(OpSet&&) = default;
  OpSet& operator=(OpSet&&) = default;
  OpSet& operator=(const OpSet&) = delete;

  const ActorTable& actors() const { return actors_; }
  /// The index of `actor`, added to the table if new (ops may then name it).
  std::uint32_t intern_actor(const Bytes& actor) { return actors_.intern(actor); }

  Status apply(const ResolvedOp& r, TouchLog* touches = nullptr) { return apply(view_of(r), touches); }
  /// Names these contents (see ContentStamp): an object of the op set with this stamp whose
  /// `changed` is the same as when it was read has not changed since. Every op applied stamps
  /// its object with a count that never repeats within one stamp.
  std::uint64_t stamp() const { return stamp_.value(); }
  /// The index of `o`, an object of this op set.
  std::uint32_t index_of(const Object& o) const { return static_cast<std::uint32_t>(&o - objects_.data()); }
  /// Ops stored (deletes are not): the size a touch log is measured against.
  std::size_t op_count() const { return ops_.size(); }

  /// Sizes the containers for `n` more ops (a hint).
  void reserve(std::size_t n) { ops_.reserve(ops_.size() + n); }

  /// Applies one op (format spec §3): checks it against the document (known object, unique
  /// id, key kind, element and preds in the same object, integer increments), then records it:
  /// preds get it as a successor (hidden, or a counter incremented), a non-delete op is stored
  /// (map key, RGA element or op on an element), a make op creates its object, and the widths of
  /// the touched sequence elements are refreshed. An error leaves the op set unchanged. With an
  /// active `touches`, the keys the op and its preds are on go into it.
  Status apply(const OpView& r, TouchLog* touches = nullptr);

  // ---- reads ------------------------------------------------------------------------------
  std::optional<std::uint32_t> object_index(const OpId& id) const {
    auto it = obj_index_.find(pack(id));
    if (it == obj_index_.end()) return std::nullopt;
    return it->second;
  }
  const Object& object(std::uint32_t oi) const { return objects_[oi]; }
  /// Number of objects, the root (index 0) included; every applied make op made one.
  std::size_t object_count() const { return objects_.size(); }
  std::optional<std::uint32_t> op_index(const OpId& id) const { return op_index_.find(id); }
  /// A counter's sum of applied increments (counters are rare: kept apart from the ops).
  std::int64_t inc_total(const Op& op) const {
    const auto it = inc_totals_.find(pack(op.id));
    return it == inc_totals_.end() ? 0 : it->second;
  }
  const Op& op(std::uint32_t idx) const { return ops_[idx]; }
  /// The successors of the op at `idx`, in the order they were applied.
  const SuccList& successors(std::uint32_t idx) const { return succ_.of(idx); }
  /// The successors of the op at `idx`, or null when it has none for certain (most ops; an
  /// empty list is possible too).
  const SuccList* find_successors(std::uint32_t idx) const { return succ_.find(idx); }
  /// The successors of `op`, an op of this op set (a reference from op()).
  const SuccList& successors(const Op& op) const {
    return succ_.of(static_cast<std::uint32_t>(&op - ops_.data()));
  }
  /// A mark begin's name as an interned key (key_name), or kNone32 for any other op.
  std::uint32_t mark_name(const Op& op) const {
    if (!op.has_mark_name) return kNone32;
    const auto it = mark_names_.find(pack(op.id));
    return it == mark_names_.end() ? kNone32 : it->second;
  }
  const std::string& key_name(std::uint32_t k) const { return keys_[k]; }
  /// The element the insert op at `idx` was inserted after; kNone32 for the head. Most inserts
  /// follow the element made just before theirs (typing), the rest are kept apart.
  std::uint32_t insert_ref(std::uint32_t idx) const {
    const Op& op = ops_[idx];
    if (!op.ref_elsewhere) return op.key == 0 ? kNone32 : op.key - 1;
    const auto it = std::lower_bound(ref_elsewhere_.begin(), ref_elsewhere_.end(), idx,
                                     [](const InsertRef& r, std::uint32_t i) { return r.op < i; });
    return it->ref;
  }

  /// Visible ops among `ops` (ascending id), plus the insert op if given.
  void visible_ops(std::span<const std::uint32_t> ops, std::uint32_t insert_op,
                   std::vector<std::uint32_t>& out) const {
    out.clear();
    if (insert_op != kNone32 && ops_[insert_op].visible()) out.push_back(insert_op);
    for (std::uint32_t i : ops) {
      if (ops_[i].visible()) out.push_back(i);
    }
    std::sort(out.begin(), out.end(), [&](std::uint32_t a, std::uint32_t b) {
      return actors_.less(ops_[a].id, ops_[b].id);
    });
  }
  std::uint32_t winner(std::span<const std::uint32_t> ops, std::uint32_t insert_op) const {
    std::uint32_t best = kNone32;
    auto consider = [&](std::uint32_t i) {
      if (ops_[i].visible() && (best == kNone32 || actors_.less(ops_[best].id, ops_[i].id))) best = i;
    };
    if (insert_op != kNone32) consider(insert_op);
    for (std::uint32_t i : ops) consider(i);
    return best;
  }

 private:
  friend class DocOrderBuilder;  // builds a loaded document's op set in document order

  std::uint32_t intern(std::string_view k);
  // Inserts op `idx` (id `id`) into `list`, which is sorted by op id; returns its position.
  template <class List>
  std::size_t insert_sorted(List& list, std::uint32_t idx, OpId id);
  // Records in `log` the keys an applied op and its preds are on.
  void record_touches(TouchLog& log, std::uint32_t oi, bool seq, std::uint32_t key, std::uint32_t stored,
                      std::string_view map_key);
  // Moves `key.live_from` past the ops that are hidden now.
  void skip_hidden(KeyOps& key) const;
  // RGA: place the new element after its reference, skipping elements with greater ids.
  void integrate_insert(std::uint32_t oi, std::uint32_t op_idx, std::uint32_t ref);
  SeqWidth element_width(const Object& o, std::uint32_t handle) const;
  void refresh_width(Object& o, std::uint32_t handle);
  // Records `ref` as the reference of the insert op at `idx`, the newest op with an element.
  void set_insert_ref(std::uint32_t idx, std::uint32_t ref) {
    Op& op = ops_[idx];
    const std::uint32_t usual = op.key == 0 ? kNone32 : op.key - 1;
    if (ref == usual) return;
    op.ref_elsewhere = true;
    ref_elsewhere_.push_back(InsertRef{idx, ref});
  }

  struct InsertRef {
    std::uint32_t op;
    std::uint32_t ref;
  };

  ActorTable actors_;
  BigVector<Op> ops_;
  std::vector<Object> objects_;
  OpIdIndex op_index_;
  std::unordered_map<std::uint64_t, std::int64_t> inc_totals_;  // counter op id -> increments
  std::unordered_map<std::uint64_t, std::uint32_t> mark_names_; // mark begin op id -> name key (rare)
  std::unordered_map<std::uint64_t, std::uint32_t> obj_index_;
  std::vector<std::string> keys_;
  std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>> key_index_;
  std::vector<InsertRef> ref_elsewhere_;  // by ascending op: ops are only ever appended
  SuccessorTable succ_;
  std::vector<std::uint32_t> pred_scratch_;
  std::uint64_t applied_ = 0;  // ops applied: the last Object::changed given
  ContentStamp stamp_;
};


}  // namespace am::core
