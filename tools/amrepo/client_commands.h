// amrepo's client commands (new, cat, set, del, incr, splice, edit, watch, broadcast, ls, rm):
// each opens a client repo on a server and/or a local store (docs/cli.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace amrepo {

struct ClientOptions {
  std::string server;  // ws[s]://host:port[/path] or tcp://host:port
  std::string data;    // a local repo: a store name (store.h), optional
  double timeout_s = 10;
  std::string token;   // bearer token for a server that requires one
  std::string ca_file;  // trust for a wss:// server (default: the system's CAs)
  bool remote_heads = false;  // RepoOptions::enable_remote_heads_gossiping (watch --remote-heads)
};

/// What `watch` prints besides changes.
struct WatchOptions {
  bool ephemeral = false;   // ephemeral messages
  std::size_t count = 0;    // exit after this many changes (0: at Ctrl-C)
  bool remote_heads = false;  // remote-heads events (ClientOptions::remote_heads must be set too)
  /// StorageIds to subscribe to with remote_heads; empty: the server's.
  std::vector<std::string> storage_ids;
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

/// Prints one JSON line per change (and, as `watch` asks, per ephemeral message and per
/// remote-heads event: {"type":"remote-heads","storageId":...,"heads":[...],"timestamp":...}) until
/// SIGINT/SIGTERM, or until `count` change lines (0 = no limit).
int client_watch(const ClientOptions& options, const std::string& url, const WatchOptions& watch);

/// Sends one ephemeral message (CBOR of the JSON value, as JS handle.broadcast does).
int client_broadcast(const ClientOptions& options, const std::string& url, const std::string& json);

/// Lists the documents of a --data repo (one automerge: URL per line) / removes one.
int client_ls(const ClientOptions& options);
int client_rm(const ClientOptions& options, const std::string& url);

}  // namespace amrepo
