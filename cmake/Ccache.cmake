# Use ccache when it is installed: CI rebuilds the same sources in several configurations.
find_program(AM_CCACHE ccache)
if(AM_CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${AM_CCACHE})
endif()
