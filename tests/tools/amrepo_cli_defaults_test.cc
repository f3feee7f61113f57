// amrepo's client commands without --server: $AMREPO_SERVER, else the address `amrepo serve`
// listens on by default (127.0.0.1:3030); the message and exit code when nothing answers there;
// the initial JSON of `new` as a positional argument; the "getting started" text of --help.
// Runs the real binaries on 127.0.0.1, like amrepo_cli_test.cc.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/server_process.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using am::test::CliRun;
using am::test::run_amrepo;
using am::test::run_shell;
using am::test::ServerProcess;

constexpr std::uint16_t kDefaultPort = 3030;  // `amrepo serve`'s default --listen port

class AmrepoCliDefaultServer : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("amrepo-cli-defaults-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  // `amrepo ARGS` with $AMREPO_SERVER set to `server`, or removed from the environment when empty.
  CliRun amrepo_with_env(const std::string& server, const std::string& args) const {
    const std::string env = server.empty() ? "env -u AMREPO_SERVER " : "env AMREPO_SERVER='" + server + "' ";
    return run_shell(env + AM_AMREPO_PATH, args, dir_);
  }
  fs::path dir_;
};

// Whether something accepts TCP connections on 127.0.0.1:`port`.
bool port_in_use(std::uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool connected = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return connected;
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// One test for both uses of the default address, so that no other test of this file holds the
// port meanwhile. Skipped, not failed, when something else (a developer's server, another test
// run) holds it.
TEST_F(AmrepoCliDefaultServer, ClientCommandsUseTheDefaultAddress) {
  if (port_in_use(kDefaultPort)) GTEST_SKIP() << "127.0.0.1:3030 is in use: the default-address case needs it free";
  // Nothing there yet: the error names the address, where it came from, and how to start a server.
  const CliRun missing = amrepo_with_env("", "cat automerge:42gwUifH6GMMHGEo9x2GKgHGRP1u");
  if (missing.exit_code != 4 && port_in_use(kDefaultPort)) GTEST_SKIP() << "a server appeared on 127.0.0.1:3030";
  EXPECT_EQ(missing.exit_code, 4) << missing.err;
  EXPECT_NE(missing.err.find("no amrepo server is running at ws://127.0.0.1:3030 (the default server"),
            std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("bash scripts/run.sh"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("--server URL or $AMREPO_SERVER"), std::string::npos) << missing.err;
  // A server on the default address, started the way a user would (no --listen).
  ServerProcess server("--memory", 1);
  if (server.urls() == 0) GTEST_SKIP() << "amrepo serve could not listen on 127.0.0.1:3030 (taken meanwhile)";
  ASSERT_EQ(server.url(0), "ws://127.0.0.1:3030");
  const CliRun created = amrepo_with_env("", "new '{\"title\":\"hello\"}'");
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string url = first_line(created.out);
  ASSERT_EQ(url.rfind("automerge:", 0), 0u) << url;
  CliRun set = amrepo_with_env("", "set " + url + " /n 7");
  ASSERT_EQ(set.exit_code, 0) << set.err;
  // The server has both the document and the edit: an explicit --server client reads them.
  const CliRun shown = run_amrepo("cat --server ws://127.0.0.1:3030 " + url, dir_);
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_EQ(json::parse(shown.out), json::parse(R"({"title":"hello","n":7})"));
  const CliRun by_default = amrepo_with_env("", "cat " + url);
  ASSERT_EQ(by_default.exit_code, 0) << by_default.err;
  EXPECT_EQ(json::parse(by_default.out), json::parse(shown.out));
  EXPECT_EQ(server.stop(), 0);
}

TEST_F(AmrepoCliDefaultServer, AmrepoServerEnvironmentVariableNamesTheServer) {
  ServerProcess server("--listen 127.0.0.1:0 --memory", 1);
  ASSERT_EQ(server.urls(), 1u) << server.how_it_ended();
  const CliRun created = amrepo_with_env(server.url(0), "new --json '{\"items\":[1,2]}'");
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string url = first_line(created.out);
  // It went to that server: a client naming the server explicitly finds it there.
  const CliRun shown = run_amrepo("cat --server " + server.url(0) + " " + url, dir_);
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_EQ(json::parse(shown.out), json::parse(R"({"items":[1,2]})"));
  const CliRun by_env = amrepo_with_env(server.url(0), "cat " + url + " --path /items/1");
  ASSERT_EQ(by_env.exit_code, 0) << by_env.err;
  EXPECT_EQ(json::parse(by_env.out), 2);
  // --server wins over the variable (which names a port nothing listens on).
  const CliRun flag_wins = amrepo_with_env("ws://127.0.0.1:1", "cat --server " + server.url(0) + " " + url);
  ASSERT_EQ(flag_wins.exit_code, 0) << flag_wins.err;
  EXPECT_EQ(json::parse(flag_wins.out), json::parse(shown.out));
  // --data without --server works on the local repo alone, whatever the variable says.
  const CliRun local = amrepo_with_env("ws://127.0.0.1:1", "new --data " + (dir_ / "local").string() + " '{\"x\":1}'");
  ASSERT_EQ(local.exit_code, 0) << local.err;
  EXPECT_EQ(first_line(run_amrepo("ls --data " + (dir_ / "local").string(), dir_).out), first_line(local.out));
}

TEST_F(AmrepoCliDefaultServer, NothingListeningSaysHowToStartAServerAndExits4) {
  const std::string doc = "automerge:42gwUifH6GMMHGEo9x2GKgHGRP1u";
  const std::vector<std::string> commands{"cat " + doc, "set " + doc + " /a 1", "new", "watch " + doc};
  for (const std::string& command : commands) {
    const auto start = std::chrono::steady_clock::now();
    // A long --timeout: a refused connection must end the wait long before it.
    const CliRun r = amrepo_with_env("ws://127.0.0.1:1", command + " --timeout 60");
    const double took = seconds_since(start);
    EXPECT_EQ(r.exit_code, 4) << command << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << command << ": " << r.err;
    EXPECT_NE(r.err.find("no amrepo server is running at ws://127.0.0.1:1 ($AMREPO_SERVER"), std::string::npos)
        << command << ": " << r.err;
    EXPECT_NE(r.err.find("start one with `amrepo serve`"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("unavailable"), std::string::npos) << r.err;
    EXPECT_LT(took, 20.0) << command << " waited " << took << " s for a port nothing listens on";
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

TEST_F(AmrepoCliDefaultServer, NewTakesTheInitialJsonAsAnArgument) {
  ServerProcess server("--listen 127.0.0.1:0 --memory", 1);
  ASSERT_EQ(server.urls(), 1u) << server.how_it_ended();
  const std::string flag = "--server " + server.url(0) + " ";
  const CliRun created = run_amrepo("new " + flag + "'{\"title\":\"hello\",\"tags\":[\"a\"]}'", dir_);
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const CliRun shown = run_amrepo("cat " + flag + first_line(created.out), dir_);
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_EQ(json::parse(shown.out), json::parse(R"({"title":"hello","tags":["a"]})"));
  // One source of content only; bad JSON is a usage error (2) that creates nothing.
  const CliRun both = run_amrepo("new " + flag + "'{\"a\":1}' --json '{\"b\":2}'", dir_);
  EXPECT_EQ(both.exit_code, 2) << both.err;
  EXPECT_TRUE(both.out.empty()) << both.out;
  const CliRun bad = run_amrepo("new " + flag + "'{not json'", dir_);
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("bad JSON"), std::string::npos) << bad.err;
  EXPECT_TRUE(bad.out.empty()) << bad.out;
}

TEST(AmrepoCliHelp, TopLevelHelpEndsWithGettingStarted) {
  const fs::path dir = fs::temp_directory_path();
  const CliRun help = run_amrepo("--help", dir);
  ASSERT_EQ(help.exit_code, 0) << help.err;
  const auto at = help.out.find("Getting started:");
  ASSERT_NE(at, std::string::npos) << help.out;
  EXPECT_GT(at, help.out.find("Subcommands:")) << "the epilogue comes after the command list";
  EXPECT_NE(help.out.find("amrepo serve", at), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("amrepo new '{", at), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("$AMREPO_SERVER", at), std::string::npos) << help.out;
  // A subcommand's help is its own.
  const CliRun cat_help = run_amrepo("cat --help", dir);
  ASSERT_EQ(cat_help.exit_code, 0) << cat_help.err;
  EXPECT_EQ(cat_help.out.find("Getting started:"), std::string::npos) << cat_help.out;
  EXPECT_NE(cat_help.out.find("$AMREPO_SERVER"), std::string::npos) << "--server names its default: " << cat_help.out;
}

}  // namespace
