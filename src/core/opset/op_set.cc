// OpSet::apply: the one place where ops take effect (format spec §3), and its helpers.
#include "core/opset/op_set.h"

#include <algorithm>
#include <atomic>
#include <string>
#include <variant>

namespace am::core {

std::uint32_t OpSet::intern(std::string_view k) {
  if (auto it = key_index_.find(k); it != key_index_.end()) return it->second;
  const auto idx = static_cast<std::uint32_t>(keys_.size());
  keys_.emplace_back(k);
  key_index_.emplace(std::string(k), idx);
  return idx;
}

template <class List>
std::size_t OpSet::insert_sorted(List& list, std::uint32_t idx, OpId id) {
  auto pos = std::upper_bound(list.begin(), list.end(), id, [&](OpId v, std::uint32_t e) {
    return actors_.less(v, ops_[e].id);
  });
  const auto at = static_cast<std::size_t>(pos - list.begin());
  list.insert(at, idx);
  return at;
}

void OpSet::skip_hidden(KeyOps& key) const {
  while (key.live_from < key.ops.size() && !ops_[key.ops[key.live_from]].visible()) ++key.live_from;
}

void OpSet::integrate_insert(std::uint32_t oi, std::uint32_t op_idx, std::uint32_t ref) {
  Object& o = objects_[oi];
  const OpId id = ops_[op_idx].id;
  const auto handle = static_cast<std::uint32_t>(o.elems.size());
  // Grow by a quarter, not double: a long text has hundreds of thousands of elements.
  if (o.elems.size() == o.elems.capacity()) o.elems.reserve(o.elems.size() + o.elems.size() / 4 + 16);
  o.elems.push_back(Element{op_idx});
  SequenceIndex::Handle prev = ref == kNone32 ? SequenceIndex::kNone : ref;
  SequenceIndex::Handle cur = prev == SequenceIndex::kNone ? o.seq.first() : o.seq.next(prev);
  while (cur != SequenceIndex::kNone && actors_.less(id, ops_[o.elems[cur].insert_op].id)) {
    prev = cur;
    cur = o.seq.next(cur);
  }
  o.seq.insert_after(prev, handle, element_width(o, handle));
}

SeqWidth OpSet::element_width(const Object& o, std::uint32_t handle) const {
  const std::uint32_t w = winner(o.ops_of(handle), o.elems[handle].insert_op);
  if (w == kNone32) return {};
  if (o.type == ObjType::kText) {
    const Op& op = ops_[w];
    if (op.action == Action::kSet && op.value.is_string()) {
      return text_width(op.value.str());
    }
  }
  return {1, 1};
}

std::uint64_t ContentStamp::next() {
  static std::atomic<std::uint64_t> counter{1};
  return counter.fetch_add(1, std::memory_order_relaxed);
}

void OpSet::refresh_width(Object& o, std::uint32_t handle) {
  o.seq.set_width(handle, element_width(o, handle));  // a no-op when unchanged
}

void OpSet::record_touches(TouchLog& log, std::uint32_t oi, bool seq, std::uint32_t key, std::uint32_t stored,
                           std::string_view map_key) {
  if (seq) {
    // An insert touches the element it creates, any other op the element it is on.
    const std::uint32_t elem = stored != kNone32 && ops_[stored].insert ? ops_[stored].key : key;
    if (elem != kNone32) log.touch(oi, elem);
  } else if (stored != kNone32) {
    log.touch(oi, ops_[stored].key);
  } else if (auto it = key_index_.find(map_key); it != key_index_.end()) {
    log.touch(oi, it->second);  // a delete (not stored) of a key the document has
  }
  for (std::uint32_t p : pred_scratch_) {
    const Op& target = ops_[p];
    if (target.key != kNone32) log.touch(oi, target.key);
  }
}

Status OpSet::apply(const OpView& r, TouchLog* touches) {
  std::uint32_t oi = kRootObject;
  if (r.obj) {
    auto it = obj_index_.find(pack(*r.obj));
    if (it == obj_index_.end()) return fail(Error::corruption("op", "refers to an unknown object"));
    oi = it->second;
  }
  if (r.id.counter == 0 || op_index_.contains(r.id)) {
    return fail(Error::corruption("op", "duplicate or zero op id"));
  }
  Object& obj = objects_[oi];
  const bool seq = is_sequence(obj.type);
  if (seq != r.elem.has_value()) {
    return fail(Error::corruption("op", seq ? "map key on a sequence" : "element key on a map"));
  }
  if (r.insert && !seq) return fail(Error::corruption("op", "insert into a map"));
  if (r.action == Action::kMark && !seq) return fail(Error::corruption("op", "mark on a map"));

  // Resolve the key.
  std::uint32_t key = kNone32;
  if (seq) {
    if (r.elem->counter != 0) {
      const auto it = op_index_.find(*r.elem);
      if (!it || ops_[*it].obj != oi || !ops_[*it].insert) {
        return fail(Error::corruption("op", "refers to an unknown list element"));
      }
      key = ops_[*it].key;
    } else if (!r.insert) {
      return fail(Error::corruption("op", "non-insert op on the list head"));
    }
  }
  // Resolve preds before changing anything.
  std::vector<std::uint32_t>& preds = pred_scratch_;
  preds.clear();
  for (const OpId& p : r.pred) {
    const auto it = op_index_.find(p);
    if (!it) return fail(Error::corruption("op", "pred refers to an unknown op"));
    // A pred elsewhere would make element bookkeeping touch the wrong sequence; no
    // document can express it either.
    if (ops_[*it].obj != oi) return fail(Error::corruption("op", "pred refers to an op in another object"));
    preds.push_back(*it);
  }
  if (make_type(r.action) && objects_.size() >= kMaxObjectsPerDocument) {
    return fail(Error::resource_limit("op", "a document has at most 16,777,216 objects"));
  }
  const ScalarValue& value = *r.value;
  if (r.action == Action::kIncrement && !std::holds_alternative<std::int64_t>(value) &&
      !std::holds_alternative<std::uint64_t>(value)) {
    return fail(Error::corruption("op", "increment by a non-integer"));
  }

  for (std::uint32_t p : preds) {
    Op& target = ops_[p];
    succ_.to_add(p).push_back(r.id);
    if (r.action == Action::kIncrement && target.is_counter()) {
      inc_totals_[pack(target.id)] += std::holds_alternative<std::int64_t>(value)
                                          ? std::get<std::int64_t>(value)
                                          : static_cast<std::int64_t>(std::get<std::uint64_t>(value));
    } else {
      target.hidden = true;
    }
  }

  KeyOps* key_ops = nullptr;  // the map key's ops (node-based map: stable while objects_ grows)
  if (r.action == Action::kDelete && !seq) {
    if (auto at = obj.props.find(r.map_key); at != obj.props.end()) skip_hidden(at->second);
  }
  if (r.action != Action::kDelete) {
    const auto idx = static_cast<std::uint32_t>(ops_.size());
    Op op;
    op.id = r.id;
    op.obj = oi & (kMaxObjectsPerDocument - 1);  // oi < kMaxObjectsPerDocument: checked above
    op.action = r.action;
    op.insert = r.insert;
    op.expand = r.expand;
    op.value = OpValue(value);
    if (r.mark_name) {
      op.has_mark_name = true;
      mark_names_[pack(r.id)] = intern(*r.mark_name);
    }
    if (!seq) {
      op.key = intern(r.map_key);
      auto at = obj.props.find(r.map_key);
      if (at == obj.props.end()) at = obj.props.emplace(std::string(r.map_key), KeyOps{}).first;
      key_ops = &at->second;
      const auto pos = static_cast<std::uint32_t>(insert_sorted(key_ops->ops, idx, op.id));
      // A late op that sorts before the live ones may be visible: they begin at it at the latest.
      key_ops->live_from = std::min(key_ops->live_from, pos);
    } else if (r.insert) {
      op.key = static_cast<std::uint32_t>(obj.elems.size());
    } else {
      op.key = key;
      insert_sorted(obj.ops_to_add(key), idx, op.id);
    }
    ops_.push_back(std::move(op));
    op_index_.insert(r.id, idx);
    if (seq && r.insert) set_insert_ref(idx, key);
    if (key_ops != nullptr) skip_hidden(*key_ops);  // its preds are hidden, it is stored
    if (auto t = make_type(r.action)) {
      const auto new_obj = static_cast<std::uint32_t>(objects_.size());
      objects_.emplace_back();
      objects_.back().type = *t;
      objects_.back().id = r.id;
      obj_index_.emplace(pack(r.id), new_obj);
    }
    if (seq && r.insert) integrate_insert(oi, idx, key);
  }
  if (r.action == Action::kMark) objects_[oi].has_marks = true;
  objects_[oi].changed = ++applied_;
  if (touches != nullptr && touches->active) {
    const std::uint32_t stored = r.action == Action::kDelete ? kNone32 : static_cast<std::uint32_t>(ops_.size() - 1);
    record_touches(*touches, oi, seq, key, stored, r.map_key);
  }
  if (seq) {
    Object& o = objects_[oi];  // objects_ may have grown
    // An insert leaves the element it follows as it was; a delete's key is usually its pred's
    // element too: each element is refreshed once.
    const std::uint32_t keyed = r.insert ? kNone32 : key;
    if (keyed != kNone32) refresh_width(o, keyed);
    for (std::uint32_t p : preds) {
      const std::uint32_t e = ops_[p].key;
      if (e != kNone32 && e != keyed) refresh_width(o, e);
    }
  }
  return {};
}

}  // namespace am::core
