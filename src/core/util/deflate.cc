#include "core/util/deflate.h"

#include <libdeflate.h>

#include <algorithm>
#include <memory>
#include <new>
#include <string>

namespace am::util {
namespace {

struct CompressorDeleter {
  void operator()(libdeflate_compressor* c) const { libdeflate_free_compressor(c); }
};
struct DecompressorDeleter {
  void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
};

libdeflate_decompressor* decompressor() {
  // Allocating a decompressor per call would cost more than inflating a small column.
  thread_local std::unique_ptr<libdeflate_decompressor, DecompressorDeleter> d(
      libdeflate_alloc_decompressor());
  if (!d) throw std::bad_alloc();
  return d.get();
}

}  // namespace

Bytes deflate_raw(ByteView input, int level) {
  thread_local int cached_level = -1;
  thread_local std::unique_ptr<libdeflate_compressor, CompressorDeleter> c;
  if (!c || cached_level != level) {
    c.reset(libdeflate_alloc_compressor(level));
    if (!c) throw std::bad_alloc();
    cached_level = level;
  }
  // Compressed into a scratch buffer that is never zeroed, then copied out at its real size: a
  // Bytes of the bound's size was zero-filled (faulting in every page) and kept that capacity.
  core::ScratchBytes scratch;
  scratch.resize_discarding(libdeflate_deflate_compress_bound(c.get(), input.size()));
  const std::size_t n =
      libdeflate_deflate_compress(c.get(), input.data(), input.size(), scratch.data(), scratch.size());
  return Bytes(scratch.data(), scratch.data() + n);  // the bound guarantees success
}

namespace {

// Decompresses into buffers that `resize(n)` makes n bytes long, guessing the size from the
// input and multiplying the guess by `growth` until the output fits or passes `max_output`.
// Returns the output's size.
template <class Resize>
Result<std::size_t> inflate_growing(ByteView input, std::size_t max_output, std::size_t growth, Resize resize) {
  std::size_t cap = std::min(max_output, std::max<std::size_t>(input.size() * 4, 4096));
  for (;;) {
    std::uint8_t* out = resize(cap);
    std::size_t actual = 0;
    const libdeflate_result r =
        libdeflate_deflate_decompress(decompressor(), input.data(), input.size(), out, cap, &actual);
    if (r == LIBDEFLATE_SUCCESS) return actual;
    if (r != LIBDEFLATE_INSUFFICIENT_SPACE) {
      return fail(Error::corruption("deflate", "malformed raw DEFLATE data"));
    }
    if (cap >= max_output) {
      return fail(Error::resource_limit(
          "deflate", "inflated data exceeds the limit of " + std::to_string(max_output) + " bytes"));
    }
    cap = cap > max_output / growth ? max_output : cap * growth;
  }
}

}  // namespace

Result<Bytes> inflate_raw(ByteView input, std::size_t max_output) {
  Bytes out;
  AM_TRY_ASSIGN(const std::size_t n, inflate_growing(input, max_output, 2, [&](std::size_t cap) {
                  out.resize(cap);
                  return out.data();
                }));
  out.resize(n);
  return out;
}

Status inflate_raw_into(ByteView input, std::size_t max_output, core::ScratchBytes& out) {
  AM_TRY_ASSIGN(const std::size_t n, inflate_growing(input, max_output, 4, [&](std::size_t cap) {
                  out.resize_discarding(cap);
                  return out.data();
                }));
  out.shrink(n);
  return {};
}

}  // namespace am::util
