# reactor_warnings: INTERFACE target carrying the project's warning set.
add_library(reactor_warnings INTERFACE)
target_compile_options(reactor_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align
  -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough
  # designated initializers leave the rest defaulted on purpose
  -Wno-missing-field-initializers
  $<$<BOOL:${REACTOR_WERROR}>:-Werror>)
# GCC 12 at -O3 reports -Wrestrict on ordinary std::string concatenation
# (GCC bug 105651), -Wmaybe-uninitialized inside std::optional<std::string> and
# -Wnull-dereference inside std::string's constructor (false positives inside
# libstdc++): keep them warnings, not errors.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(reactor_warnings INTERFACE -Wno-error=restrict -Wno-error=maybe-uninitialized
                         -Wno-error=null-dereference)
endif()
