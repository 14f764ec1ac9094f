# What `cmake --install` puts in place besides the targets: pkg-config
# files for both libraries and the man page.
#
# The pkg-config files are relocatable, like the worker lookup: the prefix
# is found from where the .pc file lies (${pcfiledir}), so a prefix given
# only at install time (`cmake --install build --prefix P`) or moved later
# still gives the right -I and -L.  Absolute install dirs stay absolute.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(MEF3_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(MEF3_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  file(RELATIVE_PATH MEF3_PC_UP "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
  string(REGEX REPLACE "/$" "" MEF3_PC_UP "${MEF3_PC_UP}")
  set(MEF3_PC_PREFIX "\${pcfiledir}/${MEF3_PC_UP}")
  set(MEF3_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(MEF3_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(MEF3_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/mef3pool.pc.in
  ${PROJECT_BINARY_DIR}/mef3pool.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/mef3pool.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(MEF3_WITH_GRPC)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/mef3pool-rpc.pc.in
    ${PROJECT_BINARY_DIR}/mef3pool-rpc.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/mef3pool-rpc.pc
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endif()
install(FILES ${PROJECT_SOURCE_DIR}/docs/mef3pool.1
  DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
