// Key validation and helpers shared by every StorageAdapter.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "am/repo/storage.h"
#include "core/encoding/utf8.h"
#include "repo/storage/storage_util.h"

namespace am::repo {
namespace {

const char* component_problem(std::string_view c) {
  if (c.empty()) return "empty component";
  if (c == "." || c == "..") return "component \".\" or \"..\"";
  if (c.find('/') != std::string_view::npos) return "component contains '/'";
  if (c.find('\0') != std::string_view::npos) return "component contains NUL";
  if (!enc::is_valid_utf8(c)) return "component is not valid UTF-8";
  return nullptr;
}

Status validate_components(const StorageKey& key, std::string_view what) {
  for (const std::string& c : key) {
    if (const char* problem = component_problem(c)) {
      return fail(Error::invalid_argument(what, std::string(problem) + " in " +
                                                    storage::printable_key(key)));
    }
  }
  return {};
}

}  // namespace

Result<std::vector<StorageKey>> StorageAdapter::list_keys(const StorageKey& prefix) {
  AM_TRY_ASSIGN(auto entries, load_range(prefix));
  std::vector<StorageKey> keys;
  keys.reserve(entries.size());
  for (auto& entry : entries) keys.push_back(std::move(entry.first));
  return keys;
}

Status validate_storage_key(const StorageKey& key) {
  if (key.empty()) return fail(Error::invalid_argument("storage key", "no components"));
  return validate_components(key, "storage key");
}

Status validate_storage_prefix(const StorageKey& prefix) {
  return validate_components(prefix, "storage key prefix");
}

bool storage_key_has_prefix(const StorageKey& key, const StorageKey& prefix) {
  if (key.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (key[i] != prefix[i]) return false;
  }
  return true;
}

std::string storage_key_to_string(const StorageKey& key) {
  std::string out;
  for (std::size_t i = 0; i < key.size(); ++i) {
    if (i != 0) out.push_back('/');
    out += key[i];
  }
  return out;
}

StorageKey storage_key_from_string(std::string_view joined) {
  StorageKey key;
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = joined.find('/', start);
    key.emplace_back(joined.substr(start, slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return key;
}

bool is_snapshot_key(const StorageKey& key) { return key.size() == 3 && key[1] == kSnapshotKeyKind; }

bool is_document_chunk_key(const StorageKey& key) {
  return key.size() == 3 && (key[1] == kSnapshotKeyKind || key[1] == kIncrementalKeyKind);
}

bool is_sync_state_key(const StorageKey& key) { return key.size() == 3 && key[1] == kSyncStateKeyKind; }

namespace storage {

std::string printable_key(const StorageKey& key) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "[";
  for (std::size_t i = 0; i < key.size(); ++i) {
    if (i != 0) out += ", ";
    out.push_back('"');
    for (const char ch : key[i]) {
      const auto b = static_cast<std::uint8_t>(ch);
      if (b < 0x20 || b == 0x7f || ch == '"' || ch == '\\') {
        out += "\\x";
        out.push_back(kDigits[b >> 4]);
        out.push_back(kDigits[b & 0x0f]);
      } else {
        out.push_back(ch);
      }
    }
    out.push_back('"');
  }
  out.push_back(']');
  return out;
}

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

}  // namespace storage
}  // namespace am::repo
