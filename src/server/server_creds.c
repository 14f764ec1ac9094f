/*
 * server/server_creds.c - the credentials a call carries: the access
 * token of its metadata (files.h, Access; docs/security.md).
 *
 * The server never decides who may read what: it hands the token to the
 * file manager, which checks it on every call.  Tokens are never logged;
 * buffers that held one are wiped.  Any thread.
 */
#include <string.h>

#include "server/server_internal.h"

void mef3__server_wipe(void *p, size_t n) {
  volatile unsigned char *b = p;
  while (n--)
    *b++ = 0;
}

void mef3__server_token(const grpc_metadata_array *md, char *out, size_t cap) {
  out[0] = '\0';
  static const char key[] = MEF3_RPC_TOKEN_KEY;
  for (size_t i = 0; i < md->count; i++) {
    const grpc_slice *k = &md->metadata[i].key;
    if (GRPC_SLICE_LENGTH(*k) != sizeof key - 1 ||
        memcmp(GRPC_SLICE_START_PTR(*k), key, sizeof key - 1))
      continue;
    const grpc_slice *v = &md->metadata[i].value;
    size_t n = GRPC_SLICE_LENGTH(*v);
    const unsigned char *p = GRPC_SLICE_START_PTR(*v);
    int ok = n > 0 && n < cap;
    for (size_t j = 0; ok && j < n; j++)
      ok = p[j] > 0x20 && p[j] < 0x7f;
    if (!ok) {
      memcpy(out, "-", 2);
      return;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return;
  }
}
