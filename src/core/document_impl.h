// Document::Impl: the state behind am::Document (op set, history, pending transaction).
// Internal: shared by document.cc and the load/save code.
#pragma once

#include <algorithm>
#include <atomic>
#include <cassert>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "am/document.h"
#include "core/json.h"
#include "core/local_patch_log.h"
#include "core/opset/op_set.h"
#include "core/pending_ops.h"
#include "core/storage/change.h"

namespace am {

using core::Action;
using core::ActorTable;
using core::Element;
using core::HashOfChangeHash;
using core::kNone32;
using core::kRootObject;
using core::Object;
using core::Op;
using core::OpId;
using core::OpSet;
using core::ResolvedOp;
using core::SeqWidth;
using core::SequenceIndex;
using core::WidthUnit;
using core::is_sequence;
using core::json_scalar;
using core::json_string;
using core::make_action;
using core::make_type;
using core::text_width;

struct Document::Impl {
  DocumentOptions options;
  ActorId actor;
  // The CRDT state and its actor table, shared with forks until one of them writes (copy on
  // write: a fork costs nothing until then). Reads go through opset() and actors(); writes
  // through own_opset(), which copies a shared op set first. A public method that writes
  // locally starts with for_local_write(), before it takes pointers into the op set (a copy
  // would leave them behind); local() checks that it did (debug builds).
  const OpSet& opset() const { return *opset_; }
  const ActorTable& actors() const { return opset_->actors(); }
  OpSet& own_opset() {
    if (opset_.use_count() > 1) {
      opset_ = std::make_shared<OpSet>(*opset_);
    } else {
      // A fork on another thread may have just let go of it: see its reads before writing.
      std::atomic_thread_fence(std::memory_order_acquire);
    }
    return *opset_;
  }
  std::uint32_t intern_actor(const Bytes& a) {
    if (const auto known = actors().find(a)) return *known;  // no copy for a known actor
    return own_opset().intern_actor(a);
  }
  /// Where a local write begins: the op set becomes this document's own before the write
  /// takes pointers into it.
  Impl& for_local_write() {
    own_opset();
    return *this;
  }
  /// An empty op set that keeps the actor table (history rows name actors by index). What the
  /// touch log recorded no longer names its keys: the next diff_incremental() diffs states.
  void reset_opset() {
    opset_ = std::make_shared<OpSet>(opset_->actors());
    touch_log = core::TouchLog{};
  }
  /// Shares this document's op set with `fork` (Document::fork).
  void share_opset_with(Impl& fork) const { fork.opset_ = opset_; }

  // History, in application order.
  core::History history;
  std::set<ChangeHash> heads;
  std::vector<std::vector<std::uint32_t>> changes_by_actor;  // per actor, in seq order
  std::uint32_t max_op = 0;
  std::vector<storage::StoredChange> queue;  // changes waiting for their deps
  std::optional<std::uint32_t> last_local;

  // The diff cursor (diff_incremental): per actor, the greatest op counter in the state it marks
  // (pending ops included); the op set's touch log records what changed since.
  bool cursor_set = false;
  std::vector<std::uint32_t> cursor_counters;
  std::vector<ChangeHash> cursor_heads;
  // The keys ops touched since the cursor (core::TouchLog); applies write it while active.
  core::TouchLog touch_log;
  core::TouchLog* touches() { return touch_log.active ? &touch_log : nullptr; }
  // Local edits since the cursor, op by op (core/local_patch_log.h).
  core::LocalPatchLog local_log;

  // Pending transaction.
  bool tx_open = false;
  std::uint32_t tx_start_op = 0;
  core::PendingOps tx_ops;

  // What the next commit uses instead of its usual start op, seq and deps: change_at
  // (change_at.cc) commits on a fork at older heads, and the reference's isolated transaction
  // numbers ops after the whole document's and depends on exactly the given heads. Cleared by
  // that commit.
  struct CommitOverride {
    std::uint32_t start_op = 0;
    std::uint64_t seq = 0;
    std::vector<ChangeHash> deps;  // sorted; duplicates kept, as the reference keeps them
  };
  std::optional<CommitOverride> next_commit;

  explicit Impl(DocumentOptions o) : options(std::move(o)) {
    actor = options.actor ? *options.actor : ActorId::random();
  }

  // The time of a commit that gives none: the document's clock, else the system clock in whole
  // seconds (JS: Math.floor(Date.now() / 1000)).
  std::int64_t commit_time_now() const {
    if (options.commit_clock) return options.commit_clock();
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  }

  WidthUnit text_unit() const {
    return options.text_unit == TextUnit::kUtf16 ? WidthUnit::kUtf16 : WidthUnit::kChars;
  }
  WidthUnit unit_for(const Object& o) const {
    return o.type == ObjType::kText ? text_unit() : WidthUnit::kChars;
  }

  // ---- ids between the API and the op set ----
  Result<std::uint32_t> resolve_obj(const ObjId& id) const {
    if (id.is_root()) return kRootObject;
    const auto a = actors().find(id.actor().bytes);
    if (!a || id.counter() > UINT32_MAX) return fail(Error::invalid_argument("object id", id.to_string() + " is not in this document"));
    const auto oi = opset().object_index(OpId{static_cast<std::uint32_t>(id.counter()), *a});
    if (!oi) return fail(Error::invalid_argument("object id", id.to_string() + " is not in this document"));
    return *oi;
  }
  ObjId to_obj_id(OpId id) const {
    if (id.counter == 0) return ObjId::root();
    return ObjId(id.counter, ActorId{actors().bytes(id.actor)});
  }
  std::string op_id_string(OpId id) const {
    return std::to_string(id.counter) + "@" + to_hex(actors().bytes(id.actor));
  }

  Value value_of(const Op& op) const {
    if (auto t = make_type(op.action)) return ObjectRef{*t, to_obj_id(op.id)};
    if (op.is_counter()) return ScalarValue{Counter{op.value.int_value() + opset().inc_total(op)}};
    return op.value.get();
  }

  // ---- transactions ----
  void open_tx() {
    if (tx_open) return;
    tx_open = true;
    tx_start_op = next_commit ? next_commit->start_op : max_op + 1;
    tx_ops.clear();
  }
  OpId next_id() {
    open_tx();
    return OpId{tx_start_op + static_cast<std::uint32_t>(tx_ops.size()), intern_actor(actor.bytes)};
  }
  Status local(const ResolvedOp& op) {
    assert(opset_.use_count() == 1 && "a local write calls own_opset() before it reads the op set");
    AM_TRY_STATUS(own_opset().apply(op, touches()));
    tx_ops.push(op);
    return {};
  }

  // Encodes the open transaction into a change and records it (core/commit.cc).
  ChangeHash commit(const CommitOptions& opts);
  // Scratch of commit(), kept so that a commit allocates nothing in the steady state:
  // document actor -> change actor index + 1 (all 0 between commits), the actors the ops name,
  // one op's preds.
  std::vector<std::uint32_t> commit_actor_slots;
  std::vector<std::uint32_t> commit_named;
  std::vector<storage::ChangeOpId> commit_preds;

  std::size_t rollback() {
    const std::size_t n = tx_ops.size();
    tx_open = false;
    tx_ops.clear();
    if (n > 0) {
      rebuild();  // drops the touch log: the next diff_incremental() diffs the whole document
      // The undone ops' counters will be used again: the cursor must not count them as seen.
      const auto own = actors().find(actor.bytes);
      if (cursor_set && own && *own < cursor_counters.size()) {
        const bool committed = *own < changes_by_actor.size() && !changes_by_actor[*own].empty();
        const auto last = committed ? history[changes_by_actor[*own].back()].max_op() : 0;
        cursor_counters[*own] = std::min<std::uint32_t>(cursor_counters[*own], static_cast<std::uint32_t>(last));
      }
    }
    return n;
  }

  // Adds a change (whose ops are already in the op set) to the history.
  void record(const storage::StoredChange& sc, std::uint32_t author) {
    for (const ChangeHash& d : sc.change.deps) heads.erase(d);
    heads.insert(sc.hash);
    note_recorded(history.append(sc, author), author, sc.change.max_op());
  }
  // The bookkeeping after a change of `author` became history row `idx`.
  void note_recorded(std::uint32_t idx, std::uint32_t author, std::uint64_t change_max_op) {
    if (changes_by_actor.size() <= author) changes_by_actor.resize(author + 1);
    changes_by_actor[author].push_back(idx);
    max_op = std::max<std::uint32_t>(max_op, static_cast<std::uint32_t>(change_max_op));
  }

  // Applies the ops of a change to the op set.
  Status apply_ops(const storage::Change& c) {
    local_log.invalidate();  // not a local edit: the patches must come from states
    std::vector<std::uint32_t> map;
    map.reserve(c.actors.size());
    for (const Bytes& a : c.actors) map.push_back(intern_actor(a));
    auto global = [&](storage::ChangeOpId id) { return OpId{static_cast<std::uint32_t>(id.counter), map[id.actor]}; };
    for (std::size_t i = 0; i < c.ops.size(); ++i) {
      const storage::ChangeOp& op = c.ops[i];
      ResolvedOp r;
      r.id = OpId{static_cast<std::uint32_t>(c.start_op + i), map[0]};
      if (op.obj) r.obj = global(*op.obj);
      if (const auto* k = std::get_if<std::string>(&op.key)) {
        r.map_key = *k;
      } else {
        const auto& e = std::get<storage::ElemKey>(op.key);
        r.elem = e.is_head() ? OpId{} : global(e.elem);
      }
      r.insert = op.insert;
      r.action = op.action;
      r.value = op.value;
      for (const auto& p : op.pred) r.pred.push_back(global(p));
      r.expand = op.expand;
      r.mark_name = op.mark_name;
      AM_TRY_STATUS(own_opset().apply(r, touches()));
    }
    return {};
  }

  // Rebuilds the op set from the history. The history keeps chunks, not ops, so each change is
  // decoded again: slow, and only for rollbacks and failed remote changes.
  void rebuild() {
    local_log.invalidate();
    reset_opset();
    for (std::size_t i = 0; i < history.size(); ++i) {
      // These changes decoded and applied before, so they do again.
      auto sc = storage::decode_change_chunk(history.chunk(i));
      if (sc) (void)apply_ops(sc->change);
    }
  }

  bool deps_present(const storage::Change& c) const {
    for (const ChangeHash& d : c.deps) {
      if (!history.contains(d)) return false;
    }
    return true;
  }

  // Applies one change whose deps are present.
  Status apply_ready(const storage::StoredChange& sc) {
    const std::uint32_t author = intern_actor(sc.change.actors[0]);
    const std::size_t have = author < changes_by_actor.size() ? changes_by_actor[author].size() : 0;
    if (sc.change.seq != have + 1) {
      if (sc.change.seq <= have) {
        return fail(Error::corruption("change", "a different change with the same actor and seq " +
                                                    std::to_string(sc.change.seq) + " exists"));
      }
      return fail(Error::corruption("change", "seq " + std::to_string(sc.change.seq) +
                                                  " skips earlier changes of its actor"));
    }
    if (sc.change.start_op > UINT32_MAX || sc.change.max_op() > UINT32_MAX) {
      return fail(Error::corruption("change", "op counter does not fit 32 bits"));
    }
    if (Status s = apply_ops(sc.change); !s) {
      rebuild();
      return s;
    }
    record(sc, author);
    return {};
  }

  // Undoes everything applied after the history had `rows` changes and restores `old_queue`.
  void restore(std::size_t rows, std::vector<storage::StoredChange> old_queue) {
    queue = std::move(old_queue);
    if (rows >= history.size()) return;
    history.truncate(rows);
    for (auto& list : changes_by_actor) {
      while (!list.empty() && list.back() >= rows) list.pop_back();
    }
    std::vector<bool> referenced(rows, false);
    max_op = 0;
    for (std::size_t i = 0; i < rows; ++i) {
      for (std::uint32_t dep : history.deps(i)) referenced[dep] = true;
      max_op = std::max<std::uint32_t>(max_op, static_cast<std::uint32_t>(history[i].max_op()));
    }
    heads.clear();
    for (std::size_t i = 0; i < rows; ++i) {
      if (!referenced[i]) heads.insert(history.hash(i));
    }
    if (last_local && *last_local >= rows) last_local.reset();
    saved_changes = std::min(saved_changes, rows);
    rebuild();
  }

  // Applies a batch atomically: on any error the document is as it was before the call. The
  // queue is not copied for that (it may hold many big changes): the batch only appends to it,
  // and a failed apply_ready_queue() leaves it whole.
  Status apply_stored(std::vector<storage::StoredChange> incoming) {
    if (tx_open) commit({});
    const std::size_t rows_before = history.size();
    const std::size_t queued_before = queue.size();
    enqueue(std::move(incoming));
    Status s = apply_ready_queue([](std::size_t, const storage::StoredChange&) { return Status{}; });
    if (!s) {
      queue.resize(queued_before);
      restore(rows_before, std::move(queue));
    }
    return s;
  }

  // Appends the changes that are neither applied nor queued (nor repeated) to the queue, in order.
  void enqueue(std::vector<storage::StoredChange> incoming) {
    std::unordered_set<ChangeHash, HashOfChangeHash> queued;
    for (const auto& q : queue) queued.insert(q.hash);
    for (auto& sc : incoming) {
      if (history.contains(sc.hash)) continue;
      if (queued.insert(sc.hash).second) queue.push_back(std::move(sc));
    }
  }

  // The queued changes that can be applied now, in the order the reference applies a batch
  // (core::fifo_topological_order): a change waits on its deps that are not applied yet, and
  // one of them that is not queued either keeps it out. The apply order decides the saved
  // change order.
  std::vector<std::size_t> ready_order() const {
    std::vector<std::uint32_t> unsatisfied(queue.size(), 0);
    std::unordered_map<ChangeHash, std::vector<std::size_t>, HashOfChangeHash> waiting_on;
    for (std::size_t i = 0; i < queue.size(); ++i) {
      for (const ChangeHash& dep : queue[i].change.deps) {
        if (history.contains(dep)) continue;
        ++unsatisfied[i];
        waiting_on[dep].push_back(i);
      }
    }
    return core::fifo_topological_order(std::move(unsatisfied), [&](std::size_t j, auto&& take) {
      const auto it = waiting_on.find(queue[j].hash);
      if (it == waiting_on.end()) return;
      for (std::size_t i : it->second) take(i);
    });
  }

  // Applies the ready queued changes in ready_order() and drops them from the queue; the others
  // stay queued, in order. `before_apply(i, change)` runs before queue[i] is applied. An error
  // from it or from applying stops there and leaves the queue as it was (the changes applied so
  // far included: the caller undoes or drops them); *failed is then the failed change's index.
  template <class BeforeApply>
  Status apply_ready_queue(BeforeApply&& before_apply, std::size_t* failed = nullptr) {
    if (queue.empty()) return {};
    const std::vector<std::size_t> order = ready_order();
    if (order.empty()) return {};
    for (std::size_t i : order) {
      Status s = before_apply(i, queue[i]);
      if (s) s = apply_ready(queue[i]);
      if (!s) {
        if (failed) *failed = i;
        return s;
      }
    }
    std::vector<std::uint8_t> taken(queue.size(), 0);
    for (std::size_t i : order) taken[i] = 1;
    std::vector<storage::StoredChange> rest;
    rest.reserve(queue.size() - order.size());
    for (std::size_t i = 0; i < queue.size(); ++i) {
      if (!taken[i]) rest.push_back(std::move(queue[i]));
    }
    queue = std::move(rest);
    return {};
  }

  // ---- reads ----
  Result<const Object*> object_for(const ObjId& id) const {
    AM_TRY_ASSIGN(const std::uint32_t oi, resolve_obj(id));
    return &opset().object(oi);
  }

  // Element handle at visible index `index` of a sequence.
  std::uint32_t element_at(const Object& o, std::size_t index) const {
    return o.seq.find_by_offset(index, unit_for(o));
  }

  // ---- local op preparation: target, key and pred; the caller sets action and value ----
  static std::optional<OpId> obj_field(const Object& o) {
    return o.id.counter == 0 ? std::optional<OpId>() : std::optional<OpId>(o.id);
  }
  void set_pred_visible(ResolvedOp& op, std::span<const std::uint32_t> ops, std::uint32_t insert_op) const {
    std::vector<std::uint32_t> vis;
    opset().visible_ops(ops, insert_op, vis);
    for (auto i : vis) op.pred.push_back(opset().op(i).id);
  }
  std::size_t length_of(const Object& o) const {
    if (!is_sequence(o.type)) return 0;
    return static_cast<std::size_t>(o.seq.total_width(unit_for(o)));
  }

  // An op that overwrites (or deletes/increments) what is at `prop`; pred = visible ops there.
  Result<ResolvedOp> target(const ObjId& obj, const Prop& prop) const {
    AM_TRY_ASSIGN(const Object* o, object_for(obj));
    ResolvedOp op;
    op.obj = obj_field(*o);
    if (const auto* key = std::get_if<std::string>(&prop)) {
      if (is_sequence(o->type)) return fail(Error::invalid_argument("object " + obj.to_string(), "is a sequence; use an index"));
      op.map_key = *key;
      if (auto it = o->props.find(*key); it != o->props.end()) set_pred_visible(op, it->second.live(), kNone32);
    } else {
      if (!is_sequence(o->type)) return fail(Error::invalid_argument("object " + obj.to_string(), "is a map; use a key"));
      const std::size_t index = std::get<std::size_t>(prop);
      const std::uint32_t h = element_at(*o, index);
      if (h == SequenceIndex::kNone) {
        return fail(Error::invalid_argument("index", std::to_string(index) + " is out of range (length " +
                                                         std::to_string(length_of(*o)) + ")"));
      }
      set_pred_visible(op, o->ops_of(h), o->elems[h].insert_op);
      op.elem = opset().op(o->elems[h].insert_op).id;
    }
    return op;
  }

  // `index` of sequence `o`, or the end of the character it falls inside (a surrogate pair's
  // second unit): where an element inserted at `index` goes.
  std::size_t insertion_index(const Object& o, std::size_t index) const {
    if (index == 0) return 0;
    const WidthUnit unit = unit_for(o);
    const std::uint32_t h = o.seq.last_visible_before(index, unit);
    if (h == SequenceIndex::kNone) return index;
    const SeqWidth w = o.seq.width_of(h);
    return static_cast<std::size_t>(o.seq.offset_of(h, unit)) + (unit == WidthUnit::kUtf16 ? w.utf16 : w.chars);
  }

  // An insert op placing a new element at visible `index`; *placed (if given) is the index it
  // gets (`index` itself, or the end of the character `index` falls inside).
  Result<ResolvedOp> insertion(const ObjId& obj, std::size_t index, std::size_t* placed = nullptr) const {
    AM_TRY_ASSIGN(const Object* o, object_for(obj));
    if (!is_sequence(o->type)) return fail(Error::invalid_argument("object " + obj.to_string(), "is not a list or text"));
    const std::size_t len = length_of(*o);
    if (index > len) {
      return fail(Error::invalid_argument("index", std::to_string(index) + " is past the end (length " +
                                                       std::to_string(len) + ")"));
    }
    ResolvedOp op;
    op.obj = obj_field(*o);
    op.insert = true;
    const WidthUnit unit = unit_for(*o);
    std::uint32_t h = SequenceIndex::kNone;
    if (placed) *placed = index;
    if (index > 0) {
      h = o->seq.last_visible_before(index, unit);
      if (h == SequenceIndex::kNone) return fail(Error::invalid_argument("index", std::to_string(index) + " is not in the text"));
      // An index inside a character means after it, as the reference's query_insert_at places it.
      if (placed) *placed = insertion_index(*o, index);
    }
    // Rich text (Peritext): between two visible elements, the new one goes after the last mark
    // boundary that it belongs after (the start of a mark that expands, the end of one that does
    // not), skipping deleted elements and the other boundaries on the way, but never between
    // the start and the end of one mark: what remains decides whether it joins each mark. This
    // is the reference's text rule (op_set.rs scan_for_sticky_marks), probed: after "h", an
    // expanding end, a deleted char and an expanding start, the new element goes after the start.
    if (o->type == ObjType::kText) {
      // Without mark ops there is no boundary to find: skip the walk over deleted elements.
      if (o->has_marks) h = sticky_mark_anchor(*o, h);
    } else {
      for (auto next = h == SequenceIndex::kNone ? o->seq.first() : o->seq.next(h);
           next != SequenceIndex::kNone; next = o->seq.next(next)) {
        const Op& m = opset().op(o->elems[next].insert_op);
        if (m.action != Action::kMark) break;
        const bool is_begin = m.has_mark_name;
        if (is_begin != m.expand) break;
        h = next;
      }
    }
    op.elem = h == SequenceIndex::kNone ? OpId{} : opset().op(o->elems[h].insert_op).id;
    return op;
  }

  // The element of text `o` that a new element inserted right after visible element `h`
  // (kNone: the start) goes after, by the rule described in insertion().
  std::uint32_t sticky_mark_anchor(const Object& o, std::uint32_t h) const {
    struct Found {
      std::uint32_t handle;
      OpId begin;  // the id of a mark start; unused for an end
      bool is_begin;
    };
    std::vector<Found> found;
    for (auto next = h == SequenceIndex::kNone ? o.seq.first() : o.seq.next(h); next != SequenceIndex::kNone;
         next = o.seq.next(next)) {
      const Op& m = opset().op(o.elems[next].insert_op);
      if (m.action != Action::kMark) {
        if (o.seq.width_of(next).chars != 0) break;  // the next visible element
        continue;                                     // a deleted one
      }
      if (!m.has_mark_name) {
        // An end whose start was kept: neither may be stepped over alone.
        auto it = std::find_if(found.begin(), found.end(), [&](const Found& f) {
          return f.is_begin && f.begin.actor == m.id.actor && f.begin.counter + 1 == m.id.counter;
        });
        if (it != found.end()) {
          found.erase(it, found.end());
          continue;
        }
        if (!m.expand) found.push_back(Found{next, m.id, false});
      } else if (m.expand) {
        found.push_back(Found{next, m.id, true});
      }
    }
    return found.empty() ? h : found.back().handle;
  }

  /// An insert into sequence `o` whose element the caller sets (insert_after_last).
  static ResolvedOp insert_into(const Object& o) {
    ResolvedOp op;
    op.obj = obj_field(o);
    op.insert = true;
    return op;
  }
  /// Applies `op` (from insert_into, value set) as a new element right after the one the last
  /// pending op made: the next element of a splice into a sequence without marks.
  Status insert_after_last(ResolvedOp& op) {
    op.elem = tx_ops.back().id;
    op.id = next_id();
    return local(op);
  }

  Status put_op(ResolvedOp op, Action action, ScalarValue value) {
    op.action = action;
    op.value = std::move(value);
    op.id = next_id();
    return local(op);
  }

  // ---- load of a whole document (document_save_load.cc) ----
  /// Loads a document chunk body into this document, which must be empty (no history, queue or
  /// open transaction): each change is applied to the op set and the history as the decoder
  /// rebuilds it, without a decoded Change; the history keeps the body and rebuilds the change
  /// chunks only when they are first asked for. On error the document is partly loaded: call
  /// reset_empty() (or discard it).
  ///
  /// The op set is built from the stored ops in document order once the changes are rebuilt
  /// (core/opset/op_set_builder.h); a document whose order the builder refuses is loaded again
  /// by applying each change's ops.
  Status stream_document(ByteView body, bool verify_heads, std::size_t max_decoded_bytes);
  /// One pass of stream_document: in document order (setting *not_in_order when refused, the
  /// document then partly loaded) or by applying each change's ops.
  /// Whether the last stream_document built the op set in document order (for tests).
  bool loaded_in_document_order = false;
  Status stream_document_pass(ByteView body, bool verify_heads, std::size_t max_decoded_bytes, bool in_document_order,
                              bool* not_in_order);
  /// Back to the empty document (the actor table keeps what was interned).
  void reset_empty() {
    local_log.invalidate();
    reset_opset();
    history = core::History();
    heads.clear();
    changes_by_actor.clear();
    max_op = 0;
    queue.clear();
    last_local.reset();
    tx_open = false;
    tx_ops.clear();
    saved_changes = 0;
    loaded_in_document_order = false;
  }
  bool is_empty() const { return history.empty() && queue.empty() && !tx_open; }

  // ---- save and load (issue 4): the save_incremental() cursor ----
  // Changes [0, saved_changes) were covered by the last save*(); `changes` only grows, in
  // application order, so the count is a cursor. Bookkeeping, not document state: the const
  // save() updates it. 0 after load(), so the first save_incremental() returns everything.
  std::size_t saved_changes = 0;

  // ---- sync: what fresh peers get ----
  // Every peer that starts from nothing gets the same save() and the same Bloom filter of every
  // change; with many of them fetching a big document at once, one of each serves them all while
  // our heads stay the same (building the filter per fetcher was a fifth of a 20-fetcher fetch,
  // perf). Only kept for documents with at least kWholeSaveCacheMinChanges changes (cheap
  // otherwise). A cache, not document state: filled from the const path of generate_sync_message.
  static constexpr std::size_t kWholeSaveCacheMinChanges = 256;
  struct FreshPeerCache {
    std::vector<ChangeHash> heads;  // ours when `save` and `bloom` were made
    Bytes save;                     // empty until a fresh peer needs it
    Bytes bloom;
  };
  mutable FreshPeerCache fresh_peer;

  // The cache for our heads `at`, emptied first if it was made at others.
  FreshPeerCache& fresh_peer_at(const std::vector<ChangeHash>& at) const {
    if (fresh_peer.heads != at) fresh_peer = FreshPeerCache{at, {}, {}};
    return fresh_peer;
  }

  // What Document::text_shared, map_range_shared and list_range_shared handed out, each kept
  // while its object stays unchanged (a few at most; the oldest goes first). A cache, not
  // document state (core/document_shared_reads.cc).
  enum class SharedReadKind : std::uint8_t { kText, kMapEntries, kListItems };
  struct SharedRead {
    std::uint64_t stamp = 0;    // OpSet::stamp() when read
    std::uint32_t object = 0;   // the object's index
    SharedReadKind kind = SharedReadKind::kText;
    std::uint64_t changed = 0;  // its Object::changed when read
    std::shared_ptr<const void> value;
  };
  static constexpr std::size_t kMaxSharedReads = 4;
  mutable std::vector<SharedRead> shared_reads;

 private:
  std::shared_ptr<OpSet> opset_ = std::make_shared<OpSet>();
};

namespace detail {
/// The library's way to the state behind a Document (Document befriends it; users never see it).
struct DocumentAccess {
  static const Document::Impl& impl(const Document& d) { return *d.impl_; }
  static Document::Impl& impl_mut(Document& d) { return *d.impl_; }
};
}  // namespace detail

}  // namespace am
