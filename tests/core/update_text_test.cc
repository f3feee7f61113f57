// update_text (the reference's updateText) and the pieces under it: the grapheme segmenter against
// Intl.Segmenter, the Myers diff against a brute-force LCS, and whole changes against the golden
// vectors update_text_* of tools/jsref/vectors/update_text.mjs (byte-identical ops).
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "am/document.h"
#include "core/text/grapheme.h"
#include "core/text/myers.h"
#include "support/hex.h"
#include "support/vectors.h"

namespace am {
namespace {

using nlohmann::json;

ObjId text_at_root(Document& d) {
  const auto v = d.get(ObjId::root(), "text");
  if (!v || !*v || !std::holds_alternative<ObjectRef>(**v)) return ObjId::root();
  return std::get<ObjectRef>(**v).id;
}

// Replays a vector: change 1 is applied as is (it only creates the text), then every step is an
// update_text by the same actor at time 0, committed only if it made ops (as JS does).
void replay_vector(const std::string& name) {
  SCOPED_TRACE(name);
  const json v = test::load_vector(name);
  ASSERT_TRUE(v.is_object());
  const json& changes = v["changes"];
  ASSERT_GE(changes.size(), 2u);
  Document d;
  d.set_actor(*ActorId::from_hex(std::string(32, 'a')));
  const ObjId root = ObjId::root();
  ASSERT_TRUE(d.put_object(root, "text", ObjType::kText));
  CommitOptions at_zero;
  at_zero.time = 0;
  std::vector<std::string> made{d.commit(at_zero).to_hex()};
  const ObjId text = text_at_root(d);
  ASSERT_NE(text, root);
  for (const json& step : v["extra"]["steps"]) {
    const std::string before = step[0];
    const std::string after = step[1];
    ASSERT_EQ(d.text(text).value(), before);
    const Status s = d.update_text(text, after);
    ASSERT_TRUE(s) << s.error().message;
    ASSERT_EQ(d.text(text).value(), after);
    if (const auto h = d.commit_if_pending(at_zero)) {
      const std::size_t i = made.size();
      made.push_back(h->to_hex());
      ASSERT_LT(i, changes.size());
      // Same hash means same bytes; comparing the bytes too shows where they differ if not.
      EXPECT_EQ(to_hex(*d.get_last_local_change()), changes[i]["hex"].get<std::string>())
          << "step " << json(step).dump();
    }
  }
  std::vector<std::string> want;
  for (const json& c : changes) want.push_back(c["hash"]);
  EXPECT_EQ(made, want);
  EXPECT_EQ(to_hex(d.save_no_compress()), v["save_nocompress_hex"].get<std::string>());
}

TEST(UpdateTextVectors, PlainEditsMakeTheReferencesChanges) { replay_vector("update_text_edits"); }
TEST(UpdateTextVectors, EmojiCombiningMarksCrlfAndConjunctsMakeTheReferencesChanges) {
  replay_vector("update_text_unicode");
}
TEST(UpdateTextVectors, SeededRandomEditsMakeTheReferencesChanges) { replay_vector("update_text_random"); }

TEST(GraphemeVectors, ClustersMatchIntlSegmenter) {
  const json v = test::load_vector("grapheme_segments");
  ASSERT_TRUE(v.is_object());
  // The tables and Node's ICU should be the same Unicode version; a newer Node may change this.
  EXPECT_EQ(std::string(core::grapheme_unicode_version()), v["extra"]["unicode"].get<std::string>() + ".0");
  const json& cases = v["extra"]["cases"];
  ASSERT_GT(cases.size(), 200u);
  for (const json& c : cases) {
    const std::string text = c["text"];
    std::vector<std::string> got;
    for (const std::string_view g : core::grapheme_clusters(text)) got.emplace_back(g);
    EXPECT_EQ(got, c["clusters"].get<std::vector<std::string>>()) << "text " << json(text).dump();
  }
}

TEST(Grapheme, ConcatenatedClustersGiveTheTextBack) {
  const std::string text = "a\r\n👨‍👩‍👧 é 🇫🇷🇩🇪 क्ष";
  const auto g = core::grapheme_clusters(text);
  std::string joined;
  for (const auto s : g) joined += s;
  EXPECT_EQ(joined, text);
  EXPECT_EQ(g.size(), 10u);  // a, CRLF, family, space, e+acute, space, FR, DE, space, ksha
  EXPECT_TRUE(core::grapheme_clusters("").empty());
}

// Collects an edit script and applies it to rebuild the new sequence.
class Rebuild final : public core::DiffSink {
 public:
  Rebuild(const std::vector<std::string_view>& o, const std::vector<std::string_view>& n) : old_(o), new_(n) {}
  Status equal(std::size_t oi, std::size_t ni, std::size_t len) override {
    check(oi, ni);
    for (std::size_t i = 0; i < len; ++i) {
      EXPECT_EQ(old_[oi + i], new_[ni + i]);
      out.push_back(old_[oi + i]);
    }
    old_pos_ += len;
    new_pos_ += len;
    return {};
  }
  Status remove(std::size_t oi, std::size_t len, std::size_t ni) override {
    check(oi, ni);
    old_pos_ += len;
    edits += len;
    return {};
  }
  Status insert(std::size_t oi, std::size_t ni, std::size_t len) override {
    check(oi, ni);
    for (std::size_t i = 0; i < len; ++i) out.push_back(new_[ni + i]);
    new_pos_ += len;
    edits += len;
    return {};
  }
  std::vector<std::string_view> out;
  std::size_t edits = 0;

 private:
  void check(std::size_t oi, std::size_t ni) {  // callbacks come left to right without gaps
    EXPECT_EQ(oi, old_pos_);
    EXPECT_EQ(ni, new_pos_);
  }
  const std::vector<std::string_view>& old_;
  const std::vector<std::string_view>& new_;
  std::size_t old_pos_ = 0;
  std::size_t new_pos_ = 0;
};

std::size_t lcs(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b) {
  std::vector<std::vector<std::size_t>> t(a.size() + 1, std::vector<std::size_t>(b.size() + 1, 0));
  for (std::size_t i = 1; i <= a.size(); ++i)
    for (std::size_t j = 1; j <= b.size(); ++j)
      t[i][j] = a[i - 1] == b[j - 1] ? t[i - 1][j - 1] + 1 : std::max(t[i - 1][j], t[i][j - 1]);
  return t[a.size()][b.size()];
}

TEST(UpdateTextMyers, ScriptsRebuildTheNewSequenceWithTheFewestEdits) {
  const std::uint32_t seed = 0x5eed0023;
  std::printf("UpdateTextMyers seed %u\n", seed);
  std::mt19937 rng(seed);
  static const std::string_view kAlphabet[] = {"a", "b", "c", "d"};
  for (int round = 0; round < 400; ++round) {
    std::vector<std::string_view> o(rng() % 14);
    std::vector<std::string_view> n(rng() % 14);
    const std::size_t k = 1 + rng() % 4;  // small alphabets give many ties
    for (auto& s : o) s = kAlphabet[rng() % k];
    for (auto& s : n) s = kAlphabet[rng() % k];
    Rebuild r(o, n);
    ASSERT_TRUE(core::myers_diff(o, n, r));
    EXPECT_EQ(r.out, n) << "seed " << seed << " round " << round;
    EXPECT_EQ(r.edits, o.size() + n.size() - 2 * lcs(o, n)) << "seed " << seed << " round " << round;
  }
}

TEST(UpdateText, OneCharEditOfALongTextIsOneOpAndFast) {
  Document d;
  const ObjId t = d.put_object(ObjId::root(), "t", ObjType::kText).value();
  std::string big;
  for (int i = 0; i < 100000; ++i) big.push_back(static_cast<char>('a' + (i * 7) % 26));
  ASSERT_TRUE(d.splice_text(t, 0, 0, big));
  d.commit();
  std::string edited = big;
  edited[50000] = 'Z';
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(d.update_text(t, edited));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(d.pending_ops(), 2u);  // one delete, one insert
  EXPECT_EQ(d.text(t).value(), edited);
  EXPECT_LT(secs, 2.0);  // linear in practice (milliseconds); quadratic would take far longer
  ASSERT_TRUE(d.update_text(t, edited));
  EXPECT_EQ(d.pending_ops(), 2u);  // unchanged text: nothing more
}

TEST(UpdateText, CountsInTheDocumentsTextUnit) {
  DocumentOptions opts;
  opts.text_unit = TextUnit::kCodePoint;
  Document d(opts);
  const ObjId t = d.put_object(ObjId::root(), "t", ObjType::kText).value();
  ASSERT_TRUE(d.splice_text(t, 0, 0, "😀 x 👍🏽 y"));
  ASSERT_TRUE(d.update_text(t, "😀 X 👍🏽 y!"));
  EXPECT_EQ(d.text(t).value(), "😀 X 👍🏽 y!");
  EXPECT_EQ(d.length(t).value(), 9u);  // code points
}

TEST(UpdateText, RefusesNonTextAndInvalidUtf8WithoutChangingAnything) {
  Document d;
  const ObjId t = d.put_object(ObjId::root(), "t", ObjType::kText).value();
  const ObjId m = d.put_object(ObjId::root(), "m", ObjType::kMap).value();
  ASSERT_TRUE(d.splice_text(t, 0, 0, "abc"));
  const std::size_t ops = d.pending_ops();
  const Status not_text = d.update_text(m, "x");
  ASSERT_FALSE(not_text);
  EXPECT_EQ(not_text.error().code, ErrorCode::kInvalidArgument);
  const Status bad = d.update_text(t, std::string("a\xff", 2));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(d.pending_ops(), ops);
  EXPECT_EQ(d.text(t).value(), "abc");
}

}  // namespace
}  // namespace am
