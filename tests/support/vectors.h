// Golden test vectors produced by the JS reference (tools/jsref/gen-vectors.mjs).
//
// The directory is $AM_VECTORS_DIR, else <source>/build/vectors. A missing directory or index is a
// test failure (never a silent skip) whose message says how to generate the vectors.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace am::test {

/// The directory the vectors are read from.
std::string vectors_dir();

/// The names listed in index.json. Records a test failure (and returns nothing) if the
/// directory or index is missing or unreadable.
std::vector<std::string> vector_names();

/// Parses <dir>/<name>.json. Records a test failure and returns null if it cannot be read.
nlohmann::json load_vector(std::string_view name);

/// JSON for comparing with a vector's `json`: the vectors write NaN/Infinity and integers past
/// 2^53 as strings, so integers past 2^53 become their decimal strings and other numbers doubles.
nlohmann::json normalise(const nlohmann::json& j);

}  // namespace am::test
