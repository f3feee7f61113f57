#include "file_tools.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <iterator>
#include <map>

#include "am/document.h"
#include "am/json_import.h"
#include "core/encoding/byte_reader.h"
#include "core/storage/change.h"
#include "core/storage/chunk.h"

namespace amrepo {

am::Result<std::vector<am::ChangeHash>> parse_heads(const std::string& text, const std::string& option) {
  std::vector<am::ChangeHash> heads;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    const auto hash = am::ChangeHash::from_hex(item);
    if (!hash) return am::fail(am::Error::invalid_argument(option, "\"" + item + "\" is not a hex change hash"));
    heads.push_back(*hash);
  }
  return heads;
}

int fail_with_error(const am::Error& e) {
  std::cerr << "amrepo: " << e.to_string() << "\n";
  switch (e.code) {
    case am::ErrorCode::kIOError: return kExitFailure;
    case am::ErrorCode::kInvalidArgument: return kExitUsage;
    case am::ErrorCode::kNotFound: return kExitUnavailable;
    default: return kExitCorrupt;
  }
}

am::Result<am::Document> load_file(const std::string& path);

namespace {

int fail_with(const am::Error& e) { return fail_with_error(e); }

am::Result<am::Bytes> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return am::fail(am::Error::io_error(path, "cannot open for reading"));
  am::Bytes data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return am::fail(am::Error::io_error(path, "read failed"));
  return data;
}

// Writes atomically: a temporary file in the same directory, then rename over the target.
am::Status write_file(const std::string& path, am::ByteView data) {
  const std::string tmp = path + ".tmp-amrepo";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return am::fail(am::Error::io_error(path, "cannot open for writing"));
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    out.flush();
    if (!out) return am::fail(am::Error::io_error(path, "write failed"));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return am::fail(am::Error::io_error(path, "cannot replace the file"));
  }
  return {};
}

}  // namespace

am::Result<am::Document> load_file(const std::string& path) {
  AM_TRY_ASSIGN(am::Bytes data, read_file(path));
  auto doc = am::Document::load(data);
  if (!doc) return am::fail(doc.error().with_context(path));
  return doc;
}

int export_json(const std::string& file, const std::string& out) {
  auto doc = load_file(file);
  if (!doc) return fail_with(doc.error());
  auto json = doc->to_json();
  if (!json) return fail_with(json.error());
  *json += "\n";
  if (out.empty() || out == "-") {
    std::cout << *json;
    return std::cout ? kExitOk : kExitFailure;
  }
  if (auto s = write_file(out, am::as_bytes(*json)); !s) return fail_with(s.error());
  return kExitOk;
}

int import_json(const std::string& in, const std::string& out, const std::string& actor_hex,
                bool scalar_strings) {
  auto text = read_file(in);
  if (!text) return fail_with(text.error());
  am::DocumentOptions options;
  if (!actor_hex.empty()) {
    options.actor = am::ActorId::from_hex(actor_hex);
    if (!options.actor) return fail_with(am::Error::invalid_argument("--actor", "must be hex digits"));
  }
  am::JsonImportOptions import_options;
  import_options.scalar_strings = scalar_strings;
  const std::string_view json(reinterpret_cast<const char*>(text->data()), text->size());
  auto doc = am::document_from_json(json, options, import_options);
  if (!doc) return fail_with(doc.error().with_context(in));
  if (auto s = write_file(out, doc->save()); !s) return fail_with(s.error());
  return kExitOk;
}

int resave(const std::string& file, const std::string& out, bool no_compress) {
  auto doc = load_file(file);
  if (!doc) return fail_with(doc.error());
  const am::Bytes bytes = no_compress ? doc->save_no_compress() : doc->save();
  if (auto s = write_file(out, bytes); !s) return fail_with(s.error());
  return kExitOk;
}

int merge(const std::vector<std::string>& files, const std::string& out) {
  auto merged = load_file(files.front());
  if (!merged) return fail_with(merged.error());
  for (std::size_t i = 1; i < files.size(); ++i) {
    auto other = load_file(files[i]);
    if (!other) return fail_with(other.error());
    if (auto s = merged->merge(*other); !s) return fail_with(s.error().with_context(files[i]));
  }
  if (auto s = write_file(out, merged->save()); !s) return fail_with(s.error());
  return kExitOk;
}

int inspect(const std::string& file) {
  auto data = read_file(file);
  if (!data) return fail_with(data.error());
  // The chunks as stored.
  am::enc::ByteReader r(*data, file);
  std::size_t index = 0;
  while (!r.empty()) {
    const std::size_t offset = r.offset();
    auto chunk = am::storage::read_chunk(r);
    if (!chunk) return fail_with(chunk.error().with_context("chunk " + std::to_string(index)));
    std::cout << "chunk " << index << " at byte " << offset << ": "
              << am::storage::chunk_type_name(chunk->type) << ", " << chunk->whole.size() << " bytes\n";
    ++index;
  }
  // The document they make.
  auto doc = am::Document::load(*data);
  if (!doc) return fail_with(doc.error().with_context(file));
  const auto changes = doc->get_changes();
  std::cout << "file: " << data->size() << " bytes, " << index << " chunk(s), " << changes.size()
            << " change(s)\n";
  std::cout << "heads:";
  for (const auto& h : doc->heads()) std::cout << " " << h.to_hex();
  std::cout << "\n";
  std::map<std::string, std::size_t> actors;
  std::size_t ops = 0;
  for (const am::Bytes& bytes : changes) {
    auto c = am::storage::decode_change_chunk(bytes);
    if (!c) return fail_with(c.error());
    const auto& ch = c->change;
    actors[am::to_hex(ch.actors[0])] += 1;
    ops += ch.ops.size();
    std::cout << "change " << c->hash.to_hex() << " actor " << am::to_hex(ch.actors[0]) << " seq "
              << ch.seq << " ops " << ch.ops.size() << " start_op " << ch.start_op << " time " << ch.time
              << " bytes " << bytes.size();
    if (ch.message) std::cout << " message " << *ch.message;
    std::cout << " deps [";
    for (std::size_t i = 0; i < ch.deps.size(); ++i) std::cout << (i ? " " : "") << ch.deps[i].to_hex();
    std::cout << "]\n";
  }
  std::cout << "actors: " << actors.size() << "\n";
  for (const auto& [actor, count] : actors) std::cout << "  " << actor << ": " << count << " change(s)\n";
  std::cout << "ops: " << ops << "\n";
  return kExitOk;
}

}  // namespace amrepo
