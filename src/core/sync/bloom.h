// The Bloom filter of the sync protocol's `have` (format spec §4.2): 10 bits per entry,
// 7 probes derived from bytes 0-12 of each hash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "am/bytes.h"
#include "am/result.h"
#include "am/types.h"

namespace am::core {

/// Value type; not thread-safe to mutate.
class BloomFilter {
 public:
  static constexpr std::uint32_t kBitsPerEntry = 10;
  static constexpr std::uint32_t kProbes = 7;
  /// Decoding caps, so that a hostile filter cannot make contains() slow.
  static constexpr std::uint32_t kMaxBitsPerEntry = 64;
  static constexpr std::uint32_t kMaxProbes = 32;

  BloomFilter() = default;
  static BloomFilter from_hashes(const std::vector<ChangeHash>& hashes);
  /// The filter of `count` hashes, the i-th being hash_at(i): no vector of them is made (a
  /// fresh peer's first message covers every change of the document).
  static BloomFilter from_hashes(std::size_t count, const std::function<const ChangeHash&(std::size_t)>& hash_at);
  /// Empty input is the empty filter. Errors are kProtocol.
  [[nodiscard]] static Result<BloomFilter> decode(ByteView bytes);
  /// Zero bytes for an empty filter, else uLEB(n) uLEB(bits per entry) uLEB(probes) bits.
  Bytes encode() const;
  bool contains(const ChangeHash& hash) const;

 private:
  void probes(const ChangeHash& hash, std::vector<std::uint64_t>& out) const;

  std::uint32_t entries_ = 0;
  std::uint32_t bits_per_entry_ = kBitsPerEntry;
  std::uint32_t probes_ = kProbes;
  Bytes bits_;
};

}  // namespace am::core
