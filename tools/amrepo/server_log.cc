#include "server_log.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>

#include <nlohmann/json.hpp>

namespace amrepo {
namespace {

const char* level_name(am::repo::LogLevel level) {
  switch (level) {
    case am::repo::LogLevel::kError: return "error";
    case am::repo::LogLevel::kWarn: return "warn";
    case am::repo::LogLevel::kInfo: return "info";
    case am::repo::LogLevel::kDebug: return "debug";
  }
  return "info";
}

// Now in RFC 3339 UTC with milliseconds: 2026-12-05T12:00:00.123Z.
std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

}  // namespace

void ServerLog::write(am::repo::LogLevel level, std::string_view event, const std::string& message,
                      std::initializer_list<std::pair<const char*, std::string>> fields) const {
  if (!enabled(level)) return;
  std::string line;
  if (json_) {
    nlohmann::json j{{"time", utc_now()}, {"level", level_name(level)}, {"event", event}, {"message", message}};
    for (const auto& [name, value] : fields) j[name] = value;
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = "amrepo: " + message;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  std::cerr << line << "\n" << std::flush;
}

}  // namespace amrepo
