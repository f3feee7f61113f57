// In-memory StorageAdapter: a std::map ordered by key components, so the keys with a given
// prefix form one contiguous run starting at lower_bound(prefix).
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>

#include "am/repo/storage_memory.h"

namespace am::repo {
namespace {

class MemoryStorage final : public StorageAdapter {
 public:
  Result<std::optional<Bytes>> load(const StorageKey& key) override {
    AM_TRY_STATUS(validate_storage_key(key));
    std::shared_lock lock(mutex_);
    const auto it = entries_.find(key);
    if (it == entries_.end()) return std::optional<Bytes>();
    return std::optional<Bytes>(it->second);
  }

  Status save(const StorageKey& key, ByteView data) override {
    AM_TRY_STATUS(validate_storage_key(key));
    Bytes copy(data.begin(), data.end());  // copy outside the lock
    std::unique_lock lock(mutex_);
    entries_.insert_or_assign(key, std::move(copy));
    return {};
  }

  Status remove(const StorageKey& key) override {
    AM_TRY_STATUS(validate_storage_key(key));
    std::unique_lock lock(mutex_);
    entries_.erase(key);
    return {};
  }

  Result<std::vector<StorageEntry>> load_range(const StorageKey& prefix) override {
    AM_TRY_STATUS(validate_storage_prefix(prefix));
    std::vector<StorageEntry> out;
    std::shared_lock lock(mutex_);
    for (auto it = entries_.lower_bound(prefix);
         it != entries_.end() && storage_key_has_prefix(it->first, prefix); ++it) {
      out.emplace_back(it->first, it->second);
    }
    return out;
  }

  Status remove_range(const StorageKey& prefix) override {
    AM_TRY_STATUS(validate_storage_prefix(prefix));
    std::unique_lock lock(mutex_);
    auto it = entries_.lower_bound(prefix);
    auto end = it;
    while (end != entries_.end() && storage_key_has_prefix(end->first, prefix)) ++end;
    entries_.erase(it, end);
    return {};
  }

 private:
  std::shared_mutex mutex_;               // guards entries_
  std::map<StorageKey, Bytes> entries_;   // ordered component-wise (std::vector's operator<)
};

}  // namespace

std::unique_ptr<StorageAdapter> make_memory_storage() { return std::make_unique<MemoryStorage>(); }

}  // namespace am::repo
