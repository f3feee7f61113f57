// A child process running a Node.js script that speaks JSON lines on stdin/stdout, for tests
// that drive the pinned JS reference (tools/jsref) as a live peer.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace am::test {

/// Owns the child; kills it on destruction. Not thread-safe.
class NodeProcess {
 public:
  /// Starts `node <script>` with the working directory set to the script's folder.
  explicit NodeProcess(const std::string& script);
  ~NodeProcess();
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;

  bool running() const { return pid_ > 0; }
  /// Sends one request and waits for its one-line answer. Records a test failure (and returns
  /// {"ok": false}) if the child died or answered with ok=false.
  nlohmann::json call(const nlohmann::json& request);

 private:
  int pid_ = -1;
  int to_child_ = -1;
  int from_child_ = -1;
  std::string buffer_;
};

/// tools/jsref/<name> in the source tree.
std::string jsref_script(const std::string& name);

}  // namespace am::test
