// Small helpers shared by amrepo's network commands: error exits, HOST:PORT parsing, dialing a
// server URL on a repo.
#pragma once

#include <signal.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "am/repo/repo.h"

namespace amrepo {

/// Prints "amrepo: MESSAGE" on stderr and returns `code` (an exit code of file_tools.h).
int fail_with(int code, const std::string& message);

/// "HOST:PORT" -> (host, port); nullopt when malformed.
std::optional<std::pair<std::string, std::uint16_t>> split_host_port(const std::string& text);

/// Dials a ws://, wss:// or tcp:// URL on `repo`, reconnecting with `backoff`. false (with a
/// message in `error`) for a malformed URL.
bool dial(am::repo::Repo& repo, const std::string& url, am::repo::Backoff backoff, std::string& error,
          const std::string& token = {});

/// Blocks SIGINT and SIGTERM in this thread, and so in every thread it starts afterwards (call
/// it before the repo starts its threads), and returns the set for sigwait: a command that runs
/// until Ctrl-C waits for them in one place instead of in whichever thread they would hit.
sigset_t block_stop_signals();

/// This machine's host name ("localhost" when unknown).
std::string hostname();

}  // namespace amrepo
