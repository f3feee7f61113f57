#include "core/encoding/byte_reader.h"

#include <string>

namespace am::enc {

Error ByteReader::error(std::string_view detail) const {
  std::string msg(detail);
  msg += " at offset ";
  msg += std::to_string(offset());
  return Error::corruption(what_, msg);
}

Result<std::uint8_t> ByteReader::byte() {
  if (pos_ == end_) return fail(error("unexpected end of data"));
  return *pos_++;
}

Result<std::uint64_t> ByteReader::uleb() {
  std::uint64_t v = 0;
  const LebStatus s = get_uleb(pos_, end_, v);
  if (s != LebStatus::kOk) return fail(error(leb_status_text(s)));
  return v;
}

Result<std::int64_t> ByteReader::sleb() {
  std::int64_t v = 0;
  const LebStatus s = get_sleb(pos_, end_, v);
  if (s != LebStatus::kOk) return fail(error(leb_status_text(s)));
  return v;
}

Result<std::uint32_t> ByteReader::uleb32() {
  AM_TRY_ASSIGN(const std::uint64_t v, uleb());
  if (v > UINT32_MAX) return fail(error("value does not fit 32 bits"));
  return static_cast<std::uint32_t>(v);
}

Result<ByteView> ByteReader::bytes(std::uint64_t n) {
  if (n > remaining()) {
    return fail(error("length " + std::to_string(n) + " exceeds the " +
                      std::to_string(remaining()) + " bytes remaining"));
  }
  ByteView v{pos_, static_cast<std::size_t>(n)};
  pos_ += n;
  return v;
}

Result<ByteView> ByteReader::length_prefixed() {
  AM_TRY_ASSIGN(const std::uint64_t n, uleb());
  return bytes(n);
}

Result<std::string_view> ByteReader::utf8() {
  AM_TRY_ASSIGN(const ByteView v, length_prefixed());
  std::string_view s(reinterpret_cast<const char*>(v.data()), v.size());
  if (!is_valid_utf8(s)) return fail(error("invalid UTF-8 in string"));
  return s;
}

Status column_status(std::string_view column, const char* err, std::size_t offset) {
  if (err == nullptr) return {};
  return fail(Error::corruption(column, std::string(err) + " at offset " + std::to_string(offset)));
}

}  // namespace am::enc
