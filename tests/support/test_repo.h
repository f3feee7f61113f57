// Test setup shared by the repo tests: a Repo on memory storage with a short save debounce.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "am/repo/repo.h"
#include "am/repo/storage_memory.h"

namespace am::repo::test {

/// A Repo with peer id `name`, memory storage (or `storage`) and `policy`; records a test
/// failure and returns null if it cannot open.
inline std::unique_ptr<Repo> open_repo(const std::string& name, std::shared_ptr<const SharePolicy> policy = nullptr,
                                std::shared_ptr<StorageAdapter> storage = nullptr) {
  RepoOptions o;
  o.peer_id = name;
  o.storage = storage ? std::move(storage) : std::shared_ptr<StorageAdapter>(make_memory_storage());
  o.share_policy = std::move(policy);
  o.save_debounce = std::chrono::milliseconds(10);
  auto repo = Repo::open(std::move(o));
  EXPECT_TRUE(repo) << (repo ? "" : repo.error().to_string());
  return repo ? std::move(*repo) : nullptr;
}

}  // namespace am::repo::test
