// BulkBlocks: small blocks packed into huge-page slabs (see big_alloc.h).
#include <atomic>
#include <cstdint>
#include <mutex>
#include <new>
#include <unordered_map>

#include "core/util/big_alloc.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AM_BULK_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define AM_BULK_ASAN 1
#endif
#if defined(AM_BULK_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace am::core {

namespace {

constexpr std::size_t kSlabBytes = kHugeBlockBytes;
constexpr std::size_t kAlign = 16;
#if defined(AM_BULK_ASAN)
// A poisoned gap after every block, so that AddressSanitizer still sees overruns.
constexpr std::size_t kRedzone = 32;
void poison(void* p, std::size_t n) { ASAN_POISON_MEMORY_REGION(p, n); }
void unpoison(void* p, std::size_t n) { ASAN_UNPOISON_MEMORY_REGION(p, n); }
#else
constexpr std::size_t kRedzone = 0;
void poison(void*, std::size_t) {}
void unpoison(void*, std::size_t) {}
#endif

struct SlabState {
  std::uint32_t live = 0;  // blocks handed out and not yet freed
  bool open = true;        // a scope still carves from it
};

// Every slab, by base address. Leaked on purpose: blocks may be freed during static destruction.
struct Registry {
  std::mutex mutex;
  std::unordered_map<std::uintptr_t, SlabState> slabs;
  std::atomic<std::size_t> count{0};  // slabs.size(), read without the lock
};
Registry& registry() {
  static Registry* r = new Registry;
  return *r;
}

thread_local BulkBlocks* t_current = nullptr;

void free_slab(std::uintptr_t base) {
  unpoison(reinterpret_cast<void*>(base), kSlabBytes);
  ::operator delete(reinterpret_cast<void*>(base), std::align_val_t{kHugeBlockBytes});
}

}  // namespace

BulkBlocks* BulkBlocks::current() { return t_current; }

void BulkBlocks::activate() {
  if (active_) return;
  active_ = true;
  previous_ = t_current;
  t_current = this;
}

BulkBlocks::~BulkBlocks() {
  if (!active_) return;
  close_slab();
  t_current = previous_;
}

std::size_t BulkBlocks::live_slabs() { return registry().count.load(std::memory_order_relaxed); }

void* BulkBlocks::allocate(std::size_t bytes) {
  const std::size_t take = ((bytes + kAlign - 1) & ~(kAlign - 1)) + kRedzone;
  if (slab_ == nullptr || used_ + take > kSlabBytes) {
    close_slab();
    slab_ = static_cast<char*>(::operator new(kSlabBytes, std::align_val_t{kHugeBlockBytes}));
#if defined(MADV_HUGEPAGE)
    (void)::madvise(slab_, kSlabBytes, MADV_HUGEPAGE);  // advice: a refusal leaves ordinary pages
#endif
    poison(slab_, kSlabBytes);
    used_ = 0;
    Registry& r = registry();
    const std::lock_guard<std::mutex> lock(r.mutex);
    r.slabs.emplace(reinterpret_cast<std::uintptr_t>(slab_), SlabState{});
    r.count.store(r.slabs.size(), std::memory_order_relaxed);
  }
  char* p = slab_ + used_;
  used_ += take;
  {
    Registry& r = registry();
    const std::lock_guard<std::mutex> lock(r.mutex);
    ++r.slabs.at(reinterpret_cast<std::uintptr_t>(slab_)).live;
  }
  unpoison(p, bytes);
  return p;
}

void BulkBlocks::close_slab() {
  if (slab_ == nullptr) return;
  const auto base = reinterpret_cast<std::uintptr_t>(slab_);
  slab_ = nullptr;
  Registry& r = registry();
  bool unused = false;
  {
    const std::lock_guard<std::mutex> lock(r.mutex);
    auto it = r.slabs.find(base);
    it->second.open = false;
    if (it->second.live == 0) {
      r.slabs.erase(it);
      r.count.store(r.slabs.size(), std::memory_order_relaxed);
      unused = true;
    }
  }
  if (unused) free_slab(base);
}

bool BulkBlocks::free_if_bulk(void* p, std::size_t bytes) noexcept {
  Registry& r = registry();
  if (r.count.load(std::memory_order_relaxed) == 0) return false;  // no slab: a malloc block
  // A slab is one aligned huge block, so a block in it shares its base.
  const std::uintptr_t base = reinterpret_cast<std::uintptr_t>(p) & ~std::uintptr_t{kSlabBytes - 1};
  bool empty = false;
  {
    const std::lock_guard<std::mutex> lock(r.mutex);
    auto it = r.slabs.find(base);
    if (it == r.slabs.end()) return false;
    poison(p, bytes);
    if (--it->second.live == 0 && !it->second.open) {
      r.slabs.erase(it);
      r.count.store(r.slabs.size(), std::memory_order_relaxed);
      empty = true;
    }
  }
  if (empty) free_slab(base);
  return true;
}

}  // namespace am::core
