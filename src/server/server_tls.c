/*
 * server/server_tls.c - what the server listens with: TLS from the PEM
 * files of mef3_server_options (mutual TLS when a client CA is given), or
 * plain text, and the warning for plain text beyond loopback.
 *
 * The files are read and checked at start, before the file manager and
 * gRPC are up, so a wrong path fails at once with one line naming it
 * (rpc/tls.h).  Their text is kept only until gRPC has copied it into its
 * credentials, then wiped: the key is a secret.  Start's thread only.
 */
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "rpc/tls.h"
#include "server/listen.h"
#include "server/server_impl.h"
#include "util/error.h"

int mef3__server_tls_load(mef3_server *s) {
  const mef3_server_options *o = &s->o;
  int cert = o->tls_cert_file && *o->tls_cert_file;
  int key = o->tls_key_file && *o->tls_key_file;
  int ca = o->tls_client_ca_file && *o->tls_client_ca_file;
  if (cert != key || (ca && !cert))
    return mef3__error(
        MEF3_EINVAL, "TLS needs both a certificate and its key%s",
        ca ? " (a client CA alone does not make a TLS server)" : "");
  if (!cert)
    return 0;
  char err[sizeof mef3_error_last()->message];
  int rc = mef3__pem_read(o->tls_cert_file, MEF3__PEM_CERT, "TLS certificate",
                          &s->tls_cert, err, sizeof err);
  if (!rc)
    rc = mef3__pem_read(o->tls_key_file, MEF3__PEM_KEY, "TLS key", &s->tls_key,
                        err, sizeof err);
  if (!rc && ca)
    rc = mef3__pem_read(o->tls_client_ca_file, MEF3__PEM_CERT,
                        "TLS client CA", &s->tls_ca, err, sizeof err);
  if (rc) {
    mef3__server_tls_drop(s);
    return mef3__error(rc, "%s", err);
  }
  s->tls = ca ? 2 : 1;
  return 0;
}

grpc_server_credentials *mef3__server_tls_creds(mef3_server *s) {
  if (!s->tls)
    return grpc_insecure_server_credentials_create();
  grpc_ssl_pem_key_cert_pair pair = {s->tls_key, s->tls_cert};
  /* With a client CA: no certificate signed by it, no connection. */
  return grpc_ssl_server_credentials_create_ex(
      s->tls_ca, &pair, 1,
      s->tls == 2 ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                  : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
      NULL);
}

void mef3__server_tls_drop(mef3_server *s) {
  mef3__pem_free(s->tls_cert);
  mef3__pem_free(s->tls_key);
  mef3__pem_free(s->tls_ca);
  s->tls_cert = s->tls_key = s->tls_ca = NULL;
}

/* 1 when every address `host` resolves to is a loopback one (127/8, ::1,
 * or 127/8 mapped into IPv6); a name that does not resolve is not. */
static int is_loopback(const char *host) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  if (!*host || getaddrinfo(host, NULL, &hints, &res))
    return 0;
  int all = 1;
  for (struct addrinfo *a = res; a && all; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      const struct sockaddr_in *v4 = (const void *)a->ai_addr;
      all = (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
    } else if (a->ai_family == AF_INET6) {
      const struct in6_addr *v6 =
          &((const struct sockaddr_in6 *)(const void *)a->ai_addr)->sin6_addr;
      all = IN6_IS_ADDR_LOOPBACK(v6) ||
            (IN6_IS_ADDR_V4MAPPED(v6) && v6->s6_addr[12] == 127);
    } else {
      all = 0;
    }
  }
  freeaddrinfo(res);
  return all;
}

void mef3__server_tls_warn(mef3_server *s) {
  if (!s->tls && !is_loopback(s->bind))
    mef3__server_log(
        s, MEF3_LOG_WARN,
        "serving plain text on %s, which is not loopback: passwords, access "
        "tokens and signals cross the network unencrypted; give a TLS "
        "certificate and key (--tls-cert, --tls-key; docs/security.md)",
        s->bind);
}
