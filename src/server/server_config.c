/*
 * server/server_config.c - the server's knobs: one table giving each its
 * flag, the environment variable (the Python original's, where it has
 * one), its help line and how to parse it into mef3_server_options.  The CLI builds `serve
 * --help` and its parsing from this table, so the three never disagree.
 *
 * Stateless; a failure's message is the thread's last error.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mef3pool/server.h"
#include "util/error.h"

typedef enum {
  K_INT,    /* int, in [min, max] */
  K_I64,    /* int64_t, in [min, max] */
  K_DBL,    /* double, >= min */
  K_MIB,    /* int64_t bytes, given in MiB (a double) */
  K_BOOL,   /* int: 1/0, true/false, yes/no, on/off */
  K_STR,    /* const char * */
  K_LEVEL,  /* mef3_log_level */
  K_OPTINT, /* int, "" or "auto" gives `dflt` */
} kind;

typedef struct {
  mef3_server_knob pub;
  kind k;
  size_t off; /* offset in mef3_server_options */
  double min, max;
  int dflt; /* K_OPTINT: the value of "auto" */
} knob;

#define O(f) offsetof(mef3_server_options, f)
#define F(f) offsetof(mef3_server_options, files) + offsetof(mef3_files_options, f)

static const knob knobs[] = {
    {{"--port", "PORT", "P", "TCP port (50051; 0 picks a free one)"},
     K_INT, O(port), 0, 65535, 0},
    {{"--bind", "BIND_ADDRESS", "ADDR",
      "address to listen on (127.0.0.1; 0.0.0.0 for every interface)"},
     K_STR, O(bind_address), 0, 0, 0},
    {{"--root", "DATA_ROOT", "DIR",
      "serve only files inside DIR (relative paths are taken from it)"},
     K_STR, F(data_root), 0, 0, 0},
    {{"--tile-duration-s", "TILE_DURATION_S", "S", "tile length in seconds (60)"},
     K_DBL, F(tile_duration_s), 1e-3, 1e7, 0},
    {{"--tile-cache-mb", "TILE_CACHE_MB", "MB", "tile cache budget in MiB (512)"},
     K_MIB, F(tile_cache_bytes), 1, 1 << 24, 0},
    {{"--cache-ttl-s", "CACHE_TTL_S", "S",
      "drop tiles idle this long, seconds (1800; 0 never)"},
     K_DBL, F(cache_ttl_s), 0, 1e9, 0},
    {{"--use-process-pool", "USE_PROCESS_POOL", "0|1",
      "decode in worker processes (1)"},
     K_BOOL, F(use_process_pool), 0, 1, 0},
    {{"--reader-processes", "READER_PROCESSES", "N",
      "worker processes of both lanes (auto: cores - 1, at least 2)"},
     K_OPTINT, F(reader_processes), 1, 1024, 0},
    {{"--prefetch-processes", "PREFETCH_PROCESSES", "N",
      "of which the prefetch lane (auto: half)"},
     K_OPTINT, F(prefetch_processes), 0, 1024, -1},
    {{"--min-parallel-tiles", "MIN_PARALLEL_TILES", "N",
      "use the pool only when this many tiles miss (2)"},
     K_INT, F(min_parallel_tiles), 1, 1 << 20, 0},
    {{"--prefetch-ahead-windows", "PREFETCH_AHEAD_WINDOWS", "N",
      "windows prefetched ahead of each read (1)"},
     K_INT, F(prefetch_ahead_windows), 0, 1000, 0},
    {{"--prefetch-behind-windows", "PREFETCH_BEHIND_WINDOWS", "N",
      "windows prefetched behind each read (1)"},
     K_INT, F(prefetch_behind_windows), 0, 1000, 0},
    {{"--max-open-files", "MAX_OPEN_FILES", "N",
      "files open at once (0: no limit)"},
     K_I64, F(max_open_files), 0, 1e9, 0},
    {{"--max-streams", "MAX_STREAMS", "N",
      "GetSignalRange and GetEnvelope streams at once (16)"},
     K_INT, O(max_streams), 1, 100000, 0},
    {{"--max-samples", "MAX_SAMPLES", "N",
      "channels x samples per request (268435456 = 1 GiB of float32)"},
     K_I64, O(max_samples), 1, 9e18, 0},
    {{"--chunk-bytes", "CHUNK_BYTES", "N",
      "payload of a streamed chunk, bytes (2621440 = 2.5 MiB, as the original)"},
     K_I64, O(chunk_bytes), 4, 64 << 20, 0},
    {{"--threads", "SERVER_THREADS", "N",
      "threads running file-manager calls (8)"},
     K_INT, O(work_threads), 1, 1024, 0},
    {{"--tls-cert", "TLS_CERT", "FILE",
      "serve TLS with this PEM certificate chain (needs --tls-key)"},
     K_STR, O(tls_cert_file), 0, 0, 0},
    {{"--tls-key", "TLS_KEY", "FILE",
      "the certificate's PEM private key, unencrypted"},
     K_STR, O(tls_key_file), 0, 0, 0},
    {{"--tls-client-ca", "TLS_CLIENT_CA", "FILE",
      "mutual TLS: only clients with a certificate from these CAs"},
     K_STR, O(tls_client_ca_file), 0, 0, 0},
    {{"--log-level", "LOG_LEVEL", "LEVEL", "debug, info, warn or error (info)"},
     K_LEVEL, O(log_level), 0, 0, 0},
};

/* The public part of each entry, as a plain array, built once. */
static mef3_server_knob pub_knobs[sizeof knobs / sizeof *knobs];
static pthread_once_t pub_once = PTHREAD_ONCE_INIT;

static void build_pub(void) {
  for (size_t i = 0; i < sizeof knobs / sizeof *knobs; i++)
    pub_knobs[i] = knobs[i].pub;
}

const mef3_server_knob *mef3_server_knobs(size_t *n) {
  pthread_once(&pub_once, build_pub);
  *n = sizeof knobs / sizeof *knobs;
  return pub_knobs;
}

/* The message of a failing _set/_from_env is the thread's last error;
 * this reads it under the name server.h gives it. */
const char *mef3_server_config_error(void) {
  return mef3_error_last()->message;
}

static int fail(const knob *k, const char *from, const char *value,
                const char *what) {
  return mef3__error(MEF3_EINVAL, "%s%s%s: \"%s\": %s", from,
                     from[0] ? " " : "", from[0] ? k->pub.env : k->pub.flag,
                     value, what);
}

static int apply(mef3_server_options *o, const knob *k, const char *v,
                 const char *from) {
  char *p = (char *)o + k->off, *end;
  double d;
  long long ll;
  errno = 0;
  switch (k->k) {
  case K_STR:
    *(const char **)p = v;
    return 0;
  case K_LEVEL:
    if (mef3_log_level_parse((mef3_log_level *)p, v))
      return fail(k, from, v, "takes debug, info, warn or error");
    return 0;
  case K_BOOL:
    if (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
        !strcasecmp(v, "on"))
      *(int *)p = 1;
    else if (!strcmp(v, "0") || !strcasecmp(v, "false") ||
             !strcasecmp(v, "no") || !strcasecmp(v, "off"))
      *(int *)p = 0;
    else
      return fail(k, from, v, "takes 1 or 0");
    return 0;
  case K_OPTINT:
    if (!*v || !strcasecmp(v, "auto")) {
      *(int *)p = k->dflt;
      return 0;
    }
    /* fall through */
  case K_INT:
  case K_I64:
    ll = strtoll(v, &end, 10);
    if (errno || end == v || *end || (double)ll < k->min ||
        (double)ll > k->max) {
      char what[96];
      snprintf(what, sizeof what, "takes an integer from %.0f to %.0f%s",
               k->min, k->max, k->k == K_OPTINT ? " or auto" : "");
      return fail(k, from, v, what);
    }
    if (k->k == K_I64)
      *(int64_t *)p = ll;
    else
      *(int *)p = (int)ll;
    return 0;
  case K_DBL:
  case K_MIB:
    d = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(d) || d < k->min ||
        d > k->max) {
      char what[96];
      snprintf(what, sizeof what, "takes a number from %.15g to %.15g", k->min,
               k->max);
      return fail(k, from, v, what);
    }
    if (k->k == K_MIB)
      *(int64_t *)p = (int64_t)llround(d * 1048576.0);
    else
      *(double *)p = d;
    return 0;
  }
  return mef3__error(MEF3_EINVAL, "%s: unknown kind of option", k->pub.flag);
}

int mef3_server_options_set(mef3_server_options *o, const char *flag,
                            const char *value) {
  for (size_t i = 0; i < sizeof knobs / sizeof *knobs; i++)
    if (!strcmp(knobs[i].pub.flag, flag))
      return apply(o, &knobs[i], value ? value : "", "");
  return mef3__error(MEF3_EINVAL, "unknown option %s", flag);
}

int mef3_server_options_from_env(mef3_server_options *o) {
  for (size_t i = 0; i < sizeof knobs / sizeof *knobs; i++) {
    const char *v = knobs[i].pub.env ? getenv(knobs[i].pub.env) : NULL;
    if (!v)
      continue;
    /* The original treats an empty READER_PROCESSES as "auto"; elsewhere
     * an empty variable is as good as unset. */
    if (!*v && knobs[i].k != K_OPTINT)
      continue;
    int rc = apply(o, &knobs[i], v, "environment variable");
    if (rc)
      return rc;
  }
  return 0;
}
