#include "presence_cli.h"

#include <signal.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "am/repo/presence.h"
#include "cli_common.h"
#include "client_server.h"
#include "client_session.h"
#include "file_tools.h"

namespace amrepo {
namespace {

using namespace std::chrono_literals;

struct PresenceCommand {
  ClientOptions client;
  std::string url;
  std::string set_json;  // empty: join with an empty state
  std::string channel;   // empty: --set and stdin lines are whole states (objects)
  bool read_stdin = false;
  bool show_heartbeats = false;
  long heartbeat_ms = am::repo::kPresenceHeartbeatInterval.count();
  long ttl_ms = am::repo::kPresencePeerTtl.count();
};

// Our state to start with: --set as the whole state, or as the value of --channel.
am::Result<std::string> presence_initial_state(const PresenceCommand& c) {
  if (c.set_json.empty()) return std::string("{}");
  const nlohmann::json value = nlohmann::json::parse(c.set_json, nullptr, false);
  if (value.is_discarded()) return am::fail(am::Error::invalid_argument("--set", "not valid JSON: " + c.set_json));
  if (!c.channel.empty()) return nlohmann::json{{c.channel, value}}.dump();
  if (!value.is_object()) {
    return am::fail(am::Error::invalid_argument("--set", "without --channel, the state must be a JSON object"));
  }
  return value.dump();
}

// One line of stdin: a new value for --channel, or (without it) an object whose keys are
// channels to set. Each channel goes out as one update, as JS broadcast(channel, value) does.
am::Status presence_apply_line(am::repo::Presence& presence, const PresenceCommand& c, const std::string& line) {
  const nlohmann::json value = nlohmann::json::parse(line, nullptr, false);
  if (value.is_discarded()) return am::fail(am::Error::invalid_argument("stdin", "not valid JSON: " + line));
  if (!c.channel.empty()) return presence.broadcast(c.channel, value.dump());
  if (!value.is_object()) {
    return am::fail(am::Error::invalid_argument("stdin", "without --channel, each line must be a JSON object"));
  }
  for (const auto& [channel, v] : value.items()) {
    if (auto st = presence.broadcast(channel, v.dump()); !st) return st;
  }
  return {};
}

// The line printed for an event: what happened, to whom, and the peer's whole state after it.
nlohmann::json presence_event_line(const am::repo::Presence& presence, const am::repo::PresenceEvent& e) {
  nlohmann::json line{{"event", am::repo::to_string(e.kind)}, {"peer", e.peer.str()}};
  if (e.kind == am::repo::PresenceEvent::Kind::kSnapshot || e.kind == am::repo::PresenceEvent::Kind::kUpdate) {
    line["joined"] = e.joined;
  }
  if (e.kind == am::repo::PresenceEvent::Kind::kUpdate) {
    line["channel"] = e.channel;
    line["value"] = nlohmann::json::parse(e.value, nullptr, false);
  }
  auto state = presence.peer_state(e.peer);
  line["state"] = state ? nlohmann::json::parse(state->state, nullptr, false) : nlohmann::json();
  return line;
}

int run_presence(const PresenceCommand& c) {
  if (c.heartbeat_ms <= 0 || c.ttl_ms <= 0) return fail_with(kExitUsage, "--heartbeat-ms and --ttl-ms must be positive");
  auto initial = presence_initial_state(c);
  if (!initial) return fail_with(kExitUsage, initial.error().to_string());
  // Signals are taken by sigwait below, so every thread (the repo's too) must block them.
  const sigset_t signals = block_stop_signals();
  ClientSession session;
  am::repo::DocHandle handle;
  if (int rc = open_remote_document(c.client, c.url, session, handle); rc != kExitOk) return rc;

  auto presence = std::make_shared<am::repo::Presence>(handle);
  auto out_mutex = std::make_shared<std::mutex>();
  auto print = [out_mutex](const nlohmann::json& line) {
    std::lock_guard<std::mutex> lock(*out_mutex);
    std::cout << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
  };
  am::repo::Subscription events = presence->on_event([&, print](const am::repo::PresenceEvent& e) {
    if (e.kind == am::repo::PresenceEvent::Kind::kHeartbeat && !c.show_heartbeats) return;
    if (e.kind == am::repo::PresenceEvent::Kind::kUpdate && !c.channel.empty() && e.channel != c.channel) return;
    print(presence_event_line(*presence, e));
  });
  am::repo::PresenceOptions options;
  options.heartbeat_interval = std::chrono::milliseconds(c.heartbeat_ms);
  options.peer_ttl = std::chrono::milliseconds(c.ttl_ms);
  if (auto st = presence->start(*initial, options); !st) return fail_with(kExitFailure, st.error().to_string());
  const std::string self = session.repo->peer_id().str();
  print(nlohmann::json{{"event", "local"}, {"peer", self}, {"state", nlohmann::json::parse(presence->local_state())}});

  if (c.read_stdin) {
    // Detached: a blocking read cannot be interrupted; at exit the thread goes with the process.
    std::thread([presence, c, print, self] {
      std::string line;
      while (std::getline(std::cin, line)) {
        if (line.empty()) continue;
        if (auto st = presence_apply_line(*presence, c, line); !st) {
          std::cerr << "amrepo: " << st.error().to_string() << "\n";
          continue;
        }
        print(nlohmann::json{{"event", "local"}, {"peer", self}, {"state", nlohmann::json::parse(presence->local_state())}});
      }
    }).detach();
  }

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  events.reset();
  presence->stop();  // goodbye
  // Fire-and-forget, like every ephemeral message: give the goodbye time to leave before the
  // connection closes.
  std::this_thread::sleep_for(200ms);
  session.repo->stop();
  return kExitOk;
}

}  // namespace

void add_presence_command(CLI::App& app, CommandRunners& runners) {
  auto c = std::make_shared<PresenceCommand>();
  auto* cmd = app.add_subcommand(
      "presence",
      "Join a document's presence (JS Presence): print one JSON line per peer event (snapshot, update, "
      "goodbye, expired) with the peer's state; publish ours with --set; until Ctrl-C, which says goodbye");
  cmd->add_option("URL", c->url, "document")->required();
  cmd->add_option("--server", c->client.server,
                  "ws[s]://HOST:PORT[/PATH] or tcp://HOST:PORT (default: $AMREPO_SERVER, else " + default_server_url() + ")");
  cmd->add_option("--timeout", c->client.timeout_s, "seconds to wait for the server")->capture_default_str();
  cmd->add_option("--ca-file", c->client.ca_file, "trust these CAs (PEM) for a wss:// server (default: the system's)");
  cmd->add_option("--token", c->client.token, "bearer token for a server started with --auth-token-file (default: $AMREPO_TOKEN)");
  cmd->add_option("--set", c->set_json,
                  "our state: a JSON object of channels, or with --channel that channel's value (default: {})");
  cmd->add_option("--channel", c->channel,
                  "the channel --set and stdin lines set; events of other channels' updates are not printed");
  cmd->add_flag("--stdin", c->read_stdin,
                "read JSON lines from stdin and send each (the --channel value, or an object of channels)");
  cmd->add_flag("--heartbeats", c->show_heartbeats, "print heartbeat events too");
  cmd->add_option("--heartbeat-ms", c->heartbeat_ms, "heartbeat and expiry-check period (JS heartbeatMs)")->capture_default_str();
  cmd->add_option("--ttl-ms", c->ttl_ms, "forget a peer silent this long (JS peerTtlMs)")->capture_default_str();
  runners.emplace_back(cmd, [c] { return run_presence(*c); });
}

}  // namespace amrepo
