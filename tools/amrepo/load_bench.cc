#include "load_bench.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "am/repo/repo.h"
#include "file_tools.h"
#include "ws_load_driver.h"

namespace amrepo {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

int fail(int code, const std::string& message) {
  std::cerr << "amrepo bench: " << message << "\n";
  return code;
}

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

// One load-generator client: its own repo (no storage, one io thread) dialled to the server.
struct Client {
  std::unique_ptr<am::repo::Repo> repo;
  am::repo::PeerId server;
};

// Opens `count` clients of a ws[s]:// server at once and waits for every handshake.
am::Result<std::vector<Client>> open_clients(const std::string& url, std::size_t count, std::chrono::milliseconds timeout) {
  if (url.rfind("ws://", 0) != 0 && url.rfind("wss://", 0) != 0) {
    return am::fail(am::Error::invalid_argument("the load generators dial ws:// or wss:// servers, not " + url));
  }
  std::vector<Client> clients(count);
  am::repo::Backoff backoff;
  backoff.initial = 100ms;
  backoff.max = 1s;
  for (auto& c : clients) {
    auto repo = am::repo::Repo::open({});
    if (!repo) return am::fail(repo.error());
    c.repo = std::move(*repo);
    c.repo->connect_websocket(url, backoff);
  }
  const auto deadline = Clock::now() + timeout;
  for (auto& c : clients) {
    while (true) {
      auto peers = c.repo->peers();
      if (!peers.empty()) {
        c.server = peers.front();
        break;
      }
      if (Clock::now() > deadline) return am::fail(am::Error::io_error("cannot reach " + url + " with every client", "handshake timeout"));
      std::this_thread::sleep_for(5ms);
    }
  }
  return clients;
}

void stop_all(std::vector<Client>& clients) {
  for (auto& c : clients) {
    if (c.repo) c.repo->stop();
  }
}

}  // namespace

std::optional<ProcessUsage> process_usage(int pid) {
  if (pid <= 0) return std::nullopt;
  ProcessUsage usage;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close_paren = text.rfind(')');
  if (close_paren == std::string::npos) return std::nullopt;
  // Fields after the command name: state is field 3, utime 14, stime 15.
  std::istringstream fields(text.substr(close_paren + 2));
  std::string field;
  double ticks = 0;
  for (int n = 3; n <= 15 && fields >> field; ++n) {
    if (n == 14 || n == 15) ticks += std::stod(field);
  }
  usage.cpu_s = ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) usage.peak_rss_kb = std::stol(line.substr(6));
    if (line.rfind("VmRSS:", 0) == 0) usage.rss_kb = std::stol(line.substr(6));
  }
  return usage;
}

am::Result<std::vector<am::repo::DocumentId>> create_shared_documents(const std::string& url, std::size_t count,
                                                                      std::chrono::milliseconds timeout) {
  auto creator = open_clients(url, 1, timeout);
  if (!creator) return am::fail(creator.error());
  std::vector<am::repo::DocHandle> made;
  for (std::size_t d = 0; d < count; ++d) {
    am::Document initial;
    (void)initial.put(am::ObjId::root(), "title", std::string("shared document ") + std::to_string(d));
    initial.commit();
    auto h = (*creator)[0].repo->create(initial);
    if (!h) return am::fail(h.error());
    made.push_back(*h);
  }
  std::vector<am::repo::DocumentId> ids;
  for (auto& h : made) {
    if (auto st = h.wait_synced((*creator)[0].server, timeout); !st) {
      return am::fail(am::Error::io_error("the server did not acknowledge a shared document", st.error().to_string()));
    }
    ids.push_back(h.id());
  }
  stop_all(*creator);
  return ids;
}

namespace {

// When each edit of one writer was made, by sequence number, for observers on other threads.
class EditTimes {
 public:
  explicit EditTimes(std::size_t capacity) : sent_ns_(capacity) {}
  std::size_t capacity() const { return sent_ns_.size(); }
  void mark(std::size_t seq) { sent_ns_[seq].store(now_ns(), std::memory_order_release); }
  // ns since the edit was made; nullopt for an edit this writer never made.
  std::optional<std::int64_t> age_ns(std::size_t seq, std::int64_t now) const {
    if (seq >= sent_ns_.size()) return std::nullopt;
    const std::int64_t sent = sent_ns_[seq].load(std::memory_order_acquire);
    if (sent == 0) return std::nullopt;
    return now - sent;
  }
  std::int64_t sent_at(std::size_t seq) const { return sent_ns_[seq].load(std::memory_order_acquire); }

 private:
  std::vector<std::atomic<std::int64_t>> sent_ns_;
};

std::string writer_key(std::size_t writer) { return "c" + std::to_string(writer); }

std::int64_t int_at(const am::Document& d, const std::string& key) {
  auto v = d.get(am::ObjId::root(), key);
  if (v && *v && std::holds_alternative<am::ScalarValue>(**v)) {
    if (const auto* i = std::get_if<std::int64_t>(&std::get<am::ScalarValue>(**v))) return *i;
  }
  return -1;
}

// What one client has seen of the other writers of its document: for each writer, the latest
// sequence number seen, and a latency sample (with the edit's send time) for every sequence
// number that became visible.
struct Watch {
  struct Sample {
    std::int64_t sent_ns;
    double latency_ms;
  };
  std::mutex mutex;
  std::vector<std::size_t> writers;       // the document's writers other than this client
  std::vector<std::int64_t> last_seen;    // per writer
  std::vector<Sample> samples;

  void observe(const am::Document& d, const std::vector<EditTimes>& times) {
    const std::int64_t now = now_ns();
    std::lock_guard<std::mutex> lock(mutex);
    for (std::size_t w = 0; w < writers.size(); ++w) {
      const std::int64_t seq = int_at(d, writer_key(writers[w]));
      for (std::int64_t k = last_seen[w] + 1; k <= seq; ++k) {
        if (auto age = times[writers[w]].age_ns(static_cast<std::size_t>(k), now)) {
          samples.push_back({times[writers[w]].sent_at(static_cast<std::size_t>(k)), static_cast<double>(*age) / 1e6});
        }
      }
      last_seen[w] = std::max(last_seen[w], seq);
    }
  }
};

void put_latency(nlohmann::json& out, const std::string& prefix, const LatencySummary& s) {
  out[prefix + "samples"] = s.count;
  out[prefix + "p50_ms"] = s.p50;
  out[prefix + "p99_ms"] = s.p99;
  out[prefix + "max_ms"] = s.max;
}

double cpu_seconds(const rusage& u) {
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Lowers the calling thread's CPU priority; threads it creates afterwards inherit it (Linux).
void lower_this_threads_priority(int nice_value) {
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), nice_value);
}

}  // namespace

LatencySummary summarize_latencies(std::vector<double> latencies) {
  LatencySummary s;
  s.count = latencies.size();
  if (latencies.empty()) return s;
  std::sort(latencies.begin(), latencies.end());
  auto quantile = [&](double q) {
    const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(latencies.size())));
    return latencies[std::min(latencies.size(), std::max<std::size_t>(rank, 1)) - 1];
  };
  s.p50 = quantile(0.5);
  s.p99 = quantile(0.99);
  s.max = latencies.back();
  return s;
}

int bench_clients(const ClientsBenchOptions& o) {
  if (o.clients < 2 || o.docs == 0 || o.docs > o.clients / 2) {
    return fail(kExitUsage, "bench clients needs at least two clients per document (--clients >= 2 x --docs)");
  }
  if (o.interval_ms <= 0 || o.seconds <= 0) return fail(kExitUsage, "--interval-ms and --seconds must be positive");
  const auto endpoint = parse_ws_endpoint(o.url);
  if (!endpoint) return fail(kExitUsage, "bench clients dials ws://HOST:PORT[/PATH], not " + o.url);
  raise_open_files_limit();
  const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(o.timeout_s * 1000));
  nlohmann::json out{{"workload", "clients"}, {"server", o.url}, {"clients", o.clients}, {"docs", o.docs},
                     {"interval_ms", o.interval_ms}, {"seconds", o.seconds}};

  // The shared documents, made by a client that leaves before the edits start.
  auto shared = create_shared_documents(o.url, o.docs, timeout);
  if (!shared) return fail(kExitNetwork, shared.error().to_string());
  const std::vector<am::repo::DocumentId> ids = std::move(*shared);

  // Every client on this thread (see ws_load_driver.h for why).
  WsLoadDriver driver(*endpoint, 0xed175);
  if (!driver.resolve()) return fail(kExitNetwork, "cannot resolve " + endpoint->host);
  for (std::size_t i = 0; i < o.clients; ++i) driver.add(ids[i % o.docs].to_string(), "bench-editor-");
  const auto setup_start = Clock::now();
  const bool opened = driver.open_all(200, setup_start + timeout);
  if (!opened || driver.count(WsLoadClient::Phase::kOpen) != o.clients) {
    const std::string why = driver.first_error().empty() ? "timeout" : driver.first_error();
    return fail(kExitUnavailable, "not every client opened its shared document: " + why);
  }
  out["setup_ms"] = ms_between(setup_start, Clock::now());

  const auto interval = std::chrono::duration<double, std::milli>(o.interval_ms);
  const std::size_t rounds = static_cast<std::size_t>(o.seconds * 1000 / o.interval_ms);
  std::vector<EditTimes> times;
  times.reserve(o.clients);
  for (std::size_t i = 0; i < o.clients; ++i) times.emplace_back(rounds + 1);
  std::vector<std::unique_ptr<Watch>> watches;
  for (std::size_t i = 0; i < o.clients; ++i) {
    auto watch = std::make_unique<Watch>();
    for (std::size_t w = i % o.docs; w < o.clients; w += o.docs) {
      if (w != i) watch->writers.push_back(w);
    }
    watch->last_seen.assign(watch->writers.size(), -1);
    watches.push_back(std::move(watch));
  }
  driver.on_remote_change([&](WsLoadClient& c) { watches[c.index]->observe(c.doc, times); });

  // The edits: client k % clients makes round k / clients, spread evenly over each interval;
  // between two due edits the driver serves the connections.
  const auto usage_before = process_usage(o.server_pid);
  rusage generator_before{};
  getrusage(RUSAGE_SELF, &generator_before);
  const auto edit_start = Clock::now();
  const auto step = interval / static_cast<double>(o.clients);
  double worst_lag_ms = 0;
  std::size_t edits = 0;
  for (std::size_t k = 0; k < rounds * o.clients; ++k) {
    const auto due = edit_start + std::chrono::duration_cast<Clock::duration>(step * static_cast<double>(k));
    for (auto now = Clock::now(); now < due; now = Clock::now()) {
      driver.poll(static_cast<int>(std::ceil(std::chrono::duration<double, std::milli>(due - now).count())));
    }
    worst_lag_ms = std::max(worst_lag_ms, ms_between(due, Clock::now()));
    const std::size_t i = k % o.clients;
    const std::size_t seq = k / o.clients;
    WsLoadClient& c = driver.client(i);
    if (c.phase != WsLoadClient::Phase::kOpen) return fail(kExitNetwork, "a client lost its connection: " + driver.first_error());
    times[i].mark(seq);
    if (auto st = c.doc.put(am::ObjId::root(), writer_key(i), static_cast<std::int64_t>(seq)); !st) {
      return fail(kExitFailure, "an edit failed: " + st.error().to_string());
    }
    c.doc.commit();
    driver.sync(c);
    ++edits;
  }
  out["edit_ms"] = ms_between(edit_start, Clock::now());
  out["edits"] = edits;
  out["generator_worst_lag_ms"] = worst_lag_ms;

  // Convergence: every document's clients end with the same heads.
  const auto converge_start = Clock::now();
  bool converged = false;
  while (Clock::now() - converge_start < timeout) {
    converged = driver.count(WsLoadClient::Phase::kOpen) == o.clients;
    for (std::size_t d = 0; d < o.docs && converged; ++d) {
      const auto heads = driver.client(d).doc.heads();
      for (std::size_t i = d + o.docs; i < o.clients; i += o.docs) {
        if (driver.client(i).doc.heads() != heads) {
          converged = false;
          break;
        }
      }
    }
    if (converged) break;
    driver.poll(10);
  }
  out["converged"] = converged;
  out["converge_ms"] = ms_between(converge_start, Clock::now());
  if (const auto usage_after = process_usage(o.server_pid); usage_before && usage_after) {
    out["server_cpu_s"] = usage_after->cpu_s - usage_before->cpu_s;
    out["server_peak_rss_kb"] = usage_after->peak_rss_kb;
  }
  rusage generator_after{};
  getrusage(RUSAGE_SELF, &generator_after);
  out["generator_cpu_s"] = cpu_seconds(generator_after) - cpu_seconds(generator_before);

  std::vector<double> latencies;
  std::size_t expected = 0;
  for (std::size_t i = 0; i < o.clients; ++i) {
    expected += watches[i]->writers.size() * rounds;
    for (const auto& s : watches[i]->samples) latencies.push_back(s.latency_ms);
  }
  out["samples_expected"] = expected;
  put_latency(out, "", summarize_latencies(std::move(latencies)));
  driver.close_all();
  std::cout << out.dump() << std::endl;
  return converged && out["samples"].get<std::size_t>() == expected ? kExitOk : kExitUnavailable;
}

int bench_bigdoc(const BigDocBenchOptions& o) {
  const auto endpoint = parse_ws_endpoint(o.url);
  if (!endpoint) return fail(kExitUsage, "bench bigdoc dials ws://HOST:PORT[/PATH], not " + o.url);
  const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(o.timeout_s * 1000));
  std::ifstream in(o.file, std::ios::binary);
  if (!in) return fail(kExitUsage, "cannot read " + o.file);
  const am::Bytes saved((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  nlohmann::json out{{"workload", "bigdoc"}, {"server", o.url}, {"file_bytes", saved.size()}, {"fetchers", o.fetchers}};

  // Upload, until the server acknowledges the whole document.
  am::repo::DocumentId id;
  std::vector<am::ChangeHash> heads;
  {
    auto uploader = open_clients(o.url, 1, timeout);
    if (!uploader) return fail(kExitNetwork, uploader.error().to_string());
    auto h = (*uploader)[0].repo->import(saved);
    if (!h) return fail(kExitCorrupt, "cannot load " + o.file + ": " + h.error().to_string());
    const auto start = Clock::now();
    if (auto st = h->wait_synced((*uploader)[0].server, timeout); !st) {
      return fail(kExitNetwork, "the server did not acknowledge the big document: " + st.error().to_string());
    }
    out["upload_ms"] = ms_between(start, Clock::now());
    id = h->id();
    heads = h->heads();
    stop_all(*uploader);
  }

  // The probe: one client edits a small document, another sees each edit.
  auto probes = open_clients(o.url, 2, timeout);
  if (!probes) return fail(kExitNetwork, probes.error().to_string());
  am::Document initial;
  (void)initial.put(am::ObjId::root(), writer_key(0), std::int64_t{-1});
  initial.commit();
  auto probe_doc = (*probes)[0].repo->create(initial);
  if (!probe_doc) return fail(kExitFailure, probe_doc.error().to_string());
  if (auto st = probe_doc->wait_synced((*probes)[0].server, timeout); !st) return fail(kExitNetwork, st.error().to_string());
  auto probe_seen = (*probes)[1].repo->find(probe_doc->id(), timeout).get();
  if (!probe_seen) return fail(kExitUnavailable, "the probe cannot find its document: " + probe_seen.error().to_string());
  const std::size_t max_probe_edits = static_cast<std::size_t>(o.timeout_s * 1000 / o.probe_interval_ms) + 1;
  std::vector<EditTimes> probe_times;
  probe_times.emplace_back(max_probe_edits);
  Watch probe_watch;
  probe_watch.writers = {0};
  probe_watch.last_seen = {-1};
  am::repo::DocHandle seen_handle = *probe_seen;
  auto probe_subscription = seen_handle.on_change([&probe_watch, seen_handle, &probe_times](const am::repo::DocumentChange&) {
    seen_handle.read([&](const am::Document& d) { probe_watch.observe(d, probe_times); });
  });
  std::atomic<bool> probing{true};
  std::thread prober([&] {
    const auto interval = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(o.probe_interval_ms));
    auto next = Clock::now();
    for (std::size_t seq = 0; probing.load() && seq < max_probe_edits; ++seq) {
      std::this_thread::sleep_until(next);
      next += interval;
      probe_times[0].mark(seq);
      (void)probe_doc->change([&](am::Document& d) { (void)d.put(am::ObjId::root(), writer_key(0), static_cast<std::int64_t>(seq)); });
    }
  });
  std::this_thread::sleep_for(500ms);  // the probe's latency before the fetch, for comparison

  // The fetch, from a thread at a lower priority than the probe: fetch-only clients, all at once
  // (see WsLoadDriver::fetch_only: the document is decoded once, not once per fetcher).
  std::vector<double> done_ms(o.fetchers, -1);
  std::int64_t fetch_start_ns = 0, fetch_end_ns = 0;
  std::string fetch_error, fetch_failure;
  std::thread fetch_driver([&] {
    lower_this_threads_priority(19);
    WsLoadDriver driver(*endpoint, 0xb16d0c);
    if (!driver.resolve()) {
      fetch_error = "cannot resolve " + endpoint->host;
      return;
    }
    driver.fetch_only(heads);
    for (std::size_t f = 0; f < o.fetchers; ++f) driver.add(id.to_string(), "bench-fetcher-");
    const auto start = Clock::now();
    fetch_start_ns = now_ns();
    (void)driver.open_all(o.fetchers, start + timeout);
    fetch_end_ns = now_ns();
    for (std::size_t f = 0; f < o.fetchers; ++f) {
      if (const auto& at = driver.client(f).fetched_at) done_ms[f] = ms_between(start, *at);
    }
    fetch_failure = driver.first_error();  // reported with the counts, not as an exit
  });
  const auto usage_before = process_usage(o.server_pid);
  fetch_driver.join();
  const auto usage_after = process_usage(o.server_pid);
  std::this_thread::sleep_for(200ms);  // the last probe edits of the fetch window arrive
  probing = false;
  prober.join();
  probe_subscription.reset();
  stop_all(*probes);
  if (!fetch_error.empty()) return fail(kExitNetwork, fetch_error);

  std::size_t fetched = 0;
  double first = -1, last = 0;
  for (double ms : done_ms) {
    if (ms < 0) continue;
    ++fetched;
    first = first < 0 ? ms : std::min(first, ms);
    last = std::max(last, ms);
  }
  out["fetched"] = fetched;
  if (!fetch_failure.empty()) out["fetch_failure"] = fetch_failure;
  out["first_copy_ms"] = first;
  out["all_copies_ms"] = last;
  std::vector<double> before, during;
  {
    std::lock_guard<std::mutex> lock(probe_watch.mutex);
    for (const auto& s : probe_watch.samples) {
      if (s.sent_ns < fetch_start_ns) before.push_back(s.latency_ms);
      else if (s.sent_ns <= fetch_end_ns) during.push_back(s.latency_ms);
    }
  }
  put_latency(out, "probe_before_", summarize_latencies(std::move(before)));
  put_latency(out, "probe_during_", summarize_latencies(std::move(during)));
  if (usage_before && usage_after) {
    out["server_cpu_s"] = usage_after->cpu_s - usage_before->cpu_s;
    out["server_peak_rss_kb"] = usage_after->peak_rss_kb;
  }
  std::cout << out.dump() << std::endl;
  return fetched == o.fetchers ? kExitOk : kExitUnavailable;
}

}  // namespace amrepo
