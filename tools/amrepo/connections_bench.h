// `amrepo bench connections`: what idle connections cost a sync server (issue 20). Many
// WebSocket clients connect, handshake and each open one of a few shared documents, then sit
// idle; the server's RSS and CPU are read from /proc before, after the connections are open,
// after an idle period, and after every client closed. One thread drives every connection
// (epoll, a minimal WebSocket client), so that tens of thousands of them cost the generator
// little and it measures the server, not itself.
#pragma once

#include <cstddef>
#include <string>

namespace amrepo {

/// Options of `amrepo bench connections URL`. The server's process id is required: the
/// figures are the server's resident memory and CPU time.
struct ConnectionsBenchOptions {
  std::string url;                 // ws://HOST:PORT[/PATH] (TLS is not supported here)
  std::size_t connections = 1000;  // clients, each with its own PeerId
  std::size_t docs = 100;          // shared documents, made first; client i opens i % docs
  std::size_t in_flight = 200;     // clients at most in their handshake at once
  double idle_s = 5;               // how long the clients sit idle before closing
  double after_close_s = 2;        // how long to wait after closing before the last reading
  double timeout_s = 120;          // for the opening phase
  int server_pid = 0;
};

/// Runs the workload and prints one JSON line: connections, opened, failed, open_ms,
/// rss_before_kb, rss_open_kb, rss_idle_kb, rss_closed_kb, rss_per_connection_kb (open minus
/// before, per opened connection), cpu_open_s (server CPU while connecting and opening),
/// cpu_idle_s (while idle), cpu_per_connection_ms. Exit code 0 when every client opened its
/// document, kExitNetwork otherwise.
int bench_connections(const ConnectionsBenchOptions& options);

}  // namespace amrepo
