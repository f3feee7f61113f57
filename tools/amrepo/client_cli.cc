#include "client_cli.h"

#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>

#include "client_commands.h"
#include "client_server.h"
#include "file_tools.h"

namespace amrepo {

void add_client_commands(CLI::App& app, CommandRunners& runners) {
  struct State {
    ClientOptions options;
    std::string json_text, json_file, url, json_arg, doc_path;
    EditCommand edit;
    WatchOptions watch;
  };
  auto s = std::make_shared<State>();
  auto add_client_options = [s](CLI::App* cmd) {
    cmd->add_option("--server", s->options.server,
                    "ws[s]://HOST:PORT[/PATH] or tcp://HOST:PORT (default: $AMREPO_SERVER, else " +
                        default_server_url() + "; none with --data alone)");
    cmd->add_option("--data", s->options.data, "a local repo: DIR, sqlite:FILE or postgres:CONNINFO");
    cmd->add_option("--timeout", s->options.timeout_s, "seconds to wait for the server")->capture_default_str();
    cmd->add_option("--ca-file", s->options.ca_file,
                    "trust these CAs (PEM) for a wss:// server (default: the system's)");
    cmd->add_option("--token", s->options.token,
                    "bearer token for a server started with --auth-token-file (default: $AMREPO_TOKEN)");
  };
  auto* new_cmd = app.add_subcommand("new", "Create a document and print its automerge: URL once the server has it");
  add_client_options(new_cmd);
  auto* json_positional = new_cmd->add_option("JSON", s->json_arg, "initial content (a JSON object), as --json");
  new_cmd->add_option("--json", s->json_text, "initial content (a JSON object)")->excludes(json_positional);
  new_cmd->add_option("--file", s->json_file, "initial content from a JSON file")->excludes("--json")->excludes(json_positional);
  auto* cat_cmd = app.add_subcommand("cat", "Print a document as JSON");
  add_client_options(cat_cmd);
  cat_cmd->add_option("URL", s->url, "automerge:... URL or document id")->required();
  cat_cmd->add_option("--path", s->doc_path, "print only this sub-tree (/todos/0/title)");

  auto* set_cmd = app.add_subcommand("set", "Set the value at PATH to JSON (strings become text, objects maps, arrays lists)");
  add_client_options(set_cmd);
  set_cmd->add_option("URL", s->url, "document")->required();
  set_cmd->add_option("PATH", s->edit.path, "/key/0/key (a list index equal to the length appends)")->required();
  set_cmd->add_option("JSON", s->edit.json, "the value, as JSON")->required();
  auto* del_cmd = app.add_subcommand("del", "Delete the key or list element at PATH");
  add_client_options(del_cmd);
  del_cmd->add_option("URL", s->url, "document")->required();
  del_cmd->add_option("PATH", s->edit.path, "/key/0")->required();
  auto* incr_cmd = app.add_subcommand("incr", "Add N (default 1) to the counter at PATH (an absent key becomes a counter)");
  add_client_options(incr_cmd);
  incr_cmd->add_option("URL", s->url, "document")->required();
  incr_cmd->add_option("PATH", s->edit.path, "/key")->required();
  incr_cmd->add_option("N", s->edit.by, "amount");
  auto* splice_cmd = app.add_subcommand("splice", "Edit the text at PATH: delete DEL units at POS, insert TEXT");
  add_client_options(splice_cmd);
  splice_cmd->add_option("URL", s->url, "document")->required();
  splice_cmd->add_option("PATH", s->edit.path, "/key")->required();
  splice_cmd->add_option("POS", s->edit.pos, "position (UTF-16 units, as JS)")->required();
  splice_cmd->add_option("DEL", s->edit.del, "units to delete")->required();
  splice_cmd->add_option("TEXT", s->edit.text, "text to insert");
  auto* edit_cmd = app.add_subcommand("edit", "Edit a document's JSON in $VISUAL/$EDITOR and apply what changed");
  add_client_options(edit_cmd);
  edit_cmd->add_option("URL", s->url, "document")->required();
  auto* watch_cmd = app.add_subcommand("watch", "Print one JSON line per change (snapshot first) until Ctrl-C");
  add_client_options(watch_cmd);
  watch_cmd->add_option("URL", s->url, "document")->required();
  watch_cmd->add_flag("--ephemeral", s->watch.ephemeral, "also print ephemeral messages");
  watch_cmd->add_option("--count", s->watch.count, "exit after this many changes");
  watch_cmd->add_flag("--remote-heads", s->watch.remote_heads,
                      "also print remote heads: subscribe (remote-heads gossip) to the server's StorageId, or to "
                      "those of --storage-id, and print each store's heads as they are heard");
  watch_cmd->add_option("--storage-id", s->watch.storage_ids, "with --remote-heads: subscribe to this StorageId (repeatable)")
      ->needs("--remote-heads");
  auto* broadcast_cmd = app.add_subcommand("broadcast", "Send an ephemeral message (JSON, CBOR on the wire)");
  add_client_options(broadcast_cmd);
  broadcast_cmd->add_option("URL", s->url, "document")->required();
  broadcast_cmd->add_option("JSON", s->json_text, "the message")->required();
  auto* ls_cmd = app.add_subcommand("ls", "List the documents of a --data repo");
  add_client_options(ls_cmd);
  auto* rm_cmd = app.add_subcommand("rm", "Remove a document from a --data repo");
  add_client_options(rm_cmd);
  rm_cmd->add_option("URL", s->url, "document")->required();

  runners.emplace_back(new_cmd, [s] {
    if (!s->json_arg.empty()) s->json_text = s->json_arg;
    if (!s->json_file.empty()) {
      std::ifstream in(s->json_file);
      if (!in) {
        std::cerr << "amrepo: cannot read " << s->json_file << "\n";
        return kExitFailure;
      }
      s->json_text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return client_new(s->options, s->json_text);
  });
  runners.emplace_back(cat_cmd, [s] { return client_cat(s->options, s->url, s->doc_path); });
  auto edit_as = [s](EditCommand::Kind kind) {
    return [s, kind] {
      s->edit.kind = kind;
      return client_edit(s->options, s->url, s->edit);
    };
  };
  runners.emplace_back(set_cmd, edit_as(EditCommand::Kind::kSet));
  runners.emplace_back(del_cmd, edit_as(EditCommand::Kind::kDelete));
  runners.emplace_back(incr_cmd, edit_as(EditCommand::Kind::kIncrement));
  runners.emplace_back(splice_cmd, edit_as(EditCommand::Kind::kSplice));
  runners.emplace_back(edit_cmd, [s] { return client_editor(s->options, s->url); });
  runners.emplace_back(watch_cmd, [s] {
    s->options.remote_heads = s->watch.remote_heads;
    return client_watch(s->options, s->url, s->watch);
  });
  runners.emplace_back(broadcast_cmd, [s] { return client_broadcast(s->options, s->url, s->json_text); });
  runners.emplace_back(ls_cmd, [s] { return client_ls(s->options); });
  runners.emplace_back(rm_cmd, [s] { return client_rm(s->options, s->url); });
}

}  // namespace amrepo
