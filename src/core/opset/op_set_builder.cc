// DocOrderBuilder: see op_set_builder.h.
#include "core/opset/op_set_builder.h"

#include <algorithm>
#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace am::core {

namespace {

// Slabs pay off once a document has many objects: each sequence makes a few blocks of a few
// KiB (leaves, elements, their index), and a slab costs up to 2 MiB of resident memory.
constexpr std::size_t kBulkFromOps = std::size_t{1} << 16;
constexpr std::size_t kBulkFromSequences = 256;

}  // namespace

DocOrderBuilder::DocOrderBuilder(const ActorTable& actors, std::size_t num_ops) : num_ops_(num_ops), set_(actors) {
  set_.ops_.reserve(num_ops);
  set_.succ_.reserve(num_ops);
  object_done_.push_back(0);  // the root
}

bool DocOrderBuilder::enter_object(std::uint32_t oi) {
  if (oi == current_object_) return true;
  if (object_done_[oi] != 0) return false;  // an object's ops are one run
  if (current_object_ != kNone32) object_done_[current_object_] = 1;
  current_object_ = oi;
  path_.clear();
  path_.push_back(kNone32);  // the list head
  top_last_child_ = kNone32;
  last_key_ = nullptr;
  if (is_sequence(set_.objects_[oi].type)) {
    if (++sequences_entered_ == kBulkFromSequences && num_ops_ >= kBulkFromOps) bulk_.activate();
    set_.objects_[oi].elems.reserve(expected_elements_);
    path_.reserve(expected_elements_ + 1);
  }
  expected_elements_ = 0;
  return true;
}

bool DocOrderBuilder::add(const OpView& op, std::span<const OpId> succ, OpValue value) {
  if (failed_) return false;
  failed_ = true;  // until the op is placed
  last_insert_handle_ = kNone32;
  if (op.id.counter == 0 || op.action == Action::kDelete) return false;
  std::uint32_t oi = kRootObject;
  if (op.obj) {
    const auto it = set_.obj_index_.find(pack(*op.obj));
    if (it == set_.obj_index_.end() || op.obj->counter >= op.id.counter) return false;
    oi = it->second;
  }
  if (!enter_object(oi)) return false;
  const bool seq = is_sequence(set_.objects_[oi].type);
  if (seq != op.elem.has_value()) return false;
  if (!seq && (op.insert || op.action == Action::kMark)) return false;
  if (op.action == Action::kIncrement && !value.is_int_or_uint()) return false;

  const auto idx = static_cast<std::uint32_t>(set_.ops_.size());
  // One aggregate: the bit fields are written as one word, not one at a time.
  Op& rec = set_.ops_.emplace_back(Op{.id = op.id,
                                      .obj = oi & (kMaxObjectsPerDocument - 1),  // objects_ never passes kMaxObjectsPerDocument
                                      .action = op.action,
                                      .insert = op.insert,
                                      .expand = op.expand,
                                      .hidden = !succ.empty(),
                                      .value = std::move(value)});
  if (op.mark_name) {
    rec.has_mark_name = true;
    set_.mark_names_[pack(op.id)] = set_.intern(*op.mark_name);
  }
  for (const OpId& s : succ) {
    if (s.counter <= op.id.counter) return false;  // a successor comes later
    set_.succ_.to_add(idx).push_back(s);
  }
  // Every successor hides (.hidden above), except an increment of a counter: finish() settles
  // counters.
  if (rec.is_counter() && !succ.empty()) counters_.push_back(idx);

  Object& o = set_.objects_[oi];
  if (op.action == Action::kMark) o.has_marks = true;
  if (!(seq ? place_in_sequence(o, idx, op) : place_in_map(o, idx, op))) return false;
  if (const auto t = make_type(op.action)) {
    if (set_.objects_.size() >= kMaxObjectsPerDocument) return false;
    const auto made = static_cast<std::uint32_t>(set_.objects_.size());
    if (!set_.obj_index_.emplace(pack(op.id), made).second) return false;
    Object& child = set_.objects_.emplace_back();  // `o` is invalid from here
    child.type = *t;
    child.id = op.id;
    object_done_.push_back(0);
  }
  if (seq && op.insert) last_insert_handle_ = set_.ops_[idx].key;
  failed_ = false;
  return true;
}

bool DocOrderBuilder::add_typed_char(OpId id, char c, std::span<const OpId> succ) {
  if (failed_ || last_insert_handle_ == kNone32) return false;
  failed_ = true;  // until the op is placed
  Object& o = set_.objects_[current_object_];
  const std::uint32_t parent_handle = last_insert_handle_;
  // The parent is the latest element: the end of the path, with no child yet, so no sibling
  // order to check.
  if (id.counter <= element_id(o, parent_handle).counter) return false;
  const auto idx = static_cast<std::uint32_t>(set_.ops_.size());
  const auto handle = static_cast<std::uint32_t>(o.elems.size());
  // Its reference is the element made just before its own, which insert_ref assumes.
  assert(parent_handle + 1 == handle && path_.back() == parent_handle && top_last_child_ == kNone32);
  set_.ops_.emplace_back(Op{.id = id,
                            .obj = current_object_ & (kMaxObjectsPerDocument - 1),
                            .action = Action::kSet,
                            .insert = true,
                            .hidden = !succ.empty(),
                            .key = handle,
                            .value = OpValue::string(std::string_view(&c, 1))});
  for (const OpId& s : succ) {
    if (s.counter <= id.counter) return false;  // a successor comes later
    set_.succ_.to_add(idx).push_back(s);
  }
  o.elems.push_back(Element{idx});
  path_.push_back(handle);  // the parent's latest child now; the new top has none
  last_insert_handle_ = handle;
  failed_ = false;
  return true;
}

bool DocOrderBuilder::place_in_map(Object& o, std::uint32_t idx, const OpView& op) {
  Op& rec = set_.ops_[idx];
  // A key's ops are consecutive: look the key up once per key, not once per op.
  if (last_key_ == nullptr || last_key_name_ != op.map_key) {
    auto it = o.props.find(op.map_key);
    if (it == o.props.end()) it = o.props.emplace(std::string(op.map_key), KeyOps{}).first;
    last_key_ = &it->second;
    last_key_name_ = it->first;  // the map's node: stable
    last_key_index_ = set_.intern(op.map_key);
  }
  KeyOps& key = *last_key_;
  if (!key.ops.empty() && !set_.actors_.less(set_.ops_[key.ops.back()].id, op.id)) return false;
  key.ops.push_back(idx);
  rec.key = last_key_index_;
  return true;
}

bool DocOrderBuilder::place_in_sequence(Object& o, std::uint32_t idx, const OpView& op) {
  Op& rec = set_.ops_[idx];
  const OpId ref = *op.elem;
  if (!op.insert) {
    // An op on an element follows its insert and the element's earlier ops.
    const std::uint32_t at = path_.back();
    if (ref.counter == 0 || at == kNone32 || !(element_id(o, at) == ref)) return false;
    const std::span<const std::uint32_t> earlier = o.ops_of(at);
    const OpId last = earlier.empty() ? ref : set_.ops_[earlier.back()].id;
    if (!set_.actors_.less(last, op.id)) return false;
    o.ops_to_add(at).push_back(idx);
    rec.key = at;
    return true;
  }
  // RGA order is a preorder of the insert tree, siblings by descending id: the new element's
  // parent (the element it was inserted after) is on the path to the previous element.
  auto is_parent = [&](std::uint32_t h) {
    return h == kNone32 ? ref.counter == 0 : ref.counter != 0 && element_id(o, h) == ref;
  };
  std::uint32_t last_child = top_last_child_;
  while (path_.size() > 1 && !is_parent(path_.back())) {
    last_child = path_.back();  // the latest child of the entry below it
    path_.pop_back();
  }
  const std::uint32_t parent = path_.back();
  if (!is_parent(parent)) return false;
  if (ref.counter != 0 && ref.counter >= op.id.counter) return false;
  if (last_child != kNone32 && !set_.actors_.less(op.id, element_id(o, last_child))) return false;
  const auto handle = static_cast<std::uint32_t>(o.elems.size());
  o.elems.push_back(Element{idx});
  rec.key = handle;
  set_.set_insert_ref(idx, parent);
  path_.push_back(handle);
  top_last_child_ = kNone32;
  return true;
}

void DocOrderBuilder::build_sequence(Object& o) {
  o.seq.assign_in_order(o.elems.size(), [&](std::uint32_t h) { return set_.element_width(o, h); });
}

bool DocOrderBuilder::finish(OpSet& out) {
  if (failed_) return false;
  failed_ = true;
  // The RGA path is done with: its pages (a word per element of the longest sequence)
  // go back now, for the op index and the sequence indexes below, instead of at the peak.
  path_ = ScratchVector<std::uint32_t>();
  BigVector<Op>& ops = set_.ops_;
  if (!set_.op_index_.assign(ops.size(), [&](std::size_t i) { return ops[i].id; })) return false;
  for (const std::uint32_t idx : counters_) {
    Op& c = ops[idx];
    std::uint32_t hiding = 0;
    for (const OpId s : set_.succ_.of(idx)) {
      const auto f = set_.op_index_.find(s);
      if (f && ops[*f].obj != c.obj) return false;  // a pred in another object
      if (f && ops[*f].action == Action::kIncrement) {
        set_.inc_totals_[pack(c.id)] += ops[*f].value.int_value();
      } else {
        ++hiding;
      }
    }
    c.hidden = hiding != 0;
  }
  for (Object& o : set_.objects_) {
    if (is_sequence(o.type)) {
      build_sequence(o);
    } else {
      for (auto& [name, key] : o.props) set_.skip_hidden(key);
    }
  }
  out = std::move(set_);
  return true;
}

}  // namespace am::core
