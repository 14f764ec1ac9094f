/*
 * mef3pool/http.h - the web viewer and its HTTP API (library
 * mef3pool-http), served over libmicrohttpd from a file manager that may
 * be shared with the gRPC server (mef3_server_files).
 *
 * The API is described in docs/http.md: sessions (open ones, and those
 * available under the data root), open, close, info, windows as
 * little-endian float32, envelopes, records.  The viewer's page (HTML,
 * JavaScript, CSS) is compiled into the library: nothing is fetched from
 * anywhere else.
 *
 * Files: with a data root (the file manager's), open takes paths inside
 * it; without one, the HTTP API opens only the paths of `sessions` (as
 * `mef3pool view` gives) and serves what is open.
 * Passwords come in the body of POST /api/open only, never in a URL, and
 * are never logged.
 *
 * Threads: libmicrohttpd runs one thread per connection (at most
 * max_connections), plus its listening thread.  A handler runs on its
 * connection's thread and calls the file manager there; the manager's
 * pools decode.  Every function here is safe from any thread, except
 * that mef3_http_free must come after every other call returned.
 */
#ifndef MEF3POOL_HTTP_H
#define MEF3POOL_HTTP_H

#include "common.h"
#include "files.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mef3_http mef3_http;

#define MEF3_HTTP_OPTIONS_VERSION 1

typedef struct mef3_http_options {
  unsigned int version;     /* MEF3_HTTP_OPTIONS_VERSION */
  const char *bind_address; /* "127.0.0.1" (loopback unless told) */
  int port;                 /* 8080; 0 = any free port */
  int max_connections;      /* 64 */
  int64_t max_samples;      /* channels x samples per window (2^26) */
  const char *tls_cert;     /* PEM files: HTTPS when both are set */
  const char *tls_key;
  mef3_log_fn log; /* NULL: no logging; requests at DEBUG, errors at WARN */
  void *log_payload;
  const char *const *sessions; /* paths POST /api/open may open even
                                  without a data root (copied) */
  size_t n_sessions;
} mef3_http_options;

#define MEF3_HTTP_OPTIONS_INIT                                                 \
  {                                                                            \
    MEF3_HTTP_OPTIONS_VERSION, "127.0.0.1", 8080, 64, (int64_t)1 << 26, NULL,  \
        NULL, NULL, NULL, NULL, 0                                              \
  }

/*
 * Serve `fm` (borrowed: it must outlive the server) on
 * bind_address:port.  Returns 0, MEF3_EINVAL (bad option, unreadable TLS
 * files), MEF3_EIO (cannot listen: the message names the address),
 * MEF3_ENOMEM; the message is the thread's last error (mef3_error_last).
 */
MEF3_EXTERN int mef3_http_start(mef3_http **out, mef3_files *fm,
                                const mef3_http_options *opts);

/* The port listened on (useful with port 0). */
MEF3_EXTERN int mef3_http_port(const mef3_http *h);

/* Stop listening, wait for the connections' threads, free.  NULL is
 * fine. */
MEF3_EXTERN void mef3_http_free(mef3_http *h);

#ifdef __cplusplus
}
#endif
#endif
