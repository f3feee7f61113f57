// `amrepo serve`: the sync server (docs/cli.md). Options, the malloc set-up and the run loop.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "am/limits.h"

namespace amrepo {

struct ServeOptions {
  std::string listen = "127.0.0.1:3030";  // WebSocket; empty = off
  std::string tcp;                        // length-prefixed TCP; empty = off
  std::string data = "amrepo-data";  // a store name (store.h)
  bool memory = false;
  std::string storage = "fs";  // fs | sqlite | postgres
  std::string pg;              // libpq connection string, for storage == "postgres"
  std::vector<std::string> peers;
  bool announce = false;
  bool remote_heads = false;  // remote-heads gossip (RepoOptions::enable_remote_heads_gossiping)
  std::string peer_id;
  std::size_t io_threads = 0;  // 0 = min(4, cores)
  std::size_t storage_threads = 2;
  bool trace_messages = false;  // one JSON line per protocol message on stdout
  std::string log_level = "info";  // error | warn | info | debug (stderr)
  std::string auth_token_file;     // require a bearer token from these (access_rules.h)
  std::string access_rules;        // per-principal, per-document access (needs auth_token_file)
  std::size_t max_connections = 10000;  // per listener; 0 = no limit
  double max_doc_opens = 1000;          // per connection per second; 0 = no limit
  std::size_t max_message_bytes = am::kDefaultMaxMessageBytes;  // largest frame accepted from a peer
  std::size_t max_queued_bytes = am::kDefaultMaxQueuedBytes;  // unsent bytes per peer before it is dropped
  std::size_t handshake_timeout_ms = 10000;               // TLS + upgrade + join, or TCP credentials
  std::size_t max_inflated_bytes = am::kDefaultMaxInflatedBytes;  // decompression cap per chunk
  std::string legacy_peers = "go";  // "go": speak the Go port's dialect to its peers; "off"
  std::size_t idle_timeout_s = 300;  // documents idle this long with no peer leave memory; 0 = never
  std::string peer_token;          // presented to every --peer
  std::string tls_cert;            // with tls_key: the WebSocket listener is wss://
  std::string tls_key;
  std::string ca_file;             // trust for wss:// peers (default: the system's CAs)
  std::string admin_token_file;     // status page: ids shown to requests carrying this file's token
  std::string log_format = "text";  // text | json (one object per line on stderr)
  std::string config_file;          // TOML file with the same keys (serve_options.h)
  bool print_config = false;        // print the effective configuration and exit
};

/// Runs the sync server until SIGINT/SIGTERM; prints "listening ws://HOST:PORT" when ready.
int serve(const ServeOptions& options);

/// Before `serve`, with main's argv: on glibc, starts this program again (same pid, same
/// arguments) with the allocator's per-thread caches off (GLIBC_TUNABLES
/// glibc.malloc.tcache_count=0), which only the environment at start can set, so that an idle
/// server can hand its memory back (docs/benchmarks.md, idle memory). Returns without doing
/// anything when GLIBC_TUNABLES already sets tcache_count (the operator's choice wins), when
/// this is the restarted process, or when the restart fails.
void restart_with_server_malloc_settings(char** argv);

}  // namespace amrepo
