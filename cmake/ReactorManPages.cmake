# Man pages of reactord, reactorctl and reactor-bench, generated from their
# --help with help2man at build time (so they never drift from the programs),
# installed in man1. Without help2man (scripts/install-deps.sh installs it)
# the pages are skipped with a warning.
find_program(REACTOR_HELP2MAN help2man)
if(NOT REACTOR_HELP2MAN)
  message(WARNING "help2man not found: the man pages are not built (scripts/install-deps.sh installs it)")
  return()
endif()
set(_reactor_man_pages
    "reactord|reactor runtime daemon: core-pinned reactors, lightweight threads, SPDK-compatible JSON-RPC"
    "reactorctl|inspect a running reactord, switch its scheduling policy, save its configuration"
    "reactor-bench|io_uring workloads from lightweight threads, with scheduled policy switches")
set(REACTOR_MAN_DIR ${PROJECT_BINARY_DIR}/man)
set(_reactor_man_outputs)
foreach(_entry IN LISTS _reactor_man_pages)
  string(REPLACE "|" ";" _parts "${_entry}")
  list(GET _parts 0 _prog)
  list(GET _parts 1 _desc)
  set(_out ${REACTOR_MAN_DIR}/${_prog}.1)
  add_custom_command(OUTPUT ${_out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${REACTOR_MAN_DIR}
    COMMAND ${PROJECT_SOURCE_DIR}/cmake/gen_man.sh ${REACTOR_HELP2MAN} $<TARGET_FILE:${_prog}> "${_desc}"
            ${PROJECT_VERSION} ${_out}
    DEPENDS ${_prog} ${PROJECT_SOURCE_DIR}/cmake/gen_man.sh
    COMMENT "help2man ${_prog}.1" VERBATIM)
  list(APPEND _reactor_man_outputs ${_out})
endforeach()
add_custom_target(man_pages ALL DEPENDS ${_reactor_man_outputs})
install(FILES ${_reactor_man_outputs} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
if(REACTOR_BUILD_TESTS)
  # Each page renders with man -l and mentions every option of --help.
  add_test(NAME man_pages
           COMMAND ${PROJECT_SOURCE_DIR}/tests/integration/man_pages_test.sh ${REACTOR_MAN_DIR}
                   $<TARGET_FILE:reactord> $<TARGET_FILE:reactorctl> $<TARGET_FILE:reactor-bench>)
  set_tests_properties(man_pages PROPERTIES LABELS "integration" TIMEOUT 60 SKIP_RETURN_CODE 77)
endif()
