// `amrepo bench doc FILE`: load, save and sync figures and memory for one document, in a fresh
// process (bench/battery/docs.sh runs it and its JS twin over the corpus, docs/benchmarks.md).
#pragma once

#include <string>

namespace amrepo {

/// Options of `amrepo bench doc`.
struct DocBenchOptions {
  std::string file;  // a saved document
};

/// Reads FILE, then (first thing after reading) loads it with full verification, saves it, and
/// syncs it to a new empty peer with fresh sync states. Prints one JSON line: file_bytes,
/// load_ms, save_ms, save_bytes, save_minor_faults and save_system_ms (bench.h's FaultCounter),
/// sync_ms, sync_bytes, sync_round_trips (messages), changes, heads, rss_before_kb,
/// rss_after_load_kb, peak_rss_kb (process high-water mark right after the load),
/// heap_after_load_bytes (allocator bytes in use after minus before the load, glibc mallinfo2),
/// heap_peak_bytes (highest net bytes allocated through operator new during the load,
/// heap_tracker.h). Returns the exit code (5 when the document does not load).
int bench_doc(const DocBenchOptions& options);

}  // namespace amrepo
