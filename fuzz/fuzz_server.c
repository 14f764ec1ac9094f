/*
 * fuzz/fuzz_server.c - the gRPC server's request handling: a real
 * mef3_server (in-process decoding, small limits) talked to through the
 * gRPC core's in-process transport, with every request's bytes taken from
 * the input.
 *
 * Set-up (once per process): a private temporary directory holding
 *   root/a.mefd, b.mefd, enc.mefd   copies of golden a_single_256hz,
 *                                   b_multi_8ch, d_encrypted
 *   root/in.mefd -> a.mefd          a link that stays inside
 *   root/out.mefd -> outside/o.mefd, root/outfile -> outside/secret,
 *   root/chain.mefd -> sub/hop.mefd -> ../../outside/o.mefd,
 *   root/sneaky.mefd/ch01.timd -> outside/o.mefd/ch01.timd
 *   root/swap.mefd                  a_single_256hz again, which an input
 *                                   may replace by a link to outside/o.mefd
 *   outside/o.mefd, outside/secret  what nothing may open
 * and `mef3_server_start` on it with `--root root`, no process pool,
 * 2 streams, 2^13 samples per request, 3000-byte chunks (several chunks
 * per stream, chunk lengths that are not powers of two), 3 open files,
 * a 1 MiB tile cache of 20 s tiles, logging at debug level into memory.
 *
 * Input: a sequence of at most 24 calls, each `op` (1 byte), `len` (2
 * bytes, little endian), `len` bytes.  op & 7 is the method (0 OpenFile,
 * 1 CloseFile, 2 FileInfo, 3 GetSignalRange, 4 ListOpenFiles, 5 a
 * method the server does not have, 7 GetEnvelope (its template as
 * GetSignalRange's, with max_columns from t[12..14]: 0, 65536 and more
 * among them), 6 no call: swap.mefd replaced by a link
 * leading out, or put back, once every call has ended); op & 8: the bytes
 * are a compact template (path, password and channels picked from tables,
 * times relative to the file's start) that the harness turns into the
 * request, else they are sent as they are, so malformed protobuf, NUL
 * bytes, odd times, long and hostile paths reach the handlers; op & 16:
 * do not wait for this call before starting the next one (concurrent
 * calls, the stream limit, closes during reads); op & 32: cancel the call
 * after its first message (a unary call at once); op & 64: send an access
 * token as metadata, the one of the latest OpenFile reply that had one
 * (op & 128 clear: replayed on whatever file the call names, open or
 * closed) or one that no open gave (op & 128: one digit changed, or not a
 * token at all).  At the end of each input every call is waited for, then
 * the open files are listed and closed (with every token seen), so no
 * state carries over.
 *
 * Checked, beyond "no crash, no leak" (abort() on any violation):
 *  - every reply parses as its message, with a status that matches its
 *    error_code through the server's table; no call hangs (a deadline);
 *  - a GetSignalRange stream is data chunks whose shapes, offsets and
 *    totals add up, or exactly one chunk carrying error_message; a
 *    complete stream of a plain session equals a direct read of the same
 *    window through a file manager of the harness (bit for bit);
 *  - a GetEnvelope stream likewise: column chunks that add up to at most
 *    max_columns, or one error chunk before any; a complete one of a
 *    plain session equals the harness's mef3_files_envelope, field for
 *    field and bit for bit;
 *  - no file outside the root is ever opened: inotify watches every
 *    directory of `outside` for IN_OPEN, and every path ListOpenFiles
 *    returns resolves inside the root;
 *  - no password of an OpenFile request, and no access token, appears in
 *    a reply's message or in the log (the token only in OpenFile's
 *    access_token);
 *  - once all is closed, the server counts no open file, cached tile or
 *    running call (stream slots included).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mef3pool/files.h"
#include "mef3pool/server.h"
#include "rpc/call.h"
#include <grpc/support/alloc.h>
#include "server/server_internal.h"

#ifndef MEF3_GOLDEN_DIR
#define MEF3_GOLDEN_DIR "../shared/golden"
#endif

/* gRPC 1.51 exports the in-process transport with C++ linkage only (its
 * header is not public): the same function, under its mangled name. */
grpc_channel *
fz_inproc_channel_create(grpc_server *server, const grpc_channel_args *args,
                         void *reserved) __asm__("_Z26grpc_inproc_channel_"
                                                 "createP11grpc_serverPK17grpc_"
                                                 "channel_argsPv");

/* Bounds on one input's work: on a loaded machine a fuzzer at nice 19
 * waits long for each of a stream's thread hand-offs, and libFuzzer's
 * -timeout counts wall time.  A call that outlives its deadline fails the
 * input (a hang), after libFuzzer's own timeout would have. */
#define MAX_CALLS 24
#define CALL_DEADLINE_MS 30000
#define MAX_SAMPLES ((int64_t)1 << 13)
#define CHUNK_BYTES 3000

static const char *const method_names[7] = {
    MEF3_RPC_OPEN,  MEF3_RPC_CLOSE, MEF3_RPC_INFO,
    MEF3_RPC_RANGE, MEF3_RPC_LIST,  "/gRPCMef3Server/NoSuchMethod",
    MEF3_RPC_ENVELOPE};
enum { M_OPEN, M_CLOSE, M_INFO, M_RANGE, M_LIST, M_BOGUS, M_ENV };

static char tmp[64], root[128], outside[128], rroot[PATH_MAX];
static mef3_server *srv;
static mef3_files *direct; /* the reference for complete streams */
static grpc_channel *chan;
static grpc_completion_queue *cq;
static int ino = -1;
static int swapped; /* swap.mefd is a link leading out */

/* Passwords of this input's OpenFile requests (parsed as the server
 * would), which must appear in no reply and no log line. */
static char *secrets[2 * MAX_CALLS];
static size_t n_secrets;
/* Access tokens OpenFile replies gave during this input. */
#define MAX_TOKENS (4 * MAX_CALLS)
static char tokens[MAX_TOKENS][MEF3_FILES_TOKEN_CHARS + 1];
static size_t n_tokens;
/* Every other string of this input's requests: a secret that is also
 * part of a path or a channel name may be echoed as such. */
static char **others;
static size_t n_others, cap_others;
static int had_concurrent; /* a concurrent call may close a file mid-read */
static int had_cancel;     /* a call cancelled by the client */

/* ---- the server's log, kept per input ---- */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char *log_buf;
static size_t log_len, log_cap;

static void log_fn(mef3_log_level lv, const char *msg, void *payload) {
  size_t n = strlen(msg);
  pthread_mutex_lock(&log_mu);
  if (log_len + n + 2 > log_cap) {
    size_t nc = (log_len + n + 2) * 2;
    char *nb = realloc(log_buf, nc);
    if (!nb)
      abort();
    log_buf = nb;
    log_cap = nc;
  }
  memcpy(log_buf + log_len, msg, n);
  log_len += n;
  log_buf[log_len++] = '\n';
  log_buf[log_len] = '\0';
  pthread_mutex_unlock(&log_mu);
}

#define FAIL(...)                                                              \
  do {                                                                         \
    fprintf(stderr, "server log of this input:\n%s\n",                         \
            log_buf ? log_buf : "");                                           \
    fprintf(stderr, "fuzz_server: " __VA_ARGS__);                              \
    fputc('\n', stderr);                                                       \
    abort();                                                                   \
  } while (0)

/* ---- set-up ---- */

static void rm_tmp(void) {
  if (srv) {
    mef3_server_free(srv);
    srv = NULL;
  }
  if (chan)
    grpc_channel_destroy(chan);
  if (cq) {
    grpc_completion_queue_shutdown(cq);
    while (
        grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
            .type != GRPC_QUEUE_SHUTDOWN)
      ;
    grpc_completion_queue_destroy(cq);
  }
  chan = NULL;
  cq = NULL;
  mef3_files_free(direct);
  direct = NULL;
  grpc_shutdown();
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  if (system(cmd) != 0)
    fprintf(stderr, "fuzz_server: could not remove %s\n", tmp);
  free(log_buf);
  free(others);
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...) {
  char cmd[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  if (system(cmd) != 0)
    FAIL("set-up failed: %s", cmd);
}

/* Watch every directory below `dir` for opens (and reads) of anything. */
static void watch_tree(const char *dir) {
  if (inotify_add_watch(ino, dir, IN_OPEN | IN_ACCESS) < 0)
    FAIL("inotify_add_watch %s: %s", dir, strerror(errno));
  char cmd[512];
  snprintf(cmd, sizeof cmd, "find '%s' -mindepth 1 -type d", dir);
  FILE *p = popen(cmd, "r");
  char line[PATH_MAX];
  while (p && fgets(line, sizeof line, p)) {
    line[strcspn(line, "\n")] = '\0';
    if (inotify_add_watch(ino, line, IN_OPEN | IN_ACCESS) < 0)
      FAIL("inotify_add_watch %s: %s", line, strerror(errno));
  }
  if (!p || pclose(p) != 0)
    FAIL("cannot list %s", dir);
  char buf[4096];
  while (read(ino, buf, sizeof buf) > 0) /* find's own opens */
    ;
}

/* Anything opened outside the root since the last call: fail. */
static void check_outside_untouched(const char *when) {
  char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
  ssize_t n = read(ino, buf, sizeof buf);
  if (n > 0) {
    const struct inotify_event *e = (const void *)buf;
    FAIL("%s: something outside the root was opened or read (%s%s, mask "
         "0x%x)",
         when, e->len ? "entry " : "the watched directory itself",
         e->len ? e->name : "", e->mask);
  }
}

/* A file's facts, for the templates. */
typedef struct {
  const char *path;
  int64_t start, end;
  size_t nch;
  char names[8][256];
} golden_file;
static golden_file gf[3] = {{"a.mefd", 0, 0, 0, {{0}}},
                            {"b.mefd", 0, 0, 0, {{0}}},
                            {"enc.mefd", 0, 0, 0, {{0}}}};

static char abs_inside[PATH_MAX + 16], abs_outside[PATH_MAX + 16],
    long_path[6000], many_parts[5000];

static void setup(void) {
  const char *golden = getenv("MEF3_GOLDEN_DIR");
  if (!golden)
    golden = MEF3_GOLDEN_DIR;
  snprintf(tmp, sizeof tmp, "/tmp/mef3fz-server-XXXXXX");
  if (!mkdtemp(tmp))
    FAIL("mkdtemp: %s", strerror(errno));
  snprintf(root, sizeof root, "%s/root", tmp);
  snprintf(outside, sizeof outside, "%s/outside", tmp);
  sh("mkdir -p '%s/sub' '%s/sneaky.mefd' '%s'", root, root, outside);
  sh("cp -R '%s/sessions/a_single_256hz.mefd' '%s/a.mefd'", golden, root);
  sh("cp -R '%s/sessions/b_multi_8ch.mefd' '%s/b.mefd'", golden, root);
  sh("cp -R '%s/sessions/d_encrypted.mefd' '%s/enc.mefd'", golden, root);
  sh("cp -R '%s/sessions/a_single_256hz.mefd' '%s/o.mefd'", golden, outside);
  sh("cp -R '%s/sessions/a_single_256hz.mefd' '%s/swap.mefd'", golden, root);
  sh("echo secret > '%s/secret'", outside);
  sh("cd '%s' && ln -s a.mefd in.mefd && ln -s '%s/o.mefd' out.mefd && "
     "ln -s '%s/secret' outfile && ln -s sub/hop.mefd chain.mefd && "
     "ln -s ../../outside/o.mefd sub/hop.mefd && "
     "ln -s '%s/o.mefd/ch01.timd' sneaky.mefd/ch01.timd",
     root, outside, outside, outside);
  atexit(rm_tmp);
  if (!realpath(root, rroot))
    FAIL("realpath %s", root);
  snprintf(abs_inside, sizeof abs_inside, "%s/a.mefd", rroot);
  if (!realpath(outside, abs_outside))
    FAIL("realpath %s", outside);
  strncat(abs_outside, "/o.mefd", sizeof abs_outside - strlen(abs_outside) - 1);
  memset(long_path, 'x', sizeof long_path - 1);
  for (size_t i = 0; i + 2 < sizeof many_parts; i += 2)
    memcpy(many_parts + i, "./", 2);
  memcpy(many_parts + sizeof many_parts - 8, "a.mefd", 7);

  ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (ino < 0)
    FAIL("inotify_init1: %s", strerror(errno));
  watch_tree(outside);

  mef3_files_options fo = MEF3_FILES_OPTIONS_INIT;
  fo.use_process_pool = 0;
  fo.data_root = root;
  fo.prefetch_ahead_windows = 0;
  fo.prefetch_behind_windows = 0;
  fo.tile_duration_s = 20;
  fo.tile_cache_bytes = 1 << 20;
  fo.cache_ttl_s = 0;
  if (mef3_files_new(&direct, &fo))
    FAIL("mef3_files_new: %s", mef3_error_last()->message);
  char enc_token[MEF3_FILES_TOKEN_CHARS + 1] = "";
  for (int i = 0; i < 3; i++) {
    mef3_file_info *info = NULL;
    mef3_files_access acc;
    if (mef3_files_open_as(&acc, NULL, direct, gf[i].path,
                           i == 2 ? "l2pass" : NULL) ||
        mef3_files_info_as(&info, direct, gf[i].path, acc.token))
      FAIL("open %s: %s", gf[i].path, mef3_error_last()->message);
    gf[i].start = info->start_uutc;
    gf[i].end = info->end_uutc;
    gf[i].nch = info->n_channels < 8 ? info->n_channels : 8;
    for (size_t k = 0; k < gf[i].nch; k++)
      snprintf(gf[i].names[k], sizeof gf[i].names[k], "%s",
               info->channels[k].name);
    mef3_file_info_free(info);
    if (acc.token[0])
      memcpy(enc_token, acc.token, sizeof enc_token);
  }
  mef3_files_close_as(direct, "enc.mefd", enc_token);

  mef3_server_options so = MEF3_SERVER_OPTIONS_INIT;
  so.port = 0;
  so.cq_threads = 2;
  so.work_threads = 2;
  so.max_streams = 2;
  so.max_samples = MAX_SAMPLES;
  so.chunk_bytes = CHUNK_BYTES;
  so.files = fo;
  so.files.max_open_files = 3;
  so.log_level = MEF3_LOG_DEBUG;
  so.log = log_fn;
  if (mef3_server_start(&srv, &so))
    FAIL("mef3_server_start: %s", mef3_error_last()->message);
  grpc_init();
  chan = fz_inproc_channel_create(mef3__server_grpc(srv), NULL, NULL);
  cq = grpc_completion_queue_create_for_next(NULL);
  if (!chan || !cq)
    FAIL("no in-process channel");
  check_outside_untouched("set-up");
}

/* ---- requests: templates ---- */

typedef struct {
  uint8_t b[8192];
  size_t n;
} pbuf;

static void pb_varint(pbuf *p, uint32_t field, uint64_t v) {
  if (p->n + 22 > sizeof p->b)
    return;
  p->n += mef3__rpc_varint(p->b + p->n, (uint64_t)field << 3);
  p->n += mef3__rpc_varint(p->b + p->n, v);
}

static void pb_bytes(pbuf *p, uint32_t field, const void *s, size_t len) {
  if (p->n + 22 + len > sizeof p->b)
    return;
  p->n += mef3__rpc_varint(p->b + p->n, ((uint64_t)field << 3) | 2);
  p->n += mef3__rpc_varint(p->b + p->n, len);
  memcpy(p->b + p->n, s, len);
  p->n += len;
}

/* Paths a template may name (some with a NUL: explicit lengths). */
typedef struct {
  const char *s;
  size_t len; /* 0: strlen */
} bstr;

static bstr path_of(uint8_t k) {
  static const bstr fixed[] = {{"a.mefd", 0},
                               {"b.mefd", 0},
                               {"enc.mefd", 0},
                               {"in.mefd", 0},
                               {"./a.mefd", 0},
                               {"a.mefd/", 0},
                               {"a.mefd//", 0},
                               {".//a.mefd", 0},
                               {"sub/../a.mefd", 0},
                               {"../root/a.mefd", 0},
                               {"out.mefd", 0},
                               {"outfile", 0},
                               {"chain.mefd", 0},
                               {"sneaky.mefd", 0},
                               {"sub/hop.mefd", 0},
                               {"/etc", 0},
                               {"/", 0},
                               {".", 0},
                               {"", 0},
                               {"a.mefd/ch01.timd", 0},
                               {"b.mefd/ch07.timd", 0},
                               {"nope.mefd", 0},
                               {"a.mefd\xff\xfe", 0},
                               {"a.mefd\0../../x", 15},
                               {"..", 0},
                               {"sub", 0},
                               {"a.mefd/ch01.timd/ch01-000000.segd", 0},
                               {"/proc/self/cwd", 0},
                               {"a.mefd/..", 0},
                               {"swap.mefd", 0}};
  size_t nf = sizeof fixed / sizeof *fixed;
  k %= (uint8_t)(nf + 4);
  if (k < nf)
    return fixed[k];
  switch (k - nf) {
  case 0:
    return (bstr){abs_inside, 0};
  case 1:
    return (bstr){abs_outside, 0};
  case 2:
    return (bstr){long_path, 0};
  default:
    return (bstr){many_parts, 0};
  }
}

static const bstr passwords[] = {{"", 0},          {"l1pass", 0},
                                 {"l2pass", 0},    {"wr0ngPa55", 0},
                                 {"l2pass\0x", 8}, {"\xff\xfel2", 0}};

static size_t blen(bstr s) {
  return s.len ? s.len : strlen(s.s);
}

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

/* The request a template describes. */
static void from_template(int m, const uint8_t *d, size_t n, pbuf *out) {
  uint8_t t[16] = {0};
  memcpy(t, d, n < sizeof t ? n : sizeof t);
  out->n = 0;
  bstr path = path_of(t[0]);
  if (m != M_LIST)
    pb_bytes(out, 1, path.s, blen(path));
  if (m == M_OPEN && t[1] % 7) {
    bstr pw = passwords[t[1] % 7 - 1];
    pb_bytes(out, 2, pw.s, blen(pw));
  }
  if (m != M_RANGE && m != M_ENV)
    return;
  /* channels: t[1] of them, names picked by the bytes after the template */
  size_t k = t[0] % 3; /* the file named, else one picked by t[0] */
  for (size_t i = 0; i < sizeof gf / sizeof *gf; i++)
    if (!strcmp(path.s, gf[i].path))
      k = i;
  const golden_file *g = &gf[k];
  size_t nch = t[1] % 5;
  for (size_t i = 0; i < nch; i++) {
    uint8_t c = n > 16 + i ? d[16 + i] : (uint8_t)i;
    if (c % 16 < g->nch)
      pb_bytes(out, 2, g->names[c % 16], strlen(g->names[c % 16]));
    else if (c % 16 == 8)
      pb_bytes(out, 2, "nope", 4);
    else if (c % 16 == 9)
      pb_bytes(out, 2, "", 0);
    else if (c % 16 == 10)
      pb_bytes(out, 2, long_path, 300);
    else
      pb_bytes(out, 2, g->names[0], strlen(g->names[0]));
  }
  static const int64_t step[4] = {1, 997, 3906, 1000000};
  int64_t start = g->start + (int64_t)(int32_t)le32(t + 2) * step[t[10] & 3];
  int64_t len = (int64_t)(le32(t + 6) & 0xffffff) * step[(t[10] >> 2) & 3];
  if (t[10] & 0x10)
    len = -len;
  int64_t end = start + len;
  if (t[10] & 0x20)
    start = (int64_t)((uint64_t)le32(t + 2) << 32 | le32(t + 6)); /* any */
  if (t[10] & 0x40)
    end = g->end + (int64_t)(int8_t)t[11];
  pb_varint(out, 3, (uint64_t)start);
  pb_varint(out, 4, (uint64_t)end);
  if (m == M_ENV) /* 0 .. 2^18 - 1: the valid range and past both ends */
    pb_varint(out, 5, (uint64_t)(t[12] | t[13] << 8 | (t[14] & 3) << 16));
}

/* ---- calls ---- */

typedef struct fcall fcall;
typedef struct {
  fcall *c;
  int kind; /* 0: request sent, 1: a message (or the end), 2: status */
} ftag;

struct fcall {
  int m, cancel, concurrent;
  mef3__rpc_call rpc; /* on the shared queue: the status is rpc.status */
  grpc_byte_buffer *recv;
  int status_done, msgs_done;
  ftag t_begin, t_msg, t_status;
  uint8_t *req;
  size_t req_len;
  uint8_t **msgs;
  size_t *lens, n_msgs;
};

static fcall *calls[MAX_CALLS];
static size_t n_calls;
static int running; /* calls started and not yet checked */

static void bb_flatten(grpc_byte_buffer *bb, uint8_t **out, size_t *len) {
  grpc_byte_buffer_reader rd;
  if (!grpc_byte_buffer_reader_init(&rd, bb))
    FAIL("cannot read a reply");
  grpc_slice s = grpc_byte_buffer_reader_readall(&rd);
  grpc_byte_buffer_reader_destroy(&rd);
  *len = GRPC_SLICE_LENGTH(s);
  *out = malloc(*len ? *len : 1);
  if (!*out)
    abort();
  memcpy(*out, GRPC_SLICE_START_PTR(s), *len);
  grpc_slice_unref(s);
}

static void start_recv(fcall *c) {
  if (mef3__rpc_call_recv(&c->rpc, &c->recv, &c->t_msg))
    FAIL("cannot start RECV_MESSAGE");
}

static void start_status(fcall *c) {
  if (mef3__rpc_call_status(&c->rpc, NULL, &c->t_status))
    FAIL("cannot start RECV_STATUS_ON_CLIENT");
}

static fcall *call_start(int m, const uint8_t *req, size_t len, int cancel,
                         int concurrent, const char *token) {
  fcall *c = calloc(1, sizeof *c);
  if (!c)
    abort();
  c->m = m;
  c->cancel = cancel;
  c->concurrent = concurrent;
  c->req = malloc(len ? len : 1);
  if (!c->req)
    abort();
  if (len)
    memcpy(c->req, req, len);
  c->req_len = len;
  c->t_begin = (ftag){c, 0};
  c->t_msg = (ftag){c, 1};
  c->t_status = (ftag){c, 2};
  if (mef3__rpc_call_open(&c->rpc, chan, cq, method_names[m],
                          mef3__rpc_deadline(CALL_DEADLINE_MS)))
    FAIL("grpc_channel_create_call failed");
  grpc_slice body = grpc_slice_from_copied_buffer((const char *)req, len);
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&body, 1);
  grpc_slice_unref(body);
  mef3__rpc_md md = {MEF3_RPC_TOKEN_KEY, token};
  if (mef3__rpc_call_send(&c->rpc, &md, token ? 1 : 0, bb, NULL, &c->t_begin))
    FAIL("cannot start a call");
  grpc_byte_buffer_destroy(bb);
  if (cancel && m != M_RANGE && m != M_ENV)
    mef3__rpc_call_cancel(&c->rpc);
  running++;
  return c;
}

static void call_free(fcall *c) {
  for (size_t i = 0; i < c->n_msgs; i++)
    free(c->msgs[i]);
  free(c->msgs);
  free(c->lens);
  free(c->req);
  mef3__rpc_call_dispose(&c->rpc);
  free(c);
}

static void check_call(fcall *c);

/* Handle completions until `c` (NULL: every call) has finished. */
static void wait_for(fcall *c) {
  while (c ? !(c->status_done && c->msgs_done) : running > 0) {
    grpc_event ev = grpc_completion_queue_next(
        cq,
        gpr_time_add(
            gpr_now(GPR_CLOCK_MONOTONIC),
            gpr_time_from_millis(CALL_DEADLINE_MS + 20000, GPR_TIMESPAN)),
        NULL);
    if (ev.type == GRPC_QUEUE_TIMEOUT)
      FAIL("a call never completed, not even at its deadline");
    if (ev.type != GRPC_OP_COMPLETE)
      FAIL("unexpected completion-queue event %d", (int)ev.type);
    ftag *t = ev.tag;
    fcall *x = t->c;
    /* The order of a client call: request, messages until the end, then
     * the status. */
    if (t->kind == 0) {
      start_recv(x);
    } else if (t->kind == 2) {
      x->status_done = 1;
    } else if (!ev.success || !x->recv) {
      x->msgs_done = 1;
      start_status(x);
    } else {
      uint8_t *p;
      size_t n;
      bb_flatten(x->recv, &p, &n);
      grpc_byte_buffer_destroy(x->recv);
      x->recv = NULL;
      x->msgs = realloc(x->msgs, (x->n_msgs + 1) * sizeof *x->msgs);
      x->lens = realloc(x->lens, (x->n_msgs + 1) * sizeof *x->lens);
      if (!x->msgs || !x->lens)
        abort();
      x->msgs[x->n_msgs] = p;
      x->lens[x->n_msgs++] = n;
      if (x->cancel)
        mef3__rpc_call_cancel(&x->rpc);
      start_recv(x);
    }
    if (x->status_done && x->msgs_done) {
      running--;
      check_call(x);
    }
  }
}

/* ---- properties ---- */

static void note_other(const char *s) {
  if (!s || !*s)
    return;
  if (n_others == cap_others) {
    cap_others = cap_others ? 2 * cap_others : 64;
    others = realloc(others, cap_others * sizeof *others);
    if (!others)
      abort();
  }
  if (!(others[n_others++] = strdup(s)))
    abort();
}

static void note_request(int m, const uint8_t *p, size_t n) {
  if (m == M_OPEN) {
    OpenFileRequest *r = open_file_request__unpack(NULL, n, p);
    if (!r)
      return;
    note_other(r->file_path);
    /* Passwords built on the known ones: any string would do, but a short
     * or common one ("root", "mefd") is also part of log lines. */
    if (r->password && n_secrets < 2 * MAX_CALLS &&
        (strstr(r->password, "l1pass") || strstr(r->password, "l2pass") ||
         strstr(r->password, "wr0ngPa55")))
      secrets[n_secrets++] = strdup(r->password);
    open_file_request__free_unpacked(r, NULL);
  } else if (m == M_INFO || m == M_CLOSE) {
    FileInfoRequest *r = file_info_request__unpack(NULL, n, p);
    if (!r)
      return;
    note_other(r->file_path);
    file_info_request__free_unpacked(r, NULL);
  } else if (m == M_RANGE) {
    SignalRangeRequest *r = signal_range_request__unpack(NULL, n, p);
    if (!r)
      return;
    note_other(r->file_path);
    for (size_t i = 0; i < r->n_channel_names; i++)
      note_other(r->channel_names[i]);
    signal_range_request__free_unpacked(r, NULL);
  } else if (m == M_ENV) {
    EnvelopeRequest *r = envelope_request__unpack(NULL, n, p);
    if (!r)
      return;
    note_other(r->file_path);
    for (size_t i = 0; i < r->n_channel_names; i++)
      note_other(r->channel_names[i]);
    envelope_request__free_unpacked(r, NULL);
  }
}

/* The secret `text` (n bytes) shows that no path or channel name of the
 * input explains; NULL if none. */
static const char *leaked(const char *text, size_t n) {
  for (size_t i = 0; i < n_secrets; i++) {
    if (!memmem(text, n, secrets[i], strlen(secrets[i])))
      continue;
    int explained = 0;
    for (size_t k = 0; k < n_others && !explained; k++)
      explained = strstr(others[k], secrets[i]) != NULL;
    if (!explained)
      return secrets[i];
  }
  return NULL;
}

static void check_text(const char *what, const char *s) {
  const char *x = s ? leaked(s, strlen(s)) : NULL;
  if (x)
    FAIL("%s shows a password (%s): %s", what, x, s);
}

/* The status must be the one the table gives the error code. */
static void check_status_code(const fcall *c, const char *code) {
  int rc = mef3__rpc_code_of_name(code);
  if (code && *code && rc == MEF3_ERROR && strcmp(code, "MEF3_ERROR"))
    FAIL("%s: unknown error_code %s", method_names[c->m], code);
  grpc_status_code want = mef3__rpc_status_of(rc);
  if (c->rpc.status != want &&
      !(c->cancel && c->rpc.status == GRPC_STATUS_CANCELLED))
    FAIL("%s: status %s, but error_code %s maps to %s", method_names[c->m],
         mef3__rpc_status_name(c->rpc.status), code ? code : "(none)",
         mef3__rpc_status_name(want));
}

/* A path ListOpenFiles returned: it must lie inside the root. */
static void check_inside(const char *p) {
  char joined[PATH_MAX * 2], real[PATH_MAX];
  if (p[0] == '/')
    snprintf(joined, sizeof joined, "%s", p);
  else
    snprintf(joined, sizeof joined, "%s/%s", rroot, p);
  if (!realpath(joined, real))
    FAIL("open file %s does not resolve: %s", p, strerror(errno));
  if (swapped && !strncmp(real, abs_outside, strlen(abs_outside)))
    return; /* swap.mefd, opened before it was replaced */
  size_t n = strlen(rroot);
  if (strncmp(real, rroot, n) || (real[n] != '/' && real[n] != '\0'))
    FAIL("open file %s is outside the root (%s)", p, real);
}

static void check_unary(fcall *c) {
  if (c->n_msgs > 1)
    FAIL("%s: %zu replies", method_names[c->m], c->n_msgs);
  if (c->n_msgs == 0) {
    /* only a refused request (malformed, NUL byte) or our own cancel */
    if (c->rpc.status == GRPC_STATUS_INVALID_ARGUMENT ||
        (c->cancel && c->rpc.status == GRPC_STATUS_CANCELLED))
      return;
    if (c->m == M_BOGUS && c->rpc.status == GRPC_STATUS_UNIMPLEMENTED)
      return;
    FAIL("%s: no reply, status %s", method_names[c->m],
         mef3__rpc_status_name(c->rpc.status));
  }
  if (c->m == M_BOGUS)
    FAIL("a method the server does not have was answered");
  if (c->m == M_LIST) {
    ListOpenFilesResponse *r =
        list_open_files_response__unpack(NULL, c->lens[0], c->msgs[0]);
    if (!r)
      FAIL("ListOpenFilesResponse does not parse");
    if (c->rpc.status != GRPC_STATUS_OK ||
        (r->error_message && r->error_message[0]))
      FAIL("ListOpenFiles failed: %s", r->error_message);
    for (size_t i = 0; i < r->n_file_paths; i++)
      check_inside(r->file_paths[i]);
    list_open_files_response__free_unpacked(r, NULL);
    return;
  }
  FileInfoResponse *r =
      file_info_response__unpack(NULL, c->lens[0], c->msgs[0]);
  if (!r)
    FAIL("FileInfoResponse does not parse");
  int err = r->error_message && r->error_message[0];
  if (err != (r->error_code && r->error_code[0]))
    FAIL("error_message without error_code or back: %s / %s", r->error_message,
         r->error_code);
  check_status_code(c, r->error_code);
  if (r->access_token && r->access_token[0]) {
    if (c->m != M_OPEN || !r->file_opened ||
        strlen(r->access_token) != MEF3_FILES_TOKEN_CHARS)
      FAIL("%s: an access token where none belongs (%s)", method_names[c->m],
           r->error_code ? r->error_code : "no error");
    if (n_tokens < MAX_TOKENS)
      memcpy(tokens[n_tokens++], r->access_token, MEF3_FILES_TOKEN_CHARS + 1);
    if (n_secrets < 2 * MAX_CALLS)
      secrets[n_secrets++] = strdup(r->access_token);
  }
  check_text("error_message", r->error_message);
  check_text("file_path", r->file_path);
  if (c->m == M_CLOSE && r->file_opened)
    FAIL("CloseFile says the file is open");
  if (c->m == M_OPEN && !err && !r->file_opened)
    FAIL("OpenFile: no error, but not open");
  if (err && r->file_opened &&
      strcmp(r->error_code, "MEF3_EEXIST")) /* "already open" only */
    FAIL("an error (%s) with the file open", r->error_code);
  if (r->file_opened) {
    size_t n = (size_t)r->number_of_channels;
    if (r->number_of_channels < 1 || r->n_channel_names != n ||
        r->n_channel_sampling_rates != n || r->n_channel_start_uutc != n ||
        r->n_channel_end_uutc != n || r->n_channel_fs != n ||
        r->n_channel_n_samples != n || r->n_channel_units != n)
      FAIL("FileInfoResponse: arrays of different lengths");
    for (size_t i = 0; i < n; i++)
      if (!(r->channel_fs[i] > 0) ||
          r->channel_start_uutc[i] > r->channel_end_uutc[i])
        FAIL("FileInfoResponse: channel %zu: fs %g, [%lld, %lld)", i,
             r->channel_fs[i], (long long)r->channel_start_uutc[i],
             (long long)r->channel_end_uutc[i]);
  }
  file_info_response__free_unpacked(r, NULL);
}

/* The plain sessions a complete stream is compared with. */
static int plain_session(const char *path) {
  char joined[PATH_MAX * 2], real[PATH_MAX], want[PATH_MAX + 16];
  if (path[0] == '/')
    snprintf(joined, sizeof joined, "%s", path);
  else
    snprintf(joined, sizeof joined, "%s/%s", rroot, path);
  if (!realpath(joined, real))
    return 0;
  for (int i = 0; i < 2; i++) {
    snprintf(want, sizeof want, "%s/%s", rroot, gf[i].path);
    if (!strcmp(real, want))
      return 1;
  }
  return 0;
}

static void check_range(fcall *c) {
  SignalRangeRequest *rq =
      signal_range_request__unpack(NULL, c->req_len, c->req);
  SignalChunk **ch = calloc(c->n_msgs ? c->n_msgs : 1, sizeof *ch);
  if (!ch)
    abort();
  size_t n_err = 0, first_err = c->n_msgs;
  for (size_t i = 0; i < c->n_msgs; i++) {
    ch[i] = signal_chunk__unpack(NULL, c->lens[i], c->msgs[i]);
    if (!ch[i])
      FAIL("SignalChunk %zu does not parse", i);
    if (ch[i]->error_message && ch[i]->error_message[0]) {
      n_err++;
      if (first_err == c->n_msgs)
        first_err = i;
      check_text("error_message", ch[i]->error_message);
    }
  }
  if (n_err > 1 || (n_err && first_err != c->n_msgs - 1))
    FAIL("GetSignalRange: %zu error chunks, the first at %zu of %zu", n_err,
         first_err, c->n_msgs);
  if (n_err && first_err > 0 && !had_concurrent)
    FAIL("GetSignalRange: an error after %zu data chunks", first_err);
  if (n_err) {
    SignalChunk *e = ch[first_err];
    if (!e->error_code || !e->error_code[0])
      FAIL("error chunk without error_code: %s", e->error_message);
    if (e->n_shape || e->array_bytes.len)
      FAIL("error chunk with data");
    check_status_code(c, e->error_code);
  }
  /* The data chunks fit together. */
  int64_t off = 0, total = -1, nch = -1;
  for (size_t i = 0; i < first_err; i++) {
    SignalChunk *k = ch[i];
    if (!k->dtype || strcmp(k->dtype, "float32") || k->n_shape != 2 ||
        k->shape[0] < 1 || k->shape[1] < 1)
      FAIL("chunk %zu: dtype %s, %zu dimensions", i,
           k->dtype ? k->dtype : "(none)", k->n_shape);
    if ((uint64_t)k->array_bytes.len !=
        (uint64_t)k->shape[0] * (uint64_t)k->shape[1] * 4)
      FAIL("chunk %zu: %zu bytes for shape [%lld, %lld]", i, k->array_bytes.len,
           (long long)k->shape[0], (long long)k->shape[1]);
    if (nch < 0) {
      nch = k->shape[0];
      total = k->total_samples;
    }
    if (k->shape[0] != nch || k->total_samples != total ||
        k->sample_offset != off || (int64_t)k->n_channel_names != nch ||
        !(k->fs > 0))
      FAIL("chunk %zu: shape [%lld, %lld] at %lld of %lld, %zu names, fs %g; "
           "expected %lld channels at %lld",
           i, (long long)k->shape[0], (long long)k->shape[1],
           (long long)k->sample_offset, (long long)k->total_samples,
           k->n_channel_names, k->fs, (long long)nch, (long long)off);
    if (k->start_uutc > k->end_uutc ||
        (i && k->start_uutc < ch[i - 1]->start_uutc))
      FAIL("chunk %zu: span [%lld, %lld)", i, (long long)k->start_uutc,
           (long long)k->end_uutc);
    off += k->shape[1];
    if (off > total)
      FAIL("chunks past the total: %lld of %lld", (long long)off,
           (long long)total);
  }
  if (nch > 0 && total * nch > MAX_SAMPLES)
    FAIL("a stream of %lld x %lld samples passed the limit", (long long)nch,
         (long long)total);
  int complete = nch > 0 && off == total;
  if (!n_err) {
    if (c->cancel && c->rpc.status == GRPC_STATUS_CANCELLED) {
      /* ours: anything sent so far is fine */
    } else if (c->n_msgs == 0) {
      if (c->rpc.status != GRPC_STATUS_INVALID_ARGUMENT)
        FAIL("GetSignalRange: no chunk, status %s",
             mef3__rpc_status_name(c->rpc.status));
    } else if (c->rpc.status != GRPC_STATUS_OK || !complete) {
      FAIL("GetSignalRange: %lld of %lld samples, status %s", (long long)off,
           (long long)total, mef3__rpc_status_name(c->rpc.status));
    }
  }
  if (rq && nch > 0) {
    if (rq->n_channel_names && (size_t)nch != rq->n_channel_names)
      FAIL("%lld channels sent, %zu asked for", (long long)nch,
           rq->n_channel_names);
    for (size_t i = 0; i < rq->n_channel_names && i < (size_t)nch; i++)
      if (strcmp(ch[0]->channel_names[i], rq->channel_names[i]))
        FAIL("channel %zu is %s, %s asked for", i, ch[0]->channel_names[i],
             rq->channel_names[i]);
    if (strcmp(ch[0]->file_path, rq->file_path))
      FAIL("chunks name %s, %s asked for", ch[0]->file_path, rq->file_path);
  }
  /* A complete stream equals one direct read of the window. */
  if (rq && complete && !n_err && plain_session(rq->file_path)) {
    mef3_signal *d = NULL;
    int rc = mef3_files_read(&d, direct, rq->file_path,
                             (const char *const *)rq->channel_names,
                             rq->n_channel_names, rq->start_uutc, rq->end_uutc);
    if (rc || (int64_t)d->n_samples != total || (int64_t)d->n_channels != nch)
      FAIL("direct read of %s [%lld, %lld): rc %d (%s), %zu x %zu; the "
           "server sent %lld x %lld",
           rq->file_path, (long long)rq->start_uutc, (long long)rq->end_uutc,
           rc, rc ? mef3_error_last()->message : "", d ? d->n_channels : 0,
           d ? d->n_samples : 0, (long long)nch, (long long)total);
    for (size_t i = 0; i < first_err; i++) {
      SignalChunk *k = ch[i];
      for (int64_t r = 0; r < nch; r++)
        if (memcmp(k->array_bytes.data + (size_t)(r * k->shape[1] * 4),
                   d->data + (size_t)(r * total + k->sample_offset),
                   (size_t)k->shape[1] * 4))
          FAIL("%s [%lld, %lld): chunk %zu, channel %lld differs from a "
               "direct read",
               rq->file_path, (long long)rq->start_uutc,
               (long long)rq->end_uutc, i, (long long)r);
    }
    mef3_signal_free(d);
  }
  for (size_t i = 0; i < c->n_msgs; i++)
    signal_chunk__free_unpacked(ch[i], NULL);
  free(ch);
  if (rq)
    signal_range_request__free_unpacked(rq, NULL);
}

static int same_floats(const uint8_t *wire, const float *want, size_t n) {
  for (size_t i = 0; i < n; i++) {
    float a;
    memcpy(&a, wire + 4 * i, 4);
    if (!(a == want[i] || (a != a && want[i] != want[i])) ||
        ((a == 0) && memcmp(&a, &want[i], 4)))
      return 0;
  }
  return 1;
}

/* A complete envelope of a plain session against the harness's own. */
static void check_envelope_direct(const EnvelopeRequest *rq,
                                  EnvelopeChunk *const *ch, size_t n,
                                  int64_t nch, int64_t total) {
  mef3_envelope *e = NULL;
  int rc = mef3_files_envelope(&e, direct, rq->file_path,
                               (const char *const *)rq->channel_names,
                               rq->n_channel_names, rq->start_uutc,
                               rq->end_uutc, (size_t)rq->max_columns);
  if (rc || (int64_t)e->n_columns != total || (int64_t)e->n_channels != nch ||
      e->samples_per_column != ch[0]->samples_per_column ||
      e->level != ch[0]->level || e->fs != ch[0]->fs)
    FAIL("direct envelope of %s [%lld, %lld) in %lld: rc %d (%s), %zu x %zu; "
         "the server sent %lld x %lld",
         rq->file_path, (long long)rq->start_uutc, (long long)rq->end_uutc,
         (long long)rq->max_columns, rc, rc ? mef3_error_last()->message : "",
         e ? e->n_channels : 0, e ? e->n_columns : 0, (long long)nch,
         (long long)total);
  for (size_t i = 0; i < (size_t)nch; i++)
    if (strcmp(e->channel_names[i], ch[0]->channel_names[i]) ||
        e->first_sample[i] != ch[0]->first_sample[i] ||
        e->first_uutc[i] != ch[0]->first_uutc[i])
      FAIL("envelope channel %zu: %s at %lld, the server says %s at %lld", i,
           e->channel_names[i], (long long)e->first_uutc[i],
           ch[0]->channel_names[i], (long long)ch[0]->first_uutc[i]);
  for (size_t k = 0; k < n; k++) {
    size_t cols = (size_t)ch[k]->shape[1], j0 = (size_t)ch[k]->column_offset;
    for (size_t r = 0; r < (size_t)nch; r++)
      if (!same_floats(ch[k]->min_bytes.data + r * cols * 4,
                       e->min + r * (size_t)total + j0, cols) ||
          !same_floats(ch[k]->max_bytes.data + r * cols * 4,
                       e->max + r * (size_t)total + j0, cols))
        FAIL("%s: envelope chunk %zu, channel %zu differs from the direct "
             "envelope",
             rq->file_path, k, r);
  }
  mef3_envelope_free(e);
}

static void check_envelope(fcall *c) {
  EnvelopeRequest *rq = envelope_request__unpack(NULL, c->req_len, c->req);
  EnvelopeChunk **ch = calloc(c->n_msgs ? c->n_msgs : 1, sizeof *ch);
  if (!ch)
    abort();
  size_t n_err = 0;
  for (size_t i = 0; i < c->n_msgs; i++) {
    if (!(ch[i] = envelope_chunk__unpack(NULL, c->lens[i], c->msgs[i])))
      FAIL("EnvelopeChunk %zu does not parse", i);
    if (ch[i]->error_message && ch[i]->error_message[0]) {
      n_err++;
      check_text("error_message", ch[i]->error_message);
      /* computed whole before the first chunk: an error comes alone */
      if (c->n_msgs != 1)
        FAIL("GetEnvelope: an error chunk among %zu", c->n_msgs);
      if (!ch[i]->error_code || !ch[i]->error_code[0])
        FAIL("envelope error chunk without error_code: %s",
             ch[i]->error_message);
      if (ch[i]->n_shape || ch[i]->min_bytes.len || ch[i]->max_bytes.len)
        FAIL("envelope error chunk with data");
      check_status_code(c, ch[i]->error_code);
    }
  }
  int64_t off = 0, total = -1, nch = -1;
  for (size_t i = 0; !n_err && i < c->n_msgs; i++) {
    EnvelopeChunk *k = ch[i];
    if (k->n_shape != 2 || k->shape[0] < 1 || k->shape[1] < 1)
      FAIL("envelope chunk %zu: %zu dimensions", i, k->n_shape);
    uint64_t want = (uint64_t)k->shape[0] * (uint64_t)k->shape[1] * 4;
    if (k->min_bytes.len != want || k->max_bytes.len != want)
      FAIL("envelope chunk %zu: %zu and %zu bytes for shape [%lld, %lld]", i,
           k->min_bytes.len, k->max_bytes.len, (long long)k->shape[0],
           (long long)k->shape[1]);
    if (nch < 0) {
      nch = k->shape[0];
      total = k->total_columns;
    }
    if (k->shape[0] != nch || k->total_columns != total ||
        k->column_offset != off || (int64_t)k->n_channel_names != nch ||
        (int64_t)k->n_first_sample != nch || (int64_t)k->n_first_uutc != nch ||
        !(k->fs > 0) || k->samples_per_column < 1 || k->level < -1 ||
        k->level > 12)
      FAIL("envelope chunk %zu: shape [%lld, %lld] at %lld of %lld, %zu "
           "names, fs %g, %lld samples a column, level %d",
           i, (long long)k->shape[0], (long long)k->shape[1],
           (long long)k->column_offset, (long long)k->total_columns,
           k->n_channel_names, k->fs, (long long)k->samples_per_column,
           k->level);
    off += k->shape[1];
    if (off > total)
      FAIL("envelope chunks past the total: %lld of %lld", (long long)off,
           (long long)total);
  }
  int complete = nch > 0 && off == total;
  if (!n_err) {
    if (c->cancel && c->rpc.status == GRPC_STATUS_CANCELLED) {
      /* ours: anything sent so far is fine */
    } else if (c->n_msgs == 0) {
      if (c->rpc.status != GRPC_STATUS_INVALID_ARGUMENT)
        FAIL("GetEnvelope: no chunk, status %s",
             mef3__rpc_status_name(c->rpc.status));
    } else if (c->rpc.status != GRPC_STATUS_OK || !complete) {
      FAIL("GetEnvelope: %lld of %lld columns, status %s", (long long)off,
           (long long)total, mef3__rpc_status_name(c->rpc.status));
    }
  }
  if (rq && nch > 0) {
    if (total > rq->max_columns || total > 65536 ||
        nch * total * 2 > MAX_SAMPLES)
      FAIL("an envelope of %lld x %lld columns for max_columns %lld",
           (long long)nch, (long long)total, (long long)rq->max_columns);
    if (rq->n_channel_names && (size_t)nch != rq->n_channel_names)
      FAIL("envelope: %lld channels sent, %zu asked for", (long long)nch,
           rq->n_channel_names);
    for (size_t i = 0; i < rq->n_channel_names && i < (size_t)nch; i++)
      if (strcmp(ch[0]->channel_names[i], rq->channel_names[i]))
        FAIL("envelope channel %zu is %s, %s asked for", i,
             ch[0]->channel_names[i], rq->channel_names[i]);
    if (strcmp(ch[0]->file_path, rq->file_path) ||
        ch[0]->start_uutc != rq->start_uutc || ch[0]->end_uutc != rq->end_uutc)
      FAIL("envelope chunks name %s [%lld, %lld), %s asked for",
           ch[0]->file_path, (long long)ch[0]->start_uutc,
           (long long)ch[0]->end_uutc, rq->file_path);
  }
  if (rq && complete && !n_err && plain_session(rq->file_path))
    check_envelope_direct(rq, ch, c->n_msgs, nch, total);
  for (size_t i = 0; i < c->n_msgs; i++)
    envelope_chunk__free_unpacked(ch[i], NULL);
  free(ch);
  if (rq)
    envelope_request__free_unpacked(rq, NULL);
}

static void check_call(fcall *c) {
  if (c->rpc.status == GRPC_STATUS_DEADLINE_EXCEEDED)
    FAIL("%s: no answer within %d ms", method_names[c->m], CALL_DEADLINE_MS);
  char *det = grpc_slice_to_c_string(c->rpc.details);
  check_text("status details", det);
  gpr_free(det);
  if (c->m == M_RANGE)
    check_range(c);
  else if (c->m == M_ENV)
    check_envelope(c);
  else
    check_unary(c);
}

/* ---- one input ---- */

/* Every call of the server has ended (cancelled ones finish on their own
 * schedule): wait for it, so that the next input starts from zero. */
static void wait_server_idle(void);

static void close_everything(void) {
  for (int round = 0;; round++) {
    fcall *c = call_start(M_LIST, NULL, 0, 0, 0, NULL);
    wait_for(c);
    ListOpenFilesResponse *r =
        list_open_files_response__unpack(NULL, c->lens[0], c->msgs[0]);
    for (size_t i = 0; r && i < r->n_file_paths; i++) {
      pbuf p = {.n = 0};
      pb_bytes(&p, 1, r->file_paths[i], strlen(r->file_paths[i]));
      /* without a token (level 0), then with each (levels 1 and 2) */
      for (size_t k = 0; k <= n_tokens; k++) {
        fcall *x = call_start(M_CLOSE, p.b, p.n, 0, 0,
                              k ? tokens[k - 1] : NULL);
        wait_for(x);
        call_free(x);
      }
      /* A view whose OpenFile reply never came (cancelled): its token is
       * what an open with a password of its level gives. */
      static const char *const pw[] = {"l1pass", "l2pass"};
      for (int k = 0; k < 2; k++) {
        pbuf o = {.n = 0};
        pb_bytes(&o, 1, r->file_paths[i], strlen(r->file_paths[i]));
        pb_bytes(&o, 2, pw[k], strlen(pw[k]));
        note_request(M_OPEN, o.b, o.n);
        size_t before = n_tokens;
        fcall *x = call_start(M_OPEN, o.b, o.n, 0, 0, NULL);
        wait_for(x);
        call_free(x);
        for (size_t t = before; t < n_tokens; t++) {
          x = call_start(M_CLOSE, p.b, p.n, 0, 0, tokens[t]);
          wait_for(x);
          call_free(x);
        }
      }
      /* a session without encryption those opens reopened (level 0) */
      fcall *x = call_start(M_CLOSE, p.b, p.n, 0, 0, NULL);
      wait_for(x);
      call_free(x);
    }
    list_open_files_response__free_unpacked(r, NULL);
    call_free(c);
    wait_server_idle();
    /* Closing every file listed closes every file, with its tiles. */
    mef3_files_stats st;
    mef3_server_get_files_stats(&st, srv);
    if (!st.open_files && !st.tiles && !st.bytes)
      return;
    /* Except that a call the client cancelled at once may reach the
     * server only after the client saw it end, and an OpenFile then still
     * runs (as with any server): close again. */
    if (!had_cancel || round == 200)
      FAIL("after closing every file listed: %llu files open, %llu tiles "
           "(%llu bytes) cached",
           (unsigned long long)st.open_files, (unsigned long long)st.tiles,
           (unsigned long long)st.bytes);
    struct timespec t = {0, 5000000};
    nanosleep(&t, NULL);
  }
}

/* swap.mefd replaced by a link to outside/o.mefd (the original kept in
 * the temporary directory, outside the root), or put back. */
static void swap_session(int out) {
  if (out == swapped)
    return;
  if (out)
    sh("cd '%s' && mv root/swap.mefd swap.keep && "
       "ln -s '%s/o.mefd' root/swap.mefd",
       tmp, outside);
  else
    sh("cd '%s' && rm root/swap.mefd && mv swap.keep root/swap.mefd", tmp);
  swapped = out;
}

static void wait_server_idle(void) {
  mef3_server_stats st;
  for (int i = 0; i < 200000; i++) {
    mef3_server_get_stats(&st, srv);
    if (st.active_calls == 0 && st.active_streams == 0)
      return;
    struct timespec t = {0, 100000};
    nanosleep(&t, NULL);
  }
  FAIL("the server still counts %llu calls and %llu streams",
       (unsigned long long)st.active_calls,
       (unsigned long long)st.active_streams);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!srv)
    setup();
  n_calls = 0;
  n_secrets = n_others = n_tokens = 0;
  /* a call the last input cancelled may still reach the server now */
  had_concurrent = had_cancel;
  had_cancel = 0;
  while (size >= 3 && n_calls < MAX_CALLS) {
    uint8_t op = data[0];
    size_t len = (size_t)data[1] | (size_t)data[2] << 8;
    data += 3;
    size -= 3;
    if (len > size)
      len = size;
    int m = op & 7;
    if (m == 6) {
      /* between calls only: a swap racing a running check is the
       * documented limit of the confinement (files/paths.c) */
      wait_for(NULL);
      wait_server_idle();
      swap_session(!swapped);
      data += len;
      size -= len;
      continue;
    }
    if (m == 7)
      m = M_ENV;
    pbuf p;
    const uint8_t *req = data;
    size_t req_len = len;
    if (op & 8) {
      from_template(m, data, len, &p);
      req = p.b;
      req_len = p.n;
    }
    data += len;
    size -= len;
    note_request(m, req, req_len);
    int concurrent = (op & 16) != 0;
    if (concurrent)
      had_concurrent = 1;
    if (op & 32)
      had_cancel = 1;
    char token[MEF3_FILES_TOKEN_CHARS + 8];
    const char *tok = NULL;
    if (op & 64) {
      if (!(op & 128) && n_tokens) {
        tok = tokens[n_tokens - 1];
      } else {
        /* one no open gave: a digit of a real one changed, or junk */
        snprintf(token, sizeof token, "%s",
                 n_tokens ? tokens[n_tokens - 1]
                          : "00112233445566778899aabbccddeeff");
        token[len % MEF3_FILES_TOKEN_CHARS] ^= 1;
        if (len & 64)
          snprintf(token, sizeof token, "not-a-token-%zu", len);
        tok = token;
      }
    }
    fcall *c = call_start(m, req, req_len, (op & 32) != 0, concurrent, tok);
    calls[n_calls++] = c;
    if (!concurrent)
      wait_for(c);
  }
  wait_for(NULL);
  for (size_t i = 0; i < n_calls; i++)
    call_free(calls[i]);
  wait_server_idle(); /* cancelled streams end on their own */
  swap_session(0);
  close_everything();
  wait_server_idle();
  check_outside_untouched("after the input");
  pthread_mutex_lock(&log_mu);
  if (getenv("FUZZ_SERVER_LOG"))
    fprintf(stderr, "%s", log_buf ? log_buf : "");
  const char *x = log_buf ? leaked(log_buf, log_len) : NULL;
  if (x)
    FAIL("the log shows a password (%s):\n%s", x, log_buf);
  log_len = 0;
  if (log_buf)
    log_buf[0] = '\0';
  pthread_mutex_unlock(&log_mu);
  for (size_t i = 0; i < n_secrets; i++)
    free(secrets[i]);
  for (size_t i = 0; i < n_others; i++)
    free(others[i]);
  return 0;
}
