// The two halves of wire::decode, for the other dialects' codecs inside am_repo_core
// (go_dialect.cc): reading one frame into a map, and building a Message from a map in the
// current dialect's shape. Includes nlohmann/json, so only am_repo_core's .cc files include it.
#pragma once

#include <nlohmann/json.hpp>

#include "am/bytes.h"
#include "am/result.h"
#include "repo/core/wire/cbor_codec.h"

namespace am::repo::wire {

/// One CBOR frame checked against `limits` (size, depth, items, text keys) and read into a map;
/// `undefined` values read as null. Errors as decode()'s.
Result<nlohmann::json> read_cbor_map(ByteView frame, const DecodeLimits& limits);

/// The Message a map in the current dialect's shape describes (keys as docs/wire-protocol.md).
Result<Message> message_from_decoded_map(const nlohmann::json& map);

}  // namespace am::repo::wire
