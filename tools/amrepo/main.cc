// amrepo: the command-line front door: offline file tools, benchmarks, the sync server (serve)
// and network client commands. Exit codes in file_tools.h and docs/cli.md.
#include <CLI/CLI.hpp>

#include <iostream>
#include <string>
#include <vector>

#include "bench_cli.h"
#include "cli_registry.h"
#include "client_cli.h"
#include "client_server.h"
#include "doc_query_cli.h"
#include "history_cli.h"
#include "file_tools.h"
#include "migrate.h"
#include "presence_cli.h"
#include "serve.h"
#include "serve_options.h"

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

  amrepo::CommandRunners runners;
  amrepo::add_bench_commands(app, runners);

  amrepo::ServeOptions serve_options;
  CLI::App* serve_cmd = amrepo::add_serve_command(app, serve_options);
  amrepo::add_client_commands(app, runners);
  amrepo::add_document_query_commands(app, runners);
  amrepo::add_history_commands(app, runners);
  amrepo::add_presence_command(app, runners);

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
  if (*serve_cmd) {
    if (int rc = amrepo::complete_serve_options(serve_cmd, serve_options); rc != amrepo::kExitOk) return rc;
    if (serve_options.print_config) {
      std::cout << amrepo::effective_serve_config(serve_cmd);
      return amrepo::kExitOk;
    }
    amrepo::restart_with_server_malloc_settings(argv);
    return amrepo::serve(serve_options);
  }
  if (*migrate_cmd) {
    migrate_options.keep_sync_states = !drop_sync_states;
    return amrepo::migrate(migrate_options);
  }
  for (const auto& [command, run] : runners) {
    if (*command) return run();
  }
  return amrepo::kExitUsage;
}
