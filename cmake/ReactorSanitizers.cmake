# REACTOR_SANITIZE applies to every target of the build (library, tests, tools)
# so instrumented and uninstrumented code never mix.
if(REACTOR_SANITIZE)
  string(REPLACE ";" "," _san "${REACTOR_SANITIZE}")
  add_compile_options(-fsanitize=${_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_san})
  # GCC 12's -Wmaybe-uninitialized misfires on instrumented -O2 code (e.g.
  # std::optional assignment); the sanitizers themselves catch real cases.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    add_compile_options(-Wno-maybe-uninitialized)
  endif()
  if("thread" IN_LIST REACTOR_SANITIZE)
    add_compile_definitions(REACTOR_TSAN=1)
    # gcc: "atomic_thread_fence is not supported with -fsanitize=thread" is a
    # note about race detection; the fences still execute. The wake-up
    # protocol's fences pair with seq_cst atomics that TSan does model.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      add_compile_options(-Wno-tsan)
    endif()
  endif()
endif()
