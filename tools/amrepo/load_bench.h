// Load generators for sync servers under live collaboration (issue 11, workloads 2 and 3):
// many WebSocket clients editing shared documents, and many fresh clients fetching one big
// document while small edits go on elsewhere. The editors and the fetchers are WsLoadDriver
// clients, all on one thread (ws_load_driver.h: a Repo per client made the generator costlier
// than the server); the uploader and the probes are am::repo clients. All speak the wire
// protocol, so the same program drives `amrepo serve` and the JS sync server.
// bench/server/run.sh runs both against both servers.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "am/repo/ids.h"
#include "am/result.h"

namespace amrepo {

/// Nearest-rank percentiles of latencies in ms (all zero when there are none).
struct LatencySummary {
  std::size_t count = 0;
  double p50 = 0, p99 = 0, max = 0;
};
LatencySummary summarize_latencies(std::vector<double> latencies_ms);

/// A process's CPU time (user + system) and resident memory now and at its peak, read from
/// /proc (same machine). nullopt for pid <= 0 or a process that is gone.
struct ProcessUsage {
  double cpu_s = 0;
  long rss_kb = 0;
  long peak_rss_kb = 0;
};
std::optional<ProcessUsage> process_usage(int pid);

/// Makes `count` small documents through the server at `url` (a client that leaves
/// afterwards) and waits until the server has acknowledged each.
am::Result<std::vector<am::repo::DocumentId>> create_shared_documents(const std::string& url, std::size_t count,
                                                                      std::chrono::milliseconds timeout);

/// `amrepo bench clients URL`: `clients` WebSocket clients, client i on document i % `docs`
/// (documents made first by another client). Each client sets its own key of its document to
/// its next sequence number every `interval_ms`, staggered, for `seconds`. Every other client
/// of that document measures edit-to-visible latency for every sequence number (one it never
/// saw on its own because a later one arrived first counts as seen then). Afterwards it waits
/// until every document's clients have identical heads. Prints one JSON line: edits, latency
/// samples (expected and seen), p50/p99/max, converged, converge_ms, and with `server_pid` the
/// server's CPU seconds during the edit phase and its peak RSS, and the generator's own CPU
/// seconds (edits and convergence).
struct ClientsBenchOptions {
  std::string url;
  std::size_t clients = 500;
  std::size_t docs = 50;
  double interval_ms = 200;
  double seconds = 30;
  double timeout_s = 120;  // setup and convergence, each
  int server_pid = 0;      // 0 = do not read the server's CPU and memory
};
int bench_clients(const ClientsBenchOptions& options);

/// `amrepo bench bigdoc URL FILE`: one client uploads the saved document FILE through the
/// server (until acknowledged); then `fetchers` fresh clients find it at the same moment (time
/// to the first and to the last complete copy: heads equal to the upload's), while a probe
/// client edits a small document every `probe_interval_ms` and a second probe client measures
/// each edit's latency. The fetchers are fetch-only WsLoadDriver clients on one thread at a lower
/// CPU priority (nice 19) than the probes, decoding a document the server sends them all alike
/// once (WsLoadDriver::fetch_only), so that on a small machine the probe measures the server
/// rather than the load generator competing with it. Prints one JSON line.
struct BigDocBenchOptions {
  std::string url;
  std::string file;
  std::size_t fetchers = 20;
  double probe_interval_ms = 20;
  double timeout_s = 300;
  int server_pid = 0;
};
int bench_bigdoc(const BigDocBenchOptions& options);

}  // namespace amrepo
