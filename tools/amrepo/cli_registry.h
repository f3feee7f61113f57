// How amrepo's subcommands are wired: each part of the CLI adds its subcommands to the CLI11 app
// and, for each, the action main() runs when the user chose it. The options an action reads live
// in state the action owns (shared with the CLI11 bindings), so they outlive the registration.
#pragma once

#include <functional>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

namespace amrepo {

/// (subcommand, action returning the exit code) pairs, in the order they were added.
using CommandRunners = std::vector<std::pair<CLI::App*, std::function<int()>>>;

}  // namespace amrepo
