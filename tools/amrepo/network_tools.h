// Network commands of amrepo: the sync server (serve) and the client commands (docs/cli.md).
#pragma once

#include <string>
#include <vector>

namespace amrepo {

struct ServeOptions {
  std::string listen = "127.0.0.1:3030";  // WebSocket; empty = off
  std::string tcp;                        // length-prefixed TCP; empty = off
  std::string data = "amrepo-data";
  bool memory = false;
  std::string storage = "fs";  // fs | sqlite | postgres
  std::string pg;              // libpq connection string, for storage == "postgres"
  std::vector<std::string> peers;
  bool announce = false;
  std::string peer_id;
  std::size_t io_threads = 0;  // 0 = min(4, cores)
  bool trace_messages = false;  // one JSON line per protocol message on stdout
  std::string log_level = "info";  // error | warn | info | debug (stderr)
  std::string auth_token_file;     // require a bearer token from these (access_rules.h)
  std::string access_rules;        // per-principal, per-document access (needs auth_token_file)
  std::size_t max_connections = 10000;  // per listener; 0 = no limit
  double max_doc_opens = 1000;          // per connection per second; 0 = no limit
  std::size_t max_message_bytes = std::size_t{64} << 20;  // largest frame accepted from a peer
  std::size_t max_queued_bytes = std::size_t{256} << 20;  // unsent bytes per peer before it is dropped
  std::size_t handshake_timeout_ms = 10000;               // TLS + upgrade + join, or TCP credentials
  std::size_t max_inflated_bytes = std::size_t{256} << 20;  // decompression cap per chunk
  std::size_t idle_timeout_s = 300;  // documents idle this long with no peer leave memory; 0 = never
  std::string peer_token;          // presented to every --peer
  std::string tls_cert;            // with tls_key: the WebSocket listener is wss://
  std::string tls_key;
  std::string ca_file;             // trust for wss:// peers (default: the system's CAs)
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

struct ClientOptions {
  std::string server;  // ws[s]://host:port[/path] or tcp://host:port
  std::string data;    // a local repo directory (optional)
  double timeout_s = 10;
  std::string token;   // bearer token for a server that requires one
  std::string ca_file;  // trust for a wss:// server (default: the system's CAs)
};

/// Creates a document (from JSON text, or empty) and prints its automerge: URL once the server
/// has it.
int client_new(const ClientOptions& options, const std::string& json);
/// Prints a document (or the sub-tree at `path`) as JSON.
int client_cat(const ClientOptions& options, const std::string& url, const std::string& path = "");

/// One edit of a document by path (set, del, incr, splice); exits once the server has it.
struct EditCommand {
  enum class Kind { kSet, kDelete, kIncrement, kSplice } kind = Kind::kSet;
  std::string path;
  std::string json;  // kSet
  std::int64_t by = 1;  // kIncrement
  std::size_t pos = 0, del = 0;  // kSplice
  std::string text;  // kSplice
};
int client_edit(const ClientOptions& options, const std::string& url, const EditCommand& edit);

/// Opens $VISUAL/$EDITOR (default vi) on the document's JSON and applies what changed, with few
/// ops (see apply_json_diff). Invalid JSON changes nothing and keeps the edited file.
int client_editor(const ClientOptions& options, const std::string& url);

/// Prints one JSON line per change (and, with `ephemeral`, per ephemeral message) until
/// SIGINT/SIGTERM, or until `count` change lines (0 = no limit).
int client_watch(const ClientOptions& options, const std::string& url, bool ephemeral, std::size_t count);

/// Sends one ephemeral message (CBOR of the JSON value, as JS handle.broadcast does).
int client_broadcast(const ClientOptions& options, const std::string& url, const std::string& json);

/// Lists the documents of a --data repo (one automerge: URL per line) / removes one.
int client_ls(const ClientOptions& options);
int client_rm(const ClientOptions& options, const std::string& url);

}  // namespace amrepo

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
