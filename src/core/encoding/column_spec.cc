#include "core/encoding/column_spec.h"

#include <algorithm>
#include <string>

#include "core/util/deflate.h"

namespace am::enc {

Result<std::vector<ColumnMeta>> read_column_metadata(ByteReader& r, bool allow_deflate) {
  AM_TRY_ASSIGN(const std::uint64_t count, r.uleb());
  // Each entry takes at least two bytes, which bounds the allocation by the input size.
  if (count > r.remaining() / 2) return fail(r.error("column count exceeds the data"));
  std::vector<ColumnMeta> out;
  out.reserve(static_cast<std::size_t>(count));
  for (std::uint64_t i = 0; i < count; ++i) {
    AM_TRY_ASSIGN(const std::uint32_t raw, r.uleb32());
    AM_TRY_ASSIGN(const std::uint64_t len, r.uleb());
    const ColumnSpec spec = ColumnSpec::from_raw(raw);
    if (spec.deflate() && !allow_deflate) {
      return fail(r.error("deflated column " + std::to_string(raw) + " where none is allowed"));
    }
    if (!out.empty() && out.back().spec.normalized() >= spec.normalized()) {
      return fail(r.error("column specs not in ascending order"));
    }
    out.push_back({spec, len});
  }
  return out;
}

Result<std::vector<StoredColumn>> read_column_data(ByteReader& r,
                                                   const std::vector<ColumnMeta>& meta) {
  std::vector<StoredColumn> out;
  out.reserve(meta.size());
  for (const ColumnMeta& m : meta) {
    AM_TRY_ASSIGN(const ByteView data, r.bytes(m.length));
    out.push_back({m.spec, data});
  }
  return out;
}

void ColumnSetWriter::add(ColumnSpec spec, Bytes data) {
  if (data.empty()) return;
  if (!columns_.empty() && columns_.back().spec.normalized() >= spec.normalized()) sorted_ = false;
  columns_.push_back({spec.with_deflate(false), std::move(data)});
}

void ColumnSetWriter::deflate_large_columns(std::size_t threshold) {
  for (Column& c : columns_) {
    if (!c.spec.deflate() && c.data.size() >= threshold) {
      c.data = util::deflate_raw(c.data);
      c.spec = c.spec.with_deflate(true);
    }
  }
}

void ColumnSetWriter::sort() {
  if (sorted_) return;
  std::stable_sort(columns_.begin(), columns_.end(), [](const Column& a, const Column& b) {
    return a.spec.normalized() < b.spec.normalized();
  });
  sorted_ = true;
}

void ColumnSetWriter::write_metadata(Bytes& out) {
  sort();
  put_uleb(out, columns_.size());
  for (const Column& c : columns_) {
    put_uleb(out, c.spec.raw());
    put_uleb(out, c.data.size());
  }
}

void ColumnSetWriter::write_data(Bytes& out) {
  sort();
  for (const Column& c : columns_) out.insert(out.end(), c.data.begin(), c.data.end());
}

}  // namespace am::enc
