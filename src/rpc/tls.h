/*
 * rpc/tls.h - PEM files for the gRPC core's SSL credentials, read and
 * checked before gRPC sees them (internal to mef3pool-rpc).
 *
 * gRPC takes certificates and keys as PEM text and parses them only when
 * it listens or connects, where a bad file becomes a raw log line and a
 * bare failure.  We read each file ourselves and check that it holds the
 * PEM block it should, so the caller gets one line naming the file and
 * what is wrong.  Any thread; no state.
 */
#ifndef MEF3_RPC_TLS_H
#define MEF3_RPC_TLS_H

#include <stddef.h>

typedef enum {
  MEF3__PEM_CERT, /* one or more "-----BEGIN CERTIFICATE-----" blocks */
  MEF3__PEM_KEY,  /* a "-----BEGIN ... PRIVATE KEY-----" block */
} mef3__pem_kind;

/*
 * Read the PEM file `path` of `kind` into a new NUL-terminated string
 * (`*out`, free with mef3__pem_free).  `what` names the file's role in
 * messages ("TLS certificate").  Returns 0, or MEF3_EINVAL / MEF3_EIO /
 * MEF3_ENOMEM with one line in `err` ("server.key: TLS key: not a PEM
 * private key").
 */
int mef3__pem_read(const char *path, mef3__pem_kind kind, const char *what,
                   char **out, char *err, size_t cap);

/* Wipe (a key is a secret) and free a string of mef3__pem_read; NULL is
 * fine. */
void mef3__pem_free(char *pem);

#endif
