# reactor_warnings: INTERFACE target carrying the project's warning set.
add_library(reactor_warnings INTERFACE)
target_compile_options(reactor_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align
  -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough
  # designated initializers leave the rest defaulted on purpose
  -Wno-missing-field-initializers
  $<$<BOOL:${REACTOR_WERROR}>:-Werror>)
