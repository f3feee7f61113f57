// Two repos in one process syncing over TCP (4-byte length prefix + CBOR, the framing samod
// uses): one listens on 127.0.0.1, the other connects, creates a document and edits it; the
// first finds the document and prints each change it sees, with patches.
//
//   ./tcp_peers        exits 0 once both repos hold the same document
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>

#include "am/repo/repo.h"

using namespace std::chrono_literals;

int main() {
  am::repo::RepoOptions server_options;
  server_options.peer_id = "listener";
  auto listener = am::repo::Repo::open(server_options);
  am::repo::RepoOptions client_options;
  client_options.peer_id = "dialer";
  auto dialer = am::repo::Repo::open(client_options);
  if (!listener || !dialer) return 1;

  auto port = (*listener)->listen_tcp("127.0.0.1", 0);
  if (!port) {
    std::fprintf(stderr, "listen: %s\n", port.error().to_string().c_str());
    return 1;
  }
  (*dialer)->connect_tcp("127.0.0.1", *port);
  if (!(*dialer)->wait_for_peer(am::repo::PeerId("listener"), 10s)) return 1;

  am::repo::DocHandle doc = (*dialer)->create();
  auto found = (*listener)->find(doc.id(), 10s).get();
  if (!found) {
    std::fprintf(stderr, "find: %s\n", found.error().to_string().c_str());
    return 1;
  }
  std::mutex mutex;
  std::condition_variable cv;
  int changes_seen = 0;
  auto subscription = found->on_change([&](const am::repo::DocumentChange& change) {
    std::lock_guard<std::mutex> lock(mutex);
    for (const am::Patch& patch : change.patches) {
      std::string path;
      for (const am::Prop& p : patch.path) {
        path += "/" + (std::holds_alternative<std::string>(p) ? std::get<std::string>(p)
                                                             : std::to_string(std::get<std::size_t>(p)));
      }
      std::printf("listener sees a patch at %s\n", path.c_str());
    }
    ++changes_seen;
    cv.notify_all();
  });

  for (int i = 0; i < 3; ++i) {
    auto st = doc.change([i](am::Document& d) {
      (void)d.put(am::ObjId::root(), "counter", static_cast<std::int64_t>(i));
    });
    if (!st) return 1;
  }
  if (!doc.wait_synced(am::repo::PeerId("listener"), 10s)) return 1;
  std::unique_lock<std::mutex> lock(mutex);
  cv.wait_for(lock, 10s, [&] { return found->heads() == doc.heads(); });
  const bool same = found->heads() == doc.heads();
  std::printf("%s after %d change notifications\n", same ? "in sync" : "NOT in sync", changes_seen);
  return same && changes_seen > 0 ? 0 : 1;
}
