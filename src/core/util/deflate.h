// Raw DEFLATE (RFC 1951, no zlib or gzip header), the one wrapper around libdeflate.
#pragma once

#include <cstddef>

#include "am/bytes.h"
#include "am/result.h"

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

}  // namespace am::util
