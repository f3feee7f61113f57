// SHA-256, the one wrapper around OpenSSL's libcrypto.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>

#include "am/bytes.h"

namespace am::util {

using Sha256Digest = std::array<std::uint8_t, 32>;

/// SHA-256 of the concatenation of `parts`, without concatenating them. Allocates nothing
/// (about 150 ns for a change-sized input). Thread-safe.
Sha256Digest sha256(std::initializer_list<ByteView> parts);
inline Sha256Digest sha256(ByteView data) { return sha256({data}); }

/// Incremental SHA-256 for data that arrives in pieces. Not thread-safe; one per user.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(ByteView data);
  /// Returns the digest and resets the hasher for reuse.
  Sha256Digest finish();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

}  // namespace am::util
