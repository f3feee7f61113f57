// What a hub sent to one connection, read from its effects (repo/core/hub.h): shared by the
// tests that drive a Hub frame by frame.
#pragma once

#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "repo/core/hub.h"
#include "repo/core/wire/cbor_codec.h"

namespace am::repo::test {

/// The frames of `e` sent to connection `conn`, in order, as sent.
inline std::vector<Bytes> frames_to(const core::HubEffects& e, core::ConnectionId conn) {
  std::vector<Bytes> out;
  for (const auto& [c, bytes] : e.frames) {
    if (c == conn) out.push_back(bytes);
  }
  return out;
}

/// The same frames decoded; one that does not decode is a test failure (and left out).
inline std::vector<wire::Message> messages_to(const core::HubEffects& e, core::ConnectionId conn) {
  std::vector<wire::Message> out;
  for (const Bytes& bytes : frames_to(e, conn)) {
    auto m = wire::decode(bytes);
    EXPECT_TRUE(m);
    if (m) out.push_back(std::move(*m));
  }
  return out;
}

}  // namespace am::repo::test
