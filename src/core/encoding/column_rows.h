// Row-wise reading of a set of columns: one item per row from every column, with the errors a
// decoder reports when a column ends early, has items left after the last row, or claims more
// rows than allowed. Shared by the change chunk and document chunk decoders, which differ only in
// how they word those errors (RowErrors).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "am/result.h"
#include "core/encoding/leb128.h"
#include "core/encoding/rle.h"

namespace am::enc {

/// How a decoder words the errors of row-wise reading.
struct RowErrors {
  /// The error for `column` ending before row `row`.
  Error (*ends_early)(std::string_view column, std::uint64_t row);
  /// The error for `column` having items after the last row.
  Error (*has_more)(std::string_view column);
  /// Added (Error::with_context) to a reader's own error (malformed column data); empty: none.
  std::string_view context;
  /// check_done: report a reader error before "has more" (the document chunk does).
  bool check_reader_first = false;

  Status reader_error(Status s) const {
    if (s || context.empty()) return s;
    return fail(s.error().with_context(std::string(context)));
  }
};

/// Reads the next item of a column that supplies one (null or not) per row. An absent column
/// (`present` false) reads as all nulls.
template <class Reader>
[[gnu::noinline]] Status item_missing(const Reader& r, std::string_view column, std::uint64_t row,
                                      const RowErrors& errors) {
  if (!r.ok()) return errors.reader_error(r.status(column));
  return fail(errors.ends_early(column, row));
}

// Called per row per column: the success path is kept small enough to inline.
template <class Reader, class T>
inline Status next_item(Reader& r, bool present, std::optional<T>& out, std::string_view column,
                        std::uint64_t row, const RowErrors& errors) {
  if (!present) {
    out.reset();
    return {};
  }
  if (r.next(out)) [[likely]] return {};
  return item_missing(r, column, row, errors);
}

/// Reads the next flag of a boolean column; an absent column reads as all false.
inline Status next_bool(BooleanReader& r, bool present, bool& out, std::string_view column,
                        std::uint64_t row, const RowErrors& errors) {
  if (!present) {
    out = false;
    return {};
  }
  if (r.next(out)) return {};
  if (!r.ok()) return errors.reader_error(r.status(column));
  return fail(errors.ends_early(column, row));
}

/// After the last row: a present column must have no items left.
template <class Reader>
Status check_done(const Reader& r, bool present, std::string_view column, const RowErrors& errors) {
  if (!present || r.done()) return {};
  if (errors.check_reader_first && !r.ok()) return errors.reader_error(r.status(column));
  return fail(errors.has_more(column));
}

/// Counts the items of an RLE column run by run, so a run claiming 2^60 items costs one step and
/// no memory. Fails with kResourceLimit as soon as the count exceeds `cap`, and with kCorruption
/// (naming `column` and the offset) on malformed data.
template <class Codec>
Result<std::uint64_t> count_rle_items(ByteView data, std::uint64_t cap, std::string_view column,
                                      std::string_view items_name) {
  const std::uint8_t* begin = data.data();
  const std::uint8_t* p = begin;
  const std::uint8_t* end = begin + data.size();
  auto corrupt = [&](const char* why) {
    return Error::corruption(column, std::string(why) + " at offset " +
                                         std::to_string(static_cast<std::size_t>(p - begin)));
  };
  std::uint64_t total = 0;
  while (p != end) {
    std::int64_t n = 0;
    if (const LebStatus s = get_sleb(p, end, n); s != LebStatus::kOk) {
      return fail(corrupt(leb_status_text(s)));
    }
    std::uint64_t items = 0;
    typename Codec::value_type v{};
    if (n > 0) {
      items = static_cast<std::uint64_t>(n);
      if (const char* e = Codec::read(p, end, v)) return fail(corrupt(e));
    } else if (n < 0) {
      items = std::uint64_t{0} - static_cast<std::uint64_t>(n);
    } else if (const LebStatus s = get_uleb(p, end, items); s != LebStatus::kOk) {
      return fail(corrupt(leb_status_text(s)));
    }
    if (items > cap - total) {
      return fail(Error::resource_limit(
          column, "more than " + std::to_string(cap) + " " + std::string(items_name)));
    }
    total += items;
    if (n < 0) {
      // Each literal value takes at least one byte, so this loop is bounded by the input size.
      for (std::uint64_t i = 0; i < items; ++i) {
        if (const char* e = Codec::read(p, end, v)) return fail(corrupt(e));
      }
    }
  }
  return total;
}

}  // namespace am::enc
