#include "support/node_process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace am::test {

std::string jsref_script(const std::string& name) {
  return std::string(AM_SOURCE_DIR) + "/tools/jsref/" + name;
}

NodeProcess::NodeProcess(const std::string& script) {
  int in[2], out[2];
  if (pipe(in) != 0 || pipe(out) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return;
  }
  const std::string dir = script.substr(0, script.find_last_of('/'));
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[0]);
    close(in[1]);
    close(out[0]);
    close(out[1]);
    if (chdir(dir.c_str()) != 0) _exit(127);
    execlp("node", "node", script.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    close(in[1]);
    close(out[0]);
    return;
  }
  pid_ = pid;
  to_child_ = in[1];
  from_child_ = out[0];
}

NodeProcess::~NodeProcess() {
  if (to_child_ >= 0) close(to_child_);
  if (from_child_ >= 0) close(from_child_);
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
}

nlohmann::json NodeProcess::call(const nlohmann::json& request) {
  nlohmann::json failed = {{"ok", false}};
  if (pid_ <= 0) {
    ADD_FAILURE() << "node is not running";
    return failed;
  }
  const std::string line = request.dump() + "\n";
  for (std::size_t sent = 0; sent < line.size();) {
    const ssize_t n = write(to_child_, line.data() + sent, line.size() - sent);
    if (n <= 0) {
      ADD_FAILURE() << "writing to node: " << std::strerror(errno);
      return failed;
    }
    sent += static_cast<std::size_t>(n);
  }
  for (;;) {
    const auto nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      auto reply = nlohmann::json::parse(buffer_.substr(0, nl), nullptr, false);
      buffer_.erase(0, nl + 1);
      if (reply.is_discarded() || !reply.value("ok", false)) {
        ADD_FAILURE() << "node peer failed on " << request.dump().substr(0, 300) << ": "
                      << (reply.is_discarded() ? std::string("unparsable reply") : reply.dump());
        return failed;
      }
      return reply;
    }
    char buf[65536];
    const ssize_t n = read(from_child_, buf, sizeof buf);
    if (n <= 0) {
      ADD_FAILURE() << "node exited while answering " << request.dump().substr(0, 300);
      pid_ = -1;
      return failed;
    }
    buffer_.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace am::test
