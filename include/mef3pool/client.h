/*
 * mef3pool/client.h - a small C client of the gRPC service (library
 * mef3pool-rpc), for the mef3pool server or the Python mef3io-server.
 *
 * Results use the file manager's plain types (files.h): mef3_file_info
 * for OpenFile/FileInfo, mef3_signal for GetSignalRange, mef3_envelope
 * for GetEnvelope, freed with their usual functions.
 *
 * Errors: functions return 0 or a negative MEF3_E... code; the detail is
 * the thread's last error, read with mef3_error_last() (common.h) like
 * every other failure of the library.  A server's
 * error_message becomes the detail and its error_code (or, from servers
 * that send none, MEF3_ERROR) the code; a gRPC status that is not OK maps
 * back through the server's table (DEADLINE_EXCEEDED is MEF3_ETIMEDOUT,
 * RESOURCE_EXHAUSTED MEF3_ELIMIT, UNAVAILABLE MEF3_EIO, ...).  MEF3_EIO is
 * what a caller may retry: no server there, or a stream cut on the way
 * (INTERNAL, which our server never sends: a reset through a proxy whose
 * node died).
 *
 * Every call that names a session sends its path in the header
 * x-mef3-session (docs/protocol.md), for a proxy's session affinity.
 *
 * Threads: a client may be used by any number of threads at once (each
 * call has its own completion queue; the connection is shared).
 */
#ifndef MEF3POOL_CLIENT_H
#define MEF3POOL_CLIENT_H

#include "common.h"
#include "files.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mef3_client mef3_client;

#define MEF3_CLIENT_OPTIONS_VERSION 2 /* 2: the TLS files */

typedef struct mef3_client_options {
  unsigned int version;  /* MEF3_CLIENT_OPTIONS_VERSION */
  int64_t timeout_ms;    /* deadline of each call (-1: none; default 60 s) */
  /* TLS (docs/security.md), PEM files read by mef3_client_new: with a CA
   * the client speaks TLS and accepts only a server whose certificate
   * chains to it and names HOST (a DNS name or IP address in its subject
   * alternative names).  With a certificate and its unencrypted key too,
   * it presents them to a server asking for one (mutual TLS).  NULL:
   * plain text. */
  const char *tls_ca_file;
  const char *tls_cert_file;
  const char *tls_key_file;
} mef3_client_options;

#define MEF3_CLIENT_OPTIONS_INIT                                               \
  { MEF3_CLIENT_OPTIONS_VERSION, 60000, NULL, NULL, NULL }

/*
 * Connect to "HOST:PORT", in plain text or with TLS (see the options).
 * Cheap: the connection is made at the first call; a server that cannot
 * be reached, or refuses the TLS handshake, fails that call with
 * MEF3_EIO (the detail says what happened and, for a plain-text client
 * whose connection was closed, that the server may require TLS).  `opts`
 * may be NULL.  Returns 0, MEF3_EINVAL (no address; a certificate without
 * its key or without a CA; a TLS file that is not PEM), MEF3_EIO (a TLS
 * file cannot be read), MEF3_ENOMEM; the detail names the file.
 */
MEF3_EXTERN int mef3_client_new(mef3_client **out, const char *address,
                                const mef3_client_options *opts);

/* Close the connection and free.  NULL is fine. */
MEF3_EXTERN void mef3_client_free(mef3_client *c);

/*
 * OpenFile.  `password` may be NULL.  `*out` (may be NULL) receives the
 * file's info.  Opening a file already open succeeds and sets
 * *already_open (may be NULL).  The access token the server returns (for
 * a session opened with a password, files.h) is kept for `path`, spelled
 * as given, and sent with every later info, read and close of `path`
 * through this client; a wrong password is MEF3_EPASSWORD.
 */
MEF3_EXTERN int mef3_client_open(mef3_file_info **out, int *already_open,
                                 mef3_client *c, const char *path,
                                 const char *password);

/*
 * The access token kept for `path` (MEF3_FILES_TOKEN_CHARS hex digits and
 * a NUL into `out`): 0, or MEF3_ENOTFOUND when there is none.  Set one
 * obtained elsewhere (another client's open), or forget it (NULL).  A
 * token is a credential: keep it from logs.
 */
MEF3_EXTERN int mef3_client_token_get(mef3_client *c, const char *path,
                                      char out[MEF3_FILES_TOKEN_CHARS + 1]);
MEF3_EXTERN int mef3_client_token_set(mef3_client *c, const char *path,
                                      const char *token);

/* FileInfo.  MEF3_ENOTFOUND when the file is not open; MEF3_EPASSWORD
 * when it was opened with a password and this client holds no valid
 * token for it. */
MEF3_EXTERN int mef3_client_info(mef3_file_info **out, mef3_client *c,
                                 const char *path);

/* CloseFile (closing a file that is not open succeeds, as the server
 * reports it); the path's token is forgotten. */
MEF3_EXTERN int mef3_client_close_file(mef3_client *c, const char *path);

/* ListOpenFiles: free with mef3_files_list_free. */
MEF3_EXTERN int mef3_client_list(char ***out, size_t *n, mef3_client *c);

/* Called after each chunk of a read (may be NULL): samples per channel
 * received so far and the total (0 when the server does not say).
 * Returning non-zero cancels the read (MEF3_ECANCELED); the server stops
 * decoding it. */
typedef int (*mef3_client_progress_fn)(int64_t done, int64_t total,
                                       void *payload);

/*
 * GetSignalRange: channels (n_channels 0: all) over [start, end),
 * reassembled from the streamed chunks into one (channels, samples)
 * float32 signal.  A stream that ends early, or chunks that do not fit
 * together, are MEF3_EIO.
 */
MEF3_EXTERN int mef3_client_read(mef3_signal **out, mef3_client *c,
                                 const char *path, const char *const *channels,
                                 size_t n_channels, int64_t start_uutc,
                                 int64_t end_uutc,
                                 mef3_client_progress_fn progress,
                                 void *payload);

/* The shape of a window read with mef3_client_read_into. */
typedef struct mef3_client_shape {
  size_t n_channels, n_samples;
  double fs;
} mef3_client_shape;

/*
 * As mef3_client_read, into the caller's memory: `data` (`cap` floats)
 * receives the (channels, samples) window row-major and `*shape` its
 * shape.  The rows are the channels asked for, in order (every channel of
 * the file, in its order, when n_channels is 0).  A window that does not
 * fit is MEF3_ELIMIT and the read is cancelled; after any error the
 * buffer's contents are unspecified.  For readers of window after window
 * (a viewer's display buffer): fresh memory costs page faults on every
 * read, a buffer used again does not.
 */
MEF3_EXTERN int mef3_client_read_into(mef3_client_shape *shape, mef3_client *c,
                                      const char *path,
                                      const char *const *channels,
                                      size_t n_channels, int64_t start_uutc,
                                      int64_t end_uutc, float *data, size_t cap,
                                      mef3_client_progress_fn progress,
                                      void *payload);

/*
 * GetEnvelope (an addition, docs/protocol.md): channels (n_channels 0:
 * all; one rate) over [start, end) reduced to at most `max_columns`
 * (1..65536) columns of (min, max), joined from the streamed chunks into
 * one envelope laid out as mef3_files_envelope's (files.h), which the
 * server computes; `*out` is the caller's (mef3_envelope_free).  Returns
 * 0; MEF3_EINVAL (bad columns or times, an unknown channel, rates that
 * differ), MEF3_EPASSWORD (no valid token for a session opened with a
 * password), MEF3_ENOTFOUND (not open), MEF3_ELIMIT (over the server's
 * --max-samples), MEF3_EUNSUPPORTED (a server without the call: the
 * original mef3io-server), MEF3_EIO (a stream cut short).
 */
MEF3_EXTERN int mef3_client_envelope(mef3_envelope **out, mef3_client *c,
                                     const char *path,
                                     const char *const *channels,
                                     size_t n_channels, int64_t start_uutc,
                                     int64_t end_uutc, size_t max_columns);

/* The same as mef3_error_last() (kept for callers written before the
 * library had one error channel); never NULL. */
MEF3_EXTERN const mef3_error *mef3_client_error_last(void);

#ifdef __cplusplus
}
#endif
#endif
