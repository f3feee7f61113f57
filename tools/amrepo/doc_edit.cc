#include "doc_edit.h"

#include <charconv>
#include <vector>

namespace amrepo {
namespace {

using am::Error;
using am::ObjId;
using am::ObjType;
using am::Prop;

am::Result<std::vector<std::string>> split_path(std::string_view path) {
  std::vector<std::string> segments;
  if (path.empty() || path == "/") return segments;
  if (path.front() != '/') return am::fail(Error::invalid_argument("path", "must start with / (e.g. /todos/0/title)"));
  std::size_t start = 1;
  for (;;) {
    const std::size_t end = path.find('/', start);
    std::string raw(path.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    std::string seg;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~' && i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        seg += raw[i + 1] == '0' ? '~' : '/';
        ++i;
      } else {
        seg += raw[i];
      }
    }
    segments.push_back(std::move(seg));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return segments;
}

am::Result<Prop> prop_for(ObjType type, const std::string& segment) {
  if (type == ObjType::kMap || type == ObjType::kTable) return Prop(segment);
  std::size_t index = 0;
  const auto* end = segment.data() + segment.size();
  auto [ptr, ec] = std::from_chars(segment.data(), end, index);
  if (segment.empty() || ec != std::errc() || ptr != end) {
    return am::fail(Error::invalid_argument("path", "\"" + segment + "\" is not an index into a list"));
  }
  return Prop(index);
}

am::Status write_into(am::Document& doc, const ObjId& obj, ObjType type, const Prop& prop, const nlohmann::json& value,
                      bool insert);

am::Status fill(am::Document& doc, const ObjId& obj, ObjType type, const nlohmann::json& value) {
  if (type == ObjType::kMap) {
    for (const auto& [key, v] : value.items()) {
      if (auto st = write_into(doc, obj, type, Prop(key), v, false); !st) return st;
    }
    return {};
  }
  std::size_t i = 0;
  for (const auto& v : value) {
    if (auto st = write_into(doc, obj, type, Prop(i++), v, true); !st) return st;
  }
  return {};
}

am::Status write_into(am::Document& doc, const ObjId& obj, ObjType type, const Prop& prop, const nlohmann::json& value,
                      bool insert) {
  const bool in_list = type == ObjType::kList;
  const std::size_t* index = std::get_if<std::size_t>(&prop);
  auto put_object = [&](ObjType t) -> am::Result<ObjId> {
    if (in_list && insert) return doc.insert_object(obj, *index, t);
    return doc.put_object(obj, prop, t);
  };
  auto put_scalar = [&](am::ScalarValue v) -> am::Status {
    if (in_list && insert) return doc.insert(obj, *index, std::move(v));
    return doc.put(obj, prop, std::move(v));
  };
  if (value.is_object() || value.is_array()) {
    const ObjType t = value.is_object() ? ObjType::kMap : ObjType::kList;
    auto child = put_object(t);
    if (!child) return am::fail(child.error());
    return fill(doc, *child, t, value);
  }
  if (value.is_string()) {
    auto text = put_object(ObjType::kText);
    if (!text) return am::fail(text.error());
    return doc.splice_text(*text, 0, 0, value.get<std::string>());
  }
  if (value.is_null()) return put_scalar(am::Null{});
  if (value.is_boolean()) return put_scalar(value.get<bool>());
  if (value.is_number_unsigned()) {
    const auto u = value.get<std::uint64_t>();
    if (u <= static_cast<std::uint64_t>(INT64_MAX)) return put_scalar(static_cast<std::int64_t>(u));
    return put_scalar(u);
  }
  if (value.is_number_integer()) return put_scalar(value.get<std::int64_t>());
  return put_scalar(value.get<double>());
}

}  // namespace

am::Result<PathTarget> resolve_path(const am::Document& doc, std::string_view path) {
  auto segments = split_path(path);
  if (!segments) return am::fail(segments.error());
  PathTarget target;
  target.parent = ObjId::root();
  target.parent_type = ObjType::kMap;
  for (std::size_t i = 0; i < segments->size(); ++i) {
    auto prop = prop_for(target.parent_type, (*segments)[i]);
    if (!prop) return am::fail(prop.error());
    if (i + 1 == segments->size()) {
      target.prop = *prop;
      break;
    }
    auto v = doc.get(target.parent, *prop);
    if (!v) return am::fail(v.error());
    const auto* ref = *v ? std::get_if<am::ObjectRef>(&**v) : nullptr;
    if (ref == nullptr) {
      return am::fail(Error::invalid_argument("path", "\"" + (*segments)[i] + "\" is missing or not an object"));
    }
    target.parent = ref->id;
    target.parent_type = ref->type;
  }
  return target;
}

am::Status set_json(am::Document& doc, const PathTarget& target, const nlohmann::json& value) {
  if (!target.prop) {
    if (!value.is_object()) return am::fail(Error::invalid_argument("set", "the root takes only a JSON object"));
    return fill(doc, target.parent, ObjType::kMap, value);
  }
  bool append = false;
  if (const auto* index = std::get_if<std::size_t>(&*target.prop)) {
    auto len = doc.length(target.parent);
    if (!len) return am::fail(len.error());
    append = *index == *len;
  }
  return write_into(doc, target.parent, target.parent_type, *target.prop, value, append);
}

am::Status delete_at(am::Document& doc, const PathTarget& target) {
  if (!target.prop) return am::fail(Error::invalid_argument("del", "cannot delete the root"));
  return doc.remove(target.parent, *target.prop);
}

am::Status increment_at(am::Document& doc, const PathTarget& target, std::int64_t by) {
  if (!target.prop) return am::fail(Error::invalid_argument("incr", "the root is not a counter"));
  auto v = doc.get(target.parent, *target.prop);
  if (!v) return am::fail(v.error());
  if (!*v && target.parent_type == ObjType::kMap) return doc.put(target.parent, *target.prop, am::Counter{by});
  return doc.increment(target.parent, *target.prop, by);
}

am::Status splice_at(am::Document& doc, const PathTarget& target, std::size_t pos, std::size_t del,
                     std::string_view text) {
  ObjId obj = target.parent;
  if (target.prop) {
    auto v = doc.get(target.parent, *target.prop);
    if (!v) return am::fail(v.error());
    const auto* ref = *v ? std::get_if<am::ObjectRef>(&**v) : nullptr;
    if (ref == nullptr || ref->type != ObjType::kText) {
      return am::fail(Error::invalid_argument("splice", "the path does not name a text object"));
    }
    obj = ref->id;
  }
  return doc.splice_text(obj, pos, del, text);
}

}  // namespace amrepo
