// CBOR framing of wire messages: one CBOR map per frame (docs/wire-protocol.md).
//
// decode() is lenient the way JS peers need (automerge-repo-protocol spec §1.2) and hardened
// against hostile input: it never throws (other than std::bad_alloc), never recurses deeper than
// DecodeLimits::max_depth, and refuses oversized frames before looking at them.
//
// Errors: ErrorCode::kResourceLimit when a limit is exceeded, ErrorCode::kProtocol for anything
// else (malformed CBOR, not a map, missing `type`, a missing required field, a field of the wrong
// type, an invalid documentId). The message names the message type and the field.
#pragma once

#include <cstddef>

#include "am/bytes.h"
#include "am/limits.h"
#include "am/result.h"
#include "repo/core/wire/messages.h"

namespace am::repo::wire {

struct DecodeLimits {
  /// Larger frames are refused unread. A first sync message carries a whole document, so this is
  /// generous; JS itself has no limit.
  std::size_t max_frame_bytes = kDefaultMaxMessageBytes;
  /// Maximum nesting of arrays, maps, tags and indefinite-length strings (real frames nest at
  /// most 4 deep). Values above 256 act as 256.
  std::size_t max_depth = 16;
  /// Maximum number of CBOR data items in one frame (real frames have a few dozen).
  std::size_t max_items = std::size_t{1} << 16;
};

/// Decodes one frame. Unknown keys are ignored; an unknown `type` gives an UnknownMessage.
Result<Message> decode(ByteView frame, const DecodeLimits& limits = {});

/// Encodes a message as JS decodes it: shortest-form CBOR, byte strings untagged, text ids,
/// absent optionals left out, `count`/`timestamp` as unsigned integers up to 2^32-1 and float64
/// above (as cbor-x writes them; a uint64 would decode to a JS BigInt).
Bytes encode(const Message& message);

}  // namespace am::repo::wire
