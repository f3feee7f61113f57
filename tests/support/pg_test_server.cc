// Starts and stops the tests' PostgreSQL server (see pg_test_server.h).
#include "support/pg_test_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace am::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

bool is_server_bindir(const fs::path& dir) {
  std::error_code ec;
  return fs::exists(dir / "postgres", ec) && fs::exists(dir / "initdb", ec);
}

// $AM_PG_BINDIR, /usr/lib/postgresql/15/bin, or the newest /usr/lib/postgresql/N/bin; empty if
// none has both initdb and postgres.
std::string find_bindir() {
  if (const std::string d = env("AM_PG_BINDIR"); !d.empty()) return is_server_bindir(d) ? d : "";
  if (is_server_bindir("/usr/lib/postgresql/15/bin")) return "/usr/lib/postgresql/15/bin";
  std::error_code ec;
  int best = -1;
  std::string found;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (const int v = std::stoi(name); v > best && is_server_bindir(e.path() / "bin")) {
      best = v;
      found = (e.path() / "bin").string();
    }
  }
  return found;
}

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

std::string read_tail(const std::string& path, std::size_t max = 3000) {
  std::ifstream in(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return s.size() > max ? "..." + s.substr(s.size() - max) : s;
}

// Who runs the server: the postgres user when we are root, else ourselves.
struct RunAs {
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Starts argv[0] with stdout and stderr appended to `log`, as `who`, in `cwd`; the child gets
// SIGQUIT (a postmaster's immediate shutdown) when this process dies. Returns its pid or -1.
pid_t spawn(const std::vector<std::string>& args, const std::string& log, const std::string& cwd,
            const RunAs& who) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return -1;
  if (who.switch_user && ::fchown(log_fd, who.uid, who.gid) != 0) {
    ::close(log_fd);
    return -1;
  }
  const pid_t parent = ::getpid();
  const bool main_thread = ::gettid() == parent;
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    ::setpgid(0, 0);  // a terminal's Ctrl-C goes to the tests, which then stop the server
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::close_range(3, ~0U, 0);  // hold none of the tests' pipes and sockets open
    if (who.switch_user) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(who.gid) != 0 || ::setuid(who.uid) != 0) _exit(126);
    }
    // After setuid, which clears it. The signal comes when the forking *thread* ends, so only
    // when that is the main thread, which lives as long as the process.
    if (main_thread) {
      ::prctl(PR_SET_PDEATHSIG, SIGQUIT);
      if (::getppid() != parent) _exit(125);
    }
    if (::chdir(cwd.c_str()) != 0) _exit(124);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  ::close(log_fd);
  return pid;
}

// Waits for `pid` for at most `limit`; its exit status, or nullopt if it is still running.
std::optional<int> wait_for(pid_t pid, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(20ms);
  }
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

std::mutex g_mutex;
PostgresTestServer* g_server = nullptr;

// An atexit handler: stops the server (only in the process that started it; see stop()).
void stop_at_exit() {
  delete g_server;
  g_server = nullptr;
}

}  // namespace

PostgresTestServer& PostgresTestServer::get() {
  std::lock_guard lock(g_mutex);
  if (g_server == nullptr) {
    g_server = new PostgresTestServer();
    std::atexit(stop_at_exit);
  }
  return *g_server;
}

PostgresTestServer::PostgresTestServer() : owner_pid_(::getpid()) {
  if (const std::string given = env("AM_TEST_PG_CONNINFO"); !given.empty()) {
    conninfo_ = given;
    if (PQping(conninfo_.c_str()) != PQPING_OK) error_ = "AM_TEST_PG_CONNINFO: no server answers at " + given;
    return;
  }
  const std::string bindir = find_bindir();
  if (bindir.empty()) {
    skip_reason_ =
        "no PostgreSQL server binaries (install postgresql-15, set AM_PG_BINDIR, or set "
        "AM_TEST_PG_CONNINFO to a running server)";
    return;
  }
  start(bindir);
}

void PostgresTestServer::start(const std::string& bindir) {
  RunAs who;
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) {
      error_ = "running as root, and there is no postgres user to run the server as";
      return;
    }
    who = {true, pw->pw_uid, pw->pw_gid};
  }
  std::string tmpl = (env("TMPDIR").empty() ? "/tmp" : env("TMPDIR")) + "/am-pg-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    error_ = "cannot create a temporary directory in " + tmpl;
    return;
  }
  dir_ = tmpl;
  if (who.switch_user && ::chown(dir_.c_str(), who.uid, who.gid) != 0) {
    error_ = "cannot give " + dir_ + " to the postgres user";
    return;
  }
  const std::string data = dir_ + "/data";
  const std::string initdb_log = dir_ + "/initdb.log";
  const pid_t init = spawn({bindir + "/initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E",
                            "UTF8", "--locale=C", "--no-sync", "--no-instructions"},
                           initdb_log, dir_, who);
  if (init < 0) {
    error_ = "cannot start " + bindir + "/initdb";
    return;
  }
  const auto init_status = wait_for(init, 120s);
  if (!init_status) {
    ::kill(init, SIGKILL);
    ::waitpid(init, nullptr, 0);
  }
  if (!init_status || !WIFEXITED(*init_status) || WEXITSTATUS(*init_status) != 0) {
    error_ = "initdb failed (" + (init_status ? describe_status(*init_status) : "timed out") +
             "):\n" + read_tail(initdb_log);
    return;
  }
  // A port may be taken between free_port() and the bind: try a few.
  const std::string log = dir_ + "/postgres.log";
  for (int attempt = 0; attempt < 5; ++attempt) {
    const int port = free_port();
    const pid_t pid =
        spawn({bindir + "/postgres", "-D", data, "-p", std::to_string(port), "-c",
               "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + dir_, "-c",
               "max_connections=200"},
              log, dir_, who);
    if (pid < 0) {
      error_ = "cannot start " + bindir + "/postgres";
      return;
    }
    const std::string conninfo =
        "host=127.0.0.1 port=" + std::to_string(port) + " user=postgres dbname=postgres";
    const std::string ping = conninfo + " connect_timeout=2";
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    std::optional<int> exited;
    while (std::chrono::steady_clock::now() < deadline) {
      if (PQping(ping.c_str()) == PQPING_OK) {
        pid_ = pid;
        conninfo_ = conninfo;
        return;
      }
      if ((exited = wait_for(pid, 50ms))) break;
    }
    if (!exited) {
      ::kill(pid, SIGQUIT);
      ::waitpid(pid, nullptr, 0);
      error_ = "postgres did not accept connections within 60 s:\n" + read_tail(log);
      return;
    }
    const std::string tail = read_tail(log);
    error_ = "postgres " + describe_status(*exited) + ":\n" + tail;
    if (tail.find("could not bind") == std::string::npos && tail.find("in use") == std::string::npos) {
      return;
    }
  }
}

void PostgresTestServer::stop() {
  if (::getpid() != owner_pid_) return;  // a forked child: the server is its parent's
  if (pid_ > 0) {
    ::kill(pid_, SIGINT);  // fast shutdown: disconnect clients, checkpoint, exit
    if (!wait_for(pid_, 30s)) {
      ::kill(pid_, SIGQUIT);
      ::waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    dir_.clear();
  }
}

PostgresTestServer::~PostgresTestServer() { stop(); }

Result<std::string> PostgresTestServer::create_database() {
  std::string name;
  {
    std::lock_guard lock(g_mutex);
    name = "amtest_" + std::to_string(::getpid()) + "_" + std::to_string(next_db_++);
  }
  PGconn* c = PQconnectdb(conninfo_.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    Error e = Error::io_error("test server", PQerrorMessage(c));
    PQfinish(c);
    return fail(std::move(e));
  }
  PGresult* r = PQexec(c, ("CREATE DATABASE " + name).c_str());
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  const std::string why = ok ? "" : PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(c);
  if (!ok) return fail(Error::io_error("test server", "CREATE DATABASE " + name + ": " + why));
  // In a conninfo string the last of a repeated keyword wins.
  return conninfo_ + " dbname=" + name;
}

}  // namespace am::test
