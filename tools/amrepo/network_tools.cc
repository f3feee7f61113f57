#include "network_tools.h"

#include "access_rules.h"
#include "client_server.h"

#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <cstdlib>
#include <iostream>
#include <set>
#include <thread>

#include <map>
#include <mutex>

#include <nlohmann/json.hpp>

#include "am/json_import.h"
#include "am/repo/repo.h"
#include "am/repo/storage_fs.h"
#include "am/repo/storage_memory.h"
#include "am/repo/storage_sqlite.h"
#ifdef AM_HAVE_POSTGRES
#include "am/repo/storage_postgres.h"
#endif
#include "doc_edit.h"
#include "file_tools.h"
#include "load_bench.h"

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
bool dial(am::repo::Repo& repo, const std::string& url, am::repo::Backoff backoff, std::string& error,
          const std::string& token = {}) {
  if (url.rfind("ws://", 0) == 0 || url.rfind("wss://", 0) == 0) {
    repo.connect_websocket(url, backoff, token);
    return true;
  }
  if (url.rfind("tcp://", 0) == 0) {
    auto hp = split_host_port(url.substr(6));
    if (!hp) {
      error = "bad server URL " + url + " (expected tcp://HOST:PORT)";
      return false;
    }
    repo.connect_tcp(hp->first, hp->second, backoff, token);
    return true;
  }
  error = "bad server URL " + url + " (expected ws[s]://HOST:PORT[/PATH] or tcp://HOST:PORT)";
  return false;
}

std::string hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

// `kind` is fs (files in `dir`), sqlite (`dir`/amrepo.sqlite) or postgres (the database of
// libpq connection string `pg`; `dir` unused).
am::Result<std::shared_ptr<am::repo::StorageAdapter>> open_storage(const std::string& kind, const std::string& dir,
                                                                   const std::string& pg = "") {
  if (kind == "postgres") {
#ifdef AM_HAVE_POSTGRES
    am::repo::PostgresStorageOptions options;
    options.notify_saves = true;  // other servers on the database reload what we save
    auto s = am::repo::open_postgres_storage(pg, options);
    if (!s) return am::fail(s.error());
    return std::shared_ptr<am::repo::StorageAdapter>(std::move(*s));
#else
    (void)pg;
    return am::fail(am::Error::unsupported("--storage postgres", "this amrepo was built without libpq"));
#endif
  }
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
  ro.tls_ca_file = options.ca_file;
  if (!options.data.empty()) {
    auto storage = open_storage("fs", options.data);
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
      session.server = peers.front();
      return kExitOk;
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

std::string health_json(const am::repo::Repo& repo) {
  const auto s = repo.stats();
  nlohmann::json peers = nlohmann::json::array();
  for (const auto& p : repo.peers()) peers.push_back(p.str());
  return nlohmann::json{{"status", "ok"},
                        {"peer_id", repo.peer_id().str()},
                        {"storage_id", repo.storage_id() ? nlohmann::json(repo.storage_id()->str()) : nlohmann::json()},
                        {"peers", peers},
                        {"connections", s.connections},
                        {"open_documents", s.open_documents},
                        {"uptime_s", static_cast<double>(s.uptime.count()) / 1000.0}}
             .dump() + "\n";
}

std::string metrics_text(const am::repo::Repo& repo) {
  const auto s = repo.stats();
  std::string out;
  auto metric = [&](const char* name, const char* type, const char* help, const std::string& samples) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + samples;
  };
  auto line = [](const std::string& name, std::uint64_t v) { return name + " " + std::to_string(v) + "\n"; };
  metric("amrepo_connections", "gauge", "Open transport connections.", line("amrepo_connections", s.connections));
  metric("amrepo_peers", "gauge", "Connections with a completed handshake.", line("amrepo_peers", s.peers));
  metric("amrepo_open_documents", "gauge", "Documents in memory.", line("amrepo_open_documents", s.open_documents));
  metric("amrepo_connections_accepted_total", "counter", "Connections accepted since start.",
         line("amrepo_connections_accepted_total", s.connections_accepted));
  metric("amrepo_writes_refused_total", "counter", "Sync messages whose changes were dropped: the peer may only read.",
         line("amrepo_writes_refused_total", s.writes_refused));
  metric("amrepo_messages_total", "counter", "Protocol messages.",
         line("amrepo_messages_total{direction=\"in\"}", s.messages_in) +
             line("amrepo_messages_total{direction=\"out\"}", s.messages_out));
  metric("amrepo_bytes_total", "counter", "Protocol message bytes.",
         line("amrepo_bytes_total{direction=\"in\"}", s.bytes_in) + line("amrepo_bytes_total{direction=\"out\"}", s.bytes_out));
  {
    std::string samples;
    for (std::size_t i = 0; i < s.latency_buckets.size(); ++i) {
      const std::string le = i < std::size(am::repo::kLatencyBucketsMs)
                                 ? std::to_string(static_cast<double>(am::repo::kLatencyBucketsMs[i]) / 1000.0)
                                 : "+Inf";
      samples += line("amrepo_sync_reply_seconds_bucket{le=\"" + le + "\"}", s.latency_buckets[i]);
    }
    samples += "amrepo_sync_reply_seconds_sum " + std::to_string(static_cast<double>(s.latency_sum_ms) / 1000.0) + "\n";
    samples += line("amrepo_sync_reply_seconds_count", s.latency_count);
    metric("amrepo_sync_reply_seconds", "histogram",
           "From receiving a sync message to sending the answer (after saving received changes).", samples);
  }
  metric("amrepo_uptime_seconds", "gauge", "Seconds since start.",
         line("amrepo_uptime_seconds", static_cast<std::uint64_t>(s.uptime.count() / 1000)));
  return out;
}

}  // namespace

void restart_with_server_malloc_settings(char** argv) {
#ifdef __GLIBC__
  // Why: glibc keeps up to 7 freed blocks of each small size in every thread's cache (tcache),
  // and malloc_trim cannot return them. After a burst of documents those few hundred blocks
  // sit scattered over the heap and keep ~1.5 MB of it resident for good (measured, 3000
  // documents: 363 pages held only by cached blocks). Without the caches an idle server's heap
  // shrinks back to its size at start; document loading costs ~5% more CPU.
  static constexpr const char* kRestartedMarker = "AMREPO_SERVE_MALLOC_SET";
  if (std::getenv(kRestartedMarker) != nullptr) return;
  const char* existing = std::getenv("GLIBC_TUNABLES");
  std::string tunables = existing != nullptr ? existing : "";
  if (tunables.find("glibc.malloc.tcache_count") != std::string::npos) return;
  tunables += (tunables.empty() ? "" : ":") + std::string("glibc.malloc.tcache_count=0");
  if (setenv("GLIBC_TUNABLES", tunables.c_str(), 1) != 0 || setenv(kRestartedMarker, "1", 1) != 0) return;
  execv("/proc/self/exe", argv);
  // Still here: the restart failed; serve with the default caches, and restore the environment
  // that any child would see.
  if (existing != nullptr) {
    setenv("GLIBC_TUNABLES", existing, 1);
  } else {
    unsetenv("GLIBC_TUNABLES");
  }
#else
  (void)argv;
#endif
}

int serve(const ServeOptions& o) {
#ifdef __GLIBC__
  // Why: glibc gives each thread that meets contention its own arena (up to 8 per core), and
  // malloc_trim never shrinks the top of those arenas: seen here, an idle server kept a 10 MB
  // free top in its second arena (1 run in 10 with M_ARENA_MAX=2; the blocks freed last were
  // merged into it by malloc_trim itself, which then leaves it). One arena, whose top
  // malloc_trim does shrink, brings an idle server's heap back to its size at start (measured,
  // 1000 and 5000 documents: RssAnon 1.8-1.9 MB after idle, 1.7 MB at start). The price is one
  // allocator lock for the io and storage threads. Set before the repo starts threads.
  mallopt(M_ARENA_MAX, 1);
  // Why: by default glibc raises its mmap threshold to the size of any large block freed (up
  // to 32 MB), after which such buffers come from the heap and fragment it. A fixed threshold
  // keeps them in their own mappings, returned when freed.
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  mallopt(M_TRIM_THRESHOLD, 128 * 1024);
#endif
  static const std::map<std::string, am::repo::LogLevel> kLevels{
      {"error", am::repo::LogLevel::kError}, {"warn", am::repo::LogLevel::kWarn},
      {"info", am::repo::LogLevel::kInfo}, {"debug", am::repo::LogLevel::kDebug}};
  const auto level_it = kLevels.find(o.log_level);
  if (level_it == kLevels.end()) return fail_with(kExitUsage, "--log-level must be error, warn, info or debug");
  const am::repo::LogLevel level = level_it->second;
  am::repo::RepoOptions ro;
  ro.log = [level](am::repo::LogLevel l, const std::string& text) {
    if (l <= level) std::cerr << "amrepo: " << text << "\n";
  };
  ro.peer_id = o.peer_id.empty() ? "amrepo-server-" + hostname() : o.peer_id;
  ro.share_policy = o.announce ? am::repo::share_everything() : am::repo::answer_requests_only();
  ro.io_threads = o.io_threads != 0 ? o.io_threads : std::min<std::size_t>(4, std::max(1u, std::thread::hardware_concurrency()));
  if (o.memory) {
    ro.storage = std::shared_ptr<am::repo::StorageAdapter>(am::repo::make_memory_storage());
  } else {
    if (o.storage != "fs" && o.storage != "sqlite" && o.storage != "postgres") {
      return fail_with(kExitUsage, "--storage must be fs, sqlite or postgres");
    }
    if (o.storage == "postgres" && o.pg.empty()) {
      return fail_with(kExitUsage, "--storage postgres needs --pg CONNINFO (e.g. \"host=127.0.0.1 dbname=amrepo\")");
    }
    if (o.storage != "postgres" && !o.pg.empty()) return fail_with(kExitUsage, "--pg needs --storage postgres");
#ifndef AM_HAVE_POSTGRES
    if (o.storage == "postgres") return fail_with(kExitUsage, "--storage postgres: this amrepo was built without libpq");
#endif
    auto storage = open_storage(o.storage, o.data, o.pg);
    if (!storage) return fail_with(kExitFailure, storage.error().to_string());
    ro.storage = *storage;
  }
  // Each connection is a file descriptor: take what the hard limit allows (often 1024 soft vs
  // 1048576 hard), and say so when the connection cap cannot be reached.
  if (rlimit files{}; getrlimit(RLIMIT_NOFILE, &files) == 0) {
    if (files.rlim_cur < files.rlim_max) {
      files.rlim_cur = files.rlim_max;
      (void)setrlimit(RLIMIT_NOFILE, &files);
      (void)getrlimit(RLIMIT_NOFILE, &files);
    }
    if (o.max_connections != 0 && files.rlim_cur < o.max_connections + 64) {
      ro.log(am::repo::LogLevel::kWarn, "open files are limited to " + std::to_string(files.rlim_cur) +
                                            ": fewer connections than --max-connections " +
                                            std::to_string(o.max_connections) + " can be accepted (raise ulimit -n)");
    }
  }
  am::repo::ListenOptions listen_options;
  listen_options.max_connections = o.max_connections;
  ro.tls_ca_file = o.ca_file;
  ro.max_document_opens_per_second = o.max_doc_opens;
  ro.max_message_bytes = o.max_message_bytes;
  ro.max_queued_bytes = o.max_queued_bytes;
  ro.handshake_timeout = std::chrono::milliseconds(o.handshake_timeout_ms);
  ro.max_inflated_bytes = o.max_inflated_bytes;
  ro.idle_timeout = std::chrono::seconds(o.idle_timeout_s);
  if (o.tls_cert.empty() != o.tls_key.empty()) return fail_with(kExitUsage, "--tls-cert and --tls-key go together");
  if (!o.access_rules.empty() && o.auth_token_file.empty()) {
    return fail_with(kExitUsage, "--access-rules needs --auth-token-file (rules name the tokens' principals)");
  }
  if (!o.auth_token_file.empty()) {
    auto tokens = TokenTable::load(o.auth_token_file);
    if (!tokens) return fail_with(kExitUsage, tokens.error().to_string());
    if (!o.access_rules.empty()) {
      auto rules = AccessRules::load(o.access_rules, tokens->principals());
      if (!rules) return fail_with(kExitUsage, rules.error().to_string());
      ro.share_policy = rules_policy(ro.share_policy, std::move(*rules));
    }
    auto table = std::make_shared<const TokenTable>(std::move(*tokens));
    listen_options.authenticate = [table](std::string_view token) { return table->authenticate(token); };
  }
  if (o.trace_messages) {
    auto out_mutex = std::make_shared<std::mutex>();
    ro.message_trace = [out_mutex](const am::repo::MessageTrace& t) {
      nlohmann::json line{{"dir", t.outgoing ? "out" : "in"}, {"connection", t.connection}, {"type", t.type},
                          {"bytes", t.bytes}};
      if (t.sender) line["sender"] = *t.sender;
      if (t.target) line["target"] = *t.target;
      if (t.document) line["document"] = t.document->to_string();
      if (t.data_bytes != 0) line["data_bytes"] = t.data_bytes;
      std::lock_guard<std::mutex> lock(*out_mutex);
      std::cout << line.dump() << std::endl;
    };
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
    am::repo::Repo* r = repo->get();
    am::repo::ListenOptions lo = listen_options;
    lo.tls_cert_file = o.tls_cert;
    lo.tls_key_file = o.tls_key;
    lo.http_handler = [r](std::string_view target) -> std::optional<std::pair<std::string, std::string>> {
      if (target == "/health") return std::pair{std::string("application/json"), health_json(*r)};
      if (target == "/metrics") return std::pair{std::string("text/plain; version=0.0.4"), metrics_text(*r)};
      return std::nullopt;
    };
    auto port = (*repo)->listen_websocket(hp->first, hp->second, std::move(lo));
    if (!port) return fail_with(kExitNetwork, "cannot listen on " + o.listen + ": " + port.error().to_string());
    std::cout << "listening " << (o.tls_cert.empty() ? "ws://" : "wss://") << hp->first << ":" << *port << std::endl;
  }
  if (!o.tcp.empty()) {
    auto hp = split_host_port(o.tcp);
    if (!hp) return fail_with(kExitUsage, "bad --tcp " + o.tcp + " (expected HOST:PORT)");
    auto port = (*repo)->listen_tcp(hp->first, hp->second, listen_options);
    if (!port) return fail_with(kExitNetwork, "cannot listen on " + o.tcp + ": " + port.error().to_string());
    std::cout << "listening tcp://" << hp->first << ":" << *port << std::endl;
  }
  for (const std::string& peer : o.peers) {
    std::string error;
    if (!dial(**repo, peer, am::repo::Backoff{}, error, o.peer_token)) return fail_with(kExitUsage, error);
  }
  // Fan-out between servers sharing a store (PostgreSQL): a document another server saved is
  // reloaded here if open, and our clients get the new changes. Destroyed before the repo.
  std::unique_ptr<am::repo::StorageWatch> shared_store_watch;
  if (am::repo::StorageChangeFeed* feed = ro.storage->change_feed(); feed != nullptr && !o.memory) {
    am::repo::Repo* r = repo->get();
    auto watch = feed->watch([r](const am::repo::StorageKey& key) {
      if (key.empty()) {  // reports were missed: reload everything open
        for (const auto& id : r->open_documents()) r->reload_document(id);
        return;
      }
      if (key.size() != 3 || (key[1] != "snapshot" && key[1] != "incremental")) return;
      if (auto id = am::repo::DocumentId::parse(key[0])) r->reload_document(*id);
    });
    if (!watch) return fail_with(kExitFailure, watch.error().to_string());
    shared_store_watch = std::move(*watch);
  }
  auto events = (*repo)->on_connection_event([level](const am::repo::ConnectionEvent& e) {
    if (level < am::repo::LogLevel::kInfo) return;
    if (e.kind == am::repo::ConnectionEvent::Kind::kConnected && level >= am::repo::LogLevel::kDebug) {
      std::cerr << "amrepo: connection " << e.connection << " opened (" << e.description << ")\n";
    } else if (e.kind == am::repo::ConnectionEvent::Kind::kHandshakeComplete) {
      std::cerr << "amrepo: peer " << e.peer->str() << " connected (" << e.description << ")\n";
    } else if (e.kind == am::repo::ConnectionEvent::Kind::kClosed && e.peer) {
      std::cerr << "amrepo: peer " << e.peer->str() << " disconnected: " << am::repo::to_string(e.reason)
                << (e.detail.empty() ? "" : " (" + e.detail + ")") << "\n";
    }
  });
  // Documents leaving memory (idle or unavailable) and connections ending free their memory to
  // the allocator, which keeps it; when the number of open documents or of connections has
  // fallen, hand what is free back to the system so that an idle server's RSS falls too.
  std::mutex trim_mutex;
  std::condition_variable trim_cv;
  bool stopping = false;
  std::thread trimmer([&, r = repo->get()] {
    // Trims at the fall and at the next few polls: what the documents and connections that
    // just ended still held (queued tasks, storage and socket buffers) is freed a little later.
    constexpr int kTrimsAfterAFall = 4;
    std::size_t last_open = 0, last_connections = 0;
    int trims_left = 0;
    std::unique_lock<std::mutex> lock(trim_mutex);
    while (!trim_cv.wait_for(lock, std::chrono::seconds(1), [&] { return stopping; })) {
      const am::repo::RepoStats stats = r->stats();
      if (stats.open_documents < last_open || stats.connections < last_connections) trims_left = kTrimsAfterAFall;
      last_open = stats.open_documents;
      last_connections = stats.connections;
      if (trims_left == 0) continue;
      --trims_left;
#ifdef __GLIBC__
      malloc_trim(0);
#endif
    }
  });
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  std::cerr << "amrepo: signal " << signal_number << ", saving and stopping\n";
  {
    std::lock_guard<std::mutex> lock(trim_mutex);
    stopping = true;
  }
  trim_cv.notify_all();
  trimmer.join();
  events.reset();
  shared_store_watch.reset();
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

namespace {

// Finds `id` through the session; prints the error and returns its exit code on failure.
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

}  // namespace

int client_cat(const ClientOptions& options, const std::string& url, const std::string& path) {
  auto id = am::repo::parse_document_id_loose(url);  // before connecting: a typo fails fast
  if (!id) return fail_with(kExitUsage, id.error().to_string());
  ClientSession session;
  if (int rc = open_client(options, session); rc != kExitOk) return rc;
  am::repo::DocHandle handle;
  if (int rc = find_document(options, session, *id, handle); rc != kExitOk) return rc;
  am::Result<nlohmann::json> json = am::fail(am::Error::internal("cat"));
  handle.read([&](const am::Document& d) { json = document_json(d, path); });
  if (!json) return fail_with(json.error().code == am::ErrorCode::kInvalidArgument ? kExitUsage : kExitCorrupt,
                              json.error().to_string());
  std::cout << json->dump() << std::endl;
  session.repo->stop();
  return kExitOk;
}

int client_edit(const ClientOptions& options, const std::string& url, const EditCommand& edit) {
  nlohmann::json value;
  if (edit.kind == EditCommand::Kind::kSet) {
    value = nlohmann::json::parse(edit.json, nullptr, false);
    if (value.is_discarded()) return fail_with(kExitUsage, "bad JSON value: " + edit.json);
  }
  auto id = am::repo::parse_document_id_loose(url);  // before connecting: a typo fails fast
  if (!id) return fail_with(kExitUsage, id.error().to_string());
  ClientSession session;
  if (int rc = open_client(options, session); rc != kExitOk) return rc;
  am::repo::DocHandle handle;
  if (int rc = find_document(options, session, *id, handle); rc != kExitOk) return rc;
  am::Status result;
  auto st = handle.change([&](am::Document& d) {
    auto target = resolve_path(d, edit.path);
    if (!target) {
      result = am::fail(target.error());
      return;
    }
    switch (edit.kind) {
      case EditCommand::Kind::kSet: result = set_json(d, *target, value); break;
      case EditCommand::Kind::kDelete: result = delete_at(d, *target); break;
      case EditCommand::Kind::kIncrement: result = increment_at(d, *target, edit.by); break;
      case EditCommand::Kind::kSplice: result = splice_at(d, *target, edit.pos, edit.del, edit.text); break;
    }
    if (!result) d.rollback();  // all or nothing
  });
  if (!st) return fail_with(kExitFailure, st.error().to_string());
  if (!result) return fail_with(kExitUsage, result.error().to_string());
  return finish(session, handle, options);
}

int client_editor(const ClientOptions& options, const std::string& url) {
  auto id = am::repo::parse_document_id_loose(url);  // before connecting: a typo fails fast
  if (!id) return fail_with(kExitUsage, id.error().to_string());
  ClientSession session;
  if (int rc = open_client(options, session); rc != kExitOk) return rc;
  am::repo::DocHandle handle;
  if (int rc = find_document(options, session, *id, handle); rc != kExitOk) return rc;
  am::Result<nlohmann::json> before = am::fail(am::Error::internal("edit"));
  handle.read([&](const am::Document& d) { before = document_json(d, ""); });
  if (!before) return fail_with(kExitCorrupt, before.error().to_string());
  const std::filesystem::path dir = std::filesystem::temp_directory_path();
  std::string file_template = (dir / "amrepo-edit-XXXXXX.json").string();
  const int fd = mkstemps(file_template.data(), 5);
  if (fd < 0) return fail_with(kExitFailure, "cannot create a temporary file in " + dir.string());
  const std::string text = before->dump(2) + "\n";
  const bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  if (!written) return fail_with(kExitFailure, "cannot write " + file_template);
  const char* editor = std::getenv("VISUAL");
  if (editor == nullptr || *editor == '\0') editor = std::getenv("EDITOR");
  const std::string command = std::string(editor != nullptr && *editor != '\0' ? editor : "vi") + " '" + file_template + "'";
  const int status = std::system(command.c_str());
  if (status != 0) {
    return fail_with(kExitFailure, "the editor failed (" + command + "); nothing changed; your file: " + file_template);
  }
  std::ifstream in(file_template);
  const nlohmann::json after = nlohmann::json::parse(in, nullptr, false);
  if (after.is_discarded()) {
    return fail_with(kExitUsage, "the edited file is not valid JSON; nothing changed; your file: " + file_template);
  }
  am::Result<std::size_t> changed = std::size_t{0};
  auto st = handle.change([&](am::Document& d) {
    changed = apply_json_diff(d, *before, after);
    if (!changed) d.rollback();
  });
  if (!st) return fail_with(kExitFailure, st.error().to_string() + "; your file: " + file_template);
  if (!changed) return fail_with(kExitUsage, changed.error().to_string() + "; nothing changed; your file: " + file_template);
  std::filesystem::remove(file_template);
  std::cerr << "amrepo: " << *changed << (*changed == 1 ? " change" : " changes") << "\n";
  return finish(session, handle, options);
}

int client_watch(const ClientOptions& options, const std::string& url, bool ephemeral, std::size_t count) {
  auto id = am::repo::parse_document_id_loose(url);  // before connecting: a typo fails fast
  if (!id) return fail_with(kExitUsage, id.error().to_string());
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ClientSession session;
  if (int rc = open_client(options, session); rc != kExitOk) return rc;
  am::repo::DocHandle handle;
  if (int rc = find_document(options, session, *id, handle); rc != kExitOk) return rc;
  std::mutex out_mutex;
  std::size_t changes = 0;
  auto print_state = [&](const char* type, const am::Document& d, bool local) {
    auto json = document_json(d, "");
    std::lock_guard<std::mutex> lock(out_mutex);
    std::cout << R"({"type":")" << type << R"(","local":)" << (local ? "true" : "false")
              << R"(,"heads":)" << heads_json(d.heads()) << R"(,"doc":)" << (json ? json->dump() : "null") << "}"
              << std::endl;
  };
  handle.read([&](const am::Document& d) { print_state("snapshot", d, false); });
  auto change_sub = handle.on_change([&, handle](const am::repo::DocumentChange& c) mutable {
    handle.read([&](const am::Document& d) { print_state("change", d, c.local); });
    std::lock_guard<std::mutex> lock(out_mutex);
    if (count != 0 && ++changes >= count) kill(getpid(), SIGTERM);
  });
  am::repo::Subscription eph_sub;
  if (ephemeral) {
    eph_sub = handle.on_ephemeral([&](const am::repo::PeerId& sender, const am::Bytes& data) {
      nlohmann::json message = nlohmann::json::from_cbor(data, true, false);
      std::lock_guard<std::mutex> lock(out_mutex);
      std::cout << nlohmann::json{{"type", "ephemeral"}, {"sender", sender.str()},
                                  {"message", message.is_discarded() ? nlohmann::json() : message},
                                  {"bytes", data.size()}}
                       .dump()
                << std::endl;
    });
  }
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  change_sub.reset();
  eph_sub.reset();
  session.repo->stop();
  return kExitOk;
}

int client_broadcast(const ClientOptions& options, const std::string& url, const std::string& json) {
  nlohmann::json value = nlohmann::json::parse(json, nullptr, false);
  if (value.is_discarded()) return fail_with(kExitUsage, "bad JSON value: " + json);
  auto id = am::repo::parse_document_id_loose(url);  // before connecting: a typo fails fast
  if (!id) return fail_with(kExitUsage, id.error().to_string());
  ClientSession session;
  if (int rc = open_client(options, session); rc != kExitOk) return rc;
  am::repo::DocHandle handle;
  if (int rc = find_document(options, session, *id, handle); rc != kExitOk) return rc;
  if (session.server) (void)handle.wait_synced(*session.server, timeout_of(options));
  const std::vector<std::uint8_t> cbor = nlohmann::json::to_cbor(value);
  handle.broadcast(am::Bytes(cbor.begin(), cbor.end()));
  std::this_thread::sleep_for(200ms);  // fire-and-forget: give the frame time to leave
  session.repo->stop();
  return kExitOk;
}

int client_ls(const ClientOptions& options) {
  if (options.data.empty()) return fail_with(kExitUsage, "ls needs --data DIR");
  auto storage = open_storage("fs", options.data);
  if (!storage) return fail_with(kExitFailure, storage.error().to_string());
  auto entries = (*storage)->load_range({});
  if (!entries) return fail_with(kExitFailure, entries.error().to_string());
  std::set<std::string> ids;
  for (const auto& [key, value] : *entries) {
    if (key.size() >= 2 && (key[1] == "snapshot" || key[1] == "incremental")) ids.insert(key[0]);
  }
  for (const auto& id : ids) std::cout << "automerge:" << id << "\n";
  return kExitOk;
}

int client_rm(const ClientOptions& options, const std::string& url) {
  if (options.data.empty()) return fail_with(kExitUsage, "rm needs --data DIR");
  auto id = am::repo::parse_document_id_loose(url);
  if (!id) return fail_with(kExitUsage, id.error().to_string());
  auto storage = open_storage("fs", options.data);
  if (!storage) return fail_with(kExitFailure, storage.error().to_string());
  auto entries = (*storage)->load_range({id->to_string()});
  if (!entries) return fail_with(kExitFailure, entries.error().to_string());
  if (entries->empty()) return fail_with(kExitUnavailable, "no document " + id->to_string() + " in " + options.data);
  if (auto st = (*storage)->remove_range({id->to_string()}); !st) return fail_with(kExitFailure, st.error().to_string());
  return kExitOk;
}

// The small document number `i` of the server benchmarks.
am::Document bench_document(std::size_t i) {
  am::Document d;
  (void)d.put(am::ObjId::root(), "n", static_cast<std::int64_t>(i));
  (void)d.put(am::ObjId::root(), "title", std::string("document ") + std::to_string(i));
  d.commit();
  return d;
}

int bench_server(const ServerBenchOptions& o) {
  using Clock = std::chrono::steady_clock;
  auto ms_since = [](Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
  };
  ClientOptions co;
  co.server = o.url;
  co.timeout_s = 30;
  nlohmann::json out{{"impl_server", o.url}, {"docs", o.docs}};
  std::vector<am::repo::DocumentId> ids;
  if (o.ids_in.empty()) {
    ClientSession writer;
    if (int rc = open_client(co, writer); rc != kExitOk) return rc;
    const auto start = Clock::now();
    std::vector<am::repo::DocHandle> handles;
    handles.reserve(o.docs);
    for (std::size_t i = 0; i < o.docs; ++i) {
      const am::Document d = bench_document(i);
      auto h = writer.repo->create(d);
      if (!h) return fail_with(kExitFailure, h.error().to_string());
      handles.push_back(*h);
    }
    // One deadline for the whole phase; documents the server has not acknowledged by then are
    // reported and left out of the find phase.
    const auto deadline = start + std::chrono::milliseconds(static_cast<std::int64_t>(o.timeout_s * 1000));
    for (auto& h : handles) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (h.wait_synced(*writer.server, std::max(left, std::chrono::milliseconds(1)))) ids.push_back(h.id());
    }
    out["create_ms"] = ms_since(start);
    out["acknowledged"] = ids.size();
    writer.repo->stop();
    if (!o.ids_out.empty()) {
      std::ofstream f(o.ids_out);
      for (const auto& id : ids) f << id.to_string() << "\n";
    }
  } else {
    std::ifstream f(o.ids_in);
    for (std::string line; std::getline(f, line);) {
      if (auto id = am::repo::DocumentId::parse(line)) ids.push_back(*id);
    }
    out["docs"] = ids.size();
  }
  ClientSession reader;
  if (int rc = open_client(co, reader); rc != kExitOk) return rc;
  const auto start = Clock::now();
  std::vector<std::future<am::Result<am::repo::DocHandle>>> finds;
  finds.reserve(ids.size());
  const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(o.timeout_s * 1000));
  for (const auto& id : ids) finds.push_back(reader.repo->find(id, timeout));
  std::size_t found = 0;
  for (auto& f : finds) found += f.get().has_value();
  out["find_ms"] = ms_since(start);
  out["found"] = found;
  reader.repo->stop();
  std::cout << out.dump() << std::endl;
  const bool complete = found == ids.size() && ids.size() == (o.ids_in.empty() ? o.docs : ids.size());
  return complete ? kExitOk : kExitUnavailable;
}


int bench_cluster(const ClusterBenchOptions& o) {
  using Clock = std::chrono::steady_clock;
  const std::size_t servers = o.urls.size();
  if (servers == 0) return fail_with(kExitUsage, "bench cluster needs at least one server URL");
  const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(o.timeout_s * 1000));
  // Client i talks to server i; with one server, a second client of it watches the edits.
  std::vector<ClientSession> clients(std::max<std::size_t>(servers, 2));
  for (std::size_t i = 0; i < clients.size(); ++i) {
    ClientOptions co;
    co.server = o.urls[i % servers];
    co.timeout_s = 30;
    if (int rc = open_client(co, clients[i]); rc != kExitOk) return rc;
  }

  // Phase create: round-robin over the servers' clients; every acknowledgement waited for.
  std::size_t acknowledged = 0;
  double create_ms = 0;
  {
    const auto start = Clock::now();
    std::vector<std::pair<std::size_t, am::repo::DocHandle>> handles;
    handles.reserve(o.docs);
    for (std::size_t i = 0; i < o.docs; ++i) {
      const am::Document d = bench_document(i);
      const std::size_t c = i % servers;
      auto h = clients[c].repo->create(d);
      if (!h) return fail_with(kExitFailure, h.error().to_string());
      handles.emplace_back(c, *h);
    }
    const auto deadline = start + timeout;
    for (auto& [c, h] : handles) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      acknowledged += h.wait_synced(*clients[c].server, std::max(left, std::chrono::milliseconds(1))).has_value();
    }
    create_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  }
  std::cout << nlohmann::json{{"phase", "create"}, {"servers", servers}, {"docs", o.docs},
                              {"acknowledged", acknowledged}, {"create_ms", create_ms},
                              {"docs_per_s", create_ms > 0 ? 1000.0 * static_cast<double>(acknowledged) / create_ms : 0.0}}
                   .dump()
            << std::endl;

  // Phase fanout: one edit at a time by the writer (server A), seen by the reader (server B).
  ClientSession& writer = clients[0];
  ClientSession& reader = clients[1];
  am::Document initial;
  (void)initial.put(am::ObjId::root(), "seq", std::int64_t{-1});
  initial.commit();
  auto created = writer.repo->create(initial);
  if (!created) return fail_with(kExitFailure, created.error().to_string());
  am::repo::DocHandle doc = *created;
  if (auto st = doc.wait_synced(*writer.server, timeout); !st) {
    return fail_with(kExitNetwork, "the fan-out document was not acknowledged: " + st.error().to_string());
  }
  auto found = reader.repo->find(doc.id(), timeout).get();
  if (!found) return fail_with(kExitUnavailable, "the reader cannot find the fan-out document: " + found.error().to_string());
  // Owned by the observer too: it may run on the reader's io thread until the repo stops.
  struct Seen {
    std::mutex mutex;
    std::condition_variable changed;
    std::int64_t seq = -1;
  };
  auto seen = std::make_shared<Seen>();
  am::repo::DocHandle watched = *found;
  auto subscription = watched.on_change([seen, watched](const am::repo::DocumentChange&) {
    std::int64_t seq = -1;
    watched.read([&](const am::Document& d) {
      auto v = d.get(am::ObjId::root(), "seq");
      if (v && *v && std::holds_alternative<am::ScalarValue>(**v)) {
        if (const auto* i = std::get_if<std::int64_t>(&std::get<am::ScalarValue>(**v))) seq = *i;
      }
    });
    std::lock_guard<std::mutex> lock(seen->mutex);
    seen->seq = std::max(seen->seq, seq);
    seen->changed.notify_all();
  });
  std::vector<double> latencies;
  latencies.reserve(o.edits);
  std::size_t lost = 0;
  for (std::size_t i = 0; i < o.edits; ++i) {
    const auto seq = static_cast<std::int64_t>(i);
    const auto start = Clock::now();
    if (auto st = doc.change([&](am::Document& d) { (void)d.put(am::ObjId::root(), "seq", seq); }); !st) {
      return fail_with(kExitFailure, st.error().to_string());
    }
    std::unique_lock<std::mutex> lock(seen->mutex);
    if (seen->changed.wait_for(lock, std::chrono::seconds(10), [&] { return seen->seq >= seq; })) {
      latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    } else {
      ++lost;
    }
  }
  subscription.reset();
  const LatencySummary latency = summarize_latencies(latencies);
  std::cout << nlohmann::json{{"phase", "fanout"}, {"servers", servers}, {"edits", o.edits},
                              {"seen", latency.count}, {"lost", lost}, {"p50_ms", latency.p50},
                              {"p99_ms", latency.p99}, {"max_ms", latency.max}}
                   .dump()
            << std::endl;
  for (auto& c : clients) c.repo->stop();
  return acknowledged == o.docs && lost == 0 ? kExitOk : kExitUnavailable;
}

}  // namespace amrepo
