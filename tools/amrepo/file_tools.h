// Offline file commands of amrepo: export, import, resave, merge, inspect (docs/cli.md).
#pragma once

#include <string>
#include <vector>

#include "am/document.h"

namespace amrepo {

// Exit codes shared by every command (docs/cli.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnavailable = 3;
inline constexpr int kExitNetwork = 4;
inline constexpr int kExitCorrupt = 5;
inline constexpr int kExitUnauthorized = 6;  // the server refused our token (or lack of one)

/// Prints "amrepo: ERROR" and returns the exit code for the error's kind.
int fail_with_error(const am::Error& e);
/// Loads an Automerge file (errors name the file).
am::Result<am::Document> load_file(const std::string& path);
/// HEADS as the commands take them: comma-separated hex change hashes; `option` names the flag
/// in errors.
am::Result<std::vector<am::ChangeHash>> parse_heads(const std::string& text, const std::string& option = "--at");

int export_json(const std::string& file, const std::string& out);
int import_json(const std::string& in, const std::string& out, const std::string& actor_hex,
                bool scalar_strings);
int resave(const std::string& file, const std::string& out, bool no_compress);
int merge(const std::vector<std::string>& files, const std::string& out);
int inspect(const std::string& file);

}  // namespace amrepo
