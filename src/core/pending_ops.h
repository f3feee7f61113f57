// PendingOps: the ops of a document's open transaction, kept until commit encodes them.
//
// A paste is one op per character and a transaction can hold a whole document's worth, so each
// pending op is a 72-byte record (ids, the value inline as in the op set, preds in one word
// when there is one, strings in one shared buffer) rather than a ResolvedOp (184 bytes with
// its own string, vector and variant). Internal to am_core; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/opset/op_set.h"

namespace am::core {

/// One pending op. Ids use document actor indexes; obj counter 0 is the root.
struct PendingOp {
  OpId id;
  OpId obj;
  OpId elem;  // sequence ops: the element (counter 0: the head)
  std::uint32_t key_at = 0;   // map ops: the key in PendingOps' strings
  std::uint32_t key_len = 0;
  std::uint32_t mark_at = 0;  // a mark begin: its name in PendingOps' strings
  std::uint32_t mark_len = 0;
  SuccList pred;  // the preds, ascending
  OpValue value;
  Action action = Action::kSet;
  bool is_map = false;
  bool insert = false;
  bool expand = false;
  bool has_mark_name = false;
};

/// The open transaction's ops, in the order they were made. Value type.
class PendingOps {
 public:
  void push(const ResolvedOp& r) {
    PendingOp& p = ops_.emplace_back();
    p.id = r.id;
    if (r.obj) p.obj = *r.obj;
    p.is_map = !r.elem.has_value();
    if (p.is_map) {
      p.key_at = append(r.map_key);
      p.key_len = static_cast<std::uint32_t>(r.map_key.size());
    } else {
      p.elem = *r.elem;
    }
    for (const OpId& q : r.pred) p.pred.push_back(q);
    p.value = OpValue(r.value);
    p.action = r.action;
    p.insert = r.insert;
    p.expand = r.expand;
    if (r.mark_name) {
      p.has_mark_name = true;
      p.mark_at = append(*r.mark_name);
      p.mark_len = static_cast<std::uint32_t>(r.mark_name->size());
    }
  }
  std::size_t size() const { return ops_.size(); }
  bool empty() const { return ops_.empty(); }
  void clear() {
    ops_.clear();
    strings_.clear();
  }
  /// Room for n ops in all (a hint; grows geometrically past it).
  void reserve(std::size_t n) {
    if (n > ops_.capacity()) ops_.reserve(std::max(n, 2 * ops_.capacity()));
  }
  const PendingOp& operator[](std::size_t i) const { return ops_[i]; }
  const PendingOp& back() const { return ops_.back(); }
  std::string_view key(const PendingOp& p) const { return std::string_view(strings_).substr(p.key_at, p.key_len); }
  std::string_view mark_name(const PendingOp& p) const {
    return std::string_view(strings_).substr(p.mark_at, p.mark_len);
  }

 private:
  std::uint32_t append(std::string_view s) {
    const auto at = static_cast<std::uint32_t>(strings_.size());
    strings_.append(s);
    return at;
  }

  BigVector<PendingOp> ops_;
  std::string strings_;
};

}  // namespace am::core
