#include "core/encoding/value_column.h"

#include <bit>
#include <cstring>
#include <string>
#include <type_traits>

namespace am::enc {
namespace {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

std::uint64_t load_le64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void store_le64(Bytes& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

Result<std::int64_t> exact_sleb(const RawValue& raw, const char* what) {
  const std::uint8_t* p = raw.bytes.data();
  const std::uint8_t* end = p + raw.bytes.size();
  std::int64_t v = 0;
  if (get_sleb(p, end, v) != LebStatus::kOk || p != end) {
    return fail(Error::corruption("value column", std::string("malformed ") + what + " value"));
  }
  return v;
}

}  // namespace

Result<ScalarValue> decode_scalar(const RawValue& raw) {
  const std::size_t len = raw.bytes.size();
  switch (raw.type_code) {
    case kValueNull:
    case kValueFalse:
    case kValueTrue:
      if (len != 0) return fail(Error::corruption("value column", "null/bool value with bytes"));
      if (raw.type_code == kValueNull) return ScalarValue{Null{}};
      return ScalarValue{raw.type_code == kValueTrue};
    case kValueUint: {
      const std::uint8_t* p = raw.bytes.data();
      const std::uint8_t* end = p + len;
      std::uint64_t v = 0;
      if (get_uleb(p, end, v) != LebStatus::kOk || p != end) {
        return fail(Error::corruption("value column", "malformed uint value"));
      }
      return ScalarValue{v};
    }
    case kValueInt: {
      AM_TRY_ASSIGN(const std::int64_t v, exact_sleb(raw, "int"));
      return ScalarValue{v};
    }
    case kValueF64:
      if (len != 8) return fail(Error::corruption("value column", "f64 value is not 8 bytes"));
      return ScalarValue{std::bit_cast<double>(load_le64(raw.bytes.data()))};
    case kValueString: {
      std::string_view s(reinterpret_cast<const char*>(raw.bytes.data()), len);
      if (!is_valid_utf8(s)) return fail(Error::corruption("value column", "invalid UTF-8 in string value"));
      return ScalarValue{std::string(s)};
    }
    case kValueBytes:
      return ScalarValue{Bytes(raw.bytes.begin(), raw.bytes.end())};
    case kValueCounter: {
      AM_TRY_ASSIGN(const std::int64_t v, exact_sleb(raw, "counter"));
      return ScalarValue{Counter{v}};
    }
    case kValueTimestamp: {
      AM_TRY_ASSIGN(const std::int64_t v, exact_sleb(raw, "timestamp"));
      return ScalarValue{Timestamp{v}};
    }
    default:
      return ScalarValue{UnknownValue{raw.type_code, Bytes(raw.bytes.begin(), raw.bytes.end())}};
  }
}

void ValueWriter::append(const ScalarValue& value) {
  std::visit(Overloaded{
                 [&](Null) { append_meta(kValueNull, 0); },
                 [&](bool b) { append_meta(b ? kValueTrue : kValueFalse, 0); },
                 [&](std::int64_t v) {
                   append_meta(kValueInt, sleb_size(v));
                   put_sleb(raw_, v);
                 },
                 [&](std::uint64_t v) {
                   append_meta(kValueUint, uleb_size(v));
                   put_uleb(raw_, v);
                 },
                 [&](double v) {
                   append_meta(kValueF64, 8);
                   store_le64(raw_, std::bit_cast<std::uint64_t>(v));
                 },
                 [&](const std::string& s) { append_raw(kValueString, as_bytes(s)); },
                 [&](const Bytes& b) { append_raw(kValueBytes, b); },
                 [&](Counter c) {
                   append_meta(kValueCounter, sleb_size(c.value));
                   put_sleb(raw_, c.value);
                 },
                 [&](Timestamp t) {
                   append_meta(kValueTimestamp, sleb_size(t.millis));
                   put_sleb(raw_, t.millis);
                 },
                 [&](const UnknownValue& u) { append_raw(u.type_code, u.bytes); },
             },
             value);
}

void ValueWriter::finish(Bytes& meta_out, Bytes& raw_out) {
  meta_.finish(meta_out);
  append_output(raw_out, raw_);
}

bool ValueReader::next(RawValue& out) {
  std::optional<std::uint64_t> meta;
  if (err_ || !meta_.next(meta)) return false;
  const std::uint64_t m = meta.value_or(0);  // a null metadata entry reads as a null value
  const std::uint64_t len = m >> 4;
  if (len > static_cast<std::uint64_t>(raw_end_ - raw_)) {
    err_ = "value length runs past the raw value column";
    return false;
  }
  out.type_code = static_cast<std::uint8_t>(m & 0x0f);
  out.bytes = ByteView(raw_, static_cast<std::size_t>(len));
  raw_ += len;
  return true;
}

Status ValueReader::status(std::string_view column) const {
  if (err_) return column_status(column, err_, static_cast<std::size_t>(raw_ - raw_begin_));
  return meta_.status(column);
}

}  // namespace am::enc
