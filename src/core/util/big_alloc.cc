#include "core/util/big_alloc.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace am::core {

void* allocate_big(std::size_t bytes) {
  if (bytes < kHugeBlockBytes) return ::operator new(bytes);
  void* p = ::operator new(bytes, std::align_val_t{kHugeBlockBytes});
#if defined(MADV_HUGEPAGE)
  // Only whole 2 MiB stretches become huge pages; a partial tail keeps 4 KiB pages, so nothing
  // is rounded up and resident memory stays what is touched (to within one huge page).
  const std::size_t whole = bytes & ~(kHugeBlockBytes - 1);
  (void)::madvise(p, whole, MADV_HUGEPAGE);  // advice: a refusal leaves ordinary pages
#endif
  return p;
}

void free_big(void* p, std::size_t bytes) noexcept {
  if (p == nullptr) return;
  if (bytes < kHugeBlockBytes) {
    ::operator delete(p);
  } else {
    ::operator delete(p, std::align_val_t{kHugeBlockBytes});
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
