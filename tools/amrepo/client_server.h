// Where amrepo's client commands find their server, and what they say when nothing answers there.
#pragma once

#include <memory>
#include <string>

#include "am/repo/repo.h"

namespace amrepo {

/// The server a client command talks to and where that choice came from (for messages): the
/// --server flag, else $AMREPO_SERVER, else the address `amrepo serve` listens on by default.
/// With --data and no --server the command works on the local repo alone: `url` is empty.
struct ServerChoice {
  std::string url;     ///< ws[s]://... or tcp://...; empty = no server
  std::string source;  ///< "--server", "$AMREPO_SERVER" or "the default server"
};

/// `ws://` + the default of `amrepo serve --listen`.
std::string default_server_url();

/// Chooses the server from the --server flag, the --data flag and $AMREPO_SERVER (see ServerChoice).
ServerChoice choose_server(const std::string& server_flag, const std::string& data_flag);

/// Why the dial attempts of a repo failed, collected from its connection events while it lives.
/// Thread-safe: the events arrive on io threads.
class DialFailures {
 public:
  explicit DialFailures(am::repo::Repo& repo);
  /// The last failure's detail ("" when none failed).
  std::string last() const;
  /// The server refused our token (HTTP 401): retrying cannot help.
  bool unauthorized() const;
  /// The last attempt found nothing listening (connection refused).
  bool nothing_listening() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
  am::repo::Subscription subscription_;
};

/// The one-line error for a server that never answered: names it and where it came from, and
/// says how to start one or point at another. `last_failure` is the last dial failure's detail.
std::string unreachable_message(const ServerChoice& server, const std::string& last_failure);

}  // namespace amrepo
