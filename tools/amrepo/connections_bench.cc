#include "connections_bench.h"

#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "file_tools.h"
#include "load_bench.h"
#include "ws_load_driver.h"

namespace amrepo {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

int fail(int code, const std::string& message) {
  std::cerr << "amrepo bench connections: " << message << "\n";
  return code;
}

void put_usage(json& out, const std::string& name, const std::optional<ProcessUsage>& u) {
  out["rss_" + name + "_kb"] = u ? u->rss_kb : 0;
}

}  // namespace

int bench_connections(const ConnectionsBenchOptions& o) {
  const auto endpoint = parse_ws_endpoint(o.url);
  if (!endpoint) return fail(kExitUsage, "expected ws://HOST:PORT[/PATH], not " + o.url);
  if (o.server_pid <= 0) return fail(kExitUsage, "--server-pid is required: the figures are the server's");
  if (o.connections == 0 || o.docs == 0 || o.in_flight == 0) return fail(kExitUsage, "counts must be positive");
  raise_open_files_limit();
  const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(o.timeout_s * 1000));
  auto ids = create_shared_documents(o.url, o.docs, timeout);
  if (!ids) return fail(kExitNetwork, ids.error().to_string());
  std::this_thread::sleep_for(std::chrono::seconds(1));  // let the creator's connection go

  WsLoadDriver driver(*endpoint, 0x5eed);
  if (!driver.resolve()) return fail(kExitNetwork, "cannot resolve " + endpoint->host);
  for (std::size_t i = 0; i < o.connections; ++i) driver.add((*ids)[i % ids->size()].to_string(), "bench-conn-");

  json out{{"workload", "connections"}, {"server", o.url}, {"connections", o.connections}, {"docs", o.docs}};
  const auto before = process_usage(o.server_pid);
  if (!before) return fail(kExitUsage, "cannot read /proc/" + std::to_string(o.server_pid));
  const auto start = Clock::now();
  const bool finished = driver.open_all(o.in_flight, start + timeout);
  out["open_ms"] = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  const auto opened_usage = process_usage(o.server_pid);
  const std::size_t opened = driver.count(WsLoadClient::Phase::kOpen);
  out["opened"] = opened;
  out["failed"] = driver.count(WsLoadClient::Phase::kFailed);
  if (!driver.first_error().empty()) out["first_error"] = driver.first_error();
  driver.idle(o.idle_s);
  const auto idle_usage = process_usage(o.server_pid);
  out["still_open"] = driver.count(WsLoadClient::Phase::kOpen);
  driver.close_all();
  std::this_thread::sleep_for(std::chrono::duration<double>(o.after_close_s));
  const auto closed_usage = process_usage(o.server_pid);

  put_usage(out, "before", before);
  put_usage(out, "open", opened_usage);
  put_usage(out, "idle", idle_usage);
  put_usage(out, "closed", closed_usage);
  if (opened_usage && idle_usage) {
    const double n = static_cast<double>(std::max<std::size_t>(opened, 1));
    out["rss_per_connection_kb"] = static_cast<double>(opened_usage->rss_kb - before->rss_kb) / n;
    out["cpu_open_s"] = opened_usage->cpu_s - before->cpu_s;
    out["cpu_per_connection_ms"] = (opened_usage->cpu_s - before->cpu_s) * 1000 / n;
    out["cpu_idle_s"] = idle_usage->cpu_s - opened_usage->cpu_s;
    out["server_peak_rss_kb"] = idle_usage->peak_rss_kb;
  }
  std::cout << out.dump() << std::endl;
  return finished && opened == o.connections ? kExitOk : kExitNetwork;
}

}  // namespace amrepo
