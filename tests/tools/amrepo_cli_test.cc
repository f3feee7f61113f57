// Runs the amrepo binary as a user would: file tools on real files, the sync server and client
// commands as separate processes on 127.0.0.1, and the pinned JS automerge-repo as a peer.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <numeric>
#include <random>
#include <thread>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "am/document.h"
#include "am/repo/repo.h"
#include "am/json_import.h"
#include "doc_edit.h"
#include "support/hex.h"
#include "support/node_process.h"
#include "support/vectors.h"
#include "tools/cli_test_dir.h"
#include "tools/server_process.h"
#ifdef AM_HAVE_POSTGRES
#include <libpq-fe.h>

#include "support/pg_test_server.h"
#endif

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using am::test::CliRun;
using am::test::http_body;
using am::test::http_get;
using am::test::port_of;
using am::test::run_amrepo;
using am::test::run_shell;
using am::test::ServerProcess;

// A fresh directory per test (tools/cli_test_dir.h).
class AmrepoCli : public am::test::CliTestDir {};

TEST_F(AmrepoCli, ImportExportRoundTrip) {
  write("in.json", R"({"title":"hello","n":3,"tags":["a","b"],"nested":{"ok":true}})");
  CliRun r = run_amrepo("import " + path("in.json") + " -o " + path("doc.automerge") + " --actor aaaa", dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_amrepo("export " + path("doc.automerge"), dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out), json::parse(read("in.json")));
  r = run_amrepo("export " + path("doc.automerge") + " -o " + path("out.json"), dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(read("out.json")), json::parse(read("in.json")));
}

TEST_F(AmrepoCli, ResaveMergeAndInspect) {
  write("a.json", R"({"a":1})");
  write("b.json", R"({"b":2})");
  ASSERT_EQ(run_amrepo("import " + path("a.json") + " -o " + path("a.am") + " --actor aaaa", dir_).exit_code, 0);
  ASSERT_EQ(run_amrepo("import " + path("b.json") + " -o " + path("b.am") + " --actor bbbb", dir_).exit_code, 0);
  CliRun r = run_amrepo("merge " + path("a.am") + " " + path("b.am") + " -o " + path("m.am"), dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_amrepo("export " + path("m.am"), dir_);
  EXPECT_EQ(json::parse(r.out), json::parse(R"({"a":1,"b":2})"));
  r = run_amrepo("resave " + path("m.am") + " -o " + path("r.am") + " --no-compress", dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_amrepo("inspect " + path("r.am"), dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("2 change(s)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("actors: 2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("heads:"), std::string::npos) << r.out;
}

TEST_F(AmrepoCli, BadInputGivesOneLineErrorsAndDocumentedExitCodes) {
  write("garbage.am", "this is not automerge");
  CliRun r = run_amrepo("export " + path("garbage.am"), dir_);
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("amrepo:"), std::string::npos);
  r = run_amrepo("inspect " + path("missing.am"), dir_);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  write("bad.json", "{not json");
  r = run_amrepo("import " + path("bad.json") + " -o " + path("x.am"), dir_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_FALSE(fs::exists(dir_ / "x.am"));
  r = run_amrepo("frobnicate", dir_);
  EXPECT_EQ(r.exit_code, 2);
  // A truncated document at every offset: an error, never a crash.
  write("in.json", R"({"t":"some text","l":[1,2,3]})");
  ASSERT_EQ(run_amrepo("import " + path("in.json") + " -o " + path("ok.am"), dir_).exit_code, 0);
  const std::string whole = read("ok.am");
  for (std::size_t cut = 1; cut < whole.size(); cut += 7) {
    write("cut.am", whole.substr(0, cut));
    r = run_amrepo("export " + path("cut.am"), dir_);
    EXPECT_TRUE(r.exit_code == 5 || r.exit_code == 0) << "cut " << cut << ": " << r.exit_code << " " << r.err;
  }
}

TEST_F(AmrepoCli, ExportsWhatTheJsReferenceSaved) {
  int checked = 0;
  for (const std::string& name : am::test::vector_names()) {
    const json v = am::test::load_vector(name);
    if (!v.contains("save_hex") || !v.contains("json")) continue;
    am::Bytes bytes;
    ASSERT_TRUE(am::from_hex(v["save_hex"].get<std::string>(), bytes));
    write("v.am", std::string(bytes.begin(), bytes.end()));
    const CliRun r = run_amrepo("export " + path("v.am"), dir_);
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
    ++checked;
  }
  EXPECT_GE(checked, 20);
}

}  // namespace


TEST_F(AmrepoCli, ServeNewAndCatOverWebSocketAndTcpAcrossARestart) {
  const std::string data = path("server-data");
  std::string url;
  {
    ServerProcess server("--listen 127.0.0.1:0 --tcp 127.0.0.1:0 --data " + data, 2);
    ASSERT_EQ(server.urls(), 2u);
    ASSERT_EQ(server.url(0).rfind("ws://127.0.0.1:", 0), 0u) << server.url(0);
    ASSERT_EQ(server.url(1).rfind("tcp://127.0.0.1:", 0), 0u) << server.url(1);
    auto created = run_amrepo("new --server " + server.url(0) + " --json '{\"title\":\"hello\",\"n\":[1,2]}'", dir_);
    ASSERT_EQ(created.exit_code, 0) << created.err;
    url = created.out.substr(0, created.out.find('\n'));
    ASSERT_EQ(url.rfind("automerge:", 0), 0u) << url;
    // Another client process reads it, over the other transport.
    auto over_tcp = run_amrepo("cat --server " + server.url(1) + " " + url, dir_);
    ASSERT_EQ(over_tcp.exit_code, 0) << over_tcp.err;
    EXPECT_EQ(json::parse(over_tcp.out), json::parse(R"({"title":"hello","n":[1,2]})"));
    EXPECT_EQ(server.stop(), 0) << "SIGTERM saves and exits 0";
  }
  ServerProcess restarted("--listen 127.0.0.1:0 --data " + data, 1);
  ASSERT_EQ(restarted.urls(), 1u);
  auto again = run_amrepo("cat --server " + restarted.url(0) + " " + url, dir_);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(json::parse(again.out)["title"], "hello");
  // Documented failures: an unknown document (3), a bad URL (2), an unreachable server (4).
  auto unknown = run_amrepo("cat --server " + restarted.url(0) + " automerge:42gwUifH6GMMHGEo9x2GKgHGRP1u", dir_);
  EXPECT_EQ(unknown.exit_code, 3) << unknown.err;
  EXPECT_EQ(run_amrepo("cat --server " + restarted.url(0) + " automerge:nonsense", dir_).exit_code, 2);
  EXPECT_EQ(run_amrepo("cat --timeout 1 --server ws://127.0.0.1:1 " + url, dir_).exit_code, 4);
  EXPECT_EQ(run_amrepo("cat --server http://127.0.0.1:1 " + url, dir_).exit_code, 2);
}

namespace {

// `node tools/jsref/repo-peer.mjs ARGS` (a JS automerge-repo 2.5.6 peer).
CliRun js_peer(const std::string& args, const fs::path& dir) {
  return run_shell("node " + am::test::jsref_script("repo-peer.mjs"), args, dir);
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

// JS automerge-repo clients (pinned npm packages) through `amrepo serve`, and amrepo clients
// through a JS sync server: the same documents, the same JSON.
TEST_F(AmrepoCli, JsClientsThroughOurServer) {
  ServerProcess server("--listen 127.0.0.1:0 --data " + path("data"), 1);
  ASSERT_EQ(server.urls(), 1u);
  const std::string ws = server.url(0);
  auto created = js_peer("create " + ws + " '{\"title\":\"from js\",\"items\":[1,2,3]}'", dir_);
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string url = first_line(created.out);
  auto js_cat = js_peer("cat " + ws + " " + url, dir_);
  ASSERT_EQ(js_cat.exit_code, 0) << js_cat.err;
  auto our_cat = run_amrepo("cat --server " + ws + " " + url, dir_);
  ASSERT_EQ(our_cat.exit_code, 0) << our_cat.err;
  const json expected = json::parse(R"({"title":"from js","items":[1,2,3]})");
  EXPECT_EQ(json::parse(js_cat.out), expected);
  EXPECT_EQ(json::parse(our_cat.out), expected);
  // A JS client's change reaches a JS client that is already watching, through our server.
  ServerProcess watcher(0, "node " + am::test::jsref_script("repo-peer.mjs") + " wait " + ws + " " + url +
                               " title '\"changed\"' > " + path("watch.txt"));
  auto set = js_peer("set " + ws + " " + url + " title '\"changed\"'", dir_);
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_EQ(watcher.stop_after_exit(), 0);
  EXPECT_EQ(json::parse(read("watch.txt"))["title"], "changed");
  // amrepo set is seen live by a JS client.
  ServerProcess js_watcher(0, "node " + am::test::jsref_script("repo-peer.mjs") + " wait " + ws + " " + url +
                                  " by '\"amrepo\"' > " + path("js-watch.txt"));
  auto our_set = run_amrepo("set --server " + ws + " " + url + " /by '\"amrepo\"'", dir_);
  ASSERT_EQ(our_set.exit_code, 0) << our_set.err;
  EXPECT_EQ(js_watcher.stop_after_exit(), 0);
  EXPECT_EQ(json::parse(read("js-watch.txt"))["by"], "amrepo");
  // A document made by amrepo is read by a JS client.
  auto ours = run_amrepo("new --server " + ws + " --json '{\"made_by\":\"amrepo\"}'", dir_);
  ASSERT_EQ(ours.exit_code, 0) << ours.err;
  auto js_reads = js_peer("cat " + ws + " " + first_line(ours.out), dir_);
  ASSERT_EQ(js_reads.exit_code, 0) << js_reads.err;
  EXPECT_EQ(json::parse(js_reads.out), json::parse(R"({"made_by":"amrepo"})"));
}

TEST_F(AmrepoCli, OurClientsThroughAJsServer) {
  ServerProcess server(1, "node " + am::test::jsref_script("repo-peer.mjs") + " serve 0 " + path("js-data"));
  ASSERT_EQ(server.urls(), 1u);
  const std::string ws = server.url(0);
  auto ours = run_amrepo("new --server " + ws + " --json '{\"made_by\":\"amrepo\",\"n\":7}'", dir_);
  ASSERT_EQ(ours.exit_code, 0) << ours.err;
  auto js_reads = js_peer("cat " + ws + " " + first_line(ours.out), dir_);
  ASSERT_EQ(js_reads.exit_code, 0) << js_reads.err;
  EXPECT_EQ(json::parse(js_reads.out), json::parse(R"({"made_by":"amrepo","n":7})"));
  auto created = js_peer("create " + ws + " '{\"made_by\":\"js\"}'", dir_);
  ASSERT_EQ(created.exit_code, 0) << created.err;
  auto our_cat = run_amrepo("cat --server " + ws + " " + first_line(created.out), dir_);
  ASSERT_EQ(our_cat.exit_code, 0) << our_cat.err;
  EXPECT_EQ(json::parse(our_cat.out), json::parse(R"({"made_by":"js"})"));
  // An unknown document is unavailable through the JS server too (exit code 3).
  EXPECT_EQ(run_amrepo("cat --server " + ws + " automerge:42gwUifH6GMMHGEo9x2GKgHGRP1u", dir_).exit_code, 3);
}

TEST_F(AmrepoCli, JsEphemeralMessagesThroughOurServer) {
  ServerProcess server("--listen 127.0.0.1:0 --memory", 1);
  ASSERT_EQ(server.urls(), 1u);
  const std::string ws = server.url(0);
  auto created = js_peer("create " + ws + " '{}'", dir_);
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string url = first_line(created.out);
  ServerProcess receiver(1, "node " + am::test::jsref_script("repo-peer.mjs") + " ephemeral-receive " + ws + " " + url +
                                " " + path("ephemeral.txt"));
  ASSERT_EQ(receiver.urls(), 1u) << "receiver not ready";
  ServerProcess sender(0, "node " + am::test::jsref_script("repo-peer.mjs") + " ephemeral-send " + ws + " " + url +
                              " '{\"cursor\":5}'");
  EXPECT_EQ(receiver.stop_after_exit(), 0);
  const std::string text = read("ephemeral.txt");
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(json::parse(text)["message"], json::parse(R"({"cursor":5})"));
}

// set/del/incr/splice by path, watched live by another client, plus ls/rm on a --data repo and
// an ephemeral message from amrepo broadcast to amrepo watch --ephemeral.
TEST_F(AmrepoCli, EditCommandsAreSeenByAWatcher) {
  ServerProcess server("--listen 127.0.0.1:0 --tcp 127.0.0.1:0 --memory", 2);
  ASSERT_EQ(server.urls(), 2u);
  // The same commands and watcher over WebSocket, then over length-prefixed TCP.
  for (const std::string& ws : {server.url(0), server.url(1)}) {
    SCOPED_TRACE(ws);
    auto created = run_amrepo("new --server " + ws + " --json '{\"todos\":[{\"title\":\"a\"}],\"n\":1}'", dir_);
    ASSERT_EQ(created.exit_code, 0) << created.err;
    const std::string url = first_line(created.out);
    // The watcher prints a snapshot, then one line per change; it exits after 5 changes.
    ServerProcess watcher(1, std::string(AM_AMREPO_PATH) + " watch --ephemeral --count 5 --server " + ws + " " + url +
                                 " | tee " + path("watch.txt"));
    ASSERT_EQ(watcher.urls(), 1u) << "no snapshot line";
    for (const std::string& cmd : {"set --server " + ws + " " + url + " /todos/1 '{\"title\":\"b\",\"done\":true}'",
                                   "incr --server " + ws + " " + url + " /hits 5",
                                   "splice --server " + ws + " " + url + " /todos/0/title 1 0 bc",
                                   "del --server " + ws + " " + url + " /n",
                                   "broadcast --server " + ws + " " + url + " '{\"cursor\":3}'",
                                   "incr --server " + ws + " " + url + " /hits"}) {
      auto r = run_amrepo(cmd, dir_);
      ASSERT_EQ(r.exit_code, 0) << cmd << ": " << r.err;
    }
    EXPECT_EQ(watcher.stop_after_exit(), 0);
    auto cat = run_amrepo("cat --server " + ws + " " + url, dir_);
    ASSERT_EQ(cat.exit_code, 0) << cat.err;
    EXPECT_EQ(json::parse(cat.out), json::parse(R"({"hits":6,"todos":[{"title":"abc"},{"title":"b","done":true}]})"));
    std::vector<json> lines;
    std::istringstream in(read("watch.txt"));
    for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
    ASSERT_GE(lines.size(), 6u);
    EXPECT_EQ(lines.front()["type"], "snapshot");
    bool saw_ephemeral = false;
    for (const auto& l : lines) saw_ephemeral |= l["type"] == "ephemeral" && l["message"] == json::parse(R"({"cursor":3})");
    EXPECT_TRUE(saw_ephemeral);
    EXPECT_EQ(lines.back()["doc"], json::parse(cat.out));
    // Bad paths and values are usage errors and change nothing.
    EXPECT_EQ(run_amrepo("set --server " + ws + " " + url + " /missing/x 1", dir_).exit_code, 2);
    EXPECT_EQ(run_amrepo("set --server " + ws + " " + url + " /k '{bad'", dir_).exit_code, 2);
    EXPECT_EQ(run_amrepo("splice --server " + ws + " " + url + " /hits 0 0 x", dir_).exit_code, 2);
  }

  // A local repo: new with --data only, then ls and rm.
  auto local = run_amrepo("new --data " + path("local") + " --json '{\"x\":1}'", dir_);
  ASSERT_EQ(local.exit_code, 0) << local.err;
  auto ls = run_amrepo("ls --data " + path("local"), dir_);
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_EQ(first_line(ls.out), first_line(local.out));
  EXPECT_EQ(run_amrepo("rm --data " + path("local") + " " + first_line(local.out), dir_).exit_code, 0);
  EXPECT_EQ(run_amrepo("ls --data " + path("local"), dir_).out, "");
  EXPECT_EQ(run_amrepo("rm --data " + path("local") + " " + first_line(local.out), dir_).exit_code, 3);
}


TEST_F(AmrepoCli, PeeredServersHealthAndMetrics) {
  ServerProcess a("--listen 127.0.0.1:0 --memory --announce --peer-id server-a", 1);
  ASSERT_EQ(a.urls(), 1u);
  ServerProcess b("--listen 127.0.0.1:0 --memory --announce --peer-id server-b --peer " + a.url(0), 1);
  ASSERT_EQ(b.urls(), 1u);
  // A client of a makes a document; a client of b reads it, and edits it for the first client.
  auto created = run_amrepo("new --server " + a.url(0) + " --json '{\"k\":\"v\"}'", dir_);
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string url = first_line(created.out);
  CliRun on_b;
  for (int attempt = 0; attempt < 50; ++attempt) {  // b learns it from a in the background
    on_b = run_amrepo("cat --server " + b.url(0) + " " + url, dir_);
    if (on_b.exit_code == 0) break;
    usleep(100000);
  }
  ASSERT_EQ(on_b.exit_code, 0) << on_b.err;
  EXPECT_EQ(json::parse(on_b.out), json::parse(R"({"k":"v"})"));
  ASSERT_EQ(run_amrepo("set --server " + b.url(0) + " " + url + " /k '\"from b\"'", dir_).exit_code, 0);
  json seen;
  for (int attempt = 0; attempt < 50; ++attempt) {
    auto r = run_amrepo("cat --server " + a.url(0) + " " + url, dir_);
    if (r.exit_code == 0 && json::parse(r.out)["k"] == "from b") {
      seen = json::parse(r.out);
      break;
    }
    usleep(100000);
  }
  EXPECT_EQ(seen["k"], "from b");
  // Health: JSON naming the peer server; metrics: Prometheus text with counters that moved.
  const std::string health = http_get(port_of(b.url(0)), "/health");
  ASSERT_NE(health.find("200 OK"), std::string::npos) << health;
  const json h = json::parse(http_body(health));
  EXPECT_EQ(h["status"], "ok");
  EXPECT_EQ(h["peer_id"], "server-b");
  EXPECT_NE(std::find(h["peers"].begin(), h["peers"].end(), json("server-a")), h["peers"].end()) << h.dump();
  const std::string metrics = http_body(http_get(port_of(a.url(0)), "/metrics"));
  EXPECT_NE(metrics.find("# TYPE amrepo_messages_total counter"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("amrepo_messages_total{direction=\"in\"} "), std::string::npos);
  EXPECT_EQ(metrics.find("amrepo_messages_total{direction=\"in\"} 0\n"), std::string::npos) << "no messages counted";
  EXPECT_NE(http_get(port_of(a.url(0)), "/nothing-here").find("404"), std::string::npos);
  // The sync reply latency histogram counted the answers a gave.
  EXPECT_NE(metrics.find("# TYPE amrepo_sync_reply_seconds histogram"), std::string::npos);
  EXPECT_NE(metrics.find("amrepo_sync_reply_seconds_bucket{le=\"+Inf\"} "), std::string::npos);
  EXPECT_EQ(metrics.find("amrepo_sync_reply_seconds_count 0\n"), std::string::npos) << "no replies counted";
  EXPECT_EQ(run_amrepo("serve --log-level chatty --memory", dir_).exit_code, 2);
}

// A long-running client (watch) outlives a server killed with SIGKILL right after acknowledging a
// new document: the document is on disk, the watcher reconnects to the restarted server (same
// port, same data) and sees a change made after the restart.
TEST_F(AmrepoCli, WatcherReconnectsAfterTheServerIsKilled) {
  for (const bool tcp : {false, true}) {
    SCOPED_TRACE(tcp ? "tcp" : "ws");
    const std::string data = path(tcp ? "data-tcp" : "data-ws");
    auto server = std::make_unique<ServerProcess>(
        std::string(tcp ? "--listen '' --tcp 127.0.0.1:0" : "--listen 127.0.0.1:0") + " --data " + data, 1);
    ASSERT_EQ(server->urls(), 1u);
    const std::string endpoint = server->url(0);
    auto created = run_amrepo("new --server " + endpoint + " --json '{\"k\":0}'", dir_);
    ASSERT_EQ(created.exit_code, 0) << created.err;
    const std::string url = first_line(created.out);
    ServerProcess watcher(1, std::string(AM_AMREPO_PATH) + " watch --count 1 --timeout 20 --server " + endpoint + " " +
                                 url + " | tee " + path("watch.txt"));
    ASSERT_EQ(watcher.urls(), 1u);
    // No waiting: `new` returned once the server acknowledged the document, and the server
    // acknowledges only what it has saved.
    server->kill_now();
    server.reset();
    const std::string port = endpoint.substr(endpoint.rfind(':') + 1);
    server = std::make_unique<ServerProcess>(
        std::string(tcp ? "--listen '' --tcp 127.0.0.1:" : "--listen 127.0.0.1:") + port + " --data " + data, 1);
    ASSERT_EQ(server->urls(), 1u);
    auto set = run_amrepo("set --server " + endpoint + " " + url + " /k 42", dir_);
    ASSERT_EQ(set.exit_code, 0) << set.err;
    EXPECT_EQ(watcher.stop_after_exit(), 0) << "the watcher did not see the change";
    std::istringstream in(read("watch.txt"));
    std::string line, last;
    while (std::getline(in, line)) last = line;
    ASSERT_FALSE(last.empty());
    EXPECT_EQ(json::parse(last)["doc"]["k"], 42);
  }
}

// `amrepo edit` with a scripted $EDITOR: text, list and map changes apply; invalid JSON changes
// nothing and keeps the file.
TEST_F(AmrepoCli, EditWithAScriptedEditor) {
  ServerProcess server("--listen 127.0.0.1:0 --memory", 1);
  ASSERT_EQ(server.urls(), 1u);
  const std::string ws = server.url(0);
  auto created = run_amrepo("new --server " + ws + " --json '{\"text\":\"hello world\",\"list\":[1,2,3],\"gone\":true}'", dir_);
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string url = first_line(created.out);
  write("editor.sh",
        "#!/bin/sh\n"
        "sed -i -e 's/hello world/hello brave world/' -e 's/\"gone\": true/\"new\": {\"a\": [\"x\"]}/' "
        "-e 's/^    3$/    3,\\n    4/' \"$1\"\n");
  fs::permissions(dir_ / "editor.sh", fs::perms::owner_all);
  const std::string env = "EDITOR=" + path("editor.sh") + " VISUAL= ";
  const std::string cmd = env + std::string(AM_AMREPO_PATH) + " edit --server " + ws + " " + url + " 2>" + path("edit-err.txt");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << read("edit-err.txt");
  auto cat = run_amrepo("cat --server " + ws + " " + url, dir_);
  ASSERT_EQ(cat.exit_code, 0) << cat.err;
  EXPECT_EQ(json::parse(cat.out), json::parse(R"({"text":"hello brave world","list":[1,2,3,4],"new":{"a":["x"]}})"));
  // A second edit of the same text.
  write("editor2.sh", "#!/bin/sh\nsed -i 's/brave/bold/' \"$1\"\n");
  fs::permissions(dir_ / "editor2.sh", fs::perms::owner_all);
  ASSERT_EQ(std::system(("EDITOR=" + path("editor2.sh") + " VISUAL= " + std::string(AM_AMREPO_PATH) + " edit --server " +
                         ws + " " + url + " 2>/dev/null").c_str()), 0);
  auto cat2 = run_amrepo("cat --server " + ws + " " + url + " --path /text", dir_);
  EXPECT_EQ(json::parse(cat2.out), "hello bold world");
  // Invalid JSON: exit 2, nothing changed, the file is kept and named.
  write("broken.sh", "#!/bin/sh\necho '{not json' > \"$1\"\n");
  fs::permissions(dir_ / "broken.sh", fs::perms::owner_all);
  const int rc = std::system(("EDITOR=" + path("broken.sh") + " VISUAL= " + std::string(AM_AMREPO_PATH) + " edit --server " +
                              ws + " " + url + " 2>" + path("broken-err.txt")).c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 2);
  const std::string err = read("broken-err.txt");
  const auto at = err.find("your file: ");
  ASSERT_NE(at, std::string::npos) << err;
  std::string kept = err.substr(at + 11);
  while (!kept.empty() && (kept.back() == '\n' || kept.back() == '\r')) kept.pop_back();
  EXPECT_TRUE(fs::exists(kept)) << kept;
  fs::remove(kept);
  auto cat3 = run_amrepo("cat --server " + ws + " " + url + " --path /text", dir_);
  EXPECT_EQ(json::parse(cat3.out), "hello bold world");
}

// apply_json_diff edits text with one splice, so a concurrent edit elsewhere in the same text
// survives the merge (a whole-string replacement would lose one side).
TEST(DocEdit, TextDiffIsASpliceThatKeepsConcurrentEdits) {
  auto a = am::document_from_json(R"({"t":"hello world","l":[1,2,3]})");
  ASSERT_TRUE(a);
  am::Document b = a->fork();
  auto t = b.get(am::ObjId::root(), "t");
  ASSERT_TRUE(t && *t);
  const am::ObjId text_id = std::get<am::ObjectRef>(**t).id;
  ASSERT_TRUE(b.splice_text(text_id, 11, 0, "!"));
  b.commit();
  auto changed = amrepo::apply_json_diff(*a, json::parse(R"({"t":"hello world","l":[1,2,3]})"),
                                         json::parse(R"({"t":"hello brave world","l":[1,5]})"));
  ASSERT_TRUE(changed) << changed.error().to_string();
  EXPECT_EQ(*changed, 3u);  // one splice, one element replaced, one removed
  a->commit();
  ASSERT_TRUE(a->merge(b));
  auto text = a->text(text_id);
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "hello brave world!");
  auto as_json = a->to_json();
  ASSERT_TRUE(as_json);
  EXPECT_EQ(json::parse(*as_json)["l"], json::parse("[1,5]"));
}

// `serve --storage sqlite`: a document survives a restart in DIR/amrepo.sqlite.
TEST_F(AmrepoCli, ServeWithSqliteStorageKeepsDocumentsAcrossARestart) {
  const std::string data = path("sqlite-data");
  std::string url;
  {
    ServerProcess server("--listen 127.0.0.1:0 --storage sqlite --data " + data, 1);
    ASSERT_EQ(server.urls(), 1u);
    auto created = run_amrepo("new --server " + server.url(0) + " --json '{\"db\":\"sqlite\"}'", dir_);
    ASSERT_EQ(created.exit_code, 0) << created.err;
    url = first_line(created.out);
    EXPECT_EQ(server.stop(), 0);
  }
  EXPECT_TRUE(fs::exists(fs::path(data) / "amrepo.sqlite"));
  ServerProcess restarted("--listen 127.0.0.1:0 --storage sqlite --data " + data, 1);
  ASSERT_EQ(restarted.urls(), 1u);
  auto cat = run_amrepo("cat --server " + restarted.url(0) + " " + url, dir_);
  ASSERT_EQ(cat.exit_code, 0) << cat.err;
  EXPECT_EQ(json::parse(cat.out), json::parse(R"({"db":"sqlite"})"));
  EXPECT_EQ(run_amrepo("serve --storage lmdb --data " + data, dir_).exit_code, 2);
}

// `serve --auth-token-file --access-rules` over ws, tcp and wss: a writer, a read-only
// reader, a principal the rules deny, a missing and a wrong token; and a JS client presenting
// its token as ?token= (browsers cannot set headers on a WebSocket).
TEST_F(AmrepoCli, TokensAndAccessRulesOverWebSocketTcpAndTls) {
  const std::string writer = "writer-token-0123456789abcdef";
  const std::string reader = "reader-token-0123456789abcdef";
  const std::string outsider = "outsider-token-0123456789abc";
  write("tokens", "# name token\nwriter " + writer + "\nreader " + reader + "\noutsider " + outsider + "\n");
  write("rules", "writer write *\nreader read *\noutsider none *\n");
  // A self-signed certificate for the wss:// server, its own CA for the clients.
  ASSERT_EQ(run_shell("openssl", "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
                                 "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
                                     path("key.pem") + " -out " + path("cert.pem"), dir_)
                .exit_code,
            0);
  const std::string auth = " --memory --auth-token-file " + path("tokens") + " --access-rules " + path("rules");
  ServerProcess server("--listen 127.0.0.1:0 --tcp 127.0.0.1:0" + auth, 2);
  ASSERT_EQ(server.urls(), 2u);
  ServerProcess secure("--listen 127.0.0.1:0 --tls-cert " + path("cert.pem") + " --tls-key " + path("key.pem") + auth, 1);
  ASSERT_EQ(secure.urls(), 1u);
  ASSERT_EQ(secure.url(0).rfind("wss://127.0.0.1:", 0), 0u) << secure.url(0);
  for (const std::string& url : {server.url(0), server.url(1), secure.url(0)}) {
    SCOPED_TRACE(url);
    const std::string server_args =
        " --server " + url + (url.rfind("wss:", 0) == 0 ? " --ca-file " + path("cert.pem") : std::string());
    const std::string with = " --timeout 5" + server_args + " --token ";
    auto created = run_amrepo("new" + with + writer + " --json '{\"n\":1}'", dir_);
    ASSERT_EQ(created.exit_code, 0) << created.err;
    const std::string doc = first_line(created.out);
    // The reader reads; its write is dropped (never acknowledged) and the document is unchanged.
    auto read_cat = run_amrepo("cat" + with + reader + " " + doc, dir_);
    ASSERT_EQ(read_cat.exit_code, 0) << read_cat.err;
    EXPECT_EQ(json::parse(read_cat.out), json::parse(R"({"n":1})"));
    auto read_set = run_amrepo("set --timeout 2" + server_args + " --token " + reader + " " + doc + " /n 2", dir_);
    EXPECT_EQ(read_set.exit_code, 4) << read_set.err;
    if (url == server.url(1)) {
      // Refusals are counted. Checked after both of this server's readers wrote: a reader sends
      // its change only when the server's Bloom filter says it lacks it (the server never asks a
      // reader), so one false positive (about 1%) can keep one reader's change home.
      const std::string metrics = http_body(http_get(port_of(server.url(0)), "/metrics"));
      EXPECT_EQ(metrics.find("amrepo_writes_refused_total 0\n"), std::string::npos) << metrics;
      EXPECT_NE(metrics.find("amrepo_writes_refused_total "), std::string::npos) << metrics;
    }
    auto after = run_amrepo("cat" + with + writer + " " + doc, dir_);
    ASSERT_EQ(after.exit_code, 0) << after.err;
    EXPECT_EQ(json::parse(after.out), json::parse(R"({"n":1})")) << "a read-only peer's change got in";
    // The writer writes.
    ASSERT_EQ(run_amrepo("set" + with + writer + " " + doc + " /n 3", dir_).exit_code, 0);
    auto written = run_amrepo("cat" + with + reader + " " + doc, dir_);
    ASSERT_EQ(written.exit_code, 0) << written.err;
    EXPECT_EQ(json::parse(written.out), json::parse(R"({"n":3})"));
    // A valid token whose rules say none: the document is unavailable to it.
    auto denied = run_amrepo("cat" + with + outsider + " " + doc, dir_);
    EXPECT_EQ(denied.exit_code, 3) << denied.err;
    // No token, or a wrong one: refused at once with the reason, exit code 6.
    auto missing = run_amrepo("cat --timeout 5" + server_args + " " + doc, dir_);
    EXPECT_EQ(missing.exit_code, 6) << missing.err;
    EXPECT_NE(missing.err.find("a bearer token is required"), std::string::npos) << missing.err;
    auto wrong = run_amrepo("cat" + with + "not-a-valid-token-at-all " + doc, dir_);
    EXPECT_EQ(wrong.exit_code, 6) << wrong.err;
    EXPECT_NE(wrong.err.find("the token is not valid"), std::string::npos) << wrong.err;
  }
  // The JS reference client with ?token= (browsers cannot set headers), over ws and wss.
  auto js_created = js_peer("create '" + server.url(0) + "/?token=" + writer + "' '{\"from\":\"js\"}'", dir_);
  ASSERT_EQ(js_created.exit_code, 0) << js_created.err;
  auto js_read = run_amrepo("cat --server " + server.url(0) + " --token " + reader + " " + first_line(js_created.out), dir_);
  ASSERT_EQ(js_read.exit_code, 0) << js_read.err;
  EXPECT_EQ(json::parse(js_read.out), json::parse(R"({"from":"js"})"));
  const std::string js_over_tls = "NODE_EXTRA_CA_CERTS=" + path("cert.pem") + " node " + am::test::jsref_script("repo-peer.mjs");
  auto js_secure = run_shell(js_over_tls, "create '" + secure.url(0) + "/?token=" + writer + "' '{\"tls\":true}'", dir_);
  ASSERT_EQ(js_secure.exit_code, 0) << js_secure.err;
  auto js_secure_cat = run_shell(js_over_tls, "cat '" + secure.url(0) + "/?token=" + reader + "' " + first_line(js_secure.out), dir_);
  ASSERT_EQ(js_secure_cat.exit_code, 0) << js_secure_cat.err;
  EXPECT_EQ(json::parse(js_secure_cat.out), json::parse(R"({"tls":true})"));
  // Bad configuration is a usage error naming the problem.
  write("short", "alice tooshort\n");
  auto short_token = run_amrepo("serve --memory --auth-token-file " + path("short"), dir_);
  EXPECT_EQ(short_token.exit_code, 2);
  EXPECT_NE(short_token.err.find("at least 16"), std::string::npos) << short_token.err;
  write("typo", "wrtier write *\n");
  auto typo = run_amrepo("serve --memory --auth-token-file " + path("tokens") + " --access-rules " + path("typo"), dir_);
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_NE(typo.err.find("no token is named wrtier"), std::string::npos) << typo.err;
  EXPECT_EQ(run_amrepo("serve --memory --access-rules " + path("rules"), dir_).exit_code, 2);
}
#ifdef AM_HAVE_POSTGRES
namespace {

// SELECT count(*) FROM `table` in the database of `conninfo`; -1 on an error.
long count_rows(const std::string& conninfo, const std::string& table) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  long n = -1;
  if (PQstatus(c) == CONNECTION_OK) {
    PGresult* r = PQexec(c, ("SELECT count(*) FROM " + table).c_str());
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) n = std::stol(PQgetvalue(r, 0, 0));
    PQclear(r);
  }
  PQfinish(c);
  return n;
}

}  // namespace

// `serve --storage postgres --pg CONNINFO`: documents live in the database's automerge_chunks
// table and survive a restart, and a SIGKILL after an acknowledged edit.
TEST_F(AmrepoCli, ServeWithPostgresStorageKeepsDocumentsAcrossARestart) {
  AM_REQUIRE_POSTGRES();
  const auto db = am::test::PostgresTestServer::get().create_database();
  ASSERT_TRUE(db) << db.error().to_string();
  const std::string pg = " --storage postgres --pg '" + *db + "'";
  std::string url;
  {
    ServerProcess server("--listen 127.0.0.1:0" + pg, 1);
    ASSERT_EQ(server.urls(), 1u);
    auto created = run_amrepo("new --server " + server.url(0) + " --json '{\"db\":\"postgres\"}'", dir_);
    ASSERT_EQ(created.exit_code, 0) << created.err;
    url = first_line(created.out);
    EXPECT_EQ(server.stop(), 0);
  }
  // The storage id and the document's chunks.
  EXPECT_GE(count_rows(*db, "automerge_chunks"), 2);
  {
    ServerProcess restarted("--listen 127.0.0.1:0" + pg, 1);
    ASSERT_EQ(restarted.urls(), 1u);
    auto cat = run_amrepo("cat --server " + restarted.url(0) + " " + url, dir_);
    ASSERT_EQ(cat.exit_code, 0) << cat.err;
    EXPECT_EQ(json::parse(cat.out), json::parse(R"({"db":"postgres"})"));
    // An acknowledged edit is in the database even if the server dies right after.
    auto set = run_amrepo("set --server " + restarted.url(0) + " " + url + " /n 7", dir_);
    ASSERT_EQ(set.exit_code, 0) << set.err;
    restarted.kill_now();
  }
  ServerProcess again("--listen 127.0.0.1:0" + pg, 1);
  ASSERT_EQ(again.urls(), 1u);
  auto cat = run_amrepo("cat --server " + again.url(0) + " " + url, dir_);
  ASSERT_EQ(cat.exit_code, 0) << cat.err;
  EXPECT_EQ(json::parse(cat.out), json::parse(R"({"db":"postgres","n":7})"));
}

// Three `serve --storage postgres` processes on one database (fan-out through LISTEN/NOTIFY):
// clients on different servers edit one document, every server ends up with every edit, and a
// client watching on one server sees an edit made through another live.
TEST_F(AmrepoCli, ServersSharingAPostgresDatabaseFanOutChanges) {
  AM_REQUIRE_POSTGRES();
  const auto db = am::test::PostgresTestServer::get().create_database();
  ASSERT_TRUE(db) << db.error().to_string();
  const std::string pg = " --storage postgres --pg '" + *db + "'";
  std::vector<std::unique_ptr<ServerProcess>> servers;
  std::vector<std::string> ws;
  for (int i = 1; i <= 3; ++i) {
    servers.push_back(std::make_unique<ServerProcess>(
        "--listen 127.0.0.1:0 --peer-id server-" + std::to_string(i) + pg, 1));
    ASSERT_EQ(servers.back()->urls(), 1u) << "server " << i << " did not start";
    ws.push_back(servers.back()->url(0));
  }
  // Waits (up to 15 s) until `cat` through server `i` prints `want`; the last output otherwise.
  auto converges = [&](std::size_t i, const std::string& url, const json& want) -> std::string {
    std::string last;
    for (int tries = 0; tries < 75; ++tries) {
      auto cat = run_amrepo("cat --server " + ws[i] + " " + url, dir_);
      if (cat.exit_code == 0 && json::parse(cat.out) == want) return "";
      last = "exit " + std::to_string(cat.exit_code) + ": " + cat.out + cat.err;
      usleep(200000);
    }
    return last;
  };
  auto run_ok = [&](const std::string& args) {
    auto r = run_amrepo(args, dir_);
    EXPECT_EQ(r.exit_code, 0) << args << ": " << r.err;
    return r;
  };

  const std::string url = first_line(run_ok("new --server " + ws[0] + " --json '{\"from\":\"s1\"}'").out);
  ASSERT_EQ(url.rfind("automerge:", 0), 0u) << url;
  // Every server opens the document (from the database) and keeps it open.
  for (std::size_t i = 1; i < 3; ++i) EXPECT_EQ(converges(i, url, json::parse(R"({"from":"s1"})")), "");
  // A counter made through server 1 reaches servers 2 and 3, which have the document open.
  run_ok("incr --server " + ws[0] + " " + url + " /n");
  for (std::size_t i = 1; i < 3; ++i) {
    EXPECT_EQ(converges(i, url, json::parse(R"({"from":"s1","n":1})")), "") << "server " << i + 1;
  }

  // A client watching through server 3 sees an edit made through server 1.
  ServerProcess watcher(1, std::string(AM_AMREPO_PATH) + " watch --count 1 --timeout 20 --server " + ws[2] +
                               " " + url + " | tee " + path("watch.txt"));
  ASSERT_EQ(watcher.urls(), 1u) << "no snapshot line";
  run_ok("set --server " + ws[0] + " " + url + " /a 1");
  EXPECT_EQ(watcher.stop_after_exit(), 0);
  std::vector<json> lines;
  std::istringstream in(read("watch.txt"));
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  ASSERT_EQ(lines.size(), 2u) << read("watch.txt");
  EXPECT_EQ(lines.back()["doc"]["a"], 1) << lines.back().dump();

  // Edits through all three servers: the counter adds up and every key arrives everywhere.
  run_ok("incr --server " + ws[1] + " " + url + " /n");
  run_ok("incr --server " + ws[2] + " " + url + " /n");
  run_ok("set --server " + ws[1] + " " + url + " /b 2");
  run_ok("set --server " + ws[2] + " " + url + " /c 3");
  const json want = json::parse(R"({"from":"s1","n":3,"a":1,"b":2,"c":3})");
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(converges(i, url, want), "") << "server " << i + 1;
  for (auto& s : servers) EXPECT_EQ(s->stop(), 0);
}

namespace {

using namespace std::chrono_literals;

// An in-process client of `amrepo serve` (an am::repo::Repo without storage, on its own
// threads): keeps every change it made in memory, so it can move to another server.
struct ClusterClient {
  std::unique_ptr<am::repo::Repo> repo;
  std::optional<am::repo::EndpointId> endpoint;
  am::repo::PeerId server;
  // Dials `url` (whose server is `server_peer`) instead of the current server; false if the
  // handshake does not complete within 60 s.
  bool connect(const std::string& url, const std::string& server_peer) {
    if (endpoint) repo->disconnect(*endpoint);
    am::repo::Backoff backoff;
    backoff.initial = 50ms;
    backoff.max = 1s;
    endpoint = repo->connect_websocket(url, backoff);
    server = am::repo::PeerId(server_peer);
    return static_cast<bool>(repo->wait_for_peer(server, 60s));
  }
};

// The id of the root's "items" list.
am::ObjId items_list(const am::Document& d) {
  auto v = d.get(am::ObjId::root(), "items");
  if (!v || !*v || !std::holds_alternative<am::ObjectRef>(**v)) return am::ObjId::root();
  return std::get<am::ObjectRef>(**v).id;
}

// The counter "n" and the length of "items"; -1 each when missing.
std::pair<std::int64_t, std::int64_t> counter_and_items(const am::repo::DocHandle& h) {
  std::pair<std::int64_t, std::int64_t> out{-1, -1};
  h.read([&](const am::Document& d) {
    if (auto v = d.get(am::ObjId::root(), "n"); v && *v && std::holds_alternative<am::ScalarValue>(**v)) {
      if (const auto* c = std::get_if<am::Counter>(&std::get<am::ScalarValue>(**v))) out.first = c->value;
    }
    const am::ObjId items = items_list(d);
    if (!(items == am::ObjId::root())) {
      if (auto n = d.length(items)) out.second = static_cast<std::int64_t>(*n);
    }
  });
  return out;
}

std::string heads_text(const std::vector<am::ChangeHash>& heads) {
  std::string s;
  for (const auto& h : heads) s += h.to_hex().substr(0, 8) + " ";
  return s;
}

}  // namespace

// Issue #13's acceptance: three `serve --storage postgres` processes on one database; clients
// of different servers edit the same documents at the same time (each edit increments a
// counter and inserts a list item at a random place) and everything converges everywhere. Then
// one server dies by SIGKILL: every change its clients saw acknowledged reaches the other
// servers' clients through the database, its clients carry on through the other servers, and
// a server started afterwards finds everything in the database.
TEST_F(AmrepoCli, ServersSharingAPostgresDatabaseConvergeUnderConcurrentEditsAndASigkill) {
  AM_REQUIRE_POSTGRES();
  const auto db = am::test::PostgresTestServer::get().create_database();
  ASSERT_TRUE(db) << db.error().to_string();
  const std::string pg = " --storage postgres --pg '" + *db + "'";
  std::uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("AM_TEST_SEED"); s != nullptr) seed = std::stoull(s);
  std::cout << "seed " << seed << " (AM_TEST_SEED=" << seed << " repeats this run)" << std::endl;
  SCOPED_TRACE("AM_TEST_SEED=" + std::to_string(seed));

  constexpr std::size_t kServers = 3, kClients = 6, kDocs = 3;
  std::vector<std::unique_ptr<ServerProcess>> servers;
  std::vector<std::string> ws;
  for (std::size_t i = 1; i <= kServers; ++i) {
    servers.push_back(std::make_unique<ServerProcess>(
        "--listen 127.0.0.1:0 --peer-id server-" + std::to_string(i) + pg, 1));
    ASSERT_EQ(servers.back()->urls(), 1u) << "server " << i << " did not start";
    ws.push_back(servers.back()->url(0));
  }
  auto server_name = [](std::size_t s) { return "server-" + std::to_string(s + 1); };
  // Client c starts on server c % 3 (clients 0 and 3 on server-1, the one killed later).
  std::vector<ClusterClient> clients(kClients);
  std::vector<std::size_t> server_of(kClients);
  for (std::size_t c = 0; c < kClients; ++c) {
    am::repo::RepoOptions ro;
    ro.peer_id = "client-" + std::to_string(c);
    auto repo = am::repo::Repo::open(ro);
    ASSERT_TRUE(repo) << repo.error().to_string();
    clients[c].repo = std::move(*repo);
    server_of[c] = c % kServers;
    ASSERT_TRUE(clients[c].connect(ws[server_of[c]], server_name(server_of[c]))) << "client " << c;
  }

  // The documents: {"n": counter 0, "items": []}, made by client 0 and saved by server-1, then
  // opened by every client through its own server (which loads them from the database).
  std::vector<std::vector<am::repo::DocHandle>> handles(kClients, std::vector<am::repo::DocHandle>(kDocs));
  for (std::size_t d = 0; d < kDocs; ++d) {
    am::Document initial;
    ASSERT_TRUE(initial.put(am::ObjId::root(), "n", am::Counter{0}));
    ASSERT_TRUE(initial.put_object(am::ObjId::root(), "items", am::ObjType::kList));
    initial.commit();
    auto h = clients[0].repo->create(initial);
    ASSERT_TRUE(h) << h.error().to_string();
    ASSERT_TRUE(h->wait_synced(clients[0].server, 60s)) << "server-1 did not acknowledge document " << d;
    handles[0][d] = *h;
  }
  for (std::size_t c = 1; c < kClients; ++c) {
    for (std::size_t d = 0; d < kDocs; ++d) {
      auto found = clients[c].repo->find(handles[0][d].id(), 60s).get();
      ASSERT_TRUE(found) << "client " << c << " through " << server_name(server_of[c]) << ": "
                         << found.error().to_string();
      handles[c][d] = *found;
    }
  }

  std::array<std::atomic<std::int64_t>, kDocs> edits{};  // per document, made by anyone
  // One edit by client c: increments "n" and inserts an item at a random index of "items".
  auto edit = [&](std::size_t c, std::size_t d, std::mt19937_64& rng, const std::string& label) {
    const auto st = handles[c][d].change([&](am::Document& doc) {
      const am::ObjId items = items_list(doc);
      const std::size_t len = doc.length(items).value_or(0);
      if (!doc.increment(am::ObjId::root(), "n", 1) || !doc.insert(items, rng() % (len + 1), label)) doc.rollback();
    });
    if (st) ++edits[d];
    return st;
  };
  // Waits (up to 120 s) until the clients `who` have identical heads for every document, the
  // counter and the list count every edit, and each client's server reports those heads.
  auto converged = [&](const std::vector<std::size_t>& who) -> std::string {
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    std::string why;
    while (std::chrono::steady_clock::now() < deadline) {
      why.clear();
      for (std::size_t d = 0; d < kDocs && why.empty(); ++d) {
        const auto heads = handles[who[0]][d].heads();
        for (std::size_t c : who) {
          const auto [n, items] = counter_and_items(handles[c][d]);
          if (handles[c][d].heads() != heads || n != edits[d] || items != edits[d]) {
            why = "document " + std::to_string(d) + ": client " + std::to_string(c) + " has n=" + std::to_string(n) +
                  " items=" + std::to_string(items) + " heads " + heads_text(handles[c][d].heads()) + "; client " +
                  std::to_string(who[0]) + " heads " + heads_text(heads) + "; edits " + std::to_string(edits[d]);
            break;
          }
        }
      }
      if (why.empty()) {
        for (std::size_t c : who) {
          for (std::size_t d = 0; d < kDocs; ++d) {
            if (!handles[c][d].wait_synced(clients[c].server, 10s)) {
              why += "document " + std::to_string(d) + ": client " + std::to_string(c) + " has heads " +
                     heads_text(handles[c][d].heads()) + "but " + clients[c].server.str() + " reports ";
              for (const auto& p : handles[c][d].peers()) {
                if (p.peer == clients[c].server) why += p.their_heads ? heads_text(*p.their_heads) : "nothing ";
              }
              why += "; ";
            }
          }
        }
        if (why.empty()) return "";
      }
      std::this_thread::sleep_for(100ms);
    }
    return why;
  };
  std::vector<std::size_t> everyone(kClients);
  std::iota(everyone.begin(), everyone.end(), 0);

  // Phase 1: all six clients edit at once, 30 edits each, waiting for their server's
  // acknowledgement every 5 edits.
  {
    std::vector<std::string> errors(kClients);
    std::vector<std::thread> threads;
    for (std::size_t c = 0; c < kClients; ++c) {
      threads.emplace_back([&, c] {
        std::mt19937_64 rng(seed + c);
        for (int k = 0; k < 30; ++k) {
          const std::size_t d = rng() % kDocs;
          if (auto st = edit(c, d, rng, "p1-c" + std::to_string(c) + "-" + std::to_string(k)); !st) {
            errors[c] += st.error().to_string() + "; ";
          }
          if (k % 5 == 4 && !handles[c][d].wait_synced(clients[c].server, 60s)) {
            errors[c] += "no acknowledgement of edit " + std::to_string(k) + "; ";
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    for (std::size_t c = 0; c < kClients; ++c) EXPECT_EQ(errors[c], "") << "client " << c;
  }
  EXPECT_EQ(edits[0] + edits[1] + edits[2], 180);
  ASSERT_EQ(converged(everyone), "") << "after concurrent edits through three servers";

  // Phase 2: everyone edits again; server-1 is killed (SIGKILL) once each of its clients has
  // had a few edits acknowledged. Its clients remember the heads they had before every
  // acknowledged wait_synced: those changes must survive.
  const std::vector<std::size_t> on_killed{0, 3};
  std::vector<std::vector<std::vector<am::ChangeHash>>> acked(kClients, std::vector<std::vector<am::ChangeHash>>(kDocs));
  {
    std::atomic<bool> stop{false};
    std::atomic<int> acks_on_killed{0};
    std::vector<std::string> errors(kClients);
    std::vector<std::thread> threads;
    for (std::size_t c = 0; c < kClients; ++c) {
      threads.emplace_back([&, c] {
        std::mt19937_64 rng(seed + 100 + c);
        const bool doomed = server_of[c] == 0;
        for (int k = 0; k < 40 && !stop; ++k) {
          const std::size_t d = rng() % kDocs;
          if (auto st = edit(c, d, rng, "p2-c" + std::to_string(c) + "-" + std::to_string(k)); !st) {
            errors[c] += st.error().to_string() + "; ";
          }
          if (k % 2 == 1) {
            const auto heads = handles[c][d].heads();
            if (handles[c][d].wait_synced(clients[c].server, doomed ? 5s : 60s)) {
              acked[c][d] = heads;
              if (doomed) ++acks_on_killed;
            } else if (!doomed) {
              errors[c] += "no acknowledgement of edit " + std::to_string(k) + "; ";
            }
          }
        }
      });
    }
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (acks_on_killed < 8 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
    EXPECT_GE(acks_on_killed, 8) << "server-1's clients got too few acknowledgements before the kill";
    servers[0]->kill_now();
    stop = true;
    for (auto& t : threads) t.join();
    for (std::size_t c = 0; c < kClients; ++c) EXPECT_EQ(errors[c], "") << "client " << c;
  }
  // What server-1 acknowledged reaches the clients of server-2 and server-3: only through the
  // database, since server-1 talked to nothing else.
  {
    std::size_t checked = 0;
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    std::string missing = "?";
    while (!missing.empty() && std::chrono::steady_clock::now() < deadline) {
      missing.clear();
      checked = 0;
      for (std::size_t c = 0; c < kClients; ++c) {
        if (server_of[c] == 0) continue;
        for (std::size_t from : on_killed) {
          for (std::size_t d = 0; d < kDocs; ++d) {
            handles[c][d].read([&](const am::Document& doc) {
              for (const auto& h : acked[from][d]) {
                ++checked;
                if (!doc.has_change(h)) missing += "client " + std::to_string(c) + " lacks " + h.to_hex().substr(0, 8) + "; ";
              }
            });
          }
        }
      }
      if (!missing.empty()) std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(missing, "") << "changes server-1 acknowledged before it was killed";
    EXPECT_GT(checked, 0u);
  }

  // Phase 3: server-1's clients move to server-2 and server-3 and edit on, with everyone.
  ASSERT_TRUE(clients[0].connect(ws[1], server_name(1)));
  server_of[0] = 1;
  ASSERT_TRUE(clients[3].connect(ws[2], server_name(2)));
  server_of[3] = 2;
  {
    std::vector<std::string> errors(kClients);
    std::vector<std::thread> threads;
    for (std::size_t c = 0; c < kClients; ++c) {
      threads.emplace_back([&, c] {
        std::mt19937_64 rng(seed + 200 + c);
        for (int k = 0; k < 10; ++k) {
          const std::size_t d = rng() % kDocs;
          if (auto st = edit(c, d, rng, "p3-c" + std::to_string(c) + "-" + std::to_string(k)); !st) {
            errors[c] += st.error().to_string() + "; ";
          }
          if (k % 5 == 4 && !handles[c][d].wait_synced(clients[c].server, 60s)) {
            errors[c] += "no acknowledgement of edit " + std::to_string(k) + "; ";
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    for (std::size_t c = 0; c < kClients; ++c) EXPECT_EQ(errors[c], "") << "client " << c;
  }
  ASSERT_EQ(converged(everyone), "") << "after server-1 was killed and its clients moved";

  // A server started now has exactly that in the database.
  ServerProcess fresh("--listen 127.0.0.1:0 --peer-id server-4" + pg, 1);
  ASSERT_EQ(fresh.urls(), 1u);
  ClusterClient reader;
  {
    am::repo::RepoOptions ro;
    ro.peer_id = "client-reader";
    auto repo = am::repo::Repo::open(ro);
    ASSERT_TRUE(repo) << repo.error().to_string();
    reader.repo = std::move(*repo);
  }
  ASSERT_TRUE(reader.connect(fresh.url(0), "server-4"));
  for (std::size_t d = 0; d < kDocs; ++d) {
    auto found = reader.repo->find(handles[1][d].id(), 60s).get();
    ASSERT_TRUE(found) << found.error().to_string();
    EXPECT_EQ(found->heads(), handles[1][d].heads()) << "document " << d;
    EXPECT_EQ(counter_and_items(*found), std::make_pair(edits[d].load(), edits[d].load())) << "document " << d;
  }
  std::cout << "edits per document: " << edits[0] << " " << edits[1] << " " << edits[2] << std::endl;
  reader.repo->stop();
  for (auto& c : clients) c.repo->stop();
  for (std::size_t s = 1; s < kServers; ++s) EXPECT_EQ(servers[s]->stop(), 0);
  EXPECT_EQ(fresh.stop(), 0);
}

TEST_F(AmrepoCli, ServeWithPostgresStorageUsageAndConnectionErrors) {
  // No --pg, or --pg without --storage postgres: usage errors (2), before anything is opened.
  auto no_pg = run_amrepo("serve --listen 127.0.0.1:0 --storage postgres", dir_);
  EXPECT_EQ(no_pg.exit_code, 2);
  EXPECT_NE(no_pg.err.find("--pg"), std::string::npos) << no_pg.err;
  EXPECT_EQ(run_amrepo("serve --listen 127.0.0.1:0 --pg 'host=127.0.0.1' --data " + path("d"), dir_).exit_code, 2);
  // A server nobody runs: a failure (1) that says so.
  auto unreachable = run_amrepo(
      "serve --listen 127.0.0.1:0 --storage postgres --pg 'host=127.0.0.1 port=1 connect_timeout=3'", dir_);
  EXPECT_EQ(unreachable.exit_code, 1);
  EXPECT_NE(unreachable.err.find("cannot connect to PostgreSQL (host=127.0.0.1 port=1"), std::string::npos)
      << unreachable.err;
}
#endif  // AM_HAVE_POSTGRES
