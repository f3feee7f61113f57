// core/encoding/utf8.h: the one UTF-8 helper the core, the storage adapters and amrepo share.
#include "core/encoding/utf8.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace am::enc {
namespace {

TEST(Utf8, ValidatesWellFormedText) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("\xc3\xa9t\xc3\xa9"));              // été
  EXPECT_TRUE(is_valid_utf8("\xe2\x82\xac"));                   // €
  EXPECT_TRUE(is_valid_utf8("\xf0\x9f\x98\x80"));               // U+1F600
  EXPECT_TRUE(is_valid_utf8("\xf4\x8f\xbf\xbf"));               // U+10FFFF
  EXPECT_TRUE(is_valid_utf8(std::string("a\0b", 3)));           // NUL is a code point
}

TEST(Utf8, RejectsMalformedText) {
  EXPECT_FALSE(is_valid_utf8("\x80"));                  // continuation byte as lead
  EXPECT_FALSE(is_valid_utf8("\xc3"));                  // truncated
  EXPECT_FALSE(is_valid_utf8("\xc3\x28"));              // bad continuation
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));              // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xe0\x80\xaf"));          // overlong, 3 bytes
  EXPECT_FALSE(is_valid_utf8("\xf0\x80\x80\xaf"));      // overlong, 4 bytes
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));          // surrogate U+D800
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));      // past U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xf8\x88\x80\x80\x80"));  // 5-byte form
}

// ASCII is checked eight bytes at a time: a fault at any offset of a long ASCII run, and a valid
// sequence straddling a word, must be seen as with one byte at a time.
TEST(Utf8, LongAsciiRunsAreCheckedAtEveryOffset) {
  for (std::size_t k = 0; k + 2 <= 40; ++k) {
    std::string s(40, 'x');
    s[k] = '\x80';
    EXPECT_FALSE(is_valid_utf8(s)) << "stray continuation byte at " << k;
    s[k] = '\xc3';
    s[k + 1] = '\xa9';
    EXPECT_TRUE(is_valid_utf8(s)) << "e-acute at " << k;
    s[k + 1] = 'x';
    EXPECT_FALSE(is_valid_utf8(s)) << "truncated sequence at " << k;
  }
  EXPECT_FALSE(is_valid_utf8(std::string(39, 'x') + "\xe2\x82"));  // truncated at the very end
  EXPECT_TRUE(is_valid_utf8(std::string(64, 'x') + "\xe2\x82\xac" + std::string(13, 'y')));
}

// One byte is answered inline: valid exactly when ASCII, as the general check says.
TEST(Utf8, OneByteAgreesWithTheGeneralCheck) {
  for (int b = 0; b < 256; ++b) {
    const std::string s(1, static_cast<char>(b));
    EXPECT_EQ(is_valid_utf8(s), is_valid_utf8_any(s)) << "byte " << b;
    EXPECT_EQ(is_valid_utf8(s), b < 0x80) << "byte " << b;
  }
}

TEST(Utf8, SequenceLengthsAndUtf16Units) {
  EXPECT_EQ(utf8_sequence_length('a'), 1u);
  EXPECT_EQ(utf8_sequence_length('\xc3'), 2u);
  EXPECT_EQ(utf8_sequence_length('\xe2'), 3u);
  EXPECT_EQ(utf8_sequence_length('\xf0'), 4u);
  EXPECT_EQ(utf16_units(3), 1u);
  EXPECT_EQ(utf16_units(4), 2u);
}

TEST(Utf8, ConvertsToAndFromUtf16) {
  const std::string s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
  const std::u16string u = utf8_to_utf16(s);
  EXPECT_EQ(u, (std::u16string{u'a', u'\u00e9', u'\u20ac', char16_t{0xd83d}, char16_t{0xde00}}));
  EXPECT_EQ(utf16_to_utf8(u), s);
  // A prefix in UTF-16 units, as amrepo's text diff takes them.
  EXPECT_EQ(utf16_to_utf8(std::u16string_view(u).substr(0, 3)), "a\xc3\xa9\xe2\x82\xac");
}

RC_GTEST_PROP(Utf8, Utf16RoundTripOfValidText, (const std::vector<std::uint32_t>& code_points)) {
  std::u16string u;
  for (std::uint32_t cp : code_points) {
    cp %= 0x110000;
    if (cp >= 0xd800 && cp <= 0xdfff) cp -= 0x800;  // surrogates are no code points
    if (cp >= 0x10000) {
      u.push_back(static_cast<char16_t>(0xd800 + ((cp - 0x10000) >> 10)));
      u.push_back(static_cast<char16_t>(0xdc00 + ((cp - 0x10000) & 0x3ff)));
    } else {
      u.push_back(static_cast<char16_t>(cp));
    }
  }
  const std::string s = utf16_to_utf8(u);
  RC_ASSERT(is_valid_utf8(s));
  RC_ASSERT(utf8_to_utf16(s) == u);
}

}  // namespace
}  // namespace am::enc
