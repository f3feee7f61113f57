#include "core/sync/bloom.h"

#include "core/encoding/byte_reader.h"
#include "core/encoding/leb128.h"

namespace am::core {
namespace {
std::uint64_t u32le(const ChangeHash& h, std::size_t at) {
  return std::uint64_t{h.bytes[at]} | (std::uint64_t{h.bytes[at + 1]} << 8) |
         (std::uint64_t{h.bytes[at + 2]} << 16) | (std::uint64_t{h.bytes[at + 3]} << 24);
}
}  // namespace

namespace {
// (a + b) % m for a, b < m, without a division.
inline std::uint64_t add_mod(std::uint64_t a, std::uint64_t b, std::uint64_t m) {
  const std::uint64_t sum = a + b;
  return sum >= m ? sum - m : sum;
}
}  // namespace

void BloomFilter::probes(const ChangeHash& hash, std::vector<std::uint64_t>& out) const {
  out.clear();
  const std::uint64_t m = std::uint64_t{bits_.size()} * 8;
  std::uint64_t x = u32le(hash, 0) % m;
  std::uint64_t y = u32le(hash, 4) % m;
  const std::uint64_t z = u32le(hash, 8) % m;
  out.push_back(x);
  for (std::uint32_t i = 1; i < probes_; ++i) {
    x = add_mod(x, y, m);
    y = add_mod(y, z, m);
    out.push_back(x);
  }
}

BloomFilter BloomFilter::from_hashes(const std::vector<ChangeHash>& hashes) {
  return from_hashes(hashes.size(), [&hashes](std::size_t i) -> const ChangeHash& { return hashes[i]; });
}

BloomFilter BloomFilter::from_hashes(std::size_t count, const std::function<const ChangeHash&(std::size_t)>& hash_at) {
  BloomFilter f;
  f.entries_ = static_cast<std::uint32_t>(count);
  f.bits_.assign((std::uint64_t{f.entries_} * f.bits_per_entry_ + 7) / 8, 0);
  if (f.bits_.empty()) return f;
  std::vector<std::uint64_t> p;
  for (std::size_t i = 0; i < count; ++i) {
    f.probes(hash_at(i), p);
    for (std::uint64_t bit : p) f.bits_[bit >> 3] = static_cast<std::uint8_t>(f.bits_[bit >> 3] | (1u << (bit & 7)));
  }
  return f;
}

Result<BloomFilter> BloomFilter::decode(ByteView bytes) {
  BloomFilter f;
  if (bytes.empty()) {
    f.entries_ = 0;
    return f;
  }
  enc::ByteReader r(bytes, "bloom filter");
  auto as_protocol = [](const Error& e) { return Error::protocol(e.message); };
  auto entries = r.uleb32();
  auto bits_per_entry = entries ? r.uleb32() : entries;
  auto probe_count = bits_per_entry ? r.uleb32() : bits_per_entry;
  if (!probe_count) return fail(as_protocol(probe_count.error()));
  if (*bits_per_entry > kMaxBitsPerEntry || *probe_count > kMaxProbes) {
    return fail(Error::protocol("bloom filter", "parameters out of range"));
  }
  const std::uint64_t len = (std::uint64_t{*entries} * *bits_per_entry + 7) / 8;
  if (len != r.remaining()) return fail(Error::protocol("bloom filter", "length does not match its entry count"));
  f.entries_ = *entries;
  f.bits_per_entry_ = *bits_per_entry;
  f.probes_ = *probe_count;
  const ByteView bits = r.take_rest();
  f.bits_.assign(bits.begin(), bits.end());
  return f;
}

Bytes BloomFilter::encode() const {
  Bytes out;
  if (entries_ == 0) return out;
  enc::put_uleb(out, entries_);
  enc::put_uleb(out, bits_per_entry_);
  enc::put_uleb(out, probes_);
  out.insert(out.end(), bits_.begin(), bits_.end());
  return out;
}

// The same probes as probes(), computed one at a time so that a miss stops early; asked once
// per change when a peer's filter is checked, so it allocates nothing.
bool BloomFilter::contains(const ChangeHash& hash) const {
  if (entries_ == 0 || bits_.empty()) return false;
  const std::uint64_t m = std::uint64_t{bits_.size()} * 8;
  auto is_set = [&](std::uint64_t bit) { return (bits_[bit >> 3] & (1u << (bit & 7))) != 0; };
  std::uint64_t x = u32le(hash, 0) % m;
  if (!is_set(x)) return false;
  std::uint64_t y = u32le(hash, 4) % m;
  const std::uint64_t z = u32le(hash, 8) % m;
  for (std::uint32_t i = 1; i < probes_; ++i) {
    x = add_mod(x, y, m);
    y = add_mod(y, z, m);
    if (!is_set(x)) return false;
  }
  return true;
}

}  // namespace am::core
