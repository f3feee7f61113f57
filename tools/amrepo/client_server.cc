#include "client_server.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <mutex>

#include "client_commands.h"
#include "serve.h"
#include "server_bench.h"

namespace amrepo {

std::string default_server_url() { return "ws://" + ServeOptions{}.listen; }

ServerChoice choose_server(const std::string& server_flag, const std::string& data_flag) {
  if (!server_flag.empty()) return {server_flag, "--server"};
  if (!data_flag.empty()) return {};  // a local repo alone, as before there was a default server
  if (const char* env = std::getenv("AMREPO_SERVER"); env != nullptr && *env != '\0') {
    return {env, "$AMREPO_SERVER"};
  }
  return {default_server_url(), "the default server"};
}

struct DialFailures::State {
  mutable std::mutex mutex;
  std::string last;
  bool unauthorized = false;
  bool nothing_listening = false;
};

namespace {

bool contains_lower(std::string text, const std::string& needle) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text.find(needle) != std::string::npos;
}

}  // namespace

DialFailures::DialFailures(am::repo::Repo& repo) : state_(std::make_shared<State>()) {
  subscription_ = repo.on_connection_event([state = state_](const am::repo::ConnectionEvent& e) {
    const bool failed = e.kind == am::repo::ConnectionEvent::Kind::kDialFailed ||
                        (e.kind == am::repo::ConnectionEvent::Kind::kClosed && !e.detail.empty());
    if (!failed) return;
    std::lock_guard<std::mutex> lock(state->mutex);
    state->last = e.detail;
    if (e.detail.find("HTTP 401") != std::string::npos || e.detail.find("unauthorized") != std::string::npos) {
      state->unauthorized = true;
    }
    state->nothing_listening = contains_lower(e.detail, "connection refused");
  });
}

std::string DialFailures::last() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->last;
}

bool DialFailures::unauthorized() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->unauthorized;
}

bool DialFailures::nothing_listening() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->nothing_listening;
}

std::string unreachable_message(const ServerChoice& server, const std::string& last_failure) {
  const bool refused = contains_lower(last_failure, "connection refused");
  std::string message = (refused ? "no amrepo server is running at " : "no amrepo server answers at ") +
                        server.url + " (" + server.source + (last_failure.empty() ? "" : ": " + last_failure) +
                        "); start one with `amrepo serve`";
  if (server.url == default_server_url()) message += " (or `bash scripts/run.sh` in a clone)";
  message += ", or name another with --server URL or $AMREPO_SERVER";
  return message;
}

}  // namespace amrepo
