// A repo that syncs with a sync server over WebSocket (amrepo serve, or the JS sync server) and
// prints every change to a document, with patches.
//
//   ./ws_client [ws://127.0.0.1:3030] [automerge:DOCUMENT] [--changes N]
//
// Without a document URL it creates one (and prints its URL), adds a line to its "log" list, then
// prints changes until N have arrived (default: run until interrupted).
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include "am/repo/repo.h"

using namespace std::chrono_literals;

int main(int argc, char** argv) {
  std::string server = "ws://127.0.0.1:3030";
  std::string url;
  long changes_wanted = -1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--changes" && i + 1 < argc) {
      changes_wanted = std::strtol(argv[++i], nullptr, 10);
    } else if (arg.rfind("ws://", 0) == 0) {
      server = arg;
    } else {
      url = arg;
    }
  }
  auto repo = am::repo::Repo::open({});
  if (!repo) return 1;
  (*repo)->connect_websocket(server);

  am::repo::DocHandle doc;
  if (url.empty()) {
    doc = (*repo)->create();
    auto st = doc.change([](am::Document& d) { (void)d.put_object(am::ObjId::root(), "log", am::ObjType::kList); });
    if (!st) return 1;
    std::printf("%s\n", doc.url().c_str());
    std::fflush(stdout);
  } else {
    auto id = am::repo::parse_document_id_loose(url);
    if (!id) {
      std::fprintf(stderr, "%s\n", id.error().to_string().c_str());
      return 2;
    }
    auto found = (*repo)->find(*id, 15s).get();
    if (!found) {
      std::fprintf(stderr, "%s\n", found.error().to_string().c_str());
      return 3;
    }
    doc = *found;
  }

  std::mutex mutex;
  std::condition_variable cv;
  long seen = 0;
  auto subscription = doc.on_change([&](const am::repo::DocumentChange& change) {
    std::lock_guard<std::mutex> lock(mutex);
    std::printf("%s change: %zu patch(es)\n", change.local ? "local" : "remote", change.patches.size());
    for (const am::Patch& patch : change.patches) {
      std::string path;
      for (const am::Prop& p : patch.path) {
        path += "/" + (std::holds_alternative<std::string>(p) ? std::get<std::string>(p)
                                                             : std::to_string(std::get<std::size_t>(p)));
      }
      std::printf("  patch at %s\n", path.c_str());
    }
    std::fflush(stdout);
    if (!change.local) ++seen;
    cv.notify_all();
  });
  // Say hello in the shared log.
  auto st = doc.change([](am::Document& d) {
    auto log = d.get(am::ObjId::root(), "log");
    if (log && *log) {
      if (const auto* ref = std::get_if<am::ObjectRef>(&**log)) {
        auto len = d.length(ref->id);
        (void)d.insert(ref->id, len ? *len : 0, std::string("hello from ws_client"));
      }
    }
  });
  if (!st) return 1;
  {
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait(lock, [&] { return changes_wanted >= 0 && seen >= changes_wanted; });
  }
  // Leave only once the server has everything we wrote.
  return (*repo)->sync_all(15s) ? 0 : 4;
}
