// am::Document save and load (format spec §2.4-§2.7): the "save and load" block of
// am/document.h. The document chunk codec is core/storage/document_chunk.h; this file decides
// which chunks go where and applies what was loaded through the normal apply path
// (Document::Impl::apply_ready / apply_stored).
#include <algorithm>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "am/document.h"
#include "core/document_impl.h"
#include "core/encoding/byte_reader.h"
#include "core/encoding/utf8.h"
#include "core/encoding/value_column.h"
#include "core/opset/op_set_builder.h"
#include "core/storage/chunk.h"
#include "core/storage/document_chunk.h"

namespace am {
namespace {

Bytes save_document(Document::Impl& d, bool compress) {
  const storage::DocumentSource source{d.actors(), d.opset(), d.history, d.changes_by_actor, d.max_op};
  Bytes out = storage::encode_document_chunk(source, compress);
  for (const storage::StoredChange& orphan : d.queue) {
    out.insert(out.end(), orphan.chunk.begin(), orphan.chunk.end());
  }
  d.saved_changes = d.history.size();
  return out;
}

// OpSet::apply assumes that an op's preds are in the op's object (it refreshes their elements
// in that object's sequence), which a crafted change can break. Changes from change chunks are
// checked here first; rebuilt document changes are checked by the rebuild.
Status check_pred_objects(const Document::Impl& d, const storage::StoredChange& sc) {
  const storage::Change& c = sc.change;
  struct ObjRef {  // an object as (counter, actor bytes); counter 0 is the root
    std::uint64_t counter = 0;
    const Bytes* actor = nullptr;
    bool operator==(const ObjRef& o) const {
      return counter == o.counter && (counter == 0 || *actor == *o.actor);
    }
  };
  auto obj_of = [&](const storage::ChangeOp& op) {
    return op.obj ? ObjRef{op.obj->counter, &c.actors[op.obj->actor]} : ObjRef{};
  };
  for (std::size_t i = 0; i < c.ops.size(); ++i) {
    const ObjRef mine = obj_of(c.ops[i]);
    for (const storage::ChangeOpId& p : c.ops[i].pred) {
      if (p.actor >= c.actors.size()) continue;  // applying reports it
      ObjRef theirs;
      if (c.actors[p.actor] == c.actors[0] && p.counter >= c.start_op && p.counter - c.start_op < i) {
        theirs = obj_of(c.ops[static_cast<std::size_t>(p.counter - c.start_op)]);
      } else {
        const auto a = d.actors().find(c.actors[p.actor]);
        if (!a || p.counter > UINT32_MAX) continue;  // an unknown pred: applying reports it
        const auto idx = d.opset().op_index(core::OpId{static_cast<std::uint32_t>(p.counter), *a});
        if (!idx) continue;
        const core::Object& o = d.opset().object(d.opset().op(*idx).obj);
        theirs = o.id.counter == 0 ? ObjRef{} : ObjRef{o.id.counter, &d.actors().bytes(o.id.actor)};
      }
      if (!(mine == theirs)) {
        return fail(Error::corruption("change " + sc.hash.to_hex(),
                                      "op " + std::to_string(c.start_op + i) +
                                          " has a pred in another object"));
      }
    }
  }
  return {};
}

// What a load read. `direct`: the changes of a first document chunk loaded into an empty document
// (not streamed), applied in their stored order as the reference rebuilds such a document. The
// rest (`changes`, external[i] marking a change from a change chunk, which needs
// check_pred_objects) is one batch, applied as Document::apply_changes applies one.
struct Batch {
  std::vector<storage::StoredChange> direct;
  std::vector<storage::StoredChange> changes;
  std::vector<std::uint8_t> external;

  void add(std::vector<storage::StoredChange> more, bool from_change_chunks) {
    if (changes.empty()) {
      changes = std::move(more);
    } else {
      changes.reserve(changes.size() + more.size());
      for (auto& sc : more) changes.push_back(std::move(sc));
    }
    external.resize(changes.size(), from_change_chunks ? 1 : 0);
  }
  void add(storage::StoredChange sc) {
    changes.push_back(std::move(sc));
    external.push_back(1);
  }
};

// Applies `direct` in order, then queues the batch behind what already waited and applies every
// ready change in the reference's batch order (Document::Impl::ready_order): a change chunk
// that arrives before its dependencies is applied after them, and the saved order is the
// reference's.
Status apply_in_order(Document::Impl& d, Batch batch) {
  // A whole document arrives at once: size the history for it up front (only for big batches,
  // so that many small loads keep the containers' geometric growth).
  if (const std::size_t n = batch.direct.size() + batch.changes.size(); n >= 1024) {
    std::size_t bytes = 0;
    for (const auto& sc : batch.direct) bytes += sc.chunk.size();
    for (const auto& sc : batch.changes) bytes += sc.chunk.size();
    d.history.reserve(n, bytes);
  }
  // A document's changes depend only on changes before them in the same chunk.
  for (storage::StoredChange& sc : batch.direct) {
    if (d.history.contains(sc.hash)) continue;
    AM_TRY_STATUS(d.apply_ready(std::move(sc)));
  }
  // Queue entries from earlier calls came from change chunks; mark what this batch adds.
  std::vector<std::uint8_t> external(d.queue.size(), 1);
  std::unordered_set<ChangeHash, core::HashOfChangeHash> queued;
  for (const storage::StoredChange& q : d.queue) queued.insert(q.hash);
  for (std::size_t i = 0; i < batch.changes.size(); ++i) {
    storage::StoredChange& sc = batch.changes[i];
    if (d.history.contains(sc.hash) || !queued.insert(sc.hash).second) continue;
    d.queue.push_back(std::move(sc));
    external.push_back(batch.external[i]);
  }
  std::size_t failed = 0;
  Status s = d.apply_ready_queue(
      [&](std::size_t i, const storage::StoredChange& sc) {
        return external[i] != 0 ? check_pred_objects(d, sc) : Status{};
      },
      &failed);
  if (!s) {
    // Keep what was applied before the error (load() discards the document anyway); drop the
    // change that failed, so that it does not fail every later call again.
    const ChangeHash bad = d.queue[failed].hash;
    std::erase_if(d.queue, [&](const storage::StoredChange& sc) {
      return sc.hash == bad || d.history.contains(sc.hash);
    });
  }
  return s;
}

// Reads every chunk of `bytes` and applies their changes. A malformed chunk stops the reading;
// with `apply_prefix` the changes of the chunks before it are applied before its error is
// returned. Sets *first_is_document when the first chunk is a document chunk.
Status ingest(Document::Impl& d, ByteView bytes, const LoadOptions& options, bool apply_prefix,
              bool* first_is_document) {
  storage::DocumentDecodeOptions doc_options;
  doc_options.verify_heads = options.verify_heads;
  doc_options.max_decoded_bytes = options.max_inflated_bytes;

  Batch batch;
  Status read_status;
  enc::ByteReader r(bytes, "chunk");
  for (std::size_t index = 0; !r.empty() && read_status; ++index) {
    const std::string context = "chunk " + std::to_string(index);
    auto chunk = storage::read_chunk(r);
    if (!chunk) {
      read_status = fail(chunk.error().with_context(context));
      break;
    }
    switch (chunk->type) {
      case storage::ChunkType::kDocument: {
        // Loading a document into an empty one: apply each rebuilt change as it is built, so
        // the decoded changes of a big document never all exist at once (peak memory). load()
        // discards the document if anything fails, so nothing half-applied survives.
        const bool stream = !apply_prefix && index == 0 && d.history.empty() && d.queue.empty();
        if (stream) {
          if (Status s = d.stream_document(chunk->body, options.verify_heads, options.max_inflated_bytes); !s) {
            read_status = fail(s.error().with_context(context));
            break;
          }
          if (first_is_document) *first_is_document = true;
          break;
        }
        auto doc = storage::decode_document_body(chunk->body, doc_options);
        doc_options.sink = nullptr;
        if (!doc) {
          read_status = fail(doc.error().with_context(context));
          break;
        }
        if (index == 0 && first_is_document) *first_is_document = true;
        if (index == 0 && d.history.empty() && d.queue.empty()) {
          batch.direct = std::move(doc->changes);
        } else {
          batch.add(std::move(doc->changes), /*from_change_chunks=*/false);
        }
        break;
      }
      case storage::ChunkType::kChange: {
        auto sc = storage::decode_change_body(chunk->body);
        if (!sc) {
          read_status = fail(sc.error().with_context(context));
          break;
        }
        batch.add(std::move(*sc));
        break;
      }
      case storage::ChunkType::kCompressedChange: {
        auto body = storage::inflate_compressed_change(*chunk, options.max_inflated_bytes);
        if (!body) {
          read_status = fail(body.error().with_context(context));
          break;
        }
        auto sc = storage::decode_change_body(*body);
        if (!sc) {
          read_status = fail(sc.error().with_context(context));
          break;
        }
        batch.add(std::move(*sc));
        break;
      }
      case storage::ChunkType::kBundle:
        read_status = fail(Error::unsupported(context, "bundle chunks (type 3) are not supported"));
        break;
    }
  }
  if (!read_status && !apply_prefix) return read_status;
  AM_TRY_STATUS(apply_in_order(d, std::move(batch)));
  return read_status;
}

// Ops between two hand-backs of consumed rows: a third of a 2 MiB block of 40-byte rows, so
// that a block goes back soon after its last row is read (at 65,536, up to two blocks of rows
// stayed beside the growing op set: egwalker-C1's peak).
constexpr std::size_t kReleaseEvery = std::size_t{1} << 14;

bool same_id(storage::DocOpId a, storage::DocOpId b) { return a.counter == b.counter && a.actor == b.actor; }

// A stored value as the op set keeps it; strings and bytes (text: one per character) without a
// ScalarValue in between.
std::optional<core::OpValue> op_value_of(const enc::RawValue& raw) {
  if (raw.type_code == enc::kValueString) {
    const std::string_view s(reinterpret_cast<const char*>(raw.bytes.data()), raw.bytes.size());
    if (!enc::is_valid_utf8(s)) return std::nullopt;
    return core::OpValue::string(s);
  }
  if (raw.type_code == enc::kValueBytes) return core::OpValue::bytes(raw.bytes);
  auto value = enc::decode_scalar(raw);
  if (!value) return std::nullopt;
  return core::OpValue(*value);
}

// Builds `out` from a document's stored ops in document order (core/opset/op_set_builder.h);
// `global` maps the chunk's actors to `actors`. False when the builder refuses the order.
bool build_in_document_order(const core::ActorTable& actors, storage::StoredOps& stored,
                             const std::vector<std::uint32_t>& global, core::OpSet& out) {
  core::DocOrderBuilder builder(actors, stored.size());
  // The number of inserts in each run of ops of one object: its elements, sized once.
  std::vector<std::uint32_t> run_inserts;
  storage::DocOpId prev_obj;
  std::size_t objects = 1;  // the root
  for (std::size_t i = 0; i < stored.size(); ++i) {
    const auto [obj, insert, action] = stored.outline(i);
    if (i == 0 || !same_id(obj, prev_obj)) run_inserts.push_back(0);
    run_inserts.back() += insert ? 1 : 0;
    if (core::make_type(action)) ++objects;
    prev_obj = obj;
  }
  builder.expect_objects(objects);
  std::size_t run = 0;
  std::vector<OpId> succ;
  bool known = true;  // every actor the op names was interned
  auto id_of = [&](storage::DocOpId id) {
    const std::uint32_t a = id.actor < global.size() ? global[id.actor] : kNone32;
    known = known && a != kNone32;
    return OpId{id.counter, a};
  };
  storage::DocOpId typed_id;
  char typed = 0;
  std::span<const storage::DocOpId> typed_succ;
  for (std::size_t i = 0; i < stored.size(); ++i) {
    // The rows behind us are not read again (but op i - 1, by typed_char): give back their
    // memory while the op set grows.
    if (i % kReleaseEvery == 0 && i > 0) stored.release_before(i - 1);
    if (i > 0 && stored.typed_char(i, typed_id, typed, typed_succ)) {
      succ.clear();
      for (const storage::DocOpId& s : typed_succ) succ.push_back(id_of(s));
      if (!known || !builder.add_typed_char(id_of(typed_id), typed, succ)) return false;
      continue;
    }
    const storage::StoredOp op = stored[i];
    if (i == 0 || !same_id(op.obj, prev_obj)) builder.expect_elements(run_inserts[run++]);
    prev_obj = op.obj;
    auto value = op_value_of(op.value);
    if (!value) return false;
    core::OpView v;
    v.id = id_of(op.id);
    if (op.obj.counter != 0) v.obj = id_of(op.obj);
    if (op.is_map) {
      v.map_key = op.map_key;
    } else {
      v.elem = op.elem.counter == 0 ? OpId{} : id_of(op.elem);
    }
    v.insert = op.insert;
    v.action = op.action;
    v.expand = op.expand;
    v.mark_name = op.mark_name;
    succ.clear();
    for (const storage::DocOpId& s : op.succ) succ.push_back(id_of(s));
    if (!known || !builder.add(v, succ, std::move(*value))) return false;
  }
  // Every row is in the op set now: their last blocks go back before finish() builds the
  // indexes, the load's peak.
  stored.release_before(stored.size());
  return builder.finish(out);
}

}  // namespace

Status Document::Impl::stream_document(ByteView body, bool verify_heads, std::size_t max_decoded_bytes) {
  local_log.invalidate();
  bool not_in_order = false;
  Status s = stream_document_pass(body, verify_heads, max_decoded_bytes, /*in_document_order=*/true, &not_in_order);
  if (!not_in_order) {
    loaded_in_document_order = static_cast<bool>(s);
    return s;
  }
  // A document no correct writer makes: apply its changes instead, which checks them op by op.
  reset_empty();
  return stream_document_pass(body, verify_heads, max_decoded_bytes, /*in_document_order=*/false, nullptr);
}

Status Document::Impl::stream_document_pass(ByteView body, bool verify_heads, std::size_t max_decoded_bytes,
                                           bool in_document_order, bool* not_in_order) {
  storage::DocumentDecodeOptions o;
  o.verify_heads = verify_heads;
  o.max_decoded_bytes = max_decoded_bytes;
  std::uint32_t source = 0;
  o.on_sizes = [&](std::size_t changes, std::size_t stored_ops) {
    history.reserve(changes, 0, /*index=*/false);
    // In document order the builder sizes its own op set and hands it over: a reserve here
    // would be a second array of every op, never written (moby-dick: 59 MB of heap).
    if (!in_document_order) own_opset().reserve(stored_ops);
    source = history.add_lazy_source(Bytes(body.begin(), body.end()), max_decoded_bytes);
  };
  std::vector<std::uint32_t> global;  // document actor -> actors index; kNone32 = not interned yet
  std::vector<OpId> preds;
  // Interns the change's actors as applying it would (the author, then its other actors in byte
  // order) and checks its seq, before its ops arrive.
  o.change_begin = [&](const storage::RebuiltChange& rc) -> Status {
    if (global.size() < rc.actors.size()) global.resize(rc.actors.size(), kNone32);
    auto intern = [&](std::uint32_t a) {
      if (global[a] == kNone32) global[a] = intern_actor(Bytes(rc.actors[a].begin(), rc.actors[a].end()));
    };
    intern(rc.author);
    for (std::uint32_t a : rc.others) intern(a);
    const std::uint32_t author = global[rc.author];
    const std::size_t have = author < changes_by_actor.size() ? changes_by_actor[author].size() : 0;
    if (rc.seq != have + 1) {
      if (rc.seq <= have) {
        return fail(Error::corruption("change", "a different change with the same actor and seq " +
                                                    std::to_string(rc.seq) + " exists"));
      }
      return fail(Error::corruption("change", "seq " + std::to_string(rc.seq) +
                                                  " skips earlier changes of its actor"));
    }
    const std::uint64_t change_max_op = rc.start_op + rc.op_count - 1;
    if (rc.start_op > UINT32_MAX || change_max_op > UINT32_MAX) {
      return fail(Error::corruption("change", "op counter does not fit 32 bits"));
    }
    return {};
  };
  if (in_document_order) {
    o.stored_ops = [&](storage::StoredOps& stored) -> Status {
      OpSet& target = own_opset();  // first: a copy made after actors() was read would leave it behind
      if (!build_in_document_order(target.actors(), stored, global, target)) *not_in_order = true;
      touch_log = core::TouchLog{};  // a new op set, built without a log: diff states next time
      return {};
    };
  } else {
    o.op_sink = [&](std::span<const storage::RebuiltOp> ops) -> Status {
      for (const storage::RebuiltOp& op : ops) {
        core::OpView v;
        v.id = OpId{op.id.counter, global[op.id.actor]};
        if (op.obj.counter != 0) v.obj = OpId{op.obj.counter, global[op.obj.actor]};
        if (op.is_map) {
          v.map_key = op.map_key;
        } else {
          v.elem = op.elem.counter == 0 ? OpId{} : OpId{op.elem.counter, global[op.elem.actor]};
        }
        v.insert = op.insert;
        v.action = op.action;
        v.value = op.value;
        preds.clear();
        for (const storage::DocOpId& p : op.pred) preds.push_back(OpId{p.counter, global[p.actor]});
        v.pred = preds;
        v.expand = op.expand;
        v.mark_name = op.mark_name;
        AM_TRY_STATUS(own_opset().apply(v, touches()));
      }
      return {};
    };
  }
  o.sink = [&](const storage::RebuiltChange& rc) -> Status {
    const std::uint32_t author = global[rc.author];
    const std::uint64_t change_max_op = rc.start_op + rc.op_count - 1;
    // The history was empty, so history rows are document rows.
    const std::uint32_t row = history.append_lazy(rc.hash, source, rc.row, author, rc.seq, rc.start_op,
                                                  rc.op_count, rc.time,
                                                  rc.message, rc.extra, rc.dep_rows, /*defer_index=*/true);
    if (changes_by_actor.size() <= author) changes_by_actor.resize(author + 1);
    changes_by_actor[author].push_back(row);
    max_op = std::max<std::uint32_t>(max_op, static_cast<std::uint32_t>(change_max_op));
    return {};
  };
  // The history was empty: its rows are the document's rows.
  o.hash_of_row = [this](std::size_t row) -> const ChangeHash& { return history.hash(row); };
  AM_TRY_STATUS(storage::decode_document_body(body, o));
  history.reindex();
  // Heads: the changes no other change depends on.
  std::vector<std::uint8_t> referenced(history.size(), 0);
  for (std::size_t i = 0; i < history.size(); ++i) {
    for (std::uint32_t dep : history.deps(i)) referenced[dep] = 1;
  }
  heads.clear();
  for (std::size_t i = 0; i < history.size(); ++i) {
    if (!referenced[i]) heads.insert(history.hash(i));
  }
  return {};
}

Bytes Document::save() const { return save_document(*impl_, /*compress=*/true); }

Bytes Document::save_no_compress() const { return save_document(*impl_, /*compress=*/false); }

Bytes Document::save_incremental() {
  Impl& d = *impl_;
  if (d.tx_open && !d.tx_ops.empty()) d.commit({});
  Bytes out;
  for (std::size_t i = d.saved_changes; i < d.history.size(); ++i) {
    const ByteView c = d.history.chunk(i);
    out.insert(out.end(), c.begin(), c.end());
  }
  d.saved_changes = d.history.size();
  return out;
}

Bytes Document::save_after(const std::vector<ChangeHash>& heads) const {
  Bytes out;
  for (const Bytes& chunk : get_changes(heads)) out.insert(out.end(), chunk.begin(), chunk.end());
  return out;
}

Result<Document> Document::load(ByteView bytes, const LoadOptions& options) {
  Document doc(DocumentOptions{
      .actor = options.actor, .text_unit = options.text_unit, .max_inflated_bytes = options.max_inflated_bytes,
      .commit_clock = options.commit_clock});
  if (bytes.empty()) return doc;
  bool first_is_document = false;
  AM_TRY_STATUS(ingest(*doc.impl_, bytes, options, /*apply_prefix=*/false, &first_is_document));
  if (!first_is_document && !doc.impl_->queue.empty() && !options.allow_missing_deps) {
    return fail(Error::missing_dependency(
        "load", std::to_string(doc.impl_->queue.size()) +
                    " changes have missing dependencies (LoadOptions::allow_missing_deps)"));
  }
  return doc;
}

Status Document::load_incremental(ByteView bytes) {
  Impl& d = *impl_;
  if (d.tx_open && !d.tx_ops.empty()) d.commit({});
  LoadOptions options;
  options.max_inflated_bytes = d.options.max_inflated_bytes;
  return ingest(d, bytes, options, /*apply_prefix=*/true, nullptr);
}

}  // namespace am
