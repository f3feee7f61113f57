// Fuzzes change decoding (spec §2.3) and the encoder against it.
//
// Any input must decode to a change or fail with an error, never crash. When it decodes:
//  * a type-1 input is kept verbatim: the decoded chunk must equal the input;
//  * re-encoding must give a change that means the same (same header, same ops once actor
//    indexes are resolved to actor bytes and pred lists sorted), and must be stable: decoding the
//    re-encoded bytes gives back exactly the re-encoded change, and encoding that again gives
//    the same bytes.
// We do NOT require re-encoding to reproduce the input bytes. The decoder accepts everything the
// reference accepts, which includes non-canonical spellings of a change: an RLE repeat run of
// one, a literal run with equal neighbours, a zero-length or all-false expand column, unknown
// columns, an unsorted or over-full actor table, unsorted preds, a compressed (type 2) chunk.
// Those legitimately re-encode to different (canonical) bytes; the golden vectors and the unit
// tests check that canonical inputs (everything the reference writes) re-encode byte for byte.
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/storage/change.h"
#include "core/storage/chunk.h"

namespace {

using am::Bytes;
using am::storage::Change;
using am::storage::ChangeOp;
using am::storage::ChangeOpId;
using am::storage::ElemKey;

struct Id {
  std::uint64_t counter;
  Bytes actor;
  friend auto operator<=>(const Id&, const Id&) = default;
};

Id resolve(const Change& c, const ChangeOpId& id) { return {id.counter, c.actors.at(id.actor)}; }

bool same_value(const am::ScalarValue& a, const am::ScalarValue& b) {
  const double* x = std::get_if<double>(&a);
  const double* y = std::get_if<double>(&b);
  if (x && y) return std::bit_cast<std::uint64_t>(*x) == std::bit_cast<std::uint64_t>(*y);
  return a == b;  // NaN only occurs as a double
}

bool same_op(const Change& ca, const ChangeOp& a, const Change& cb, const ChangeOp& b) {
  if (a.obj.has_value() != b.obj.has_value()) return false;
  if (a.obj && resolve(ca, *a.obj) != resolve(cb, *b.obj)) return false;
  if (a.key.index() != b.key.index()) return false;
  if (const auto* s = std::get_if<std::string>(&a.key)) {
    if (*s != std::get<std::string>(b.key)) return false;
  } else {
    const ElemKey& ea = std::get<ElemKey>(a.key);
    const ElemKey& eb = std::get<ElemKey>(b.key);
    if (ea.is_head() != eb.is_head()) return false;
    if (!ea.is_head() && resolve(ca, ea.elem) != resolve(cb, eb.elem)) return false;
  }
  if (a.insert != b.insert || a.action != b.action || a.expand != b.expand ||
      a.mark_name != b.mark_name || !same_value(a.value, b.value)) {
    return false;
  }
  std::vector<Id> pa;
  std::vector<Id> pb;
  for (const ChangeOpId& p : a.pred) pa.push_back(resolve(ca, p));
  for (const ChangeOpId& p : b.pred) pb.push_back(resolve(cb, p));
  std::sort(pa.begin(), pa.end());
  std::sort(pb.begin(), pb.end());
  return pa == pb;
}

bool same_meaning(const Change& a, const Change& b) {
  if (a.actors.at(0) != b.actors.at(0) || a.deps != b.deps || a.seq != b.seq ||
      a.start_op != b.start_op || a.time != b.time || a.message != b.message ||
      a.extra_bytes != b.extra_bytes || a.ops.size() != b.ops.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.ops.size(); ++i) {
    if (!same_op(a, a.ops[i], b, b.ops[i])) return false;
  }
  return true;
}

// Exact equality, except that doubles compare by bit pattern.
bool identical(const Change& a, const Change& b) {
  if (a.actors != b.actors || !same_meaning(a, b)) return false;
  for (std::size_t i = 0; i < a.ops.size(); ++i) {
    const ChangeOp& x = a.ops[i];
    const ChangeOp& y = b.ops[i];
    if (x.obj != y.obj || x.key != y.key || x.pred != y.pred) return false;
  }
  return true;
}

// Checks one successful decode; `verbatim` is the type-1 chunk it must have kept, if known.
void check(const am::storage::StoredChange& decoded, std::optional<am::ByteView> verbatim,
           const am::storage::ChangeDecodeLimits& limits) {
  if (verbatim && !std::equal(verbatim->begin(), verbatim->end(), decoded.chunk.begin(),
                              decoded.chunk.end())) {
    __builtin_trap();  // a type-1 chunk must be kept verbatim
  }
  const am::storage::StoredChange encoded = am::storage::encode_change(decoded.change);
  if (!same_meaning(decoded.change, encoded.change)) __builtin_trap();
  if (encoded.chunk == decoded.chunk && !identical(decoded.change, encoded.change)) {
    __builtin_trap();  // canonical input: the decoded change must already be canonical
  }
  const auto again = am::storage::decode_change_chunk(encoded.chunk, limits);
  if (!again) __builtin_trap();
  if (!identical(again->change, encoded.change) || again->hash != encoded.hash) __builtin_trap();
  if (am::storage::encode_change(again->change).chunk != encoded.chunk) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const am::ByteView input(data, size);
  // A few bytes can claim millions of identical ops; keep memory small.
  am::storage::ChangeDecodeLimits limits;
  limits.max_ops = 1 << 14;

  // 1. The input as a whole chunk (magic, checksum, type 1 or 2).
  if (const auto decoded = am::storage::decode_change_chunk(input, limits)) {
    const bool plain = data[8] == static_cast<std::uint8_t>(am::storage::ChunkType::kChange);
    check(*decoded, plain ? std::optional<am::ByteView>(input) : std::nullopt, limits);
  }

  // 2. Mutations almost always break the checksum, so also decode whatever follows a chunk
  //    header (or the whole input, without one) as a change body.
  am::enc::ByteReader r(input);
  am::ByteView body = input;
  if (r.bytes(9) && r.uleb()) body = r.rest();
  if (const auto decoded = am::storage::decode_change_body(body, limits)) {
    const Bytes chunk = am::storage::write_chunk(am::storage::ChunkType::kChange, body);
    check(*decoded, am::ByteView(chunk), limits);
  }
  return 0;
}
