#include "support/vectors.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace am::test {
namespace {

constexpr const char* kHowTo =
    "golden vectors missing: run `node tools/jsref/gen-vectors.mjs build/vectors` in the source "
    "directory (after `bash scripts/npm-deps.sh tools/jsref`), or set AM_VECTORS_DIR";

bool read_json(const std::string& path, nlohmann::json& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot open " << path << "; " << kHowTo;
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  out = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (out.is_discarded()) {
    ADD_FAILURE() << "malformed JSON in " << path << "; " << kHowTo;
    return false;
  }
  return true;
}

}  // namespace

std::string vectors_dir() {
  if (const char* env = std::getenv("AM_VECTORS_DIR"); env != nullptr && *env != '\0') return env;
  return std::string(AM_SOURCE_DIR) + "/build/vectors";
}

std::vector<std::string> vector_names() {
  nlohmann::json index;
  if (!read_json(vectors_dir() + "/index.json", index)) return {};
  std::vector<std::string> names;
  if (!index.contains("vectors") || !index["vectors"].is_array() || index["vectors"].empty()) {
    ADD_FAILURE() << "index.json lists no vectors; " << kHowTo;
    return {};
  }
  for (const auto& n : index["vectors"]) names.push_back(n.get<std::string>());
  return names;
}

nlohmann::json load_vector(std::string_view name) {
  nlohmann::json v;
  if (!read_json(vectors_dir() + "/" + std::string(name) + ".json", v)) return nullptr;
  return v;
}

nlohmann::json normalise(const nlohmann::json& j) {
  using nlohmann::json;
  if (j.is_object()) {
    json out = json::object();
    for (auto& [k, v] : j.items()) out[k] = normalise(v);
    return out;
  }
  if (j.is_array()) {
    json out = json::array();
    for (const auto& v : j) out.push_back(normalise(v));
    return out;
  }
  if (j.is_number_integer() || j.is_number_unsigned()) {
    const bool big = j.is_number_unsigned() ? j.get<std::uint64_t>() > (1ull << 53) - 1
                                            : std::llabs(j.get<std::int64_t>()) > (1ll << 53) - 1;
    if (big) return j.dump();
    return j.get<double>();
  }
  if (j.is_number_float()) return j.get<double>();
  return j;
}

}  // namespace am::test
