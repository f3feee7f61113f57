// `amrepo serve` as an operator runs it: a TOML configuration (every flag a key, flags win,
// --print-config), JSON log lines, the systemd readiness datagram, and the status page opened in
// headless Chromium and checked against /metrics. Real processes, sockets and files.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "am/repo/repo.h"
#include "support/node_process.h"
#include "tools/server_process.h"

namespace {

namespace fs = std::filesystem;
using am::test::CliRun;
using am::test::http_body;
using am::test::http_get;
using am::test::port_of;
using am::test::run_amrepo;
using am::test::run_shell;
using am::test::ServerProcess;
using nlohmann::json;
using namespace std::chrono_literals;

class AmrepoService : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("amrepo-service-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void write(const std::string& name, const std::string& content) const { std::ofstream(dir_ / name) << content; }
  std::string read(const std::string& name) const {
    std::ifstream in(dir_ / name);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  fs::path dir_;
};

// The value of `key = ...` in a TOML text printed by --print-config ("" when absent).
std::string config_value(const std::string& toml, const std::string& key) {
  std::smatch m;
  const std::regex line("(^|\n)" + key + " = ([^\n]*)");
  return std::regex_search(toml, m, line) ? m[2].str() : "";
}

TEST_F(AmrepoService, ConfigFileSetsOptionsAndFlagsWin) {
  write("amrepo.toml", "# a comment\nlisten = \"127.0.0.1:0\"\nmemory = true\nmax-connections = 7\n"
                       "peer = [\"ws://127.0.0.1:1\", \"tcp://127.0.0.1:2\"]\nmax-doc-opens = 2.5\nlog-format = \"json\"\n");
  CliRun r = run_amrepo("serve --config " + path("amrepo.toml") + " --max-connections 9 --print-config", dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(config_value(r.out, "listen"), "\"127.0.0.1:0\"");
  EXPECT_EQ(config_value(r.out, "memory"), "true");
  EXPECT_EQ(config_value(r.out, "max-connections"), "9");  // the flag wins
  EXPECT_EQ(config_value(r.out, "max-doc-opens"), "2.5");
  EXPECT_EQ(config_value(r.out, "peer"), "[\"ws://127.0.0.1:1\", \"tcp://127.0.0.1:2\"]");
  EXPECT_EQ(config_value(r.out, "log-format"), "\"json\"");
  EXPECT_EQ(config_value(r.out, "data"), "\"amrepo-data\"");  // a default
  EXPECT_EQ(config_value(r.out, "storage-threads"), "2");    // a default
  // What it prints reads back to the same configuration.
  write("printed.toml", r.out);
  CliRun again = run_amrepo("serve --config " + path("printed.toml") + " --print-config", dir_);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, r.out);
  // And the server runs on it.
  write("run.toml", "listen = \"127.0.0.1:0\"\nmemory = true\n");
  ServerProcess server("--config " + path("run.toml"), 1);
  ASSERT_EQ(server.urls(), 1u);
  EXPECT_EQ(server.url(0).rfind("ws://127.0.0.1:", 0), 0u) << server.url(0);
}

TEST_F(AmrepoService, EveryFlagHasAConfigKey) {
  CliRun help = run_amrepo("serve --help", dir_);
  ASSERT_EQ(help.exit_code, 0);
  CliRun printed = run_amrepo("serve --print-config", dir_);
  ASSERT_EQ(printed.exit_code, 0) << printed.err;
  std::set<std::string> flags;
  const std::regex flag(R"(\s--([a-z][a-z0-9-]+))");
  for (auto it = std::sregex_iterator(help.out.begin(), help.out.end(), flag); it != std::sregex_iterator(); ++it) {
    flags.insert((*it)[1].str());
  }
  ASSERT_GT(flags.size(), 25u) << help.out;
  for (const std::string& name : flags) {
    if (name == "help" || name == "config" || name == "print-config") continue;
    EXPECT_NE(printed.out.find("\n" + name + " = "), std::string::npos) << "no key for --" << name;
  }
  // The defaults (empty strings and arrays included) read back as they are.
  write("defaults.toml", printed.out);
  CliRun again = run_amrepo("serve --config " + path("defaults.toml") + " --print-config", dir_);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, printed.out);
}

TEST_F(AmrepoService, BadConfigFilesAreUsageErrorsThatSayWhere) {
  write("unknown.toml", "listen = \"127.0.0.1:0\"\nlisten-on = \"x\"\n");
  CliRun r = run_amrepo("serve --print-config --config " + path("unknown.toml"), dir_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown key \"listen-on\""), std::string::npos) << r.err;
  write("type.toml", "max-connections = \"many\"\n");
  r = run_amrepo("serve --print-config --config " + path("type.toml"), dir_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("max-connections must be a number"), std::string::npos) << r.err;
  write("syntax.toml", "memory = true\nlisten = \n");
  r = run_amrepo("serve --print-config --config " + path("syntax.toml"), dir_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("syntax.toml:2:"), std::string::npos) << r.err;
  r = run_amrepo("serve --print-config --config " + path("missing.toml"), dir_);
  EXPECT_EQ(r.exit_code, 2);
  r = run_amrepo("serve --print-config --log-format xml", dir_);
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(AmrepoService, JsonLogsAreOneObjectPerLine) {
  {
    ServerProcess server(1, std::string(AM_AMREPO_PATH) + " serve --listen 127.0.0.1:0 --memory --log-format json "
                                                          "--log-level debug 2>" + path("log.jsonl"));
    ASSERT_EQ(server.urls(), 1u);
    auto client = am::repo::Repo::open({}).value();
    client->connect_websocket(server.url(0));
    for (int i = 0; i < 500 && client->peers().empty(); ++i) std::this_thread::sleep_for(10ms);
    ASSERT_FALSE(client->peers().empty());
    client->stop();
    // The server logs the disconnection once it has seen the close: wait for that line.
    for (int i = 0; i < 1000 && read("log.jsonl").find("peer_disconnected") == std::string::npos; ++i) {
      std::this_thread::sleep_for(10ms);
    }
    EXPECT_EQ(server.stop(), 0);
  }
  std::istringstream lines(read("log.jsonl"));
  std::string line;
  std::set<std::string> events;
  while (std::getline(lines, line)) {
    const json j = json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "not JSON: " << line;
    for (const char* field : {"time", "level", "event", "message"}) EXPECT_TRUE(j.contains(field)) << line;
    EXPECT_TRUE(std::regex_match(j.value("time", ""), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"))) << line;
    events.insert(j.value("event", ""));
    if (j.value("event", "") == "peer_connected") {
      EXPECT_FALSE(j.value("peer", "").empty()) << line;
    }
  }
  for (const char* event : {"connection_opened", "peer_connected", "peer_disconnected", "stopping"}) {
    EXPECT_TRUE(events.count(event)) << "no " << event << " line in:\n" << read("log.jsonl");
  }
}

TEST_F(AmrepoService, TellsSystemdWhenReadyAndWhenStopping) {
  const std::string socket_path = path("notify.sock");
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  ASSERT_LT(socket_path.size(), sizeof address.sun_path);
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  auto receive = [&] {
    char buf[256];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  };
  {
    ServerProcess server(1, "env NOTIFY_SOCKET=" + socket_path + " " + AM_AMREPO_PATH +
                                " serve --listen 127.0.0.1:0 --memory");
    ASSERT_EQ(server.urls(), 1u);
    EXPECT_EQ(receive(), "READY=1\nSTATUS=serving");
    EXPECT_EQ(server.stop(), 0);
    EXPECT_EQ(receive(), "STOPPING=1\nSTATUS=saving and stopping");
  }
  ::close(fd);
}

// The /metrics sample `name` as a number (-1 when absent).
double metric(const std::string& metrics, const std::string& name) {
  std::smatch m;
  return std::regex_search(metrics, m, std::regex("(^|\n)" + name + " ([0-9.e+]+)")) ? std::stod(m[2].str()) : -1;
}

TEST_F(AmrepoService, StatusPageInChromiumShowsWhatMetricsSay) {
  write("admin.token", "\n  s3cret-admin  \n");
  ServerProcess server("--listen 127.0.0.1:0 --memory --admin-token-file " + path("admin.token"), 1);
  ASSERT_EQ(server.urls(), 1u);
  const std::uint16_t port = port_of(server.url(0));
  // Two clients on one document: two peers, one open document, some timed sync replies.
  auto a = am::repo::Repo::open({}).value();
  auto b = am::repo::Repo::open({}).value();
  a->connect_websocket(server.url(0));
  b->connect_websocket(server.url(0));
  for (int i = 0; i < 500 && (a->peers().empty() || b->peers().empty()); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_FALSE(a->peers().empty());
  am::repo::DocHandle doc = a->create();
  ASSERT_TRUE(doc.change([](am::Document& d) { (void)d.put(am::ObjId::root(), "title", std::string("status")); }));
  ASSERT_TRUE(doc.wait_synced(a->peers().at(0), 10s));
  auto found = b->find(doc.id(), 10s).get();
  ASSERT_TRUE(found) << found.error().to_string();
  std::this_thread::sleep_for(500ms);  // quiet: the counters stop moving

  const std::string metrics = http_body(http_get(port, "/metrics"));
  const std::string base = "http://127.0.0.1:" + std::to_string(port) + "/";
  auto open_page = [&](const std::string& url) {
    CliRun r = run_shell("node", am::test::jsref_script("status-page.mjs") + " '" + url + "' " + path("status.png"), dir_);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const json shown = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(shown.is_discarded()) << r.out << r.err;
    return shown.is_discarded() ? json::object() : shown;
  };
  const json page = open_page(base);
  ASSERT_FALSE(page.empty());
  EXPECT_EQ(page["page_errors"], json::array());
  EXPECT_EQ(page["foreign_requests"], json::array()) << "the page must be self-contained";
  EXPECT_EQ(page["error"], "");
  // The page's own poll is a connection too (an HTTP request, closed): compare with /metrics,
  // whose connection gauge counts WebSocket and TCP connections.
  EXPECT_EQ(page["connections"].get<double>(), metric(metrics, "amrepo_connections"));
  EXPECT_EQ(page["peers"].get<double>(), metric(metrics, "amrepo_peers"));
  EXPECT_EQ(page["peers"].get<double>(), 2);
  EXPECT_EQ(page["open_documents"].get<double>(), metric(metrics, "amrepo_open_documents"));
  EXPECT_EQ(page["open_documents"].get<double>(), 1);
  EXPECT_EQ(page["latency_count"].get<double>(), metric(metrics, "amrepo_sync_reply_seconds_count"));
  EXPECT_GT(page["latency_count"].get<double>(), 0);
  double bars = 0;
  for (const auto& c : page["bars"]) bars += c.get<double>();
  EXPECT_EQ(bars, page["latency_count"].get<double>()) << "the chart's bars add up to the replies timed";
  EXPECT_EQ(page["bars"].size(), std::size(am::repo::kLatencyBucketsMs) + 1);
  // No ids without the admin token; with it, the document and both peers.
  const std::string id = doc.id().to_string();
  EXPECT_EQ(page["documents"], json::array());
  EXPECT_EQ(http_body(http_get(port, "/status.json")).find(id), std::string::npos);
  EXPECT_EQ(http_body(http_get(port, "/status.json?token=wrong")).find(id), std::string::npos);
  EXPECT_NE(http_body(http_get(port, "/status.json?token=s3cret-admin")).find(id), std::string::npos);
  const json admin = open_page(base + "#token=s3cret-admin");
  EXPECT_EQ(admin["documents"], json::array({"automerge:" + id}));
  EXPECT_EQ(admin["peer_ids"].size(), 2u);
  const json wrong = open_page(base + "#token=wrong");
  EXPECT_EQ(wrong["documents"], json::array());
  EXPECT_NE(wrong["admin_text"].get<std::string>().find("not accepted"), std::string::npos);
  a->stop();
  b->stop();
}

}  // namespace
