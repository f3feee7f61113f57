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
  std::string storage = "fs";  // fs | sqlite
  std::vector<std::string> peers;
  bool announce = false;
  std::string peer_id;
  std::size_t io_threads = 0;  // 0 = min(4, cores)
};

/// Runs the sync server until SIGINT/SIGTERM; prints "listening ws://HOST:PORT" when ready.
int serve(const ServeOptions& options);

struct ClientOptions {
  std::string server;  // ws://host:port[/path] or tcp://host:port
  std::string data;    // a local repo directory (optional)
  double timeout_s = 10;
};

/// Creates a document (from JSON text, or empty) and prints its automerge: URL once the server
/// has it.
int client_new(const ClientOptions& options, const std::string& json);
/// Prints a document as JSON.
int client_cat(const ClientOptions& options, const std::string& url);

}  // namespace amrepo
