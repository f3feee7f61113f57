#include "am/repo/ids.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <random>

#include "core/util/sha256.h"

namespace am::repo {
namespace {

constexpr std::string_view kAlphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
constexpr std::size_t kMaxBs58Chars = 1000;

// Index of `c` in kAlphabet, or -1.
int digit_of(char c) {
  const std::size_t pos = kAlphabet.find(c);
  return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

std::array<std::uint8_t, 4> checksum(ByteView payload) {
  const util::Sha256Digest once = util::sha256(payload);
  const util::Sha256Digest twice = util::sha256(ByteView(once));
  return {twice[0], twice[1], twice[2], twice[3]};
}

std::string base58_encode(ByteView bytes) {
  std::size_t zeroes = 0;
  while (zeroes < bytes.size() && bytes[zeroes] == 0) ++zeroes;
  // Big-endian base-58 digits of the remaining number, most significant first.
  std::vector<std::uint8_t> digits;
  digits.reserve((bytes.size() - zeroes) * 138 / 100 + 1);
  for (std::size_t i = zeroes; i < bytes.size(); ++i) {
    unsigned carry = bytes[i];
    for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
      carry += 256u * *it;
      *it = static_cast<std::uint8_t>(carry % 58u);
      carry /= 58u;
    }
    while (carry != 0) {
      digits.insert(digits.begin(), static_cast<std::uint8_t>(carry % 58u));
      carry /= 58u;
    }
  }
  std::string out(zeroes, kAlphabet[0]);
  for (const std::uint8_t d : digits) out.push_back(kAlphabet[d]);
  return out;
}

// Returns false on a character outside the alphabet.
bool base58_decode(std::string_view text, Bytes& out) {
  std::size_t zeroes = 0;
  while (zeroes < text.size() && text[zeroes] == kAlphabet[0]) ++zeroes;
  Bytes number;  // big-endian base-256 digits
  number.reserve((text.size() - zeroes) * 733 / 1000 + 1);
  for (std::size_t i = zeroes; i < text.size(); ++i) {
    const int d = digit_of(text[i]);
    if (d < 0) return false;
    unsigned carry = static_cast<unsigned>(d);
    for (auto it = number.rbegin(); it != number.rend(); ++it) {
      carry += 58u * *it;
      *it = static_cast<std::uint8_t>(carry & 0xffu);
      carry >>= 8;
    }
    while (carry != 0) {
      number.insert(number.begin(), static_cast<std::uint8_t>(carry & 0xffu));
      carry >>= 8;
    }
  }
  out.assign(zeroes, 0);
  out.insert(out.end(), number.begin(), number.end());
  return true;
}

void fill_random(std::uint8_t* data, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t got = ::getrandom(data + done, size - done, 0);
    if (got > 0) {
      done += static_cast<std::size_t>(got);
    } else if (got < 0 && errno != EINTR) {
      break;  // no getrandom (very old kernel): fall back below
    }
  }
  if (done < size) {
    std::random_device rd;
    for (; done < size; ++done) data[done] = static_cast<std::uint8_t>(rd());
  }
}

std::string quoted(std::string_view text) {
  constexpr std::size_t kShown = 80;
  std::string out = "\"";
  out.append(text.substr(0, kShown));
  if (text.size() > kShown) out += "...";
  out += '"';
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// 8-4-4-4-12 hex digits, either case, as uuid 9.0.1's validate(): version 1-5 and variant
// 8-b, or the nil UUID.
std::optional<DocumentId::Raw> parse_uuid_text(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  DocumentId::Raw raw{};
  std::size_t nibble = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool dash_pos = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_pos) {
      if (text[i] != '-') return std::nullopt;
      continue;
    }
    const int v = hex_value(text[i]);
    if (v < 0) return std::nullopt;
    const std::size_t byte = nibble / 2;
    raw[byte] = static_cast<std::uint8_t>(raw[byte] | (nibble % 2 == 0 ? v << 4 : v));
    ++nibble;
  }
  if (raw == DocumentId::Raw{}) return raw;  // the nil UUID
  const int version = raw[6] >> 4;
  const int variant = raw[8] >> 4;
  if (version < 1 || version > 5 || variant < 8 || variant > 0xb) return std::nullopt;
  return raw;
}

}  // namespace

std::string bs58check_encode(ByteView payload) {
  Bytes both(payload.begin(), payload.end());
  const auto sum = checksum(payload);
  both.insert(both.end(), sum.begin(), sum.end());
  return base58_encode(both);
}

Result<Bytes> bs58check_decode(std::string_view text) {
  if (text.size() > kMaxBs58Chars) {
    return fail(Error::invalid_argument(
        "bs58check text of " + std::to_string(text.size()) + " characters",
        "longer than " + std::to_string(kMaxBs58Chars)));
  }
  Bytes raw;
  if (!base58_decode(text, raw)) {
    return fail(Error::invalid_argument("bs58check text " + quoted(text),
                                        "contains a character outside the base58 alphabet"));
  }
  if (raw.size() < 4) {
    return fail(Error::invalid_argument("bs58check text " + quoted(text),
                                        "too short to hold the 4-byte checksum"));
  }
  const ByteView payload(raw.data(), raw.size() - 4);
  const auto sum = checksum(payload);
  if (!std::equal(sum.begin(), sum.end(), raw.end() - 4)) {
    return fail(Error::invalid_argument("bs58check text " + quoted(text), "checksum mismatch"));
  }
  raw.resize(raw.size() - 4);
  return raw;
}

// ---- DocumentId -----------------------------------------------------------------------------------

DocumentId DocumentId::random() {
  Raw raw{};
  fill_random(raw.data(), raw.size());
  return uuid_v4(raw);
}

DocumentId DocumentId::uuid_v4(Raw random_bytes) {
  random_bytes[6] = static_cast<std::uint8_t>((random_bytes[6] & 0x0fu) | 0x40u);
  random_bytes[8] = static_cast<std::uint8_t>((random_bytes[8] & 0x3fu) | 0x80u);
  return DocumentId(random_bytes);
}

Result<DocumentId> DocumentId::from_bytes(ByteView bytes) {
  if (bytes.size() != kSize) {
    return fail(Error::invalid_argument(
        "DocumentId", "expected 16 bytes, got " + std::to_string(bytes.size())));
  }
  Raw raw{};
  std::copy(bytes.begin(), bytes.end(), raw.begin());
  return DocumentId(raw);
}

Result<DocumentId> DocumentId::parse(std::string_view text) {
  if (text.empty()) return fail(Error::invalid_argument("DocumentId", "empty text"));
  auto payload = bs58check_decode(text);
  if (!payload) return fail(payload.error().with_context("DocumentId"));
  if (payload->size() != kSize) {
    return fail(Error::invalid_argument(
        "DocumentId " + quoted(text),
        "bs58check payload is " + std::to_string(payload->size()) + " bytes, expected 16"));
  }
  return from_bytes(*payload);
}

std::string DocumentId::to_string() const { return bs58check_encode(bytes_); }

std::string DocumentId::to_uuid_string() const {
  const std::string h = to_hex(bytes_);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" +
         h.substr(20);
}

std::optional<DocumentId> parse_legacy_uuid(std::string_view text) {
  if (auto raw = parse_uuid_text(text)) return DocumentId(*raw);
  return std::nullopt;
}

Result<DocumentId> parse_document_id_loose(std::string_view text) {
  if (text.starts_with(AutomergeUrl::kPrefix)) {
    auto url = AutomergeUrl::parse(text);
    if (!url) return fail(std::move(url).error());
    return url->document_id;
  }
  if (auto uuid = parse_uuid_text(text)) return DocumentId(*uuid);
  auto id = DocumentId::parse(text);
  if (!id) {
    return fail(Error::invalid_argument(
        "document id " + quoted(text),
        "not an automerge: URL, a bs58check DocumentId or a UUID (" + id.error().message + ")"));
  }
  return id;
}

// ---- heads ----------------------------------------------------------------------------------------

std::string encode_head(const ChangeHash& head) { return bs58check_encode(head.bytes); }

Result<ChangeHash> parse_head(std::string_view text) {
  auto payload = bs58check_decode(text);
  if (!payload) return fail(payload.error().with_context("head"));
  ChangeHash h;
  if (payload->size() != h.bytes.size()) {
    return fail(Error::invalid_argument(
        "head " + quoted(text),
        "bs58check payload is " + std::to_string(payload->size()) + " bytes, expected 32"));
  }
  std::copy(payload->begin(), payload->end(), h.bytes.begin());
  return h;
}

// ---- AutomergeUrl ---------------------------------------------------------------------------------

Result<AutomergeUrl> AutomergeUrl::parse(std::string_view text) {
  const auto bad = [&](std::string_view why) {
    return fail(Error::invalid_argument("AutomergeUrl " + quoted(text), why));
  };
  if (!text.starts_with(kPrefix)) return bad("does not start with \"automerge:\"");
  std::string_view rest = text.substr(kPrefix.size());
  std::optional<std::string_view> heads_section;
  if (const std::size_t hash = rest.find('#'); hash != std::string_view::npos) {
    heads_section = rest.substr(hash + 1);
    rest = rest.substr(0, hash);
    if (heads_section->find('#') != std::string_view::npos) return bad("more than one '#' section");
  }
  if (rest.empty()) return bad("no document id");
  if (rest.find('/') != std::string_view::npos) return bad("path segments are not supported");
  if (parse_uuid_text(rest)) return bad("legacy UUID document ids are not allowed in a URL");
  auto id = DocumentId::parse(rest);
  if (!id) return bad(id.error().message);
  AutomergeUrl url;
  url.document_id = *id;
  if (heads_section) {
    url.heads.emplace();  // a bare "#" is an empty heads list
    std::string_view s = *heads_section;
    while (!s.empty()) {
      const std::size_t bar = s.find('|');
      auto head = parse_head(s.substr(0, bar));  // an empty part ("a||b", "a|") is refused here
      if (!head) return bad(head.error().message);
      url.heads->push_back(*head);
      if (bar == std::string_view::npos) break;
      s = s.substr(bar + 1);
      if (s.empty()) return bad("empty head after '|'");
    }
  }
  return url;
}

std::string AutomergeUrl::to_string() const {
  std::string out(kPrefix);
  out += document_id.to_string();
  if (heads) {
    out += '#';
    for (std::size_t i = 0; i < heads->size(); ++i) {
      if (i > 0) out += '|';
      out += encode_head((*heads)[i]);
    }
  }
  return out;
}

// ---- random text ids ------------------------------------------------------------------------------

std::string random_uuid_string() { return DocumentId::random().to_uuid_string(); }

}  // namespace am::repo
