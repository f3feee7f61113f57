// Extended grapheme cluster boundaries: the rules of UAX #29 (GB3-GB13, GB999) applied left to right,
// with the little state GB9c, GB11 and GB12/13 need carried along instead of looking back.
#include "core/text/grapheme.h"

#include <algorithm>
#include <cstdint>

namespace am::core {
namespace {

struct GraphemeRow {
  std::uint32_t first;
  std::uint8_t props;
};

#include "core/text/grapheme_tables.inc"

// Grapheme_Cluster_Break values, in the generator's order (bits 0-3 of props).
enum class GraphemeBreak : std::uint8_t {
  kOther, kCR, kLF, kControl, kExtend, kZwj, kRegionalIndicator, kPrepend, kSpacingMark,
  kL, kV, kT, kLV, kLVT,
};
// Indic_Conjunct_Break values (bits 5-6 of props).
enum class Incb : std::uint8_t { kNone, kConsonant, kLinker, kExtend };

struct CodePointProps {
  GraphemeBreak gcb;
  bool ext_pict;
  Incb incb;
};

CodePointProps props_of(std::uint32_t cp) {
  // The last row starting at or before cp; row 0 starts at U+0000.
  const auto* end = std::end(kGraphemeRows);
  const auto* it = std::upper_bound(std::begin(kGraphemeRows), end, cp,
                                    [](std::uint32_t c, const GraphemeRow& r) { return c < r.first; });
  const std::uint8_t p = (it - 1)->props;
  return {static_cast<GraphemeBreak>(p & 0x0F), (p & 0x10) != 0, static_cast<Incb>((p >> 5) & 0x03)};
}

// Decodes the code point at s[i] (valid UTF-8) and advances i past it.
std::uint32_t next_code_point(std::string_view s, std::size_t& i) {
  const auto b = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(s[k])); };
  const std::uint32_t c = b(i);
  if (c < 0x80) { i += 1; return c; }
  if ((c >> 5) == 0x6) { const std::uint32_t r = ((c & 0x1F) << 6) | (b(i + 1) & 0x3F); i += 2; return r; }
  if ((c >> 4) == 0xE) {
    const std::uint32_t r = ((c & 0x0F) << 12) | ((b(i + 1) & 0x3F) << 6) | (b(i + 2) & 0x3F);
    i += 3;
    return r;
  }
  const std::uint32_t r = ((c & 0x07) << 18) | ((b(i + 1) & 0x3F) << 12) | ((b(i + 2) & 0x3F) << 6) | (b(i + 3) & 0x3F);
  i += 4;
  return r;
}

bool is_control_like(GraphemeBreak g) {
  return g == GraphemeBreak::kControl || g == GraphemeBreak::kCR || g == GraphemeBreak::kLF;
}

// What the rules need to know about the text before a candidate boundary.
struct Context {
  CodePointProps prev{};
  // GB11: the text before ends in ExtPict Extend* (pict_run) or ExtPict Extend* ZWJ (pict_zwj).
  bool pict_run = false;
  bool pict_zwj = false;
  // GB12/13: regional indicators ending the text before (their count's parity decides).
  std::size_t ri_run = 0;
  // GB9c: the text before ends in InCB=Consonant [Extend Linker]*; incb_linker says one was a Linker.
  bool incb_run = false;
  bool incb_linker = false;
};

// Whether there is a boundary between ctx.prev and `cur` (GB3 onwards; GB1/GB2 are the text's ends).
bool is_boundary(const Context& ctx, const CodePointProps& cur) {
  using G = GraphemeBreak;
  const G a = ctx.prev.gcb;
  const G b = cur.gcb;
  if (a == G::kCR && b == G::kLF) return false;                 // GB3
  if (is_control_like(a) || is_control_like(b)) return true;    // GB4, GB5
  if (a == G::kL && (b == G::kL || b == G::kV || b == G::kLV || b == G::kLVT)) return false;  // GB6
  if ((a == G::kLV || a == G::kV) && (b == G::kV || b == G::kT)) return false;               // GB7
  if ((a == G::kLVT || a == G::kT) && b == G::kT) return false;                              // GB8
  if (b == G::kExtend || b == G::kZwj) return false;            // GB9
  if (b == G::kSpacingMark) return false;                       // GB9a
  if (a == G::kPrepend) return false;                           // GB9b
  if (cur.incb == Incb::kConsonant && ctx.incb_run && ctx.incb_linker) return false;  // GB9c
  if (a == G::kZwj && cur.ext_pict && ctx.pict_zwj) return false;                     // GB11
  if (a == G::kRegionalIndicator && b == G::kRegionalIndicator) return ctx.ri_run % 2 == 0;  // GB12, GB13
  return true;                                                  // GB999
}

// Moves the context past `cur`.
void advance(Context& ctx, const CodePointProps& cur) {
  using G = GraphemeBreak;
  if (cur.ext_pict) {
    ctx.pict_run = true;
    ctx.pict_zwj = false;
  } else if (cur.gcb == G::kExtend) {
    ctx.pict_zwj = false;  // pict_run carries on through Extend
  } else if (cur.gcb == G::kZwj) {
    ctx.pict_zwj = ctx.pict_run;
    ctx.pict_run = false;
  } else {
    ctx.pict_run = ctx.pict_zwj = false;
  }
  ctx.ri_run = cur.gcb == G::kRegionalIndicator ? ctx.ri_run + 1 : 0;
  if (cur.incb == Incb::kConsonant) {
    ctx.incb_run = true;
    ctx.incb_linker = false;
  } else if (ctx.incb_run && cur.incb == Incb::kLinker) {
    ctx.incb_linker = true;
  } else if (!(ctx.incb_run && cur.incb == Incb::kExtend)) {
    ctx.incb_run = ctx.incb_linker = false;
  }
  ctx.prev = cur;
}

}  // namespace

std::string_view grapheme_unicode_version() { return kGraphemeUnicodeVersion; }

std::vector<std::string_view> grapheme_clusters(std::string_view text) {
  std::vector<std::string_view> out;
  Context ctx;
  std::size_t start = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t at = i;
    const CodePointProps cur = props_of(next_code_point(text, i));
    if (at > 0 && is_boundary(ctx, cur)) {
      out.push_back(text.substr(start, at - start));
      start = at;
    }
    advance(ctx, cur);
  }
  if (start < text.size()) out.push_back(text.substr(start));
  return out;
}

}  // namespace am::core
