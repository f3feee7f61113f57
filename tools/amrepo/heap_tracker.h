// Heap accounting for amrepo's memory benchmarks (`bench battery` memory group, `bench doc`).
//
// amrepo replaces the global operator new/delete (heap_tracker.cc) with thin wrappers around
// malloc/free. While tracking is on, each allocation adds its usable size (malloc_usable_size)
// to a running total and each deallocation subtracts it, and the highest total is kept. What
// this measures: the net bytes requested through C++ new/delete (every std::vector, string and
// node of the library) since start(), and the highest that figure reached. What it does not
// measure: memory taken with malloc directly (zlib's inflate state), allocator overhead and
// fragmentation, or memory returned to the allocator but still resident. A block allocated
// before start() and freed while tracking counts negative, so figures are net growth.
// Off (the default), the wrappers cost one relaxed atomic load per call.
#pragma once

#include <cstdint>

namespace amrepo::heap {

/// Net tracked bytes now and the highest they reached since start().
struct Stats {
  std::int64_t current = 0;
  std::int64_t peak = 0;
};

/// Zeroes both figures and turns tracking on (all threads).
void start();
/// The figures so far (tracking stays on).
Stats stats();
/// Turns tracking off.
void stop();
/// Bytes in use by the allocator now (glibc mallinfo2: uordblks + hblkhd), every allocation
/// of the process including those made with malloc; -1 where unavailable.
std::int64_t allocator_in_use_bytes();

}  // namespace amrepo::heap
