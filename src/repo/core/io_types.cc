#include "repo/core/io_types.h"

namespace am::repo::core {

StorageOutcome run_storage_task(StorageAdapter& storage, const StorageTask& task) {
  StorageOutcome out;
  out.id = task.id;
  switch (task.kind) {
    case StorageTask::Kind::kLoad: {
      auto r = storage.load(task.key);
      if (r) {
        out.value = std::move(*r);
      } else {
        out.status = tl::unexpected(std::move(r.error()));
      }
      break;
    }
    case StorageTask::Kind::kSave:
      out.status = storage.save(task.key, task.data);
      break;
    case StorageTask::Kind::kRemove:
      out.status = storage.remove(task.key);
      break;
    case StorageTask::Kind::kLoadRange: {
      auto r = storage.load_range(task.key);
      if (r) {
        out.entries = std::move(*r);
      } else {
        out.status = tl::unexpected(std::move(r.error()));
      }
      break;
    }
    case StorageTask::Kind::kRemoveRange:
      out.status = storage.remove_range(task.key);
      break;
  }
  return out;
}

}  // namespace am::repo::core
