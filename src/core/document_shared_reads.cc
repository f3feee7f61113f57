// Reads handed out as shared, immutable values and kept while their object is unchanged:
// Document::text_shared, map_range_shared and list_range_shared. An object is unchanged while
// the op set keeps its stamp and the object its `changed` count (core/opset/op_set.h).
#include <algorithm>
#include <memory>

#include "am/document.h"
#include "core/document_impl.h"
#include "core/history_view.h"

namespace am {
namespace {

using Kind = Document::Impl::SharedReadKind;

// The value cached for (o, kind) if o is unchanged since, else build()'s, cached in its place.
template <class T, class Build>
std::shared_ptr<const T> shared_read(const Document::Impl& impl, const core::Object& o, Kind kind, Build&& build) {
  const core::OpSet& set = impl.opset();
  auto& cache = impl.shared_reads;
  // Reads of other contents (before a copy on write, a rollback, a load) never match again.
  std::erase_if(cache, [&](const Document::Impl::SharedRead& e) { return e.stamp != set.stamp(); });
  const std::uint32_t oi = set.index_of(o);
  const auto it = std::find_if(cache.begin(), cache.end(), [&](const Document::Impl::SharedRead& e) {
    return e.object == oi && e.kind == kind;
  });
  if (it != cache.end() && it->changed == o.changed) return std::static_pointer_cast<const T>(it->value);
  auto value = std::make_shared<const T>(build());
  if (it != cache.end()) {
    cache.erase(it);
  } else if (cache.size() == Document::Impl::kMaxSharedReads) {
    cache.erase(cache.begin());
  }
  cache.push_back(Document::Impl::SharedRead{set.stamp(), oi, kind, o.changed, value});
  return value;
}

}  // namespace

Result<std::shared_ptr<const std::string>> Document::text_shared(const ObjId& obj) const {
  AM_TRY_ASSIGN(const core::Object* o, impl_->object_for(obj));
  if (o->type != ObjType::kText) return fail(Error::invalid_argument("object " + obj.to_string(), "is not text"));
  return shared_read<std::string>(*impl_, *o, Kind::kText,
                                  [&] { return core::StateView(*impl_, core::Clock{}).text(*o); });
}

Result<std::shared_ptr<const Document::MapEntries>> Document::map_range_shared(const ObjId& obj) const {
  AM_TRY_ASSIGN(const core::Object* o, impl_->object_for(obj));
  if (core::is_sequence(o->type)) return fail(Error::invalid_argument("object " + obj.to_string(), "is not a map"));
  // map_range of an existing map has nothing to refuse.
  return shared_read<MapEntries>(*impl_, *o, Kind::kMapEntries, [&] {
    Result<MapEntries> entries = map_range(obj);
    return entries ? std::move(*entries) : MapEntries{};
  });
}

Result<std::shared_ptr<const Document::ListItems>> Document::list_range_shared(const ObjId& obj) const {
  AM_TRY_ASSIGN(const core::Object* o, impl_->object_for(obj));
  if (!core::is_sequence(o->type)) {
    return fail(Error::invalid_argument("object " + obj.to_string(), "is not a list or text"));
  }
  // list_range of an existing list or text has nothing to refuse.
  return shared_read<ListItems>(*impl_, *o, Kind::kListItems, [&] {
    Result<ListItems> items = list_range(obj);
    return items ? std::move(*items) : ListItems{};
  });
}

}  // namespace am
