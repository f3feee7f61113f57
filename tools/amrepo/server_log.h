// The sync server's log: one line per event on stderr, as text ("amrepo: MESSAGE", the default)
// or JSON (--log-format json: {"time", "level", "event", "message", and the event's fields}).
// Thread-safe: lines from io threads never interleave.
#pragma once

#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "am/repo/repo.h"

namespace amrepo {

class ServerLog {
 public:
  /// `json`: JSON lines instead of text; events above `level` are dropped.
  ServerLog(bool json, am::repo::LogLevel level) : json_(json), level_(level) {}

  bool enabled(am::repo::LogLevel level) const { return level <= level_; }

  /// Writes one line when `level` is enabled. `event` names the kind of line for machines
  /// ("peer_connected"); `fields` are extra JSON string members (ignored by the text format,
  /// whose message should already say what they hold).
  void write(am::repo::LogLevel level, std::string_view event, const std::string& message,
             std::initializer_list<std::pair<const char*, std::string>> fields = {}) const;

 private:
  bool json_;
  am::repo::LogLevel level_;
  mutable std::mutex mutex_;
};

}  // namespace amrepo
