#include "core/util/big_alloc.h"

#include <cstdint>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace am::core {

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
  void* p = ::operator new(block, std::align_val_t{kHugeBlockBytes});
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
    ::operator delete(p, std::align_val_t{kHugeBlockBytes});
  }
}

void release_big_range(void* p, std::size_t bytes, std::size_t from, std::size_t to) noexcept {
  if (p == nullptr) return;
  to = to < bytes ? to : bytes;
#if defined(MADV_DONTNEED)
  // A block from kHugeBlockBytes on is 2 MiB-aligned: its whole huge blocks inside [from, to).
  // A smaller one may sit anywhere in malloc's heap: its whole pages inside [from, to).
  static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t unit = bytes < kHugeBlockBytes ? page : kHugeBlockBytes;
  const auto base = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t first = (base + from + unit - 1) & ~(std::uintptr_t{unit} - 1);
  const std::uintptr_t last = (base + to) & ~(std::uintptr_t{unit} - 1);
  if (first >= last) return;
  (void)::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
#else
  (void)bytes;
  (void)from;
#endif
}

}  // namespace am::core
