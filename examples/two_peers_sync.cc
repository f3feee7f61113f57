// Two peers syncing one document in the same process with the sync protocol: each keeps a
// SyncState for the other, generates messages and receives the other's until neither has
// anything to say. In a real program the bytes travel over a network connection; the protocol
// only needs a reliable, in-order channel.
#include <cstdio>
#include <optional>
#include <string>
#include <utility>

#include "am/document.h"
#include "am/sync.h"

namespace {

struct Peer {
  const char* name;
  am::Document doc;
  am::SyncState state;  // what this peer knows about the other one
};

// Runs the protocol until quiescent. Returns false on an error or if it does not settle.
bool sync(Peer& a, Peer& b) {
  for (int round = 1; round <= 100; ++round) {
    bool sent = false;
    for (auto [from, to] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
      std::optional<am::Bytes> msg = am::generate_sync_message(from->doc, from->state);
      if (!msg) continue;  // nothing to say right now
      sent = true;
      std::printf("round %d: %s -> %s: %zu bytes\n", round, from->name, to->name, msg->size());
      auto st = am::receive_sync_message(to->doc, to->state, *msg);
      if (!st) {
        std::fprintf(stderr, "receive_sync_message: %s\n", st.error().to_string().c_str());
        return false;
      }
    }
    if (!sent) return true;
  }
  std::fprintf(stderr, "sync did not settle\n");
  return false;
}

std::string json(const am::Document& doc) {
  auto j = doc.to_json();
  return j ? *j : "<error: " + j.error().to_string() + ">";
}

}  // namespace

int main() {
  using am::ObjId;
  Peer alice{"alice", am::Document{}, {}};
  Peer bob{"bob", am::Document{}, {}};

  // Alice starts the document; Bob has nothing yet.
  if (!alice.doc.put(ObjId::root(), "owner", std::string("alice"))) return 1;
  auto tasks = alice.doc.put_object(ObjId::root(), "tasks", am::ObjType::kList);
  if (!tasks || !alice.doc.insert(*tasks, 0, std::string("write docs"))) return 1;
  alice.doc.commit();
  std::printf("-- first sync\n");
  if (!sync(alice, bob)) return 1;

  // Both edit concurrently, then sync again: only the new changes travel.
  if (!alice.doc.insert(*tasks, 1, std::string("ship it"))) return 1;
  alice.doc.commit();
  if (!bob.doc.put(ObjId::root(), "reviewer", std::string("bob"))) return 1;
  if (!bob.doc.insert(*tasks, 0, std::string("review"))) return 1;
  bob.doc.commit();
  std::printf("-- second sync\n");
  if (!sync(alice, bob)) return 1;

  const std::string a = json(alice.doc);
  const std::string b = json(bob.doc);
  std::printf("alice: %s\nbob:   %s\n", a.c_str(), b.c_str());
  if (a != b || alice.doc.heads() != bob.doc.heads()) {
    std::fprintf(stderr, "FAILED: peers differ after sync\n");
    return 1;
  }
  if (a != R"({"owner":"alice","reviewer":"bob","tasks":["review","write docs","ship it"]})") {
    std::fprintf(stderr, "FAILED: unexpected JSON\n");
    return 1;
  }
  std::printf("two_peers_sync: ok\n");
  return 0;
}
