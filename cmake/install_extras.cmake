# What `cmake --install` puts in place besides the targets: pkg-config
# files for both libraries and the man page.
configure_file(${PROJECT_SOURCE_DIR}/cmake/mef3pool.pc.in
  ${PROJECT_BINARY_DIR}/mef3pool.pc @ONLY)
configure_file(${PROJECT_SOURCE_DIR}/cmake/mef3pool-rpc.pc.in
  ${PROJECT_BINARY_DIR}/mef3pool-rpc.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/mef3pool.pc ${PROJECT_BINARY_DIR}/mef3pool-rpc.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
install(FILES ${PROJECT_SOURCE_DIR}/docs/mef3pool.1
  DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
