// Fuzzes Document::load (format spec §2.4-§2.7) on arbitrary bytes.
//
// Any input must load or fail with an error, never crash; a small decoding budget keeps a few
// bytes of repeat runs from claiming gigabytes (kResourceLimit). Each input is tried twice: as
// given, and with every chunk's checksum recomputed, since otherwise nearly every mutation dies
// at the checksum and never reaches the column decoders and the change rebuild.
//
// When an input made only of document chunks loads, save() must load again (default options)
// into the same document: same heads, changes, content and save_no_compress() bytes. The
// document format round-trips whatever a document can express. Inputs with change chunks may
// carry changes no document can express (non-canonical encodings, deletes whose preds sit at
// other keys), which the reference accepts as well; those are only required not to crash.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "am/document.h"
#include "core/encoding/byte_reader.h"
#include "core/encoding/leb128.h"
#include "core/storage/chunk.h"
#include "core/util/deflate.h"

namespace {

constexpr std::size_t kBudget = std::size_t{1} << 20;

// The input with each chunk's checksum recomputed (as far as the chunk headers parse), and
// whether every chunk is a document chunk.
am::Bytes fix_checksums(am::ByteView input, bool& only_documents) {
  am::Bytes out(input.begin(), input.end());
  only_documents = !input.empty();
  std::size_t pos = 0;
  while (pos < input.size()) {
    const std::uint8_t* p = input.data() + pos + 9;
    const std::uint8_t* end = input.data() + input.size();
    std::uint64_t len = 0;
    if (input.size() - pos < 10 || am::enc::get_uleb(p, end, len) != am::enc::LebStatus::kOk ||
        len > static_cast<std::uint64_t>(end - p)) {
      only_documents = false;
      break;
    }
    const std::uint8_t type = input[pos + 8];
    const am::ByteView body(p, static_cast<std::size_t>(len));
    std::optional<am::ChangeHash> digest;
    if (type == 0 || type == 1 || type == 3) {
      digest = am::storage::chunk_digest(static_cast<am::storage::ChunkType>(type), body);
    } else if (type == 2) {
      if (auto inflated = am::util::inflate_raw(body, kBudget)) {
        digest = am::storage::chunk_digest(am::storage::ChunkType::kChange, *inflated);
      }
    }
    if (type != 0) only_documents = false;
    if (digest) std::copy(digest->bytes.begin(), digest->bytes.begin() + 4, out.begin() + static_cast<std::ptrdiff_t>(pos + 4));
    pos = static_cast<std::size_t>(p - input.data()) + static_cast<std::size_t>(len);
  }
  return out;
}

void check(am::ByteView bytes, bool only_documents) {
  am::LoadOptions options;
  options.max_inflated_bytes = kBudget;
  auto doc = am::Document::load(bytes, options);
  if (!doc) return;
  (void)doc->to_json();
  const am::Bytes saved = doc->save();
  auto again = am::Document::load(saved);
  if (!only_documents) return;
  if (!again) __builtin_trap();  // a loaded document must survive save and load
  if (again->heads() != doc->heads() || again->change_count() != doc->change_count() ||
      again->get_changes() != doc->get_changes() ||
      again->to_json().value_or("") != doc->to_json().value_or("") ||
      again->save_no_compress() != doc->save_no_compress()) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const am::ByteView input(data, size);
  bool only_documents = false;
  const am::Bytes fixed = fix_checksums(input, only_documents);
  check(input, only_documents);
  if (fixed != am::Bytes(input.begin(), input.end())) check(fixed, only_documents);
  return 0;
}
