// `amrepo bench doc FILE` (doc_bench.h).
#include "doc_bench.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

#include "am/document.h"
#include "am/sync.h"
#include "bench.h"
#include "heap_tracker.h"

namespace amrepo {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// A field of /proc/self/status in kB (VmRSS, VmHWM); -1 where unavailable.
long status_kb(const char* field) {
  std::ifstream in("/proc/self/status");
  const std::string prefix = std::string(field) + ":";
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) return std::stol(line.substr(prefix.size()));
  }
  return -1;
}

struct SyncFigures {
  double ms = 0;
  std::size_t bytes = 0, messages = 0;
  std::string error;
};

// As `bench trace`: each round the document's side generates and the empty peer receives, then
// the other way, until neither sends; every message counts.
SyncFigures sync_to_empty_peer(am::Document& doc) {
  SyncFigures f;
  am::Document peer(am::DocumentOptions{am::ActorId::from_hex(std::string(32, 'b')), am::TextUnit::kUtf16});
  am::SyncState ours, theirs;
  const auto start = Clock::now();
  for (int round = 0; round < 100'000; ++round) {
    auto a = am::generate_sync_message(doc, ours);
    if (a) {
      f.bytes += a->size();
      ++f.messages;
      if (auto s = am::receive_sync_message(peer, theirs, *a); !s) return {0, 0, 0, "peer: " + s.error().to_string()};
    }
    auto b = am::generate_sync_message(peer, theirs);
    if (b) {
      f.bytes += b->size();
      ++f.messages;
      if (auto s = am::receive_sync_message(doc, ours, *b); !s) return {0, 0, 0, "document: " + s.error().to_string()};
    }
    if (!a && !b) break;
  }
  f.ms = ms_since(start);
  if (peer.heads() != doc.heads()) f.error = "peer heads differ after sync";
  return f;
}

}  // namespace

int bench_doc(const DocBenchOptions& options) {
  std::ifstream in(options.file, std::ios::binary);
  if (!in) {
    std::cerr << "amrepo: bench doc: cannot read " << options.file << "\n";
    return 4;
  }
  const am::Bytes data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  const long rss_before = status_kb("VmRSS");
  const std::int64_t heap_before = heap::allocator_in_use_bytes();
  const auto t = Clock::now();
  auto doc = am::Document::load(data);
  const double load_ms = ms_since(t);
  const std::int64_t heap_after = heap::allocator_in_use_bytes();
  const long rss_after = status_kb("VmRSS");
  const long peak_rss = status_kb("VmHWM");
  if (!doc) {
    std::cerr << "amrepo: bench doc: " << options.file << ": " << doc.error().to_string() << "\n";
    return 5;
  }
  nlohmann::ordered_json out;
  out["impl"] = "cpp";
  out["file"] = options.file;
  out["file_bytes"] = data.size();
  out["load_ms"] = load_ms;
  const FaultCounter save_faults;
  auto ts = Clock::now();
  const am::Bytes saved = doc->save();
  out["save_ms"] = ms_since(ts);
  const FaultCounter::Figures save_figures = save_faults.since_start();
  out["save_bytes"] = saved.size();
  out["save_minor_faults"] = save_figures.minor_faults;
  out["save_system_ms"] = save_figures.system_ms;
  const SyncFigures sync = sync_to_empty_peer(*doc);
  if (!sync.error.empty()) {
    std::cerr << "amrepo: bench doc: sync to an empty peer failed: " << sync.error << "\n";
    return 1;
  }
  out["sync_ms"] = sync.ms;
  out["sync_bytes"] = sync.bytes;
  out["sync_round_trips"] = sync.messages;
  // The heap peak comes from a second load with the counting allocator on: its bookkeeping (a
  // size lookup and atomics per allocation) made the timed load above up to 45% slower.
  heap::start();
  const bool loaded_again = static_cast<bool>(am::Document::load(data));
  const heap::Stats tracked = heap::stats();
  heap::stop();
  if (!loaded_again) {
    std::cerr << "amrepo: bench doc: " << options.file << ": the second load failed\n";
    return 5;
  }
  out["changes"] = doc->change_count();
  std::vector<std::string> heads;
  for (const am::ChangeHash& h : doc->heads()) heads.push_back(h.to_hex());
  out["heads"] = heads;
  out["rss_before_kb"] = rss_before;
  out["rss_after_load_kb"] = rss_after;
  out["peak_rss_kb"] = peak_rss;
  out["heap_after_load_bytes"] = heap_before < 0 ? -1 : heap_after - heap_before;
  out["heap_peak_bytes"] = tracked.peak;
  std::cout << out.dump() << std::endl;
  return 0;
}

}  // namespace amrepo
