// Identifiers of the repo layer, in the text forms automerge-repo (JS 2.5.x) uses on the wire, in
// URLs and in storage keys.
//
//   DocumentId   16 bytes (a UUID v4 layout for new documents); text = bs58check of the bytes
//                (Bitcoin base58 of bytes ‖ first 4 bytes of SHA-256(SHA-256(bytes))).
//   AutomergeUrl "automerge:<bs58check id>" optionally followed by "#<head>|<head>..." which pins a
//                version; each head is a bs58check-encoded 32-byte change hash.
//   PeerId       any text naming a live peer (JS: "peer-<random base36>").
//   StorageId    any text naming a persistent store (JS: a UUID v4 string).
//   SessionId    any text naming one run of a repo for ephemeral messages (JS: random base36).
//
// Every parse returns a Result whose error is ErrorCode::kInvalidArgument with a message naming
// the offending text. Value types; thread safety as for std::string.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "am/bytes.h"
#include "am/result.h"
#include "am/types.h"

namespace am::repo {

/// bs58check text of `payload` (any length). Thread-safe.
std::string bs58check_encode(ByteView payload);

/// Decodes bs58check text: every character in the Bitcoin base58 alphabet, at least the 4
/// checksum bytes, and a matching checksum. Texts longer than 1000 characters are refused.
Result<Bytes> bs58check_decode(std::string_view text);

/// A document's identifier: 16 bytes.
class DocumentId {
 public:
  static constexpr std::size_t kSize = 16;     ///< bytes in an id
  using Raw = std::array<std::uint8_t, kSize>;  ///< the id's bytes

  /// The all-zero id (never produced by random()).
  DocumentId() = default;
  /// The id with exactly these bytes.
  explicit DocumentId(const Raw& bytes) : bytes_(bytes) {}

  /// A fresh id from the operating system's random source, laid out as a UUID v4 (version
  /// nibble 4, RFC 4122 variant), like JS Repo.create.
  static DocumentId random();
  /// The UUID v4 layout of caller-supplied random bytes (for deterministic callers and tests).
  static DocumentId uuid_v4(Raw random_bytes);

  /// Exactly 16 bytes.
  static Result<DocumentId> from_bytes(ByteView bytes);
  /// bs58check text whose payload is 16 bytes (the only form sent on the wire).
  static Result<DocumentId> parse(std::string_view bs58check_text);

  /// The 16 bytes.
  const Raw& bytes() const { return bytes_; }
  /// bs58check text, e.g. "42gwUifH6GMMHGEo9x2GKgHGRP1u".
  std::string to_string() const;
  /// Lowercase 8-4-4-4-12 UUID text of the bytes.
  std::string to_uuid_string() const;

  friend auto operator<=>(const DocumentId&, const DocumentId&) = default;
  friend bool operator==(const DocumentId&, const DocumentId&) = default;

 private:
  Raw bytes_{};
};

/// What JS `interpretAsDocumentId` accepts from an application: an automerge: URL (its heads are
/// ignored), bs58check text, or — deprecated, pre-1.0 repos — UUID text (see parse_legacy_uuid).
/// An `automerge:` URL never holds a UUID (the reference's URL pattern refuses the dashes).
Result<DocumentId> parse_document_id_loose(std::string_view text);

/// A legacy UUID document id: 8-4-4-4-12 hex digits, either case, as the reference's uuid 9.0.1
/// `validate` accepts them (version nibble 1-5 and variant 8, 9, a or b; or the nil UUID). The
/// id is its 16 bytes, the same id as the bs58check text of those bytes (JS
/// interpretAsDocumentId). nullopt for anything else.
std::optional<DocumentId> parse_legacy_uuid(std::string_view text);

/// bs58check text of a change hash, the form heads take in URLs and remote-heads gossip.
std::string encode_head(const ChangeHash& head);
/// Parses bs58check text whose payload is 32 bytes.
Result<ChangeHash> parse_head(std::string_view text);

/// "automerge:<id>[#<head>|<head>...]".
struct AutomergeUrl {
  static constexpr std::string_view kPrefix = "automerge:";  ///< every URL starts with it

  DocumentId document_id;  ///< the document
  /// nullopt: no "#" section (the current version). A value, possibly empty (a bare "#"), pins
  /// the document to exactly these heads, kept in the order given.
  std::optional<std::vector<ChangeHash>> heads;

  /// Accepts exactly what JS 2.5.6 parseAutomergeUrl does, except that the id must be 16 bytes
  /// and every head 32 bytes: the prefix (case-sensitive), one bs58check id, at most one "#",
  /// and "|"-separated bs58check heads. Path segments ("automerge:<id>/a/b", JS 2.6) and legacy
  /// UUIDs are refused.
  static Result<AutomergeUrl> parse(std::string_view text);
  /// The URL text (heads, if any, after "#", joined with "|").
  std::string to_string() const;

  friend bool operator==(const AutomergeUrl&, const AutomergeUrl&) = default;
};

/// A strongly typed wrapper around arbitrary text.
template <class Tag>
class TextId {
 public:
  TextId() = default;
  /// Wraps `value` as is (see parse() for the checked form).
  explicit TextId(std::string value) : value_(std::move(value)) {}

  /// Any non-empty text.
  static Result<TextId> parse(std::string_view text) {
    if (text.empty()) return fail(Error::invalid_argument(Tag::kName, "must not be empty"));
    return TextId(std::string(text));
  }

  /// The text.
  const std::string& str() const { return value_; }
  /// Whether the text is empty (a default-constructed id).
  bool empty() const { return value_.empty(); }

  friend auto operator<=>(const TextId&, const TextId&) = default;
  friend bool operator==(const TextId&, const TextId&) = default;

 private:
  std::string value_;
};

/// @cond INTERNAL
struct PeerIdTag { static constexpr const char* kName = "PeerId"; };
struct StorageIdTag { static constexpr const char* kName = "StorageId"; };
struct SessionIdTag { static constexpr const char* kName = "SessionId"; };
/// @endcond

using PeerId = TextId<PeerIdTag>;
using StorageId = TextId<StorageIdTag>;
using SessionId = TextId<SessionIdTag>;

/// Lowercase UUID v4 text from the operating system's random source: a fresh StorageId (as the
/// JS StorageSubsystem makes) or SessionId.
std::string random_uuid_string();

}  // namespace am::repo

/// @cond INTERNAL
template <>
struct std::hash<am::repo::DocumentId> {
  std::size_t operator()(const am::repo::DocumentId& id) const noexcept {
    std::size_t h = 0;
    for (const std::uint8_t b : id.bytes()) h = h * 131 + b;
    return h;
  }
};

template <class Tag>
struct std::hash<am::repo::TextId<Tag>> {
  std::size_t operator()(const am::repo::TextId<Tag>& id) const noexcept {
    return std::hash<std::string>{}(id.str());
  }
};
/// @endcond
