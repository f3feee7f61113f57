// A small collaborative rich-text editor for the terminal, driven by line commands on stdin (so it
// can be scripted): several instances on one sync server edit one text and see each other's
// typing, marks and paragraphs. The text is the root key "text" in the block structure JS
// ProseMirror-style editors use (Automerge.splitBlock / mark / spans), so a JS app can edit the
// same document. Each instance broadcasts its cursor index as an ephemeral message
// ({"cursor": N, "name": S} in CBOR, the form JS peers expect) and shows the others' cursors.
//
//   ./text_editor ws://127.0.0.1:3030 [automerge:DOC] [--name NAME]
//
// Without a document it creates one and prints its URL first. Indexes count UTF-16 units, as in
// JS; a block (paragraph break) is one unit. Commands:
//   type TEXT            insert TEXT at the cursor    del N        delete N units before it
//   move N               put the cursor at N          show         the text, blocks, marks, cursors
//   para [TYPE]          split the paragraph at the cursor: a block {type: TYPE (default
//                        "paragraph"), parents: [], attrs: {}}
//   join [N]             remove the block at N (default: the one just before the cursor)
//   mark NAME S E [VAL]  mark [S, E) with NAME = VAL (default true), JS's default expand
//                        ("after": text typed at the end joins it)    bold S E    mark bold S E
//   unmark NAME S E      remove NAME from [S, E)      spans        print the spans as JSON
//   wait TEXT            until the plain text is TEXT (a block reads as U+FFFC)
//   wait-contains TEXT   until the plain text contains TEXT
//   wait-show LINE       until `show` would print LINE before " | "
//   wait-cursor NAME N   until NAME's cursor is N
//   offline / online     drop / redial the server (edits made offline sync when back online)
//   sync                 until the server has every change made here
//   quit
// Output lines: "text: ..." for every change from elsewhere; "cursor NAME: N" for every cursor
// message that moves NAME's cursor (a waiting editor repeats its cursor every second); "moved: N" when a remote edit moves this editor's cursor; "show: ..." and
// "spans: [...]" (the JSON `amrepo spans` prints) when asked. All waits give up after 15 s.
//
// The cursor is an Automerge cursor (Document::get_cursor), not an index: it sticks to the
// character after it (or to the end of the text), so text others insert or delete before it
// moves it along, as it would in any collaborative editor.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "am/repo/repo.h"
#include "text_editor_cbor.h"
#include "text_editor_command.h"
#include "text_editor_doc.h"

using namespace std::chrono_literals;

namespace {

using editor::Command;

// One editor: its cursor, the other editors' cursors, and the commands. Thread safety: the repo
// calls on_change / on_cursor_message on its io threads while run() is on the main thread;
// `mutex_` guards the cursor state and stdout, and is taken before the document's own lock.
class Editor {
 public:
  Editor(am::repo::Repo& repo, am::repo::DocHandle doc, std::string server, am::repo::EndpointId endpoint,
         std::string name)
      : repo_(repo), doc_(std::move(doc)), server_(std::move(server)), endpoint_(endpoint), name_(std::move(name)) {}

  // Puts the cursor at the start of the text and subscribes to changes and cursor messages.
  void start() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      doc_.read([&](const am::Document& d) {
        if (auto t = editor::text_object(d)) cursor_ = d.get_cursor(*t, 0).value_or(cursor_);
      });
      shown_ = position_locked();
    }
    changes_ = doc_.on_change([this](const am::repo::DocumentChange& change) { on_change(change); });
    cursors_sub_ = doc_.on_ephemeral([this](const am::repo::PeerId&, const am::Bytes& data) { on_cursor_message(data); });
    std::lock_guard<std::mutex> lock(mutex_);
    observed_heads_ = doc_.heads();  // read after subscribing: a later change still has its event
  }

  // Runs one command line. Returns an exit code when the editor should stop (0 for quit).
  std::optional<int> run(const std::string& line) {
    const Command c = editor::parse_command(line);
    if (c.name == "quit") return 0;
    if (run_edit(c) || run_view(c)) return std::nullopt;
    if (auto code = run_wait(c); code != -1) return code == 0 ? std::nullopt : std::optional<int>(code);
    if (auto code = run_network(c); code != -1) return code == 0 ? std::nullopt : std::optional<int>(code);
    say_error("unknown command: " + line);
    return std::nullopt;
  }

  // Leaves once the server has our edits (ephemeral messages are fire-and-forget).
  int finish() {
    const bool synced = synced_with_server();
    std::this_thread::sleep_for(200ms);
    return synced ? 0 : 4;
  }

 private:
  using Op = std::function<am::Status(am::Document&, const am::ObjId& text, std::size_t cursor)>;

  // A remote edit before the cursor moves it: report the new index (and tell the others).
  void on_change(const am::repo::DocumentChange& change) {
    {
      std::lock_guard<std::mutex> lock(mutex_);  // one writer of stdout at a time
      observed_heads_ = change.heads_after;
      if (!change.local) std::cout << "text: " << rendered_locked() << std::endl;
      const std::size_t now = position_locked();
      if (now != shown_) {
        shown_ = now;
        std::cout << "moved: " << now << std::endl;
        doc_.broadcast(editor::encode_cursor(now, name_));
      }
    }
    cv_.notify_all();
  }

  void on_cursor_message(const am::Bytes& data) {
    std::uint64_t cursor = 0;
    std::string who;
    if (!editor::decode_cursor(data, cursor, who)) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto [it, added] = cursors_.try_emplace(who, cursor);
      if (!added && it->second == cursor) return;  // a repeat
      it->second = cursor;
      std::cout << "cursor " << who << ": " << cursor << std::endl;
    }
    cv_.notify_all();
  }

  // Whether the server has every change made here, within 15 s. sync_all() alone would say yes
  // at once while the connection is still being made (no peers, nothing to wait for), so first
  // wait for the server's handshake.
  bool synced_with_server() {
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (repo_.peers().empty()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(20ms);
    }
    return static_cast<bool>(repo_.sync_all(15s));
  }

  // The cursor's index now. REQUIRES mutex_.
  std::size_t position_locked() const {
    std::size_t at = 0;
    doc_.read([&](const am::Document& d) { at = position_in(d); });
    return at;
  }
  std::size_t position_in(const am::Document& d) const {
    auto t = editor::text_object(d);
    return t ? d.get_cursor_position(*t, cursor_).value_or(0) : 0;
  }
  std::string rendered_locked() const {
    std::string out;
    doc_.read([&](const am::Document& d) { out = editor::render(editor::spans_of(d)); });
    return out;
  }
  // Whether on_change has run for the document as it is: the waits on text below require it, so
  // that the next command cannot run before the event that reports (and moves the cursor for) the
  // state it waited for. REQUIRES mutex_.
  bool observed_latest_locked() const { return observed_heads_ == doc_.heads(); }
  std::string plain_text_locked() const {
    std::string out;
    doc_.read([&](const am::Document& d) {
      if (auto t = editor::text_object(d)) out = d.text(*t).value_or("");
    });
    return out;
  }
  void say_error(const std::string& message) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::cerr << "error: " << message << std::endl;
  }

  // Runs `op` at the cursor's current index in one change (nothing is committed when it fails),
  // then re-reads the cursor and tells the other editors where it is. The app mutex is held
  // throughout, so a remote change's callback sees the cursor index this edit left.
  void edit(const Op& op) {
    std::lock_guard<std::mutex> lock(mutex_);
    am::Status status = am::fail(am::Error::not_found("edit", "the document has no text at \"text\""));
    const am::Status changed = doc_.change([&](am::Document& d) {
      const auto t = editor::text_object(d);
      if (!t) return;
      status = op(d, *t, position_in(d));
      if (!status) (void)d.rollback();
      shown_ = position_in(d);
    });
    if (!changed) status = changed;
    if (!status) std::cerr << "error: " << status.error().to_string() << std::endl;
    doc_.broadcast(editor::encode_cursor(shown_, name_));
  }

  // `mark NAME S E [VALUE]`, `bold S E` and `unmark NAME S E`, with JS's default expand.
  void mark(const std::string& name, const std::vector<std::string>& range, bool remove) {
    const auto start = range.size() >= 2 ? editor::parse_index(range[0]) : std::nullopt;
    const auto end = range.size() >= 2 ? editor::parse_index(range[1]) : std::nullopt;
    if (!start || !end) return say_error("usage: mark NAME START END [VALUE] / unmark NAME START END");
    const am::ScalarValue value = range.size() >= 3 ? editor::parse_scalar(range[2]) : am::ScalarValue(true);
    edit([&](am::Document& d, const am::ObjId& t, std::size_t) -> am::Status {
      if (!(*start < *end && *end <= d.length(t).value_or(0))) {
        return am::fail(am::Error::invalid_argument("mark", "needs START < END <= the text's length"));
      }
      if (remove) return d.unmark(t, *start, *end, am::ExpandMark::kAfter, name);
      return d.mark(t, *start, *end, am::ExpandMark::kAfter, name, value);
    });
  }

  // Text, block and mark edits; false when `c` is none of them.
  bool run_edit(const Command& c) {
    if (c.name == "type") {
      edit([&](am::Document& d, const am::ObjId& t, std::size_t at) { return d.splice_text(t, at, 0, c.rest); });
    } else if (c.name == "del") {
      const auto n = c.args.empty() ? std::nullopt : editor::parse_index(c.args[0]);
      if (!n) {
        say_error("usage: del N");
        return true;
      }
      edit([&](am::Document& d, const am::ObjId& t, std::size_t at) {
        const std::size_t k = std::min(*n, at);
        return d.splice_text(t, at - k, k, "");
      });
    } else if (c.name == "para") {
      const std::string type = c.args.empty() ? "paragraph" : c.args[0];
      edit([&](am::Document& d, const am::ObjId& t, std::size_t at) -> am::Status {
        auto block = d.split_block(t, at, editor::paragraph_block(type));
        if (!block) return am::fail(block.error());
        return {};
      });
    } else if (c.name == "join") {
      const auto given = c.args.empty() ? std::nullopt : editor::parse_index(c.args[0]);
      if (!c.args.empty() && !given) {
        say_error("usage: join [INDEX]");
        return true;
      }
      edit([&](am::Document& d, const am::ObjId& t, std::size_t at) -> am::Status {
        if (!given && at == 0) return am::fail(am::Error::invalid_argument("join", "no block before the cursor"));
        const std::size_t index = given ? *given : at - 1;
        auto block = d.block(t, index);
        if (!block || !*block) return am::fail(am::Error::invalid_argument("join", "no block at that index"));
        return d.join_block(t, index);
      });
    } else if (c.name == "bold") {
      mark("bold", c.args, false);
    } else if (c.name == "mark" || c.name == "unmark") {
      if (c.args.empty()) {
        say_error("usage: " + c.name + " NAME START END");
        return true;
      }
      mark(c.args[0], std::vector<std::string>(c.args.begin() + 1, c.args.end()), c.name == "unmark");
    } else if (c.name == "move") {
      const auto n = c.args.empty() ? std::nullopt : editor::parse_index(c.args[0]);
      if (!n) {
        say_error("usage: move N");
        return true;
      }
      std::lock_guard<std::mutex> lock(mutex_);
      doc_.read([&](const am::Document& d) {
        if (auto t = editor::text_object(d)) cursor_ = d.get_cursor(*t, std::min(*n, d.length(*t).value_or(0))).value_or(cursor_);
        shown_ = position_in(d);
      });
      doc_.broadcast(editor::encode_cursor(shown_, name_));
    } else {
      return false;
    }
    return true;
  }

  // `show` and `spans`; false when `c` is neither.
  bool run_view(const Command& c) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (c.name == "show") {
      std::cout << "show: " << rendered_locked() << " | me at " << position_locked();
      for (const auto& [who, at] : cursors_) std::cout << ", " << who << " at " << at;
      std::cout << std::endl;
    } else if (c.name == "spans") {
      std::vector<am::Span> spans;
      doc_.read([&](const am::Document& d) { spans = editor::spans_of(d); });
      std::cout << "spans: " << am::to_json(spans) << std::endl;
    } else {
      return false;
    }
    return true;
  }

  // The wait commands: 0 when the condition came true, 5 on timeout, -1 when `c` is none.
  int run_wait(const Command& c) {
    std::function<bool()> done;
    if (c.name == "wait") {
      done = [&] { return observed_latest_locked() && plain_text_locked() == c.rest; };
    } else if (c.name == "wait-contains") {
      done = [&] { return observed_latest_locked() && plain_text_locked().find(c.rest) != std::string::npos; };
    } else if (c.name == "wait-show") {
      done = [&] { return observed_latest_locked() && rendered_locked() == c.rest; };
    } else if (c.name == "wait-cursor") {
      const auto at = c.args.size() == 2 ? editor::parse_index(c.args[1]) : std::nullopt;
      if (!at) {
        say_error("usage: wait-cursor NAME N");
        return 0;
      }
      done = [this, who = c.args[0], want = *at] { return cursors_.count(who) != 0 && cursors_[who] == want; };
    } else {
      return -1;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    // Ephemeral messages are best effort: while we wait (often for another editor who waits for
    // our cursor), repeat it every second, as JS presence repeats its state.
    for (int second = 0; second < 15; ++second) {
      if (cv_.wait_for(lock, 1s, done)) return 0;
      doc_.broadcast(editor::encode_cursor(shown_, name_));
    }
    std::cerr << "timed out: " << c.name << " " << c.rest << std::endl;
    return 5;
  }

  // offline / online / sync: 0 when done, 4 when the server does not confirm, -1 when `c` is none.
  int run_network(const Command& c) {
    if (c.name == "offline") {
      repo_.disconnect(endpoint_);
    } else if (c.name == "online") {
      endpoint_ = repo_.connect_websocket(server_);
    } else if (c.name == "sync") {
      if (!synced_with_server()) {
        say_error("the server did not confirm our changes within 15 s");
        return 4;
      }
    } else {
      return -1;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    std::cout << (c.name == "sync" ? "synced" : c.name) << std::endl;
    return 0;
  }

  am::repo::Repo& repo_;
  am::repo::DocHandle doc_;
  const std::string server_;
  am::repo::EndpointId endpoint_;
  const std::string name_;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::string cursor_{am::kCursorEnd};               // this editor's cursor (Automerge cursor)
  std::size_t shown_ = 0;                            // its index as last printed / broadcast
  std::vector<am::ChangeHash> observed_heads_;       // the heads of the last change event
  std::map<std::string, std::uint64_t> cursors_;     // other editors' cursor indexes, by name
  am::repo::Subscription changes_, cursors_sub_;     // last: unsubscribed before the rest goes
};

// The document to edit: a new one with an empty text (its URL printed first), or `url`'s.
std::optional<am::repo::DocHandle> open_document(am::repo::Repo& repo, const std::string& url) {
  if (url.empty()) {
    am::repo::DocHandle doc = repo.create();
    if (!doc.change([](am::Document& d) { (void)d.put_object(am::ObjId::root(), "text", am::ObjType::kText); })) {
      return std::nullopt;
    }
    std::cout << doc.url() << std::endl;
    return doc;
  }
  auto id = am::repo::parse_document_id_loose(url);
  if (!id) {
    std::cerr << "not a document URL: " << url << "\n";
    return std::nullopt;
  }
  auto found = repo.find(*id, 15s).get();
  if (!found) {
    std::cerr << found.error().to_string() << "\n";
    return std::nullopt;
  }
  return *found;
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
  const am::repo::EndpointId endpoint = (*repo)->connect_websocket(server);
  auto doc = open_document(**repo, url);
  if (!doc) return 3;

  Editor editor(**repo, *doc, server, endpoint, name);
  editor.start();
  std::optional<int> code;
  for (std::string line; !code && std::getline(std::cin, line);) code = editor.run(line);
  if (!code || *code == 0) code = editor.finish();
  (*repo)->stop();  // no more callbacks into `editor` once it goes
  return *code;
}
