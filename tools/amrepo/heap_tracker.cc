// Replacement global operator new/delete that can count bytes (see heap_tracker.h).
#include "heap_tracker.h"

#include <malloc.h>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace amrepo::heap {
namespace {

std::atomic<bool> g_on{false};
std::atomic<std::int64_t> g_current{0};
std::atomic<std::int64_t> g_peak{0};

void add(void* p) {
  const auto n = static_cast<std::int64_t>(malloc_usable_size(p));
  const std::int64_t now = g_current.fetch_add(n, std::memory_order_relaxed) + n;
  std::int64_t peak = g_peak.load(std::memory_order_relaxed);
  while (now > peak && !g_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

void sub(void* p) {
  g_current.fetch_sub(static_cast<std::int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
}

void* allocate(std::size_t n, std::size_t align, bool nothrow) {
  if (n == 0) n = 1;
  void* p = nullptr;
  if (align <= alignof(std::max_align_t)) {
    p = std::malloc(n);
  } else if (posix_memalign(&p, align, n) != 0) {
    p = nullptr;
  }
  if (!p) {
    if (nothrow) return nullptr;
    throw std::bad_alloc();
  }
  if (g_on.load(std::memory_order_relaxed)) add(p);
  return p;
}

void release(void* p) noexcept {
  if (!p) return;
  if (g_on.load(std::memory_order_relaxed)) sub(p);
  std::free(p);
}

}  // namespace

void start() {
  g_current.store(0, std::memory_order_relaxed);
  g_peak.store(0, std::memory_order_relaxed);
  g_on.store(true, std::memory_order_seq_cst);
}

Stats stats() {
  return {g_current.load(std::memory_order_relaxed), g_peak.load(std::memory_order_relaxed)};
}

void stop() { g_on.store(false, std::memory_order_seq_cst); }

std::int64_t allocator_in_use_bytes() {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  const struct mallinfo2 mi = mallinfo2();
  return static_cast<std::int64_t>(mi.uordblks + mi.hblkhd);
#else
  return -1;
#endif
}

}  // namespace amrepo::heap

// The replaceable global allocation functions ([new.delete]); every form routes to the two above.
void* operator new(std::size_t n) { return amrepo::heap::allocate(n, 0, false); }
void* operator new[](std::size_t n) { return amrepo::heap::allocate(n, 0, false); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return amrepo::heap::allocate(n, 0, true); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return amrepo::heap::allocate(n, 0, true); }
void* operator new(std::size_t n, std::align_val_t a) { return amrepo::heap::allocate(n, static_cast<std::size_t>(a), false); }
void* operator new[](std::size_t n, std::align_val_t a) { return amrepo::heap::allocate(n, static_cast<std::size_t>(a), false); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return amrepo::heap::allocate(n, static_cast<std::size_t>(a), true);
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return amrepo::heap::allocate(n, static_cast<std::size_t>(a), true);
}
void operator delete(void* p) noexcept { amrepo::heap::release(p); }
void operator delete[](void* p) noexcept { amrepo::heap::release(p); }
void operator delete(void* p, std::size_t) noexcept { amrepo::heap::release(p); }
void operator delete[](void* p, std::size_t) noexcept { amrepo::heap::release(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { amrepo::heap::release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { amrepo::heap::release(p); }
void operator delete(void* p, std::align_val_t) noexcept { amrepo::heap::release(p); }
void operator delete[](void* p, std::align_val_t) noexcept { amrepo::heap::release(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { amrepo::heap::release(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { amrepo::heap::release(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { amrepo::heap::release(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { amrepo::heap::release(p); }
