// A downstream program using the installed am::repo: two repos in this process sync a document
// over TCP on 127.0.0.1; prints the JSON the second one sees. It also uses the public transport
// seam's header (am/repo/transport.h), which must be installed and link.
#include <am/repo/repo.h>
#include <am/repo/storage_memory.h>
#include <am/repo/transport.h>

#include <chrono>
#include <cstdio>

using namespace std::chrono_literals;

int main() {
  if (am::repo::to_string(am::repo::CloseReason::kPeerClosed) != "peer-closed") return 1;
  am::repo::RepoOptions a_options;
  a_options.peer_id = "a";
  a_options.storage = am::repo::make_memory_storage();
  auto a = am::repo::Repo::open(a_options);
  am::repo::RepoOptions b_options;
  b_options.peer_id = "b";
  auto b = am::repo::Repo::open(b_options);
  if (!a || !b) return 1;
  auto port = (*a)->listen_tcp("127.0.0.1", 0);
  if (!port) return 1;
  (*b)->connect_tcp("127.0.0.1", *port);
  if (!(*b)->wait_for_peer(am::repo::PeerId("a"), 10s)) return 1;
  auto doc = (*a)->create();
  if (!doc.change([](am::Document& d) { (void)d.put(am::ObjId::root(), "hello", std::string("repo")); })) return 1;
  auto found = (*b)->find(doc.id(), 10s).get();
  if (!found) return 1;
  if (!found->wait_synced(am::repo::PeerId("a"), 10s)) return 1;
  std::string json;
  found->read([&](const am::Document& d) { json = d.to_json().value_or(""); });
  std::printf("%s\n", json.c_str());
  return 0;
}
