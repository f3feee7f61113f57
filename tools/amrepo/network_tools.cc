#include "network_tools.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "am/json_import.h"
#include "am/repo/repo.h"
#include "am/repo/storage_fs.h"
#include "am/repo/storage_memory.h"
#include "am/repo/storage_sqlite.h"
#include "file_tools.h"

namespace amrepo {
namespace {

using namespace std::chrono_literals;

int fail_with(int code, const std::string& message) {
  std::cerr << "amrepo: " << message << "\n";
  return code;
}

// "HOST:PORT" -> (host, port); nullopt when malformed.
std::optional<std::pair<std::string, std::uint16_t>> split_host_port(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return std::nullopt;
  const std::string port_text = text.substr(colon + 1);
  if (!std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      port_text.size() > 5) {
    return std::nullopt;
  }
  const unsigned long port = std::stoul(port_text);
  if (port > 65535) return std::nullopt;
  return std::pair{text.substr(0, colon), static_cast<std::uint16_t>(port)};
}

// Dials a ws:// or tcp:// URL on `repo`. false (with a message) for a malformed URL.
bool dial(am::repo::Repo& repo, const std::string& url, am::repo::Backoff backoff, std::string& error) {
  if (url.rfind("ws://", 0) == 0) {
    repo.connect_websocket(url, backoff);
    return true;
  }
  if (url.rfind("tcp://", 0) == 0) {
    auto hp = split_host_port(url.substr(6));
    if (!hp) {
      error = "bad server URL " + url + " (expected tcp://HOST:PORT)";
      return false;
    }
    repo.connect_tcp(hp->first, hp->second, backoff);
    return true;
  }
  error = "bad server URL " + url + " (expected ws://HOST:PORT[/PATH] or tcp://HOST:PORT)";
  return false;
}

std::string hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

am::Result<std::shared_ptr<am::repo::StorageAdapter>> open_storage(const std::string& kind, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (kind == "sqlite") {
    auto s = am::repo::open_sqlite_storage((std::filesystem::path(dir) / "amrepo.sqlite").string());
    if (!s) return am::fail(s.error());
    return std::shared_ptr<am::repo::StorageAdapter>(std::move(*s));
  }
  auto s = am::repo::open_fs_storage(dir);
  if (!s) return am::fail(s.error());
  return std::shared_ptr<am::repo::StorageAdapter>(std::move(*s));
}

// A client repo connected to --server, waiting for the handshake. Returns the server's PeerId.
struct ClientSession {
  std::unique_ptr<am::repo::Repo> repo;
  std::optional<am::repo::PeerId> server;
};

int open_client(const ClientOptions& options, ClientSession& session) {
  am::repo::RepoOptions ro;
  if (!options.data.empty()) {
    auto storage = open_storage("fs", options.data);
    if (!storage) return fail_with(kExitFailure, storage.error().to_string());
    ro.storage = *storage;
  }
  auto repo = am::repo::Repo::open(ro);
  if (!repo) return fail_with(kExitFailure, repo.error().to_string());
  session.repo = std::move(*repo);
  if (options.server.empty()) return kExitOk;
  am::repo::Backoff backoff;
  backoff.initial = 100ms;
  backoff.max = 1s;
  std::string error;
  if (!dial(*session.repo, options.server, backoff, error)) return fail_with(kExitUsage, error);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(options.timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    auto peers = session.repo->peers();
    if (!peers.empty()) {
      session.server = peers.front();
      return kExitOk;
    }
    std::this_thread::sleep_for(10ms);
  }
  return fail_with(kExitNetwork, "cannot reach " + options.server);
}

std::chrono::milliseconds timeout_of(const ClientOptions& o) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(o.timeout_s * 1000));
}

}  // namespace

int serve(const ServeOptions& o) {
  am::repo::RepoOptions ro;
  ro.peer_id = o.peer_id.empty() ? "amrepo-server-" + hostname() : o.peer_id;
  ro.share_policy = o.announce ? am::repo::share_everything() : am::repo::answer_requests_only();
  ro.io_threads = o.io_threads != 0 ? o.io_threads : std::min<std::size_t>(4, std::max(1u, std::thread::hardware_concurrency()));
  if (o.memory) {
    ro.storage = std::shared_ptr<am::repo::StorageAdapter>(am::repo::make_memory_storage());
  } else {
    if (o.storage != "fs" && o.storage != "sqlite") return fail_with(kExitUsage, "--storage must be fs or sqlite");
    auto storage = open_storage(o.storage, o.data);
    if (!storage) return fail_with(kExitFailure, storage.error().to_string());
    ro.storage = *storage;
  }
  // Signals are taken by sigwait below; block them before any thread starts so none gets them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto repo = am::repo::Repo::open(ro);
  if (!repo) return fail_with(kExitFailure, repo.error().to_string());
  if (!o.listen.empty()) {
    auto hp = split_host_port(o.listen);
    if (!hp) return fail_with(kExitUsage, "bad --listen " + o.listen + " (expected HOST:PORT)");
    auto port = (*repo)->listen_websocket(hp->first, hp->second);
    if (!port) return fail_with(kExitNetwork, "cannot listen on " + o.listen + ": " + port.error().to_string());
    std::cout << "listening ws://" << hp->first << ":" << *port << std::endl;
  }
  if (!o.tcp.empty()) {
    auto hp = split_host_port(o.tcp);
    if (!hp) return fail_with(kExitUsage, "bad --tcp " + o.tcp + " (expected HOST:PORT)");
    auto port = (*repo)->listen_tcp(hp->first, hp->second);
    if (!port) return fail_with(kExitNetwork, "cannot listen on " + o.tcp + ": " + port.error().to_string());
    std::cout << "listening tcp://" << hp->first << ":" << *port << std::endl;
  }
  for (const std::string& peer : o.peers) {
    std::string error;
    if (!dial(**repo, peer, am::repo::Backoff{}, error)) return fail_with(kExitUsage, error);
  }
  auto events = (*repo)->on_connection_event([](const am::repo::ConnectionEvent& e) {
    if (e.kind == am::repo::ConnectionEvent::Kind::kHandshakeComplete) {
      std::cerr << "amrepo: peer " << e.peer->str() << " connected (" << e.description << ")\n";
    } else if (e.kind == am::repo::ConnectionEvent::Kind::kClosed && e.peer) {
      std::cerr << "amrepo: peer " << e.peer->str() << " disconnected: " << am::repo::to_string(e.reason)
                << (e.detail.empty() ? "" : " (" + e.detail + ")") << "\n";
    }
  });
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  std::cerr << "amrepo: signal " << signal_number << ", saving and stopping\n";
  events.reset();
  (*repo)->stop();
  return kExitOk;
}

int client_new(const ClientOptions& options, const std::string& json) {
  ClientSession session;
  if (int rc = open_client(options, session); rc != kExitOk) return rc;
  am::repo::DocHandle handle;
  if (json.empty()) {
    handle = session.repo->create();
  } else {
    auto doc = am::document_from_json(json);
    if (!doc) return fail_with(kExitUsage, "bad JSON: " + doc.error().to_string());
    auto created = session.repo->create(*doc);
    if (!created) return fail_with(kExitFailure, created.error().to_string());
    handle = *created;
  }
  if (session.server) {
    if (auto st = handle.wait_synced(*session.server, timeout_of(options)); !st) {
      return fail_with(kExitNetwork, "the server did not acknowledge the document: " + st.error().to_string());
    }
  }
  std::cout << handle.url() << std::endl;
  session.repo->stop();
  return kExitOk;
}

int client_cat(const ClientOptions& options, const std::string& url) {
  auto id = am::repo::parse_document_id_loose(url);
  if (!id) return fail_with(kExitUsage, id.error().to_string());
  ClientSession session;
  if (int rc = open_client(options, session); rc != kExitOk) return rc;
  auto handle = session.repo->find(*id, timeout_of(options)).get();
  if (!handle) {
    const int code = handle.error().code == am::ErrorCode::kTimeout ? kExitNetwork : kExitUnavailable;
    return fail_with(code, handle.error().to_string());
  }
  std::string text;
  am::Status status;
  handle->read([&](const am::Document& d) {
    auto json = d.to_json();
    if (json) {
      text = std::move(*json);
    } else {
      status = am::fail(json.error());
    }
  });
  if (!status) return fail_with(kExitCorrupt, status.error().to_string());
  std::cout << text << std::endl;
  session.repo->stop();
  return kExitOk;
}

}  // namespace amrepo
