/*
 * rpc/tls.c - reading the PEM files of TLS credentials (see rpc/tls.h).
 *
 * The check is only the PEM armour: whether the certificate parses, the
 * key matches it or a chain is complete, gRPC finds out when it listens or
 * connects.  A file over 1 MiB is refused (a chain is a few KiB), so a
 * wrong path such as a session file is not read whole.
 */
#include "rpc/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mef3pool/common.h"

#define PEM_MAX ((size_t)1 << 20)

void mef3__pem_free(char *pem) {
  if (!pem)
    return;
  volatile char *p = pem;
  while (*p)
    *p++ = 0;
  free(pem);
}

/* 1 when `pem` holds a block of `kind`. */
static int has_block(const char *pem, mef3__pem_kind kind) {
  if (kind == MEF3__PEM_CERT)
    return strstr(pem, "-----BEGIN CERTIFICATE-----") != NULL;
  /* PRIVATE KEY, RSA PRIVATE KEY, EC PRIVATE KEY, ... */
  for (const char *b = strstr(pem, "-----BEGIN "); b;
       b = strstr(b + 1, "-----BEGIN ")) {
    const char *eol = strstr(b + 11, "-----");
    const char *k = strstr(b + 11, "PRIVATE KEY-----");
    if (!eol || !k || k + 11 != eol || !strncmp(b + 11, "ENCRYPTED ", 10))
      continue;
    /* A traditional encrypted key says so in a header of its block. */
    const char *end = strstr(eol, "-----END ");
    const char *enc = strstr(eol, "Proc-Type: 4,ENCRYPTED");
    if (!enc || (end && enc > end))
      return 1;
  }
  return 0;
}

int mef3__pem_read(const char *path, mef3__pem_kind kind, const char *what,
                   char **out, char *err, size_t cap) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, cap, "%s: %s: cannot open: %s", path, what, strerror(errno));
    return MEF3_EIO;
  }
  char *buf = malloc(PEM_MAX + 1);
  if (!buf) {
    fclose(f);
    snprintf(err, cap, "%s: %s: out of memory", path, what);
    return MEF3_ENOMEM;
  }
  size_t n = fread(buf, 1, PEM_MAX + 1, f);
  int bad = ferror(f);
  fclose(f);
  buf[n <= PEM_MAX ? n : PEM_MAX] = '\0';
  int rc = 0;
  if (bad) {
    snprintf(err, cap, "%s: %s: cannot read", path, what);
    rc = MEF3_EIO;
  } else if (n > PEM_MAX) {
    snprintf(err, cap, "%s: %s: larger than 1 MiB, not a PEM file", path,
             what);
    rc = MEF3_EINVAL;
  } else if (memchr(buf, '\0', n)) {
    snprintf(err, cap, "%s: %s: binary, not a PEM file (DER? convert it "
                       "with openssl)", path, what);
    rc = MEF3_EINVAL;
  } else if (!has_block(buf, kind)) {
    if (kind == MEF3__PEM_KEY && strstr(buf, "ENCRYPTED"))
      snprintf(err, cap, "%s: %s: the key is encrypted; gRPC needs it "
                         "unencrypted (openssl pkey -in F -out G)", path, what);
    else
      snprintf(err, cap, "%s: %s: no \"-----BEGIN %s-----\" block, not a "
                         "PEM %s", path, what,
               kind == MEF3__PEM_CERT ? "CERTIFICATE" : "PRIVATE KEY",
               kind == MEF3__PEM_CERT ? "certificate" : "private key");
    rc = MEF3_EINVAL;
  }
  if (rc) {
    mef3__pem_free(buf);
    return rc;
  }
  *out = buf;
  return 0;
}
