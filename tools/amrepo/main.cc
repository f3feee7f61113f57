// amrepo: the command-line front door (offline file tools now; sync server and network
// commands as the repo layers land). Exit codes: 0 success, 2 usage, 4 I/O, 5 corrupt data.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

#include "am/bytes.h"
#include "am/result.h"
#include "bench.h"
#include "core/storage/chunk.h"

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitIo = 4;
constexpr int kExitCorrupt = 5;

int fail_with(const am::Error& e) {
  std::cerr << "amrepo: " << e.to_string() << "\n";
  switch (e.code) {
    case am::ErrorCode::kIOError: return kExitIo;
    case am::ErrorCode::kInvalidArgument: return kExitUsage;
    default: return kExitCorrupt;
  }
}

am::Result<am::Bytes> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return am::fail(am::Error::io_error(path, "cannot open for reading"));
  am::Bytes data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return am::fail(am::Error::io_error(path, "read failed"));
  return data;
}

// Lists the chunks of a file: type, size, and the change hash of change chunks.
int inspect(const std::string& path) {
  auto data = read_file(path);
  if (!data) return fail_with(data.error());
  am::enc::ByteReader r(*data, path);
  std::size_t index = 0;
  while (!r.empty()) {
    const std::size_t offset = r.offset();
    auto chunk = am::storage::read_chunk(r);
    if (!chunk) return fail_with(chunk.error().with_context("chunk " + std::to_string(index)));
    std::cout << "chunk " << index << " at " << offset << ": "
              << am::storage::chunk_type_name(chunk->type) << ", " << chunk->body.size()
              << " body bytes";
    if (chunk->type == am::storage::ChunkType::kChange) {
      std::cout << ", hash "
                << am::storage::chunk_digest(am::storage::ChunkType::kChange, chunk->body).to_hex();
    } else if (chunk->type == am::storage::ChunkType::kCompressedChange) {
      auto body = am::storage::inflate_compressed_change(*chunk);
      if (!body) return fail_with(body.error().with_context("chunk " + std::to_string(index)));
      std::cout << ", " << body->size() << " bytes inflated, hash "
                << am::storage::chunk_digest(am::storage::ChunkType::kChange, *body).to_hex();
    }
    std::cout << "\n";
    ++index;
  }
  std::cout << index << " chunk(s), " << data->size() << " bytes\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"amrepo: Automerge documents and repositories, compatible with the JS reference"};
  app.set_version_flag("--version", "amrepo 0.1.0");
  app.require_subcommand(1);

  std::string inspect_path;
  auto* inspect_cmd = app.add_subcommand("inspect", "List the chunks of an Automerge file");
  inspect_cmd->add_option("FILE", inspect_path, "Automerge file (document, changes)")->required();

  amrepo::TraceBenchOptions trace_options;
  auto* bench_cmd = app.add_subcommand("bench", "Reproducible performance measurements");
  bench_cmd->require_subcommand(1);
  auto* trace_cmd = bench_cmd->add_subcommand(
      "trace", "Replay an editing trace (editing-traces JSON, gzip read directly); prints one JSON line");
  trace_cmd->add_option("FILE", trace_options.file, "trace file, e.g. automerge-paper.json.gz")->required();
  trace_cmd->add_flag("--single", trace_options.single, "apply the whole trace as one change");
  bool per_edit = false;  // the default; accepted for symmetry with --single
  trace_cmd->add_flag("--per-edit", per_edit, "one change per edit (the default)");
  trace_cmd->add_option("--limit", trace_options.limit, "replay only the first N edits");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }
  if (*inspect_cmd) return inspect(inspect_path);
  if (*trace_cmd) return amrepo::bench_trace(trace_options);
  return kExitUsage;
}
