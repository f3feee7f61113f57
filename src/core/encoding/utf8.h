// UTF-8: validation, sequence lengths and conversion to and from UTF-16, the one home for them
// (the core's string decoding and text widths, the storage key rules, the file storage's JS
// layout, amrepo's text diffs).
//
// Internal to the project (am_core exports the symbols; the header is not installed).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace am::enc {

/// What a text shows for an element that is not a string (an object, a number, a block marker
/// inside text): U+FFFC OBJECT REPLACEMENT CHARACTER, one element wide. The reference's quirk,
/// followed byte for byte: JS `Automerge.text()` and its splice patches show these elements so.
inline constexpr std::string_view kObjectReplacementUtf8 = "\xef\xbf\xbc";

/// is_valid_utf8 for any length.
bool is_valid_utf8_any(std::string_view s) noexcept;

/// True if `s` is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
/// One byte (a character of typed text, loaded once per op) is answered inline: it is valid
/// exactly when it is ASCII.
inline bool is_valid_utf8(std::string_view s) noexcept {
  if (s.size() == 1) return static_cast<unsigned char>(s[0]) < 0x80;
  return is_valid_utf8_any(s);
}

/// The byte length of the UTF-8 sequence that starts with `lead`: 1 for ASCII, else 2, 3 or 4 by
/// the lead byte's high bits (4 for any other byte). Meaningful for valid UTF-8 only.
inline std::size_t utf8_sequence_length(char lead) noexcept {
  const auto c = static_cast<unsigned char>(lead);
  return c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
}

/// The number of UTF-16 code units of the UTF-8 sequence of length `len` (2 above U+FFFF).
inline std::size_t utf16_units(std::size_t len) noexcept { return len == 4 ? 2 : 1; }

/// `s` (valid UTF-8) as UTF-16. Malformed input gives some output, never a read out of bounds.
std::u16string utf8_to_utf16(std::string_view s);

/// `s` as UTF-8; a high surrogate takes the unit after it as its pair, whatever it is.
std::string utf16_to_utf8(std::u16string_view s);

}  // namespace am::enc
