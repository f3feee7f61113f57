// The wire dialect of the Go port this project grew from (alfonsodev/automerge-repo-go), so that
// its peers can exchange documents with ours (docs/interop.md, "Legacy peers").
//
// What that port sends, from its documented format (ROADMAP_PROGRESS and its message types):
//   join      {type:"join", senderId}                       no metadata, no protocol versions
//   peer      {type:"peer", senderId}                       no targetId
//   sync      {type:"sync", senderId, targetId, documentId, message}
//   ephemeral {type:"ephemeral", senderId, targetId, documentId, message}
// Every id is UUID text: its own peer id, the document id, and the targetId, which it derives
// from any peer id that is not a UUID (UUIDv5 in the OID namespace), so a targetId naming us is
// the alias go_peer_alias() computes. `message` is the payload (the current protocol says `data`).
// It reads only `sync` and `ephemeral` after the handshake and drops the connection on anything
// else. Its first version framed the same maps as JSON (byte strings as base64 text) instead of
// CBOR: length-prefixed over TCP, one message per WebSocket message.
//
// A connection speaks a Go dialect when its join says so (is_go_join, looks_like_json); the hub
// then decodes its frames with decode_go (translated into the current messages) and encodes what
// it sends with encode_go. Current peers never send such a join, so nothing changes for them.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "am/bytes.h"
#include "am/result.h"
#include "repo/core/wire/cbor_codec.h"
#include "repo/core/wire/messages.h"

namespace am::repo::wire {

enum class Dialect : std::uint8_t {
  kCurrent,  // automerge-repo 2.x (JS, samod, us)
  kGoCbor,   // the Go port: CBOR maps, `message` payloads, UUID ids
  kGoJson,   // the Go port's first version: the same maps as JSON text
};
const char* to_string(Dialect dialect);

/// The frame is JSON text (its first non-blank byte is `{`). A CBOR map never starts so: 0x7b is
/// a 27-byte text string, which is no message of any dialect.
bool looks_like_json(ByteView frame);

/// The join is the Go port's: no peerMetadata, no supportedProtocolVersions (JS and samod send
/// both) and a senderId that is UUID text.
bool is_go_join(const JoinMessage& join);

/// Decodes a frame of a Go dialect into the current protocol's message: `message` becomes
/// `data`; document ids may be UUID text (legacy_uuid set); an ephemeral message has count 0 and
/// an empty session id (the hub numbers them per connection). Limits and errors as decode().
Result<Message> decode_go(ByteView frame, Dialect dialect, const DecodeLimits& limits = {});

/// Encodes a message for a Go-dialect peer: join and peer with their senderId only, request and
/// sync as `sync`, ephemeral; ids as they are in `message` except the document id, written as
/// UUID text. nullopt for every other type (the peer would drop the connection on it).
std::optional<Bytes> encode_go(const Message& message, Dialect dialect);

/// The UUID text the Go port uses for a peer id: the id itself when it is UUID text, else the
/// UUIDv5 of it in the OID namespace.
PeerId go_peer_alias(const PeerId& peer);

/// RFC 4122 version-5 UUID (SHA-1) of `name` in `name_space`, as lowercase 8-4-4-4-12 text.
std::string uuid_v5(const std::array<std::uint8_t, 16>& name_space, std::string_view name);
/// The RFC 4122 OID namespace, 6ba7b812-9dad-11d1-80b4-00c04fd430c8.
extern const std::array<std::uint8_t, 16> kUuidNamespaceOid;

}  // namespace am::repo::wire
