// BigAllocator: the allocator of the core's large arrays (ops, sequence elements and nodes, the
// loader's rows), which back their big blocks with transparent huge pages.
// Internal to am_core; thread-safe (stateless).
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <vector>

namespace am::core {

/// Bytes from which a block is aligned to, and advised as, huge pages (2 MiB on x86-64 and arm64).
inline constexpr std::size_t kHugeBlockBytes = std::size_t{2} << 20;

/// What a block is for, which decides how much of it becomes huge pages (allocate_big).
enum class BlockUse : std::uint8_t {
  kLasting,  // kept with the document (the op set's arrays): padded only when that adds <= 1/64
  kScratch,  // freed when the work ends (a loader's rows): always padded to whole huge pages
};

/// Allocates `bytes`; from kHugeBlockBytes on, 2 MiB-aligned and advised MADV_HUGEPAGE (Linux;
/// elsewhere and where the kernel declines, plain memory). Loading a long text writes hundreds of
/// megabytes of fresh arrays; with 4 KiB pages, faulting them in was most of the load time on a
/// virtual machine (egwalker-S1: load 0.9 s with, 0.4 s without). The block is padded to whole
/// huge pages as `use` says: a tail in 4 KiB pages costs a fault per page, padding costs resident
/// memory once the tail is touched. Free with free_big(p, bytes).
void* allocate_big(std::size_t bytes, BlockUse use = BlockUse::kLasting);
/// The bytes allocate_big(bytes, use) takes: `bytes` below kHugeBlockBytes; from there, rounded
/// up to whole huge pages for kScratch, and for kLasting when that adds at most bytes / 64: a
/// padded tail becomes resident as a whole huge page once the array's last element is written,
/// and a document keeps it (at 1/8, egwalker-A1 kept up to 6 MB more after its load).
std::size_t big_block_bytes(std::size_t bytes, BlockUse use);
void free_big(void* p, std::size_t bytes) noexcept;

/// Hands back to the system the memory of bytes [from, to) of a block from allocate_big(bytes):
/// the whole huge blocks inside it, or for a block under kHugeBlockBytes (which malloc may have
/// placed in the middle of its heap, where freeing it would leave its pages resident) the whole
/// pages inside it. Those bytes read as zero afterwards: the caller must never read them again
/// (a consumed input array).
void release_big_range(void* p, std::size_t bytes, std::size_t from, std::size_t to) noexcept;

/// Blocks under this size are the ones a BulkBlocks scope packs into slabs.
inline constexpr std::size_t kBulkMaxBlock = std::size_t{256} << 10;

/// While a BulkBlocks is active on a thread, allocate_big(bytes, kLasting) with bytes <=
/// kBulkMaxBlock on that thread carves the block out of 2 MiB huge-page slabs instead of taking
/// it from malloc. A loader that makes thousands of small per-object arrays (battery-webstraits:
/// 6,700 sequences, 32 MB in blocks of a few KiB) would otherwise fault each in 4 KiB at a time,
/// and a fault costs 10-15 us on a virtual machine. Blocks stay valid after the scope ends and may
/// be freed from any thread (free_big); a slab goes back to the system with its last block. Space
/// freed inside a slab is not reused, so use it for blocks that live as long as what is built.
/// Not copyable or movable; a scope made while another is active on the thread takes over until
/// it ends. Thread-safe across threads; each scope belongs to the thread that made it.
class BulkBlocks {
 public:
  BulkBlocks() = default;
  ~BulkBlocks();
  BulkBlocks(const BulkBlocks&) = delete;
  BulkBlocks& operator=(const BulkBlocks&) = delete;

  /// Starts packing on this thread (idempotent). Until then the scope does nothing.
  void activate();
  bool active() const { return active_; }

  /// The slabs that exist now, process-wide (for tests and diagnostics).
  static std::size_t live_slabs();

 private:
  friend void* allocate_big(std::size_t bytes, BlockUse use);
  friend void free_big(void* p, std::size_t bytes) noexcept;
  static BulkBlocks* current();
  void* allocate(std::size_t bytes);
  void close_slab();
  // Frees `p` when it lies in a slab; false when it does not.
  static bool free_if_bulk(void* p, std::size_t bytes) noexcept;

  BulkBlocks* previous_ = nullptr;
  char* slab_ = nullptr;  // the slab being filled
  std::size_t used_ = 0;  // bytes of it handed out
  bool active_ = false;
};

/// A byte buffer from allocate_big(n, kScratch) whose bytes are left uninitialised when it is
/// resized: for output a decompressor writes (zeroing first would touch, and fault in, every
/// page of a guess that may be far too big). Move-only; not thread-safe.
class ScratchBytes {
 public:
  ScratchBytes() = default;
  ~ScratchBytes() { free_big(data_, capacity_); }
  ScratchBytes(ScratchBytes&& o) noexcept : data_(o.data_), size_(o.size_), capacity_(o.capacity_) {
    o.data_ = nullptr;
    o.size_ = o.capacity_ = 0;
  }
  ScratchBytes& operator=(ScratchBytes&& o) noexcept {
    if (this != &o) {
      free_big(data_, capacity_);
      data_ = o.data_;
      size_ = o.size_;
      capacity_ = o.capacity_;
      o.data_ = nullptr;
      o.size_ = o.capacity_ = 0;
    }
    return *this;
  }
  ScratchBytes(const ScratchBytes&) = delete;
  ScratchBytes& operator=(const ScratchBytes&) = delete;

  /// n bytes of unspecified content; what was in the buffer is lost when n exceeds capacity().
  void resize_discarding(std::size_t n) {
    if (n > capacity_) {
      free_big(data_, capacity_);
      data_ = nullptr;
      capacity_ = 0;
      data_ = static_cast<std::uint8_t*>(allocate_big(n, BlockUse::kScratch));
      capacity_ = n;
    }
    size_ = n;
  }
  /// Keeps the first n bytes. REQUIRES: n <= size().
  void shrink(std::size_t n) { size_ = n; }

  std::uint8_t* data() { return data_; }
  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return capacity_; }

 private:
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

/// A std allocator over allocate_big / free_big for blocks used as `kUse` says. Stateless: all
/// instances are equal.
template <class T, BlockUse kUse = BlockUse::kLasting>
struct BigAllocator {
  using value_type = T;
  template <class U>
  struct rebind {
    using other = BigAllocator<U, kUse>;
  };
  BigAllocator() = default;
  template <class U>
  BigAllocator(const BigAllocator<U, kUse>&) noexcept {}  // NOLINT: converting, as allocators are
  T* allocate(std::size_t n) { return static_cast<T*>(allocate_big(n * sizeof(T), kUse)); }
  void deallocate(T* p, std::size_t n) noexcept { free_big(p, n * sizeof(T)); }
  template <class U>
  friend bool operator==(const BigAllocator&, const BigAllocator<U, kUse>&) noexcept {
    return true;
  }
};

/// A vector whose storage comes from BigAllocator: for arrays kept with a document.
template <class T>
using BigVector = std::vector<T, BigAllocator<T>>;
/// The same for arrays freed when the work that made them ends (a loader's rows).
template <class T>
using ScratchVector = std::vector<T, BigAllocator<T, BlockUse::kScratch>>;

/// release_big_range for the elements [from, to) of v. REQUIRES: they are never read again
/// (their bytes become zero); T trivially destructible.
template <class T, BlockUse kUse>
void release_elements(std::vector<T, BigAllocator<T, kUse>>& v, std::size_t from, std::size_t to) noexcept {
  static_assert(std::is_trivially_destructible_v<T>);
  release_big_range(v.data(), v.capacity() * sizeof(T), from * sizeof(T), to * sizeof(T));
}

/// release_elements for all of v's block, the padding after its last element included (a
/// kScratch block is whole huge pages). REQUIRES: v is never read again.
template <class T>
void release_block(std::vector<T, BigAllocator<T, BlockUse::kScratch>>& v) noexcept {
  static_assert(std::is_trivially_destructible_v<T>);
  const std::size_t block = big_block_bytes(v.capacity() * sizeof(T), BlockUse::kScratch);
  release_big_range(v.data(), block, 0, block);
}

/// Empties `v` and gives its storage back. (`v = {}` does not: it assigns an empty list and
/// keeps the capacity.)
template <class V>
void release_all(V& v) noexcept {
  V().swap(v);
}

}  // namespace am::core
