// DocHandle's history API (JS view, history, diff, metadata, the "delete" event, find of a URL
// with heads) on a real Repo. Waits are on futures and events with timeouts; no sleeps.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "am/repo/repo.h"
#include "support/test_repo.h"

namespace am::repo {
namespace {

using namespace std::chrono_literals;
using test::open_repo;

std::string text_of(const DocHandle& h, const std::string& key) {
  std::string out;
  h.read([&](const Document& d) {
    auto v = d.get(ObjId::root(), key);
    if (v && *v) {
      if (const auto* s = std::get_if<ScalarValue>(&**v)) {
        if (const auto* str = std::get_if<std::string>(s)) out = *str;
      }
    }
  });
  return out;
}

void put(DocHandle& h, const std::string& key, const std::string& value, const std::string& message = {}) {
  CommitOptions options;
  if (!message.empty()) options.message = message;
  ASSERT_TRUE(h.change([&](Document& d) { ASSERT_TRUE(d.put(ObjId::root(), key, value)); }, options));
}

TEST(DocHandleHistory, ViewIsReadOnlyAtItsHeadsAndHistoryDiffMetadataFollowTheDocument) {
  auto repo = open_repo("history");
  ASSERT_TRUE(repo);
  DocHandle h = repo->create();
  put(h, "title", "first", "one");
  const std::vector<ChangeHash> first = h.heads();
  put(h, "title", "second", "two");

  // history: every change, the empty first change of create() included, in order.
  const std::vector<ChangeHash> history = h.history();
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(std::vector<ChangeHash>{history[1]}, first);
  EXPECT_EQ(std::vector<ChangeHash>{history[2]}, h.heads());

  // metadata: of the current head by default, of any change by hash.
  const auto latest = h.metadata();
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->message, std::optional<std::string>("two"));
  const auto older = h.metadata(history[1]);
  ASSERT_TRUE(older);
  EXPECT_EQ(older->message, std::optional<std::string>("one"));
  ASSERT_EQ(older->ops.size(), 1u);
  EXPECT_EQ(older->ops[0].key, std::optional<std::string>("title"));
  ChangeHash unknown;
  unknown.bytes.fill(7);
  EXPECT_FALSE(h.metadata(unknown));

  // diff: from the first version to now, and with explicit ends.
  auto patches = h.diff(first);
  ASSERT_TRUE(patches) << patches.error().to_string();
  EXPECT_EQ(patches_to_json(*patches), R"([{"action":"put","path":["title"],"value":"second"}])");
  patches = h.diff(h.heads(), first);
  ASSERT_TRUE(patches);
  EXPECT_EQ(patches_to_json(*patches), R"([{"action":"put","path":["title"],"value":"first"}])");

  // view: the document as of `first`, read-only, with the heads in its URL.
  auto view = h.view(first);
  ASSERT_TRUE(view) << view.error().to_string();
  EXPECT_TRUE(view->is_read_only());
  EXPECT_FALSE(h.is_read_only());
  EXPECT_EQ(view->heads(), first);
  EXPECT_EQ(text_of(*view, "title"), "first");
  EXPECT_EQ(view->history().size(), 2u);
  const auto url = AutomergeUrl::parse(view->url());
  ASSERT_TRUE(url) << view->url();
  EXPECT_EQ(url->heads, std::optional<std::vector<ChangeHash>>(first));
  const Status refused = view->change([](Document& d) { (void)d.put(ObjId::root(), "x", std::int64_t{1}); });
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(text_of(h, "title"), "second");  // the live handle is untouched
  put(h, "title", "third");
  EXPECT_EQ(text_of(*view, "title"), "first");  // and the view does not follow it

  ChangeHash missing;
  missing.bytes.fill(9);
  EXPECT_FALSE(h.view({missing}));
}

TEST(DocHandleHistory, FindOfAUrlWithHeadsGivesAReadOnlyViewAtThem) {
  auto repo = open_repo("find-heads");
  ASSERT_TRUE(repo);
  DocHandle h = repo->create();
  put(h, "title", "then");
  const std::vector<ChangeHash> then = h.heads();
  put(h, "title", "now");
  const std::string url = AutomergeUrl{h.id(), then}.to_string();
  auto found = repo->find(std::string_view(url), 10s).get();
  ASSERT_TRUE(found) << found.error().to_string();
  EXPECT_TRUE(found->is_read_only());
  EXPECT_EQ(text_of(*found, "title"), "then");
  EXPECT_EQ(found->url(), url);
  auto plain = repo->find(std::string_view(h.url()), 10s).get();
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->is_read_only());
  EXPECT_EQ(text_of(*plain, "title"), "now");
  ChangeHash missing;
  missing.bytes.fill(3);
  const std::string bad = AutomergeUrl{h.id(), std::vector<ChangeHash>{missing}}.to_string();
  auto refused = repo->find(std::string_view(bad), 10s).get();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
}

TEST(DocHandleHistory, ChangeAtMakesAConcurrentChangeThatObserversAndStorageSee) {
  auto storage = std::shared_ptr<StorageAdapter>(make_memory_storage());
  auto repo = open_repo("change-at", nullptr, storage);
  ASSERT_TRUE(repo);
  DocHandle h = repo->create();

  // Subscribe before the puts so that the event of the second one is sure to arrive (subscribing
  // after it raced with its delivery); keep every event, then find change_at's among them.
  std::mutex m;
  std::condition_variable cv;
  std::vector<DocumentChange> events;
  Subscription sub = h.on_change([&](const DocumentChange& c) {
    std::lock_guard<std::mutex> lock(m);
    events.push_back(c);
    cv.notify_all();
  });
  auto count_after = [&](const std::vector<ChangeHash>& heads) {
    return std::count_if(events.begin(), events.end(), [&](const DocumentChange& e) { return e.heads_after == heads; });
  };
  put(h, "title", "then");
  const std::vector<ChangeHash> then = h.heads();
  put(h, "title", "now");
  const std::vector<ChangeHash> now = h.heads();
  {
    std::unique_lock<std::mutex> lock(m);  // so that change_at's event does not carry "now" too
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return count_after(now) > 0; }));
  }
  std::string seen;
  CommitOptions options;
  options.message = "back-dated";
  const auto made = h.change_at(then, [&](Document& d) {
    seen = d.to_json().value();
    return d.put(ObjId::root(), "note", std::string("added at then"));
  }, options);
  ASSERT_TRUE(made) << made.error().to_string();
  ASSERT_TRUE(made->change.has_value());
  EXPECT_EQ(made->new_heads, std::vector<ChangeHash>{*made->change});
  EXPECT_EQ(seen, R"({"title":"then"})");  // the edit saw the document at `then`

  // The change depends on `then` only, so it is concurrent with `now`: two heads.
  std::vector<ChangeHash> both{now[0], *made->change};
  std::sort(both.begin(), both.end());
  EXPECT_EQ(h.heads(), both);
  EXPECT_EQ(text_of(h, "title"), "now");
  EXPECT_EQ(text_of(h, "note"), "added at then");
  const auto meta = h.metadata(*made->change);
  ASSERT_TRUE(meta);
  EXPECT_EQ(meta->deps, then);
  EXPECT_EQ(meta->message, std::optional<std::string>("back-dated"));

  // Events are built when the actor runs, so a late one of the puts may already see both heads:
  // wait for the one that carries the note.
  auto has_note = [](const DocumentChange& e) {
    return patches_to_json(e.patches).find(R"({"action":"put","path":["note"],"value":"added at then"})") !=
           std::string::npos;
  };
  DocumentChange c;
  {
    std::unique_lock<std::mutex> lock(m);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return std::any_of(events.begin(), events.end(), has_note); }));
    c = *std::find_if(events.begin(), events.end(), has_note);
  }
  EXPECT_EQ(c.heads_after, both);
  EXPECT_TRUE(c.local);

  // No ops: no change and no event, as JS returns undefined. A view and unknown heads refuse.
  const auto nothing = h.change_at(then, [](Document&) { return Status{}; });
  ASSERT_TRUE(nothing);
  EXPECT_FALSE(nothing->change.has_value());
  EXPECT_TRUE(nothing->new_heads.empty());
  EXPECT_EQ(h.heads(), both);
  auto view = h.view(then);
  ASSERT_TRUE(view);
  const auto refused = view->change_at(then, [](Document& d) { return d.put(ObjId::root(), "x", std::int64_t{1}); });
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  ChangeHash unknown;
  unknown.bytes.fill(5);
  const auto unknown_heads = h.change_at({unknown}, [](Document& d) { return d.put(ObjId::root(), "x", std::int64_t{1}); });
  ASSERT_FALSE(unknown_heads);
  EXPECT_EQ(unknown_heads.error().code, ErrorCode::kInvalidArgument);

  // Storage has it: a second repo on the same store loads both heads.
  ASSERT_TRUE(repo->flush());
  const DocumentId id = h.id();
  sub.reset();
  repo->stop();
  auto again = open_repo("change-at-2", nullptr, storage);
  ASSERT_TRUE(again);
  auto found = again->find(id, 10s).get();
  ASSERT_TRUE(found) << found.error().to_string();
  EXPECT_EQ(found->heads(), both);
  EXPECT_EQ(text_of(*found, "note"), "added at then");
}

TEST(DocHandleHistory, DeleteEventReachesTheHandlesObserversOnce) {
  auto repo = open_repo("delete");
  ASSERT_TRUE(repo);
  DocHandle h = repo->create();
  std::promise<void> deleted;
  int calls = 0;
  Subscription sub = h.on_delete([&] {
    if (++calls == 1) deleted.set_value();
  });
  int cancelled_calls = 0;
  Subscription cancelled = h.on_delete([&] { ++cancelled_calls; });
  cancelled.reset();
  ASSERT_TRUE(repo->remove(h.id()));
  ASSERT_EQ(deleted.get_future().wait_for(10s), std::future_status::ready);
  repo->stop();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(cancelled_calls, 0);
}

}  // namespace
}  // namespace am::repo
