// A small collaborative text editor for the terminal, driven by line commands on stdin (so it can
// be scripted): several instances on one sync server edit one text and see each other's typing;
// each broadcasts its cursor as an ephemeral message ({"cursor": N, "name": S} in CBOR, the form
// JS peers expect), and shows the others' cursors.
//
//   ./text_editor ws://127.0.0.1:3030 [automerge:DOC] [--name NAME]
//
// Without a document it creates one and prints its URL first. Commands:
//   type TEXT      insert TEXT at the cursor        del N     delete N characters before it
//   move N         put the cursor at N              show      print the text and the cursors
//   wait TEXT      block until the text is TEXT     wait-cursor NAME N   until NAME's cursor is N
//   quit
// Every change from another instance prints "text: ..."; every cursor "cursor NAME: N".
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "am/repo/repo.h"

using namespace std::chrono_literals;

namespace {

// CBOR for {"cursor": N, "name": S} and back (just this shape; a real app would use a library).
void cbor_head(am::Bytes& out, std::uint8_t major, std::uint64_t n) {
  const unsigned type_bits = static_cast<unsigned>(major) << 5;
  if (n < 24) {
    out.push_back(static_cast<std::uint8_t>(type_bits | static_cast<unsigned>(n)));
  } else {
    out.push_back(static_cast<std::uint8_t>(type_bits | 27u));
    for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(n >> s));
  }
}
void cbor_text(am::Bytes& out, const std::string& s) {
  cbor_head(out, 3, s.size());
  out.insert(out.end(), s.begin(), s.end());
}
am::Bytes encode_cursor(std::uint64_t cursor, const std::string& name) {
  am::Bytes out;
  cbor_head(out, 5, 2);
  cbor_text(out, "cursor");
  cbor_head(out, 0, cursor);
  cbor_text(out, "name");
  cbor_text(out, name);
  return out;
}
bool read_head(const am::Bytes& in, std::size_t& at, std::uint8_t& major, std::uint64_t& n) {
  if (at >= in.size()) return false;
  major = in[at] >> 5;
  const std::uint8_t info = in[at++] & 31;
  if (info < 24) {
    n = info;
    return true;
  }
  const int bytes = info == 24 ? 1 : info == 25 ? 2 : info == 26 ? 4 : info == 27 ? 8 : 0;
  if (bytes == 0 || at + static_cast<std::size_t>(bytes) > in.size()) return false;
  n = 0;
  for (int i = 0; i < bytes; ++i) n = n << 8 | in[at++];
  return true;
}
bool decode_cursor(const am::Bytes& in, std::uint64_t& cursor, std::string& name) {
  std::size_t at = 0;
  std::uint8_t major = 0;
  std::uint64_t n = 0;
  if (!read_head(in, at, major, n) || major != 5) return false;
  bool have_cursor = false, have_name = false;
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint64_t len = 0;
    if (!read_head(in, at, major, len) || major != 3 || at + len > in.size()) return false;
    const std::string key(in.begin() + static_cast<long>(at), in.begin() + static_cast<long>(at + len));
    at += len;
    std::uint64_t v = 0;
    if (!read_head(in, at, major, v)) return false;
    if (key == "cursor" && major == 0) {
      cursor = v;
      have_cursor = true;
    } else if (key == "name" && major == 3 && at + v <= in.size()) {
      name.assign(in.begin() + static_cast<long>(at), in.begin() + static_cast<long>(at + v));
      at += v;
      have_name = true;
    } else {
      return false;
    }
  }
  return have_cursor && have_name;
}

std::optional<am::ObjId> text_object(const am::Document& d) {
  auto v = d.get(am::ObjId::root(), "text");
  if (!v || !*v) return std::nullopt;
  const auto* ref = std::get_if<am::ObjectRef>(&**v);
  if (ref == nullptr || ref->type != am::ObjType::kText) return std::nullopt;
  return ref->id;
}

std::string current_text(const am::repo::DocHandle& doc) {
  std::string out;
  doc.read([&](const am::Document& d) {
    if (auto t = text_object(d)) out = d.text(*t).value_or("");
  });
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string server = "ws://127.0.0.1:3030", url, name = "editor";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--name" && i + 1 < argc) {
      name = argv[++i];
    } else if (arg.rfind("ws://", 0) == 0) {
      server = arg;
    } else {
      url = arg;
    }
  }
  am::repo::RepoOptions options;
  options.peer_id = "text-editor-" + name;
  auto repo = am::repo::Repo::open(options);
  if (!repo) return 1;
  (*repo)->connect_websocket(server);
  am::repo::DocHandle doc;
  if (url.empty()) {
    doc = (*repo)->create();
    if (!doc.change([](am::Document& d) { (void)d.put_object(am::ObjId::root(), "text", am::ObjType::kText); })) return 1;
    std::cout << doc.url() << std::endl;
  } else {
    auto id = am::repo::parse_document_id_loose(url);
    if (!id) return 2;
    auto found = (*repo)->find(*id, 15s).get();
    if (!found) {
      std::cerr << found.error().to_string() << "\n";
      return 3;
    }
    doc = *found;
  }

  std::mutex mutex;
  std::condition_variable cv;
  std::map<std::string, std::uint64_t> cursors;  // other editors' cursors
  auto changes = doc.on_change([&](const am::repo::DocumentChange& change) {
    if (!change.local) {
      std::lock_guard<std::mutex> lock(mutex);  // callbacks run on repo threads: one writer at a time
      std::cout << "text: " << current_text(doc) << std::endl;
    }
    cv.notify_all();
  });
  auto ephemera = doc.on_ephemeral([&](const am::repo::PeerId&, const am::Bytes& data) {
    std::uint64_t cursor = 0;
    std::string who;
    if (!decode_cursor(data, cursor, who)) return;
    {
      std::lock_guard<std::mutex> lock(mutex);
      cursors[who] = cursor;
      std::cout << "cursor " << who << ": " << cursor << std::endl;
    }
    cv.notify_all();
  });

  std::uint64_t cursor = 0;
  auto edit = [&](std::size_t pos, std::size_t del, const std::string& text) {
    (void)doc.change([&](am::Document& d) {
      if (auto t = text_object(d)) (void)d.splice_text(*t, pos, del, text);
    });
  };
  for (std::string line; std::getline(std::cin, line);) {
    const auto space = line.find(' ');
    const std::string command = line.substr(0, space);
    const std::string rest = space == std::string::npos ? "" : line.substr(space + 1);
    const std::uint64_t length = current_text(doc).size();
    if (command == "type") {
      cursor = std::min(cursor, length);
      edit(cursor, 0, rest);
      cursor += rest.size();
    } else if (command == "del") {
      const std::uint64_t n = std::min<std::uint64_t>(std::stoull(rest), std::min(cursor, length));
      edit(cursor - n, n, "");
      cursor -= n;
    } else if (command == "move") {
      cursor = std::min<std::uint64_t>(std::stoull(rest), length);
    } else if (command == "show") {
      std::lock_guard<std::mutex> lock(mutex);
      std::cout << "show: " << current_text(doc) << " | me at " << cursor;
      for (const auto& [who, at] : cursors) std::cout << ", " << who << " at " << at;
      std::cout << std::endl;
      continue;
    } else if (command == "wait") {
      std::unique_lock<std::mutex> lock(mutex);
      if (!cv.wait_for(lock, 15s, [&] { return current_text(doc) == rest; })) {
        std::cerr << "timed out waiting for the text \"" << rest << "\"\n";
        return 5;
      }
      continue;
    } else if (command == "wait-cursor") {
      const auto sp = rest.find(' ');
      const std::string who = rest.substr(0, sp);
      const std::uint64_t at = std::stoull(rest.substr(sp + 1));
      std::unique_lock<std::mutex> lock(mutex);
      if (!cv.wait_for(lock, 15s, [&] { return cursors.count(who) != 0 && cursors[who] == at; })) {
        std::cerr << "timed out waiting for " << who << "'s cursor at " << at << "\n";
        return 5;
      }
      continue;
    } else if (command == "quit") {
      break;
    } else {
      std::cerr << "unknown command: " << line << "\n";
      continue;
    }
    doc.broadcast(encode_cursor(cursor, name));
  }
  // Leave once the server has our edits; ephemeral messages are fire-and-forget.
  const bool synced = static_cast<bool>((*repo)->sync_all(15s));
  std::this_thread::sleep_for(200ms);
  return synced ? 0 : 4;
}
