// DocHandle's history API (JS view, history, diff, metadata, the "delete" event, find of a URL
// with heads) on a real Repo. Waits are on futures and events with timeouts; no sleeps.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
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
