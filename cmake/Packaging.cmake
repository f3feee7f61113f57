# CPack: `cpack -G DEB` in a build directory makes a .deb of everything `cmake --install`
# installs (amrepo, the static libraries, headers, CMake package, am.pc and am-repo.pc) under /usr.
# Depends lists the Debian 12 runtime packages of the shared libraries amrepo links with
# (ldd: libz.so.1, libcrypto.so.3, libdeflate.so.0, libstdc++.so.6, libgcc_s.so.1, libc.so.6,
# libm.so.6). The -dev packages a C++ consumer needs to link the static libraries are Recommends.
set(CPACK_PACKAGE_NAME "automerge-repo-cpp")
set(CPACK_PACKAGE_VENDOR "automerge-repo-cpp")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "Automerge CRDT for C++20: the amrepo tool, static libraries am_core/am_json and headers")
set(CPACK_PACKAGE_CONTACT "automerge-repo-cpp maintainers <noreply@example.invalid>")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_STRIP_FILES ON)  # strips amrepo's debug info (CMake never strips static libraries)
set(CPACK_GENERATOR "DEB")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "libdevel")
# The runtime libraries amrepo links (dpkg-shlibdeps, from dpkg-dev, computes the same list for
# the binary; it is spelled out so the package does not depend on that tool being present).
set(CPACK_DEBIAN_PACKAGE_DEPENDS
  "libc6 (>= 2.34), libstdc++6 (>= 12), libgcc-s1 (>= 3.0), libssl3 (>= 3.0.0), libdeflate0 (>= 1.0), zlib1g (>= 1:1.2.0), libsqlite3-0 (>= 3.0), libboost-url1.81.0")
if(TARGET PostgreSQL::PostgreSQL)  # amrepo then links libpq (the postgres storage adapter)
  string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", libpq5 (>= 15)")
endif()
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS
  "libssl-dev, libdeflate-dev, libexpected-dev, nlohmann-json3-dev, pkg-config, libsqlite3-dev, libboost-url1.81-dev")
if(TARGET PostgreSQL::PostgreSQL)  # am_repo_storage then needs libpq when a consumer links it
  string(APPEND CPACK_DEBIAN_PACKAGE_RECOMMENDS ", libpq-dev")
endif()
# The amrepo service: its system user, /var/lib/amrepo and /etc/amrepo/amrepo.toml (packaging/).
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  "${PROJECT_SOURCE_DIR}/packaging/postinst;${PROJECT_SOURCE_DIR}/packaging/prerm;${PROJECT_SOURCE_DIR}/packaging/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", passwd")  # useradd in postinst
include(CPack)
