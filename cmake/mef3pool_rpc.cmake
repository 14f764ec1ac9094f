# The gRPC server and client: library mef3pool-rpc (static and shared), a
# layer above libmef3pool, kept apart so that programs that only decode do
# not pull in gRPC and protobuf-c (see docs/server.md).
#
# The C code of proto/mef3pool.proto comes from protoc-c at build time.
# protobuf-c 1.4 does not know proto3 `optional` (field presence), so it
# reads a copy with that keyword dropped: the wire format is the same; only
# "set to zero" and "not set" become one (see docs/protocol.md).
pkg_check_modules(GRPC REQUIRED IMPORTED_TARGET grpc)
pkg_check_modules(PROTOBUF_C REQUIRED IMPORTED_TARGET libprotobuf-c)
find_program(PROTOC_C protoc-c REQUIRED)

set(MEF3_PROTO ${PROJECT_SOURCE_DIR}/proto/mef3pool.proto)
set(MEF3_PROTO_GEN ${PROJECT_BINARY_DIR}/proto)
file(MAKE_DIRECTORY ${MEF3_PROTO_GEN})
add_custom_command(
  OUTPUT ${MEF3_PROTO_GEN}/mef3pool.pb-c.c ${MEF3_PROTO_GEN}/mef3pool.pb-c.h
  COMMAND sed -E "s/^([[:space:]]*)optional /\\1/"
          ${MEF3_PROTO} > ${MEF3_PROTO_GEN}/mef3pool.proto
  COMMAND ${PROTOC_C} --c_out=${MEF3_PROTO_GEN} -I${MEF3_PROTO_GEN}
          ${MEF3_PROTO_GEN}/mef3pool.proto
  DEPENDS ${MEF3_PROTO}
  COMMENT "protoc-c proto/mef3pool.proto"
  VERBATIM)

file(GLOB MEF3_RPC_SOURCES CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/src/rpc/*.c ${PROJECT_SOURCE_DIR}/src/server/*.c
  ${PROJECT_SOURCE_DIR}/src/client/*.c)
add_library(mef3pool_rpc_obj OBJECT ${MEF3_RPC_SOURCES}
  ${MEF3_PROTO_GEN}/mef3pool.pb-c.c)
target_include_directories(mef3pool_rpc_obj
  PUBLIC ${PROJECT_SOURCE_DIR}/include
  PRIVATE ${PROJECT_SOURCE_DIR}/src ${MEF3_PROTO_GEN})
target_compile_options(mef3pool_rpc_obj PRIVATE -fvisibility=hidden)
target_link_libraries(mef3pool_rpc_obj PUBLIC PkgConfig::GRPC
  PkgConfig::PROTOBUF_C Threads::Threads m)

add_library(mef3pool_rpc_static STATIC $<TARGET_OBJECTS:mef3pool_rpc_obj>)
set_target_properties(mef3pool_rpc_static PROPERTIES OUTPUT_NAME mef3pool-rpc)
target_include_directories(mef3pool_rpc_static PUBLIC
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:include>)
target_link_libraries(mef3pool_rpc_static PUBLIC mef3pool_static
  PkgConfig::GRPC PkgConfig::PROTOBUF_C Threads::Threads m)

add_library(mef3pool_rpc_shared SHARED $<TARGET_OBJECTS:mef3pool_rpc_obj>)
set_target_properties(mef3pool_rpc_shared PROPERTIES OUTPUT_NAME mef3pool-rpc
  VERSION ${PROJECT_VERSION} SOVERSION ${MEF3_SOVERSION})
target_include_directories(mef3pool_rpc_shared PUBLIC
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:include>)
target_link_libraries(mef3pool_rpc_shared PUBLIC mef3pool_shared
  PkgConfig::GRPC PkgConfig::PROTOBUF_C Threads::Threads m)

install(TARGETS mef3pool_rpc_static mef3pool_rpc_shared
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${MEF3_PROTO} DESTINATION ${CMAKE_INSTALL_DATADIR}/mef3pool)
