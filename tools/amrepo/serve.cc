#include "serve.h"

#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "access_rules.h"
#include "am/repo/repo.h"
#include "am/repo/storage_memory.h"
#include "cli_common.h"
#include "file_tools.h"
#include "server_log.h"
#include "server_status.h"
#include "status_page.h"
#include "store.h"
#include "systemd_notify.h"

namespace amrepo {

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

namespace {

// The admin token of the status page: the file's first non-empty line, trimmed.
am::Result<std::string> read_admin_token(const std::string& file) {
  std::ifstream in(file);
  if (!in) return am::fail(am::Error::invalid_argument("--admin-token-file", "cannot read " + file));
  std::string line;
  while (std::getline(in, line)) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) continue;
    const auto last = line.find_last_not_of(" \t\r");
    return line.substr(first, last - first + 1);
  }
  return am::fail(am::Error::invalid_argument("--admin-token-file", file + " holds no token"));
}


}  // namespace

namespace {

// glibc malloc settings for a long-running server that should give memory back when idle.
void set_up_malloc() {
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
}

// RepoOptions and ListenOptions from the flags: storage, file limit, limits, tokens and rules,
// message tracing. Returns an exit code, having printed the error.
int configure(const ServeOptions& o, const std::shared_ptr<const ServerLog>& log, am::repo::RepoOptions& ro,
              am::repo::ListenOptions& listen_options) {
  ro.log = [log](am::repo::LogLevel l, const std::string& text) { log->write(l, "repo", text); };
  ro.peer_id = o.peer_id.empty() ? "amrepo-server-" + hostname() : o.peer_id;
  ro.share_policy = o.announce ? am::repo::share_everything() : am::repo::answer_requests_only();
  ro.io_threads = o.io_threads != 0 ? o.io_threads : std::min<std::size_t>(4, std::max(1u, std::thread::hardware_concurrency()));
  // Storage calls mostly wait on the disk (fsync); an operator with several disks or a
  // networked database may want more of them. On one disk 8 did worse than 2 (docs/benchmarks.md).
  ro.storage_threads = std::max<std::size_t>(1, o.storage_threads);
  if (o.memory) {
    ro.storage = std::shared_ptr<am::repo::StorageAdapter>(am::repo::make_memory_storage());
  } else {
    if (o.storage != "postgres" && !o.pg.empty()) return fail_with(kExitUsage, "--pg needs --storage postgres");
    auto spec = legacy_store(o.storage, o.data, o.pg);
    if (!spec) return fail_with(kExitUsage, spec.error().to_string());
#ifndef AM_HAVE_POSTGRES
    if (spec->kind == StoreSpec::Kind::kPostgres) return fail_with(kExitUsage, "postgres: this amrepo was built without libpq");
#endif
    OpenStoreOptions store_options;
    store_options.notify_saves = true;  // other servers on a shared database reload what we save
    auto storage = open_store(*spec, store_options);
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
  listen_options.max_connections = o.max_connections;
  ro.tls_ca_file = o.ca_file;
  ro.max_document_opens_per_second = o.max_doc_opens;
  ro.max_message_bytes = o.max_message_bytes;
  ro.max_queued_bytes = o.max_queued_bytes;
  ro.handshake_timeout = std::chrono::milliseconds(o.handshake_timeout_ms);
  ro.max_inflated_bytes = o.max_inflated_bytes;
  ro.accept_go_peers = o.legacy_peers == "go";
  ro.idle_timeout = std::chrono::seconds(o.idle_timeout_s);
  ro.enable_remote_heads_gossiping = o.remote_heads;
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
  return kExitOk;
}

// The WebSocket page and endpoints besides the upgrade: the status page, /status.json, /health, /metrics.
am::repo::HttpHandler http_endpoints(am::repo::Repo* r, std::string admin_token) {
  return [r, admin_token](std::string_view target) -> std::optional<std::pair<std::string, std::string>> {
    const std::string_view path = target.substr(0, target.find('?'));
    if (path == "/health") return std::pair{std::string("application/json"), health_json(*r)};
    if (path == "/metrics") return std::pair{std::string("text/plain; version=0.0.4"), metrics_text(*r)};
    if (path == "/" || path == "/index.html") return std::pair{std::string("text/html; charset=utf-8"), status_page_html()};
    if (path == "/status.json") {
      const auto token = token_parameter(target);
      const bool admin = !admin_token.empty() && token && same_secret(*token, admin_token);
      return std::pair{std::string("application/json"), status_json(*r, admin)};
    }
    return std::nullopt;
  };
}

// Binds the listeners (printing "listening URL" for each) and dials the --peer servers.
int start_listening(am::repo::Repo& repo, const ServeOptions& o, const am::repo::ListenOptions& listen_options,
                    const std::string& admin_token) {
  if (!o.listen.empty()) {
    auto hp = split_host_port(o.listen);
    if (!hp) return fail_with(kExitUsage, "bad --listen " + o.listen + " (expected HOST:PORT)");
        am::repo::ListenOptions lo = listen_options;
    lo.tls_cert_file = o.tls_cert;
    lo.tls_key_file = o.tls_key;
    lo.http_handler = http_endpoints(&repo, admin_token);
    auto port = repo.listen_websocket(hp->first, hp->second, std::move(lo));
    if (!port) return fail_with(kExitNetwork, "cannot listen on " + o.listen + ": " + port.error().to_string());
    std::cout << "listening " << (o.tls_cert.empty() ? "ws://" : "wss://") << hp->first << ":" << *port << std::endl;
  }
  if (!o.tcp.empty()) {
    auto hp = split_host_port(o.tcp);
    if (!hp) return fail_with(kExitUsage, "bad --tcp " + o.tcp + " (expected HOST:PORT)");
    auto port = repo.listen_tcp(hp->first, hp->second, listen_options);
    if (!port) return fail_with(kExitNetwork, "cannot listen on " + o.tcp + ": " + port.error().to_string());
    std::cout << "listening tcp://" << hp->first << ":" << *port << std::endl;
  }
  for (const std::string& peer : o.peers) {
    std::string error;
    if (!dial(repo, peer, am::repo::Backoff{}, error, o.peer_token)) return fail_with(kExitUsage, error);
  }
  return kExitOk;
}

// One log line per connection opened, peer connected and peer disconnected.
am::repo::Subscription log_connection_events(am::repo::Repo& repo, const std::shared_ptr<const ServerLog>& log) {
  return repo.on_connection_event([log](const am::repo::ConnectionEvent& e) {
    using am::repo::LogLevel;
    const std::string connection = std::to_string(e.connection);
    if (e.kind == am::repo::ConnectionEvent::Kind::kConnected) {
      log->write(LogLevel::kDebug, "connection_opened", "connection " + connection + " opened (" + e.description + ")",
                 {{"connection", connection}, {"remote", e.description}});
    } else if (e.kind == am::repo::ConnectionEvent::Kind::kHandshakeComplete) {
      log->write(LogLevel::kInfo, "peer_connected", "peer " + e.peer->str() + " connected (" + e.description + ")",
                 {{"peer", e.peer->str()}, {"connection", connection}, {"remote", e.description}});
    } else if (e.kind == am::repo::ConnectionEvent::Kind::kClosed && e.peer) {
      const std::string reason = am::repo::to_string(e.reason);
      log->write(LogLevel::kInfo, "peer_disconnected",
                 "peer " + e.peer->str() + " disconnected: " + reason + (e.detail.empty() ? "" : " (" + e.detail + ")"),
                 {{"peer", e.peer->str()}, {"connection", connection}, {"reason", reason}, {"detail", e.detail}});
    }
  });
}

// Documents leaving memory (idle or unavailable) and connections ending free their memory to
// the allocator, which keeps it; when the number of open documents or of connections has
// fallen, this hands what is free back to the system so that an idle server's RSS falls too.
// Polls the repo once a second on its own thread until destroyed.
class MemoryTrimmer {
 public:
  explicit MemoryTrimmer(const am::repo::Repo& repo) : thread_([this, &repo] { run(repo); }) {}
  MemoryTrimmer(const MemoryTrimmer&) = delete;
  MemoryTrimmer& operator=(const MemoryTrimmer&) = delete;
  ~MemoryTrimmer() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void run(const am::repo::Repo& repo) {
    // Trims at the fall and at the next few polls: what the documents and connections that
    // just ended still held (queued tasks, storage and socket buffers) is freed a little later.
    constexpr int kTrimsAfterAFall = 4;
    std::size_t last_open = 0, last_connections = 0;
    int trims_left = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    while (!cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; })) {
      const am::repo::RepoStats stats = repo.stats();
      if (stats.open_documents < last_open || stats.connections < last_connections) trims_left = kTrimsAfterAFall;
      last_open = stats.open_documents;
      last_connections = stats.connections;
      if (trims_left == 0) continue;
      --trims_left;
#ifdef __GLIBC__
      malloc_trim(0);
#endif
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace

int serve(const ServeOptions& o) {
  set_up_malloc();
  static const std::map<std::string, am::repo::LogLevel> kLevels{
      {"error", am::repo::LogLevel::kError}, {"warn", am::repo::LogLevel::kWarn},
      {"info", am::repo::LogLevel::kInfo}, {"debug", am::repo::LogLevel::kDebug}};
  const auto level_it = kLevels.find(o.log_level);
  if (level_it == kLevels.end()) return fail_with(kExitUsage, "--log-level must be error, warn, info or debug");
  const am::repo::LogLevel level = level_it->second;
  auto log = std::make_shared<const ServerLog>(o.log_format == "json", level);
  am::repo::RepoOptions ro;
  am::repo::ListenOptions listen_options;
  if (int rc = configure(o, log, ro, listen_options); rc != kExitOk) return rc;
  // Signals are taken by sigwait below; block them before any thread starts so none gets them.
  const sigset_t signals = block_stop_signals();

  std::string admin_token;
  if (!o.admin_token_file.empty()) {
    auto token = read_admin_token(o.admin_token_file);
    if (!token) return fail_with(kExitUsage, token.error().to_string());
    admin_token = *token;
  }
  auto repo = am::repo::Repo::open(ro);
  if (!repo) return fail_with(kExitFailure, repo.error().to_string());
  if (int rc = start_listening(**repo, o, listen_options, admin_token); rc != kExitOk) return rc;
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
      if (!am::repo::is_document_chunk_key(key)) return;
      if (auto id = am::repo::DocumentId::parse(key[0])) r->reload_document(*id);
    });
    if (!watch) return fail_with(kExitFailure, watch.error().to_string());
    shared_store_watch = std::move(*watch);
  }
  auto events = log_connection_events(**repo, log);
  auto trimmer = std::make_unique<MemoryTrimmer>(**repo);
  // Listening, dialing, watching: a Type=notify service is up now (packaging/amrepo.service).
  if (!notify_systemd("READY=1\nSTATUS=serving")) {
    log->write(am::repo::LogLevel::kWarn, "notify_failed", "could not tell systemd we are ready ($NOTIFY_SOCKET)");
  }
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  (void)notify_systemd("STOPPING=1\nSTATUS=saving and stopping");
  log->write(am::repo::LogLevel::kInfo, "stopping", "signal " + std::to_string(signal_number) + ", saving and stopping",
             {{"signal", std::to_string(signal_number)}});
  trimmer.reset();
  events.reset();
  shared_store_watch.reset();
  (*repo)->stop();
  return kExitOk;
}

}  // namespace amrepo
