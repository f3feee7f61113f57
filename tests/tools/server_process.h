// Helpers for tests that run the real amrepo binary: client commands through the shell, the sync
// server as a child process in its own process group, and plain HTTP GETs to its /health and
// /metrics endpoints. Shared by amrepo_cli_test.cc and server_resilience_test.cc.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace am::test {

struct CliRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// Runs `command ARGS` through the shell, capturing stdout and stderr (stderr via a file in `dir`).
inline CliRun run_shell(const std::string& command, const std::string& args, const std::filesystem::path& dir) {
  const std::filesystem::path err_file = dir / "stderr.txt";
  const std::string cmd = command + " " + args + " 2>" + err_file.string();
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  std::ifstream e(err_file);
  r.err.assign(std::istreambuf_iterator<char>(e), std::istreambuf_iterator<char>());
  return r;
}

/// Runs `amrepo ARGS`.
inline CliRun run_amrepo(const std::string& args, const std::filesystem::path& dir) {
  return run_shell(AM_AMREPO_PATH, args, dir);
}

/// A server as a child process (`amrepo serve ...`, or any command given with `command`); reads
/// the "listening URL" lines it prints. urls() is short when the process exited before printing
/// them all (a port that could not be bound, a crash).
class ServerProcess {
 public:
  ServerProcess(const std::string& args, int listening_lines)
      : ServerProcess(listening_lines, std::string(AM_AMREPO_PATH) + " serve " + args) {}
  ServerProcess(int listening_lines, const std::string& command) {
    int out[2];
    if (pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      // Its own process group, so that stopping it stops every process of a pipeline; stderr
      // of all of them to /dev/null, so none holds the test runner's output open.
      setpgid(0, 0);
      dup2(out[1], 1);
      close(out[0]);
      close(out[1]);
      const int devnull = open("/dev/null", O_WRONLY);
      if (devnull >= 0) dup2(devnull, 2);
      execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    setpgid(pid_, pid_);
    close(out[1]);
    FILE* f = fdopen(out[0], "r");
    char line[512];
    for (int i = 0; i < listening_lines && f != nullptr && fgets(line, sizeof line, f) != nullptr; ++i) {
      std::string text(line);
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
      lines_.push_back(text.substr(text.find(' ') + 1));  // "listening URL" -> URL
    }
    out_ = f;  // kept open: a child writing more lines must not get SIGPIPE
  }
  ~ServerProcess() {
    if (pid_ > 0) stop();
    if (out_ != nullptr) fclose(out_);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  const std::string& url(std::size_t i) const { return lines_.at(i); }
  std::size_t urls() const { return lines_.size(); }
  /// The child's pid (the amrepo process itself: the shell execs it); -1 once reaped.
  pid_t pid() const { return pid_; }
  /// Whether the child is still running (reaps it, and remembers how it ended, if not).
  bool alive() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_status_ = status;
      pid_ = -1;
      return false;
    }
    return true;
  }
  /// How the child ended, for messages ("exit 3", "signal 11"); "" while it runs.
  std::string how_it_ended() const {
    if (pid_ > 0 || exit_status_ < 0) return "";
    return WIFEXITED(exit_status_) ? "exit " + std::to_string(WEXITSTATUS(exit_status_))
                                   : "signal " + std::to_string(WTERMSIG(exit_status_));
  }
  /// Waits (at most 30 s) for the process to exit by itself; its exit code (SIGKILL after 30 s).
  int stop_after_exit() {
    if (pid_ <= 0) return -1;
    int status = 0;
    for (int i = 0; i < 3000; ++i) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      usleep(10000);
    }
    kill(-pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return 128 + SIGKILL;
  }
  /// SIGKILL: no chance to save or say goodbye.
  void kill_now() {
    if (pid_ <= 0) return;
    kill(-pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  /// SIGTERM, then the exit code.
  int stop() {
    if (pid_ <= 0) return -1;
    kill(-pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  int exit_status_ = -1;
  FILE* out_ = nullptr;
  std::vector<std::string> lines_;
};

/// GET http://127.0.0.1:PORT/TARGET with a raw socket; the whole response text ("" on failure).
inline std::string http_get(std::uint16_t port, const std::string& target) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{10, 0};  // a hung server fails the test instead of hanging it
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buf[4096];
      for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) response.append(buf, static_cast<std::size_t>(n));
    }
  }
  close(fd);
  return response;
}

/// The port of "ws://HOST:PORT" or "tcp://HOST:PORT".
inline std::uint16_t port_of(const std::string& url) {
  return static_cast<std::uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
}

/// The body of an HTTP response ("" when it has none).
inline std::string http_body(const std::string& response) {
  const auto split = response.find("\r\n\r\n");
  return split == std::string::npos ? "" : response.substr(split + 4);
}

}  // namespace am::test
