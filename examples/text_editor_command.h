// The text editor example's command lines: `NAME ARG ARG ...`, split at spaces, with the text
// after the name kept whole for commands that take free text (`type`, `wait`).
#pragma once

#include <cstddef>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace editor {

struct Command {
  std::string name;               // the first word
  std::string rest;               // everything after the first space, verbatim
  std::vector<std::string> args;  // `rest` split at runs of spaces
};

inline Command parse_command(const std::string& line) {
  Command c;
  const auto space = line.find(' ');
  c.name = line.substr(0, space);
  c.rest = space == std::string::npos ? "" : line.substr(space + 1);
  std::istringstream in(c.rest);
  for (std::string word; in >> word;) c.args.push_back(word);
  return c;
}

// A non-negative decimal index; nullopt for anything else (no sign, no trailing junk).
inline std::optional<std::size_t> parse_index(const std::string& word) {
  if (word.empty() || word.size() > 18 || word.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return static_cast<std::size_t>(std::stoull(word));
}

}  // namespace editor
