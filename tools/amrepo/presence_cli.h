// amrepo presence: join a document's presence (include/am/repo/presence.h) through a server,
// print the peers' states as they change, and optionally publish ours, until Ctrl-C.
#pragma once

#include "cli_registry.h"

namespace amrepo {

/// Adds the `presence` subcommand to `app`, and its action to `runners`.
void add_presence_command(CLI::App& app, CommandRunners& runners);

}  // namespace amrepo
