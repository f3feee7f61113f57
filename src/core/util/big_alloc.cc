#include "core/util/big_alloc.h"

#include <atomic>
#include <cstdint>

#if defined(__linux__)
#include <sys/mman.h>
#endif

// Huge blocks are mapped here rather than taken from malloc. glibc maps a large malloc block
// itself, but freeing one raises its mmap threshold to that block's size, after which blocks
// below it come from the heap, whose freed middle is never given back: a loader that frees
// 2-8 MB arrays left 5 MB of egwalker-A1's rows resident after the load (and the document's
// own big arrays would land there too). Under AddressSanitizer they stay malloc blocks, so
// that its leak and overflow checks cover them.
#if defined(__linux__) && !defined(__SANITIZE_ADDRESS__)
#define AM_MAP_HUGE_BLOCKS 1
#endif

namespace am::core {

namespace {

std::size_t whole_huge_blocks(std::size_t bytes) { return (bytes + kHugeBlockBytes - 1) & ~(kHugeBlockBytes - 1); }

std::atomic<std::size_t> g_mapped{0};
std::atomic<HugeBlockHook> g_hook{nullptr};

[[maybe_unused]] void note_mapped(std::int64_t delta) {
  g_mapped.fetch_add(static_cast<std::size_t>(delta), std::memory_order_relaxed);
  if (const HugeBlockHook hook = g_hook.load(std::memory_order_acquire)) hook(delta);
}

}  // namespace

std::size_t huge_bytes_mapped() { return g_mapped.load(std::memory_order_relaxed); }

void set_huge_block_hook(HugeBlockHook hook) { g_hook.store(hook, std::memory_order_release); }

void* allocate_huge_aligned(std::size_t bytes) {
#if defined(AM_MAP_HUGE_BLOCKS)
  // Maps one huge block more than needed and trims it to a 2 MiB boundary.
  const std::size_t mapped = whole_huge_blocks(bytes);
  const std::size_t span = mapped + kHugeBlockBytes;
  void* raw = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = (start + kHugeBlockBytes - 1) & ~std::uintptr_t{kHugeBlockBytes - 1};
  const std::size_t head = aligned - start;
  const std::size_t tail = span - head - mapped;
  if (head != 0) (void)::munmap(raw, head);
  if (tail != 0) (void)::munmap(reinterpret_cast<void*>(aligned + mapped), tail);
  note_mapped(static_cast<std::int64_t>(mapped));
  return reinterpret_cast<void*>(aligned);
#else
  return ::operator new(bytes, std::align_val_t{kHugeBlockBytes});
#endif
}

void free_huge_aligned(void* p, std::size_t bytes) noexcept {
#if defined(AM_MAP_HUGE_BLOCKS)
  (void)::munmap(p, whole_huge_blocks(bytes));
  note_mapped(-static_cast<std::int64_t>(whole_huge_blocks(bytes)));
#else
  (void)bytes;
  ::operator delete(p, std::align_val_t{kHugeBlockBytes});
#endif
}

std::size_t big_block_bytes(std::size_t bytes, BlockUse use) {
  if (bytes < kHugeBlockBytes) return bytes;
  const std::size_t padded = (bytes + kHugeBlockBytes - 1) & ~(kHugeBlockBytes - 1);
  return use == BlockUse::kScratch || padded - bytes <= bytes / 64 ? padded : bytes;
}

void* allocate_big(std::size_t bytes, BlockUse use) {
  if (bytes < kHugeBlockBytes) {
    BulkBlocks* bulk = use == BlockUse::kLasting && bytes <= kBulkMaxBlock ? BulkBlocks::current() : nullptr;
    return bulk != nullptr ? bulk->allocate(bytes) : ::operator new(bytes);
  }
  const std::size_t block = big_block_bytes(bytes, use);
  void* p = allocate_huge_aligned(block);
#if defined(MADV_HUGEPAGE)
  // Only whole 2 MiB stretches become huge pages; an unpadded tail keeps 4 KiB pages.
  const std::size_t whole = block & ~(kHugeBlockBytes - 1);
  (void)::madvise(p, whole, MADV_HUGEPAGE);  // advice: a refusal leaves ordinary pages
#endif
  return p;
}

void free_big(void* p, std::size_t bytes) noexcept {
  if (p == nullptr) return;
  if (bytes < kHugeBlockBytes) {
    if (bytes <= kBulkMaxBlock && BulkBlocks::free_if_bulk(p, bytes)) return;
    ::operator delete(p);
  } else {
    free_huge_aligned(p, bytes);
  }
}

void release_big_range(void* p, std::size_t bytes, std::size_t from, std::size_t to) noexcept {
  if (p == nullptr || bytes < kHugeBlockBytes) return;
  to = to < bytes ? to : bytes;
  // p is 2 MiB-aligned: release the whole blocks inside [from, to).
  const std::size_t first = (from + kHugeBlockBytes - 1) & ~(kHugeBlockBytes - 1);
  const std::size_t last = to & ~(kHugeBlockBytes - 1);
  if (first >= last) return;
#if defined(MADV_DONTNEED)
  (void)::madvise(static_cast<char*>(p) + first, last - first, MADV_DONTNEED);
#endif
}

}  // namespace am::core
