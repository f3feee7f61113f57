// OpValue: an op's scalar value in one word, as the op set stores it (one per op).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "am/bytes.h"
#include "am/value.h"

namespace am::core {

/// An op's value in 8 bytes. Inline: null, booleans, ints, uints, counters and timestamps that
/// fit 56 bits, doubles whose low mantissa byte is zero (0.5, 3.0, ...), and strings and bytes of
/// up to 7 bytes, so every text character. Anything else lives in a heap cell the op owns: a
/// length-prefixed copy of a longer string or bytes (8 bytes of size, then the bytes), or a
/// ScalarValue (other doubles, wider numbers, unknown type codes). A document holds one per op
/// that is not a delete, so every byte here is a byte per character. Value type; not
/// thread-safe (as std::string).
class OpValue {
 public:
  OpValue() = default;  // null
  explicit OpValue(const ScalarValue& v) { set(v); }
  /// A string (REQUIRES: valid UTF-8) or bytes value, without building a ScalarValue first:
  /// the loader's path for text, one short string per character.
  static OpValue string(std::string_view s) {
    OpValue v;
    v.put_blob(kString, kStringCell, s.data(), s.size());
    return v;
  }
  static OpValue bytes(ByteView b) {
    OpValue v;
    v.put_blob(kBytes, kBytesCell, b.data(), b.size());
    return v;
  }
  OpValue(const OpValue& o) { copy_from(o); }
  OpValue(OpValue&& o) noexcept : w_(o.w_) { o.w_ = 0; }
  OpValue& operator=(const OpValue& o) {
    if (this != &o) {
      release();
      copy_from(o);
    }
    return *this;
  }
  OpValue& operator=(OpValue&& o) noexcept {
    if (this != &o) {
      release();
      w_ = o.w_;
      o.w_ = 0;
    }
    return *this;
  }
  ~OpValue() { release(); }

  /// The ScalarValue alternative index.
  std::size_t index() const {
    switch (kind()) {
      case kStringCell: return kString;
      case kBytesCell: return kBytes;
      case kScalarCell: return scalar_cell()->index();
      default: return kind();
    }
  }
  bool is_null() const { return w_ == 0; }
  bool is_string() const { return kind() == kString || kind() == kStringCell; }  // never a ScalarValue cell
  bool is_counter() const {
    return kind() == kCounter || (kind() == kScalarCell && scalar_cell()->index() == kCounter);
  }
  bool is_int_or_uint() const { return index() == kInt || index() == kUint; }
  /// A string of one byte (always inline): the test for a typed ASCII character, which the
  /// save makes for every element.
  bool is_one_byte_string() const { return kind() == kString && inline_size() == 1; }
  /// REQUIRES: is_string().
  std::string_view str() const {
    if (kind() == kString) return {inline_bytes(), inline_size()};
    return {reinterpret_cast<const char*>(blob_data()), blob_size()};
  }
  /// The payload of an int, counter or timestamp (uint: converted). REQUIRES: one of those.
  std::int64_t int_value() const {
    if (kind() == kScalarCell) {
      const ScalarValue& v = *scalar_cell();
      switch (v.index()) {
        case kInt: return std::get<std::int64_t>(v);
        case kUint: return static_cast<std::int64_t>(std::get<std::uint64_t>(v));
        case kCounter: return std::get<Counter>(v).value;
        case kTimestamp: return std::get<Timestamp>(v).millis;
        default: return 0;
      }
    }
    if (kind() == kUint) return static_cast<std::int64_t>(w_ >> 8);
    return static_cast<std::int64_t>(w_) >> 8;  // arithmetic: the payload's sign
  }
  ScalarValue get() const {
    switch (kind()) {
      case kBool: return (w_ >> 8) != 0;
      case kInt: return int_value();
      case kUint: return static_cast<std::uint64_t>(w_ >> 8);
      case kDouble: return std::bit_cast<double>(w_ & ~std::uint64_t{0xff});
      case kString: return std::string(str());
      case kBytes: return Bytes(inline_bytes(), inline_bytes() + inline_size());
      case kCounter: return Counter{int_value()};
      case kTimestamp: return Timestamp{int_value()};
      case kStringCell: return std::string(str());
      case kBytesCell: return Bytes(blob_data(), blob_data() + blob_size());
      case kScalarCell: return *scalar_cell();
      default: return Null{};
    }
  }

 private:
  // w_'s low nibble is the kind: a ScalarValue index for an inline value, or one of the cell
  // kinds, whose cell is at w_ with the nibble cleared (cells are 16-byte aligned). Inline:
  // bits 4-7 hold the size of a string or bytes, bits 8-63 the payload (the string's bytes are
  // the word's bytes 1-7 in memory).
  static constexpr std::uint8_t kNull = 0, kBool = 1, kInt = 2, kUint = 3, kDouble = 4, kString = 5,
                                kBytes = 6, kCounter = 7, kTimestamp = 8;
  static constexpr std::uint8_t kStringCell = 13, kBytesCell = 14, kScalarCell = 15;
  static constexpr std::size_t kInline = 7;
  static constexpr std::align_val_t kCellAlign{16};
  static_assert(std::endian::native == std::endian::little, "inline strings are the word's bytes 1-7");
  static_assert(std::is_same_v<std::variant_alternative_t<kString, ScalarValue>, std::string> &&
                std::is_same_v<std::variant_alternative_t<kBytes, ScalarValue>, Bytes> &&
                std::is_same_v<std::variant_alternative_t<kCounter, ScalarValue>, Counter> &&
                std::is_same_v<std::variant_alternative_t<kTimestamp, ScalarValue>, Timestamp> &&
                std::is_same_v<std::variant_alternative_t<kDouble, ScalarValue>, double> &&
                std::is_same_v<std::variant_alternative_t<kUint, ScalarValue>, std::uint64_t> &&
                std::is_same_v<std::variant_alternative_t<kInt, ScalarValue>, std::int64_t>);

  std::uint8_t kind() const { return static_cast<std::uint8_t>(w_ & 0xf); }
  void* cell() const { return reinterpret_cast<void*>(static_cast<std::uintptr_t>(w_ & ~std::uint64_t{0xf})); }
  ScalarValue* scalar_cell() const { return static_cast<ScalarValue*>(cell()); }
  // A blob cell: the size (8 bytes), then the bytes.
  std::size_t blob_size() const {
    std::uint64_t n = 0;
    std::memcpy(&n, cell(), sizeof n);
    return static_cast<std::size_t>(n);
  }
  const std::uint8_t* blob_data() const {
    return static_cast<const std::uint8_t*>(cell()) + sizeof(std::uint64_t);
  }
  const char* inline_bytes() const { return reinterpret_cast<const char*>(&w_) + 1; }
  std::size_t inline_size() const { return (w_ >> 4) & 0xf; }

  void put_cell(void* p, std::uint8_t k) {
    w_ = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(p)) | k;
  }
  void put_scalar_cell(const ScalarValue& v) {
    void* p = ::operator new(sizeof(ScalarValue), kCellAlign);
    put_cell(new (p) ScalarValue(v), kScalarCell);
  }
  void put_blob(std::uint8_t inline_kind, std::uint8_t cell_kind, const void* data, std::size_t n) {
    if (n <= kInline) {
      w_ = inline_kind | (static_cast<std::uint64_t>(n) << 4);
      if (n != 0) std::memcpy(reinterpret_cast<char*>(&w_) + 1, data, n);  // an empty vector's data() may be null
      return;
    }
    put_blob_cell(cell_kind, data, n);
  }
  // Out of line: the inline case is the loader's hot path.
  [[gnu::noinline]] void put_blob_cell(std::uint8_t cell_kind, const void* data, std::size_t n) {
    auto* p = static_cast<std::uint8_t*>(::operator new(sizeof(std::uint64_t) + n, kCellAlign));
    const std::uint64_t size = n;
    std::memcpy(p, &size, sizeof size);
    std::memcpy(p + sizeof size, data, n);
    put_cell(p, cell_kind);
  }
  // An inline number: the payload is the value's low 56 bits.
  void put_number(std::uint8_t k, std::uint64_t payload) { w_ = (payload << 8) | k; }
  void put_signed(std::uint8_t k, std::int64_t v, const ScalarValue& whole) {
    constexpr std::int64_t kLimit = std::int64_t{1} << 55;
    if (v >= -kLimit && v < kLimit) put_number(k, static_cast<std::uint64_t>(v)); else put_scalar_cell(whole);
  }
  void set(const ScalarValue& v) {
    w_ = 0;
    switch (v.index()) {
      case kNull: break;
      case kBool: put_number(kBool, std::get<bool>(v) ? 1 : 0); break;
      case kInt: put_signed(kInt, std::get<std::int64_t>(v), v); break;
      case kUint: {
        const std::uint64_t u = std::get<std::uint64_t>(v);
        if (u < (std::uint64_t{1} << 56)) put_number(kUint, u); else put_scalar_cell(v);
        break;
      }
      case kDouble: {
        const auto bits = std::bit_cast<std::uint64_t>(std::get<double>(v));
        if ((bits & 0xff) == 0) w_ = bits | kDouble; else put_scalar_cell(v);
        break;
      }
      case kString: {
        const std::string& s = std::get<std::string>(v);
        put_blob(kString, kStringCell, s.data(), s.size());
        break;
      }
      case kBytes: {
        const Bytes& b = std::get<Bytes>(v);
        put_blob(kBytes, kBytesCell, b.data(), b.size());
        break;
      }
      case kCounter: put_signed(kCounter, std::get<Counter>(v).value, v); break;
      case kTimestamp: put_signed(kTimestamp, std::get<Timestamp>(v).millis, v); break;
      default: put_scalar_cell(v); break;  // unknown type codes
    }
  }
  void release() {
    if (kind() >= kStringCell) free_cell();
    w_ = 0;
  }
  [[gnu::noinline]] void free_cell() {
    const std::uint8_t k = kind();
    if (k == kScalarCell) {
      ScalarValue* p = scalar_cell();
      p->~ScalarValue();
      ::operator delete(p, kCellAlign);
    } else {
      ::operator delete(cell(), kCellAlign);
    }
  }
  void copy_from(const OpValue& o) {
    switch (o.kind()) {
      case kScalarCell: put_scalar_cell(*o.scalar_cell()); break;
      case kStringCell: put_blob(kString, kStringCell, o.blob_data(), o.blob_size()); break;
      case kBytesCell: put_blob(kBytes, kBytesCell, o.blob_data(), o.blob_size()); break;
      default: w_ = o.w_; break;
    }
  }

  std::uint64_t w_ = 0;
};
static_assert(sizeof(OpValue) == 8);

}  // namespace am::core
