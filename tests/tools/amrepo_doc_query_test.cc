// The amrepo commands that read a document as editors and scripts need it (cursor, marks, spans,
// log, diff), run as a user runs them, on documents the pinned JS reference wrote (golden vectors).
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "am/document.h"
#include "am/rich_text.h"
#include "support/hex.h"
#include "support/vectors.h"
#include "tools/cli_test_dir.h"
#include "tools/server_process.h"

namespace {

using nlohmann::json;
using am::test::CliRun;
using am::test::run_amrepo;

class AmrepoDocQuery : public am::test::CliTestDir {
 protected:
  // Writes a vector's saved document as doc.am.
  json write_vector_doc(const std::string& name) {
    json v = am::test::load_vector(name);
    if (v.is_object()) {
      const am::Bytes saved = am::test::hex(v["save_hex"].get<std::string>());
      write("doc.am", std::string(saved.begin(), saved.end()));
    }
    return v;
  }
};

// `amrepo cursor` on the reference's own document (golden vector "cursors"): the cursors JS
// getCursor gave when only its first change existed (--at those heads), and the positions JS
// getCursorPosition gives them at the end.
TEST_F(AmrepoDocQuery, CursorGivesAndResolvesTheReferencesCursors) {
  const json v = am::test::load_vector("cursors");
  ASSERT_TRUE(v.is_object());
  const am::Bytes saved = am::test::hex(v["save_hex"].get<std::string>());
  write("doc.am", std::string(saved.begin(), saved.end()));
  const std::string first = v["changes"][0]["hash"];
  const json& cursors = v["extra"]["cursors"];
  for (std::size_t i = 0; i < cursors.size(); ++i) {
    const json& c = cursors[i];
    if (!c["index"].is_number()) continue;
    const std::string move = c.value("move", "after");
    CliRun r = run_amrepo("cursor " + path("doc.am") + " /text " + std::to_string(c["index"].get<int>()) +
                              " --move " + move + " --at " + first,
                          dir_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, c["cursor"].get<std::string>() + "\n") << "index " << c["index"] << " " << move;
    r = run_amrepo("cursor " + path("doc.am") + " /text --resolve " + c["cursor"].get<std::string>(), dir_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, std::to_string(v["extra"]["positions"]["at_end"][i].get<int>()) + "\n") << c["cursor"];
  }
  CliRun r = run_amrepo("cursor " + path("doc.am") + " /text --resolve 99@ab", dir_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("99@ab"), std::string::npos) << r.err;
  r = run_amrepo("cursor " + path("doc.am") + " /text 1 --at " + std::string(64, '0'), dir_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("is not a change of this document"), std::string::npos) << r.err;
}

// `amrepo marks` on the reference's documents: JS marks, and marksAt at every element index.
TEST_F(AmrepoDocQuery, MarksPrintsWhatTheReferencesMarksAndMarksAtGive) {
  for (const char* name : {"marks_unmark", "text_blocks"}) {
    SCOPED_TRACE(name);
    const json v = am::test::load_vector(name);
    ASSERT_TRUE(v.is_object());
    const am::Bytes saved = am::test::hex(v["save_hex"].get<std::string>());
    write("doc.am", std::string(saved.begin(), saved.end()));
    CliRun r = run_amrepo("marks " + path("doc.am") + " /text", dir_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(am::test::normalise(json::parse(r.out)), am::test::normalise(v["extra"]["marks"]));
    const json& at = v["extra"]["marks_at"];
    ASSERT_FALSE(at.empty());
    for (std::size_t i = 0; i < at.size(); ++i) {
      r = run_amrepo("marks " + path("doc.am") + " /text --index " + std::to_string(i), dir_);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      EXPECT_EQ(am::test::normalise(json::parse(r.out)), am::test::normalise(at[i])) << "index " << i;
    }
  }
}

// `amrepo marks --at HEADS` reads the document as of those heads: what Document::marks_at and
// get_marks_at give there, as of every change of a reference's history with marks and unmarks.
TEST_F(AmrepoDocQuery, MarksAtHeadsAreTheMarksOfThatState) {
  const json v = write_vector_doc("marks_unmark");
  ASSERT_TRUE(v.is_object());
  auto doc = am::Document::load(am::test::hex(v["save_hex"].get<std::string>()));
  ASSERT_TRUE(doc);
  const am::ObjId text = std::get<am::ObjectRef>(**doc->get(am::ObjId::root(), "text")).id;
  const auto value_json = [](const am::ScalarValue& value) { return json::parse(am::to_json(am::Hydrated::of(value))); };
  std::set<json> seen;
  for (const json& change : v["changes"]) {
    const std::string hash = change["hash"].get<std::string>();
    const std::vector<am::ChangeHash> heads{*am::ChangeHash::from_hex(hash)};
    auto marks = doc->marks_at(text, heads);
    ASSERT_TRUE(marks);
    json want = json::array();
    for (const am::Mark& m : *marks) {
      want.push_back({{"name", m.name}, {"value", value_json(m.value)}, {"start", m.start}, {"end", m.end}});
    }
    CliRun r = run_amrepo("marks " + path("doc.am") + " /text --at " + hash, dir_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(am::test::normalise(json::parse(r.out)), am::test::normalise(want)) << hash;
    seen.insert(want);
    auto at_one = doc->get_marks_at(text, 1, heads);
    if (!at_one) continue;  // no element 1 yet
    json one = json::object();
    for (const auto& [name, value] : *at_one) one[name] = value_json(value);
    r = run_amrepo("marks " + path("doc.am") + " /text --index 1 --at " + hash, dir_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(am::test::normalise(json::parse(r.out)), am::test::normalise(one)) << hash;
  }
  EXPECT_GE(seen.size(), 3u) << "the history should show marks changing";
}

// `amrepo spans` on the reference's documents: JS spans now, and as of the heads after every step
// of the scripted history (golden vectors of tools/jsref/vectors/rich_text.mjs).
TEST_F(AmrepoDocQuery, SpansPrintsWhatTheReferencesSpansGive) {
  for (const char* name : {"blocks_split_join_update", "blocks_concurrent"}) {
    SCOPED_TRACE(name);
    const json v = write_vector_doc(name);
    ASSERT_TRUE(v.is_object());
    CliRun r = run_amrepo("spans " + path("doc.am") + " /text", dir_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(am::test::normalise(json::parse(r.out)), am::test::normalise(v["extra"]["spans"]));
    for (const json& step : v["extra"]["steps"]) {
      std::string heads;
      for (const json& h : step["heads"]) heads += (heads.empty() ? "" : ",") + h.get<std::string>();
      r = run_amrepo("spans " + path("doc.am") + " /text --at " + heads, dir_);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      EXPECT_EQ(am::test::normalise(json::parse(r.out)), am::test::normalise(step["spans"])) << heads;
    }
  }
  write("in.json", R"({"l":[1,2]})");
  ASSERT_EQ(run_amrepo("import " + path("in.json") + " -o " + path("list.am"), dir_).exit_code, 0);
  const CliRun r = run_amrepo("spans " + path("list.am") + " /l", dir_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("is not text"), std::string::npos) << r.err;
}

// The reference's decodeChange output as `amrepo log` prints it: the vectors tag every op value
// with its datatype ({"datatype": T, "value": V}); decodeChange names T only for numbers of set
// ops, and gives extra bytes as an array of numbers.
json as_decode_change(json decoded) {
  for (json& op : decoded["ops"]) {
    if (!op.contains("value")) continue;
    const std::string t = op["value"]["datatype"];
    json value = op["value"]["value"];
    const bool numeric = t == "int" || t == "uint" || t == "float64" || t == "counter" || t == "timestamp";
    if (op["action"] == "set" && numeric) op["datatype"] = t;
    op["value"] = value;
  }
  if (decoded.contains("extra_bytes")) {
    const am::Bytes extra = am::test::hex(decoded["extra_bytes"].get<std::string>());
    decoded["extra_bytes"] = json(std::vector<int>(extra.begin(), extra.end()));
  }
  return decoded;
}

// `amrepo log`: one line per change, in getAllChanges order, equal to decodeChange's output.
TEST_F(AmrepoDocQuery, LogPrintsTheReferencesDecodeChangeForEveryChange) {
  for (const char* name : {"all_scalars", "message", "counter_inc", "marks_unmark", "author_footer", "nested"}) {
    SCOPED_TRACE(name);
    const json v = write_vector_doc(name);
    ASSERT_TRUE(v.is_object());
    CliRun r = run_amrepo("log " + path("doc.am"), dir_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::istringstream lines(r.out);
    std::string line;
    std::size_t i = 0;
    for (; std::getline(lines, line); ++i) {
      ASSERT_LT(i, v["changes"].size()) << line;
      const json& decoded = v["changes"][i]["decoded"];
      bool has_bytes = false;  // JS gives a Uint8Array there; we print base64 as `export` does
      for (const json& op : decoded["ops"]) has_bytes |= op.contains("value") && op["value"]["datatype"] == "bytes";
      if (has_bytes) continue;
      EXPECT_EQ(am::test::normalise(json::parse(line)), am::test::normalise(as_decode_change(decoded))) << "change " << i;
    }
    EXPECT_EQ(i, v["changes"].size());
    r = run_amrepo("log " + path("doc.am") + " --no-ops", dir_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json first = json::parse(r.out.substr(0, r.out.find('\n')));
    EXPECT_FALSE(first.contains("ops"));
    EXPECT_EQ(first["hash"], v["changes"][0]["hash"]);
    EXPECT_EQ(first["opCount"], v["changes"][0]["meta"]["maxOp"].get<int>() - v["changes"][0]["meta"]["startOp"].get<int>() + 1);
  }
  const CliRun r = run_amrepo("log " + path("missing.am"), dir_);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("missing.am"), std::string::npos) << r.err;
}

}  // namespace
