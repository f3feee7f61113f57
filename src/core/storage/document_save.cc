// Writing a document chunk (format spec §2.4-§2.5): encode_document_chunk. Reading one back is
// document_load.cc.
#include <algorithm>
#include <optional>
#include <string_view>
#include <utility>

#include "core/encoding/column_spec.h"
#include "core/encoding/leb128.h"
#include "core/encoding/rle.h"
#include "core/encoding/value_column.h"
#include "core/storage/chunk.h"
#include "core/storage/document_chunk.h"
#include "core/storage/document_columns.h"
#include "core/storage/op_columns.h"

namespace am::storage {
namespace {

using core::kNone32;
constexpr std::size_t kDeflateThreshold = 256;
// How far ahead (in elements) saving prefetches an element and its insert op.
constexpr std::size_t kPrefetchElems = 16;
constexpr std::size_t kPrefetchOps = 8;

void put_bytes(Bytes& out, ByteView b) {
  enc::put_uleb(out, b.size());
  out.insert(out.end(), b.begin(), b.end());
}

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
  // n typed characters: insert ops of one actor with consecutive counters from `first`, each
  // after the element the op before it made (the first after `first - 1` of the same actor),
  // each a one-byte string (`chars`), no expand, no mark. Every column but the successors',
  // which add_no_succ/add_one_succ fill as the ops come: the same columns as add_elem, add_rest
  // and add_mark_name for each.
  void add_typed_run(std::uint32_t actor, std::uint32_t first, ByteView chars) {
    const std::uint64_t n = chars.size();
    key_actor_.append_repeated(std::uint64_t{actor}, n);
    key_counter_.append_increasing(std::int64_t{first} - 1, n);
    id_actor_.append_repeated(std::uint64_t{actor}, n);
    id_counter_.append_increasing(std::int64_t{first}, n);
    insert_.append_repeated(true, n);
    action_.append_repeated(static_cast<std::uint64_t>(core::Action::kSet), n);
    values_.append_ascii_chars(chars);
    expand_.append_repeated(false, n);
    mark_name_.append_nulls(n);
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

// The document's actors: exactly the authors, sorted by bytes (= by rank).
struct Authors {
  std::vector<std::uint32_t> authors;    // document actor index -> actor table index
  std::vector<std::uint32_t> doc_actor;  // actor table index -> document actor index
  bool one_author = false;
  std::vector<std::uint32_t> row_author;  // per change row (empty with one author)
};

Authors document_authors(const DocumentSource& d) {
  const core::ActorTable& actors = d.actors;
  const std::size_t num_changes = d.history.size();
  Authors a;
  for (std::size_t i = 0; i < d.changes_by_actor.size(); ++i) {
    if (!d.changes_by_actor[i].empty()) a.authors.push_back(static_cast<std::uint32_t>(i));
  }
  std::sort(a.authors.begin(), a.authors.end(),
            [&](std::uint32_t x, std::uint32_t y) { return actors.rank(x) < actors.rank(y); });
  a.doc_actor.assign(actors.size(), 0);
  for (std::size_t i = 0; i < a.authors.size(); ++i) a.doc_actor[a.authors[i]] = static_cast<std::uint32_t>(i);
  // With one author (the common case) every row's author is 0: no per-row table.
  a.one_author = a.authors.size() <= 1;
  a.row_author.assign(a.one_author ? 0 : num_changes, 0);
  if (!a.one_author) {
    for (std::uint32_t author : a.authors) {
      for (std::uint32_t idx : d.changes_by_actor[author]) {
        if (idx < num_changes) a.row_author[idx] = a.doc_actor[author];
      }
    }
  }
  return a;
}

// The change columns (application order), and the heads: the changes no other change depends
// on, with their rows, sorted by hash.
void write_change_columns(const DocumentSource& d, const Authors& a, enc::ColumnSetWriter& cols,
                          std::vector<std::pair<ChangeHash, std::uint32_t>>& heads) {
  const std::size_t num_changes = d.history.size();
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
    if (!a.one_author) ch_actor.append(std::uint64_t{a.row_author[i]});
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
  if (a.one_author) ch_actor.append_repeated(0, num_changes);
  if (!any_message) ch_message.append_nulls(num_changes);
  if (!any_extra) ch_extra.append_empty_repeated(enc::kValueBytes, num_changes);
  cols.add(kChActor, ch_actor.finish());
  cols.add(kChSeq, ch_seq.finish());
  cols.add(kChMaxOp, ch_max_op.finish());
  cols.add(kChTime, ch_time.finish());
  cols.add(kChMessage, ch_message.finish());
  cols.add(kChDepCount, ch_dep_count.finish());
  cols.add(kChDepIndex, ch_dep_index.finish());
  {
    Bytes meta;
    Bytes raw;
    ch_extra.finish(meta, raw);
    cols.add(kChExtraMeta, std::move(meta));
    cols.add(kChExtraRaw, std::move(raw));
  }

  // Heads: the changes no other change depends on, sorted by hash.
  heads.clear();
  for (std::size_t i = 0; i < num_changes; ++i) {
    if (!referenced[i]) heads.emplace_back(d.history.hash(i), static_cast<std::uint32_t>(i));
  }
  std::sort(heads.begin(), heads.end());
}

// The op columns: every committed op except deletes, in the canonical row order.
void write_op_columns(const DocumentSource& d, const std::vector<std::uint32_t>& doc_actor,
                      enc::ColumnSetWriter& cols) {
  const core::ActorTable& actors = d.actors;
  const core::OpSet& opset = d.opset;
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
  auto mark_name_of = [&](const core::Op& op) -> const std::string* {
    const std::uint32_t name = opset.mark_name(op);
    return name == kNone32 ? nullptr : &opset.key_name(name);
  };
  // The successor column of an op with none or one (`num_succ` <= 1): an uncommitted one is left out.
  auto add_lone_succ = [&](const core::SuccList* op_succ, std::size_t num_succ) {
    if (num_succ == 1 && committed((*op_succ)[0])) {
      w.add_one_succ(doc_actor[(*op_succ)[0].actor], (*op_succ)[0].counter);
    } else {
      w.add_no_succ();
    }
  };
  // `at`: a sequence op's key, the element it is on (an insert: the one it follows).
  auto emit = [&](const core::Object& o, std::uint32_t op_idx, const std::string* map_key, std::uint32_t at) {
    const core::Op& op = opset.op(op_idx);
    if (!committed(op.id)) return false;
    if (map_key) {
      if (o.id.counter == 0) {
        w.add_obj(std::nullopt);
      } else {
        w.add_obj(std::make_pair(doc_actor[o.id.actor], o.id.counter));
      }
      w.add_map_key(*map_key);
    } else if (at == kNone32) {
      w.add_head_elem();
    } else {
      const core::OpId e = at == prev_elem ? prev_elem_id : opset.op(o.elems[at].insert_op).id;
      w.add_elem(doc_actor[e.actor], e.counter);
    }
    w.add_rest(doc_actor[op.id.actor], op.id.counter, op);
    const core::SuccList* op_succ = opset.find_successors(op_idx);
    const std::size_t num_succ = op_succ ? op_succ->size() : 0;
    // Most ops have no successor or one (a deleted character): no sorting needed.
    if (num_succ <= 1) {
      add_lone_succ(op_succ, num_succ);
      w.add_mark_name(mark_name_of(op));
      return true;
    }
    succ_ids.clear();
    for (const core::OpId& s : *op_succ) {
      if (committed(s)) succ_ids.push_back(s);
    }
    std::sort(succ_ids.begin(), succ_ids.end(),
              [&](const core::OpId& a, const core::OpId& b) { return actors.less(a, b); });
    succ.clear();
    for (const core::OpId& s : succ_ids) succ.emplace_back(doc_actor[s.actor], s.counter);
    w.add_succ(succ);
    w.add_mark_name(mark_name_of(op));
    return true;
  };
  // Typed text, the bulk of most documents: an element whose insert op comes right after the
  // element before it, with the next counter of the same actor, one ASCII character and nothing
  // else on it. A run of them takes one append per column (add_typed_run) instead of one per
  // op per column; only successors are written op by op.
  auto typed_after_prev = [&](std::span<const std::uint32_t> others, const core::Op& op, std::size_t num_succ,
                              std::uint32_t ref) {
    return prev_elem != core::SequenceIndex::kNone && ref == prev_elem && others.empty() &&
           op.id.actor == prev_elem_id.actor && op.id.counter == prev_elem_id.counter + 1 &&
           committed(op.id) && op.insert && op.action == core::Action::kSet && !op.expand &&
           !op.has_mark_name && num_succ <= 1 && op.value.is_one_byte_string();
  };
  Bytes run_chars;
  std::uint32_t run_actor = 0, run_first = 0;
  auto flush_run = [&] {
    if (run_chars.empty()) return;
    w.add_typed_run(run_actor, run_first, run_chars);
    run_chars.clear();
  };
  for (std::uint32_t oi : objects) {
    const core::Object& o = opset.object(oi);
    if (core::is_sequence(o.type)) {
      std::uint64_t emitted = 0;
      const bool any_elem_ops = !o.ops_at.empty();  // a typed text has none: no lookups
      o.seq.for_each_leaf([&](std::span<const core::SequenceIndex::Handle> handles) {
       for (std::size_t k = 0; k < handles.size(); ++k) {
        // Document order jumps around the op and element arrays (megabytes): fetch ahead.
        if (k + kPrefetchElems < handles.size()) __builtin_prefetch(&o.elems[handles[k + kPrefetchElems]]);
        if (k + kPrefetchOps < handles.size()) __builtin_prefetch(&opset.op(o.elems[handles[k + kPrefetchOps]].insert_op));
        const core::SequenceIndex::Handle h = handles[k];
        const core::Element& e = o.elems[h];
        const core::Op& op = opset.op(e.insert_op);
        const std::uint32_t ref = opset.insert_ref(e.insert_op);
        const std::span<const std::uint32_t> others = any_elem_ops ? o.ops_of(h) : std::span<const std::uint32_t>{};
        const core::SuccList* op_succ = opset.find_successors(e.insert_op);
        const std::size_t num_succ = op_succ ? op_succ->size() : 0;
        if (typed_after_prev(others, op, num_succ, ref)) {
          if (run_chars.empty()) {
            run_actor = doc_actor[op.id.actor];
            run_first = op.id.counter;
          }
          run_chars.push_back(static_cast<std::uint8_t>(op.value.str()[0]));
          add_lone_succ(op_succ, num_succ);
          ++emitted;
          prev_elem = h;
          prev_elem_id = op.id;
        } else {
          flush_run();
          emitted += emit(o, e.insert_op, nullptr, ref) ? 1u : 0u;
          prev_elem = h;  // before the ops on this element, which key on it
          prev_elem_id = op.id;
          for (std::uint32_t i : others) emitted += emit(o, i, nullptr, h) ? 1u : 0u;
        }
       }
      });
      flush_run();
      if (o.id.counter == 0) {
        w.add_sequence_ops(std::nullopt, emitted);
      } else {
        w.add_sequence_ops(std::make_pair(doc_actor[o.id.actor], o.id.counter), emitted);
      }
      prev_elem = core::SequenceIndex::kNone;
    } else {
      for (const auto& [key, ops] : o.props) {
        for (std::uint32_t i : ops.ops) emit(o, i, &key, kNone32);
      }
    }
  }
  w.finish(cols);
}

}  // namespace

Bytes encode_document_chunk(const DocumentSource& d, bool compress) {
  const Authors a = document_authors(d);
  enc::ColumnSetWriter change_cols;
  std::vector<std::pair<ChangeHash, std::uint32_t>> heads;
  write_change_columns(d, a, change_cols, heads);
  enc::ColumnSetWriter op_cols;
  write_op_columns(d, a.doc_actor, op_cols);

  if (compress) {
    change_cols.deflate_large_columns(kDeflateThreshold);
    op_cols.deflate_large_columns(kDeflateThreshold);
  }

  Bytes body;
  enc::put_uleb(body, a.authors.size());
  for (std::uint32_t author : a.authors) put_bytes(body, d.actors.bytes(author));
  enc::put_uleb(body, heads.size());
  for (const auto& h : heads) body.insert(body.end(), h.first.bytes.begin(), h.first.bytes.end());
  change_cols.write_metadata(body);
  op_cols.write_metadata(body);
  change_cols.write_data(body);
  op_cols.write_data(body);
  for (const auto& h : heads) enc::put_uleb(body, h.second);
  return write_chunk(ChunkType::kDocument, body);
}

}  // namespace am::storage
