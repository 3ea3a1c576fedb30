# Every dependency comes from Debian packages (scripts/install-deps.sh).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(CLI11 QUIET CONFIG)
pkg_check_modules(URING REQUIRED IMPORTED_TARGET liburing>=2.1)
pkg_check_modules(HWLOC REQUIRED IMPORTED_TARGET hwloc>=2.0)

# USDT probes: <sys/sdt.h> is header-only (systemtap-sdt-dev); the probes are
# nops with ELF notes, so they are on by default.
if(REACTOR_USDT)
  include(CheckIncludeFileCXX)
  check_include_file_cxx(sys/sdt.h REACTOR_HAVE_SDT_H)
  if(NOT REACTOR_HAVE_SDT_H)
    message(FATAL_ERROR "REACTOR_USDT=ON needs <sys/sdt.h>: install systemtap-sdt-dev (scripts/install-deps.sh) or configure with -DREACTOR_USDT=OFF")
  endif()
endif()

# tl::expected is header-only (libexpected-dev).
find_path(TL_EXPECTED_INCLUDE tl/expected.hpp REQUIRED)
add_library(reactor_tl_expected INTERFACE)
if(NOT TL_EXPECTED_INCLUDE STREQUAL "/usr/include")
  target_include_directories(reactor_tl_expected SYSTEM INTERFACE ${TL_EXPECTED_INCLUDE})
endif()

# DPDK: only the libraries we use (ring, EAL, power), as SYSTEM headers so their
# C++20 warnings stay out of our build, and PRIVATE to the targets that use them
# so reactor::reactor and reactor.pc never leak DPDK to consumers.
pkg_check_modules(DPDK REQUIRED libdpdk>=22.11)
find_path(DPDK_CONFIG_DIR rte_config.h PATHS ${DPDK_INCLUDE_DIRS} REQUIRED)
add_library(reactor_dpdk INTERFACE)
target_include_directories(reactor_dpdk SYSTEM INTERFACE ${DPDK_INCLUDE_DIRS})
target_compile_options(reactor_dpdk INTERFACE -include ${DPDK_CONFIG_DIR}/rte_config.h)
target_link_libraries(reactor_dpdk INTERFACE -lrte_power -lrte_ring -lrte_eal -lrte_kvargs -lrte_telemetry)

if(REACTOR_BUILD_TESTS)
  find_package(GTest REQUIRED)
  find_package(rapidcheck QUIET)
endif()
if(REACTOR_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
