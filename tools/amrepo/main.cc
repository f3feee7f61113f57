// amrepo: the command-line front door: offline file tools, benchmarks, the sync server (serve)
// and network client commands. Exit codes in file_tools.h and docs/cli.md.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "battery.h"
#include "bench.h"
#include "client_server.h"
#include "connections_bench.h"
#include "doc_bench.h"
#include "load_bench.h"
#include "migrate.h"
#include "file_tools.h"
#include "client_commands.h"
#include "serve.h"
#include "serve_options.h"
#include "server_bench.h"

int main(int argc, char** argv) {
  CLI::App app{"amrepo: Automerge documents and repositories, compatible with the JS reference"};
  app.set_version_flag("--version", "amrepo 0.1.0");
  app.require_subcommand(1);

  std::string file, out, actor;
  std::vector<std::string> files;
  bool scalar_strings = false, no_compress = false;
  auto* export_cmd = app.add_subcommand("export", "Print an Automerge file's document as JSON");
  export_cmd->add_option("FILE", file, "Automerge file (document and/or changes)")->required();
  export_cmd->add_option("-o,--output", out, "write the JSON here instead of stdout");
  auto* import_cmd = app.add_subcommand("import", "Build a document from JSON and save it");
  import_cmd->add_option("IN", file, "JSON file whose top level is an object")->required();
  import_cmd->add_option("-o,--output", out, "Automerge file to write")->required();
  import_cmd->add_option("--actor", actor, "actor id (hex) of the change; random by default");
  import_cmd->add_flag("--scalar-strings", scalar_strings,
                       "store strings as scalar strings instead of text objects");
  auto* resave_cmd = app.add_subcommand("resave", "Load an Automerge file and save it again");
  resave_cmd->add_option("FILE", file, "Automerge file")->required();
  resave_cmd->add_option("-o,--output", out, "Automerge file to write")->required();
  resave_cmd->add_flag("--no-compress", no_compress, "do not DEFLATE large columns");
  auto* merge_cmd = app.add_subcommand("merge", "Merge Automerge files into one document");
  merge_cmd->add_option("FILES", files, "two or more Automerge files")->required()->expected(2, -1);
  merge_cmd->add_option("-o,--output", out, "Automerge file to write")->required();
  auto* inspect_cmd = app.add_subcommand(
      "inspect", "Describe an Automerge file: chunks, changes (hash, actor, seq, deps, ops), actors, heads, sizes");
  inspect_cmd->add_option("FILE", file, "Automerge file")->required();

  amrepo::TraceBenchOptions trace_options;
  auto* bench_cmd = app.add_subcommand("bench", "Reproducible performance measurements");
  bench_cmd->require_subcommand(1);
  auto* trace_cmd = bench_cmd->add_subcommand(
      "trace",
      "Replay an editing trace (editing-traces JSON, gzip read directly), then save the document, "
      "load the saved bytes in this process, and sync the document to an empty peer (fresh sync "
      "states, messages passed both ways until neither side sends). Prints one JSON line: mode, "
      "edits, apply_ms (edits + commits), commit_ms, changes, text_len, heads, save_ms, save_bytes, "
      "load_ms, sync_ms, sync_bytes, sync_round_trips (messages sent), rss_kb, peak_rss_kb (whole run)");
  trace_cmd->add_option("FILE", trace_options.file, "trace file, e.g. automerge-paper.json.gz")->required();
  trace_cmd->add_flag("--single", trace_options.single, "apply the whole trace as one change");
  bool per_edit = false;  // the default; accepted for symmetry with --single
  trace_cmd->add_flag("--per-edit", per_edit, "one change per edit (the default)")->excludes("--single");
  trace_cmd->add_option("--limit", trace_options.limit, "replay only the first N edits");
  trace_cmd->add_option("--save-to", trace_options.save_to,
                        "also write the saved document to this file (input for `bench load`)");
  trace_cmd->add_flag("--no-sync", trace_options.no_sync, "skip the sync measurement");

  amrepo::LoadBenchOptions load_options;
  auto* load_cmd = bench_cmd->add_subcommand(
      "load",
      "Load a saved document in this fresh process (full change rebuild and head verification) and "
      "print one JSON line: file_bytes, load_ms, changes, text_len, heads, rss_before_kb, rss_kb "
      "(resident after loading), peak_rss_kb (process peak). Make the file with "
      "`bench trace TRACE --save-to FILE`");
  load_cmd->add_option("FILE", load_options.file, "saved document")->required();
  load_cmd->add_flag("--unchecked", load_options.unchecked, "skip head verification");

  amrepo::ServerBenchOptions server_bench;
  auto* server_bench_cmd = bench_cmd->add_subcommand(
      "server",
      "The many-documents workload against a sync server (ws:// or tcp://): one client creates "
      "--docs small documents and waits until the server has each, then a fresh client finds them "
      "all at once. Prints one JSON line: docs, create_ms, find_ms, found. bench/server/run.sh "
      "runs it against amrepo serve and the JS sync server side by side");
  server_bench_cmd->add_option("URL", server_bench.url, "the server")->required();
  server_bench_cmd->add_option("--docs", server_bench.docs, "how many documents")->capture_default_str();
  server_bench_cmd->add_option("--ids-out", server_bench.ids_out, "write the created ids to this file");
  server_bench_cmd->add_option("--ids-in", server_bench.ids_in, "only find the ids in this file");
  server_bench_cmd->add_option("--timeout", server_bench.timeout_s, "seconds")->capture_default_str();

  amrepo::ClusterBenchOptions cluster_bench;
  auto* cluster_bench_cmd = bench_cmd->add_subcommand(
      "cluster",
      "Servers sharing one store (amrepo serve --storage postgres), one client per server: "
      "--docs documents created round-robin through them, each acknowledged (documents per "
      "second), then --edits changes by a client of the first server, each seen by a client of "
      "the second (of the first when alone) through on_change (p50/p99/max ms). Prints one JSON "
      "line per phase. bench/cluster/run.sh runs it against 1 and 3 servers");
  cluster_bench_cmd->add_option("URL", cluster_bench.urls, "the servers")->required();
  cluster_bench_cmd->add_option("--docs", cluster_bench.docs, "how many documents")->capture_default_str();
  cluster_bench_cmd->add_option("--edits", cluster_bench.edits, "how many fan-out edits")->capture_default_str();
  cluster_bench_cmd->add_option("--timeout", cluster_bench.timeout_s, "seconds")->capture_default_str();

  amrepo::ClientsBenchOptions clients_bench;
  auto* clients_bench_cmd = bench_cmd->add_subcommand(
      "clients",
      "The many-clients workload against a sync server (ws://): --clients WebSocket clients on "
      "--docs shared documents, each setting its own key every --interval-ms for --seconds; every "
      "other client of the document measures edit-to-visible latency; then waits until each "
      "document's clients have the same heads. Prints one JSON line (p50/p99/max ms, converged, "
      "and with --server-pid the server's CPU seconds and peak RSS). bench/server/run.sh runs it "
      "against amrepo serve and the JS sync server");
  clients_bench_cmd->add_option("URL", clients_bench.url, "the server")->required();
  clients_bench_cmd->add_option("--clients", clients_bench.clients, "WebSocket clients")->capture_default_str();
  clients_bench_cmd->add_option("--docs", clients_bench.docs, "shared documents")->capture_default_str();
  clients_bench_cmd->add_option("--interval-ms", clients_bench.interval_ms, "each client's time between edits")->capture_default_str();
  clients_bench_cmd->add_option("--seconds", clients_bench.seconds, "how long the clients edit")->capture_default_str();
  clients_bench_cmd->add_option("--timeout", clients_bench.timeout_s, "seconds for set-up and for convergence")->capture_default_str();
  clients_bench_cmd->add_option("--server-pid", clients_bench.server_pid, "read this local server's CPU time and peak RSS");

  amrepo::BigDocBenchOptions bigdoc_bench;
  auto* bigdoc_bench_cmd = bench_cmd->add_subcommand(
      "bigdoc",
      "The big-document workload against a sync server (ws://): uploads FILE (a saved document), "
      "then --fetchers fresh clients find it at once (ms to the first and the last complete copy) "
      "while a probe edits a small document every --probe-interval-ms and another client times "
      "each edit (p50/p99/max ms before and during the fetch). Prints one JSON line");
  bigdoc_bench_cmd->add_option("URL", bigdoc_bench.url, "the server")->required();
  bigdoc_bench_cmd->add_option("FILE", bigdoc_bench.file, "saved document, e.g. from `bench trace --save-to`")->required();
  bigdoc_bench_cmd->add_option("--fetchers", bigdoc_bench.fetchers, "fresh clients fetching it at once")->capture_default_str();
  bigdoc_bench_cmd->add_option("--probe-interval-ms", bigdoc_bench.probe_interval_ms, "time between probe edits")->capture_default_str();
  bigdoc_bench_cmd->add_option("--timeout", bigdoc_bench.timeout_s, "seconds")->capture_default_str();
  bigdoc_bench_cmd->add_option("--server-pid", bigdoc_bench.server_pid, "read this local server's CPU time and peak RSS");

  amrepo::ConnectionsBenchOptions connections_bench;
  auto* connections_bench_cmd = bench_cmd->add_subcommand(
      "connections",
      "What idle connections cost a local sync server: --connections WebSocket clients (one thread, "
      "epoll) connect, handshake and each open one of --docs shared documents, sit idle for --idle "
      "seconds, then close. Prints one JSON line with the server's RSS before, open, idle and after "
      "closing, RSS and CPU per connection");
  connections_bench_cmd->add_option("URL", connections_bench.url, "the server (ws://)")->required();
  connections_bench_cmd->add_option("--server-pid", connections_bench.server_pid, "the server's process id")->required();
  connections_bench_cmd->add_option("--connections", connections_bench.connections, "clients")->capture_default_str();
  connections_bench_cmd->add_option("--docs", connections_bench.docs, "shared documents")->capture_default_str();
  connections_bench_cmd->add_option("--in-flight", connections_bench.in_flight, "clients in their handshake at once")->capture_default_str();
  connections_bench_cmd->add_option("--idle", connections_bench.idle_s, "seconds idle before closing")->capture_default_str();
  connections_bench_cmd->add_option("--after-close", connections_bench.after_close_s, "seconds to wait after closing")->capture_default_str();
  connections_bench_cmd->add_option("--timeout", connections_bench.timeout_s, "seconds for the opening phase")->capture_default_str();

  amrepo::BatteryOptions battery_options;
  auto* battery_cmd = bench_cmd->add_subcommand(
      "battery",
      "The reference's benchmark battery (rust/benchmark-battery) on this implementation: writes its "
      "schema-2 JSON (sampled / series / memory / not_run results). bench/battery/run.sh runs it and "
      "the JS twin side by side");
  battery_cmd->add_option("--filter", battery_options.filter, "only benchmarks whose group or name contains this");
  battery_cmd->add_option("--tier", battery_options.tier, "fast, slow or all")->capture_default_str();
  battery_cmd->add_option("--output", battery_options.output, "JSON file to write (default: stdout)");
  battery_cmd->add_option("--data", battery_options.data_dir, "the data/ folder (default $AM_SHARED_DATA_DIR, else ./data)");
  battery_cmd->add_option("--sample-count", battery_options.sample_count, "samples per sampled benchmark")->capture_default_str();
  battery_cmd->add_option("--warmup-count", battery_options.warmup_count, "unmeasured iterations first")->capture_default_str();
  battery_cmd->add_option("--max-seconds", battery_options.max_seconds,
                          "stop sampling one benchmark after this long (>= 3 samples)")->capture_default_str();
  battery_cmd->add_flag("--list", battery_options.list, "list the benchmarks (name, kind, tier) instead");

  amrepo::DocBenchOptions doc_bench;
  auto* doc_bench_cmd = bench_cmd->add_subcommand(
      "doc",
      "Load one document in this fresh process (full verification), save it and sync it to an empty "
      "peer; prints one JSON line: load_ms, save_ms, save_bytes, sync_ms, sync_bytes, sync_round_trips, "
      "rss_before_kb, rss_after_load_kb, peak_rss_kb, heap_after_load_bytes, heap_peak_bytes. "
      "bench/battery/docs.sh runs it and the JS twin over data/battery");
  doc_bench_cmd->add_option("FILE", doc_bench.file, "saved document")->required();

  amrepo::ServeOptions serve_options;
  CLI::App* serve_cmd = amrepo::add_serve_command(app, serve_options);

  amrepo::ClientOptions client_options;
  auto add_client_options = [&](CLI::App* cmd) {
    cmd->add_option("--server", client_options.server,
                    "ws[s]://HOST:PORT[/PATH] or tcp://HOST:PORT (default: $AMREPO_SERVER, else " +
                        amrepo::default_server_url() + "; none with --data alone)");
    cmd->add_option("--data", client_options.data, "a local repo: DIR, sqlite:FILE or postgres:CONNINFO");
    cmd->add_option("--timeout", client_options.timeout_s, "seconds to wait for the server")->capture_default_str();
    cmd->add_option("--ca-file", client_options.ca_file,
                    "trust these CAs (PEM) for a wss:// server (default: the system's)");
    cmd->add_option("--token", client_options.token,
                    "bearer token for a server started with --auth-token-file (default: $AMREPO_TOKEN)");
  };
  std::string json_text, json_file, url;
  auto* new_cmd = app.add_subcommand("new", "Create a document and print its automerge: URL once the server has it");
  add_client_options(new_cmd);
  std::string json_arg;
  auto* json_positional = new_cmd->add_option("JSON", json_arg, "initial content (a JSON object), as --json");
  new_cmd->add_option("--json", json_text, "initial content (a JSON object)")->excludes(json_positional);
  new_cmd->add_option("--file", json_file, "initial content from a JSON file")->excludes("--json")->excludes(json_positional);
  std::string doc_path;
  auto* cat_cmd = app.add_subcommand("cat", "Print a document as JSON");
  add_client_options(cat_cmd);
  cat_cmd->add_option("URL", url, "automerge:... URL or document id")->required();
  cat_cmd->add_option("--path", doc_path, "print only this sub-tree (/todos/0/title)");

  amrepo::EditCommand edit;
  auto* set_cmd = app.add_subcommand("set", "Set the value at PATH to JSON (strings become text, objects maps, arrays lists)");
  add_client_options(set_cmd);
  set_cmd->add_option("URL", url, "document")->required();
  set_cmd->add_option("PATH", edit.path, "/key/0/key (a list index equal to the length appends)")->required();
  set_cmd->add_option("JSON", edit.json, "the value, as JSON")->required();
  auto* del_cmd = app.add_subcommand("del", "Delete the key or list element at PATH");
  add_client_options(del_cmd);
  del_cmd->add_option("URL", url, "document")->required();
  del_cmd->add_option("PATH", edit.path, "/key/0")->required();
  auto* incr_cmd = app.add_subcommand("incr", "Add N (default 1) to the counter at PATH (an absent key becomes a counter)");
  add_client_options(incr_cmd);
  incr_cmd->add_option("URL", url, "document")->required();
  incr_cmd->add_option("PATH", edit.path, "/key")->required();
  incr_cmd->add_option("N", edit.by, "amount");
  auto* splice_cmd = app.add_subcommand("splice", "Edit the text at PATH: delete DEL units at POS, insert TEXT");
  add_client_options(splice_cmd);
  splice_cmd->add_option("URL", url, "document")->required();
  splice_cmd->add_option("PATH", edit.path, "/key")->required();
  splice_cmd->add_option("POS", edit.pos, "position (UTF-16 units, as JS)")->required();
  splice_cmd->add_option("DEL", edit.del, "units to delete")->required();
  splice_cmd->add_option("TEXT", edit.text, "text to insert");
  auto* edit_cmd = app.add_subcommand("edit", "Edit a document's JSON in $VISUAL/$EDITOR and apply what changed");
  add_client_options(edit_cmd);
  edit_cmd->add_option("URL", url, "document")->required();
  bool watch_ephemeral = false;
  std::size_t watch_count = 0;
  auto* watch_cmd = app.add_subcommand("watch", "Print one JSON line per change (snapshot first) until Ctrl-C");
  add_client_options(watch_cmd);
  watch_cmd->add_option("URL", url, "document")->required();
  watch_cmd->add_flag("--ephemeral", watch_ephemeral, "also print ephemeral messages");
  watch_cmd->add_option("--count", watch_count, "exit after this many changes");
  auto* broadcast_cmd = app.add_subcommand("broadcast", "Send an ephemeral message (JSON, CBOR on the wire)");
  add_client_options(broadcast_cmd);
  broadcast_cmd->add_option("URL", url, "document")->required();
  broadcast_cmd->add_option("JSON", json_text, "the message")->required();
  auto* ls_cmd = app.add_subcommand("ls", "List the documents of a --data repo");
  add_client_options(ls_cmd);
  auto* rm_cmd = app.add_subcommand("rm", "Remove a document from a --data repo");
  add_client_options(rm_cmd);
  rm_cmd->add_option("URL", url, "document")->required();

  amrepo::MigrateOptions migrate_options;
  auto* migrate_cmd = app.add_subcommand(
      "migrate",
      "Copy every document of one store into another (files, SQLite, PostgreSQL), checking each "
      "document's heads at the destination. Safe to interrupt and run again (what is already there "
      "is skipped) and to run while a server uses the source (run it again afterwards for what the "
      "server wrote meanwhile)");
  migrate_cmd->add_option("--from", migrate_options.from, "source store: DIR, sqlite:FILE or postgres:CONNINFO")->required();
  migrate_cmd->add_option("--to", migrate_options.to, "destination store (created when missing)")->required();
  bool drop_sync_states = false;
  migrate_cmd->add_flag("--drop-sync-states", drop_sync_states,
                        "do not copy peers' sync states (they only spare a first sync some round trips)");
  migrate_cmd->add_option("--progress", migrate_options.progress,
                          "auto (a live line on a terminal), always (a line every 5 s otherwise too) or never")
      ->capture_default_str();

  // Set last: subcommands created before it do not inherit it (their help stays their own).
  app.footer("\nGetting started:\n"
             "  amrepo serve                           a sync server on " + amrepo::default_server_url() +
             " (documents in ./amrepo-data)\n"
             "  URL=$(amrepo new '{\"title\":\"hello\"}')  create a document there; prints its automerge: URL\n"
             "  amrepo cat \"$URL\"                      print it as JSON\n"
             "  amrepo set \"$URL\" /title '\"hi\"'        change it; `amrepo watch \"$URL\"` shows changes live\n"
             "Client commands talk to --server URL, else $AMREPO_SERVER, else " + amrepo::default_server_url() +
             ".\nMore: `amrepo COMMAND --help`, docs/cli.md, man amrepo.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : amrepo::kExitUsage;
  }
  if (*export_cmd) return amrepo::export_json(file, out);
  if (*import_cmd) return amrepo::import_json(file, out, actor, scalar_strings);
  if (*resave_cmd) return amrepo::resave(file, out, no_compress);
  if (*merge_cmd) return amrepo::merge(files, out);
  if (*inspect_cmd) return amrepo::inspect(file);
  if (*trace_cmd) return amrepo::bench_trace(trace_options);
  if (*serve_cmd) {
    if (int rc = amrepo::complete_serve_options(serve_cmd, serve_options); rc != amrepo::kExitOk) return rc;
    if (serve_options.print_config) {
      std::cout << amrepo::effective_serve_config(serve_cmd);
      return amrepo::kExitOk;
    }
    amrepo::restart_with_server_malloc_settings(argv);
    return amrepo::serve(serve_options);
  }
  if (*new_cmd) {
    if (!json_arg.empty()) json_text = json_arg;
    if (!json_file.empty()) {
      std::ifstream in(json_file);
      if (!in) {
        std::cerr << "amrepo: cannot read " << json_file << "\n";
        return amrepo::kExitFailure;
      }
      json_text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return amrepo::client_new(client_options, json_text);
  }
  if (*cat_cmd) return amrepo::client_cat(client_options, url, doc_path);
  if (*set_cmd) return amrepo::client_edit(client_options, url, edit);
  if (*del_cmd) {
    edit.kind = amrepo::EditCommand::Kind::kDelete;
    return amrepo::client_edit(client_options, url, edit);
  }
  if (*incr_cmd) {
    edit.kind = amrepo::EditCommand::Kind::kIncrement;
    return amrepo::client_edit(client_options, url, edit);
  }
  if (*splice_cmd) {
    edit.kind = amrepo::EditCommand::Kind::kSplice;
    return amrepo::client_edit(client_options, url, edit);
  }
  if (*edit_cmd) return amrepo::client_editor(client_options, url);
  if (*watch_cmd) return amrepo::client_watch(client_options, url, watch_ephemeral, watch_count);
  if (*broadcast_cmd) return amrepo::client_broadcast(client_options, url, json_text);
  if (*migrate_cmd) {
    migrate_options.keep_sync_states = !drop_sync_states;
    return amrepo::migrate(migrate_options);
  }
  if (*ls_cmd) return amrepo::client_ls(client_options);
  if (*rm_cmd) return amrepo::client_rm(client_options, url);
  if (*load_cmd) return amrepo::bench_load(load_options);
  if (*server_bench_cmd) return amrepo::bench_server(server_bench);
  if (*cluster_bench_cmd) return amrepo::bench_cluster(cluster_bench);
  if (*clients_bench_cmd) return amrepo::bench_clients(clients_bench);
  if (*bigdoc_bench_cmd) return amrepo::bench_bigdoc(bigdoc_bench);
  if (*connections_bench_cmd) return amrepo::bench_connections(connections_bench);
  if (*battery_cmd) return amrepo::bench_battery(battery_options);
  if (*doc_bench_cmd) return amrepo::bench_doc(doc_bench);
  return amrepo::kExitUsage;
}
