# What `cmake --install` puts where, for users of the library: the public
# headers, libshmq.a, the CMake package (find_package(shmq) -> shmq::shmq) and
# shmq.pc. The `shmq` and `shmqd` binaries install from tools/ and daemon/.
#
# Invariant: everything under lib/include except shmq/internal/ is public and
# self-contained (it includes only standard headers), so it is installed as a
# whole but for shmq/internal/: the internal interface of shmqd and the tool
# (docs/ARCHITECTURE.md), never installed.
include(CMakePackageConfigHelpers)

set(SHMQ_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/shmq)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/lib/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  PATTERN internal EXCLUDE)
install(TARGETS shmq EXPORT shmqTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
# The exported target carries its link dependencies: Threads::Threads (found
# again by shmqConfig.cmake) and rt.
install(EXPORT shmqTargets NAMESPACE shmq:: DESTINATION ${SHMQ_CMAKE_DIR})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/shmqConfig.cmake.in
  ${PROJECT_BINARY_DIR}/shmqConfig.cmake INSTALL_DESTINATION ${SHMQ_CMAKE_DIR})
# 0.x: a minor release may break the API, so only the same major.minor matches.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/shmqConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/shmqConfig.cmake ${PROJECT_BINARY_DIR}/shmqConfigVersion.cmake
  DESTINATION ${SHMQ_CMAKE_DIR})

# shmq.pc locates the prefix from its own directory (${pcfiledir}), so it stays
# right under `cmake --install --prefix` and DESTDIR. An absolute libdir or
# includedir is written as is.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(SHMQ_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(SHMQ_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
  set(SHMQ_PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
else()
  file(RELATIVE_PATH _shmq_pc_up "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")  # "../..", or "../../.." for lib/<multiarch>
  string(REGEX REPLACE "/$" "" _shmq_pc_up "${_shmq_pc_up}")
  set(SHMQ_PC_PREFIX "\${pcfiledir}/${_shmq_pc_up}")
  set(SHMQ_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  set(SHMQ_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/shmq.pc.in ${PROJECT_BINARY_DIR}/shmq.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/shmq.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
