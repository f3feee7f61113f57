#include "serve_options.h"

#include <cstdio>
#include <iostream>
#include <set>
#include <sstream>

// Header-only: amrepo then needs no TOML library at run time.
#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

#include "file_tools.h"

namespace amrepo {
namespace {

// Options that are about reading or printing the configuration, not part of it.
const std::set<std::string> kNotConfigKeys{"help", "config", "print-config"};

bool is_flag(const CLI::Option* o) { return o->get_expected_max() == 0; }
bool is_list(const CLI::Option* o) { return o->get_expected_max() > 1; }
bool is_number(const CLI::Option* o) {
  const std::string t = o->get_type_name();
  return t == "UINT" || t == "INT" || t == "FLOAT" || t == "NUMBER";
}

std::string key_of(const CLI::Option* o) { return o->get_lnames().empty() ? "" : o->get_lnames().front(); }

// The TOML value as the strings CLI11 would have read from the command line; false (with `error`)
// for a type the option cannot take.
bool toml_to_results(const toml::node& node, const CLI::Option* o, std::vector<std::string>& out, std::string& error) {
  auto scalar = [&](const toml::node& n) -> bool {
    if (auto s = n.value_exact<std::string>()) {
      if (is_flag(o) || is_number(o)) return false;
      out.push_back(*s);
      return true;
    }
    if (auto b = n.value_exact<bool>()) {
      if (!is_flag(o)) return false;
      out.push_back(*b ? "true" : "false");
      return true;
    }
    if (auto i = n.value_exact<std::int64_t>()) {
      if (is_flag(o)) return false;
      out.push_back(std::to_string(*i));
      return true;
    }
    if (auto d = n.value_exact<double>()) {
      if (o->get_type_name() != "FLOAT") return false;
      std::ostringstream text;
      text << *d;
      out.push_back(text.str());
      return true;
    }
    return false;
  };
  const std::string want = is_flag(o) ? "true or false" : is_list(o) ? "an array of strings" : is_number(o) ? "a number" : "a string";
  if (const toml::array* array = node.as_array()) {
    if (!is_list(o)) {
      error = "must be " + want + ", not an array";
      return false;
    }
    for (const toml::node& element : *array) {
      if (!scalar(element)) {
        error = "must be " + want;
        return false;
      }
    }
    return true;
  }
  if (!scalar(node)) {
    error = "must be " + want;
    return false;
  }
  return true;
}

// A TOML basic string: "..." with \" \\ and control characters escaped.
std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char escape[16];
      std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += escape;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// The option's value now, as TOML.
std::string toml_value(const CLI::Option* o) {
  if (is_flag(o)) return o->count() > 0 && o->as<bool>() ? "true" : "false";
  std::vector<std::string> values = o->count() > 0 ? o->results() : std::vector<std::string>{};
  if (o->count() == 0 && !is_list(o) && !o->get_default_str().empty()) values.push_back(o->get_default_str());
  auto one = [&](const std::string& v) { return is_number(o) ? v : quoted(v); };
  if (is_list(o)) {
    std::string out = "[";
    for (std::size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + one(values[i]);
    return out + "]";
  }
  return values.empty() ? (is_number(o) ? "0" : "\"\"") : one(values.back());
}

}  // namespace

CLI::App* add_serve_command(CLI::App& app, ServeOptions& o) {
  CLI::App* serve_cmd = app.add_subcommand(
      "serve", "Run a sync server that JS automerge-repo clients (and amrepo) talk to; prints "
               "`listening ws://HOST:PORT` when ready; on the WebSocket port also GET / (a live status page), "
               "/health (JSON) and /metrics (Prometheus); SIGINT/SIGTERM save and exit 0");
  serve_cmd->add_option("--listen", o.listen, "WebSocket HOST:PORT (port 0 picks one)")->capture_default_str();
  serve_cmd->add_option("--tcp", o.tcp, "also accept length-prefixed TCP on HOST:PORT")->capture_default_str();
  serve_cmd->add_option("--data", o.data,
                        "the store: DIR (files, JS nodefs layout), sqlite:FILE, postgres:CONNINFO or memory:")
      ->capture_default_str();
  serve_cmd->add_flag("--memory", o.memory, "keep documents in memory only");
  serve_cmd->add_option("--storage", o.storage,
                        "older spelling: fs (--data DIR), sqlite (--data/amrepo.sqlite) or postgres (--pg)")
      ->capture_default_str();
  serve_cmd->add_option("--pg", o.pg,
                        "PostgreSQL connection string for --storage postgres, e.g. \"host=db dbname=amrepo user=amrepo\"")->capture_default_str();
  serve_cmd->add_option("--peer", o.peers, "dial another server (ws://, wss:// or tcp://), reconnecting")->capture_default_str();
  serve_cmd->add_flag("--announce", o.announce,
                      "offer every document to every peer (default: only answer requests, as the JS sync server)");
  serve_cmd->add_flag("--remote-heads", o.remote_heads,
                      "remote-heads gossip, as JS enableRemoteHeadsGossiping: relay clients' subscriptions to "
                      "StorageIds and send them the heads this server sees (docs/remote-heads.md)");
  serve_cmd->add_option("--peer-id", o.peer_id, "our PeerId (default amrepo-server-HOSTNAME)")->capture_default_str();
  serve_cmd->add_option("--io-threads", o.io_threads, "event-loop threads (default min(4, cores))")->capture_default_str();
  serve_cmd->add_option("--storage-threads", o.storage_threads,
                        "threads for blocking storage calls (fsyncs); more than 2 did not help on one disk")->capture_default_str();
  serve_cmd->add_option("--log-level", o.log_level, "error, warn, info (peers coming and going) or debug")
      ->capture_default_str();
  serve_cmd->add_flag("--trace-messages", o.trace_messages,
                      "print every protocol message sent and received as one JSON line on stdout");
  serve_cmd->add_option("--auth-token-file", o.auth_token_file,
                        "require a bearer token listed in this file (lines: [NAME] TOKEN); see docs/security.md")->capture_default_str();
  serve_cmd->add_option("--access-rules", o.access_rules,
                        "which token names may read or write which documents (lines: NAME|* none|read|write DOC...|*)")->capture_default_str();
  serve_cmd->add_option("--max-connections", o.max_connections,
                        "connections per listener above which new ones are closed at once (0 = no limit)")
      ->capture_default_str();
  serve_cmd->add_option("--max-doc-opens", o.max_doc_opens,
                        "documents one connection may open per second; beyond it its requests wait (0 = no limit)")
      ->capture_default_str();
  serve_cmd->add_option("--max-message-bytes", o.max_message_bytes,
                        "largest message accepted from a peer (a first sync can carry a whole document)")
      ->capture_default_str();
  serve_cmd->add_option("--max-queued-bytes", o.max_queued_bytes,
                        "bytes waiting to be sent to one peer above which it is dropped as too slow")
      ->capture_default_str();
  serve_cmd->add_option("--handshake-timeout-ms", o.handshake_timeout_ms,
                        "time a new connection has for TLS, the upgrade and the join handshake")
      ->capture_default_str();
  serve_cmd->add_option("--max-inflated-bytes", o.max_inflated_bytes,
                        "what one compressed chunk from a peer or storage may inflate to (decompression cap)")
      ->capture_default_str();
  serve_cmd->add_option("--legacy-peers", o.legacy_peers,
                        "go: peers of the Go port automerge-repo-go (UUID ids, `message` payloads, JSON framing of its "
                        "first version) are recognised by their join and spoken to in their dialect; off: refused")
      ->check(CLI::IsMember({"go", "off"}))
      ->capture_default_str();
  serve_cmd->add_option("--idle-timeout", o.idle_timeout_s,
                        "seconds after which a saved document no connected peer uses leaves memory (0 = never)")
      ->capture_default_str();
  serve_cmd->add_option("--peer-token", o.peer_token, "bearer token presented to every --peer")->capture_default_str();
  serve_cmd->add_option("--tls-cert", o.tls_cert, "PEM certificate chain: serve wss:// (with --tls-key)")->capture_default_str();
  serve_cmd->add_option("--tls-key", o.tls_key, "PEM private key of --tls-cert")->capture_default_str();
  serve_cmd->add_option("--ca-file", o.ca_file, "trust these CAs for wss:// --peer servers")->capture_default_str();
  serve_cmd->add_option("--admin-token-file", o.admin_token_file,
                        "the status page (GET /) shows document and peer ids to /#token=TOKEN with this file's token")
      ->capture_default_str();
  serve_cmd->add_option("--log-format", o.log_format, "text (\"amrepo: ...\" lines) or json (one object per line)")
      ->capture_default_str();
  serve_cmd->add_option("--config", o.config_file,
                        "read options from this TOML file: one key per flag, without \"--\" (listen = \"0.0.0.0:3030\"); "
                        "flags given here win; see --print-config");
  serve_cmd->add_flag("--print-config", o.print_config,
                      "print the effective configuration (defaults, --config file and flags) as TOML and exit");
  return serve_cmd;
}

int complete_serve_options(CLI::App* serve, ServeOptions& options) {
  if (!options.config_file.empty()) {
    toml::parse_result parsed = toml::parse_file(options.config_file);
    if (!parsed) {
      const auto& e = parsed.error();
      std::cerr << "amrepo: --config " << options.config_file << ":" << e.source().begin.line << ": "
                << e.description() << "\n";
      return kExitUsage;
    }
    const toml::table table = std::move(parsed).table();
    for (const auto& [key, node] : table) {
      const std::string name(key.str());
      CLI::Option* o = kNotConfigKeys.count(name) ? nullptr : serve->get_option_no_throw("--" + name);
      if (o == nullptr) {
        std::cerr << "amrepo: --config " << options.config_file << ": unknown key \"" << name
                  << "\" (`amrepo serve --print-config` lists the keys)\n";
        return kExitUsage;
      }
      if (o->count() > 0) continue;  // the flag wins
      std::vector<std::string> results;
      std::string error;
      if (!toml_to_results(node, o, results, error)) {
        std::cerr << "amrepo: --config " << options.config_file << ": " << name << " " << error << "\n";
        return kExitUsage;
      }
      try {
        if (is_flag(o) && results == std::vector<std::string>{"false"}) continue;  // the default
        if (results.empty()) continue;  // an empty array: the default, no value
        o->add_result(results);
        o->run_callback();
      } catch (const CLI::ParseError& e) {
        std::cerr << "amrepo: --config " << options.config_file << ": " << name << ": " << e.what() << "\n";
        return kExitUsage;
      }
    }
  }
  if (options.log_format != "text" && options.log_format != "json") {
    std::cerr << "amrepo: --log-format must be text or json\n";
    return kExitUsage;
  }
  return kExitOk;
}

std::string effective_serve_config(CLI::App* serve) {
  std::string out = "# amrepo serve: effective configuration (amrepo serve --config FILE reads this)\n";
  for (const CLI::Option* o : serve->get_options()) {
    const std::string key = key_of(o);
    if (key.empty() || kNotConfigKeys.count(key)) continue;
    out += "\n# " + o->get_description() + "\n" + key + " = " + toml_value(o) + "\n";
  }
  return out;
}

}  // namespace amrepo
