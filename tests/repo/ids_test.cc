#include "am/repo/ids.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/hex.h"
#include "support/vectors.h"

namespace am::repo {
namespace {

using nlohmann::json;
using test::hex;

ChangeHash head_from_hex(const std::string& h) {
  auto parsed = ChangeHash::from_hex(h);
  EXPECT_TRUE(parsed.has_value()) << h;
  return parsed.value_or(ChangeHash{});
}

DocumentId id_from_hex(const std::string& h) {
  auto id = DocumentId::from_bytes(hex(h));
  EXPECT_TRUE(id) << h;
  return id.value_or(DocumentId{});
}

// ---- golden vectors (tools/jsref/gen-vectors.mjs, bs58check 3.0.1) ------------------------------

json repo_ids() {
  const json v = test::load_vector("repo_ids");
  EXPECT_TRUE(v.is_object()) << "repo_ids.json missing";
  return v;
}

TEST(IdsVectors, DocumentIdsMatchBs58check) {
  const json v = repo_ids();
  ASSERT_TRUE(v.contains("document_ids"));
  ASSERT_GE(v["document_ids"].size(), 20u);
  for (const json& e : v["document_ids"]) {
    const std::string text = e["bs58check"];
    SCOPED_TRACE(text);
    const DocumentId id = id_from_hex(e["hex"]);
    EXPECT_EQ(id.to_string(), text);
    EXPECT_EQ(bs58check_encode(hex(e["hex"].get<std::string>())), text);
    const auto parsed = DocumentId::parse(text);
    ASSERT_TRUE(parsed) << parsed.error().to_string();
    EXPECT_EQ(*parsed, id);
    EXPECT_EQ(id.to_uuid_string(), e["uuid"].get<std::string>());

    const auto url = AutomergeUrl::parse(e["url"].get<std::string>());
    ASSERT_TRUE(url) << url.error().to_string();
    EXPECT_EQ(url->document_id, id);
    EXPECT_FALSE(url->heads.has_value());
    EXPECT_EQ(url->to_string(), e["url"].get<std::string>());

    for (const std::string form : {e["bs58check"], e["url"]}) {
      const auto loose = parse_document_id_loose(form);
      ASSERT_TRUE(loose) << form << ": " << loose.error().to_string();
      EXPECT_EQ(*loose, id);
    }
    // The UUID text only when the reference's uuid 9.0.1 validate() takes it (version 1-5,
    // variant 8-b, or nil): some vectors are edge-case bytes, not UUIDs.
    const int version = id.bytes()[6] >> 4;
    const int variant = id.bytes()[8] >> 4;
    const bool valid_uuid = id == DocumentId() || (version >= 1 && version <= 5 && variant >= 8 && variant <= 0xb);
    const auto loose = parse_document_id_loose(e["uuid"].get<std::string>());
    EXPECT_EQ(loose.has_value(), valid_uuid) << e["uuid"].get<std::string>();
    if (loose) {
      EXPECT_EQ(*loose, id);
    }
  }
}

TEST(IdsVectors, HeadsMatchBs58check) {
  const json v = repo_ids();
  ASSERT_TRUE(v.contains("heads"));
  ASSERT_FALSE(v["heads"].empty());
  for (const json& e : v["heads"]) {
    const ChangeHash h = head_from_hex(e["hex"]);
    EXPECT_EQ(encode_head(h), e["bs58check"].get<std::string>());
    const auto parsed = parse_head(e["bs58check"].get<std::string>());
    ASSERT_TRUE(parsed) << parsed.error().to_string();
    EXPECT_EQ(*parsed, h);
  }
}

TEST(IdsVectors, UrlsWithHeads) {
  const json v = repo_ids();
  ASSERT_TRUE(v.contains("urls_with_heads"));
  ASSERT_FALSE(v["urls_with_heads"].empty());
  for (const json& e : v["urls_with_heads"]) {
    const std::string text = e["url"];
    SCOPED_TRACE(text);
    const auto url = AutomergeUrl::parse(text);
    ASSERT_TRUE(url) << url.error().to_string();
    EXPECT_EQ(url->document_id.to_string(), e["document_id"].get<std::string>());
    ASSERT_TRUE(url->heads.has_value());
    ASSERT_EQ(url->heads->size(), e["heads"].size());
    for (std::size_t i = 0; i < url->heads->size(); ++i) {
      EXPECT_EQ(encode_head((*url->heads)[i]), e["heads"][i].get<std::string>());
    }
    EXPECT_EQ(url->to_string(), text);
  }
}

TEST(IdsVectors, InvalidTextsAreRefused) {
  const json v = repo_ids();
  ASSERT_TRUE(v.contains("invalid"));
  ASSERT_FALSE(v["invalid"].empty());
  for (const json& e : v["invalid"]) {
    const std::string text = e["text"];
    SCOPED_TRACE(text + " (" + e["why"].get<std::string>() + ")");
    const auto decoded = bs58check_decode(text);
    ASSERT_FALSE(decoded);
    EXPECT_EQ(decoded.error().code, ErrorCode::kInvalidArgument);
    const auto id = DocumentId::parse(text);
    ASSERT_FALSE(id);
    EXPECT_EQ(id.error().code, ErrorCode::kInvalidArgument);
    EXPECT_FALSE(AutomergeUrl::parse("automerge:" + text));
  }
}

// ---- fixed facts ----------------------------------------------------------------------------------

TEST(DocumentId, SpecExample) {
  // automerge-repo-protocol.md §2: a DocumentId captured from JS 2.5.6.
  const auto id = DocumentId::parse("42gwUifH6GMMHGEo9x2GKgHGRP1u");
  ASSERT_TRUE(id) << id.error().to_string();
  EXPECT_EQ(to_hex(id->bytes()), "d96d229b86ff4685ba1231fedc76637a");
  EXPECT_EQ(id->bytes()[6] >> 4, 4);  // UUID version 4
  EXPECT_EQ(id->to_uuid_string(), "d96d229b-86ff-4685-ba12-31fedc76637a");
}

TEST(DocumentId, RandomIsUuidV4AndRoundTrips) {
  std::unordered_set<DocumentId> seen;
  for (int i = 0; i < 100; ++i) {
    const DocumentId id = DocumentId::random();
    EXPECT_EQ(id.bytes()[6] & 0xf0, 0x40);
    EXPECT_EQ(id.bytes()[8] & 0xc0, 0x80);
    EXPECT_EQ(DocumentId::parse(id.to_string()).value(), id);
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(DocumentId, UuidV4SetsVersionAndVariant) {
  DocumentId::Raw raw;
  raw.fill(0xff);
  EXPECT_EQ(to_hex(DocumentId::uuid_v4(raw).bytes()), "ffffffffffff4fffbfffffffffffffff");
  raw.fill(0);
  EXPECT_EQ(to_hex(DocumentId::uuid_v4(raw).bytes()), "00000000000040008000000000000000");
}

TEST(DocumentId, Errors) {
  const auto short_bytes = DocumentId::from_bytes(hex("00112233445566778899aabbccddee"));
  ASSERT_FALSE(short_bytes);
  EXPECT_EQ(short_bytes.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(short_bytes.error().message.find("expected 16 bytes, got 15"), std::string::npos);

  for (const std::string& text : {std::string(""), std::string("0OIl"),
                                 bs58check_encode(hex("00112233445566778899aabbccddee")),
                                 std::string(2000, '2')}) {
    const auto r = DocumentId::parse(text);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_FALSE(r.error().message.empty());
  }
  const auto fifteen = DocumentId::parse(bs58check_encode(hex("00112233445566778899aabbccddee")));
  EXPECT_NE(fifteen.error().message.find("15 bytes, expected 16"), std::string::npos)
      << fifteen.error().message;
}

TEST(Bs58check, KnownEncodings) {
  // Leading zero bytes become leading '1's; every payload carries a 4-byte checksum.
  EXPECT_EQ(bs58check_encode(Bytes{}), "3QJmnh");  // base58(sha256d("")[0..4])
  EXPECT_TRUE(bs58check_decode("3QJmnh").value().empty());
  const std::string zeros = bs58check_encode(Bytes(3, 0));
  EXPECT_EQ(zeros.substr(0, 3), "111");
  EXPECT_EQ(bs58check_decode(zeros).value(), Bytes(3, 0));
  const auto too_short = bs58check_decode("2");
  ASSERT_FALSE(too_short);
  EXPECT_NE(too_short.error().message.find("too short"), std::string::npos);
  const auto bad_char = bs58check_decode("abc0");
  ASSERT_FALSE(bad_char);
  EXPECT_NE(bad_char.error().message.find("outside the base58 alphabet"), std::string::npos);
}

TEST(AutomergeUrl, HeadsSections) {
  const DocumentId id = DocumentId::parse("42gwUifH6GMMHGEo9x2GKgHGRP1u").value();
  const ChangeHash a = head_from_hex(std::string(64, 'a'));
  const ChangeHash b = head_from_hex(std::string(64, 'b'));
  const std::string base = "automerge:42gwUifH6GMMHGEo9x2GKgHGRP1u";

  const auto empty = AutomergeUrl::parse(base + "#");
  ASSERT_TRUE(empty) << empty.error().to_string();
  ASSERT_TRUE(empty->heads.has_value());
  EXPECT_TRUE(empty->heads->empty());
  EXPECT_EQ(empty->to_string(), base + "#");

  const std::string two = base + "#" + encode_head(b) + "|" + encode_head(a);
  const auto pinned = AutomergeUrl::parse(two);
  ASSERT_TRUE(pinned) << pinned.error().to_string();
  EXPECT_EQ(pinned->document_id, id);
  EXPECT_EQ(*pinned->heads, (std::vector<ChangeHash>{b, a}));  // order kept as given
  EXPECT_EQ(pinned->to_string(), two);

  // the loose form ignores heads
  EXPECT_EQ(parse_document_id_loose(two).value(), id);
}

TEST(AutomergeUrl, Errors) {
  const std::string id = "42gwUifH6GMMHGEo9x2GKgHGRP1u";
  const std::string head = encode_head(head_from_hex(std::string(64, 'c')));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {id, "does not start with"},
      {"Automerge:" + id, "does not start with"},
      {"automerge:", "no document id"},
      {"automerge:#" + head, "no document id"},
      {"automerge:" + id + "#" + head + "#" + head, "more than one '#'"},
      {"automerge:" + id + "/a/b", "path segments"},
      {"automerge:d96d229b-86ff-4685-ba12-31fedc76637a", "legacy UUID"},
      {"automerge:" + id + "x", "checksum mismatch"},
      {"automerge:" + id + "#" + head + "|", "empty head"},
      {"automerge:" + id + "#" + head + "||" + head, "too short"},
      {"automerge:" + id + "#|" + head, "too short"},
      {"automerge:" + id + "#" + id, "expected 32"},
      {"automerge:" + id + "#" + head.substr(1), "checksum"},
  };
  for (const auto& [text, why] : cases) {
    const auto r = AutomergeUrl::parse(text);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << text;
    EXPECT_NE(r.error().message.find(why), std::string::npos) << text << " -> " << r.error().message;
  }
}

TEST(DocumentIdLoose, AcceptsTheThreeFormsOnly) {
  const DocumentId id = DocumentId::parse("42gwUifH6GMMHGEo9x2GKgHGRP1u").value();
  EXPECT_EQ(parse_document_id_loose("D96D229B-86FF-4685-BA12-31FEDC76637A").value(), id);
  for (const std::string bad : {"", "d96d229b86ff4685ba1231fedc76637a", "d96d229b-86ff-4685-ba12-31fedc76637",
                                "x96d229b-86ff-4685-ba12-31fedc76637a", "automerge:nope", "hello world"}) {
    const auto r = parse_document_id_loose(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(TextIds, ParseAndCompare) {
  EXPECT_FALSE(PeerId::parse(""));
  EXPECT_EQ(PeerId::parse("").error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(StorageId::parse("").error().message.find("StorageId"), std::string::npos);
  EXPECT_EQ(PeerId::parse("peer-1").value().str(), "peer-1");
  EXPECT_LT(PeerId("a"), PeerId("b"));
  std::unordered_set<SessionId> sessions{SessionId("x"), SessionId("x"), SessionId("y")};
  EXPECT_EQ(sessions.size(), 2u);
  const std::string uuid = random_uuid_string();
  EXPECT_EQ(uuid.size(), 36u);
  EXPECT_EQ(uuid[14], '4');
  EXPECT_NE(uuid, random_uuid_string());
}

// ---- properties -----------------------------------------------------------------------------------

RC_GTEST_PROP(Bs58check, RoundTripsAnyPayload, (const std::vector<std::uint8_t>& payload)) {
  const std::string text = bs58check_encode(payload);
  const auto back = bs58check_decode(text);
  RC_ASSERT(back.has_value());
  RC_ASSERT(*back == payload);
}

RC_GTEST_PROP(Bs58check, SingleCharacterChangeIsDetected, (const std::vector<std::uint8_t>& payload)) {
  std::string text = bs58check_encode(payload);
  const std::size_t at = *rc::gen::inRange<std::size_t>(0, text.size());
  const char replacement = *rc::gen::elementOf(std::string("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"));
  RC_PRE(replacement != text[at]);
  text[at] = replacement;
  const auto back = bs58check_decode(text);
  // A 4-byte checksum misses a change with probability 2^-32; treat acceptance as failure.
  RC_ASSERT(!back.has_value() || *back != payload);
}

RC_GTEST_PROP(AutomergeUrl, RoundTrips, ()) {
  const auto bytes = *rc::gen::container<std::vector<std::uint8_t>>(16, rc::gen::arbitrary<std::uint8_t>());
  AutomergeUrl url;
  url.document_id = DocumentId::from_bytes(bytes).value();
  if (*rc::gen::arbitrary<bool>()) {
    const auto n = *rc::gen::inRange<std::size_t>(0, 4);
    url.heads.emplace();
    for (std::size_t i = 0; i < n; ++i) {
      ChangeHash h;
      const auto hb = *rc::gen::container<std::vector<std::uint8_t>>(32, rc::gen::arbitrary<std::uint8_t>());
      std::copy(hb.begin(), hb.end(), h.bytes.begin());
      url.heads->push_back(h);
    }
  }
  const auto back = AutomergeUrl::parse(url.to_string());
  RC_ASSERT(back.has_value());
  RC_ASSERT(*back == url);
  RC_ASSERT(parse_document_id_loose(url.to_string()).value() == url.document_id);
}

TEST(LegacyUuid, AcceptedAsUuid901ValidatesThem) {
  const DocumentId id = *parse_legacy_uuid("d96d229b-86ff-4685-ba12-31fedc76637a");
  EXPECT_EQ(id.to_uuid_string(), "d96d229b-86ff-4685-ba12-31fedc76637a");
  EXPECT_EQ(parse_legacy_uuid("D96D229B-86FF-4685-BA12-31FEDC76637A"), id);
  EXPECT_EQ(parse_document_id_loose("d96d229b-86ff-4685-ba12-31fedc76637a").value(), id);
  EXPECT_TRUE(parse_legacy_uuid("00000000-0000-0000-0000-000000000000"));  // nil
  EXPECT_TRUE(parse_legacy_uuid("d96d229b-86ff-1685-8a12-31fedc76637a"));  // v1, variant 8
  EXPECT_FALSE(parse_legacy_uuid("d96d229b-86ff-6685-ba12-31fedc76637a"));  // version 6
  EXPECT_FALSE(parse_legacy_uuid("d96d229b-86ff-4685-ca12-31fedc76637a"));  // variant c
  EXPECT_FALSE(parse_legacy_uuid("ffffffff-ffff-ffff-ffff-ffffffffffff"));  // uuid 9 refuses max
  EXPECT_FALSE(parse_legacy_uuid(id.to_string()));
  EXPECT_FALSE(parse_document_id_loose("automerge:d96d229b-86ff-4685-ba12-31fedc76637a"));
}

}  // namespace
}  // namespace am::repo
