// The client subcommands of amrepo (new, cat, set, del, incr, splice, edit, watch, broadcast, ls,
// rm): their options and what runs when one is chosen.
#pragma once

#include "cli_registry.h"

namespace amrepo {

/// Adds the client subcommands to `app`, and their actions to `runners`.
void add_client_commands(CLI::App& app, CommandRunners& runners);

}  // namespace amrepo
