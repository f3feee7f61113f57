#include "server_bench.h"

#include <chrono>
#include <fstream>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "am/repo/repo.h"
#include "cli_common.h"
#include "client_commands.h"
#include "client_session.h"
#include "file_tools.h"
#include "load_bench.h"

namespace amrepo {

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
