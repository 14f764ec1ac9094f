/*
 * server/server_internal.h - the server's private pieces: the gRPC core
 * object for the fuzz target (so that a harness can open an in-process
 * channel to it, grpc_inproc_channel_create, instead of a socket), and
 * the credentials of server_creds.c.
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

/* Room for a token as the server passes it on: longer values are cut to
 * a string no token equals, so they are refused. */
#define MEF3__SERVER_TOKEN_MAX 72

/* The access token of a call (metadata MEF3_RPC_TOKEN_KEY) into `out`
 * (`cap` bytes): "" when absent; a value too long, or holding a byte a
 * token never has, becomes "-" (refused by the file manager). */
void mef3__server_token(const grpc_metadata_array *md, char *out, size_t cap);

/* Zero a buffer that held a token (not optimized away). */
void mef3__server_wipe(void *p, size_t n);

#endif
