/*
 * server/server_internal.h - what the fuzz target needs beyond server.h:
 * the server's gRPC core object, so that a harness can open an in-process
 * channel to it (grpc_inproc_channel_create) instead of a socket.
 *
 * Private to mef3pool (not installed); src/rpc/rpc.h brings the gRPC
 * headers.
 */
#ifndef MEF3_SERVER_INTERNAL_H
#define MEF3_SERVER_INTERNAL_H

#include "mef3pool/server.h"
#include "rpc/rpc.h"

/* The server's grpc_server, borrowed: valid from mef3_server_start until
 * mef3_server_shutdown begins. */
grpc_server *mef3__server_grpc(mef3_server *s);

#endif
