// A StorageAdapter over one PostgreSQL table, through libpq (PostgreSQL 15 client library). Only
// built when CMake found libpq; consumers can test `#ifdef AM_HAVE_POSTGRES`.
//
// Schema, created on first use if missing:
//   CREATE TABLE IF NOT EXISTS <table>(key TEXT COLLATE "C" PRIMARY KEY, data BYTEA NOT NULL)
// where key is the key's components joined with '/' (storage_key_to_string). Since components
// contain no '/', a component-wise prefix P is exactly
//   key = P OR (key >= P || '/' AND key < P || '0')        ('0' is the character after '/')
// which the "C" (byte order) collation turns into two range scans of the primary key index.
//
// Every call is one autocommit statement, so it is atomic and, once it returned, durable as the
// server's settings make it (with the default synchronous_commit=on: survives a server crash).
// save is an upsert (INSERT ... ON CONFLICT (key) DO UPDATE), so concurrent saves of one key
// never fail; the last one wins. Keys and values travel as binary parameters and results.
//
// Several adapters, in this and other processes and machines, may share one table: this is the
// storage for several `amrepo serve` instances behind one database. change_feed() reports the
// saves of the other instances (those with notify_saves on) through LISTEN amrepo_changes on a
// connection and thread of its own; the payload names the table, so stores in other tables of
// the database are not reported. When that connection breaks, the feed reconnects (with backoff
// up to 5 s) and then reports the empty key: saves in between were missed.
//
// Failures: a server that cannot be reached is kIOError "cannot connect to PostgreSQL (host=...
// port=... dbname=...)" plus libpq's reason; the password is never part of a message. An error
// the server reports is kIOError (kResourceLimit for SQLSTATE class 54, e.g. a value over
// PostgreSQL's 1 GB field limit) with the server's message and SQLSTATE. Transient failures are
// retried a few times before they are reported: a lost connection (it is reset, then the
// statement runs again; every statement here is idempotent, so running it twice is harmless) and
// serialization failures or deadlocks (SQLSTATE 40001, 40P01).
//
// Threading: a small pool of connections, each used by one thread at a time. A call takes an
// idle connection or opens a new one (up to max_connections; beyond that it waits for one to be
// returned) and returns it when done. Safe to call from several threads at once (see
// StorageAdapter). An adapter must not be used across fork(): the child opens its own.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "am/repo/storage.h"

namespace am::repo {

/// How open_postgres_storage uses the database.
struct PostgresStorageOptions {
  /// The table holding the chunks: 1 to 63 characters of [a-z0-9_], not starting with a digit
  /// (always quoted in SQL, so reserved words are fine). Several stores may share one database
  /// under different tables.
  std::string table = "automerge_chunks";
  /// Most connections open at once; a call that finds none idle and this many open waits.
  std::size_t max_connections = 8;
  /// Seconds libpq waits for a new connection when `conninfo` does not set connect_timeout.
  int connect_timeout_s = 10;
  /// How many times a statement runs when it keeps failing transiently (at least 1).
  int max_attempts = 4;
  /// Every save also sends `NOTIFY amrepo_changes, 'TABLE<tab>ORIGIN<tab>KEY'` (in the same
  /// statement, so it is delivered exactly when the save commits) for the change feeds of
  /// other instances (see below). Off by default: a store nobody else watches needs none.
  bool notify_saves = false;
};

/// kInvalidArgument unless `table` is a valid PostgresStorageOptions::table.
[[nodiscard]] Status validate_postgres_table_name(const std::string& table);

/// Connects to the database of `conninfo` (a libpq connection string, "host=127.0.0.1 port=5432
/// dbname=amrepo user=amrepo", or a postgresql:// URI; libpq's PG* environment variables fill
/// in what it leaves out), checks that the server encoding can hold UTF-8 keys, and creates the
/// table if missing. The connection is kept for the first call. kInvalidArgument for a bad table
/// name or a malformed conninfo, kIOError if the server cannot be reached or refuses.
/// Thread safety: as StorageAdapter.
[[nodiscard]] Result<std::unique_ptr<StorageAdapter>> open_postgres_storage(
    const std::string& conninfo, PostgresStorageOptions options = {});

}  // namespace am::repo
