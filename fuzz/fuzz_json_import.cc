// Fuzzes document_from_json (include/am/json_import.h).
//
// Any input must be accepted or rejected with an error, never crash or throw. When it is accepted,
// the document's JSON must read back: document_from_json(to_json(doc)) succeeds and has the same
// to_json (the JSON text of an imported document is a fixed point).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "am/document.h"
#include "am/json_import.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // A fixed actor keeps runs deterministic; the actor does not show in to_json.
  am::DocumentOptions options;
  options.actor = am::ActorId::from_hex("0123456789abcdef");
  for (const bool scalar_strings : {false, true}) {
    am::JsonImportOptions import_options;
    import_options.scalar_strings = scalar_strings;
    const auto doc = am::document_from_json(input, options, import_options);
    if (!doc) continue;
    const auto json = doc->to_json();
    if (!json) __builtin_trap();
    const auto again = am::document_from_json(*json, options, import_options);
    if (!again) __builtin_trap();
    const auto json_again = again->to_json();
    if (!json_again || *json_again != *json) __builtin_trap();
  }
  return 0;
}
