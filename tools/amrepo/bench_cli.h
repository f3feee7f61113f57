// The `amrepo bench ...` subcommands: their options and what runs when one is chosen.
#pragma once

#include "cli_registry.h"

namespace amrepo {

/// Adds `bench` and its subcommands (trace, load, server, cluster, clients, bigdoc, connections,
/// battery, doc) to `app`, and their actions to `runners`.
void add_bench_commands(CLI::App& app, CommandRunners& runners);

}  // namespace amrepo
