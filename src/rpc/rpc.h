/*
 * rpc/rpc.h - glue shared by the gRPC server and client: the gRPC C core
 * headers, protobuf-c messages in and out of gRPC byte buffers, the table
 * mapping MEF3 error codes to gRPC status codes, and times.
 *
 * Private to the mef3pool-rpc library (src/server, src/client).
 */
#ifndef MEF3_RPC_H
#define MEF3_RPC_H

#include <stddef.h>
#include <stdint.h>

/* The gRPC C headers declare `f()` without `void`; -Wstrict-prototypes
 * would fail the build on them. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>
#pragma GCC diagnostic pop

#include "mef3pool.pb-c.h"
#include "mef3pool/common.h"

/* Full method names of the service (no proto package, as the original). */
#define MEF3_RPC_OPEN "/gRPCMef3Server/OpenFile"
#define MEF3_RPC_CLOSE "/gRPCMef3Server/CloseFile"
#define MEF3_RPC_INFO "/gRPCMef3Server/FileInfo"
#define MEF3_RPC_RANGE "/gRPCMef3Server/GetSignalRange"
#define MEF3_RPC_LIST "/gRPCMef3Server/ListOpenFiles"
/* Addition: not in the original service. */
#define MEF3_RPC_ENVELOPE "/gRPCMef3Server/GetEnvelope"

/* The header our clients send with the session path of each call
 * (%XX-encoded beyond printable ASCII, see client_call.c), for a proxy's
 * session affinity; servers ignore it.  At most _MAX bytes. */
#define MEF3_RPC_SESSION_HEADER "x-mef3-session"
#define MEF3_RPC_SESSION_HEADER_MAX 2048

/* The call metadata that carries an access token (files.h, Access). */
#define MEF3_RPC_TOKEN_KEY "mef3-access-token"

/* Target payload of one SignalChunk, as the original: int(2.5 MiB). */
#define MEF3_RPC_CHUNK_BYTES ((size_t)2621440)

/* Serialize a message into a new byte buffer (one slice); NULL when out of
 * memory.  The caller destroys the buffer (or hands it to a batch). */
grpc_byte_buffer *mef3__rpc_pack(const ProtobufCMessage *m);

/* Parse a byte buffer as a message of descriptor `d`; NULL when it does
 * not parse (free the result with protobuf_c_message_free_unpacked). */
ProtobufCMessage *mef3__rpc_unpack(const ProtobufCMessageDescriptor *d,
                                   grpc_byte_buffer *bb);

/*
 * The one table between MEF3 error codes and gRPC status codes.  Data
 * errors (a file that is missing or damaged, an unknown channel) travel
 * in error_message with status OK, as in the original server; what is not
 * a data error gets its own status, and a wrong or missing password or
 * access token is PERMISSION_DENIED.
 */
grpc_status_code mef3__rpc_status_of(int code);
/* The reverse, for clients: a non-OK status as a MEF3 code. */
int mef3__rpc_code_of_status(grpc_status_code st);
/* MEF3 code from its symbolic name ("MEF3_ENOTFOUND"); MEF3_ERROR when the
 * name is unknown, 0 for NULL or "". */
int mef3__rpc_code_of_name(const char *name);
/* Name of a gRPC status code ("DEADLINE_EXCEEDED"). */
const char *mef3__rpc_status_name(grpc_status_code st);

/* An absolute deadline `ms` from now (ms < 0: none). */
gpr_timespec mef3__rpc_deadline(int64_t ms);
/* 1 when the deadline has passed. */
int mef3__rpc_past(gpr_timespec deadline);

/* 1 when length-delimited field `field` of the top-level message in `bb`
 * holds a NUL byte (a path a C string would silently cut short). */
int mef3__rpc_field_has_nul(grpc_byte_buffer *bb, uint32_t field);

/* The first length-delimited occurrence of `field` in the top-level
 * message p[0..n): offsets of its tag and of its bytes, and their length.
 * Returns 0, or -1 when absent or the message does not parse. */
int mef3__rpc_find_field(const uint8_t *p, size_t n, uint32_t field,
                         size_t *tag_off, size_t *data_off, size_t *data_len);

/*
 * A received message read in place, as the slices gRPC holds (no copy of
 * the whole): one length-delimited field can be cut out of it (the samples
 * of a SignalChunk) and copied piece by piece to where it belongs, while
 * the rest of the message, small, is copied out to be unpacked.
 */
typedef struct {
  const grpc_slice *sl; /* the message's slices */
  size_t nsl;
  grpc_slice flat;      /* owned when the buffer had to be flattened */
  int has_flat;
  size_t i, o;          /* cursor over the field: slice, offset */
  size_t left;          /* bytes of the field not yet read */
} mef3__rpc_msg;

/*
 * Open `bb` (which must outlive `m`) and find the last occurrence of
 * length-delimited `field` (protobuf: the last one wins).  `*rest` gets a
 * malloc'd copy of every other field (`*rest_len` bytes), to be unpacked
 * with protobuf-c; m->left is the field's length (0 when absent).
 * Returns 0, -1 when the message does not parse, -2 when memory is short.
 */
int mef3__rpc_msg_open(mef3__rpc_msg *m, grpc_byte_buffer *bb, uint32_t field,
                       uint8_t **rest, size_t *rest_len);
/* Copy the field's next `n` bytes to `dst`; -1 when fewer are left. */
int mef3__rpc_msg_read(mef3__rpc_msg *m, void *dst, size_t n);
void mef3__rpc_msg_close(mef3__rpc_msg *m);

/* Write a protobuf varint; returns bytes written (at most 10). */
size_t mef3__rpc_varint(uint8_t *out, uint64_t v);

#endif
