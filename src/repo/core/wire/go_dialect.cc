#include "repo/core/wire/go_dialect.h"

#include <cstring>
#include <utility>
#include <variant>
#include <vector>

#include "core/json.h"
#include "repo/core/wire/cbor_map.h"

namespace am::repo::wire {
namespace {

using nlohmann::json;

// ---- SHA-1 (RFC 3174), only for UUIDv5: the Go port names peers by it. ------------------------

std::uint32_t rotl(std::uint32_t v, int n) { return (v << n) | (v >> (32 - n)); }

std::array<std::uint8_t, 20> sha1(const std::vector<std::uint8_t>& input) {
  std::uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  std::vector<std::uint8_t> data = input;
  const std::uint64_t bit_length = static_cast<std::uint64_t>(input.size()) * 8;
  data.push_back(0x80);
  while (data.size() % 64 != 56) data.push_back(0);
  for (int i = 7; i >= 0; --i) data.push_back(static_cast<std::uint8_t>(bit_length >> (i * 8)));
  for (std::size_t block = 0; block < data.size(); block += 64) {
    std::uint32_t w[80];
    for (int i = 0; i < 16; ++i) {
      const std::uint8_t* p = &data[block + static_cast<std::size_t>(i) * 4];
      w[i] = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
    }
    for (int i = 16; i < 80; ++i) w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
      std::uint32_t f = 0, k = 0;
      if (i < 20) {
        f = (b & c) | (~b & d), k = 0x5A827999;
      } else if (i < 40) {
        f = b ^ c ^ d, k = 0x6ED9EBA1;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
      } else {
        f = b ^ c ^ d, k = 0xCA62C1D6;
      }
      const std::uint32_t t = rotl(a, 5) + f + e + k + w[i];
      e = d, d = c, c = rotl(b, 30), b = a, a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
  }
  std::array<std::uint8_t, 20> out{};
  for (int i = 0; i < 20; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(h[i / 4] >> (24 - 8 * (i % 4)));
  return out;
}

// ---- base64 (standard alphabet, padded), how Go's encoding/json writes a []byte. --------------

std::optional<Bytes> base64_decode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (text.size() % 4 != 0) return std::nullopt;
  Bytes out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const int pad = last ? (text[i + 3] == '=') + (text[i + 2] == '=') : 0;
    std::uint32_t v = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      const bool padding = j >= 4 - static_cast<std::size_t>(pad);
      const int d = padding ? 0 : value(text[i + j]);
      if (d < 0) return std::nullopt;
      v = (v << 6) | static_cast<std::uint32_t>(d);
    }
    out.push_back(static_cast<std::uint8_t>(v >> 16));
    if (pad < 2) out.push_back(static_cast<std::uint8_t>(v >> 8));
    if (pad < 1) out.push_back(static_cast<std::uint8_t>(v));
  }
  return out;
}

// ---- reading a frame --------------------------------------------------------------------------

// nlohmann's JSON parser recurses once per level; refuse deep or long input before it looks.
Status check_json_shape(ByteView frame, const DecodeLimits& limits) {
  if (frame.size() > limits.max_frame_bytes) {
    return fail(Error::resource_limit("wire frame", std::to_string(frame.size()) + " bytes exceeds the limit of " +
                                                        std::to_string(limits.max_frame_bytes)));
  }
  std::size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const std::uint8_t c : frame) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') in_string = true;
    if (c == '{' || c == '[') {
      if (++depth > limits.max_depth) {
        return fail(Error::resource_limit("wire frame",
                                          "JSON nesting deeper than " + std::to_string(limits.max_depth) + " levels"));
      }
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return {};
}

Result<json> read_json_map(ByteView frame, const DecodeLimits& limits) {
  AM_TRY_STATUS(check_json_shape(frame, limits));
  json value = json::parse(frame.begin(), frame.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return fail(Error::protocol("malformed JSON", "the frame is not one JSON value"));
  if (!value.is_object()) return fail(Error::protocol("wire frame", "the JSON value is not an object"));
  return value;
}

// Rewrites a Go map into the current protocol's shape, for message_from_decoded_map.
Status to_current_shape(json& map, Dialect dialect) {
  const auto type = map.find("type");
  if (type == map.end() || !type->is_string()) return {};  // the common decoder names the error
  const std::string& name = type->get_ref<const std::string&>();
  if (name == "peer" && !map.contains("targetId")) map["targetId"] = "";  // it names nobody
  if (name != "sync" && name != "ephemeral") return {};
  if (const auto payload = map.find("message"); payload != map.end() && !map.contains("data")) {
    json data = std::move(*payload);
    map.erase("message");
    if (dialect == Dialect::kGoJson && data.is_string()) {
      auto bytes = base64_decode(data.get_ref<const std::string&>());
      if (!bytes) return fail(Error::protocol(name + " message", "field \"message\": not base64 text"));
      data = json::binary(std::vector<std::uint8_t>(bytes->begin(), bytes->end()));
    }
    map["data"] = std::move(data);
  }
  if (name == "ephemeral") {
    // The Go port has no sessions; the hub numbers its messages per connection.
    if (!map.contains("count")) map["count"] = 0u;
    if (!map.contains("sessionId")) map["sessionId"] = "";
  }
  return {};
}

// ---- writing a frame --------------------------------------------------------------------------

struct GoMap {
  json operator()(const JoinMessage& m) const { return {{"type", "join"}, {"senderId", m.sender_id.str()}}; }
  json operator()(const PeerMessage& m) const { return {{"type", "peer"}, {"senderId", m.sender_id.str()}}; }
  json routed(std::string_view type, const PeerId& sender, const PeerId& target, const DocumentId& doc,
              const Bytes& data) const {
    json map = {{"type", type}, {"senderId", sender.str()}, {"targetId", target.str()},
                {"documentId", doc.to_uuid_string()}};
    map["message"] = json::binary(std::vector<std::uint8_t>(data.begin(), data.end()));
    return map;
  }
  json operator()(const SyncMessage& m) const { return routed("sync", m.sender_id, m.target_id, m.document_id, m.data); }
  json operator()(const RequestMessage& m) const {
    return routed("sync", m.sender_id, m.target_id, m.document_id, m.data);
  }
  json operator()(const EphemeralMessage& m) const {
    return routed("ephemeral", m.sender_id, m.target_id, m.document_id, m.data);
  }
  template <class Other>
  json operator()(const Other&) const {
    return nullptr;
  }
};

// The JSON form writes byte strings as base64 text, as Go's encoding/json does.
std::string to_go_json(json map) {
  if (auto payload = map.find("message"); payload != map.end() && payload->is_binary()) {
    const std::vector<std::uint8_t>& b = payload->get_binary();
    *payload = core::base64(ByteView(b.data(), b.size()));
  }
  return map.dump();
}

}  // namespace

const std::array<std::uint8_t, 16> kUuidNamespaceOid = {0x6b, 0xa7, 0xb8, 0x12, 0x9d, 0xad, 0x11, 0xd1,
                                                        0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8};

const char* to_string(Dialect dialect) {
  switch (dialect) {
    case Dialect::kCurrent: return "current";
    case Dialect::kGoCbor: return "go-cbor";
    case Dialect::kGoJson: return "go-json";
  }
  return "?";
}

bool looks_like_json(ByteView frame) {
  for (const std::uint8_t c : frame) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    return c == '{';
  }
  return false;
}

bool is_go_join(const JoinMessage& join) {
  return !join.peer_metadata && !join.supported_protocol_versions && parse_legacy_uuid(join.sender_id.str());
}

Result<Message> decode_go(ByteView frame, Dialect dialect, const DecodeLimits& limits) {
  json map;
  if (dialect == Dialect::kGoJson) {
    AM_TRY_ASSIGN(map, read_json_map(frame, limits));
  } else {
    AM_TRY_ASSIGN(map, read_cbor_map(frame, limits));
  }
  AM_TRY_STATUS(to_current_shape(map, dialect));
  AM_TRY_ASSIGN(Message message, message_from_decoded_map(map));
  return message;
}

std::optional<Bytes> encode_go(const Message& message, Dialect dialect) {
  json map = std::visit(GoMap{}, message);
  if (map.is_null()) return std::nullopt;
  if (dialect == Dialect::kGoJson) {
    const std::string text = to_go_json(std::move(map));
    return Bytes(text.begin(), text.end());
  }
  const std::vector<std::uint8_t> cbor = json::to_cbor(map);
  return Bytes(cbor.begin(), cbor.end());
}

std::string uuid_v5(const std::array<std::uint8_t, 16>& name_space, std::string_view name) {
  std::vector<std::uint8_t> input(name_space.begin(), name_space.end());
  input.insert(input.end(), name.begin(), name.end());
  const std::array<std::uint8_t, 20> digest = sha1(input);
  DocumentId::Raw raw{};
  std::memcpy(raw.data(), digest.data(), raw.size());
  raw[6] = static_cast<std::uint8_t>((raw[6] & 0x0f) | 0x50);
  raw[8] = static_cast<std::uint8_t>((raw[8] & 0x3f) | 0x80);
  return DocumentId(raw).to_uuid_string();
}

PeerId go_peer_alias(const PeerId& peer) {
  if (parse_legacy_uuid(peer.str())) return peer;
  return PeerId(uuid_v5(kUuidNamespaceOid, peer.str()));
}

}  // namespace am::repo::wire
