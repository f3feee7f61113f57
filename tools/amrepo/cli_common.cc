#include "cli_common.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>

namespace amrepo {

int fail_with(int code, const std::string& message) {
  std::cerr << "amrepo: " << message << "\n";
  return code;
}

std::optional<std::pair<std::string, std::uint16_t>> split_host_port(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return std::nullopt;
  const std::string port_text = text.substr(colon + 1);
  if (!std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      port_text.size() > 5) {
    return std::nullopt;
  }
  const unsigned long port = std::stoul(port_text);
  if (port > 65535) return std::nullopt;
  return std::pair{text.substr(0, colon), static_cast<std::uint16_t>(port)};
}

bool dial(am::repo::Repo& repo, const std::string& url, am::repo::Backoff backoff, std::string& error,
          const std::string& token) {
  if (url.rfind("ws://", 0) == 0 || url.rfind("wss://", 0) == 0) {
    repo.connect_websocket(url, backoff, token);
    return true;
  }
  if (url.rfind("tcp://", 0) == 0) {
    auto hp = split_host_port(url.substr(6));
    if (!hp) {
      error = "bad server URL " + url + " (expected tcp://HOST:PORT)";
      return false;
    }
    repo.connect_tcp(hp->first, hp->second, backoff, token);
    return true;
  }
  error = "bad server URL " + url + " (expected ws[s]://HOST:PORT[/PATH] or tcp://HOST:PORT)";
  return false;
}

std::string hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

sigset_t block_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

}  // namespace amrepo
