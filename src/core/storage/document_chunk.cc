#include "core/storage/document_chunk.h"

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "core/encoding/byte_reader.h"
#include "core/encoding/column_rows.h"
#include "core/encoding/column_spec.h"
#include "core/encoding/leb128.h"
#include "core/encoding/rle.h"
#include "core/encoding/value_column.h"
#include "core/storage/chunk.h"

namespace am::storage {
namespace {

using core::kNone32;
using enc::ColumnSpec;
using enc::ColumnType;

// Change columns of a document (spec §2.4).
constexpr ColumnSpec kChActor{0, ColumnType::kActor};
constexpr ColumnSpec kChSeq{0, ColumnType::kDeltaInteger};
constexpr ColumnSpec kChMaxOp{1, ColumnType::kDeltaInteger};
constexpr ColumnSpec kChTime{2, ColumnType::kDeltaInteger};
constexpr ColumnSpec kChMessage{3, ColumnType::kString};
constexpr ColumnSpec kChDepCount{4, ColumnType::kGroup};
constexpr ColumnSpec kChDepIndex{4, ColumnType::kDeltaInteger};
constexpr ColumnSpec kChExtraMeta{5, ColumnType::kValueMetadata};
constexpr ColumnSpec kChExtraRaw{5, ColumnType::kValue};

// Op columns of a document.
constexpr ColumnSpec kOpObjActor{0, ColumnType::kActor};
constexpr ColumnSpec kOpObjCounter{0, ColumnType::kInteger};
constexpr ColumnSpec kOpKeyActor{1, ColumnType::kActor};
constexpr ColumnSpec kOpKeyCounter{1, ColumnType::kDeltaInteger};
constexpr ColumnSpec kOpKeyString{1, ColumnType::kString};
constexpr ColumnSpec kOpIdActor{2, ColumnType::kActor};
constexpr ColumnSpec kOpIdCounter{2, ColumnType::kDeltaInteger};
constexpr ColumnSpec kOpInsert{3, ColumnType::kBoolean};
constexpr ColumnSpec kOpAction{4, ColumnType::kInteger};
constexpr ColumnSpec kOpValueMeta{5, ColumnType::kValueMetadata};
constexpr ColumnSpec kOpValueRaw{5, ColumnType::kValue};
constexpr ColumnSpec kOpSuccCount{8, ColumnType::kGroup};
constexpr ColumnSpec kOpSuccActor{8, ColumnType::kActor};
constexpr ColumnSpec kOpSuccCounter{8, ColumnType::kDeltaInteger};
constexpr ColumnSpec kOpExpand{9, ColumnType::kBoolean};
constexpr ColumnSpec kOpMarkName{10, ColumnType::kString};

constexpr std::size_t kDeflateThreshold = 256;
// How far ahead (in elements) saving prefetches an element and its insert op.
constexpr std::size_t kPrefetchElems = 16;
constexpr std::size_t kPrefetchOps = 8;
constexpr std::uint64_t kMaxCounter = UINT32_MAX;
constexpr std::uint64_t kNumActions = 8;
constexpr std::string_view kWhat = "document chunk";

// Decoding budget charged per decoded row (see DocumentDecodeOptions).
constexpr std::size_t kChangeRowCost = 32;
constexpr std::size_t kOpRowCost = 16;
constexpr std::size_t kSuccCost = 16;
// Ops of one change decoded and handed on at a time: a change can hold a whole document.
constexpr std::uint32_t kOpBatch = 4096;

void put_bytes(Bytes& out, ByteView b) {
  enc::put_uleb(out, b.size());
  out.insert(out.end(), b.begin(), b.end());
}

// ---- encoding ---------------------------------------------------------------------------------

// Writes op rows into the op columns.
class OpColumnsWriter {
 public:
  void add_obj(std::optional<std::pair<std::uint32_t, std::uint32_t>> actor_counter) {
    if (actor_counter) {
      obj_actor_.append(std::uint64_t{actor_counter->first});
      obj_counter_.append(std::uint64_t{actor_counter->second});
    } else {
      obj_actor_.append_null();
      obj_counter_.append_null();
    }
  }
  void add_map_key(std::string_view key) {
    key_actor_.append_null();
    key_counter_.append_null();
    key_string_.append(key);
  }
  // The ops of one sequence object, n of them, share the object and have no key string: those
  // columns take one run per object (add_sequence_ops) and each op adds only its element.
  void add_sequence_ops(std::optional<std::pair<std::uint32_t, std::uint32_t>> actor_counter,
                        std::uint64_t n) {
    if (actor_counter) {
      obj_actor_.append_repeated(std::uint64_t{actor_counter->first}, n);
      obj_counter_.append_repeated(std::uint64_t{actor_counter->second}, n);
    } else {
      obj_actor_.append_nulls(n);
      obj_counter_.append_nulls(n);
    }
    key_string_.append_nulls(n);
  }
  void add_head_elem() {
    key_actor_.append_null();
    key_counter_.append(std::int64_t{0});
  }
  void add_elem(std::uint32_t actor, std::uint32_t counter) {
    key_actor_.append(std::uint64_t{actor});
    key_counter_.append(static_cast<std::int64_t>(counter));
  }
  void add_rest(std::uint32_t id_actor, std::uint32_t id_counter, const core::Op& op) {
    id_actor_.append(std::uint64_t{id_actor});
    id_counter_.append(static_cast<std::int64_t>(id_counter));
    insert_.append(op.insert);
    action_.append(static_cast<std::uint64_t>(op.action));
    if (op.value.is_string()) {
      values_.append_raw(enc::kValueString, as_bytes(op.value.str()));
    } else {
      values_.append(op.value.get());
    }
    expand_.append(op.expand);
    any_expand_ = any_expand_ || op.expand;
  }
  void add_succ(const std::vector<std::pair<std::uint32_t, std::uint32_t>>& succ) {
    succ_count_.append(std::uint64_t{succ.size()});
    for (const auto& [actor, counter] : succ) {
      succ_actor_.append(std::uint64_t{actor});
      succ_counter_.append(static_cast<std::int64_t>(counter));
    }
  }
  void add_no_succ() { succ_count_.append(std::uint64_t{0}); }
  void add_one_succ(std::uint32_t actor, std::uint32_t counter) {
    succ_count_.append(std::uint64_t{1});
    succ_actor_.append(std::uint64_t{actor});
    succ_counter_.append(static_cast<std::int64_t>(counter));
  }
  void add_mark_name(const std::string* name) {
    if (name) {
      mark_name_.append(std::string_view(*name));
    } else {
      mark_name_.append_null();
    }
  }

  void finish(enc::ColumnSetWriter& cols) {
    cols.add(kOpObjActor, obj_actor_.finish());
    cols.add(kOpObjCounter, obj_counter_.finish());
    cols.add(kOpKeyActor, key_actor_.finish());
    cols.add(kOpKeyCounter, key_counter_.finish());
    cols.add(kOpKeyString, key_string_.finish());
    cols.add(kOpIdActor, id_actor_.finish());
    cols.add(kOpIdCounter, id_counter_.finish());
    cols.add(kOpInsert, insert_.finish());
    cols.add(kOpAction, action_.finish());
    Bytes meta;
    Bytes raw;
    values_.finish(meta, raw);
    cols.add(kOpValueMeta, std::move(meta));
    cols.add(kOpValueRaw, std::move(raw));
    cols.add(kOpSuccCount, succ_count_.finish());
    cols.add(kOpSuccActor, succ_actor_.finish());
    cols.add(kOpSuccCounter, succ_counter_.finish());
    Bytes expand = expand_.finish();
    if (any_expand_) cols.add(kOpExpand, std::move(expand));  // all false: omitted
    cols.add(kOpMarkName, mark_name_.finish());
  }

 private:
  enc::UIntRleWriter obj_actor_;
  enc::UIntRleWriter obj_counter_;
  enc::UIntRleWriter key_actor_;
  enc::DeltaWriter key_counter_;
  enc::StringRleWriter key_string_;
  enc::UIntRleWriter id_actor_;
  enc::DeltaWriter id_counter_;
  enc::BooleanWriter insert_;
  enc::UIntRleWriter action_;
  enc::ValueWriter values_;
  enc::UIntRleWriter succ_count_;
  enc::UIntRleWriter succ_actor_;
  enc::DeltaWriter succ_counter_;
  enc::BooleanWriter expand_;
  bool any_expand_ = false;
  enc::StringRleWriter mark_name_;
};

}  // namespace

Bytes encode_document_chunk(const DocumentSource& d, bool compress) {
  const core::ActorTable& actors = d.actors;
  const core::OpSet& opset = d.opset;
  const std::size_t num_changes = d.history.size();

  // Document actors: exactly the authors, sorted by bytes (= by rank).
  std::vector<std::uint32_t> authors;
  for (std::size_t a = 0; a < d.changes_by_actor.size(); ++a) {
    if (!d.changes_by_actor[a].empty()) authors.push_back(static_cast<std::uint32_t>(a));
  }
  std::sort(authors.begin(), authors.end(),
            [&](std::uint32_t a, std::uint32_t b) { return actors.rank(a) < actors.rank(b); });
  std::vector<std::uint32_t> doc_actor(actors.size(), 0);
  for (std::size_t i = 0; i < authors.size(); ++i) doc_actor[authors[i]] = static_cast<std::uint32_t>(i);
  // With one author (the common case) every row's author is 0: no per-row table.
  const bool one_author = authors.size() <= 1;
  std::vector<std::uint32_t> row_author(one_author ? 0 : num_changes, 0);
  if (!one_author) {
    for (std::uint32_t a : authors) {
      for (std::uint32_t idx : d.changes_by_actor[a]) {
        if (idx < num_changes) row_author[idx] = doc_actor[a];
      }
    }
  }

  // ---- change columns ----
  enc::UIntRleWriter ch_actor;
  enc::DeltaWriter ch_seq;
  enc::DeltaWriter ch_max_op;
  enc::DeltaWriter ch_time;
  enc::StringRleWriter ch_message;
  enc::UIntRleWriter ch_dep_count;
  enc::DeltaWriter ch_dep_index;
  enc::ValueWriter ch_extra;
  std::vector<std::uint8_t> referenced(num_changes, 0);
  const bool any_message = d.history.any_message();
  const bool any_extra = d.history.any_extra_bytes();
  for (std::size_t i = 0; i < num_changes; ++i) {
    const core::History::Entry& c = d.history[i];
    if (!one_author) ch_actor.append(std::uint64_t{row_author[i]});
    ch_seq.append(static_cast<std::int64_t>(c.seq));
    ch_max_op.append(static_cast<std::int64_t>(c.max_op()));
    ch_time.append(c.time());
    if (any_message) {
      if (const auto message = d.history.message(i)) {  // engaged but empty: see decode_document_body
        ch_message.append(*message);
      } else {
        ch_message.append_null();
      }
    }
    const auto deps = d.history.deps(i);
    ch_dep_count.append(std::uint64_t{deps.size()});
    for (std::uint32_t dep : deps) {
      ch_dep_index.append(static_cast<std::int64_t>(dep));
      if (dep < num_changes) referenced[dep] = 1;
    }
    if (any_extra) ch_extra.append_raw(enc::kValueBytes, d.history.extra_bytes(i));
  }
  // Usually no change has a message or extra bytes: those columns are one run each.
  if (one_author) ch_actor.append_repeated(0, num_changes);
  if (!any_message) ch_message.append_nulls(num_changes);
  if (!any_extra) ch_extra.append_empty_repeated(enc::kValueBytes, num_changes);
  enc::ColumnSetWriter change_cols;
  change_cols.add(kChActor, ch_actor.finish());
  change_cols.add(kChSeq, ch_seq.finish());
  change_cols.add(kChMaxOp, ch_max_op.finish());
  change_cols.add(kChTime, ch_time.finish());
  change_cols.add(kChMessage, ch_message.finish());
  change_cols.add(kChDepCount, ch_dep_count.finish());
  change_cols.add(kChDepIndex, ch_dep_index.finish());
  {
    Bytes meta;
    Bytes raw;
    ch_extra.finish(meta, raw);
    change_cols.add(kChExtraMeta, std::move(meta));
    change_cols.add(kChExtraRaw, std::move(raw));
  }

  // Heads: the changes no other change depends on, sorted by hash.
  std::vector<std::pair<ChangeHash, std::uint32_t>> heads;
  for (std::size_t i = 0; i < num_changes; ++i) {
    if (!referenced[i]) heads.emplace_back(d.history.hash(i), static_cast<std::uint32_t>(i));
  }
  std::sort(heads.begin(), heads.end());

  // ---- op columns ----
  const std::uint32_t max_op = d.max_op;
  auto committed = [&](const core::OpId& id) { return id.counter <= max_op; };

  // Every object made by a committed op, root first, others by op id. The op set holds exactly
  // the objects of applied make ops (a rollback rebuilds it), and a committed op's object was
  // made by an earlier committed op, so these are the objects reachable from the root; listing
  // them needs no pass over the ops.
  std::vector<std::uint32_t> objects{core::kRootObject};
  for (std::size_t oi = 0; oi < opset.object_count(); ++oi) {
    if (oi != core::kRootObject && committed(opset.object(static_cast<std::uint32_t>(oi)).id)) {
      objects.push_back(static_cast<std::uint32_t>(oi));
    }
  }
  std::sort(objects.begin() + 1, objects.end(), [&](std::uint32_t a, std::uint32_t b) {
    return actors.less(opset.object(a).id, opset.object(b).id);
  });

  OpColumnsWriter w;
  std::vector<core::OpId> succ_ids;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> succ;  // (doc actor, counter)
  // Emits one op; returns false for an uncommitted one (left out). A sequence op's object and
  // key string columns are left to add_sequence_ops.
  // Sequence ops in document order mostly key on the element just before them (typing): its id
  // is remembered here, which saves two dependent loads from the op and element arrays.
  core::SequenceIndex::Handle prev_elem = core::SequenceIndex::kNone;
  core::OpId prev_elem_id{};
  auto emit = [&](const core::Object& o, std::uint32_t op_idx, const std::string* map_key) {
    const core::Op& op = opset.op(op_idx);
    if (!committed(op.id)) return false;
    if (map_key) {
      if (o.id.counter == 0) {
        w.add_obj(std::nullopt);
      } else {
        w.add_obj(std::make_pair(doc_actor[o.id.actor], o.id.counter));
      }
      w.add_map_key(*map_key);
    } else if (op.key == kNone32) {
      w.add_head_elem();
    } else {
      const core::OpId e =
          op.key == prev_elem ? prev_elem_id : opset.op(o.elems[op.key].insert_op).id;
      w.add_elem(doc_actor[e.actor], e.counter);
    }
    w.add_rest(doc_actor[op.id.actor], op.id.counter, op);
    // Most ops have no successor or one (a deleted character): no sorting needed.
    if (op.succ.size() <= 1) {
      if (op.succ.size() == 1 && committed(op.succ[0])) {
        w.add_one_succ(doc_actor[op.succ[0].actor], op.succ[0].counter);
      } else {
        w.add_no_succ();
      }
      w.add_mark_name(op.mark_name == kNone32 ? nullptr : &opset.key_name(op.mark_name));
      return true;
    }
    succ_ids.clear();
    for (const core::OpId& s : op.succ) {
      if (committed(s)) succ_ids.push_back(s);
    }
    std::sort(succ_ids.begin(), succ_ids.end(),
              [&](const core::OpId& a, const core::OpId& b) { return actors.less(a, b); });
    succ.clear();
    for (const core::OpId& s : succ_ids) succ.emplace_back(doc_actor[s.actor], s.counter);
    w.add_succ(succ);
    w.add_mark_name(op.mark_name == kNone32 ? nullptr : &opset.key_name(op.mark_name));
    return true;
  };
  for (std::uint32_t oi : objects) {
    const core::Object& o = opset.object(oi);
    if (core::is_sequence(o.type)) {
      std::uint64_t emitted = 0;
      o.seq.for_each_leaf([&](std::span<const core::SequenceIndex::Handle> handles) {
       for (std::size_t k = 0; k < handles.size(); ++k) {
        // Document order jumps around the op and element arrays (megabytes): fetch ahead.
        if (k + kPrefetchElems < handles.size()) __builtin_prefetch(&o.elems[handles[k + kPrefetchElems]]);
        if (k + kPrefetchOps < handles.size()) __builtin_prefetch(&opset.op(o.elems[handles[k + kPrefetchOps]].insert_op));
        const core::SequenceIndex::Handle h = handles[k];
        const std::uint32_t insert_op = o.elems[h].insert_op;
        emitted += emit(o, insert_op, nullptr) ? 1u : 0u;
        prev_elem = h;
        prev_elem_id = opset.op(insert_op).id;
        for (std::uint32_t i : o.elems[h].ops) emitted += emit(o, i, nullptr) ? 1u : 0u;
       }
      });
      if (o.id.counter == 0) {
        w.add_sequence_ops(std::nullopt, emitted);
      } else {
        w.add_sequence_ops(std::make_pair(doc_actor[o.id.actor], o.id.counter), emitted);
      }
      prev_elem = core::SequenceIndex::kNone;
    } else {
      for (const auto& [key, ops] : o.props) {
        for (std::uint32_t i : ops) emit(o, i, &key);
      }
    }
  }
  enc::ColumnSetWriter op_cols;
  w.finish(op_cols);

  if (compress) {
    change_cols.deflate_large_columns(kDeflateThreshold);
    op_cols.deflate_large_columns(kDeflateThreshold);
  }

  Bytes body;
  enc::put_uleb(body, authors.size());
  for (std::uint32_t a : authors) put_bytes(body, actors.bytes(a));
  enc::put_uleb(body, heads.size());
  for (const auto& h : heads) body.insert(body.end(), h.first.bytes.begin(), h.first.bytes.end());
  change_cols.write_metadata(body);
  op_cols.write_metadata(body);
  change_cols.write_data(body);
  op_cols.write_data(body);
  for (const auto& h : heads) enc::put_uleb(body, h.second);
  return write_chunk(ChunkType::kDocument, body);
}

// ---- decoding ---------------------------------------------------------------------------------

namespace {

Error corrupt(const std::string& detail) { return Error::corruption(kWhat, detail); }

// An op id as stored: counter and document actor index.
using RawId = DocOpId;
inline std::uint64_t pack(RawId id) { return (std::uint64_t{id.counter} << 32) | id.actor; }

// One change row as read from the change columns; views into the columns.
struct ChangeRow {
  std::uint32_t actor = 0;
  std::uint32_t max_op = 0;
  std::uint64_t seq = 0;
  std::int64_t time = 0;
  std::optional<std::string_view> message;  // engaged iff not null (possibly empty)
  ByteView extra;
};

// What the rebuild keeps of every change row (8 bytes); the rest is read again, row by row, by
// a second ChangeCursor over the same columns.
struct ChangeKey {
  std::uint32_t actor = 0;
  std::uint32_t max_op = 0;
};

// An op row (40 bytes, as a document has one per op): strings and values as offsets into their
// columns, mark names (rare) in a side table.
struct DocOp {
  RawId id;
  RawId obj;                 // counter 0: the root
  RawId elem;                // sequence op: the key (counter 0: _head); map op: the key string
                             // as (offset, length) into the key string column
  std::uint32_t value_offset = 0;  // into the raw value column
  std::uint32_t value_len = 0;
  // While the preds are built: where the op's successors begin in OpRows::succ (they end where
  // the next stored op's begin). Afterwards: the row of the change the op belongs to.
  std::uint32_t aux = 0;
  std::uint8_t value_type = enc::kValueNull;
  Action action = Action::kSet;
  bool is_map : 1 = false;
  bool insert : 1 = false;
  bool expand : 1 = false;
  bool has_mark_name : 1 = false;  // OpRows::mark_names holds it
};
static_assert(sizeof(DocOp) == 40, "DocOp is meant to be 40 bytes");

struct OpRows {
  std::vector<DocOp> ops;
  std::vector<RawId> succ;  // every row's successors, flattened
  std::vector<std::pair<std::uint32_t, std::string_view>> mark_names;  // (row, name), by row
  ByteView keys;   // the key string column
  ByteView raw;    // the raw value column

  std::string_view key(const DocOp& op) const {
    return std::string_view(reinterpret_cast<const char*>(keys.data()) + op.elem.counter, op.elem.actor);
  }
  enc::RawValue value(const DocOp& op) const {
    enc::RawValue v;
    v.type_code = op.value_type;
    if (op.value_len != 0) v.bytes = raw.subspan(op.value_offset, op.value_len);
    return v;
  }
  std::string_view mark_name(std::uint32_t row) const {
    const auto it = std::lower_bound(mark_names.begin(), mark_names.end(), row,
                                     [](const auto& e, std::uint32_t r) { return e.first < r; });
    return it != mark_names.end() && it->first == row ? it->second : std::string_view{};
  }
};

// Open-addressing map from packed op ids to op indexes; sized once, never grows.
class IdMap {
 public:
  explicit IdMap(std::size_t max_entries) {
    std::size_t cap = 16;
    while (cap < 2 * max_entries + 16) cap <<= 1;
    keys_.assign(cap, kEmpty);
    values_.resize(cap);
    mask_ = cap - 1;
  }
  // Returns the value stored for `key`, inserting `value` if absent.
  std::pair<std::uint32_t, bool> emplace(std::uint64_t key, std::uint32_t value) {
    for (std::size_t i = slot(key);; i = (i + 1) & mask_) {
      if (keys_[i] == key) return {values_[i], false};
      if (keys_[i] == kEmpty) {
        keys_[i] = key;
        values_[i] = value;
        return {value, true};
      }
    }
  }
  std::uint32_t find(std::uint64_t key) const {
    for (std::size_t i = slot(key);; i = (i + 1) & mask_) {
      if (keys_[i] == key) return values_[i];
      if (keys_[i] == kEmpty) return kNone32;
    }
  }

 private:
  // Counters are at least 1, so no valid id packs to all ones.
  static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};
  std::size_t slot(std::uint64_t key) const {
    key ^= key >> 33;  // murmur3's finaliser: every key bit reaches the low bits
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    return static_cast<std::size_t>(key) & mask_;
  }
  std::vector<std::uint64_t> keys_;
  std::vector<std::uint32_t> values_;
  std::size_t mask_ = 0;
};

// The decoded bytes of a chunk's columns, and what is left of the decoding budget.
class ColumnSource {
 public:
  explicit ColumnSource(std::size_t budget) : budget_(budget) {}

  Status charge(std::size_t n) {
    if (n > budget_) {
      return fail(Error::resource_limit(kWhat, "decodes to more than the configured limit (max_inflated_bytes)"));
    }
    budget_ -= n;
    return {};
  }

  // Returns the (inflated) data of `col`, valid as long as this object.
  Result<ByteView> data(const enc::StoredColumn& col, std::string_view group) {
    if (!col.spec.deflate()) {
      AM_TRY_STATUS(charge(col.data.size()));
      return col.data;
    }
    auto inflated = util::inflate_raw(col.data, budget_);
    if (!inflated) {
      return fail(inflated.error().with_context(std::string(kWhat) + ": " + std::string(group) +
                                                " column " + std::to_string(col.spec.normalized())));
    }
    AM_TRY_STATUS(charge(inflated->size()));
    buffers_.push_back(std::move(*inflated));
    return ByteView(buffers_.back());
  }

 private:
  std::size_t budget_;
  std::vector<Bytes> buffers_;

 public:
  std::size_t budget() const { return budget_; }  // moving a Bytes keeps its data in place
};

Error column_ends(std::string_view column, std::uint64_t row) {
  return corrupt(std::string(column) + " column ends at row " + std::to_string(row));
}

Error column_has_more(std::string_view column) {
  return corrupt(std::string(column) + " column has more items than there are rows");
}

// Row-wise reading: a reader's own error gets the chunk as context.
constexpr enc::RowErrors kRowErrors{column_ends, column_has_more, kWhat, true};

Result<std::uint32_t> actor_index(const std::optional<std::uint64_t>& v, std::size_t num_actors,
                                  std::string_view what, std::size_t row) {
  if (!v) return fail(corrupt(std::string(what) + " is null at row " + std::to_string(row)));
  if (*v >= num_actors) {
    return fail(corrupt(std::string(what) + " index " + std::to_string(*v) + " out of range at row " +
                        std::to_string(row)));
  }
  return static_cast<std::uint32_t>(*v);
}

template <class T>
Result<std::uint32_t> counter(const std::optional<T>& v, std::string_view what, std::size_t row) {
  if (!v) return fail(corrupt(std::string(what) + " is null at row " + std::to_string(row)));
  if (*v <= 0 || static_cast<std::uint64_t>(*v) > kMaxCounter) {
    return fail(corrupt(std::string(what) + " " + std::to_string(*v) + " out of range at row " +
                        std::to_string(row)));
  }
  return static_cast<std::uint32_t>(*v);
}

struct ChangeColumns {
  ByteView actor, seq, max_op, time, message, dep_count, dep_index, extra_meta, extra_raw;
};

struct OpColumns {
  ByteView obj_actor, obj_counter, key_actor, key_counter, key_string, id_actor, id_counter,
      insert, action, value_meta, value_raw, succ_count, succ_actor, succ_counter, expand,
      mark_name;
};

Status classify_changes(const std::vector<enc::StoredColumn>& cols, ColumnSource& src,
                        ChangeColumns& c) {
  for (const enc::StoredColumn& col : cols) {
    ByteView* slot = nullptr;
    const std::uint32_t spec = col.spec.normalized();
    if (spec == kChActor.raw()) slot = &c.actor;
    else if (spec == kChSeq.raw()) slot = &c.seq;
    else if (spec == kChMaxOp.raw()) slot = &c.max_op;
    else if (spec == kChTime.raw()) slot = &c.time;
    else if (spec == kChMessage.raw()) slot = &c.message;
    else if (spec == kChDepCount.raw()) slot = &c.dep_count;
    else if (spec == kChDepIndex.raw()) slot = &c.dep_index;
    else if (spec == kChExtraMeta.raw()) slot = &c.extra_meta;
    else if (spec == kChExtraRaw.raw()) slot = &c.extra_raw;
    if (slot == nullptr) continue;  // unknown columns are dropped, as the reference does
    AM_TRY_ASSIGN(*slot, src.data(col, "change"));
  }
  return {};
}

Status classify_ops(const std::vector<enc::StoredColumn>& cols, ColumnSource& src, OpColumns& c) {
  for (const enc::StoredColumn& col : cols) {
    ByteView* slot = nullptr;
    const std::uint32_t spec = col.spec.normalized();
    if (spec == kOpObjActor.raw()) slot = &c.obj_actor;
    else if (spec == kOpObjCounter.raw()) slot = &c.obj_counter;
    else if (spec == kOpKeyActor.raw()) slot = &c.key_actor;
    else if (spec == kOpKeyCounter.raw()) slot = &c.key_counter;
    else if (spec == kOpKeyString.raw()) slot = &c.key_string;
    else if (spec == kOpIdActor.raw()) slot = &c.id_actor;
    else if (spec == kOpIdCounter.raw()) slot = &c.id_counter;
    else if (spec == kOpInsert.raw()) slot = &c.insert;
    else if (spec == kOpAction.raw()) slot = &c.action;
    else if (spec == kOpValueMeta.raw()) slot = &c.value_meta;
    else if (spec == kOpValueRaw.raw()) slot = &c.value_raw;
    else if (spec == kOpSuccCount.raw()) slot = &c.succ_count;
    else if (spec == kOpSuccActor.raw()) slot = &c.succ_actor;
    else if (spec == kOpSuccCounter.raw()) slot = &c.succ_counter;
    else if (spec == kOpExpand.raw()) slot = &c.expand;
    else if (spec == kOpMarkName.raw()) slot = &c.mark_name;
    if (slot == nullptr) continue;
    AM_TRY_ASSIGN(*slot, src.data(col, "op"));
  }
  return {};
}

// Sizes `v` for the rows an RLE column claims, if the decoding budget could pay for them (if
// not, reading fails on the budget before long).
template <class T>
void reserve_rows(std::vector<T>& v, ByteView column, std::size_t extra, std::size_t budget,
                  std::size_t row_cost) {
  const std::uint64_t cap = budget / row_cost;
  auto n = enc::count_rle_items<enc::UIntCodec>(column, cap, "", "");
  if (n && *n + extra <= cap) v.reserve(static_cast<std::size_t>(*n + extra));
}

// Reads the change rows one at a time, validating each. The first pass (read_changes) charges
// the budget and checks the columns end together; the rebuild reads the rows again with a
// second cursor instead of keeping them.
class ChangeCursor {
 public:
  ChangeCursor(const ChangeColumns& c, std::size_t num_actors)
      : c_(c), num_actors_(num_actors), actor_(c.actor), seq_(c.seq), max_op_(c.max_op), time_(c.time),
        message_(c.message), dep_count_(c.dep_count), dep_index_(c.dep_index), extra_(c.extra_meta, c.extra_raw),
        has_time_(!c.time.empty()), has_message_(!c.message.empty()), has_dep_count_(!c.dep_count.empty()),
        has_extra_(!c.extra_meta.empty()) {}

  // Reads row `row` into `r` and its dep rows into `deps` (cleared first). False at the end.
  // With a `src`, charges it for the row and its deps.
  Result<bool> next(std::size_t row, ChangeRow& r, std::vector<std::uint32_t>& deps, ColumnSource* src) {
    if (!actor_.next(u_)) {
      if (!actor_.ok()) return fail(actor_.status("change actor").error().with_context(std::string(kWhat)));
      return false;
    }
    if (src) AM_TRY_STATUS(src->charge(kChangeRowCost));
    AM_TRY_ASSIGN(r.actor, actor_index(u_, num_actors_, "change actor", row));
    AM_TRY_STATUS(enc::next_item(seq_, true, s_, "change seq", row, kRowErrors));
    if (!s_ || *s_ <= 0) return fail(corrupt("change seq missing or not positive at row " + std::to_string(row)));
    r.seq = static_cast<std::uint64_t>(*s_);
    AM_TRY_STATUS(enc::next_item(max_op_, true, s_, "change max_op", row, kRowErrors));
    if (!s_ || *s_ < 0 || static_cast<std::uint64_t>(*s_) > kMaxCounter) {
      return fail(corrupt("change max_op missing or out of range at row " + std::to_string(row)));
    }
    r.max_op = static_cast<std::uint32_t>(*s_);
    AM_TRY_STATUS(enc::next_item(time_, has_time_, s_, "change time", row, kRowErrors));
    r.time = s_.value_or(0);
    AM_TRY_STATUS(enc::next_item(message_, has_message_, str_, "change message", row, kRowErrors));
    r.message = str_;
    AM_TRY_STATUS(enc::next_item(dep_count_, has_dep_count_, u_, "change deps count", row, kRowErrors));
    const std::uint64_t ndeps = u_.value_or(0);
    deps.clear();
    for (std::uint64_t k = 0; k < ndeps; ++k) {
      if (src) AM_TRY_STATUS(src->charge(sizeof(std::uint32_t)));
      AM_TRY_STATUS(enc::next_item(dep_index_, true, s_, "change deps index", row, kRowErrors));
      if (!s_ || *s_ < 0 || static_cast<std::uint64_t>(*s_) >= row) {
        return fail(corrupt("change at row " + std::to_string(row) +
                            " depends on a missing or later change row"));
      }
      deps.push_back(static_cast<std::uint32_t>(*s_));
    }
    r.extra = {};
    if (has_extra_) {
      enc::RawValue raw;
      if (!extra_.next(raw)) {
        if (!extra_.ok()) return fail(extra_.status("change extra bytes").error().with_context(std::string(kWhat)));
        return fail(corrupt("change extra bytes column ends at row " + std::to_string(row)));
      }
      if (raw.type_code != enc::kValueBytes && !(raw.type_code == enc::kValueNull && raw.bytes.empty())) {
        return fail(corrupt("change extra bytes are not bytes at row " + std::to_string(row)));
      }
      r.extra = raw.bytes;
    }
    return true;
  }

  // After the last row: every column must be used up.
  Status check_done() const {
    AM_TRY_STATUS(enc::check_done(seq_, true, "change seq", kRowErrors));
    AM_TRY_STATUS(enc::check_done(max_op_, true, "change max_op", kRowErrors));
    AM_TRY_STATUS(enc::check_done(time_, has_time_, "change time", kRowErrors));
    AM_TRY_STATUS(enc::check_done(message_, has_message_, "change message", kRowErrors));
    AM_TRY_STATUS(enc::check_done(dep_count_, has_dep_count_, "change deps count", kRowErrors));
    AM_TRY_STATUS(enc::check_done(dep_index_, !c_.dep_index.empty(), "change deps index", kRowErrors));
    AM_TRY_STATUS(enc::check_done(extra_, has_extra_, "change extra bytes", kRowErrors));
    if (extra_.raw_remaining() != 0 || (!has_extra_ && !c_.extra_raw.empty())) {
      return fail(corrupt("change extra bytes column has unclaimed bytes"));
    }
    return {};
  }

 private:
  const ChangeColumns& c_;
  std::size_t num_actors_;
  enc::UIntRleReader actor_;
  enc::DeltaReader seq_;
  enc::DeltaReader max_op_;
  enc::DeltaReader time_;
  enc::StringRleReader message_;
  enc::UIntRleReader dep_count_;
  enc::DeltaReader dep_index_;
  enc::ValueReader extra_;
  bool has_time_, has_message_, has_dep_count_, has_extra_;
  std::optional<std::uint64_t> u_;
  std::optional<std::int64_t> s_;
  std::optional<std::string_view> str_;
};

// Validates the change rows and keeps their actor and max_op.
Status read_changes(const ChangeColumns& c, std::size_t num_actors, ColumnSource& src, std::vector<ChangeKey>& keys) {
  reserve_rows(keys, c.actor, 0, src.budget(), kChangeRowCost);
  ChangeCursor cursor(c, num_actors);
  ChangeRow r;
  std::vector<std::uint32_t> deps;
  for (std::size_t row = 0;; ++row) {
    AM_TRY_ASSIGN(const bool more, cursor.next(row, r, deps, &src));
    if (!more) break;
    keys.push_back(ChangeKey{r.actor, r.max_op});
  }
  return cursor.check_done();
}

std::string id_text(RawId id) {
  return std::to_string(id.counter) + "@actor" + std::to_string(id.actor);
}

// In document order, every mark end (a mark op without a name) must come after its begin (the
// named mark op whose counter is one less, same actor) and be in the same object. The reference
// refuses documents that break this ("invalid mark operation order"); a buggy writer made some
// (upstream fixture broken_zero_width_mark), and a re-save of one cannot be loaded by JS.
Status check_mark_order(const OpRows& rows) {
  std::unordered_map<std::uint64_t, RawId> begins;  // begin op id -> its object
  for (std::size_t row = 0; row < rows.ops.size(); ++row) {
    const DocOp& op = rows.ops[row];
    if (op.action != Action::kMark) continue;
    if (op.has_mark_name) {
      begins[pack(op.id)] = op.obj;
      continue;
    }
    const RawId begin{op.id.counter - 1, op.id.actor};
    const auto it = op.id.counter == 0 ? begins.end() : begins.find(pack(begin));
    if (it == begins.end()) {
      return fail(corrupt("invalid mark operation order: mark end " + id_text(op.id) +
                          " occurs before mark begin " + id_text(begin) + " (op row " + std::to_string(row) + ")"));
    }
    if (pack(it->second) != pack(op.obj)) {  // the root is (0, 0)
      return fail(corrupt("invalid mark operation order: mark end " + id_text(op.id) +
                          " is in another object than mark begin " + id_text(begin)));
    }
  }
  return {};
}

// Decodes the op rows (stored ops only) and their successor lists. Room is reserved for one
// rebuilt delete per successor.
Status read_ops(const OpColumns& c, std::size_t num_actors, ColumnSource& src, OpRows& out) {
  std::vector<DocOp>& ops = out.ops;
  std::vector<RawId>& succ = out.succ;
  out.keys = c.key_string;
  out.raw = c.value_raw;
  if (c.key_string.size() > UINT32_MAX || c.value_raw.size() > UINT32_MAX) {
    return fail(Error::resource_limit(kWhat, "a key or value column of 4 GiB or more"));
  }
  {
    const std::uint64_t cap = src.budget() / kSuccCost;
    auto nsucc = enc::count_rle_items<enc::UIntCodec>(c.succ_actor, cap, "", "");
    const std::size_t deletes = nsucc ? static_cast<std::size_t>(*nsucc) : 0;
    if (nsucc) succ.reserve(deletes);
    reserve_rows(ops, c.action, deletes, src.budget(), kOpRowCost);
  }
  const bool has_obj_actor = !c.obj_actor.empty();
  const bool has_obj_counter = !c.obj_counter.empty();
  const bool has_key_actor = !c.key_actor.empty();
  const bool has_key_counter = !c.key_counter.empty();
  const bool has_key_string = !c.key_string.empty();
  const bool has_insert = !c.insert.empty();
  const bool has_values = !c.value_meta.empty();
  const bool has_succ = !c.succ_count.empty();
  const bool has_expand = !c.expand.empty();
  const bool has_mark_name = !c.mark_name.empty();

  enc::UIntRleReader obj_actor(c.obj_actor);
  enc::UIntRleReader obj_counter(c.obj_counter);
  enc::UIntRleReader key_actor(c.key_actor);
  enc::DeltaReader key_counter(c.key_counter);
  enc::StringRleReader key_string(c.key_string);
  enc::UIntRleReader id_actor(c.id_actor);
  enc::DeltaReader id_counter(c.id_counter);
  enc::BooleanReader insert(c.insert);
  enc::UIntRleReader action(c.action);
  enc::ValueReader values(c.value_meta, c.value_raw);
  enc::UIntRleReader succ_count(c.succ_count);
  enc::UIntRleReader succ_actor(c.succ_actor);
  enc::DeltaReader succ_counter(c.succ_counter);
  enc::BooleanReader expand(c.expand);
  enc::StringRleReader mark_name(c.mark_name);

  std::optional<std::uint64_t> u1;
  std::optional<std::uint64_t> u2;
  std::optional<std::int64_t> s1;
  std::optional<std::string_view> str;
  for (std::size_t row = 0;; ++row) {
    if (!action.next(u1)) {
      if (!action.ok()) return fail(action.status("op action").error().with_context(std::string(kWhat)));
      break;
    }
    AM_TRY_STATUS(src.charge(kOpRowCost));
    auto bad = [row](const char* what) {
      return fail(corrupt(std::string(what) + " at row " + std::to_string(row)));
    };
    DocOp op;
    if (!u1 || *u1 >= kNumActions) return bad("op action missing or unknown");
    op.action = static_cast<Action>(*u1);
    if (op.action == Action::kDelete) return bad("delete op stored in a document");

    AM_TRY_STATUS(enc::next_item(obj_actor, has_obj_actor, u1, "op obj actor", row, kRowErrors));
    AM_TRY_STATUS(enc::next_item(obj_counter, has_obj_counter, u2, "op obj counter", row, kRowErrors));
    if (u1.has_value() != u2.has_value()) return bad("op obj has only one of actor and counter");
    if (u1) {
      AM_TRY_ASSIGN(op.obj.actor, actor_index(u1, num_actors, "op obj actor", row));
      AM_TRY_ASSIGN(op.obj.counter, counter(u2, "op obj counter", row));
    }

    AM_TRY_STATUS(enc::next_item(key_actor, has_key_actor, u1, "op key actor", row, kRowErrors));
    AM_TRY_STATUS(enc::next_item(key_counter, has_key_counter, s1, "op key counter", row, kRowErrors));
    AM_TRY_STATUS(enc::next_item(key_string, has_key_string, str, "op key string", row, kRowErrors));
    if (str) {
      if (u1 || s1) return bad("op has both a map key and an element key");
      op.is_map = true;
      op.elem.counter = static_cast<std::uint32_t>(reinterpret_cast<const std::uint8_t*>(str->data()) - out.keys.data());
      op.elem.actor = static_cast<std::uint32_t>(str->size());
    } else if (!s1) {
      return bad("op has no key");
    } else if (*s1 == 0) {
      if (u1) return bad("_head key with an actor");
    } else {
      AM_TRY_ASSIGN(op.elem.actor, actor_index(u1, num_actors, "op key actor", row));
      AM_TRY_ASSIGN(op.elem.counter, counter(s1, "op key counter", row));
    }

    AM_TRY_STATUS(enc::next_item(id_actor, true, u1, "op id actor", row, kRowErrors));
    AM_TRY_ASSIGN(op.id.actor, actor_index(u1, num_actors, "op id actor", row));
    AM_TRY_STATUS(enc::next_item(id_counter, true, s1, "op id counter", row, kRowErrors));
    AM_TRY_ASSIGN(op.id.counter, counter(s1, "op id counter", row));

    bool flag = false;
    AM_TRY_STATUS(enc::next_bool(insert, has_insert, flag, "op insert", row, kRowErrors));
    op.insert = flag;

    if (has_values) {
      enc::RawValue value;
      if (!values.next(value)) {
        if (!values.ok()) return fail(values.status("op value").error().with_context(std::string(kWhat)));
        return bad("op value column ends");
      }
      op.value_type = value.type_code;
      if (!value.bytes.empty()) {
        op.value_offset = static_cast<std::uint32_t>(value.bytes.data() - out.raw.data());
        op.value_len = static_cast<std::uint32_t>(value.bytes.size());
      }
    }

    AM_TRY_STATUS(enc::next_item(succ_count, has_succ, u1, "op succ count", row, kRowErrors));
    const std::uint64_t nsucc = u1.value_or(0);
    op.aux = static_cast<std::uint32_t>(succ.size());
    for (std::uint64_t k = 0; k < nsucc; ++k) {
      AM_TRY_STATUS(src.charge(kSuccCost));
      RawId id;
      AM_TRY_STATUS(enc::next_item(succ_actor, true, u2, "op succ actor", row, kRowErrors));
      AM_TRY_ASSIGN(id.actor, actor_index(u2, num_actors, "op succ actor", row));
      AM_TRY_STATUS(enc::next_item(succ_counter, true, s1, "op succ counter", row, kRowErrors));
      AM_TRY_ASSIGN(id.counter, counter(s1, "op succ counter", row));
      succ.push_back(id);
    }

    AM_TRY_STATUS(enc::next_bool(expand, has_expand, flag, "op expand", row, kRowErrors));
    op.expand = flag;
    AM_TRY_STATUS(enc::next_item(mark_name, has_mark_name, str, "op mark name", row, kRowErrors));
    if (str) {
      op.has_mark_name = true;
      out.mark_names.emplace_back(static_cast<std::uint32_t>(row), *str);
    }
    ops.push_back(op);
  }
  AM_TRY_STATUS(enc::check_done(obj_actor, has_obj_actor, "op obj actor", kRowErrors));
  AM_TRY_STATUS(enc::check_done(obj_counter, has_obj_counter, "op obj counter", kRowErrors));
  AM_TRY_STATUS(enc::check_done(key_actor, has_key_actor, "op key actor", kRowErrors));
  AM_TRY_STATUS(enc::check_done(key_counter, has_key_counter, "op key counter", kRowErrors));
  AM_TRY_STATUS(enc::check_done(key_string, has_key_string, "op key string", kRowErrors));
  AM_TRY_STATUS(enc::check_done(id_actor, true, "op id actor", kRowErrors));
  AM_TRY_STATUS(enc::check_done(id_counter, true, "op id counter", kRowErrors));
  AM_TRY_STATUS(enc::check_done(insert, has_insert, "op insert", kRowErrors));
  AM_TRY_STATUS(enc::check_done(values, has_values, "op value", kRowErrors));
  if (values.raw_remaining() != 0 || (!has_values && !c.value_raw.empty())) {
    return fail(corrupt("op value column has unclaimed bytes"));
  }
  AM_TRY_STATUS(enc::check_done(succ_count, has_succ, "op succ count", kRowErrors));
  AM_TRY_STATUS(enc::check_done(succ_actor, !c.succ_actor.empty(), "op succ actor", kRowErrors));
  AM_TRY_STATUS(enc::check_done(succ_counter, !c.succ_counter.empty(), "op succ counter", kRowErrors));
  AM_TRY_STATUS(enc::check_done(expand, has_expand, "op expand", kRowErrors));
  AM_TRY_STATUS(enc::check_done(mark_name, has_mark_name, "op mark name", kRowErrors));
  if (has_mark_name) AM_TRY_STATUS(check_mark_order(out));
  return {};
}


}  // namespace

Result<DecodedDocument> decode_document_body(ByteView body, const DocumentDecodeOptions& options) {
  enc::ByteReader r(body, kWhat);
  ColumnSource src(options.max_decoded_bytes);

  // Actors: rank = position in byte order (Lamport ties), whatever order they are stored in.
  AM_TRY_ASSIGN(const std::uint64_t num_actors64, r.uleb());
  if (num_actors64 > r.remaining()) return fail(r.error("actor count exceeds the data"));
  const auto num_actors = static_cast<std::size_t>(num_actors64);
  std::vector<ByteView> actors;
  actors.reserve(num_actors);
  for (std::size_t i = 0; i < num_actors; ++i) {
    AM_TRY_ASSIGN(const ByteView a, r.length_prefixed());
    actors.push_back(a);
  }
  std::vector<std::uint32_t> by_bytes(num_actors);
  for (std::size_t i = 0; i < num_actors; ++i) by_bytes[i] = static_cast<std::uint32_t>(i);
  auto bytes_less = [&](std::uint32_t a, std::uint32_t b) {
    return std::lexicographical_compare(actors[a].begin(), actors[a].end(), actors[b].begin(),
                                        actors[b].end());
  };
  std::sort(by_bytes.begin(), by_bytes.end(), bytes_less);
  std::vector<std::uint32_t> rank(num_actors);
  for (std::size_t i = 0; i < num_actors; ++i) {
    if (i > 0 && !bytes_less(by_bytes[i - 1], by_bytes[i])) return fail(corrupt("duplicate actor id"));
    rank[by_bytes[i]] = static_cast<std::uint32_t>(i);
  }

  DecodedDocument out;
  AM_TRY_ASSIGN(const std::uint64_t num_heads, r.uleb());
  if (num_heads > r.remaining() / 32) return fail(r.error("head count exceeds the data"));
  out.heads.resize(static_cast<std::size_t>(num_heads));
  for (ChangeHash& h : out.heads) {
    AM_TRY_ASSIGN(const ByteView b, r.bytes(32));
    std::copy(b.begin(), b.end(), h.bytes.begin());
  }

  AM_TRY_ASSIGN(const auto change_meta, enc::read_column_metadata(r, /*allow_deflate=*/true));
  AM_TRY_ASSIGN(const auto op_meta, enc::read_column_metadata(r, /*allow_deflate=*/true));
  AM_TRY_ASSIGN(const auto change_stored, enc::read_column_data(r, change_meta));
  AM_TRY_ASSIGN(const auto op_stored, enc::read_column_data(r, op_meta));
  // Head indexes follow (absent in old documents). Like the reference, they are read but not
  // relied on: the heads are recomputed from the rebuilt changes.
  if (!r.empty()) {
    for (std::uint64_t i = 0; i < num_heads; ++i) AM_TRY_STATUS(r.uleb());
  }

  ChangeColumns cc;
  AM_TRY_STATUS(classify_changes(change_stored, src, cc));
  OpColumns oc;
  AM_TRY_STATUS(classify_ops(op_stored, src, oc));

  std::vector<ChangeKey> rows;
  AM_TRY_STATUS(read_changes(cc, num_actors, src, rows));
  OpRows op_rows;
  AM_TRY_STATUS(read_ops(oc, num_actors, src, op_rows));
  std::vector<DocOp>& ops = op_rows.ops;
  std::vector<RawId>& succ = op_rows.succ;
  const std::size_t num_stored = ops.size();
  const std::size_t num_changes = rows.size();

  // ---- preds from succs; a delete op for every successor that is not a stored op ----
  IdMap index(num_stored + succ.size());
  for (std::size_t i = 0; i < num_stored; ++i) {
    if (!index.emplace(pack(ops[i].id), static_cast<std::uint32_t>(i)).second) {
      return fail(corrupt("duplicate op id " + id_text(ops[i].id)));
    }
  }
  ops.reserve(num_stored + succ.size());  // no reallocation while deletes are added
  std::vector<std::pair<std::uint32_t, std::uint32_t>> edges;  // (op, one of its preds)
  edges.reserve(succ.size());
  for (std::size_t i = 0; i < num_stored; ++i) {
    const std::size_t succ_end = i + 1 < num_stored ? ops[i + 1].aux : succ.size();
    for (std::size_t k = ops[i].aux; k < succ_end; ++k) {
      const RawId s = succ[k];
      const DocOp& x = ops[i];
      // What a delete of x looks like: same object; key = x's element if x is an insert.
      DocOp del;
      del.id = s;
      del.obj = x.obj;
      del.is_map = x.is_map;
      del.elem = !x.is_map && x.insert ? x.id : x.elem;  // a map op's: its key string
      del.action = Action::kDelete;
      const auto [j, added] = index.emplace(pack(s), static_cast<std::uint32_t>(ops.size()));
      if (added) {
        ops.push_back(del);
      } else if (j < num_stored) {
        // Applying assumes an op and its preds share an object.
        if (ops[j].obj.counter != x.obj.counter || (x.obj.counter != 0 && ops[j].obj.actor != x.obj.actor)) {
          return fail(corrupt("op " + id_text(s) + " succeeds an op in another object"));
        }
      } else {
        // One delete of several ops: they must share its object and key, whatever the order.
        const DocOp& d = ops[j];
        if (d.obj.counter != del.obj.counter || d.obj.actor != del.obj.actor || d.is_map != del.is_map ||
            (d.is_map ? op_rows.key(d) != op_rows.key(del)
                      : (d.elem.counter != del.elem.counter ||
                         (d.elem.counter != 0 && d.elem.actor != del.elem.actor)))) {
          return fail(corrupt("op " + id_text(s) + " deletes ops at different keys"));
        }
      }
      edges.emplace_back(j, static_cast<std::uint32_t>(i));
    }
  }
  const std::size_t num_ops = ops.size();
  std::vector<std::uint32_t> pred_begin(num_ops + 1, 0);
  for (const auto& e : edges) ++pred_begin[e.first + 1];
  for (std::size_t i = 0; i < num_ops; ++i) pred_begin[i + 1] += pred_begin[i];
  std::vector<RawId> preds(edges.size());
  {
    std::vector<std::uint32_t> fill(pred_begin.begin(), pred_begin.end() - 1);
    for (const auto& e : edges) preds[fill[e.first]++] = ops[e.second].id;
  }
  auto lamport_less = [&](RawId a, RawId b) {
    if (a.counter != b.counter) return a.counter < b.counter;
    return rank[a.actor] < rank[b.actor];
  };
  for (std::size_t i = 0; i < num_ops; ++i) {
    auto first = preds.begin() + pred_begin[i];
    auto last = preds.begin() + pred_begin[i + 1];
    if (last - first > 1) std::sort(first, last, lamport_less);
  }
  edges = {};
  index = IdMap(0);  // done with: free it before the op set and history grow
  succ = {};

  // ---- ops to changes: the change of the op's actor with the smallest max_op >= counter ----
  // Per actor: its rows and, alongside, their max_ops (searched as one compact array).
  std::vector<std::vector<std::uint32_t>> by_actor(num_actors);
  std::vector<std::vector<std::uint32_t>> max_ops_by_actor(num_actors);
  for (std::size_t row = 0; row < num_changes; ++row) {
    auto& list = by_actor[rows[row].actor];
    auto& max_ops = max_ops_by_actor[rows[row].actor];
    if (!max_ops.empty() && max_ops.back() > rows[row].max_op) {
      return fail(corrupt("change rows of an actor are not in max_op order (row " +
                          std::to_string(row) + ")"));
    }
    list.push_back(static_cast<std::uint32_t>(row));
    max_ops.push_back(rows[row].max_op);
  }
  std::vector<std::uint32_t> op_count(num_changes, 0);
  // Ops come in document order, where consecutive ops are often of the same or the next change
  // (typing): try the previous answer for the actor and its successor before a binary search.
  std::vector<std::size_t> last_found(num_actors, 0);
  for (DocOp& op : ops) {
    const auto& max_ops = max_ops_by_actor[op.id.actor];
    const std::uint32_t ctr = op.id.counter;
    auto is_answer = [&](std::size_t k) { return k < max_ops.size() && max_ops[k] >= ctr && (k == 0 || max_ops[k - 1] < ctr); };
    std::size_t k = last_found[op.id.actor];
    if (!is_answer(k) && !is_answer(++k)) {
      k = static_cast<std::size_t>(std::lower_bound(max_ops.begin(), max_ops.end(), ctr) - max_ops.begin());
      if (k == max_ops.size()) return fail(corrupt("op " + id_text(op.id) + " belongs to no change"));
    }
    last_found[op.id.actor] = k;
    const std::uint32_t row = by_actor[op.id.actor][k];
    op.aux = row;  // the successors are no longer needed
    ++op_count[row];
  }
  max_ops_by_actor = {};
  std::vector<std::uint32_t> start_op(num_changes);
  std::vector<std::uint32_t> slot_begin(num_changes + 1, 0);
  for (std::size_t row = 0; row < num_changes; ++row) {
    const std::uint32_t n = op_count[row];
    if (n > rows[row].max_op) {
      return fail(corrupt("change at row " + std::to_string(row) + " has more ops than its max_op"));
    }
    const std::uint64_t first_op = std::uint64_t{rows[row].max_op} - n + 1;
    if (first_op > kMaxCounter) {
      return fail(corrupt("change at row " + std::to_string(row) + " has start_op past 2^32-1"));
    }
    start_op[row] = static_cast<std::uint32_t>(first_op);
    slot_begin[row + 1] = slot_begin[row] + n;
  }
  std::vector<std::uint32_t> slots(num_ops, kNone32);
  for (std::size_t i = 0; i < num_ops; ++i) {
    const DocOp& op = ops[i];
    if (op.id.counter < start_op[op.aux]) {
      return fail(corrupt("the ops of the change at row " + std::to_string(op.aux) +
                          " do not have consecutive counters"));
    }
    std::uint32_t& slot = slots[slot_begin[op.aux] + (op.id.counter - start_op[op.aux])];
    if (slot != kNone32) return fail(corrupt("duplicate op id " + id_text(op.id)));
    slot = static_cast<std::uint32_t>(i);
  }
  by_actor = {};
  op_count = {};
  rows = {};  // the rebuild reads the change rows again

  if (options.on_sizes) options.on_sizes(num_changes, num_stored);

  // ---- rebuild, encode and hash every change, in row order ----
  // The hash of every row built so far: kept here unless the sink keeps them (hash_of_row).
  std::vector<ChangeHash> hashes(options.hash_of_row ? 0 : num_changes);
  auto hash_of = [&](std::size_t row) -> const ChangeHash& {
    return options.hash_of_row ? options.hash_of_row(row) : hashes[row];
  };
  std::vector<std::uint8_t> referenced(num_changes, 0);
  std::vector<std::uint32_t> local(num_actors, kNone32);
  std::vector<std::uint32_t> others;
  std::vector<ByteView> other_bytes;
  std::vector<std::pair<ChangeHash, std::uint32_t>> dep_pairs;
  std::vector<ChangeHash> dep_hashes;
  std::vector<std::uint32_t> dep_sorted;
  std::vector<ScalarValue> values;
  std::vector<RebuiltOp> rops;
  std::vector<ChangeOpId> local_preds;
  CanonicalChangeEncoder encoder;
  if (!options.sink) out.changes.reserve(num_changes);
  ChangeCursor cursor(cc, num_actors);
  ChangeRow cr;
  std::vector<std::uint32_t> row_deps;
  for (std::size_t row = 0; row < num_changes; ++row) {
    AM_TRY_ASSIGN(const bool more, cursor.next(row, cr, row_deps, nullptr));
    if (!more) return fail(corrupt("change columns end early"));  // cannot happen: read before
    dep_pairs.clear();
    for (const std::uint32_t dep : row_deps) {
      dep_pairs.emplace_back(hash_of(dep), dep);
      referenced[dep] = 1;
    }
    std::sort(dep_pairs.begin(), dep_pairs.end());
    dep_hashes.clear();
    dep_sorted.clear();
    for (const auto& [h, dep] : dep_pairs) {
      dep_hashes.push_back(h);
      dep_sorted.push_back(dep);
    }

    // Actor table: the author, then every other referenced actor in byte order.
    const std::uint32_t first = slot_begin[row];
    const std::uint32_t last = slot_begin[row + 1];
    others.clear();
    local[cr.actor] = 0;
    auto use = [&](std::uint32_t a) {
      if (local[a] == kNone32) {
        local[a] = 0;
        others.push_back(a);
      }
    };
    for (std::uint32_t s = first; s < last; ++s) {
      const DocOp& op = ops[slots[s]];
      if (op.obj.counter != 0) use(op.obj.actor);
      if (!op.is_map && op.elem.counter != 0) use(op.elem.actor);
      for (std::uint32_t p = pred_begin[slots[s]]; p < pred_begin[slots[s] + 1]; ++p) use(preds[p].actor);
    }
    std::sort(others.begin(), others.end(), [&](std::uint32_t a, std::uint32_t b) { return rank[a] < rank[b]; });
    other_bytes.clear();
    for (std::size_t k = 0; k < others.size(); ++k) {
      local[others[k]] = static_cast<std::uint32_t>(k + 1);
      other_bytes.push_back(actors[others[k]]);
    }

    RebuiltChange rc;
    rc.row = static_cast<std::uint32_t>(row);
    rc.actors = actors;
    rc.author = cr.actor;
    rc.others = others;
    rc.seq = cr.seq;
    rc.start_op = start_op[row];
    rc.op_count = last - first;
    rc.time = cr.time;
    rc.message = cr.message;
    rc.extra = cr.extra;
    if (options.change_begin) AM_TRY_STATUS(options.change_begin(rc));

    // The ops, at most kOpBatch at a time (a change can hold most of a document's ops): decoded
    // values, handed to op_sink, encoded with change-local actor indexes.
    ChangeOpRef single_op;
    for (std::uint32_t batch = first; batch < last; batch += kOpBatch) {
      const std::uint32_t batch_end = std::min<std::uint32_t>(last, batch + kOpBatch);
      std::size_t batch_preds = 0;
      for (std::uint32_t s = batch; s < batch_end; ++s) batch_preds += pred_begin[slots[s] + 1] - pred_begin[slots[s]];
      values.clear();
      values.reserve(batch_end - batch);  // no reallocation: rops point into it
      rops.clear();
      local_preds.clear();
      local_preds.reserve(batch_preds);  // no reallocation: the encoder's spans point into it
      for (std::uint32_t s = batch; s < batch_end; ++s) {
        const DocOp& op = ops[slots[s]];
        RebuiltOp ro;
        ro.id = op.id;
        ro.obj = op.obj;
        ro.is_map = op.is_map;
        if (op.is_map) ro.map_key = op_rows.key(op);
        ro.elem = op.elem;
        ro.insert = op.insert;
        ro.action = op.action;
        if (op.action != Action::kDelete) {
          auto value = enc::decode_scalar(op_rows.value(op));
          if (!value) return fail(value.error().with_context(std::string(kWhat) + ": op " + id_text(op.id)));
          values.push_back(std::move(*value));
        } else {
          values.emplace_back(Null{});
        }
        ro.value = &values.back();
        const std::uint32_t pb = pred_begin[slots[s]];
        const std::uint32_t pe = pred_begin[slots[s] + 1];
        ro.pred = std::span<const RawId>(preds.data() + pb, pe - pb);
        ro.expand = op.expand;
        if (op.has_mark_name) ro.mark_name = op_rows.mark_name(slots[s]);
        if (options.op_sink) rops.push_back(ro);

        ChangeOpRef co;
        if (op.obj.counter != 0) co.obj = ChangeOpId{op.obj.counter, local[op.obj.actor]};
        co.is_map = op.is_map;
        if (op.is_map) {
          co.map_key = ro.map_key;
        } else if (op.elem.counter != 0) {
          co.elem = ChangeOpId{op.elem.counter, local[op.elem.actor]};
        }
        co.insert = op.insert;
        co.action = op.action;
        co.value = ro.value;
        const std::size_t pfirst = local_preds.size();
        for (std::uint32_t p = pb; p < pe; ++p) local_preds.push_back(ChangeOpId{preds[p].counter, local[preds[p].actor]});
        co.pred = std::span<const ChangeOpId>(local_preds.data() + pfirst, pe - pb);
        co.expand = op.expand;
        co.mark_name = ro.mark_name;
        if (last - first == 1) {
          single_op = co;  // most changes: encoded by the one-op fast path below
        } else {
          encoder.add(co);
        }
      }
      if (options.op_sink) AM_TRY_STATUS(options.op_sink(rops));
    }
    local[cr.actor] = kNone32;
    for (std::uint32_t a : others) local[a] = kNone32;

    rc.dep_rows = dep_sorted;
    rc.deps = dep_hashes;
    ChangeHeaderRef h;
    h.deps = dep_hashes;
    h.author = actors[cr.actor];
    h.others = other_bytes;
    h.seq = cr.seq;
    h.start_op = start_op[row];
    h.time = cr.time;
    h.message = rc.message.value_or(std::string_view{});
    h.extra = rc.extra;
    rc.chunk = last - first == 1 ? encoder.finish_single(single_op, h, rc.hash) : encoder.finish(h, rc.hash);
    if (!options.hash_of_row) hashes[row] = rc.hash;
    if (options.sink) {
      AM_TRY_STATUS(options.sink(rc));
    } else {
      // The collected form: the change decoded from its canonical chunk.
      auto sc = decode_change_chunk(rc.chunk);
      if (!sc) return fail(sc.error().with_context(std::string(kWhat) + ": change at row " + std::to_string(row)));
      // An empty message and no message encode alike in a change, but a document keeps them
      // apart ("" for a local commit with an empty message, null otherwise): keep "" as an
      // engaged empty message so that saving writes it back.
      if (rc.message && rc.message->empty()) sc->change.message = std::string();
      out.changes.push_back(std::move(*sc));
    }
  }

  if (options.verify_heads) {
    std::vector<ChangeHash> computed;
    for (std::size_t row = 0; row < num_changes; ++row) {
      if (!referenced[row]) computed.push_back(hash_of(row));
    }
    std::sort(computed.begin(), computed.end());
    std::vector<ChangeHash> stored = out.heads;
    std::sort(stored.begin(), stored.end());
    if (computed != stored) {
      return fail(corrupt("the heads of the rebuilt changes (" + std::to_string(computed.size()) +
                          ") do not match the stored heads (" + std::to_string(stored.size()) + ")"));
    }
  }
  return out;
}

Status rebuild_change_chunks(ByteView document_body, std::size_t max_decoded_bytes,
                             const std::function<void(std::size_t, ByteView)>& chunk) {
  DocumentDecodeOptions options;
  options.verify_heads = false;
  options.max_decoded_bytes = max_decoded_bytes;
  options.sink = [&](const RebuiltChange& rc) -> Status {
    chunk(rc.row, rc.chunk);
    return {};
  };
  AM_TRY_STATUS(decode_document_body(document_body, options));
  return {};
}

}  // namespace am::storage
