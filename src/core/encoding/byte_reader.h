// ByteReader: a bounds-checked cursor over untrusted bytes.
//
// Every read checks the remaining length first and returns a kCorruption error naming what was
// being read and the offset, so decoders built on it cannot read out of bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "am/bytes.h"
#include "am/result.h"
#include "core/encoding/leb128.h"
#include "core/encoding/utf8.h"  // is_valid_utf8, which utf8() checks with

namespace am::enc {

/// Not thread-safe. The viewed bytes must outlive the reader and every view it returns.
class ByteReader {
 public:
  /// `what` names the structure being parsed, for error messages ("change chunk").
  explicit ByteReader(ByteView data, std::string_view what = "data")
      : begin_(data.data()), pos_(data.data()), end_(data.data() + data.size()), what_(what) {}
  /// A reader over a temporary buffer would dangle at once.
  explicit ByteReader(Bytes&&, std::string_view = {}) = delete;

  std::size_t offset() const noexcept { return static_cast<std::size_t>(pos_ - begin_); }
  std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - pos_); }
  bool empty() const noexcept { return pos_ == end_; }
  ByteView rest() const noexcept { return {pos_, remaining()}; }

  [[nodiscard]] Result<std::uint8_t> byte();
  [[nodiscard]] Result<std::uint64_t> uleb();
  [[nodiscard]] Result<std::int64_t> sleb();
  /// A uLEB that must fit 32 bits.
  [[nodiscard]] Result<std::uint32_t> uleb32();
  /// Exactly n bytes.
  [[nodiscard]] Result<ByteView> bytes(std::uint64_t n);
  /// uLEB length followed by that many bytes.
  [[nodiscard]] Result<ByteView> length_prefixed();
  /// uLEB length followed by that many bytes of valid UTF-8.
  [[nodiscard]] Result<std::string_view> utf8();
  /// Everything left; the reader becomes empty.
  ByteView take_rest() noexcept {
    ByteView r = rest();
    pos_ = end_;
    return r;
  }

  /// An error of kind kCorruption naming the structure and current offset.
  Error error(std::string_view detail) const;

 private:
  const std::uint8_t* begin_;
  const std::uint8_t* pos_;
  const std::uint8_t* end_;
  std::string_view what_;
};

/// Success if `err` is null, else a kCorruption error naming the column and offset. Shared by the
/// column readers, which record a static error text instead of allocating while decoding.
Status column_status(std::string_view column, const char* err, std::size_t offset);


}  // namespace am::enc
