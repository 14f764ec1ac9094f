# The web viewer and HTTP API: library mef3pool-http (static), over
# libmicrohttpd, zlib and cJSON (Debian packages), using only the public
# API of libmef3pool.  The page (web/) is compiled in: nothing to install
# or fetch at run time.
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
pkg_check_modules(ZLIB_PC REQUIRED IMPORTED_TARGET zlib)
pkg_check_modules(CJSON_HTTP REQUIRED IMPORTED_TARGET libcjson)

file(GLOB MEF3_WEB_FILES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/web/*)
add_custom_command(
  OUTPUT ${PROJECT_BINARY_DIR}/http_assets.c
  COMMAND ${CMAKE_COMMAND} -DOUT=${PROJECT_BINARY_DIR}/http_assets.c
          -DDIR=${PROJECT_SOURCE_DIR}/web
          -P ${PROJECT_SOURCE_DIR}/cmake/embed_assets.cmake
  DEPENDS ${MEF3_WEB_FILES} ${PROJECT_SOURCE_DIR}/cmake/embed_assets.cmake
  COMMENT "embedding web/ (the viewer's page)")

file(GLOB MEF3_HTTP_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/http/*.c)
add_library(mef3pool_http_static STATIC ${MEF3_HTTP_SOURCES}
  ${PROJECT_BINARY_DIR}/http_assets.c)
set_target_properties(mef3pool_http_static PROPERTIES OUTPUT_NAME mef3pool-http)
target_include_directories(mef3pool_http_static
  PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
  PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(mef3pool_http_static PUBLIC mef3pool_static
  PkgConfig::MHD PkgConfig::ZLIB_PC PkgConfig::CJSON_HTTP Threads::Threads)
