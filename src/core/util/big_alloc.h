// BigAllocator: the allocator of the core's large arrays (ops, sequence elements and nodes, the
// loader's rows), which back their big blocks with transparent huge pages.
// Internal to am_core; thread-safe (stateless).
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <vector>

namespace am::core {

/// Bytes from which a block is aligned to, and advised as, huge pages (2 MiB on x86-64 and arm64).
inline constexpr std::size_t kHugeBlockBytes = std::size_t{2} << 20;

/// Allocates `bytes`; from kHugeBlockBytes on, 2 MiB-aligned and advised MADV_HUGEPAGE (Linux;
/// elsewhere and where the kernel declines, plain memory). Loading a long text writes hundreds of
/// megabytes of fresh arrays; with 4 KiB pages, faulting them in was most of the load time on a
/// virtual machine (egwalker-S1: load 0.9 s with, 0.4 s without). Free with free_big(p, bytes).
void* allocate_big(std::size_t bytes);
void free_big(void* p, std::size_t bytes) noexcept;

/// Hands back to the system the memory of bytes [from, to) of a block from allocate_big(bytes),
/// where it covers whole huge blocks (a block under kHugeBlockBytes is left alone). Those bytes
/// read as zero afterwards: the caller must never read them again (a consumed input array).
void release_big_range(void* p, std::size_t bytes, std::size_t from, std::size_t to) noexcept;

/// A std allocator over allocate_big / free_big. Stateless: all instances are equal.
template <class T>
struct BigAllocator {
  using value_type = T;
  BigAllocator() = default;
  template <class U>
  BigAllocator(const BigAllocator<U>&) noexcept {}  // NOLINT: converting, as allocators are
  T* allocate(std::size_t n) { return static_cast<T*>(allocate_big(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { free_big(p, n * sizeof(T)); }
  template <class U>
  friend bool operator==(const BigAllocator&, const BigAllocator<U>&) noexcept {
    return true;
  }
};

/// A vector whose storage comes from BigAllocator.
template <class T>
using BigVector = std::vector<T, BigAllocator<T>>;

/// release_big_range for the elements [from, to) of v. REQUIRES: they are never read again
/// (their bytes become zero); T trivially destructible.
template <class T>
void release_elements(BigVector<T>& v, std::size_t from, std::size_t to) noexcept {
  static_assert(std::is_trivially_destructible_v<T>);
  release_big_range(v.data(), v.capacity() * sizeof(T), from * sizeof(T), to * sizeof(T));
}

}  // namespace am::core
