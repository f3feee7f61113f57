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

}  // namespace am::test
