// A real PostgreSQL server for the tests of the PostgreSQL storage adapter and of
// `amrepo serve --storage postgres`: started once per test binary run, on 127.0.0.1 and a free
// port, in a fresh temporary data directory, and stopped (its directory removed) at exit.
//
// The server binaries come from $AM_PG_BINDIR, else /usr/lib/postgresql/15/bin, else the newest
// /usr/lib/postgresql/*/bin (Debian's postgresql-15). initdb and postgres refuse to run as root,
// so when the tests run as root (as in CI) both run as the `postgres` system user, in a data
// directory owned by it. $AM_TEST_PG_CONNINFO (a superuser's conninfo, e.g. "host=db
// user=postgres") uses an existing server instead of starting one.
//
// Tests skip (GTEST_SKIP, with the reason) only when there are no server binaries and no
// $AM_TEST_PG_CONNINFO; a server that exists but fails to start fails the tests, with its log.
// If the test process is killed, the server gets SIGQUIT (PR_SET_PDEATHSIG) and stops too
// (when get() was first called on the main thread).
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "am/result.h"

namespace am::test {

/// The server of this test binary run. Not copyable; one per process.
class PostgresTestServer {
 public:
  /// The server, started on the first call (thread-safe). Forked children may use the
  /// parent's (they never stop it).
  static PostgresTestServer& get();

  /// False when there is no server to use at all; skip_reason() says why.
  bool available() const { return skip_reason_.empty(); }
  const std::string& skip_reason() const { return skip_reason_; }
  /// Non-empty when the binaries exist but the server did not start: what failed, the log tail.
  const std::string& error() const { return error_; }
  /// Connects as the superuser to the database "postgres".
  const std::string& conninfo() const { return conninfo_; }

  /// Creates an empty database with a new unique name ("amtest_<pid>_<n>") and returns a
  /// conninfo for it. kIOError when the server refuses.
  Result<std::string> create_database();

  PostgresTestServer(const PostgresTestServer&) = delete;
  PostgresTestServer& operator=(const PostgresTestServer&) = delete;
  ~PostgresTestServer();

 private:
  PostgresTestServer();
  void start(const std::string& bindir);
  void stop();

  std::string skip_reason_;
  std::string error_;
  std::string conninfo_;
  std::string dir_;       // the temporary directory (data/, logs, socket); empty if none
  int pid_ = -1;          // the postmaster we started, or -1
  int owner_pid_ = -1;    // the process that started it (the only one that stops it)
  int next_db_ = 0;
};

}  // namespace am::test

/// In a TEST body or SetUp: skips the test when there is no PostgreSQL server to use, fails it
/// when the server did not start.
#define AM_REQUIRE_POSTGRES()                                                          \
  do {                                                                                 \
    if (!::am::test::PostgresTestServer::get().available()) {                          \
      GTEST_SKIP() << ::am::test::PostgresTestServer::get().skip_reason();             \
    }                                                                                  \
    ASSERT_TRUE(::am::test::PostgresTestServer::get().error().empty())                 \
        << ::am::test::PostgresTestServer::get().error();                              \
  } while (0)
