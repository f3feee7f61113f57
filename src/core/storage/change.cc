#include "core/storage/change.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

#include "core/encoding/byte_reader.h"
#include "core/encoding/column_rows.h"
#include "core/encoding/column_spec.h"
#include "core/encoding/leb128.h"
#include "core/encoding/rle.h"
#include "core/encoding/value_column.h"
#include "core/storage/chunk.h"
#include "core/storage/op_columns.h"
#include "core/util/sha256.h"

namespace am::storage {
namespace {

using enc::ColumnSpec;

constexpr std::uint64_t kMaxCounter = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint64_t kNumActions = 8;
constexpr std::string_view kWhat = "change chunk";

// ---- decoding ---------------------------------------------------------------------------------

OpColumnData classify(const std::vector<enc::StoredColumn>& columns) {
  OpColumnData c;
  for (const enc::StoredColumn& col : columns) {
    // Unknown (id, type) pairs are ignored: the chunk bytes, kept verbatim, still carry them.
    if (ByteView* slot = op_column_slot(c, col.spec.normalized(), OpChunkKind::kChange)) *slot = col.data;
  }
  return c;
}

Error short_column(std::string_view column, std::uint64_t row) {
  return Error::corruption(column, "column ends at op " + std::to_string(row) +
                                       ", before the action column does");
}

Error extra_items(std::string_view column) {
  return Error::corruption(column, "column has more items than the action column has ops");
}

// Row-wise reading: a reader's own error is reported as is.
constexpr OpColumnLayout kLayout{
    {.obj_actor = "obj actor column",
     .obj_counter = "obj counter column",
     .key_actor = "key actor column",
     .key_counter = "key counter column",
     .key_string = "key string column",
     .insert = "insert column",
     .action = "action column",
     .value = "value column",
     .value_items = "value metadata column",
     .ref_count = "pred group column",
     .ref_actor = "pred actor column",
     .ref_counter = "pred counter column",
     .expand = "expand column",
     .mark_name = "mark name column"},
    {short_column, extra_items, {}, false}};

Error op_error(std::uint64_t row, const std::string& detail) {
  return Error::corruption(kWhat, "op " + std::to_string(row) + ": " + detail);
}

Result<std::vector<ChangeOp>> decode_ops(const OpColumnData& c, std::size_t num_actors,
                                         std::uint64_t start_op,
                                         const ChangeDecodeLimits& limits) {
  // The action column defines the rows; count them first so that a tiny column claiming
  // billions of ops is refused before anything is built.
  AM_TRY_ASSIGN(const std::uint64_t rows,
                enc::count_rle_items<enc::UIntCodec>(c.action, limits.max_ops, "action column", "ops"));
  if (rows > 0 && rows - 1 > kMaxCounter - start_op) {
    return fail(Error::corruption(kWhat, "op counters run past 2^32-1 (start_op " +
                                             std::to_string(start_op) + ", " +
                                             std::to_string(rows) + " ops)"));
  }
  // Pred entries can also be claimed in bulk by one run; bound them by the same limit.
  AM_TRY_ASSIGN(const std::uint64_t total_preds,
                enc::count_rle_items<enc::UIntCodec>(c.ref_actor, limits.max_ops, "pred actor column",
                                                "pred entries"));

  OpColumnReader in(c, kLayout);
  std::vector<ChangeOp> ops;
  // Reserve only what the input size can plausibly back; growth covers the rest.
  ops.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(rows, 4096)));
  std::uint64_t preds_left = total_preds;

  std::optional<std::uint64_t> u1;
  std::optional<std::uint64_t> u2;
  std::optional<std::int64_t> s1;
  std::optional<std::string_view> str;
  for (std::uint64_t row = 0; row < rows; ++row) {
    ChangeOp op;

    // obj: both null = root, else (actor index, counter).
    AM_TRY_STATUS(in.obj(row, u1, u2));
    if (u1.has_value() != u2.has_value()) {
      return fail(op_error(row, "obj has only one of actor and counter"));
    }
    if (u1) {
      if (*u1 >= num_actors) {
        return fail(op_error(row, "obj actor index " + std::to_string(*u1) + " out of range"));
      }
      if (*u2 == 0 || *u2 > kMaxCounter) {
        return fail(op_error(row, "obj counter " + std::to_string(*u2) + " out of range"));
      }
      op.obj = ChangeOpId{*u2, static_cast<std::uint32_t>(*u1)};
    }

    // key: a string, or HEAD (counter 0, null actor), or an element id.
    AM_TRY_STATUS(in.key(row, u1, s1, str));
    if (str) {
      if (u1 || s1) return fail(op_error(row, "key has both a string and an element id"));
      op.key = std::string(*str);
    } else if (!s1) {
      return fail(op_error(row, "op has no key"));
    } else if (*s1 == 0) {
      if (u1) return fail(op_error(row, "HEAD key with an actor"));
      op.key = ElemKey{};
    } else {
      if (*s1 < 0 || static_cast<std::uint64_t>(*s1) > kMaxCounter) {
        return fail(op_error(row, "key counter " + std::to_string(*s1) + " out of range"));
      }
      if (!u1) return fail(op_error(row, "element key without an actor"));
      if (*u1 >= num_actors) {
        return fail(op_error(row, "key actor index " + std::to_string(*u1) + " out of range"));
      }
      op.key = ElemKey{ChangeOpId{static_cast<std::uint64_t>(*s1), static_cast<std::uint32_t>(*u1)}};
    }

    AM_TRY_STATUS(in.insert(row, op.insert));

    AM_TRY_STATUS(in.action(row, u1));
    if (!u1) return fail(op_error(row, "null action"));
    if (*u1 >= kNumActions) return fail(op_error(row, "unknown action " + std::to_string(*u1)));
    op.action = static_cast<Action>(*u1);

    enc::RawValue raw;
    AM_TRY_STATUS(in.value(row, raw));
    auto value = enc::decode_scalar(raw);
    if (!value) return fail(op_error(row, value.error().message));
    op.value = std::move(*value);
    if (op.action == Action::kIncrement && !std::holds_alternative<std::int64_t>(op.value) &&
        !std::holds_alternative<std::uint64_t>(op.value)) {
      return fail(op_error(row, "increment by a value that is not an int or uint"));
    }

    AM_TRY_STATUS(in.ref_count(row, u1));
    if (!u1) return fail(op_error(row, "null pred count"));
    if (*u1 > preds_left) {
      return fail(op_error(row, "pred count " + std::to_string(*u1) + " overruns the pred columns"));
    }
    preds_left -= *u1;
    op.pred.reserve(static_cast<std::size_t>(*u1));
    for (std::uint64_t i = 0; i < *u1; ++i) {
      AM_TRY_STATUS(in.ref_actor(row, u2));
      AM_TRY_STATUS(in.ref_counter(row, s1));
      if (!u2 || !s1) return fail(op_error(row, "null pred id"));
      if (*u2 >= num_actors) {
        return fail(op_error(row, "pred actor index " + std::to_string(*u2) + " out of range"));
      }
      if (*s1 <= 0 || static_cast<std::uint64_t>(*s1) > kMaxCounter) {
        return fail(op_error(row, "pred counter " + std::to_string(*s1) + " out of range"));
      }
      op.pred.push_back(
          ChangeOpId{static_cast<std::uint64_t>(*s1), static_cast<std::uint32_t>(*u2)});
    }

    AM_TRY_STATUS(in.expand(row, op.expand));
    AM_TRY_STATUS(in.mark_name(row, str));
    if (str) op.mark_name = std::string(*str);

    ops.push_back(std::move(op));
  }
  AM_TRY_STATUS(in.check_done(preds_left));
  return ops;
}

Bytes chunk_from_body(ByteView body, const ChangeHash& hash) {
  Bytes out;
  out.reserve(body.size() + 20);
  out.insert(out.end(), kChunkMagic.begin(), kChunkMagic.end());
  out.insert(out.end(), hash.bytes.begin(), hash.bytes.begin() + 4);
  out.push_back(static_cast<std::uint8_t>(ChunkType::kChange));
  enc::put_uleb(out, body.size());
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

// ---- encoding ---------------------------------------------------------------------------------

// Rewrites `c` into canonical form: actor table = author, then exactly the other referenced
// actors sorted by bytes; op references remapped; HEAD keys with actor 0; preds Lamport-sorted;
// an empty message is no message.
void canonicalise(Change& c) {
  if (c.actors.empty()) c.actors.emplace_back();
  const std::size_t n = c.actors.size();
  std::vector<std::uint8_t> used(n, 0);
  auto mark = [&](std::uint32_t a) {
    assert(a < n && "encode_change: actor index out of range");
    if (a < n) used[a] = 1;
  };
  for (const ChangeOp& op : c.ops) {
    if (op.obj) mark(op.obj->actor);
    if (const auto* e = std::get_if<ElemKey>(&op.key); e && !e->is_head()) mark(e->elem.actor);
    for (const ChangeOpId& p : op.pred) mark(p.actor);
  }
  const Bytes& author = c.actors[0];
  std::vector<const Bytes*> others;
  for (std::size_t i = 1; i < n; ++i) {
    if (used[i] && c.actors[i] != author) others.push_back(&c.actors[i]);
  }
  auto by_bytes = [](const Bytes* a, const Bytes* b) { return *a < *b; };
  std::sort(others.begin(), others.end(), by_bytes);
  others.erase(std::unique(others.begin(), others.end(),
                           [](const Bytes* a, const Bytes* b) { return *a == *b; }),
               others.end());
  // Out-of-range references (a broken precondition) map to the author instead of reading past
  // the table.
  std::vector<std::uint32_t> remap(n, 0);
  for (std::size_t i = 1; i < n; ++i) {
    if (!used[i] || c.actors[i] == author) continue;
    const auto it = std::lower_bound(others.begin(), others.end(), &c.actors[i], by_bytes);
    remap[i] = static_cast<std::uint32_t>(1 + (it - others.begin()));
  }
  std::vector<Bytes> actors;
  actors.reserve(others.size() + 1);
  actors.push_back(author);
  for (const Bytes* b : others) actors.push_back(*b);
  c.actors = std::move(actors);

  auto map = [&](std::uint32_t a) { return a < n ? remap[a] : 0u; };
  auto lamport_less = [&](const ChangeOpId& a, const ChangeOpId& b) {
    if (a.counter != b.counter) return a.counter < b.counter;
    return c.actors[a.actor] < c.actors[b.actor];
  };
  for (ChangeOp& op : c.ops) {
    if (op.obj) op.obj->actor = map(op.obj->actor);
    if (auto* e = std::get_if<ElemKey>(&op.key)) {
      e->elem.actor = e->is_head() ? 0 : map(e->elem.actor);
    }
    for (ChangeOpId& p : op.pred) p.actor = map(p.actor);
    if (!std::is_sorted(op.pred.begin(), op.pred.end(), lamport_less)) {
      std::sort(op.pred.begin(), op.pred.end(), lamport_less);
    }
  }
  if (c.message && c.message->empty()) c.message.reset();
}

// The op columns of a change chunk (spec §2.3), in canonical order.
constexpr std::array<ColumnSpec, 14> kSpecs{kOpObjActor,  kOpObjCounter, kOpKeyActor,   kOpKeyCounter, kOpKeyString,
                                            kOpInsert,    kOpAction,     kOpValueMeta,  kOpValueRaw,   kOpPredGroup,
                                            kOpPredActor, kOpPredCounter, kOpExpand,    kOpMarkName};

}  // namespace

ChangeOpRef ref_of(const ChangeOp& op) {
  ChangeOpRef r;
  r.obj = op.obj;
  if (const auto* s = std::get_if<std::string>(&op.key)) {
    r.is_map = true;
    r.map_key = *s;
  } else {
    r.elem = std::get<ElemKey>(op.key).elem;
  }
  r.insert = op.insert;
  r.action = op.action;
  r.value = &op.value;
  r.pred = op.pred;
  r.expand = op.expand;
  if (op.mark_name) r.mark_name = std::string_view(*op.mark_name);
  return r;
}

void CanonicalChangeEncoder::add(const ChangeOpRef& op) {
  if (op.obj) {
    obj_actor_.append(std::uint64_t{op.obj->actor});
    obj_counter_.append(op.obj->counter);
  } else {
    obj_actor_.append_null();
    obj_counter_.append_null();
  }
  if (op.is_map) {
    key_actor_.append_null();
    key_counter_.append_null();
    key_string_.append(op.map_key);
  } else {
    if (op.elem.counter == 0) {
      key_actor_.append_null();
    } else {
      key_actor_.append(std::uint64_t{op.elem.actor});
    }
    key_counter_.append(static_cast<std::int64_t>(op.elem.counter));
    key_string_.append_null();
  }
  insert_.append(op.insert);
  action_.append(static_cast<std::uint64_t>(op.action));
  if (op.raw_value) {
    values_.append_raw(op.raw_value->type_code, op.raw_value->bytes);
  } else if (op.value) {
    values_.append(*op.value);
  } else {
    values_.append_null();
  }
  pred_group_.append(std::uint64_t{op.pred.size()});
  for (const ChangeOpId& p : op.pred) {
    pred_actor_.append(std::uint64_t{p.actor});
    pred_counter_.append(static_cast<std::int64_t>(p.counter));
  }
  expand_.append(op.expand);
  any_expand_ = any_expand_ || op.expand;
  if (op.mark_name) {
    mark_name_.append(*op.mark_name);
  } else {
    mark_name_.append_null();
  }
}

void CanonicalChangeEncoder::add_typing_run(ChangeOpId obj, std::uint32_t key_actor, std::uint64_t first_key_counter,
                                            ByteView chars) {
  const std::uint64_t n = chars.size();
  obj_actor_.append_repeated(std::uint64_t{obj.actor}, n);
  obj_counter_.append_repeated(obj.counter, n);
  key_actor_.append_repeated(std::uint64_t{key_actor}, n);
  key_counter_.append_increasing(static_cast<std::int64_t>(first_key_counter), n);
  key_string_.append_nulls(n);
  insert_.append_repeated(true, n);
  action_.append_repeated(static_cast<std::uint64_t>(Action::kSet), n);
  values_.append_ascii_chars(chars);
  pred_group_.append_repeated(0, n);
  expand_.append_repeated(false, n);
  mark_name_.append_nulls(n);
}

void CanonicalChangeEncoder::add_delete_run(ChangeOpId obj, std::uint32_t actor, std::uint64_t first_counter,
                                            std::int64_t step, std::uint64_t n) {
  obj_actor_.append_repeated(std::uint64_t{obj.actor}, n);
  obj_counter_.append_repeated(obj.counter, n);
  key_actor_.append_repeated(std::uint64_t{actor}, n);
  key_string_.append_nulls(n);
  insert_.append_repeated(false, n);
  action_.append_repeated(static_cast<std::uint64_t>(Action::kDelete), n);
  values_.append_empty_repeated(enc::kValueNull, n);
  pred_group_.append_repeated(1, n);
  pred_actor_.append_repeated(std::uint64_t{actor}, n);
  key_counter_.append_linear(static_cast<std::int64_t>(first_counter), step, n);
  pred_counter_.append_linear(static_cast<std::int64_t>(first_counter), step, n);
  expand_.append_repeated(false, n);
  mark_name_.append_nulls(n);
}

ByteView CanonicalChangeEncoder::finish(const ChangeHeaderRef& h, ChangeHash& hash) {
  for (Bytes& col : cols_) col.clear();
  obj_actor_.finish(cols_[0]);
  obj_counter_.finish(cols_[1]);
  key_actor_.finish(cols_[2]);
  key_counter_.finish(cols_[3]);
  key_string_.finish(cols_[4]);
  insert_.finish(cols_[5]);
  action_.finish(cols_[6]);
  values_.finish(cols_[7], cols_[8]);
  pred_group_.finish(cols_[9]);
  pred_actor_.finish(cols_[10]);
  pred_counter_.finish(cols_[11]);
  expand_.finish(cols_[12]);
  if (!any_expand_) cols_[12].clear();  // an all-false expand column is omitted
  any_expand_ = false;
  mark_name_.finish(cols_[13]);
  return write_chunk(h, hash);
}

namespace {

// One-item columns, as the RLE writers would write them: a lone value is a literal run of one
// (sLEB -1 = 0x7f), a lone null leaves the column empty.
void put_lone_uint(Bytes& col, std::uint64_t v) {
  col.push_back(0x7f);
  enc::put_uleb(col, v);
}
void put_lone_int(Bytes& col, std::int64_t v) {
  col.push_back(0x7f);
  enc::put_sleb(col, v);
}
void put_lone_string(Bytes& col, std::string_view v) {
  col.push_back(0x7f);
  enc::put_uleb(col, v.size());
  col.insert(col.end(), v.begin(), v.end());
}
// A boolean column of one item: runs alternate starting with false.
void put_lone_bool(Bytes& col, bool v) {
  if (v) col.push_back(0);
  col.push_back(1);
}

}  // namespace

ByteView CanonicalChangeEncoder::finish_single(const ChangeOpRef& op, const ChangeHeaderRef& h,
                                               ChangeHash& hash) {
  for (Bytes& col : cols_) col.clear();
  if (op.obj) {
    put_lone_uint(cols_[0], op.obj->actor);
    put_lone_uint(cols_[1], op.obj->counter);
  }
  if (op.is_map) {
    put_lone_string(cols_[4], op.map_key);
  } else {
    if (op.elem.counter != 0) put_lone_uint(cols_[2], op.elem.actor);
    put_lone_int(cols_[3], static_cast<std::int64_t>(op.elem.counter));  // the delta from 0
  }
  put_lone_bool(cols_[5], op.insert);
  put_lone_uint(cols_[6], static_cast<std::uint64_t>(op.action));
  if (op.raw_value) {
    values_.append_raw(op.raw_value->type_code, op.raw_value->bytes);
  } else if (op.value) {
    values_.append(*op.value);
  } else {
    values_.append_null();
  }
  values_.finish(cols_[7], cols_[8]);
  put_lone_uint(cols_[9], op.pred.size());
  if (op.pred.size() == 1) {
    put_lone_uint(cols_[10], op.pred[0].actor);
    put_lone_int(cols_[11], static_cast<std::int64_t>(op.pred[0].counter));
  } else if (!op.pred.empty()) {
    for (const ChangeOpId& p : op.pred) {
      pred_actor_.append(std::uint64_t{p.actor});
      pred_counter_.append(static_cast<std::int64_t>(p.counter));
    }
    pred_actor_.finish(cols_[10]);
    pred_counter_.finish(cols_[11]);
  }
  if (op.expand) put_lone_bool(cols_[12], true);  // an all-false expand column is omitted
  if (op.mark_name) put_lone_string(cols_[13], *op.mark_name);
  return write_chunk(h, hash);
}

namespace {

// Writes into a buffer sized in advance (no capacity check per byte).
struct RawWriter {
  std::uint8_t* p;
  void uleb(std::uint64_t v) {
    while (v >= 0x80) {
      *p++ = static_cast<std::uint8_t>(v | 0x80);
      v >>= 7;
    }
    *p++ = static_cast<std::uint8_t>(v);
  }
  void sleb(std::int64_t v) {
    for (;;) {
      const auto byte = static_cast<std::uint8_t>(v & 0x7f);
      v >>= 7;  // arithmetic shift: sign-extends
      if ((v == 0 && (byte & 0x40) == 0) || (v == -1 && (byte & 0x40) != 0)) {
        *p++ = byte;
        return;
      }
      *p++ = static_cast<std::uint8_t>(byte | 0x80);
    }
  }
  void bytes(ByteView b) {
    if (!b.empty()) std::memcpy(p, b.data(), b.size());
    p += b.size();
  }
  void prefixed(ByteView b) {
    uleb(b.size());
    bytes(b);
  }
};

std::size_t prefixed_size(ByteView b) { return enc::uleb_size(b.size()) + b.size(); }

}  // namespace

// The chunk is written in one pass into one buffer sized first: header, then the body; the
// hash covers the type byte, the length and the body, which are contiguous in the chunk.
ByteView CanonicalChangeEncoder::write_chunk(const ChangeHeaderRef& h, ChangeHash& hash) {
  std::size_t present = 0;
  std::size_t body_size = enc::uleb_size(h.deps.size()) + 32 * h.deps.size() + prefixed_size(h.author) +
                          enc::uleb_size(h.seq) + enc::uleb_size(h.start_op) + enc::sleb_size(h.time) +
                          prefixed_size(as_bytes(h.message)) + enc::uleb_size(h.others.size()) +
                          h.extra.size();
  for (const ByteView a : h.others) body_size += prefixed_size(a);
  for (std::size_t i = 0; i < cols_.size(); ++i) {
    if (cols_[i].empty()) continue;
    ++present;
    body_size += enc::uleb_size(kSpecs[i].raw()) + enc::uleb_size(cols_[i].size()) + cols_[i].size();
  }
  body_size += enc::uleb_size(present);

  const std::size_t header_size = kChunkMagic.size() + 4 + 1 + enc::uleb_size(body_size);
  chunk_.resize(header_size + body_size);
  RawWriter w{chunk_.data()};
  w.bytes(kChunkMagic);
  w.p += 4;  // the checksum, once the hash is known
  const std::uint8_t* hashed = w.p;
  *w.p++ = static_cast<std::uint8_t>(ChunkType::kChange);
  w.uleb(body_size);
  w.uleb(h.deps.size());
  for (const ChangeHash& d : h.deps) w.bytes(d.bytes);
  w.prefixed(h.author);
  w.uleb(h.seq);
  w.uleb(h.start_op);
  w.sleb(h.time);
  w.prefixed(as_bytes(h.message));
  w.uleb(h.others.size());
  for (const ByteView a : h.others) w.prefixed(a);
  w.uleb(present);
  for (std::size_t i = 0; i < cols_.size(); ++i) {
    if (cols_[i].empty()) continue;
    w.uleb(kSpecs[i].raw());
    w.uleb(cols_[i].size());
  }
  for (const Bytes& col : cols_) w.bytes(col);
  w.bytes(h.extra);
  assert(w.p == chunk_.data() + chunk_.size());

  hash.bytes = util::sha256({ByteView(hashed, static_cast<std::size_t>(chunk_.data() + chunk_.size() - hashed))});
  std::memcpy(chunk_.data() + kChunkMagic.size(), hash.bytes.data(), 4);
  return chunk_;
}


Result<StoredChange> decode_change_body(ByteView body, const ChangeDecodeLimits& limits) {
  enc::ByteReader r(body, kWhat);
  StoredChange out;
  Change& c = out.change;

  AM_TRY_ASSIGN(const std::uint64_t num_deps, r.uleb());
  if (num_deps > r.remaining() / 32) return fail(r.error("dependency count exceeds the data"));
  c.deps.resize(static_cast<std::size_t>(num_deps));
  for (ChangeHash& h : c.deps) {
    AM_TRY_ASSIGN(const ByteView b, r.bytes(32));
    std::copy(b.begin(), b.end(), h.bytes.begin());
  }

  AM_TRY_ASSIGN(const ByteView author, r.length_prefixed());
  AM_TRY_ASSIGN(c.seq, r.uleb());
  AM_TRY_ASSIGN(c.start_op, r.uleb());
  if (c.start_op == 0) return fail(r.error("start_op is 0"));
  if (c.start_op > kMaxCounter) return fail(r.error("start_op does not fit 32 bits"));
  AM_TRY_ASSIGN(c.time, r.sleb());
  AM_TRY_ASSIGN(const std::string_view message, r.utf8());
  if (!message.empty()) c.message = std::string(message);

  AM_TRY_ASSIGN(const std::uint64_t num_others, r.uleb());
  // Each actor takes at least its length byte, which bounds the allocation by the input size.
  if (num_others > r.remaining()) return fail(r.error("actor count exceeds the data"));
  c.actors.reserve(static_cast<std::size_t>(num_others) + 1);
  c.actors.emplace_back(author.begin(), author.end());
  for (std::uint64_t i = 0; i < num_others; ++i) {
    AM_TRY_ASSIGN(const ByteView a, r.length_prefixed());
    c.actors.emplace_back(a.begin(), a.end());
  }

  AM_TRY_ASSIGN(const auto meta, enc::read_column_metadata(r, /*allow_deflate=*/false));
  AM_TRY_ASSIGN(const auto columns, enc::read_column_data(r, meta));
  const ByteView extra = r.take_rest();
  c.extra_bytes.assign(extra.begin(), extra.end());

  AM_TRY_ASSIGN(c.ops, decode_ops(classify(columns), c.actors.size(), c.start_op, limits));

  out.hash = chunk_digest(ChunkType::kChange, body);
  out.chunk = chunk_from_body(body, out.hash);
  return out;
}

Result<StoredChange> decode_change_chunk(ByteView chunk, const ChangeDecodeLimits& limits) {
  enc::ByteReader r(chunk, kWhat);
  AM_TRY_ASSIGN(const ChunkView view, read_chunk(r));
  if (!r.empty()) return fail(r.error("trailing bytes after the change chunk"));
  switch (view.type) {
    case ChunkType::kChange:
      return decode_change_body(view.body, limits);
    case ChunkType::kCompressedChange: {
      AM_TRY_ASSIGN(const Bytes body, inflate_compressed_change(view, limits.max_inflated_bytes));
      return decode_change_body(body, limits);
    }
    case ChunkType::kDocument:
    case ChunkType::kBundle:
      break;
  }
  return fail(Error::corruption(kWhat, std::string("expected a change chunk, found a ") +
                                           chunk_type_name(view.type) + " chunk"));
}

CanonicalChangeEncoder& thread_change_encoder() {
  thread_local CanonicalChangeEncoder encoder;
  return encoder;
}

ChangeHeaderRef header_ref_of(const Change& change, std::vector<ByteView>& others) {
  others.clear();
  if (!change.actors.empty()) others.reserve(change.actors.size() - 1);
  for (std::size_t i = 1; i < change.actors.size(); ++i) others.push_back(change.actors[i]);
  ChangeHeaderRef h;
  h.deps = change.deps;
  if (!change.actors.empty()) h.author = change.actors[0];
  h.others = others;
  h.seq = change.seq;
  h.start_op = change.start_op;
  h.time = change.time;
  if (change.message) h.message = *change.message;
  h.extra = change.extra_bytes;
  return h;
}

StoredChange encode_canonical_change(Change change) {
  CanonicalChangeEncoder& encoder = thread_change_encoder();
  if (change.ops.size() != 1) {
    for (const ChangeOp& op : change.ops) encoder.add(ref_of(op));
  }
  std::vector<ByteView> others;
  const ChangeHeaderRef h = header_ref_of(change, others);
  StoredChange out;
  const ByteView chunk = change.ops.size() == 1 ? encoder.finish_single(ref_of(change.ops[0]), h, out.hash)
                                                 : encoder.finish(h, out.hash);
  out.chunk.assign(chunk.begin(), chunk.end());
  out.change = std::move(change);
  return out;
}

StoredChange encode_change(Change change) {
  canonicalise(change);
  return encode_canonical_change(std::move(change));
}

}  // namespace am::storage
