#include "doc_edit.h"

#include <charconv>
#include <vector>

#include "core/encoding/utf8.h"

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

bool is_high_surrogate(char16_t c) { return c >= 0xd800 && c < 0xdc00; }

am::Result<std::size_t> diff_into(am::Document& doc, const ObjId& obj, ObjType type, const Prop& prop,
                                  const nlohmann::json& before, const nlohmann::json& after);

// Both sides are containers of the same kind at `obj` (a map or a list).
am::Result<std::size_t> diff_children(am::Document& doc, const ObjId& obj, ObjType type, const nlohmann::json& before,
                                      const nlohmann::json& after) {
  std::size_t changed = 0;
  if (type == ObjType::kMap) {
    for (const auto& [key, old_value] : before.items()) {
      if (after.contains(key)) continue;
      if (auto st = doc.remove(obj, Prop(key)); !st) return am::fail(st.error());
      ++changed;
    }
    for (const auto& [key, new_value] : after.items()) {
      const auto old_it = before.find(key);
      if (old_it == before.end()) {
        if (auto st = write_into(doc, obj, type, Prop(key), new_value, false); !st) return am::fail(st.error());
        ++changed;
        continue;
      }
      auto n = diff_into(doc, obj, type, Prop(key), *old_it, new_value);
      if (!n) return n;
      changed += *n;
    }
    return changed;
  }
  const std::size_t common = std::min(before.size(), after.size());
  for (std::size_t i = 0; i < common; ++i) {
    auto n = diff_into(doc, obj, type, Prop(i), before[i], after[i]);
    if (!n) return n;
    changed += *n;
  }
  for (std::size_t i = common; i < after.size(); ++i) {
    if (auto st = write_into(doc, obj, type, Prop(i), after[i], true); !st) return am::fail(st.error());
    ++changed;
  }
  for (std::size_t i = before.size(); i > after.size(); --i) {
    if (auto st = doc.remove(obj, i - 1); !st) return am::fail(st.error());
    ++changed;
  }
  return changed;
}

am::Result<std::size_t> diff_into(am::Document& doc, const ObjId& obj, ObjType type, const Prop& prop,
                                  const nlohmann::json& before, const nlohmann::json& after) {
  if (before == after) return std::size_t{0};
  auto current = doc.get(obj, prop);
  if (!current) return am::fail(current.error());
  const auto* ref = *current ? std::get_if<am::ObjectRef>(&**current) : nullptr;
  if (ref != nullptr) {
    if (ref->type == ObjType::kText && before.is_string() && after.is_string()) {
      // One splice: keep the common prefix and suffix (in UTF-16 units, as the document counts).
      const std::u16string a = am::enc::utf8_to_utf16(before.get<std::string>());
      const std::u16string b = am::enc::utf8_to_utf16(after.get<std::string>());
      std::size_t prefix = 0;
      while (prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) ++prefix;
      if (prefix > 0 && is_high_surrogate(a[prefix - 1])) --prefix;  // never split a pair
      std::size_t suffix = 0;
      while (suffix < a.size() - prefix && suffix < b.size() - prefix &&
             a[a.size() - 1 - suffix] == b[b.size() - 1 - suffix]) {
        ++suffix;
      }
      if (suffix > 0 && suffix < a.size() - prefix && is_high_surrogate(a[a.size() - suffix - 1])) --suffix;
      const std::size_t del = a.size() - prefix - suffix;
      const std::string insert = am::enc::utf16_to_utf8(std::u16string_view(b).substr(prefix, b.size() - prefix - suffix));
      if (auto st = doc.splice_text(ref->id, prefix, del, insert); !st) return am::fail(st.error());
      return std::size_t{1};
    }
    if ((ref->type == ObjType::kMap && before.is_object() && after.is_object()) ||
        (ref->type == ObjType::kList && before.is_array() && after.is_array())) {
      return diff_children(doc, ref->id, ref->type, before, after);
    }
  }
  if (auto st = write_into(doc, obj, type, prop, after, false); !st) return am::fail(st.error());
  return std::size_t{1};
}

}  // namespace

am::Result<std::size_t> apply_json_diff(am::Document& doc, const nlohmann::json& before, const nlohmann::json& after) {
  if (!after.is_object()) return am::fail(Error::invalid_argument("edit", "the document must stay a JSON object"));
  return diff_children(doc, ObjId::root(), ObjType::kMap, before, after);
}

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
  if (value.is_string() && !append) {
    // A string over an existing text edits that text in place with the fewest splices (update_text),
    // so peers merge it with their concurrent edits. JS `d[key] = "..."` would replace the object.
    auto current = doc.get(target.parent, *target.prop);
    if (!current) return am::fail(current.error());
    const auto* ref = *current ? std::get_if<am::ObjectRef>(&**current) : nullptr;
    if (ref != nullptr && ref->type == ObjType::kText) return doc.update_text(ref->id, value.get<std::string>());
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
