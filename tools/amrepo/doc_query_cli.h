// Offline commands that read a document as editors need it (docs/cli.md): `amrepo cursor`,
// `amrepo marks`, `amrepo spans`.
#pragma once

#include "cli_registry.h"

namespace amrepo {

/// Adds `cursor`, `marks` and `spans` to the app.
void add_document_query_commands(CLI::App& app, CommandRunners& runners);

}  // namespace amrepo
