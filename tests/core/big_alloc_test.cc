// The big-block allocator: how much of a block becomes huge pages, and that released ranges
// leave the rest of the array intact.
#include "core/util/big_alloc.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>

namespace am::core {
namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

TEST(BigBlockBytes, SmallBlocksAreNeverPadded) {
  EXPECT_EQ(big_block_bytes(1, BlockUse::kScratch), 1u);
  EXPECT_EQ(big_block_bytes(kHugeBlockBytes - 1, BlockUse::kScratch), kHugeBlockBytes - 1);
  EXPECT_EQ(big_block_bytes(kHugeBlockBytes - 1, BlockUse::kLasting), kHugeBlockBytes - 1);
}

TEST(BigBlockBytes, ScratchBlocksAreWholeHugePages) {
  EXPECT_EQ(big_block_bytes(kHugeBlockBytes, BlockUse::kScratch), kHugeBlockBytes);
  EXPECT_EQ(big_block_bytes(kHugeBlockBytes + 1, BlockUse::kScratch), 2 * kHugeBlockBytes);
  EXPECT_EQ(big_block_bytes(7 * kMiB, BlockUse::kScratch), 8 * kMiB);
}

TEST(BigBlockBytes, LastingBlocksArePaddedByAtMostAnEighth) {
  // 2 MiB + 1 would need 2 MiB - 1 of padding: kept exact.
  EXPECT_EQ(big_block_bytes(kHugeBlockBytes + 1, BlockUse::kLasting), kHugeBlockBytes + 1);
  EXPECT_EQ(big_block_bytes(7 * kMiB, BlockUse::kLasting), 7 * kMiB);  // 1 MiB > 7/8 MiB
  EXPECT_EQ(big_block_bytes(15 * kMiB, BlockUse::kLasting), 16 * kMiB);  // 1 MiB <= 15/8 MiB
  EXPECT_EQ(big_block_bytes(16 * kMiB + 1, BlockUse::kLasting), 18 * kMiB);
  EXPECT_EQ(big_block_bytes(8 * kMiB, BlockUse::kLasting), 8 * kMiB);  // already whole pages
}

template <class Vector>
void fill_release_and_check() {
  // 12 MiB: several huge blocks, so releasing the front returns whole blocks.
  Vector v(3 * kMiB);
  std::iota(v.begin(), v.end(), std::uint32_t{0});
  const std::size_t cut = v.size() / 2;
  release_elements(v, 0, cut);
  for (std::size_t i = cut; i < v.size(); i += 4099) ASSERT_EQ(v[i], i) << "element " << i;
  EXPECT_EQ(v.back(), v.size() - 1);
  v.push_back(7);  // grows: a new block, the released front copied as whatever it reads
  EXPECT_EQ(v.back(), 7u);
  EXPECT_EQ(v[v.size() - 2], v.size() - 2);
}

TEST(BigAllocator, LastingVectorsKeepWhatWasNotReleased) { fill_release_and_check<BigVector<std::uint32_t>>(); }

TEST(BigAllocator, ScratchVectorsKeepWhatWasNotReleased) {
  fill_release_and_check<ScratchVector<std::uint32_t>>();
}

TEST(BigAllocator, RebindKeepsTheBlockUse) {
  using Scratch = BigAllocator<std::uint32_t, BlockUse::kScratch>;
  using Rebound = std::allocator_traits<Scratch>::rebind_alloc<std::uint64_t>;
  static_assert(std::is_same_v<Rebound, BigAllocator<std::uint64_t, BlockUse::kScratch>>);
  Rebound a;
  std::uint64_t* p = a.allocate(kHugeBlockBytes / 8 + 1);  // just over one huge block
  p[0] = 1;
  p[kHugeBlockBytes / 8] = 2;
  EXPECT_EQ(p[0] + p[kHugeBlockBytes / 8], 3u);
  a.deallocate(p, kHugeBlockBytes / 8 + 1);
}

}  // namespace
}  // namespace am::core
