// The options of `amrepo serve`: flags, the same keys in a TOML file (--config FILE; flags win),
// and the effective configuration printed as TOML (--print-config).
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "serve.h"

namespace amrepo {

/// Adds the `serve` subcommand to `app`, its options bound to `options`.
CLI::App* add_serve_command(CLI::App& app, ServeOptions& options);

/// After parsing: fills every option not given as a flag from options.config_file (TOML: one key
/// per flag, named as the flag without "--", e.g. `listen = "0.0.0.0:3030"`, `peer = ["ws://a"]`,
/// `memory = true`), then checks the values. Returns an exit code (file_tools.h), having printed
/// the error: kExitUsage for an unreadable file, a TOML syntax error (with its line), an unknown
/// key or a value of the wrong type.
int complete_serve_options(CLI::App* serve, ServeOptions& options);

/// The effective configuration (defaults, file and flags combined) as a TOML file that --config reads.
std::string effective_serve_config(CLI::App* serve);

}  // namespace amrepo
