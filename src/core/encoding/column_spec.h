// Column specifications and the column metadata block (format spec §1.3).
//
//   spec  = (column_id << 4) | (deflate ? 0x08 : 0) | column_type
//   block = uLEB(count) || count * (uLEB(spec) || uLEB(byte_length))
//
// Column data follows later, concatenated in metadata order. Columns are sorted ascending by
// spec without the deflate bit; empty columns are omitted.
#pragma once

#include <cstdint>
#include <vector>

#include "am/bytes.h"
#include "am/result.h"
#include "core/encoding/byte_reader.h"

namespace am::enc {

enum class ColumnType : std::uint8_t {
  kGroup = 0,
  kActor = 1,
  kInteger = 2,
  kDeltaInteger = 3,
  kBoolean = 4,
  kString = 5,
  kValueMetadata = 6,
  kValue = 7,
};

/// A column specification. Value type.
class ColumnSpec {
 public:
  static constexpr std::uint32_t kDeflateBit = 0x08;

  constexpr ColumnSpec() = default;
  constexpr ColumnSpec(std::uint32_t id, ColumnType type, bool deflate = false)
      : raw_((id << 4) | (deflate ? kDeflateBit : 0u) | static_cast<std::uint32_t>(type)) {}
  static constexpr ColumnSpec from_raw(std::uint32_t raw) {
    ColumnSpec s;
    s.raw_ = raw;
    return s;
  }

  constexpr std::uint32_t raw() const { return raw_; }
  constexpr std::uint32_t id() const { return raw_ >> 4; }
  constexpr ColumnType type() const { return static_cast<ColumnType>(raw_ & 0x07); }
  constexpr bool deflate() const { return (raw_ & kDeflateBit) != 0; }
  /// The spec without the deflate bit: what ordering and column identity use.
  constexpr std::uint32_t normalized() const { return raw_ & ~kDeflateBit; }
  constexpr ColumnSpec with_deflate(bool on) const {
    return from_raw(on ? (raw_ | kDeflateBit) : normalized());
  }

  friend constexpr bool operator==(ColumnSpec a, ColumnSpec b) { return a.raw_ == b.raw_; }

 private:
  std::uint32_t raw_ = 0;
};

/// A column as stored in a chunk: its spec and its bytes (still deflated if spec.deflate()).
/// The bytes are a view into the chunk.
struct StoredColumn {
  ColumnSpec spec;
  ByteView data;
};

/// One entry of a metadata block.
struct ColumnMeta {
  ColumnSpec spec;
  std::uint64_t length = 0;
};

/// Reads a metadata block. Rejects specs that do not fit 32 bits, specs that are not strictly
/// ascending (ignoring the deflate bit), and deflated columns when `allow_deflate` is false
/// (change chunks never carry them).
[[nodiscard]] Result<std::vector<ColumnMeta>> read_column_metadata(ByteReader& r,
                                                                  bool allow_deflate);

/// Slices the data of the columns described by `meta` from `r`, in order.
[[nodiscard]] Result<std::vector<StoredColumn>> read_column_data(
    ByteReader& r, const std::vector<ColumnMeta>& meta);

/// Collects encoded columns and writes the metadata block and data in canonical form.
/// Not thread-safe.
class ColumnSetWriter {
 public:
  /// Adds a column. Empty columns are dropped (the canonical form omits them). `spec` must not
  /// carry the deflate bit; use deflate_large_columns() for that.
  void add(ColumnSpec spec, Bytes data);
  /// Raw-DEFLATEs every column whose payload is at least `threshold` bytes (documents: 256).
  void deflate_large_columns(std::size_t threshold);
  void write_metadata(Bytes& out);
  void write_data(Bytes& out);
  std::size_t size() const { return columns_.size(); }

 private:
  struct Column {
    ColumnSpec spec;
    Bytes data;
  };
  void sort();
  std::vector<Column> columns_;
  bool sorted_ = true;
};

}  // namespace am::enc
