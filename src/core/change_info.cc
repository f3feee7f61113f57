// decode_change (am/change.h): a change chunk as the JS decodeChange describes it.
#include "am/change.h"

#include <string>

#include "am/document.h"
#include "core/document_impl.h"
#include "core/encoding/leb128.h"
#include "core/storage/change.h"

namespace am {

const char* action_name(ChangeOpInfo::Action action) {
  switch (action) {
    case ChangeOpInfo::Action::kMakeMap: return "makeMap";
    case ChangeOpInfo::Action::kSet: return "set";
    case ChangeOpInfo::Action::kMakeList: return "makeList";
    case ChangeOpInfo::Action::kDelete: return "del";
    case ChangeOpInfo::Action::kMakeText: return "makeText";
    case ChangeOpInfo::Action::kIncrement: return "inc";
    case ChangeOpInfo::Action::kMakeTable: return "makeTable";
    case ChangeOpInfo::Action::kMarkBegin: return "markBegin";
    case ChangeOpInfo::Action::kMarkEnd: return "markEnd";
  }
  return "unknown";
}

namespace {

using storage::Action;

std::string op_id(const storage::Change& c, const storage::ChangeOpId& id) {
  return std::to_string(id.counter) + "@" + to_hex(c.actors[id.actor]);
}

ChangeOpInfo::Action info_action(const storage::ChangeOp& op) {
  switch (op.action) {
    case Action::kMakeMap: return ChangeOpInfo::Action::kMakeMap;
    case Action::kSet: return ChangeOpInfo::Action::kSet;
    case Action::kMakeList: return ChangeOpInfo::Action::kMakeList;
    case Action::kDelete: return ChangeOpInfo::Action::kDelete;
    case Action::kMakeText: return ChangeOpInfo::Action::kMakeText;
    case Action::kIncrement: return ChangeOpInfo::Action::kIncrement;
    case Action::kMakeTable: return ChangeOpInfo::Action::kMakeTable;
    case Action::kMark: break;
  }
  // A mark's begin carries its name; its end has none.
  return op.mark_name ? ChangeOpInfo::Action::kMarkBegin : ChangeOpInfo::Action::kMarkEnd;
}

ChangeOpInfo op_info(const storage::Change& c, const storage::ChangeOp& op) {
  ChangeOpInfo info;
  info.action = info_action(op);
  info.obj = op.obj ? op_id(c, *op.obj) : std::string("_root");
  if (const auto* key = std::get_if<std::string>(&op.key)) {
    info.key = *key;
  } else {
    const auto& elem = std::get<storage::ElemKey>(op.key);
    info.elem_id = elem.is_head() ? std::string("_head") : op_id(c, elem.elem);
  }
  info.insert = op.insert;
  if (op.action == Action::kSet || op.action == Action::kIncrement ||
      info.action == ChangeOpInfo::Action::kMarkBegin) {
    info.value = op.value;
  }
  info.mark_name = op.mark_name;
  info.expand = op.expand;
  for (const auto& p : op.pred) info.pred.push_back(op_id(c, p));
  return info;
}

// The author footer JS 3.5 writes into a seq-1 change's extra bytes: uLEB(1) uLEB(len) bytes.
std::optional<Bytes> author_footer(ByteView extra) {
  const std::uint8_t* p = extra.data();
  const std::uint8_t* end = p + extra.size();
  std::uint64_t tag = 0;
  std::uint64_t len = 0;
  if (enc::get_uleb(p, end, tag) != enc::LebStatus::kOk || tag != 1) return std::nullopt;
  if (enc::get_uleb(p, end, len) != enc::LebStatus::kOk) return std::nullopt;
  if (len > static_cast<std::uint64_t>(end - p)) return std::nullopt;
  return Bytes(p, p + len);
}

}  // namespace

Result<ChangeInfo> decode_change(ByteView chunk, bool with_ops) {
  AM_TRY_ASSIGN(storage::StoredChange sc, storage::decode_change_chunk(chunk));
  const storage::Change& c = sc.change;
  ChangeInfo info;
  info.hash = sc.hash;
  info.actor = to_hex(c.actors[0]);
  info.seq = c.seq;
  info.start_op = c.start_op;
  info.op_count = c.ops.size();
  info.time = c.time;
  info.message = c.message;
  info.deps = c.deps;
  info.extra_bytes = c.extra_bytes;
  if (!c.extra_bytes.empty()) info.author = author_footer(c.extra_bytes);
  if (with_ops) {
    info.ops.reserve(c.ops.size());
    for (const auto& op : c.ops) info.ops.push_back(op_info(c, op));
  }
  return info;
}

std::vector<ChangeInfo> Document::history(bool with_ops) const {
  const core::History& h = impl_->history;
  std::vector<ChangeInfo> out;
  out.reserve(h.size());
  for (std::size_t i = 0; i < h.size(); ++i) {
    if (with_ops) {
      // Every applied chunk decoded once before, so this cannot fail short of memory.
      if (auto info = decode_change(h.chunk(i), true)) out.push_back(std::move(*info));
      continue;
    }
    // Metadata comes from the history's own table: no chunk is built or decoded.
    const core::History::Entry& e = h[i];
    ChangeInfo info;
    info.hash = e.hash;
    info.actor = to_hex(impl_->actors().bytes(e.author));
    info.seq = e.seq;
    info.start_op = e.start_op;
    info.op_count = e.op_count;
    info.time = e.time();
    if (auto m = h.message(i); m && !m->empty()) info.message = std::string(*m);
    for (std::uint32_t d : h.deps(i)) info.deps.push_back(h.hash(d));
    const ByteView extra = h.extra_bytes(i);
    info.extra_bytes.assign(extra.begin(), extra.end());
    if (!extra.empty()) info.author = author_footer(extra);
    out.push_back(std::move(info));
  }
  return out;
}

std::optional<ChangeInfo> Document::inspect_change(const ChangeHash& hash) const {
  const auto row = impl_->history.find(hash);
  if (!row) return std::nullopt;
  auto info = decode_change(impl_->history.chunk(*row), true);
  if (!info) return std::nullopt;
  return std::move(*info);
}

}  // namespace am
