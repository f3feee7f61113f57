// A client repo of amrepo's client commands: connected to the chosen server (client_server.h)
// and/or opened on a local store, with the shared "find the document named on the command line"
// step and the JSON views the commands print.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "am/document.h"
#include "am/repo/repo.h"
#include "client_commands.h"

namespace amrepo {

/// A client repo and, once the handshake completed, the server's PeerId and StorageId (none
/// without a server).
struct ClientSession {
  std::unique_ptr<am::repo::Repo> repo;
  std::optional<am::repo::PeerId> server;
  std::optional<am::repo::StorageId> server_storage_id;  // the server's store, if it has one
};

/// Opens the session's repo (on --data when given) and connects to the chosen server, waiting for
/// the handshake. Returns an exit code (file_tools.h), having printed the error.
int open_client(const ClientOptions& options, ClientSession& session);

/// Parses `url` (before connecting: a typo fails fast), opens the session and finds the document.
/// Returns an exit code, having printed the error.
int open_remote_document(const ClientOptions& options, const std::string& url, ClientSession& session,
                         am::repo::DocHandle& handle);

/// Waits until the server has the handle's changes (when there is a server), then stops the repo.
int finish(ClientSession& session, am::repo::DocHandle& handle, const ClientOptions& options);

/// --timeout as a duration.
std::chrono::milliseconds timeout_of(const ClientOptions& options);

/// The JSON of the document, or of the sub-tree at `path` (a JSON pointer).
am::Result<nlohmann::json> document_json(const am::Document& d, const std::string& path);

/// Heads as a JSON array of hex strings.
std::string heads_json(const std::vector<am::ChangeHash>& heads);

}  // namespace amrepo
