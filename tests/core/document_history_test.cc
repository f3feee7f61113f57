#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdio>
#include <random>

#include <nlohmann/json.hpp>

#include "am/document.h"

namespace am {
namespace {

using nlohmann::json;

Document doc_with(std::string_view actor_hex) {
  return Document(DocumentOptions{*ActorId::from_hex(actor_hex), TextUnit::kUtf16});
}

TEST(DocumentHistory, ReadsAtOldHeadsSeeTheOldState) {
  Document d = doc_with("aaaa");
  const auto empty_heads = d.heads();
  ASSERT_TRUE(d.put(ObjId::root(), "x", std::int64_t{1}));
  ASSERT_TRUE(d.put(ObjId::root(), "c", Counter{5}));
  const ObjId text = d.put_object(ObjId::root(), "t", ObjType::kText).value();
  ASSERT_TRUE(d.splice_text(text, 0, 0, "hello"));
  d.commit();
  const auto h1 = d.heads();
  const std::string json1 = d.to_json().value();
  ASSERT_TRUE(d.put(ObjId::root(), "x", std::int64_t{2}));
  ASSERT_TRUE(d.increment(ObjId::root(), "c", 3));
  ASSERT_TRUE(d.splice_text(text, 1, 3, "EY"));
  ASSERT_TRUE(d.remove(ObjId::root(), "missing"));
  d.commit();

  EXPECT_EQ(d.to_json_at(ObjId::root(), h1).value(), json1);
  EXPECT_EQ(d.to_json_at(ObjId::root(), empty_heads).value(), "{}");
  EXPECT_EQ(d.get_at(ObjId::root(), "x", h1).value(), std::optional<Value>(ScalarValue{std::int64_t{1}}));
  EXPECT_EQ(d.get_at(ObjId::root(), "c", h1).value(), std::optional<Value>(ScalarValue{Counter{5}}));
  EXPECT_EQ(d.get(ObjId::root(), "c").value(), std::optional<Value>(ScalarValue{Counter{8}}));
  EXPECT_EQ(d.text_at(text, h1).value(), "hello");
  EXPECT_EQ(d.text(text).value(), "hEYo");
  EXPECT_EQ(d.length_at(text, h1).value(), 5u);
  EXPECT_EQ(d.keys_at(ObjId::root(), empty_heads).value().size(), 0u);
  EXPECT_FALSE(d.text_at(text, empty_heads));  // the text did not exist yet
  ChangeHash unknown;
  unknown.bytes[0] = 1;
  EXPECT_FALSE(d.get_at(ObjId::root(), "x", {unknown}));
}

// A list "l" at the root holding 0, 1, ..., n - 1.
ObjId list_of_counts(Document& d, std::int64_t n) {
  const ObjId list = d.put_object(ObjId::root(), "l", ObjType::kList).value();
  std::vector<ScalarValue> items;
  for (std::int64_t i = 0; i < n; ++i) items.emplace_back(i);
  EXPECT_TRUE(d.splice(list, 0, 0, items));
  return list;
}

// A list whose deleted items fill whole leaves of its index: now, JSON skips them from above;
// at older heads it walks every item. Both must show exactly the items alive then, nested
// objects and overwritten items included.
TEST(DocumentHistory, ListJsonSkipsDeletedItemsNowAndShowsThemAtOldHeads) {
  Document d = doc_with("aaaa");
  const ObjId list = list_of_counts(d, 500);
  const ObjId inner = d.insert_object(list, 450, ObjType::kMap).value();
  ASSERT_TRUE(d.put(inner, "k", std::string("v")));
  d.commit();
  const auto all = d.heads();
  const std::string all_json = d.to_json().value();
  ASSERT_TRUE(d.splice(list, 2, 440, {}));  // 0, 1, then 442 ..., the map at index 10
  ASSERT_TRUE(d.put(list, 0, std::int64_t{-1}));
  d.commit();

  std::string want = R"({"l":[-1,1)";
  for (std::int64_t i = 442; i < 450; ++i) want += "," + std::to_string(i);
  want += R"(,{"k":"v"})";
  for (std::int64_t i = 450; i < 500; ++i) want += "," + std::to_string(i);
  want += "]}";
  EXPECT_EQ(d.to_json().value(), want);
  EXPECT_EQ(d.to_json_at(ObjId::root(), all).value(), all_json);
  EXPECT_EQ(d.to_json_at(ObjId::root(), d.heads()).value(), want);
}

// list_range now finds its first item from above; at heads it walks from the front. Over a
// list with deleted runs, overwritten items and a nested object, both give the same items for
// every range (seeded).
TEST(DocumentHistory, ListRangeNowEqualsTheWalkAtTheSameHeads) {
  Document d = doc_with("aaaa");
  const ObjId list = list_of_counts(d, 300);
  ASSERT_TRUE(d.insert_object(list, 150, ObjType::kMap));
  ASSERT_TRUE(d.splice(list, 10, 100, {}));
  ASSERT_TRUE(d.splice(list, 30, 3, {}));
  ASSERT_TRUE(d.put(list, 5, std::string("five")));
  d.commit();
  const std::size_t length = d.length(list).value();
  ASSERT_EQ(length, 198u);
  const unsigned seed = std::random_device{}();
  std::printf("ListRangeNowEqualsTheWalkAtTheSameHeads seed %u\n", seed);
  std::mt19937 rng(seed);
  for (int i = 0; i < 200; ++i) {
    const std::size_t begin = rng() % (length + 5);
    const std::size_t end = i % 10 == 0 ? SIZE_MAX : rng() % (length + 5);
    SCOPED_TRACE("range " + std::to_string(begin) + ".." + std::to_string(end));
    const std::vector<Value> now = d.list_range(list, begin, end).value();
    const std::vector<Value> walked = d.list_range_at(list, begin, end, d.heads()).value();
    ASSERT_EQ(now, walked);
    EXPECT_EQ(now.size(), begin >= std::min(end, length) ? 0 : std::min(end, length) - begin);
  }
  EXPECT_EQ(d.list_range(list, 0, 1).value(), std::vector<Value>{Value(ScalarValue{std::int64_t{0}})});
  EXPECT_EQ(d.list_range(list, 5, 6).value(), std::vector<Value>{Value(ScalarValue{std::string("five")})});
  EXPECT_EQ(d.list_range(list, 10, 11).value(), std::vector<Value>{Value(ScalarValue{std::int64_t{110}})});
}

TEST(DocumentHistory, RangesAndMarksNowAndAtHeads) {
  Document d = doc_with("aaaa");
  for (const char* k : {"a", "b", "c", "d"}) ASSERT_TRUE(d.put(ObjId::root(), k, std::string(k)));
  const ObjId list = d.put_object(ObjId::root(), "l", ObjType::kList).value();
  for (std::int64_t i = 0; i < 5; ++i) ASSERT_TRUE(d.insert(list, static_cast<std::size_t>(i), i));
  const ObjId text = d.put_object(ObjId::root(), "t", ObjType::kText).value();
  ASSERT_TRUE(d.splice_text(text, 0, 0, "hello world"));
  d.commit();
  const auto h1 = d.heads();
  ASSERT_TRUE(d.mark(text, 0, 5, ExpandMark::kAfter, "bold", true));
  ASSERT_TRUE(d.remove(list, std::size_t{0}));
  ASSERT_TRUE(d.remove(ObjId::root(), "b"));
  d.commit();

  const auto range = d.map_range(ObjId::root(), "b", "d").value();
  ASSERT_EQ(range.size(), 1u);  // "b" is gone; "d" is excluded
  EXPECT_EQ(range[0].first, "c");
  EXPECT_EQ(d.map_range_at(ObjId::root(), "b", "d", h1).value().size(), 2u);
  EXPECT_EQ(d.map_range(ObjId::root()).value().size(), 5u);  // a c d l t (b was deleted)
  const auto items = d.list_range(list, 1, 3).value();
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0], Value(ScalarValue{std::int64_t{2}}));
  EXPECT_EQ(d.list_range_at(list, 0, 100, h1).value().size(), 5u);
  const auto marks = d.marks(text).value();
  ASSERT_EQ(marks.size(), 1u);
  EXPECT_EQ(marks[0].end, 5u);
  EXPECT_TRUE(d.marks_at(text, h1).value().empty());
  EXPECT_FALSE(d.map_range(list));
}

TEST(DocumentHistory, ConflictsAtHeads) {
  Document a = doc_with("aaaa");
  ASSERT_TRUE(a.put(ObjId::root(), "k", std::int64_t{0}));
  a.commit();
  Document b = a.fork(*ActorId::from_hex("bbbb"));
  ASSERT_TRUE(a.put(ObjId::root(), "k", std::int64_t{1}));
  ASSERT_TRUE(b.put(ObjId::root(), "k", std::int64_t{2}));
  a.commit();
  b.commit();
  ASSERT_TRUE(a.merge(b));
  const auto merged = a.heads();
  ASSERT_TRUE(a.put(ObjId::root(), "k", std::int64_t{3}));
  a.commit();
  EXPECT_EQ(a.get_all_at(ObjId::root(), "k", merged).value().size(), 2u);
  EXPECT_EQ(a.get_all(ObjId::root(), "k").value().size(), 1u);
}

// Applies patches to a JSON value, as a UI following the document would.
std::u16string utf16(const std::string& s) {
  std::u16string out;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::uint32_t cp;
    std::size_t len;
    if (c < 0x80) { cp = c; len = 1; }
    else if ((c >> 5) == 6) { cp = c & 0x1fu; len = 2; }
    else if ((c >> 4) == 14) { cp = c & 0x0fu; len = 3; }
    else { cp = c & 0x07u; len = 4; }
    for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3fu);
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xd800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xdc00 + (cp & 0x3ff)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
    i += len;
  }
  return out;
}
std::string utf8(const std::u16string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    std::uint32_t cp = s[i];
    if (cp >= 0xd800 && cp < 0xdc00 && i + 1 < s.size()) cp = 0x10000 + ((cp - 0xd800) << 10) + (s[++i] - 0xdc00);
    if (cp < 0x80) out.push_back(static_cast<char>(cp));
    else if (cp < 0x800) { out.push_back(static_cast<char>(0xc0 | (cp >> 6))); out.push_back(static_cast<char>(0x80 | (cp & 0x3f))); }
    else if (cp < 0x10000) { out.push_back(static_cast<char>(0xe0 | (cp >> 12))); out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f))); out.push_back(static_cast<char>(0x80 | (cp & 0x3f))); }
    else { out.push_back(static_cast<char>(0xf0 | (cp >> 18))); out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f))); out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f))); out.push_back(static_cast<char>(0x80 | (cp & 0x3f))); }
  }
  return out;
}

json value_json(const Value& v) {
  if (const auto* ref = std::get_if<ObjectRef>(&v)) {
    switch (ref->type) {
      case ObjType::kList: return json::array();
      case ObjType::kText: return "";
      default: return json::object();
    }
  }
  Document tmp;
  (void)tmp.put(ObjId::root(), "v", std::get<ScalarValue>(v));
  return json::parse(tmp.to_json().value())["v"];
}

void apply_patch(json& root, const Patch& p) {
  json* parent = &root;
  for (std::size_t i = 0; i + 1 < p.path.size(); ++i) {
    const Prop& step = p.path[i];
    if (const auto* key = std::get_if<std::string>(&step)) {
      parent = &(*parent)[*key];
    } else {
      parent = &(*parent)[std::get<std::size_t>(step)];
    }
  }
  const Prop& last = p.path.back();
  switch (p.kind) {
    case Patch::Kind::kPut:
      if (const auto* key = std::get_if<std::string>(&last)) (*parent)[*key] = value_json(p.value);
      else (*parent)[std::get<std::size_t>(last)] = value_json(p.value);
      break;
    case Patch::Kind::kInsert: {
      auto at = parent->begin() + static_cast<std::ptrdiff_t>(std::get<std::size_t>(last));
      for (const Value& v : p.values) at = parent->insert(at, value_json(v)) + 1;
      break;
    }
    case Patch::Kind::kDelete:
      if (const auto* key = std::get_if<std::string>(&last)) {
        parent->erase(*key);
      } else if (parent->is_string()) {
        std::u16string s = utf16(parent->get<std::string>());
        s.erase(std::get<std::size_t>(last), p.length);
        *parent = utf8(s);
      } else {
        const auto at = static_cast<std::ptrdiff_t>(std::get<std::size_t>(last));
        parent->erase(parent->begin() + at, parent->begin() + at + static_cast<std::ptrdiff_t>(p.length));
      }
      break;
    case Patch::Kind::kSpliceText: {
      std::u16string s = utf16(parent->get<std::string>());
      s.insert(std::get<std::size_t>(last), utf16(p.text));
      *parent = utf8(s);
      break;
    }
    case Patch::Kind::kIncrement: {
      json& target = std::holds_alternative<std::string>(last) ? (*parent)[std::get<std::string>(last)]
                                                               : (*parent)[std::get<std::size_t>(last)];
      target = target.get<std::int64_t>() + p.increment;
      break;
    }
    case Patch::Kind::kMark:
    case Patch::Kind::kConflict:
      break;  // neither marks nor conflict flags show in the JSON
  }
}

RC_GTEST_PROP(DocumentHistoryProperty, PatchesTurnTheOldJsonIntoTheNewJson, ()) {
  const auto seed = *rc::gen::arbitrary<std::uint32_t>();
  RC_TAG(seed);
  std::mt19937 rng(seed);
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  Document a = doc_with("aaaa");
  Document b = doc_with("bbbb");
  const ObjId list = a.put_object(ObjId::root(), "list", ObjType::kList).value();
  const ObjId text = a.put_object(ObjId::root(), "text", ObjType::kText).value();
  RC_ASSERT(a.put(ObjId::root(), "n", Counter{0}));
  a.commit();
  RC_ASSERT(b.merge(a));
  std::vector<std::vector<ChangeHash>> snapshots{{}, a.heads()};
  static const std::vector<std::string> kKeys{"p", "q", "r"};
  for (int round = 0; round < 8; ++round) {
    for (Document* d : {&a, &b}) {
      for (std::size_t e = pick(5); e > 0; --e) {
        const std::size_t len = d->length(list).value();
        const std::size_t tlen = d->length(text).value();
        switch (pick(8)) {
          case 0: RC_ASSERT(d->put(ObjId::root(), kKeys[pick(3)], std::int64_t(pick(9)))); break;
          case 1: RC_ASSERT(d->remove(ObjId::root(), kKeys[pick(3)])); break;
          case 2: RC_ASSERT(d->insert(list, pick(len + 1), std::int64_t(pick(9)))); break;
          case 3: if (len) RC_ASSERT(d->remove(list, pick(len))); break;
          case 4: if (len) RC_ASSERT(d->put(list, pick(len), std::string("v"))); break;
          case 5: RC_ASSERT(d->increment(ObjId::root(), "n", std::int64_t(pick(5)) + 1)); break;
          case 6: {
            auto m = d->put_object(ObjId::root(), kKeys[pick(3)], ObjType::kMap);
            RC_ASSERT(m.has_value());
            RC_ASSERT(d->put(*m, "inner", true));
            break;
          }
          default:
            (void)d->splice_text(text, pick(tlen + 1), pick(3), pick(2) ? "ab" : "\xf0\x9f\x98\x80");
        }
      }
      d->commit_if_pending();
    }
    if (pick(2)) RC_ASSERT(a.merge(b));
    if (pick(2)) RC_ASSERT(b.merge(a));
    snapshots.push_back(a.heads());
  }
  RC_ASSERT(a.merge(b));
  snapshots.push_back(a.heads());
  // Every pair of states, forwards and backwards.
  for (int trial = 0; trial < 6; ++trial) {
    const auto& from = snapshots[pick(snapshots.size())];
    const auto& to = snapshots[pick(snapshots.size())];
    json state = json::parse(a.to_json_at(ObjId::root(), from).value());
    const auto patches = a.diff(from, to);
    RC_ASSERT(patches.has_value());
    for (const Patch& p : *patches) apply_patch(state, p);
    RC_ASSERT(state == json::parse(a.to_json_at(ObjId::root(), to).value()));
  }
}

TEST(DocumentHistory, DiffReportsEachKindOfPatch) {
  Document d = doc_with("aaaa");
  ASSERT_TRUE(d.put(ObjId::root(), "c", Counter{1}));
  const ObjId text = d.put_object(ObjId::root(), "t", ObjType::kText).value();
  ASSERT_TRUE(d.splice_text(text, 0, 0, "abc"));
  d.commit();
  const auto h1 = d.heads();
  ASSERT_TRUE(d.increment(ObjId::root(), "c", 4));
  ASSERT_TRUE(d.splice_text(text, 1, 1, "XY"));
  ASSERT_TRUE(d.put(ObjId::root(), "k", true));
  d.commit();
  const auto patches = d.diff(h1, d.heads()).value();
  ASSERT_EQ(patches.size(), 4u);
  EXPECT_EQ(patches[0].kind, Patch::Kind::kIncrement);
  EXPECT_EQ(patches[0].increment, 4);
  EXPECT_EQ(patches[1].kind, Patch::Kind::kPut);  // "k"
  // New elements sit right after "a", before the deleted "b": splice first, then delete.
  EXPECT_EQ(patches[2].kind, Patch::Kind::kSpliceText);
  EXPECT_EQ(patches[2].path.back(), Prop(std::size_t{1}));
  EXPECT_EQ(patches[2].text, "XY");
  EXPECT_EQ(patches[3].kind, Patch::Kind::kDelete);
  EXPECT_EQ(patches[3].path.back(), Prop(std::size_t{3}));
  EXPECT_EQ(patches[3].length, 1u);
}

}  // namespace
}  // namespace am
