#include "am/json_import.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace am {
namespace {

using nlohmann::json;

// A SAX handler that builds a nlohmann::json tree, stopping at the first problem: a top level
// that is not an object, nesting deeper than kJsonImportMaxDepth, or a syntax error. The parser
// itself is iterative, so deep input cannot overflow the stack before we refuse it.
class TreeBuilder {
 public:
  json& root() { return root_; }
  // Why parsing stopped early; empty if it did not (or stopped on a syntax error not yet seen).
  const std::string& error() const { return error_; }

  bool null() { return value(json(nullptr)); }
  bool boolean(bool b) { return value(json(b)); }
  bool number_integer(json::number_integer_t i) { return value(json(i)); }
  bool number_unsigned(json::number_unsigned_t u) { return value(json(u)); }
  bool number_float(json::number_float_t d, const json::string_t& /*lexeme*/) { return value(json(d)); }
  bool string(json::string_t& s) { return value(json(std::move(s))); }
  bool binary(json::binary_t& /*unused*/) {  // never produced by the JSON (text) parser
    error_ = "binary values are not JSON";
    return false;
  }
  bool start_object(std::size_t /*elements*/) { return open(json::object()); }
  bool start_array(std::size_t /*elements*/) { return open(json::array()); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(json::string_t& k) {
    // std::map references stay valid while other keys are added; a repeated key reuses its slot,
    // so the last value wins.
    key_slot_ = &stack_.back()->get_ref<json::object_t&>()[std::move(k)];
    return true;
  }
  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const json::exception& e) {
    error_ = std::string("malformed JSON: ") + e.what();
    return false;
  }

 private:
  // Stores `v` where the parser is: the root, the next array element, or the current key's slot.
  json* place(json&& v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    json& top = *stack_.back();
    if (top.is_array()) {
      auto& arr = top.get_ref<json::array_t&>();
      arr.push_back(std::move(v));
      return &arr.back();
    }
    *key_slot_ = std::move(v);
    return key_slot_;
  }

  bool value(json&& v) {
    if (stack_.empty()) {
      error_ = std::string("the top level must be a JSON object, not ") + v.type_name();
      return false;
    }
    place(std::move(v));
    return true;
  }

  bool open(json&& container) {
    if (stack_.empty() && !container.is_object()) {
      error_ = std::string("the top level must be a JSON object, not ") + container.type_name();
      return false;
    }
    if (stack_.size() >= kJsonImportMaxDepth) {
      error_ = "JSON nesting deeper than " + std::to_string(kJsonImportMaxDepth) + " levels";
      return false;
    }
    // Pointers into a parent array stay valid: nothing is appended to it while a child is open.
    stack_.push_back(place(std::move(container)));
    return true;
  }

  bool close() {
    stack_.pop_back();
    return true;
  }

  json root_;
  std::vector<json*> stack_;  // the open objects and arrays, outermost first
  json* key_slot_ = nullptr;  // where the current object's next value goes
  std::string error_;
};

// Parses and checks `text`; on success the result is a JSON object nested at most
// kJsonImportMaxDepth deep.
Result<json> parse(std::string_view text, const JsonImportOptions& options) {
  if (text.size() > options.max_bytes) {
    return fail(Error::invalid_argument(
        "import_json: input of " + std::to_string(text.size()) + " bytes",
        "exceeds the limit of " + std::to_string(options.max_bytes) + " bytes (max_bytes)"));
  }
  TreeBuilder builder;
  bool ok = false;
  try {
    ok = json::sax_parse(text.begin(), text.end(), &builder);
  } catch (const json::exception& e) {  // not expected from sax_parse, but never let one escape
    return fail(Error::invalid_argument("import_json", std::string("malformed JSON: ") + e.what()));
  }
  if (!ok) {
    return fail(Error::invalid_argument(
        "import_json", builder.error().empty() ? "malformed JSON" : builder.error()));
  }
  return std::move(builder.root());
}

// Writes a parsed JSON tree into a document.
class Writer {
 public:
  Writer(Document& doc, bool scalar_strings) : doc_(doc), scalar_strings_(scalar_strings) {}

  // Puts every key of the JSON object `v` into the map `obj`.
  Status fill_map(const ObjId& obj, const json& v) {
    for (const auto& [key, value] : v.get_ref<const json::object_t&>()) {
      if (auto s = scalar(value)) {
        AM_TRY_STATUS(doc_.put(obj, key, std::move(*s)));
      } else {
        AM_TRY_ASSIGN(const ObjId child, doc_.put_object(obj, key, object_type(value)));
        AM_TRY_STATUS(fill(child, value));
      }
    }
    return {};
  }

 private:
  // Fills a newly made object of object_type(v) with the contents of `v`.
  Status fill(const ObjId& obj, const json& v) {
    if (v.is_object()) return fill_map(obj, v);
    if (v.is_array()) {
      const auto& arr = v.get_ref<const json::array_t&>();
      for (std::size_t i = 0; i < arr.size(); ++i) {
        if (auto s = scalar(arr[i])) {
          AM_TRY_STATUS(doc_.insert(obj, i, std::move(*s)));
        } else {
          AM_TRY_ASSIGN(const ObjId child, doc_.insert_object(obj, i, object_type(arr[i])));
          AM_TRY_STATUS(fill(child, arr[i]));
        }
      }
      return {};
    }
    const auto& s = v.get_ref<const json::string_t&>();  // a text object
    if (s.empty()) return {};
    return doc_.splice_text(obj, 0, 0, s);
  }

  static ObjType object_type(const json& v) {
    if (v.is_object()) return ObjType::kMap;
    if (v.is_array()) return ObjType::kList;
    return ObjType::kText;
  }

  // The scalar for `v`, or nullopt when `v` becomes an object (map, list, or text).
  std::optional<ScalarValue> scalar(const json& v) const {
    switch (v.type()) {
      case json::value_t::null: return ScalarValue{Null{}};
      case json::value_t::boolean: return ScalarValue{v.get<bool>()};
      case json::value_t::number_integer:
        return ScalarValue{v.get<json::number_integer_t>()};
      case json::value_t::number_unsigned: {
        const std::uint64_t u = v.get<json::number_unsigned_t>();
        if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
          return ScalarValue{static_cast<std::int64_t>(u)};
        }
        return ScalarValue{u};
      }
      case json::value_t::number_float: {
        const double d = v.get<double>();
        return ScalarValue{d == 0.0 ? 0.0 : d};  // -0.0 -> 0.0 (see the header)
      }
      case json::value_t::string:
        if (scalar_strings_) return ScalarValue{v.get<std::string>()};
        return std::nullopt;
      default: return std::nullopt;  // object, array (binary and discarded cannot occur)
    }
  }

  Document& doc_;
  bool scalar_strings_;
};

}  // namespace

Status import_json(Document& doc, const ObjId& obj, std::string_view json_text,
                   const JsonImportOptions& options) {
  const Result<ObjType> type = doc.object_type(obj);
  if (!type) return fail(type.error().with_context("import_json"));
  if (*type != ObjType::kMap) {
    return fail(Error::invalid_argument("import_json: object " + obj.to_string(),
                                        "is not a map"));
  }
  AM_TRY_ASSIGN(const json tree, parse(json_text, options));
  try {
    return Writer(doc, options.scalar_strings).fill_map(obj, tree);
  } catch (const json::exception& e) {  // type checks make this unreachable; keep the promise
    return fail(Error::internal("import_json", e.what()));
  }
}

Result<Document> document_from_json(std::string_view json_text, const DocumentOptions& doc_options,
                                    const JsonImportOptions& options) {
  Document doc(doc_options);
  AM_TRY_STATUS(import_json(doc, ObjId::root(), json_text, options));
  CommitOptions commit;
  commit.time = 0;
  doc.commit(commit);
  return doc;
}

}  // namespace am
