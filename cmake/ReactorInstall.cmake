# cmake --install: headers, libreactor, the CMake package (reactor::reactor)
# and reactor.pc. DPDK, liburing, hwloc and spdlog are private to the shared
# library; consumers need only fmt (used by <reactor/log.hh>) and tl::expected.
include(CMakePackageConfigHelpers)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/reactor DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS reactor EXPORT reactorTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT reactorTargets NAMESPACE reactor:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/reactor)

file(WRITE ${PROJECT_BINARY_DIR}/reactorConfig.cmake.in [=[
@PACKAGE_INIT@
include(CMakeFindDependencyMacro)
find_dependency(Threads)
find_dependency(fmt)
include("${CMAKE_CURRENT_LIST_DIR}/reactorTargets.cmake")
check_required_components(reactor)
]=])
configure_package_config_file(${PROJECT_BINARY_DIR}/reactorConfig.cmake.in
  ${PROJECT_BINARY_DIR}/reactorConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/reactor)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/reactorConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/reactorConfig.cmake ${PROJECT_BINARY_DIR}/reactorConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/reactor)

file(WRITE ${PROJECT_BINARY_DIR}/reactor.pc.in [=[
prefix=${pcfiledir}/../..
libdir=${prefix}/@CMAKE_INSTALL_LIBDIR@
includedir=${prefix}/@CMAKE_INSTALL_INCLUDEDIR@

Name: reactor
Description: @PROJECT_DESCRIPTION@
Version: @PROJECT_VERSION@
Requires: fmt
Libs: -L${libdir} -lreactor -pthread
Cflags: -I${includedir} -std=c++20
]=])
configure_file(${PROJECT_BINARY_DIR}/reactor.pc.in ${PROJECT_BINARY_DIR}/reactor.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/reactor.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# reactord.service (systemd). Relative to the prefix; systemd reads units from
# /usr/lib/systemd/system and /usr/local/lib/systemd/system alike. Written at
# install time so that ExecStart= names the prefix given to cmake --install
# (--prefix), not the one configured.
set(REACTOR_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING "Where cmake --install puts reactord.service")
install(CODE "
  set(REACTOR_BINDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
  configure_file(\"${PROJECT_SOURCE_DIR}/src/tools/reactord.service.in\"
                 \"${PROJECT_BINARY_DIR}/reactord.service\" @ONLY)
")
install(FILES ${PROJECT_BINARY_DIR}/reactord.service DESTINATION ${REACTOR_SYSTEMD_UNIT_DIR})
