// The 259,778-edit editing trace as a document made by the JS reference (one change per edit):
// C++ loads it with the exact text and heads, and the reference loads what C++ saves from it.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "am/document.h"

namespace am {
namespace {

namespace fs = std::filesystem;

std::string shared_data_dir() {
  if (const char* env = std::getenv("AM_SHARED_DATA_DIR"); env && *env) return env;
  return std::string(AM_SOURCE_DIR) + "/data";
}

Bytes read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(TraceDocument, JsPerEditTraceDocumentLoadsAndRoundTripsThroughJs) {
  const fs::path trace = fs::path(shared_data_dir()) / "automerge-paper.json.gz";
  ASSERT_TRUE(fs::exists(trace)) << "missing " << trace << " (set AM_SHARED_DATA_DIR)";
  const fs::path dir = fs::temp_directory_path() / ("am-trace-doc-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string script = std::string(AM_SOURCE_DIR) + "/tools/jsref/trace-doc.mjs";
  const fs::path js_doc = dir / "js.automerge";
  ASSERT_EQ(std::system(("node " + script + " make " + trace.string() + " " + js_doc.string()).c_str()), 0);

  const auto expect = nlohmann::json::parse(std::ifstream(js_doc.string() + ".json"));
  const Bytes bytes = read_all(js_doc);
  auto doc = Document::load(bytes);
  ASSERT_TRUE(doc) << doc.error().to_string();
  EXPECT_EQ(doc->change_count(), 259779u);
  std::vector<std::string> heads;
  for (const auto& h : doc->heads()) heads.push_back(h.to_hex());
  EXPECT_EQ(nlohmann::json(heads), expect["heads"]);
  const auto text_ref = doc->get(ObjId::root(), "text").value();
  ASSERT_TRUE(text_ref && std::holds_alternative<ObjectRef>(*text_ref));
  EXPECT_EQ(doc->text(std::get<ObjectRef>(*text_ref).id).value(), expect["text"].get<std::string>());

  const Bytes ours = doc->save();
  std::ofstream(dir / "ours.automerge", std::ios::binary)
      .write(reinterpret_cast<const char*>(ours.data()), static_cast<std::streamsize>(ours.size()));
  const std::string check = "node " + script + " check " + (dir / "ours.automerge").string() + " " +
                            js_doc.string() + ".json";
  EXPECT_EQ(std::system(check.c_str()), 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace am
