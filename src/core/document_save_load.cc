// am::Document save and load (format spec §2.4-§2.7): the "save and load" block of
// am/document.h. The document chunk codec is core/storage/document_chunk.h; this file decides
// which chunks go where and applies what was loaded through the normal apply path
// (Document::Impl::apply_ready / apply_stored).
#include <string>
#include <utility>
#include <vector>

#include "am/document.h"
#include "core/document_impl.h"
#include "core/encoding/byte_reader.h"
#include "core/storage/chunk.h"
#include "core/storage/document_chunk.h"

namespace am {
namespace {

Bytes save_document(Document::Impl& d, bool compress) {
  const storage::DocumentSource source{d.actors,           d.opset,         d.changes,
                                       d.change_deps,      d.changes_by_actor, d.max_op};
  Bytes out = storage::encode_document_chunk(source, compress);
  for (const storage::StoredChange& orphan : d.queue) {
    out.insert(out.end(), orphan.chunk.begin(), orphan.chunk.end());
  }
  d.saved_changes = d.changes.size();
  return out;
}

// Applies changes in the given order: known ones are skipped, ones whose dependencies are
// missing wait in the queue, which is drained at the end. A loaded document's changes come in
// application (topological) order, so each applies directly, in O(its ops).
Status apply_in_order(Document::Impl& d, std::vector<storage::StoredChange> changes) {
  bool queued = false;
  for (storage::StoredChange& sc : changes) {
    if (d.by_hash.count(sc.hash)) continue;
    if (d.deps_present(sc.change)) {
      AM_TRY_STATUS(d.apply_ready(std::move(sc)));
      continue;
    }
    bool known = false;
    for (const storage::StoredChange& q : d.queue) known = known || q.hash == sc.hash;
    if (!known) d.queue.push_back(std::move(sc));
    queued = true;
  }
  if (queued || !d.queue.empty()) return d.apply_stored({});
  return {};
}

// Reads every chunk of `bytes` and applies their changes. A malformed chunk stops the reading;
// with `apply_prefix` the changes of the chunks before it are applied before its error is
// returned. Sets *first_is_document when the first chunk is a document chunk.
Status ingest(Document::Impl& d, ByteView bytes, const LoadOptions& options, bool apply_prefix,
              bool* first_is_document) {
  storage::DocumentDecodeOptions doc_options;
  doc_options.verify_heads = options.verify_heads;
  doc_options.max_decoded_bytes = options.max_inflated_bytes;

  std::vector<storage::StoredChange> changes;
  Status read_status;
  enc::ByteReader r(bytes, "chunk");
  for (std::size_t index = 0; !r.empty() && read_status; ++index) {
    const std::string context = "chunk " + std::to_string(index);
    auto chunk = storage::read_chunk(r);
    if (!chunk) {
      read_status = fail(chunk.error().with_context(context));
      break;
    }
    switch (chunk->type) {
      case storage::ChunkType::kDocument: {
        auto doc = storage::decode_document_body(chunk->body, doc_options);
        if (!doc) {
          read_status = fail(doc.error().with_context(context));
          break;
        }
        if (index == 0 && first_is_document) *first_is_document = true;
        if (changes.empty()) {
          changes = std::move(doc->changes);
        } else {
          for (auto& sc : doc->changes) changes.push_back(std::move(sc));
        }
        break;
      }
      case storage::ChunkType::kChange: {
        auto sc = storage::decode_change_body(chunk->body);
        if (!sc) {
          read_status = fail(sc.error().with_context(context));
          break;
        }
        changes.push_back(std::move(*sc));
        break;
      }
      case storage::ChunkType::kCompressedChange: {
        auto body = storage::inflate_compressed_change(*chunk, options.max_inflated_bytes);
        if (!body) {
          read_status = fail(body.error().with_context(context));
          break;
        }
        auto sc = storage::decode_change_body(*body);
        if (!sc) {
          read_status = fail(sc.error().with_context(context));
          break;
        }
        changes.push_back(std::move(*sc));
        break;
      }
      case storage::ChunkType::kBundle:
        read_status = fail(Error::unsupported(context, "bundle chunks (type 3) are not supported"));
        break;
    }
  }
  if (!read_status && !apply_prefix) return read_status;
  AM_TRY_STATUS(apply_in_order(d, std::move(changes)));
  return read_status;
}

}  // namespace

Bytes Document::save() const { return save_document(*impl_, /*compress=*/true); }

Bytes Document::save_no_compress() const { return save_document(*impl_, /*compress=*/false); }

Bytes Document::save_incremental() {
  Impl& d = *impl_;
  if (d.tx_open && !d.tx_ops.empty()) d.commit({});
  Bytes out;
  for (std::size_t i = d.saved_changes; i < d.changes.size(); ++i) {
    out.insert(out.end(), d.changes[i].chunk.begin(), d.changes[i].chunk.end());
  }
  d.saved_changes = d.changes.size();
  return out;
}

Bytes Document::save_after(const std::vector<ChangeHash>& heads) const {
  Bytes out;
  for (const Bytes& chunk : get_changes(heads)) out.insert(out.end(), chunk.begin(), chunk.end());
  return out;
}

Result<Document> Document::load(ByteView bytes, const LoadOptions& options) {
  Document doc(DocumentOptions{.actor = options.actor, .text_unit = options.text_unit});
  if (bytes.empty()) return doc;
  bool first_is_document = false;
  AM_TRY_STATUS(ingest(*doc.impl_, bytes, options, /*apply_prefix=*/false, &first_is_document));
  if (!first_is_document && !doc.impl_->queue.empty() && !options.allow_missing_deps) {
    return fail(Error::missing_dependency(
        "load", std::to_string(doc.impl_->queue.size()) +
                    " changes have missing dependencies (LoadOptions::allow_missing_deps)"));
  }
  return doc;
}

Status Document::load_incremental(ByteView bytes) {
  Impl& d = *impl_;
  if (d.tx_open && !d.tx_ops.empty()) d.commit({});
  return ingest(d, bytes, LoadOptions{}, /*apply_prefix=*/true, nullptr);
}

}  // namespace am
