// Raw DEFLATE (RFC 1951, no zlib or gzip header), the one wrapper around libdeflate.
#pragma once

#include <cstddef>

#include "am/bytes.h"
#include "am/result.h"
#include "core/util/big_alloc.h"

namespace am::util {

/// Default cap on the size of one inflated buffer: large enough for any real column or change,
/// small enough that a few hundred compressed bytes cannot claim gigabytes (a "zip bomb").
inline constexpr std::size_t kDefaultInflateLimit = std::size_t{256} << 20;

/// Compresses `input` at `level` (the reference uses 6). Thread-safe.
Bytes deflate_raw(ByteView input, int level = 6);

/// Decompresses raw DEFLATE data. The uncompressed size is not stored in the format, so the
/// output buffer grows until the data fits or exceeds `max_output` (kResourceLimit). Malformed
/// data is kCorruption. Thread-safe.
[[nodiscard]] Result<Bytes> inflate_raw(ByteView input,
                                        std::size_t max_output = kDefaultInflateLimit);

/// The same into `out` (its size is set to the output's), for big short-lived buffers (a
/// loader's columns): the guesses grow fourfold, and their unused bytes are never written, so a
/// column that compressed 100:1 is not zeroed and decompressed into five ever larger buffers.
[[nodiscard]] Status inflate_raw_into(ByteView input, std::size_t max_output, core::ScratchBytes& out);

}  // namespace am::util
