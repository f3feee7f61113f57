// Offline commands that read a document's history (docs/cli.md): `amrepo log` (every change, as
// JS decodeChange gives it) and `amrepo diff` (the patches of JS Automerge.diff).
#pragma once

#include <string>
#include <vector>

#include "am/change.h"
#include "am/document.h"
#include "cli_registry.h"

namespace amrepo {

/// One change as a JSON object with decodeChange's fields (ops, actor, hash, seq, startOp,
/// time, message, deps; extra_bytes and author only when present). Without ops: no "ops" key,
/// "opCount" instead.
std::string change_info_json(const am::ChangeInfo& change, bool with_ops = true);

/// Adds `log` and `diff` to the app.
void add_history_commands(CLI::App& app, CommandRunners& runners);

}  // namespace amrepo
