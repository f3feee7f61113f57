// The big-block allocator: how much of a block becomes huge pages, and that released ranges
// leave the rest of the array intact.
#include "core/util/big_alloc.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <thread>
#include <vector>

#include <unistd.h>

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

TEST(BigBlockBytes, LastingBlocksArePaddedByAtMostA64th) {
  // 2 MiB + 1 would need 2 MiB - 1 of padding: kept exact.
  EXPECT_EQ(big_block_bytes(kHugeBlockBytes + 1, BlockUse::kLasting), kHugeBlockBytes + 1);
  EXPECT_EQ(big_block_bytes(15 * kMiB, BlockUse::kLasting), 15 * kMiB);    // 1 MiB > 15/64 MiB
  EXPECT_EQ(big_block_bytes(127 * kMiB, BlockUse::kLasting), 128 * kMiB);  // 1 MiB <= 127/64 MiB
  EXPECT_EQ(big_block_bytes(8 * kMiB, BlockUse::kLasting), 8 * kMiB);      // already whole pages
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

TEST(BigAllocator, ASmallBlockHandsBackOnlyTheWholePagesInsideTheRange) {
  // Under 2 MiB, a block comes from malloc, anywhere in its heap: what goes back is the pages
  // wholly inside [from, to), and every byte outside them keeps its value.
  ScratchVector<std::uint8_t> v(kMiB, 0xab);
  const std::size_t from = 1000;
  const std::size_t to = kMiB / 2 + 123;
  release_elements(v, from, to);
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto base = reinterpret_cast<std::uintptr_t>(v.data());
  const std::size_t first = ((base + from + page - 1) & ~(page - 1)) - base;
  const std::size_t last = ((base + to) & ~(page - 1)) - base;
  ASSERT_LT(first, last);
  for (std::size_t i = 0; i < first; ++i) ASSERT_EQ(v[i], 0xab) << "byte " << i;
  for (std::size_t i = last; i < v.size(); ++i) ASSERT_EQ(v[i], 0xab) << "byte " << i;
  // Released anonymous pages read as zero (Linux's MADV_DONTNEED).
  std::size_t zero = 0;
  for (std::size_t i = first; i < last; ++i) zero += v[i] == 0 ? 1 : 0;
  EXPECT_EQ(zero, last - first);
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

// A slab is the 2 MiB-aligned block that holds p, as BulkBlocks makes them.
std::uintptr_t slab_of(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) & ~std::uintptr_t{kHugeBlockBytes - 1};
}

TEST(BulkBlocks, InactiveScopeLeavesBlocksToMalloc) {
  const std::size_t before = BulkBlocks::live_slabs();
  BulkBlocks scope;  // never activated
  void* p = allocate_big(4096);
  EXPECT_EQ(BulkBlocks::live_slabs(), before);
  free_big(p, 4096);
}

TEST(BulkBlocks, PacksSmallLastingBlocksAndFreesTheSlabWithTheLastBlock) {
  const std::size_t before = BulkBlocks::live_slabs();
  std::vector<std::pair<void*, std::size_t>> blocks;
  {
    BulkBlocks scope;
    scope.activate();
    for (std::size_t i = 1; i <= 100; ++i) {
      const std::size_t bytes = 24 * i;
      auto* p = static_cast<std::uint8_t*>(allocate_big(bytes));
      ASSERT_EQ(reinterpret_cast<std::uintptr_t>(p) % 16, 0u);
      std::fill(p, p + bytes, static_cast<std::uint8_t>(i));
      blocks.emplace_back(p, bytes);
    }
    EXPECT_EQ(BulkBlocks::live_slabs(), before + 1);
    for (const auto& [p, bytes] : blocks) EXPECT_EQ(slab_of(p), slab_of(blocks.front().first));
    // Scratch blocks and blocks above kBulkMaxBlock still come from malloc.
    void* scratch = allocate_big(4096, BlockUse::kScratch);
    void* big = allocate_big(kBulkMaxBlock + 1);
    EXPECT_NE(slab_of(scratch), slab_of(blocks.front().first));
    EXPECT_NE(slab_of(big), slab_of(blocks.front().first));
    free_big(scratch, 4096);
    free_big(big, kBulkMaxBlock + 1);
    EXPECT_EQ(BulkBlocks::live_slabs(), before + 1);
  }
  // The scope has ended; its blocks are still valid and hold what was written.
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const auto* p = static_cast<const std::uint8_t*>(blocks[i].first);
    ASSERT_EQ(p[0], i + 1);
    ASSERT_EQ(p[blocks[i].second - 1], i + 1);
  }
  for (std::size_t i = 0; i + 1 < blocks.size(); ++i) free_big(blocks[i].first, blocks[i].second);
  EXPECT_EQ(BulkBlocks::live_slabs(), before + 1);  // one block still lives in it
  free_big(blocks.back().first, blocks.back().second);
  EXPECT_EQ(BulkBlocks::live_slabs(), before);
}

TEST(BulkBlocks, AFullSlabMakesAnother) {
  const std::size_t before = BulkBlocks::live_slabs();
  std::vector<void*> blocks;
  BulkBlocks scope;
  scope.activate();
  const std::size_t bytes = kBulkMaxBlock;
  for (std::size_t i = 0; i < 2 * kHugeBlockBytes / bytes + 1; ++i) blocks.push_back(allocate_big(bytes));
  EXPECT_GE(BulkBlocks::live_slabs(), before + 2);
  for (void* p : blocks) free_big(p, bytes);
  // The open slab stays until the scope ends; the full ones went with their last block.
  EXPECT_EQ(BulkBlocks::live_slabs(), before + 1);
}

TEST(BulkBlocks, BlocksMayBeFreedOnAnotherThread) {
  const std::size_t before = BulkBlocks::live_slabs();
  std::vector<void*> blocks;
  {
    BulkBlocks scope;
    scope.activate();
    for (int i = 0; i < 64; ++i) blocks.push_back(allocate_big(1000));
  }
  std::thread other([&] {
    for (void* p : blocks) free_big(p, 1000);
  });
  other.join();
  EXPECT_EQ(BulkBlocks::live_slabs(), before);
}

TEST(BulkBlocks, AnInnerScopeTakesOverUntilItEnds) {
  const std::size_t before = BulkBlocks::live_slabs();
  BulkBlocks outer;
  outer.activate();
  void* a = allocate_big(512);
  void* b = nullptr;
  {
    BulkBlocks inner;
    inner.activate();
    b = allocate_big(512);
    EXPECT_NE(slab_of(a), slab_of(b));
  }
  void* c = allocate_big(512);
  EXPECT_EQ(slab_of(a), slab_of(c));
  for (void* p : {a, b, c}) free_big(p, 512);
  EXPECT_EQ(BulkBlocks::live_slabs(), before + 1);  // outer's open slab
}

TEST(BulkBlocks, VectorsGrowAcrossSlabBlocks) {
  const std::size_t before = BulkBlocks::live_slabs();
  {
    BigVector<std::uint32_t> v;
    {
      BulkBlocks scope;
      scope.activate();
      for (std::uint32_t i = 0; i < 50'000; ++i) v.push_back(i);  // reallocates inside slabs
    }
    for (std::uint32_t i = 0; i < 50'000; i += 97) ASSERT_EQ(v[i], i);
    v.resize(200'000, 7);  // over kBulkMaxBlock: leaves the slabs
    EXPECT_EQ(v[49'999], 49'999u);
    EXPECT_EQ(v.back(), 7u);
  }
  EXPECT_EQ(BulkBlocks::live_slabs(), before);
}

}  // namespace
}  // namespace am::core
