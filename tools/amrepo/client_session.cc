#include "client_session.h"

#include <unistd.h>

#include <future>
#include <iostream>
#include <mutex>
#include <thread>

#include "cli_common.h"
#include "client_server.h"
#include "file_tools.h"
#include "store.h"

namespace amrepo {

using namespace std::chrono_literals;

int open_client(const ClientOptions& options, ClientSession& session) {
  am::repo::RepoOptions ro;
  ro.tls_ca_file = options.ca_file;
  ro.enable_remote_heads_gossiping = options.remote_heads;
  if (!options.data.empty()) {
    auto spec = parse_store(options.data);
    if (!spec) return fail_with(kExitUsage, "--data: " + spec.error().to_string());
    auto storage = open_store(*spec);
    if (!storage) return fail_with(kExitFailure, storage.error().to_string());
    ro.storage = *storage;
  }
  auto repo = am::repo::Repo::open(ro);
  if (!repo) return fail_with(kExitFailure, repo.error().to_string());
  session.repo = std::move(*repo);
  const ServerChoice server = choose_server(options.server, options.data);
  if (server.url.empty()) return kExitOk;
  am::repo::Backoff backoff;
  backoff.initial = 100ms;
  backoff.max = 1s;
  // Why connection attempts failed, to say so instead of just timing out. A refused token ends
  // the wait at once (retrying cannot help); so does nothing listening for 2 s (no server).
  const DialFailures failures(*session.repo);
  // The server's StorageId comes with its handshake (watch --remote-heads subscribes to it).
  struct ServerStore {
    std::mutex mutex;
    std::optional<am::repo::StorageId> id;
    bool handshake_seen = false;  // peers() may list the server before the observer ran
  };
  auto server_store = std::make_shared<ServerStore>();
  am::repo::Subscription store_sub = session.repo->on_connection_event([server_store](const am::repo::ConnectionEvent& e) {
    if (e.kind != am::repo::ConnectionEvent::Kind::kHandshakeComplete) return;
    std::lock_guard<std::mutex> lock(server_store->mutex);
    server_store->id = e.peer_storage_id;
    server_store->handshake_seen = true;
  });
  std::string error;
  std::string token = options.token;
  if (token.empty()) {
    if (const char* env = std::getenv("AMREPO_TOKEN"); env != nullptr) token = env;
  }
  if (!dial(*session.repo, server.url, backoff, error, token)) return fail_with(kExitUsage, error + " (" + server.source + ")");
  const auto start = std::chrono::steady_clock::now();
  const auto timeout = std::chrono::duration<double>(options.timeout_s);
  const auto deadline = start + timeout;
  const auto refused_deadline = start + std::min<std::chrono::duration<double>>(timeout, 2s);
  while (std::chrono::steady_clock::now() < deadline) {
    auto peers = session.repo->peers();
    if (!peers.empty()) {
      std::lock_guard<std::mutex> lock(server_store->mutex);
      if (server_store->handshake_seen) {
        session.server = peers.front();
        session.server_storage_id = server_store->id;
        return kExitOk;
      }
    }
    if (failures.unauthorized()) return fail_with(kExitUnauthorized, server.url + " refused us: " + failures.last());
    if (failures.nothing_listening() && std::chrono::steady_clock::now() >= refused_deadline) break;
    std::this_thread::sleep_for(10ms);
  }
  return fail_with(kExitNetwork, unreachable_message(server, failures.last()));
}

std::chrono::milliseconds timeout_of(const ClientOptions& o) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(o.timeout_s * 1000));
}

namespace {


int find_document(const ClientOptions& options, ClientSession& session, const am::repo::DocumentId& id,
                  am::repo::DocHandle& out) {
  auto pending = session.repo->find(id, timeout_of(options));
  // Progress for long transfers, only for people watching a terminal.
  if (isatty(STDERR_FILENO)) {
    bool shown = false;
    while (pending.wait_for(250ms) != std::future_status::ready) {
      const auto s = session.repo->stats();
      std::cerr << "\ramrepo: receiving " << id.to_string() << ": " << s.bytes_in / 1024 << " KiB" << std::flush;
      shown = true;
    }
    if (shown) std::cerr << "\n";
  }
  auto handle = pending.get();
  if (!handle) {
    const int code = handle.error().code == am::ErrorCode::kTimeout ? kExitNetwork : kExitUnavailable;
    return fail_with(code, handle.error().to_string());
  }
  out = *handle;
  return kExitOk;
}

}  // namespace

int open_remote_document(const ClientOptions& options, const std::string& url, ClientSession& session,
                         am::repo::DocHandle& handle) {
  auto id = am::repo::parse_document_id_loose(url);  // before connecting: a typo fails fast
  if (!id) return fail_with(kExitUsage, id.error().to_string());
  if (int rc = open_client(options, session); rc != kExitOk) return rc;
  return find_document(options, session, *id, handle);
}

// The JSON of the document, or of the sub-tree at `path`.
am::Result<nlohmann::json> document_json(const am::Document& d, const std::string& path) {
  auto text = d.to_json();
  if (!text) return am::fail(text.error());
  nlohmann::json doc = nlohmann::json::parse(*text, nullptr, false);
  if (doc.is_discarded()) return am::fail(am::Error::internal("to_json", "produced invalid JSON"));
  if (path.empty() || path == "/") return doc;
  try {
    return doc.at(nlohmann::json::json_pointer(path));
  } catch (const std::exception&) {
    return am::fail(am::Error::invalid_argument("path", path + " is not in the document"));
  }
}

int finish(ClientSession& session, am::repo::DocHandle& handle, const ClientOptions& options) {
  if (session.server) {
    if (auto st = handle.wait_synced(*session.server, timeout_of(options)); !st) {
      return fail_with(kExitNetwork, "the server did not acknowledge the change: " + st.error().to_string());
    }
  }
  session.repo->stop();
  return kExitOk;
}

std::string heads_json(const std::vector<am::ChangeHash>& heads) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& h : heads) out.push_back(h.to_hex());
  return out.dump();
}

}  // namespace amrepo
