// `amrepo migrate --from STORE --to STORE`: copies every document of one store into another
// (files, SQLite, PostgreSQL; see store.h), verifying each at the destination.
#pragma once

#include <string>

namespace amrepo {

struct MigrateOptions {
  std::string from;  ///< store name (store.h)
  std::string to;    ///< store name; created when missing
  /// Copy the peers' sync states too (they only save a first sync's round trips; dropping them
  /// is always safe).
  bool keep_sync_states = true;
  /// "auto" (a live line on a terminal), "always" (also a line every few seconds otherwise) or "never".
  std::string progress = "auto";
};

/// Copies every document. Per document: reads all its chunks from the source, loads them (the
/// copy is a causally complete state of the document: a read that raced a compaction and missed
/// a chunk is retried), skips it when the destination already has every head, else writes the
/// chunks under the same keys (each write atomic) and loads the destination's copy to check it
/// holds those heads. Safe to interrupt and run again; safe while a server writes to the source
/// (what it writes after a document was copied is copied by the next run). Prints a summary;
/// exit code 0, or kExitCorrupt when a document could not be read or verified (the others are
/// still copied), kExitUsage / kExitFailure for bad or unopenable stores.
int migrate(const MigrateOptions& options);

}  // namespace amrepo
