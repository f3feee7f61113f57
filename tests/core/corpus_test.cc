// Fidelity on a corpus of real documents (data/battery, issue 19): every file loads with the
// reference's JSON, heads and saveNoCompress() bytes, or is refused with a one-line error where
// the reference refuses it; and the same changes applied in a seeded random order give the
// reference's document and bytes too (its batch order decides the saved change order).
//
// The reference's answers come from tools/jsref/corpus.mjs, run at test time. The pinned JS
// package needs minutes for the big documents, so its output is kept in the temp directory under
// a SHA-256 of everything it depends on (the script, the npm lock file, the corpus files): a
// change to any of them runs the script again.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>

#include "am/document.h"
#include "core/util/sha256.h"

namespace am {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path corpus_dir() {
  if (const char* env = std::getenv("AM_SHARED_DATA_DIR"); env && *env) return fs::path(env) / "battery";
  return fs::path(AM_SOURCE_DIR) / "data" / "battery";
}

Bytes read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The corpus files; AM_CORPUS_ONLY=NAME narrows the checks to one of them.
std::vector<std::string> corpus_files(bool all = false) {
  std::vector<std::string> names;
  const char* only = all ? nullptr : std::getenv("AM_CORPUS_ONLY");
  for (const auto& e : fs::directory_iterator(corpus_dir())) {
    if (!e.is_regular_file() || e.path().extension() == ".md") continue;
    if (only && *only && e.path().filename().string() != only) continue;
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The directory holding corpus.mjs's output for the current inputs; runs the script if absent.
fs::path reference_dir() {
  static const fs::path dir = [] {
    const fs::path script = fs::path(AM_SOURCE_DIR) / "tools" / "jsref" / "corpus.mjs";
    util::Sha256 h;
    h.update(read_all(script));
    h.update(read_all(fs::path(AM_SOURCE_DIR) / "tools" / "jsref" / "package-lock.json"));
    for (const std::string& name : corpus_files(/*all=*/true)) {
      h.update(as_bytes(name));
      h.update(read_all(corpus_dir() / name));
    }
    const auto digest = h.finish();
    const fs::path out = fs::temp_directory_path() / ("am-corpus-ref-" + to_hex(ByteView(digest.data(), 8)));
    if (fs::exists(out / "index.json")) return out;
    const fs::path tmp = out.string() + ".tmp-" + std::to_string(::getpid());
    fs::remove_all(tmp);
    const auto t0 = std::chrono::steady_clock::now();
    const std::string cmd = "node " + script.string() + " " + corpus_dir().string() + " " + tmp.string();
    if (std::system(cmd.c_str()) != 0) {
      ADD_FAILURE() << "failed: " << cmd << " (bash scripts/npm-deps.sh tools/jsref installs the packages)";
      return fs::path();
    }
    std::cerr << "corpus.mjs took "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s\n";
    std::error_code ec;
    fs::rename(tmp, out, ec);  // another process may have won the race: its output is the same
    if (ec) fs::remove_all(tmp);
    return out;
  }();
  return dir;
}

// Upstream's own expectation for a file (data/battery/SOURCES.md): "load", "refuse" or "either".
std::string upstream_expectation(const std::string& name) {
  if (name.starts_with("crasher-") || name.find("slowSyncMessage") != std::string::npos ||
      name.find("counter_value_has_incorrect_meta") != std::string::npos ||
      name.find("counter_value_is_overlong") != std::string::npos ||
      name.find("broken_zero_width_mark") != std::string::npos) {
    return "refuse";
  }
  if (name.find("64bit_obj_id") != std::string::npos) return "either";
  return "load";
}

json read_json(const fs::path& p) { return json::parse(std::ifstream(p)); }

json heads_json(const Document& doc) {
  json out = json::array();
  for (const ChangeHash& h : doc.heads()) out.push_back(h.to_hex());
  return out;
}

// Our document as the reference's JSON: parsed, so key order does not matter and numbers
// compare by value (the reference's are JS numbers).
json doc_json(const Document& doc) {
  auto text = doc.to_json();
  if (!text) return json("to_json failed: " + text.error().to_string());
  return json::parse(*text);
}

void expect_same_document(const Document& doc, const json& ref_heads, const json& ref_json,
                          const fs::path& ref_save) {
  EXPECT_EQ(heads_json(doc), ref_heads);
  EXPECT_TRUE(doc_json(doc) == ref_json) << "JSON differs";
  const Bytes ours = doc.save_no_compress();
  const Bytes theirs = read_all(ref_save);
  EXPECT_EQ(ours.size(), theirs.size());
  EXPECT_TRUE(ours == theirs) << "save_no_compress() differs from saveNoCompress()";
  // What we save loads again as the same document.
  auto again = Document::load(ours);
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(heads_json(*again), ref_heads);
}

TEST(Corpus, EveryFileLoadsOrIsRefusedAsTheReferenceDoes) {
  const fs::path ref = reference_dir();
  ASSERT_FALSE(ref.empty());
  const auto files = corpus_files();
  ASSERT_FALSE(files.empty()) << corpus_dir();
  std::size_t loaded = 0, refused = 0;
  for (const std::string& name : files) {
    SCOPED_TRACE(name);
    const json expect = read_json(ref / (name + ".json"));
    const std::string upstream = upstream_expectation(name);
    if (upstream != "either") {
      EXPECT_EQ(expect["loads"].get<bool>(), upstream == "load") << "reference vs upstream";
    }
    const auto t0 = std::chrono::steady_clock::now();
    auto doc = Document::load(read_all(corpus_dir() / name));
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!expect["loads"].get<bool>()) {
      ++refused;
      ASSERT_FALSE(doc) << "the reference refuses it: " << expect["error"].get<std::string>();
      const std::string message = doc.error().to_string();
      EXPECT_FALSE(message.empty());
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
      if (expect["error"].get<std::string>().find("invalid mark operation order") != std::string::npos) {
        EXPECT_NE(message.find("invalid mark operation order"), std::string::npos) << message;
      }
      continue;
    }
    ++loaded;
    ASSERT_TRUE(doc) << doc.error().to_string();
    EXPECT_EQ(doc->get_changes().size(), expect["change_count"].get<std::size_t>());
    expect_same_document(*doc, expect["heads"], expect["json"], ref / (name + ".save"));
    std::cerr << name << ": loaded in " << secs << " s\n";
  }
  EXPECT_EQ(loaded + refused, files.size());
  EXPECT_GT(loaded, 0u);
  EXPECT_GT(refused, 0u);
}

TEST(Corpus, ChangesInSeededRandomOrderGiveTheReferenceDocument) {
  const fs::path ref = reference_dir();
  ASSERT_FALSE(ref.empty());
  std::size_t checked = 0;
  for (const std::string& name : corpus_files()) {
    SCOPED_TRACE(name);
    const json expect = read_json(ref / (name + ".json"));
    if (!expect["loads"].get<bool>()) continue;
    auto source = Document::load(read_all(corpus_dir() / name));
    ASSERT_TRUE(source) << source.error().to_string();
    const json& shuffle = expect["shuffle"];
    std::vector<Bytes> order;
    for (const auto& h : shuffle["order"]) {
      const auto hash = ChangeHash::from_hex(h.get<std::string>());
      ASSERT_TRUE(hash);
      auto chunk = source->get_change_by_hash(*hash);
      ASSERT_TRUE(chunk) << "no change " << h;
      order.push_back(std::move(*chunk));
    }
    const auto t0 = std::chrono::steady_clock::now();
    const std::size_t batch = shuffle["batch_size"].get<std::size_t>();
    ASSERT_GE(batch, 1u);
    Document doc;
    for (std::size_t i = 0; i < order.size(); i += batch) {
      const auto end = order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), i + batch));
      const std::vector<Bytes> some(order.begin() + static_cast<std::ptrdiff_t>(i), end);
      const Status s = doc.apply_changes(some);
      ASSERT_TRUE(s) << s.error().to_string();
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    json missing = json::array();
    for (const ChangeHash& h : doc.get_missing_deps()) missing.push_back(h.to_hex());
    EXPECT_EQ(missing, shuffle["missing_deps"]);
    expect_same_document(doc, shuffle["heads"], shuffle["json"], ref / (name + ".shuffled.save"));
    std::cerr << name << ": " << order.size() << " changes in batches of " << batch << " applied in " << secs
              << " s\n";
    ++checked;
  }
  EXPECT_GT(checked, 0u);
}

}  // namespace
}  // namespace am
