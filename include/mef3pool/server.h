/*
 * mef3pool/server.h - the gRPC server (library mef3pool-rpc): the service
 * "gRPCMef3Server" of proto/mef3pool.proto, wire-compatible with the Python
 * mef3io-server, serving a file manager (files.h).
 *
 * Threads: a server runs `cq_threads` threads driving gRPC completion-queue
 * events (never blocking on a decode or on a client) and `work_threads`
 * threads running file-manager calls.  A stream sends one chunk at a time:
 * the next is read only when the previous has left, so a slow client slows
 * only its own stream.  See docs/server.md.
 *
 * Every function here is safe to call from any thread, except that
 * mef3_server_free must be called once, after every other call returned.
 */
#ifndef MEF3POOL_SERVER_H
#define MEF3POOL_SERVER_H

#include "common.h"
#include "files.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mef3_server mef3_server;

#define MEF3_SERVER_OPTIONS_VERSION 2 /* 2: the TLS files */

typedef struct mef3_server_options {
  unsigned int version;        /* MEF3_SERVER_OPTIONS_VERSION */
  const char *bind_address;    /* "127.0.0.1" (loopback unless told) */
  int port;                    /* 50051; 0 = any free port */
  int cq_threads;              /* completion-queue threads (2) */
  int work_threads;            /* file-manager threads (8) */
  int max_streams;             /* concurrent GetSignalRange streams (16) */
  int64_t max_samples;         /* channels x samples per request (2^28) */
  int64_t chunk_bytes;         /* payload of a SignalChunk (2.5 MiB) */
  mef3_files_options files;    /* file-manager knobs; files.log is
                                  replaced by the server's log below */
  mef3_log_level log_level;    /* messages below are dropped (INFO) */
  mef3_log_fn log;             /* NULL: no logging */
  void *log_payload;
  /* TLS (docs/security.md), PEM files read at start: with a certificate
   * chain and its unencrypted key the server speaks only TLS; with a
   * client CA too, every client must present a certificate that CA
   * signed (mutual TLS).  NULL: plain text, with a warning in the log
   * when bind_address is not loopback. */
  const char *tls_cert_file;
  const char *tls_key_file;
  const char *tls_client_ca_file;
} mef3_server_options;

#define MEF3_SERVER_OPTIONS_INIT                                               \
  {                                                                            \
    MEF3_SERVER_OPTIONS_VERSION, "127.0.0.1", 50051, 2, 8, 16,               \
        (int64_t)1 << 28, (int64_t)2621440, MEF3_FILES_OPTIONS_INIT,          \
        MEF3_LOG_INFO, NULL, NULL, NULL, NULL, NULL                            \
  }

/*
 * Create a file manager, bind `bind_address:port` and start serving.
 * Returns 0, MEF3_EINVAL (bad option, the message names it; a TLS file
 * without its PEM block, naming the file), MEF3_EIO (cannot listen: the
 * message names the address and why, e.g. "cannot listen on
 * nonsense:50051: no such host (...)", "port in use", "not an address of
 * this machine"; or a TLS file cannot be read, or gRPC refused the
 * certificate or key), MEF3_ENOMEM, or the file manager's error.  The
 * message is the thread's last error (mef3_error_last).  The server owns
 * its file manager.
 */
MEF3_EXTERN int mef3_server_start(mef3_server **out,
                                  const mef3_server_options *opts);

/* The same as mef3_error_last() (kept for callers written before the
 * library had one error channel). */
MEF3_EXTERN const mef3_error *mef3_server_error_last(void);

/* The port the server listens on (useful with port 0). */
MEF3_EXTERN int mef3_server_port(const mef3_server *srv);

/*
 * Stop: accept no new call, let running calls finish for up to `grace_ms`
 * (0: cancel at once), then cancel what remains (streams stop between
 * chunks), stop every thread and shut the file manager and its pools down.
 * Blocks until done.  Calling it twice is fine.
 */
MEF3_EXTERN void mef3_server_shutdown(mef3_server *srv, int64_t grace_ms);

/* Shut down (grace 0) if still running, and free.  NULL is fine. */
MEF3_EXTERN void mef3_server_free(mef3_server *srv);

/* Counters of the server (the file manager's are in mef3_files_stats). */
typedef struct mef3_server_stats {
  uint64_t calls;           /* calls accepted */
  uint64_t active_calls;    /* calls in progress */
  uint64_t active_streams;  /* GetSignalRange streams in progress */
  uint64_t chunks_sent;
  uint64_t bytes_sent;      /* sample bytes sent */
  uint64_t cancelled;       /* streams stopped by their client/deadline */
  uint64_t refused;         /* calls refused for a limit */
} mef3_server_stats;

MEF3_EXTERN void mef3_server_get_stats(mef3_server_stats *out,
                                       mef3_server *srv);
/* The file manager's counters; zeros once shut down.  Not to be called
 * while mef3_server_shutdown runs. */
MEF3_EXTERN void mef3_server_get_files_stats(mef3_files_stats *out,
                                             mef3_server *srv);

/* The server's file manager (borrowed: valid until mef3_server_free;
 * shut down by mef3_server_shutdown), for other edges serving the same
 * files and tile cache, such as the HTTP viewer (http.h). */
MEF3_EXTERN mef3_files *mef3_server_files(mef3_server *srv);

/* ---- configuration: one table of knobs, as flags and environment ---- */

typedef struct mef3_server_knob {
  const char *flag;   /* "--tile-duration-s" */
  const char *env;    /* "TILE_DURATION_S" (the original's), or NULL */
  const char *arg;    /* "SECONDS" */
  const char *help;   /* one line, with the default */
} mef3_server_knob;

/* The knobs, in help order (a static table). */
MEF3_EXTERN const mef3_server_knob *mef3_server_knobs(size_t *n);

/*
 * Set a knob by its flag name ("--port") from a string.  Strings are
 * borrowed (keep them alive).  Returns 0 or MEF3_EINVAL with a message
 * (mef3_error_last) naming the knob and what it takes.
 */
MEF3_EXTERN int mef3_server_options_set(mef3_server_options *opts,
                                        const char *flag, const char *value);

/* Apply every knob whose environment variable is set (flags applied
 * afterwards win).  Returns 0 or MEF3_EINVAL as above. */
MEF3_EXTERN int mef3_server_options_from_env(mef3_server_options *opts);

/* The message of the last failure on this thread (after a failing
 * _set/_from_env: theirs), mef3_error_last()->message. */
MEF3_EXTERN const char *mef3_server_config_error(void);

#ifdef __cplusplus
}
#endif
#endif
