// Server workloads of `amrepo bench`: many documents through one server, and servers sharing
// one store (docs/benchmarks.md).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace amrepo {

/// `amrepo bench server URL`: the "many documents" workload against a sync server (issue 11).
/// Phase create: one client makes `docs` small documents and waits until the server has each.
/// Phase find: a fresh client finds them all (concurrently). Prints one JSON line.
struct ServerBenchOptions {
  std::string url;
  std::size_t docs = 1000;
  std::string ids_out;  // write the created documents' ids here (one per line)
  std::string ids_in;   // skip creating: find the ids in this file
  double timeout_s = 300;
};
int bench_server(const ServerBenchOptions& options);

/// `amrepo bench cluster URL...`: servers sharing one store (amrepo serve --storage postgres),
/// one client per server. Phase create: `docs` small documents made round-robin through the
/// clients, each waited for until its server acknowledged it (documents per second). Phase
/// fanout: a client of the first server changes one document `edits` times, one at a time; a
/// client of the second server (of the first when there is one) sees each change through
/// on_change: p50/p99/max latency. Prints one JSON line per phase.
struct ClusterBenchOptions {
  std::vector<std::string> urls;
  std::size_t docs = 500;
  std::size_t edits = 200;
  double timeout_s = 300;
};
int bench_cluster(const ClusterBenchOptions& options);

}  // namespace amrepo
