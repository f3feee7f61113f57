# AM_SANITIZE=address;undefined or thread applies to every target in the build tree.
if(AM_SANITIZE)
  string(REPLACE ";" "," _am_san "${AM_SANITIZE}")
  add_compile_options(-fsanitize=${_am_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_am_san})
  if("${AM_SANITIZE}" MATCHES "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    add_compile_options(-Wno-tsan)
  endif()
endif()
