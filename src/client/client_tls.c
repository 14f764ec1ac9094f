/*
 * client/client_tls.c - the credentials of a client's channel: TLS from
 * the PEM files of mef3_client_options (with a client certificate for
 * mutual TLS), or plain text.
 *
 * The files are read when the client is made, so a wrong path fails
 * there, naming it (rpc/tls.h), not at the first call.  gRPC copies the
 * text into its credentials; ours is wiped.  Any thread.
 */
#include "client/client_impl.h"
#include "rpc/tls.h"
#include "util/error.h"

int mef3__client_creds(const mef3_client_options *o,
                       grpc_channel_credentials **out, int *tls) {
  *out = NULL;
  *tls = 0;
  int ca = o->tls_ca_file && *o->tls_ca_file;
  int cert = o->tls_cert_file && *o->tls_cert_file;
  int key = o->tls_key_file && *o->tls_key_file;
  if (cert != key)
    return mef3__error(MEF3_EINVAL, "client: a TLS client certificate "
                                           "needs its key, and a key its "
                                           "certificate");
  if (cert && !ca)
    return mef3__error(MEF3_EINVAL,
                              "client: a TLS client certificate needs the CA "
                              "of the server's certificate too (tls_ca_file)");
  if (!ca) {
    *out = grpc_insecure_credentials_create();
    return *out ? 0 : mef3__error(MEF3_ENOMEM, "client: out of memory");
  }
  char err[sizeof mef3_error_last()->message];
  char *ca_pem = NULL, *cert_pem = NULL, *key_pem = NULL;
  int rc = mef3__pem_read(o->tls_ca_file, MEF3__PEM_CERT, "TLS CA", &ca_pem,
                          err, sizeof err);
  if (!rc && cert)
    rc = mef3__pem_read(o->tls_cert_file, MEF3__PEM_CERT,
                        "TLS client certificate", &cert_pem, err, sizeof err);
  if (!rc && cert)
    rc = mef3__pem_read(o->tls_key_file, MEF3__PEM_KEY, "TLS client key",
                        &key_pem, err, sizeof err);
  if (!rc) {
    grpc_ssl_pem_key_cert_pair pair = {key_pem, cert_pem};
    *out = grpc_ssl_credentials_create(ca_pem, cert ? &pair : NULL, NULL, NULL);
    if (!*out)
      rc = mef3__error(MEF3_ENOMEM, "client: out of memory");
    *tls = 1;
  } else {
    mef3__error(rc, "%s", err);
  }
  mef3__pem_free(ca_pem);
  mef3__pem_free(cert_pem);
  mef3__pem_free(key_pem);
  return rc;
}
