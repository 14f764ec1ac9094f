/*
 * tests/server/test_server_tls_options.c - the TLS fields of mef3_server_options
 * and mef3_client_options (version 2) in process: a caller built against
 * version 1, whose struct ends before them, still gets plain text and its
 * struct is not read past its end (it lives in a block of exactly its
 * size, for ASan); bad TLS files fail the start or the client's creation
 * with a message naming the file.  The wire itself is tests/cli_tls.sh.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mef3pool/client.h"
#include "mef3pool/server.h"
#include "testutil.h"

static int has(const char *text) {
  return strstr(mef3_error_last()->message, text) != NULL;
}

int main(void) {
  const char *dir = tu_scratch("tls_options");
  REQUIRE(dir);
  char nope[4096], notpem[4096];
  snprintf(nope, sizeof nope, "%s/missing.pem", dir);
  snprintf(notpem, sizeof notpem, "%s/not.pem", dir);
  FILE *f = fopen(notpem, "w");
  REQUIRE(f);
  fputs("hello\n", f);
  fclose(f);

  /* Version 1 of both structs: plain text, as before. */
  size_t s1 = offsetof(mef3_server_options, tls_cert_file);
  mef3_server_options full = MEF3_SERVER_OPTIONS_INIT;
  full.version = 1;
  full.port = 0;
  full.files.use_process_pool = 0;
  mef3_server_options *o1 = malloc(s1);
  REQUIRE(o1);
  memcpy(o1, &full, s1);
  mef3_server *srv = NULL;
  CHECK_RC(mef3_server_start(&srv, o1), 0);
  free(o1);
  REQUIRE(srv);
  char addr[64];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", mef3_server_port(srv));
  size_t c1 = offsetof(mef3_client_options, tls_ca_file);
  mef3_client_options cfull = MEF3_CLIENT_OPTIONS_INIT;
  cfull.version = 1;
  mef3_client_options *co1 = malloc(c1);
  REQUIRE(co1);
  memcpy(co1, &cfull, c1);
  mef3_client *c = NULL;
  CHECK_RC(mef3_client_new(&c, addr, co1), 0);
  free(co1);
  char **paths = NULL;
  size_t n = 9;
  if (c)
    CHECK_RC(mef3_client_list(&paths, &n, c), 0);
  CHECK(n == 0);
  mef3_files_list_free(paths, n);
  mef3_client_free(c);
  mef3_server_free(srv);

  /* Bad TLS files of the server: named, nothing started. */
  mef3_server_options o = MEF3_SERVER_OPTIONS_INIT;
  o.port = 0;
  o.files.use_process_pool = 0;
  o.tls_cert_file = nope;
  CHECK_RC(mef3_server_start(&srv, &o), MEF3_EINVAL); /* no key */
  CHECK(has("certificate and its key"));
  o.tls_key_file = notpem;
  CHECK_RC(mef3_server_start(&srv, &o), MEF3_EIO);
  CHECK(has("missing.pem: TLS certificate: cannot open"));
  o.tls_cert_file = notpem;
  CHECK_RC(mef3_server_start(&srv, &o), MEF3_EINVAL);
  CHECK(has("not.pem: TLS certificate: no \"-----BEGIN CERTIFICATE-----\""));
  o.tls_cert_file = o.tls_key_file = NULL;
  o.tls_client_ca_file = notpem;
  CHECK_RC(mef3_server_start(&srv, &o), MEF3_EINVAL);
  CHECK(has("a client CA alone"));
  CHECK(srv == NULL);

  /* And of the client. */
  mef3_client_options co = MEF3_CLIENT_OPTIONS_INIT;
  co.tls_ca_file = nope;
  CHECK_RC(mef3_client_new(&c, "127.0.0.1:1", &co), MEF3_EIO);
  CHECK(has("missing.pem: TLS CA: cannot open"));
  co.tls_ca_file = notpem;
  CHECK_RC(mef3_client_new(&c, "127.0.0.1:1", &co), MEF3_EINVAL);
  CHECK(has("not.pem: TLS CA: no"));
  co.tls_ca_file = NULL;
  co.tls_cert_file = notpem;
  co.tls_key_file = notpem;
  CHECK_RC(mef3_client_new(&c, "127.0.0.1:1", &co), MEF3_EINVAL);
  CHECK(has("needs the CA"));
  co.tls_key_file = NULL;
  CHECK_RC(mef3_client_new(&c, "127.0.0.1:1", &co), MEF3_EINVAL);
  CHECK(has("needs its key"));
  CHECK(c == NULL);
  return check_finish();
}
