/// @file
/// The default limits on what untrusted bytes may cost, named once. Every options struct that
/// has such a limit (DocumentOptions, LoadOptions, RepoOptions, the transports, `amrepo serve`)
/// starts from these, so the library, the server and its documentation agree.
#pragma once

#include <cstddef>
#include <cstdint>

namespace am {

/// What one compressed chunk (a change, or a document's columns) may inflate to: 256 MiB.
/// Beyond it decoding stops with kResourceLimit instead of allocating.
inline constexpr std::size_t kDefaultMaxInflatedBytes = std::size_t{256} << 20;

/// The largest message (transport frame) accepted from a peer: 64 MiB. A first sync message
/// carries a whole document, so this bounds the largest document a peer can send at once.
inline constexpr std::size_t kDefaultMaxMessageBytes = std::size_t{64} << 20;

/// Unsent bytes a connection may hold for a peer that stopped reading before it is closed:
/// 256 MiB.
inline constexpr std::size_t kDefaultMaxQueuedBytes = std::size_t{256} << 20;

/// Objects one document may have: 2^24, fixed (an op names its object in 24 bits). A change
/// or document that would make more is refused with kResourceLimit.
inline constexpr std::uint32_t kMaxObjectsPerDocument = std::uint32_t{1} << 24;

/// One value in a saved document is shorter than this: 256 MiB, fixed (a loaded row keeps the
/// length in 28 bits). A document with a longer one is refused with kResourceLimit.
inline constexpr std::uint64_t kMaxValueBytes = std::uint64_t{1} << 28;

/// The largest JSON text imported into a document: 64 MiB.
inline constexpr std::size_t kDefaultMaxJsonImportBytes = std::size_t{64} << 20;

}  // namespace am
