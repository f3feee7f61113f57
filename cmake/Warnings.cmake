# am_set_warnings(target [STRICT]): the project's warning set. STRICT adds the conversion
# warnings used in src/core, where integer truncation bugs in codecs would live.
function(am_set_warnings target)
  cmake_parse_arguments(ARG "STRICT" "" "" ${ARGN})
  set(flags -Wall -Wextra -Wpedantic -Werror=unused-result)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12 reports false "may be used uninitialized" on copies of std::variant and
    # tl::expected at -O2 (e.g. std::vector<std::variant<std::string, std::size_t>>); the
    # sanitizer builds and clang keep checking real uninitialised reads.
    list(APPEND flags -Wno-maybe-uninitialized)
  endif()
  if(ARG_STRICT)
    list(APPEND flags -Wconversion -Wsign-conversion -Wshadow)
  endif()
  if(AM_WARNINGS_AS_ERRORS)
    list(APPEND flags -Werror)
  endif()
  target_compile_options(${target} PRIVATE ${flags})
endfunction()
