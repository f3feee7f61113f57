// Value metadata + raw value columns (format spec §1.7).
//
// Each value is described by an RLE uLEB metadata entry `(byte_length << 4) | type_code`; the
// value's bytes are appended to the raw column with the same column id. Unknown type codes
// (10-15) are carried through unchanged.
#pragma once

#include <cstdint>
#include <string_view>

#include "am/bytes.h"
#include "am/result.h"
#include "am/value.h"
#include "core/encoding/rle.h"

namespace am::enc {

/// Type codes of the value metadata column.
enum ValueTypeCode : std::uint8_t {
  kValueNull = 0,
  kValueFalse = 1,
  kValueTrue = 2,
  kValueUint = 3,
  kValueInt = 4,
  kValueF64 = 5,
  kValueString = 6,
  kValueBytes = 7,
  kValueCounter = 8,
  kValueTimestamp = 9,
  // 10..15: unknown, preserved
};

/// One value as stored: its type code and a view of its raw bytes (valid while the column is).
struct RawValue {
  std::uint8_t type_code = kValueNull;
  ByteView bytes;
};

/// Decodes and validates a raw value (exact LEB lengths, 8-byte floats, UTF-8 strings).
[[nodiscard]] Result<ScalarValue> decode_scalar(const RawValue& raw);

/// Writes values into a metadata column and a raw column. Not thread-safe.
class ValueWriter {
 public:
  void append(const ScalarValue& v);
  void append_null() { meta_.append(kValueNull); }
  /// Appends a value given by type code and raw bytes (used to re-emit unknown types verbatim).
  void append_raw(std::uint8_t type_code, ByteView bytes) {
    append_meta(type_code & 0x0f, bytes.size());
    if (bytes.size() == 1) {  // most text is one character per op
      raw_.push_back(bytes[0]);
    } else {
      raw_.insert(raw_.end(), bytes.begin(), bytes.end());
    }
  }
  /// Appends one string value of one byte per byte of `chars` (REQUIRES: each an ASCII
  /// character): the same columns as an append_raw(kValueString, ...) per byte.
  void append_ascii_chars(ByteView chars) {
    meta_.append_repeated((std::uint64_t{1} << 4) | kValueString, chars.size());
    raw_.insert(raw_.end(), chars.begin(), chars.end());
  }
  /// Appends n empty values of one type (e.g. no extra bytes on every change): n append_raw calls.
  void append_empty_repeated(std::uint8_t type_code, std::uint64_t n) {
    meta_.append_repeated(type_code & 0x0f, n);
  }
  /// Appends the metadata column to `meta_out` and the raw column to `raw_out`; resets.
  void finish(Bytes& meta_out, Bytes& raw_out);

 private:
  void append_meta(std::uint8_t type_code, std::size_t len) {
    meta_.append((static_cast<std::uint64_t>(len) << 4) | type_code);
  }
  UIntRleWriter meta_;
  Bytes raw_;
};

/// Cursor over a metadata column and its raw column. Not thread-safe; both columns' bytes must
/// outlive the reader and the RawValue views it returns.
class ValueReader {
 public:
  ValueReader() = default;
  ValueReader(ByteView meta, ByteView raw)
      : meta_(meta), raw_begin_(raw.data()), raw_(raw.data()), raw_end_(raw.data() + raw.size()) {}

  /// Reads the next value. Returns false at the end of the metadata column or on malformed data
  /// (a length running past the raw column), which ok()/status() then report.
  bool next(RawValue& out);
  bool done() const noexcept { return err_ == nullptr && meta_.done(); }
  bool ok() const noexcept { return err_ == nullptr && meta_.ok(); }
  Status status(std::string_view column) const;
  /// Raw bytes not claimed by any metadata entry; non-zero after done() means a corrupt column.
  std::size_t raw_remaining() const noexcept { return static_cast<std::size_t>(raw_end_ - raw_); }

 private:
  UIntRleReader meta_;
  const std::uint8_t* raw_begin_ = nullptr;
  const std::uint8_t* raw_ = nullptr;
  const std::uint8_t* raw_end_ = nullptr;
  const char* err_ = nullptr;
};

}  // namespace am::enc
