#include "bench_cli.h"

#include <memory>

#include "battery.h"
#include "bench.h"
#include "connections_bench.h"
#include "doc_bench.h"
#include "load_bench.h"
#include "server_bench.h"

namespace amrepo {

void add_bench_commands(CLI::App& app, CommandRunners& runners) {
  auto trace_options = std::make_shared<TraceBenchOptions>();
  CLI::App* bench_cmd = app.add_subcommand("bench", "Reproducible performance measurements");
  bench_cmd->require_subcommand(1);
  auto* trace_cmd = bench_cmd->add_subcommand(
      "trace",
      "Replay an editing trace (editing-traces JSON, gzip read directly), then save the document, "
      "load the saved bytes in this process, and sync the document to an empty peer (fresh sync "
      "states, messages passed both ways until neither side sends). Prints one JSON line: mode, "
      "edits, apply_ms (edits + commits), commit_ms, changes, text_len, heads, save_ms, save_bytes, "
      "load_ms, sync_ms, sync_bytes, sync_round_trips (messages sent), rss_kb, peak_rss_kb (whole run)");
  trace_cmd->add_option("FILE", trace_options->file, "trace file, e.g. automerge-paper.json.gz")->required();
  trace_cmd->add_flag("--single", trace_options->single, "apply the whole trace as one change");
  auto per_edit = std::make_shared<bool>(false);  // the default; accepted for symmetry with --single
  trace_cmd->add_flag("--per-edit", *per_edit, "one change per edit (the default)")->excludes("--single");
  trace_cmd->add_flag("--observe", trace_options->observe,
                      "with --per-edit: after every edit take its patches (Document::diff_incremental, as an "
                      "editor's view does); adds patches, observed_edit_us_first and observed_edit_us_last (mean "
                      "cost of an observed edit over the first and the last 2,000 edits)")
      ->excludes("--single");
  trace_cmd->add_option("--limit", trace_options->limit, "replay only the first N edits");
  trace_cmd->add_option("--save-to", trace_options->save_to,
                        "also write the saved document to this file (input for `bench load`)");
  trace_cmd->add_flag("--no-sync", trace_options->no_sync, "skip the sync measurement");

  auto load_options = std::make_shared<LoadBenchOptions>();
  auto* load_cmd = bench_cmd->add_subcommand(
      "load",
      "Load a saved document in this fresh process (full change rebuild and head verification) and "
      "print one JSON line: file_bytes, load_ms, changes, text_len, heads, rss_before_kb, rss_kb "
      "(resident after loading), peak_rss_kb (process peak). Make the file with "
      "`bench trace TRACE --save-to FILE`");
  load_cmd->add_option("FILE", load_options->file, "saved document")->required();
  load_cmd->add_flag("--unchecked", load_options->unchecked, "skip head verification");

  auto server_bench = std::make_shared<ServerBenchOptions>();
  auto* server_bench_cmd = bench_cmd->add_subcommand(
      "server",
      "The many-documents workload against a sync server (ws:// or tcp://): one client creates "
      "--docs small documents and waits until the server has each, then a fresh client finds them "
      "all at once. Prints one JSON line: docs, create_ms, find_ms, found. bench/server/run.sh "
      "runs it against amrepo serve and the JS sync server side by side");
  server_bench_cmd->add_option("URL", server_bench->url, "the server")->required();
  server_bench_cmd->add_option("--docs", server_bench->docs, "how many documents")->capture_default_str();
  server_bench_cmd->add_option("--ids-out", server_bench->ids_out, "write the created ids to this file");
  server_bench_cmd->add_option("--ids-in", server_bench->ids_in, "only find the ids in this file");
  server_bench_cmd->add_option("--timeout", server_bench->timeout_s, "seconds")->capture_default_str();

  auto cluster_bench = std::make_shared<ClusterBenchOptions>();
  auto* cluster_bench_cmd = bench_cmd->add_subcommand(
      "cluster",
      "Servers sharing one store (amrepo serve --storage postgres), one client per server: "
      "--docs documents created round-robin through them, each acknowledged (documents per "
      "second), then --edits changes by a client of the first server, each seen by a client of "
      "the second (of the first when alone) through on_change (p50/p99/max ms). Prints one JSON "
      "line per phase. bench/cluster/run.sh runs it against 1 and 3 servers");
  cluster_bench_cmd->add_option("URL", cluster_bench->urls, "the servers")->required();
  cluster_bench_cmd->add_option("--docs", cluster_bench->docs, "how many documents")->capture_default_str();
  cluster_bench_cmd->add_option("--edits", cluster_bench->edits, "how many fan-out edits")->capture_default_str();
  cluster_bench_cmd->add_option("--timeout", cluster_bench->timeout_s, "seconds")->capture_default_str();

  auto clients_bench = std::make_shared<ClientsBenchOptions>();
  auto* clients_bench_cmd = bench_cmd->add_subcommand(
      "clients",
      "The many-clients workload against a sync server (ws://): --clients WebSocket clients on "
      "--docs shared documents, each setting its own key every --interval-ms for --seconds; every "
      "other client of the document measures edit-to-visible latency; then waits until each "
      "document's clients have the same heads. Prints one JSON line (p50/p99/max ms, converged, "
      "and with --server-pid the server's CPU seconds and peak RSS). bench/server/run.sh runs it "
      "against amrepo serve and the JS sync server");
  clients_bench_cmd->add_option("URL", clients_bench->url, "the server")->required();
  clients_bench_cmd->add_option("--clients", clients_bench->clients, "WebSocket clients")->capture_default_str();
  clients_bench_cmd->add_option("--docs", clients_bench->docs, "shared documents")->capture_default_str();
  clients_bench_cmd->add_option("--interval-ms", clients_bench->interval_ms, "each client's time between edits")->capture_default_str();
  clients_bench_cmd->add_option("--seconds", clients_bench->seconds, "how long the clients edit")->capture_default_str();
  clients_bench_cmd->add_option("--timeout", clients_bench->timeout_s, "seconds for set-up and for convergence")->capture_default_str();
  clients_bench_cmd->add_option("--server-pid", clients_bench->server_pid, "read this local server's CPU time and peak RSS");

  auto bigdoc_bench = std::make_shared<BigDocBenchOptions>();
  auto* bigdoc_bench_cmd = bench_cmd->add_subcommand(
      "bigdoc",
      "The big-document workload against a sync server (ws://): uploads FILE (a saved document), "
      "then --fetchers fresh clients find it at once (ms to the first and the last complete copy) "
      "while a probe edits a small document every --probe-interval-ms and another client times "
      "each edit (p50/p99/max ms before and during the fetch). Prints one JSON line");
  bigdoc_bench_cmd->add_option("URL", bigdoc_bench->url, "the server")->required();
  bigdoc_bench_cmd->add_option("FILE", bigdoc_bench->file, "saved document, e.g. from `bench trace --save-to`")->required();
  bigdoc_bench_cmd->add_option("--fetchers", bigdoc_bench->fetchers, "fresh clients fetching it at once")->capture_default_str();
  bigdoc_bench_cmd->add_option("--probe-interval-ms", bigdoc_bench->probe_interval_ms, "time between probe edits")->capture_default_str();
  bigdoc_bench_cmd->add_option("--timeout", bigdoc_bench->timeout_s, "seconds")->capture_default_str();
  bigdoc_bench_cmd->add_option("--server-pid", bigdoc_bench->server_pid, "read this local server's CPU time and peak RSS");

  auto connections_bench = std::make_shared<ConnectionsBenchOptions>();
  auto* connections_bench_cmd = bench_cmd->add_subcommand(
      "connections",
      "What idle connections cost a local sync server: --connections WebSocket clients (one thread, "
      "epoll) connect, handshake and each open one of --docs shared documents, sit idle for --idle "
      "seconds, then close. Prints one JSON line with the server's RSS before, open, idle and after "
      "closing, RSS and CPU per connection");
  connections_bench_cmd->add_option("URL", connections_bench->url, "the server (ws://)")->required();
  connections_bench_cmd->add_option("--server-pid", connections_bench->server_pid, "the server's process id")->required();
  connections_bench_cmd->add_option("--connections", connections_bench->connections, "clients")->capture_default_str();
  connections_bench_cmd->add_option("--docs", connections_bench->docs, "shared documents")->capture_default_str();
  connections_bench_cmd->add_option("--in-flight", connections_bench->in_flight, "clients in their handshake at once")->capture_default_str();
  connections_bench_cmd->add_option("--idle", connections_bench->idle_s, "seconds idle before closing")->capture_default_str();
  connections_bench_cmd->add_option("--after-close", connections_bench->after_close_s, "seconds to wait after closing")->capture_default_str();
  connections_bench_cmd->add_option("--timeout", connections_bench->timeout_s, "seconds for the opening phase")->capture_default_str();

  auto battery_options = std::make_shared<BatteryOptions>();
  auto* battery_cmd = bench_cmd->add_subcommand(
      "battery",
      "The reference's benchmark battery (rust/benchmark-battery) on this implementation: writes its "
      "schema-2 JSON (sampled / series / memory / not_run results). bench/battery/run.sh runs it and "
      "the JS twin side by side");
  battery_cmd->add_option("--filter", battery_options->filter, "only benchmarks whose group or name contains this");
  battery_cmd->add_option("--tier", battery_options->tier, "fast, slow or all")->capture_default_str();
  battery_cmd->add_option("--output", battery_options->output, "JSON file to write (default: stdout)");
  battery_cmd->add_option("--data", battery_options->data_dir, "the data/ folder (default $AM_SHARED_DATA_DIR, else ./data)");
  battery_cmd->add_option("--sample-count", battery_options->sample_count, "samples per sampled benchmark")->capture_default_str();
  battery_cmd->add_option("--warmup-count", battery_options->warmup_count, "unmeasured iterations first")->capture_default_str();
  battery_cmd->add_option("--max-seconds", battery_options->max_seconds,
                          "stop sampling one benchmark after this long (>= 3 samples)")->capture_default_str();
  battery_cmd->add_flag("--list", battery_options->list, "list the benchmarks (name, kind, tier) instead");

  auto doc_bench = std::make_shared<DocBenchOptions>();
  auto* doc_bench_cmd = bench_cmd->add_subcommand(
      "doc",
      "Load one document in this fresh process (full verification), save it and sync it to an empty "
      "peer; prints one JSON line: load_ms, save_ms, save_bytes, sync_ms, sync_bytes, sync_round_trips, "
      "rss_before_kb, rss_after_load_kb, peak_rss_kb, heap_after_load_bytes, heap_peak_bytes. "
      "bench/battery/docs.sh runs it and the JS twin over data/battery");
  doc_bench_cmd->add_option("FILE", doc_bench->file, "saved document")->required();

  // per_edit is bound to --per-edit: the action keeps it alive.
  runners.emplace_back(trace_cmd, [trace_options, per_edit] { return bench_trace(*trace_options); });
  runners.emplace_back(load_cmd, [load_options] { return bench_load(*load_options); });
  runners.emplace_back(server_bench_cmd, [server_bench] { return bench_server(*server_bench); });
  runners.emplace_back(cluster_bench_cmd, [cluster_bench] { return bench_cluster(*cluster_bench); });
  runners.emplace_back(clients_bench_cmd, [clients_bench] { return bench_clients(*clients_bench); });
  runners.emplace_back(bigdoc_bench_cmd, [bigdoc_bench] { return bench_bigdoc(*bigdoc_bench); });
  runners.emplace_back(connections_bench_cmd, [connections_bench] { return bench_connections(*connections_bench); });
  runners.emplace_back(battery_cmd, [battery_options] { return bench_battery(*battery_options); });
  runners.emplace_back(doc_bench_cmd, [doc_bench] { return bench_doc(*doc_bench); });
}

}  // namespace amrepo
