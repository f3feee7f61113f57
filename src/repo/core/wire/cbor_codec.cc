#include "repo/core/wire/cbor_codec.h"
#include "repo/core/wire/cbor_map.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace am::repo::wire {
namespace {

using nlohmann::json;

// ================================================================================================
// Structural pre-pass.
//
// nlohmann's CBOR reader recurses once per nesting level (arrays, maps and tags), throws on some
// huge declared lengths even with allow_exceptions=false, and in 3.11.2 rejects `undefined`
// (0xf7), which JS sends for absent optional fields. So before nlohmann sees a frame, this
// iterative scan checks that it is exactly one well-formed CBOR item within the limits, that every
// declared length fits in the bytes that remain, and that map keys are text; it also records where
// `undefined` values sit so that they can be rewritten to `null` (both mean "absent").
// ================================================================================================

// nlohmann recurses once per level; deeper limits than this are not honoured.
constexpr std::size_t kMaxDepthCeiling = 256;

class Scanner {
 public:
  Scanner(ByteView in, const DecodeLimits& limits) : in_(in), limits_(limits) {}

  // On success, the offsets of every `undefined` item.
  Result<std::vector<std::size_t>> run() {
    while (true) {
      if (pos_ >= in_.size()) return malformed("truncated frame");
      const std::uint8_t ib = in_[pos_];
      if (ib == 0xff) {  // "break": ends the innermost indefinite-length item
        if (stack_.empty() || !stack_.back().indefinite) return malformed("unexpected break byte 0xff");
        if (stack_.back().kind == Kind::kMap && stack_.back().count % 2 != 0) {
          return malformed("indefinite-length map ends after a key without a value");
        }
        ++pos_;
        stack_.pop_back();
        if (item_done()) break;
        continue;
      }
      AM_TRY_STATUS(item());
      if (done_) break;
    }
    if (pos_ != in_.size()) {
      return malformed(std::to_string(in_.size() - pos_) + " bytes after the end of the CBOR item");
    }
    return std::move(undefined_at_);
  }

 private:
  enum class Kind : std::uint8_t { kArray, kMap, kTag, kChunks };
  struct Frame {
    Kind kind;
    bool indefinite;
    std::uint64_t remaining;  // definite: items still to come
    std::uint64_t count;      // indefinite: items seen so far
    std::uint8_t chunk_major; // kChunks: the string's major type
  };

  tl::unexpected<Error> malformed(const std::string& what) const {
    return fail(Error::protocol("malformed CBOR", what + " (at byte " + std::to_string(pos_) + ")"));
  }

  std::size_t left() const { return in_.size() - pos_; }

  // Whether the next item is a map key.
  bool expecting_key() const {
    if (stack_.empty() || stack_.back().kind != Kind::kMap) return false;
    const Frame& f = stack_.back();
    return f.indefinite ? f.count % 2 == 0 : f.remaining % 2 == 0;
  }

  Status push(Frame f) {
    const std::size_t max_depth = std::min(limits_.max_depth, kMaxDepthCeiling);
    if (stack_.size() >= max_depth) {
      return fail(Error::resource_limit(
          "wire frame", "CBOR nesting deeper than " + std::to_string(max_depth) + " levels"));
    }
    stack_.push_back(f);
    return {};
  }

  // Records that one item finished at the current level, closing every definite container that
  // this completes. Returns true when the top-level item is complete.
  bool item_done() {
    while (!stack_.empty()) {
      Frame& f = stack_.back();
      if (f.indefinite) {
        ++f.count;
        return false;
      }
      if (--f.remaining > 0) return false;
      stack_.pop_back();
    }
    done_ = true;
    return true;
  }

  // Reads one item head (and a string's bytes) at pos_.
  Status item() {
    if (++items_ > limits_.max_items) {
      return fail(Error::resource_limit(
          "wire frame", "more than " + std::to_string(limits_.max_items) + " CBOR items"));
    }
    const std::size_t start = pos_;
    const std::uint8_t ib = in_[pos_++];
    const std::uint8_t major = static_cast<std::uint8_t>(ib >> 5);
    const std::uint8_t info = static_cast<std::uint8_t>(ib & 0x1f);

    const bool in_chunks = !stack_.empty() && stack_.back().kind == Kind::kChunks;
    if (in_chunks && (major != stack_.back().chunk_major || info == 31)) {
      pos_ = start;
      return malformed("an indefinite-length string may only contain definite strings of its type");
    }
    if (expecting_key() && major != 3) {
      pos_ = start;
      return malformed("map key is not a text string");
    }

    std::uint64_t arg = info;
    if (info >= 24 && info <= 27) {
      const std::size_t n = std::size_t{1} << (info - 24);
      if (left() < n) return malformed("truncated item header");
      arg = 0;
      for (std::size_t i = 0; i < n; ++i) arg = (arg << 8) | in_[pos_++];
    } else if (info >= 28 && info <= 30) {
      pos_ = start;
      return malformed("reserved additional information " + std::to_string(info));
    }
    const bool indefinite = info == 31;

    switch (major) {
      case 0:
      case 1:
        if (indefinite) break;
        item_done();
        return {};
      case 2:
      case 3:
        if (indefinite) return push(Frame{Kind::kChunks, true, 0, 0, major});
        if (arg > left()) {
          return malformed("string of " + std::to_string(arg) + " bytes but only " +
                           std::to_string(left()) + " remain");
        }
        pos_ += static_cast<std::size_t>(arg);
        item_done();
        return {};
      case 4:
        if (indefinite) return push(Frame{Kind::kArray, true, 0, 0, 0});
        if (arg > left()) {
          return malformed("array of " + std::to_string(arg) + " items but only " +
                           std::to_string(left()) + " bytes remain");
        }
        if (arg == 0) {
          item_done();
          return {};
        }
        return push(Frame{Kind::kArray, false, arg, 0, 0});
      case 5:
        if (indefinite) return push(Frame{Kind::kMap, true, 0, 0, 0});
        if (arg > left() / 2) {
          return malformed("map of " + std::to_string(arg) + " entries but only " +
                           std::to_string(left()) + " bytes remain");
        }
        if (arg == 0) {
          item_done();
          return {};
        }
        return push(Frame{Kind::kMap, false, arg * 2, 0, 0});
      case 6:
        if (indefinite) break;
        return push(Frame{Kind::kTag, false, 1, 0, 0});
      case 7:
        if (info == 23) undefined_at_.push_back(start);
        if ((info >= 20 && info <= 23) || (info >= 25 && info <= 27)) {  // false true null undefined, floats
          item_done();
          return {};
        }
        pos_ = start;
        return malformed("unsupported simple value 0x" + to_hex(ByteView(&in_[start], 1)));
      default:
        break;
    }
    pos_ = start;
    return malformed("indefinite length on major type " + std::to_string(major));
  }

  ByteView in_;
  const DecodeLimits& limits_;
  std::size_t pos_ = 0;
  std::size_t items_ = 0;
  bool done_ = false;
  std::vector<Frame> stack_;
  std::vector<std::size_t> undefined_at_;
};

// ================================================================================================
// Field extraction from the decoded map.
// ================================================================================================

const char* cbor_type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "a map";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a text string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer: return "a negative integer";
    case json::value_t::number_unsigned: return "an unsigned integer";
    case json::value_t::number_float: return "a float";
    case json::value_t::binary: return "a byte string";
    case json::value_t::discarded: return "discarded";
  }
  return "unknown";
}

// Reads the fields of one message map; every error names the message type and the field.
class Fields {
 public:
  Fields(const json& map, std::string_view type) : map_(map), type_(type) {}

  // The value under `key`, or null when absent, null or undefined.
  const json* find(std::string_view key) const {
    const auto it = map_.find(std::string(key));
    if (it == map_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  tl::unexpected<Error> missing(std::string_view key) const {
    return fail(Error::protocol(std::string(type_) + " message",
                                "missing required field \"" + std::string(key) + "\""));
  }
  tl::unexpected<Error> wrong(std::string_view key, const json& v, std::string_view expected) const {
    return fail(Error::protocol(std::string(type_) + " message",
                                "field \"" + std::string(key) + "\" must be " +
                                    std::string(expected) + ", not " + cbor_type_name(v)));
  }
  tl::unexpected<Error> invalid(std::string_view key, std::string_view why) const {
    return fail(Error::protocol(std::string(type_) + " message",
                                "field \"" + std::string(key) + "\": " + std::string(why)));
  }

  Result<std::optional<std::string>> opt_text(std::string_view key) const {
    const json* v = find(key);
    if (v == nullptr) return std::optional<std::string>();
    if (!v->is_string()) return wrong(key, *v, "a text string");
    return std::optional<std::string>(v->get_ref<const std::string&>());
  }
  Result<std::string> text(std::string_view key) const {
    AM_TRY_ASSIGN(auto v, opt_text(key));
    if (!v) return missing(key);
    return std::move(*v);
  }

  template <class Id>
  Result<std::optional<Id>> opt_id(std::string_view key) const {
    AM_TRY_ASSIGN(auto v, opt_text(key));
    if (!v) return std::optional<Id>();
    return std::optional<Id>(Id(std::move(*v)));
  }
  template <class Id>
  Result<Id> id(std::string_view key) const {
    AM_TRY_ASSIGN(auto v, text(key));
    return Id(std::move(v));
  }

  // bs58check text; a 16-byte byte string is accepted too (samod does). With `legacy_uuid`
  // set, legacy UUID text too (the reference's repo.find converts it, with a deprecation
  // warning, to the same 16 bytes), and *legacy_uuid says whether it was one.
  Result<DocumentId> document_id(std::string_view key, bool* legacy_uuid = nullptr) const {
    const json* v = find(key);
    if (v == nullptr) return missing(key);
    if (v->is_string()) {
      const std::string& text = v->get_ref<const std::string&>();
      auto id = DocumentId::parse(text);
      if (!id && legacy_uuid != nullptr) {
        if (auto uuid = parse_legacy_uuid(text)) {
          *legacy_uuid = true;
          return *uuid;
        }
      }
      if (!id) return invalid(key, id.error().message);
      return *id;
    }
    if (v->is_binary()) {
      const std::vector<std::uint8_t>& b = v->get_binary();
      auto id = DocumentId::from_bytes(b);
      if (!id) return invalid(key, id.error().message);
      return *id;
    }
    return wrong(key, *v, "bs58check text");
  }

  Result<Bytes> bytes(std::string_view key) const {
    const json* v = find(key);
    if (v == nullptr) return missing(key);
    if (!v->is_binary()) return wrong(key, *v, "a byte string");
    const std::vector<std::uint8_t>& b = v->get_binary();
    return Bytes(b.begin(), b.end());
  }

  Result<std::optional<bool>> opt_bool(std::string_view key) const {
    const json* v = find(key);
    if (v == nullptr) return std::optional<bool>();
    if (!v->is_boolean()) return wrong(key, *v, "a boolean");
    return std::optional<bool>(v->get<bool>());
  }

  // An unsigned integer, or a float holding a non-negative integer (JS writes numbers above
  // 2^32 as float64).
  Result<std::uint64_t> uint(std::string_view key) const {
    const json* v = find(key);
    if (v == nullptr) return missing(key);
    return uint_value(key, *v);
  }
  // `fraction_ok`: a float with a fraction is truncated rather than refused (JS numbers are
  // doubles; a timestamp of 1.7e12 + 0.5 is still a time).
  Result<std::uint64_t> uint_value(std::string_view key, const json& v, bool fraction_ok = false) const {
    if (v.is_number_unsigned()) return v.get<std::uint64_t>();
    if (v.is_number_float()) {
      const double d = v.get<double>();
      if (!std::isfinite(d) || d < 0 || d >= 18446744073709551616.0 || (!fraction_ok && std::floor(d) != d)) {
        return invalid(key, "float " + std::to_string(d) + " is not a non-negative integer");
      }
      return static_cast<std::uint64_t>(d);
    }
    return wrong(key, v, "an unsigned integer");
  }

  Result<std::optional<std::vector<std::string>>> opt_text_array(std::string_view key) const {
    const json* v = find(key);
    if (v == nullptr) return std::optional<std::vector<std::string>>();
    return text_array(key, *v);
  }
  Result<std::optional<std::vector<std::string>>> text_array(std::string_view key,
                                                             const json& v) const {
    if (!v.is_array()) return wrong(key, v, "an array of text strings");
    std::vector<std::string> out;
    out.reserve(v.size());
    for (const json& e : v) {
      if (!e.is_string()) return wrong(std::string(key) + "[]", e, "a text string");
      out.push_back(e.get_ref<const std::string&>());
    }
    return std::optional<std::vector<std::string>>(std::move(out));
  }

  template <class Id>
  Result<std::optional<std::vector<Id>>> opt_id_array(std::string_view key) const {
    AM_TRY_ASSIGN(auto v, opt_text_array(key));
    if (!v) return std::optional<std::vector<Id>>();
    std::vector<Id> out;
    out.reserve(v->size());
    for (std::string& s : *v) out.emplace_back(std::move(s));
    return std::optional<std::vector<Id>>(std::move(out));
  }

  // peerMetadata (or `metadata`, the README's name, which samod also reads).
  Result<std::optional<PeerMetadata>> peer_metadata() const {
    std::string_view key = "peerMetadata";
    const json* v = find(key);
    if (v == nullptr) {
      key = "metadata";
      v = find(key);
    }
    if (v == nullptr) return std::optional<PeerMetadata>();
    if (!v->is_object()) return wrong(key, *v, "a map");
    const Fields inner(*v, type_);
    PeerMetadata m;
    AM_TRY_ASSIGN(m.storage_id, inner.opt_id<StorageId>("storageId"));
    AM_TRY_ASSIGN(m.is_ephemeral, inner.opt_bool("isEphemeral"));
    return std::optional<PeerMetadata>(std::move(m));
  }

  Result<std::map<StorageId, RemoteHeads>> new_heads(std::string_view key) const {
    const json* v = find(key);
    if (v == nullptr) return missing(key);
    if (!v->is_object()) return wrong(key, *v, "a map");
    std::map<StorageId, RemoteHeads> out;
    for (const auto& [storage_id, entry] : v->items()) {
      const std::string where = std::string(key) + "." + storage_id;
      if (!entry.is_object()) return wrong(where, entry, "a map");
      const Fields inner(entry, type_);
      RemoteHeads heads;
      const json* h = inner.find("heads");
      if (h == nullptr) return missing(where + ".heads");
      AM_TRY_ASSIGN(auto list, text_array(where + ".heads", *h));
      heads.heads = std::move(*list);
      const json* t = inner.find("timestamp");
      if (t == nullptr) return missing(where + ".timestamp");
      AM_TRY_ASSIGN(heads.timestamp, uint_value(where + ".timestamp", *t, /*fraction_ok=*/true));
      out.emplace(StorageId(storage_id), std::move(heads));
    }
    return out;
  }

 private:
  const json& map_;
  std::string_view type_;
};

Result<Message> message_from_map(const json& map) {
  const auto type_it = map.find("type");
  if (type_it == map.end() || type_it->is_null()) {
    return fail(Error::protocol("wire message", "missing \"type\""));
  }
  if (!type_it->is_string()) {
    return fail(Error::protocol("wire message", std::string("\"type\" must be a text string, not ") +
                                                    cbor_type_name(*type_it)));
  }
  const std::string& type = type_it->get_ref<const std::string&>();
  const Fields f(map, type);

  if (type == "join") {
    JoinMessage m;
    AM_TRY_ASSIGN(m.sender_id, f.id<PeerId>("senderId"));
    AM_TRY_ASSIGN(m.peer_metadata, f.peer_metadata());
    AM_TRY_ASSIGN(m.supported_protocol_versions, f.opt_text_array("supportedProtocolVersions"));
    return m;
  }
  if (type == "peer") {
    PeerMessage m;
    AM_TRY_ASSIGN(m.sender_id, f.id<PeerId>("senderId"));
    AM_TRY_ASSIGN(m.target_id, f.id<PeerId>("targetId"));
    AM_TRY_ASSIGN(m.peer_metadata, f.peer_metadata());
    AM_TRY_ASSIGN(m.selected_protocol_version, f.opt_text("selectedProtocolVersion"));
    return m;
  }
  if (type == "error") {
    ErrorMessage m;
    AM_TRY_ASSIGN(m.message, f.text("message"));
    AM_TRY_ASSIGN(m.sender_id, f.opt_id<PeerId>("senderId"));
    AM_TRY_ASSIGN(m.target_id, f.opt_id<PeerId>("targetId"));
    return m;
  }
  if (type == "leave") {
    LeaveMessage m;
    AM_TRY_ASSIGN(m.sender_id, f.id<PeerId>("senderId"));
    return m;
  }
  if (type == "request" || type == "sync") {
    SyncMessage m;
    AM_TRY_ASSIGN(m.sender_id, f.id<PeerId>("senderId"));
    AM_TRY_ASSIGN(m.target_id, f.id<PeerId>("targetId"));
    AM_TRY_ASSIGN(m.document_id, f.document_id("documentId", &m.legacy_uuid));
    AM_TRY_ASSIGN(m.data, f.bytes("data"));
    if (type == "sync") return m;
    return RequestMessage{std::move(m.sender_id), std::move(m.target_id), m.document_id,
                          std::move(m.data), m.legacy_uuid};
  }
  if (type == "doc-unavailable") {
    DocUnavailableMessage m;
    AM_TRY_ASSIGN(m.sender_id, f.id<PeerId>("senderId"));
    AM_TRY_ASSIGN(m.target_id, f.id<PeerId>("targetId"));
    AM_TRY_ASSIGN(m.document_id, f.document_id("documentId", &m.legacy_uuid));
    return m;
  }
  if (type == "ephemeral") {
    EphemeralMessage m;
    AM_TRY_ASSIGN(m.sender_id, f.id<PeerId>("senderId"));
    AM_TRY_ASSIGN(m.target_id, f.id<PeerId>("targetId"));
    AM_TRY_ASSIGN(m.document_id, f.document_id("documentId", &m.legacy_uuid));
    AM_TRY_ASSIGN(m.count, f.uint("count"));
    AM_TRY_ASSIGN(m.session_id, f.id<SessionId>("sessionId"));
    AM_TRY_ASSIGN(m.data, f.bytes("data"));
    return m;
  }
  if (type == "remote-subscription-change") {
    RemoteSubscriptionChangeMessage m;
    AM_TRY_ASSIGN(m.sender_id, f.id<PeerId>("senderId"));
    AM_TRY_ASSIGN(m.target_id, f.id<PeerId>("targetId"));
    AM_TRY_ASSIGN(m.add, f.opt_id_array<StorageId>("add"));
    AM_TRY_ASSIGN(m.remove, f.opt_id_array<StorageId>("remove"));
    return m;
  }
  if (type == "remote-heads-changed") {
    RemoteHeadsChangedMessage m;
    AM_TRY_ASSIGN(m.sender_id, f.id<PeerId>("senderId"));
    AM_TRY_ASSIGN(m.target_id, f.id<PeerId>("targetId"));
    AM_TRY_ASSIGN(m.document_id, f.document_id("documentId"));
    AM_TRY_ASSIGN(m.new_heads, f.new_heads("newHeads"));
    return m;
  }
  // Unknown type: keep the routing fields when they are text, ignore them otherwise.
  UnknownMessage m;
  m.type = type;
  if (auto s = f.opt_id<PeerId>("senderId")) m.sender_id = std::move(*s);
  if (auto t = f.opt_id<PeerId>("targetId")) m.target_id = std::move(*t);
  return m;
}

// ================================================================================================
// Encoder: shortest-form CBOR written directly.
// ================================================================================================

class Writer {
 public:
  void head(std::uint8_t major, std::uint64_t v) {
    const auto mt = static_cast<std::uint8_t>(major << 5);
    if (v < 24) {
      out_.push_back(static_cast<std::uint8_t>(mt | v));
    } else if (v <= 0xff) {
      out_.push_back(static_cast<std::uint8_t>(mt | 24));
      be(v, 1);
    } else if (v <= 0xffff) {
      out_.push_back(static_cast<std::uint8_t>(mt | 25));
      be(v, 2);
    } else if (v <= 0xffffffffu) {
      out_.push_back(static_cast<std::uint8_t>(mt | 26));
      be(v, 4);
    } else {
      out_.push_back(static_cast<std::uint8_t>(mt | 27));
      be(v, 8);
    }
  }
  void text(std::string_view s) {
    head(3, s.size());
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void bytes(ByteView b) {
    head(2, b.size());
    out_.insert(out_.end(), b.begin(), b.end());
  }
  void boolean(bool b) { out_.push_back(b ? 0xf5 : 0xf4); }
  // Unsigned up to 2^32-1; above, float64 when exact (what cbor-x writes for JS numbers), else a
  // uint64 (only for values no JS number can hold exactly).
  void number(std::uint64_t v) {
    const double d = static_cast<double>(v);
    if (v > 0xffffffffu && d < 18446744073709551616.0 && static_cast<std::uint64_t>(d) == v) {
      out_.push_back(0xfb);
      std::uint64_t bits = 0;
      static_assert(sizeof bits == sizeof d);
      std::memcpy(&bits, &d, sizeof bits);
      be(bits, 8);
    } else {
      head(0, v);
    }
  }
  void append(const Writer& other) { out_.insert(out_.end(), other.out_.begin(), other.out_.end()); }
  Bytes take() { return std::move(out_); }

 private:
  void be(std::uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  Bytes out_;
};

// A map whose entries are collected first so that the header can carry their count.
class MapWriter {
 public:
  Writer& key(std::string_view k) {
    ++entries_;
    body_.text(k);
    return body_;
  }
  void text(std::string_view k, std::string_view v) { key(k).text(v); }
  template <class Id>
  void opt_id(std::string_view k, const std::optional<Id>& v) {
    if (v) key(k).text(v->str());
  }
  void finish_into(Writer& w) const {
    w.head(5, entries_);
    w.append(body_);
  }

 private:
  std::size_t entries_ = 0;
  Writer body_;
};

void write_metadata(MapWriter& m, const std::optional<PeerMetadata>& meta) {
  if (!meta) return;
  MapWriter inner;
  inner.opt_id("storageId", meta->storage_id);
  if (meta->is_ephemeral) inner.key("isEphemeral").boolean(*meta->is_ephemeral);
  inner.finish_into(m.key("peerMetadata"));
}

template <class Id>
void write_id_array(Writer& w, const std::vector<Id>& ids) {
  w.head(4, ids.size());
  for (const Id& id : ids) w.text(id.str());
}

struct Encoder {
  MapWriter& m;

  void operator()(const JoinMessage& msg) const {
    m.text("type", "join");
    m.text("senderId", msg.sender_id.str());
    write_metadata(m, msg.peer_metadata);
    if (msg.supported_protocol_versions) {
      Writer& w = m.key("supportedProtocolVersions");
      w.head(4, msg.supported_protocol_versions->size());
      for (const std::string& v : *msg.supported_protocol_versions) w.text(v);
    }
  }
  void operator()(const PeerMessage& msg) const {
    m.text("type", "peer");
    m.text("senderId", msg.sender_id.str());
    m.text("targetId", msg.target_id.str());
    write_metadata(m, msg.peer_metadata);
    if (msg.selected_protocol_version) {
      m.text("selectedProtocolVersion", *msg.selected_protocol_version);
    }
  }
  void operator()(const ErrorMessage& msg) const {
    m.text("type", "error");
    m.opt_id("senderId", msg.sender_id);
    m.opt_id("targetId", msg.target_id);
    m.text("message", msg.message);
  }
  void operator()(const LeaveMessage& msg) const {
    m.text("type", "leave");
    m.text("senderId", msg.sender_id.str());
  }
  void routed(std::string_view type, const PeerId& sender, const PeerId& target) const {
    m.text("type", type);
    m.text("senderId", sender.str());
    m.text("targetId", target.str());
  }
  void operator()(const RequestMessage& msg) const {
    routed("request", msg.sender_id, msg.target_id);
    m.text("documentId", msg.document_id.to_string());
    m.key("data").bytes(msg.data);
  }
  void operator()(const SyncMessage& msg) const {
    routed("sync", msg.sender_id, msg.target_id);
    m.text("documentId", msg.document_id.to_string());
    m.key("data").bytes(msg.data);
  }
  void operator()(const DocUnavailableMessage& msg) const {
    routed("doc-unavailable", msg.sender_id, msg.target_id);
    m.text("documentId", msg.document_id.to_string());
  }
  void operator()(const EphemeralMessage& msg) const {
    routed("ephemeral", msg.sender_id, msg.target_id);
    m.text("documentId", msg.document_id.to_string());
    m.key("count").number(msg.count);
    m.text("sessionId", msg.session_id.str());
    m.key("data").bytes(msg.data);
  }
  void operator()(const RemoteSubscriptionChangeMessage& msg) const {
    routed("remote-subscription-change", msg.sender_id, msg.target_id);
    if (msg.add) write_id_array(m.key("add"), *msg.add);
    if (msg.remove) write_id_array(m.key("remove"), *msg.remove);
  }
  void operator()(const RemoteHeadsChangedMessage& msg) const {
    routed("remote-heads-changed", msg.sender_id, msg.target_id);
    m.text("documentId", msg.document_id.to_string());
    Writer& w = m.key("newHeads");
    w.head(5, msg.new_heads.size());
    for (const auto& [storage_id, entry] : msg.new_heads) {
      w.text(storage_id.str());
      MapWriter inner;
      Writer& heads = inner.key("heads");
      heads.head(4, entry.heads.size());
      for (const std::string& h : entry.heads) heads.text(h);
      inner.key("timestamp").number(entry.timestamp);
      inner.finish_into(w);
    }
  }
  void operator()(const UnknownMessage& msg) const {
    m.text("type", msg.type);
    m.opt_id("senderId", msg.sender_id);
    m.opt_id("targetId", msg.target_id);
  }
};

}  // namespace

std::string_view message_type(const Message& message) {
  struct Visitor {
    std::string_view operator()(const JoinMessage&) const { return "join"; }
    std::string_view operator()(const PeerMessage&) const { return "peer"; }
    std::string_view operator()(const ErrorMessage&) const { return "error"; }
    std::string_view operator()(const LeaveMessage&) const { return "leave"; }
    std::string_view operator()(const RequestMessage&) const { return "request"; }
    std::string_view operator()(const SyncMessage&) const { return "sync"; }
    std::string_view operator()(const DocUnavailableMessage&) const { return "doc-unavailable"; }
    std::string_view operator()(const EphemeralMessage&) const { return "ephemeral"; }
    std::string_view operator()(const RemoteSubscriptionChangeMessage&) const {
      return "remote-subscription-change";
    }
    std::string_view operator()(const RemoteHeadsChangedMessage&) const {
      return "remote-heads-changed";
    }
    std::string_view operator()(const UnknownMessage& m) const { return m.type; }
  };
  return std::visit(Visitor{}, message);
}

Result<nlohmann::json> read_cbor_map(ByteView frame, const DecodeLimits& limits) {
  if (frame.size() > limits.max_frame_bytes) {
    return fail(Error::resource_limit(
        "wire frame", std::to_string(frame.size()) + " bytes exceeds the limit of " +
                          std::to_string(limits.max_frame_bytes)));
  }
  if (frame.empty()) return fail(Error::protocol("wire frame", "empty frame"));
  AM_TRY_ASSIGN(const std::vector<std::size_t> undefined_at, Scanner(frame, limits).run());

  Bytes rewritten;
  ByteView input = frame;
  if (!undefined_at.empty()) {
    rewritten.assign(frame.begin(), frame.end());
    for (const std::size_t at : undefined_at) rewritten[at] = 0xf6;  // undefined -> null
    input = rewritten;
  }
  json value;
  try {
    value = json::from_cbor(input.begin(), input.end(), /*strict=*/true, /*allow_exceptions=*/true,
                            json::cbor_tag_handler_t::ignore);
  } catch (const json::exception& e) {
    return fail(Error::protocol("malformed CBOR", e.what()));
  }
  if (!value.is_object()) {
    return fail(Error::protocol("wire frame", std::string("top-level CBOR item is ") +
                                                  cbor_type_name(value) + ", not a map"));
  }
  return value;
}

Result<Message> message_from_decoded_map(const nlohmann::json& map) {
  try {
    return message_from_map(map);
  } catch (const json::exception& e) {  // not expected: every access is type-checked first
    return fail(Error::internal("wire decode", e.what()));
  }
}

Result<Message> decode(ByteView frame, const DecodeLimits& limits) {
  AM_TRY_ASSIGN(const json map, read_cbor_map(frame, limits));
  return message_from_decoded_map(map);
}

Bytes encode(const Message& message) {
  MapWriter map;
  std::visit(Encoder{map}, message);
  Writer out;
  map.finish_into(out);
  return out.take();
}

}  // namespace am::repo::wire
