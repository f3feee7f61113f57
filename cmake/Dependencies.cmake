# Every third-party dependency is found here, from Debian bookworm packages
# (see scripts/install-deps.sh for the package names).
find_package(Threads REQUIRED)
find_package(OpenSSL 3.0 REQUIRED)                                  # OpenSSL::Crypto
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBDEFLATE REQUIRED IMPORTED_TARGET libdeflate)   # PkgConfig::LIBDEFLATE
find_package(tl-expected 1.0 REQUIRED)                              # tl::expected
if(AM_BUILD_TOOLS)
  find_package(CLI11 2.1 REQUIRED)                                  # CLI11::CLI11
  find_package(nlohmann_json 3.11 REQUIRED)                         # nlohmann_json::nlohmann_json
  find_package(ZLIB REQUIRED)                                       # gzip traces in amrepo bench
  find_package(SQLite3 REQUIRED)                                    # SQLite::SQLite3 (am_repo_storage)
endif()
if(AM_BUILD_TESTS)
  find_package(GTest 1.12 REQUIRED)
  find_package(rapidcheck REQUIRED)                                 # rapidcheck, rapidcheck_gtest
  find_package(ZLIB REQUIRED)                                       # test oracle for raw DEFLATE
  find_package(nlohmann_json 3.11 REQUIRED)                         # reading golden vectors
  find_package(SQLite3 REQUIRED)                                    # SQLite::SQLite3 (am_repo_storage)
  include(GoogleTest)
endif()
if(AM_BUILD_TESTS OR AM_BUILD_TOOLS OR AM_BUILD_FUZZ)
  # Optional: libpq (libpq-dev) adds the PostgreSQL storage adapter to am_repo_storage, and
  # AM_HAVE_POSTGRES to its users. Its tests also need the server (postgresql-15).
  find_package(PostgreSQL 15)                                       # PostgreSQL::PostgreSQL
  # Asio/Beast are header-only; Boost.URL (ws:// parsing) is the one compiled component.
  # "1.81.0", not "1.81": Boost's package config rejects the two-part version with EXACT.
  find_package(Boost 1.81.0 EXACT REQUIRED CONFIG COMPONENTS url)   # Boost::headers Boost::url
endif()
if(AM_BUILD_FUZZ)
  find_package(nlohmann_json 3.11 REQUIRED)                         # am_json (fuzz_json_import)
endif()
if(AM_BUILD_BENCH)
  find_package(benchmark 1.7 REQUIRED)
endif()
if(AM_BUILD_FUZZ AND NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "AM_BUILD_FUZZ requires clang (libFuzzer); configure with CXX=clang++")
endif()
