// See myers.h. The structure follows the reference's text_diff/myers.rs step for step, because
// update_text must emit the same splices: where several shortest edit scripts exist, which one comes out
// depends on the exact order of the search (forward before backward, k from +d down to -d, the overlap
// tests and the split point returned). Written anew here; comments say what each step decides.
#include "core/text/myers.h"

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <utility>
#include <vector>

namespace am::core {
namespace {

using Seq = std::span<const std::string_view>;

// Half-open index range [begin, end) into a sequence.
struct Range {
  std::size_t begin;
  std::size_t end;
  std::size_t size() const { return end - begin; }
  bool empty() const { return begin >= end; }
};

std::size_t prefix_len(Seq a, Range ar, Seq b, Range br) {
  std::size_t n = 0;
  while (ar.begin + n < ar.end && br.begin + n < br.end && a[ar.begin + n] == b[br.begin + n]) ++n;
  return n;
}

std::size_t suffix_len(Seq a, Range ar, Seq b, Range br) {
  std::size_t n = 0;
  while (n < ar.size() && n < br.size() && a[ar.end - 1 - n] == b[br.end - 1 - n]) ++n;
  return n;
}

// ceil((n + m) / 2) + 1: enough rounds of the search, and the size of the V arrays (doubled).
std::size_t max_d(std::size_t n, std::size_t m) { return (n + m + 1) / 2 + 1; }

// Furthest-reaching x per diagonal k, for k in [-offset, offset). Entries are reused across calls:
// every entry a round reads was written earlier in the same call, so no clearing is needed.
class Frontier {
 public:
  explicit Frontier(std::size_t d) : offset_(static_cast<std::int64_t>(d)), v_(2 * d, 0) {}
  std::int64_t& operator[](std::int64_t k) { return v_[static_cast<std::size_t>(k + offset_)]; }

 private:
  std::int64_t offset_;
  std::vector<std::int64_t> v_;
};

// The start (in absolute indexes) of the middle snake of an optimal path through old[or_] x new[nr],
// searching forward from the top-left and backward from the bottom-right at the same time. The reference
// tracks the backward search in the same x/k frame as the forward one (x counted from the end).
std::optional<std::pair<std::size_t, std::size_t>> middle_snake(Seq old_seq, Range orng, Seq new_seq, Range nrng,
                                                                Frontier& vf, Frontier& vb) {
  const auto n = static_cast<std::int64_t>(orng.size());
  const auto m = static_cast<std::int64_t>(nrng.size());
  const std::int64_t delta = n - m;
  const bool odd = (delta & 1) != 0;
  vf[1] = 0;
  vb[1] = 0;
  const auto rounds = static_cast<std::int64_t>(max_d(orng.size(), nrng.size()));
  for (std::int64_t d = 0; d < rounds; ++d) {
    for (std::int64_t k = d; k >= -d; k -= 2) {  // forward
      std::int64_t x = (k == -d || (k != d && vf[k - 1] < vf[k + 1])) ? vf[k + 1] : vf[k - 1] + 1;
      const std::int64_t y = x - k;
      const std::int64_t x0 = x;
      const std::int64_t y0 = y;
      if (y >= 0 && x < n && y < m) {
        x += static_cast<std::int64_t>(prefix_len(old_seq, {orng.begin + static_cast<std::size_t>(x), orng.end},
                                                  new_seq, {nrng.begin + static_cast<std::size_t>(y), nrng.end}));
      }
      vf[k] = x;
      if (odd && std::abs(k - delta) <= d - 1 && vf[k] + vb[-(k - delta)] >= n) {
        return std::pair{static_cast<std::size_t>(x0) + orng.begin, static_cast<std::size_t>(y0) + nrng.begin};
      }
    }
    for (std::int64_t k = d; k >= -d; k -= 2) {  // backward
      std::int64_t x = (k == -d || (k != d && vb[k - 1] < vb[k + 1])) ? vb[k + 1] : vb[k - 1] + 1;
      std::int64_t y = x - k;
      if (y >= 0 && x < n && y < m) {
        const std::size_t adv =
            suffix_len(old_seq, {orng.begin, orng.begin + static_cast<std::size_t>(n - x)}, new_seq,
                       {nrng.begin, nrng.begin + static_cast<std::size_t>(m - y)});
        x += static_cast<std::int64_t>(adv);
        y += static_cast<std::int64_t>(adv);
      }
      vb[k] = x;
      if (!odd && std::abs(k - delta) <= d && vb[k] + vf[-(k - delta)] >= n) {
        return std::pair{static_cast<std::size_t>(n - x) + orng.begin, static_cast<std::size_t>(m - y) + nrng.begin};
      }
    }
  }
  return std::nullopt;  // not reached for finite inputs; the caller then deletes and inserts wholesale
}

struct Differ {
  Seq old_seq;
  Seq new_seq;
  DiffSink& sink;
  Frontier vf;
  Frontier vb;

  // Trims the common prefix and suffix, then either finishes (one side empty) or splits at the middle
  // snake and recurses on both halves. Callbacks go out in left-to-right order.
  Status conquer(Range orng, Range nrng) {
    const std::size_t pre = prefix_len(old_seq, orng, new_seq, nrng);
    if (pre > 0) AM_TRY_STATUS(sink.equal(orng.begin, nrng.begin, pre));
    orng.begin += pre;
    nrng.begin += pre;
    const std::size_t suf = suffix_len(old_seq, orng, new_seq, nrng);
    const std::size_t suf_old = orng.end - suf;
    const std::size_t suf_new = nrng.end - suf;
    orng.end -= suf;
    nrng.end -= suf;
    if (orng.empty() && nrng.empty()) {
      // nothing between prefix and suffix
    } else if (nrng.empty()) {
      AM_TRY_STATUS(sink.remove(orng.begin, orng.size(), nrng.begin));
    } else if (orng.empty()) {
      AM_TRY_STATUS(sink.insert(orng.begin, nrng.begin, nrng.size()));
    } else if (auto split = middle_snake(old_seq, orng, new_seq, nrng, vf, vb)) {
      AM_TRY_STATUS(conquer({orng.begin, split->first}, {nrng.begin, split->second}));
      AM_TRY_STATUS(conquer({split->first, orng.end}, {split->second, nrng.end}));
    } else {
      AM_TRY_STATUS(sink.remove(orng.begin, orng.size(), nrng.begin));
      AM_TRY_STATUS(sink.insert(orng.begin, nrng.begin, nrng.size()));
    }
    if (suf > 0) AM_TRY_STATUS(sink.equal(suf_old, suf_new, suf));
    return {};
  }
};

}  // namespace

Status myers_diff(Seq old_seq, Seq new_seq, DiffSink& sink) {
  const std::size_t d = max_d(old_seq.size(), new_seq.size());
  Differ differ{old_seq, new_seq, sink, Frontier(d), Frontier(d)};
  return differ.conquer({0, old_seq.size()}, {0, new_seq.size()});
}

}  // namespace am::core
