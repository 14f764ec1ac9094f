/*
 * tests/server/test_server_load.c - a load test of the real server on loopback.
 *
 * `mef3pool serve` runs as its own process (process pool on, both lanes,
 * a 16 MiB tile cache, far smaller than the data, so tiles are evicted all
 * the time) over golden sessions and sessions written here with
 * mef3_gen_session (encrypted with passwords, several segments, gaps).
 * N clients (32; threads, each with its own mef3_client) run a random mix
 * of OpenFile, FileInfo, GetSignalRange, ListOpenFiles and CloseFile for a
 * bounded time.  Reads take channel subsets of one rate group and windows
 * of 0.25 s to 5 min; new windows ("cold": most miss the cache) and
 * windows some client read shortly before ("warm": most hit).
 *
 * Checks:
 * - every read equals a direct in-process read of the same window, bit for
 *   bit: mef3_reader_read_time of each channel when the window starts on
 *   the channels' sample grid (files.h: the file manager is then exact), a
 *   file manager without pool otherwise;
 * - no unexpected error.  Closing a file while another client reads it is
 *   part of the mix: that read (or FileInfo) fails with MEF3_ENOTFOUND and
 *   a "not open" message (for an encrypted session, MEF3_EPASSWORD: the
 *   access token died with the close, or the client has none yet), counted
 *   apart; the client opens the file again;
 * - the server's resident memory (VmRSS, sampled every 250 ms) stays flat
 *   after the warm-up: the largest sample of the last quarter of the run is
 *   at most the largest of the warm-up plus a margin of twice the tile
 *   budget plus 32 MiB.  Only in builds without sanitizers (ASan holds
 *   freed memory in quarantine; there LeakSanitizer checks the server at
 *   exit instead);
 * - the server exits 0 on SIGTERM and leaves no process behind.
 * It prints requests, p50/p99 latency per operation, errors by kind and the
 * RSS samples.
 *
 * Length: MEF3POOL_LOAD_SECONDS (default 45 s, 20 s under sanitizers;
 * under TSan the generated sessions and the longest windows are also 4
 * times shorter), clients: MEF3POOL_LOAD_CLIENTS (32), seed:
 * MEF3POOL_LOAD_SEED (default: the time; printed).  A soak by hand, from
 * a build folder (scratch files go to tests/tmp/soak-*):
 *
 *   MEF3POOL_LOAD_SECONDS=1800 MEF3_TEST_NAME=soak tests/test_server_load
 *
 * No assertion depends on timing: latencies are only reported.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "server_helper.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif
/* Under TSan everything runs 5-20 times slower: less data to generate
 * and windows of at most a minute, so that a run stays within minutes. */
#if defined(__SANITIZE_THREAD__)
#define SLOW 4
#else
#define SLOW 1
#endif

#define TILE_MB 16
#define MAX_GROUP_CH 64
#define RING 16
#define N_OPS 6

enum { OP_OPEN, OP_INFO, OP_LIST, OP_CLOSE, OP_READ_COLD, OP_READ_WARM };
static const char *op_name[N_OPS] = {"open",  "info",      "list",
                                     "close", "read cold", "read warm"};

/* Channels that share rate and start: one read may take any subset, and a
 * start on the grid of one is on the grid of all. */
typedef struct group {
  double fs;
  int64_t cs, ce;
  size_t n;
  const char *names[MAX_GROUP_CH];
  int rch[MAX_GROUP_CH]; /* reader channel index */
} group;

typedef struct window {
  int group;
  size_t nch;
  uint8_t ch[MAX_GROUP_CH]; /* indices into the group; nch 0: NULL list */
  int64_t t0, t1;
  int on_grid;
} window;

typedef struct sess {
  char rel[256]; /* path given to the server, relative to the root */
  mef3_files_access ref_access; /* its token in ref_fm */
  const char *password;
  char full[4096];
  size_t n_channels;
  size_t n_groups;
  group groups[8];
  pthread_mutex_t mu;
  mef3_reader *idle[4]; /* reference readers, leased by the clients */
  int n_idle;
  window recent[RING]; /* windows read lately, for warm reads */
  int n_recent, next;
} sess;

static sess sessions[16];
static size_t n_sessions;
static mef3_files *ref_fm; /* in process, no pool: the off-grid reference */
static th_server srv;
static char addr[64];
static int64_t deadline_ns;

static pthread_mutex_t report_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_long wrong, unexpected;
static atomic_llong bytes_read;

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static uint64_t rnd(uint64_t *s) { /* xorshift64* */
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 0x2545F4914F6CDD1DULL;
}
static double rnd01(uint64_t *s) {
  return (double)(rnd(s) >> 11) / (double)(1ULL << 53);
}

/* ---- reference readers ---- */

static mef3_reader *lease(sess *s) {
  pthread_mutex_lock(&s->mu);
  mef3_reader *r = s->n_idle ? s->idle[--s->n_idle] : NULL;
  pthread_mutex_unlock(&s->mu);
  if (r)
    return r;
  mef3_reader_options o = MEF3_READER_OPTIONS_INIT;
  o.password = s->password;
  o.max_open_data_files = 8;
  if (mef3_reader_open(&r, s->full, &o) != 0) {
    fprintf(stderr, "reference open %s: %s\n", s->full,
            mef3_error_last()->message);
    return NULL;
  }
  return r;
}

static void release(sess *s, mef3_reader *r) {
  pthread_mutex_lock(&s->mu);
  if (s->n_idle < 4) {
    s->idle[s->n_idle++] = r;
    r = NULL;
  }
  pthread_mutex_unlock(&s->mu);
  mef3_reader_close(r);
}

/* ---- the data ---- */

static void add_session(const char *root, const char *rel,
                        const char *password) {
  sess *s = &sessions[n_sessions++];
  snprintf(s->rel, sizeof s->rel, "%s", rel);
  snprintf(s->full, sizeof s->full, "%s/%s", root, rel);
  s->password = password;
  pthread_mutex_init(&s->mu, NULL);
  mef3_reader *r = lease(s);
  REQUIRE(r);
  s->n_channels = mef3_reader_channel_count(r);
  for (size_t i = 0; i < s->n_channels; i++) {
    const mef3_channel_info *ci = mef3_reader_channel(r, i);
    if (!ci->n_blocks)
      continue;
    size_t g = 0;
    while (g < s->n_groups &&
           !(s->groups[g].fs == ci->fs && s->groups[g].cs == ci->start_uutc))
      g++;
    REQUIRE(g < 8);
    group *gr = &s->groups[g];
    if (g == s->n_groups) {
      s->n_groups++;
      gr->fs = ci->fs;
      gr->cs = ci->start_uutc;
      gr->ce = ci->end_uutc;
    }
    if (ci->end_uutc > gr->ce)
      gr->ce = ci->end_uutc;
    REQUIRE(gr->n < MAX_GROUP_CH);
    gr->names[gr->n] = strdup(ci->name);
    gr->rch[gr->n++] = (int)i;
  }
  release(s, r);
  REQUIRE(mef3_files_open_as(&s->ref_access, NULL, ref_fm, rel, password) == 0);
}

static void gen(const char *root, const char *name, size_t nch, double fs,
                int64_t seconds, int64_t segment_s, size_t gaps,
                const char *pw1, const char *pw2, int data_enc) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", root, name);
  mef3_gen_options o = MEF3_GEN_OPTIONS_INIT;
  o.n_channels = nch;
  o.fs = fs;
  o.duration_us = seconds * 1000000;
  o.seed = nch * 1000 + (uint64_t)fs;
  o.n_random_gaps = gaps;
  o.segment_us = segment_s * 1000000;
  o.level_1_password = pw1;
  o.level_2_password = pw2;
  o.data_encryption = data_enc;
  int rc = mef3_gen_session(NULL, path, &o, NULL, NULL);
  CHECK_MSG(rc == 0, "gen %s: %s", name, mef3_error_last()->message);
}

/* ---- one client ---- */

typedef struct lat {
  double *ms;
  size_t n, cap;
} lat;

typedef struct client {
  int id;
  uint64_t rng;
  lat lat[N_OPS];
  long ok[N_OPS], not_open[N_OPS], failed[N_OPS];
  float *buf;
  size_t buf_cap;
} client;

static void lat_add(lat *l, double ms) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 256;
    l->ms = realloc(l->ms, l->cap * sizeof *l->ms);
    REQUIRE(l->ms);
  }
  l->ms[l->n++] = ms;
}

/* A "not open" error: the file was closed by another client (for a
 * session opened with a password: this client's token died with it, or
 * this client never opened it). */
static int is_not_open(int rc) {
  const char *m = mef3_error_last()->message;
  return (rc == MEF3_ENOTFOUND &&
          (strstr(m, "not open") || strstr(m, "File not open"))) ||
         (rc == MEF3_EPASSWORD &&
          (strstr(m, "access token is not valid") ||
           strstr(m, "calls need the access token")));
}

static void fail(client *cl, int op, int rc, const char *what) {
  cl->failed[op]++;
  long k = atomic_fetch_add(&unexpected, 1);
  if (k < 20) {
    pthread_mutex_lock(&report_mu);
    fprintf(stderr, "client %d: %s: %s: %s (%s)\n", cl->id, op_name[op], what,
            mef3_errname(rc), mef3_error_last()->message);
    pthread_mutex_unlock(&report_mu);
  }
}

static void report_wrong(client *cl, const sess *s, const window *w,
                         const char *why) {
  long k = atomic_fetch_add(&wrong, 1);
  if (k >= 10)
    return;
  pthread_mutex_lock(&report_mu);
  fprintf(stderr,
          "client %d: WRONG result: %s group %d (%zu ch) [%lld, %lld) %s: %s\n",
          cl->id, s->rel, w->group, w->nch, (long long)w->t0, (long long)w->t1,
          w->on_grid ? "on grid" : "off grid", why);
  pthread_mutex_unlock(&report_mu);
}

static void pick_window(client *cl, const sess *s, window *w) {
  static const double len_s[] = {0.25, 1,  1,  2,  5,   10,
                                 10,   30, 60, 60, 120, 300};
  w->group = (int)(rnd(&cl->rng) % s->n_groups);
  const group *g = &s->groups[w->group];
  if (s->n_groups == 1 && g->n == s->n_channels && rnd01(&cl->rng) < 0.2) {
    w->nch = 0; /* all channels: an empty list */
  } else {
    size_t want = 1 + (size_t)(rnd(&cl->rng) % (g->n < 8 ? g->n : 8));
    uint8_t perm[MAX_GROUP_CH];
    for (size_t i = 0; i < g->n; i++)
      perm[i] = (uint8_t)i;
    for (size_t i = 0; i < want; i++) { /* a random subset, random order */
      size_t j = i + (size_t)(rnd(&cl->rng) % (g->n - i));
      uint8_t t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
      w->ch[i] = perm[i];
    }
    w->nch = want;
  }
  double L = len_s[rnd(&cl->rng) % (sizeof len_s / sizeof *len_s)];
  if (L > 300.0 / SLOW)
    L = 300.0 / SLOW;
  int64_t len_us = (int64_t)(L * 1e6);
  int64_t span = g->ce - g->cs;
  /* starts from a quarter window before the channel to past its end */
  int64_t lo = g->cs - len_us / 4, hi = g->ce - len_us / 2;
  if (hi <= lo)
    hi = lo + 1;
  (void)span;
  int64_t t = lo + (int64_t)(rnd(&cl->rng) % (uint64_t)(hi - lo));
  w->on_grid = rnd01(&cl->rng) < 0.75;
  if (w->on_grid) { /* snap to the group's grid */
    int64_t k = llround((double)(t - g->cs) * g->fs / 1e6);
    t = g->cs + llround((double)k * 1e6 / g->fs);
  }
  w->t0 = t;
  w->t1 = t + len_us;
  if (mef3_files_window_samples(w->t0, w->t1, g->fs) < 1)
    w->t1 = w->t0 + (int64_t)ceil(2e6 / g->fs);
}

/* Compare a server result with the direct reads: 1 when identical. */
static int check_read(client *cl, sess *s, const window *w,
                      const mef3_signal *sig) {
  const group *g = &s->groups[w->group];
  size_t nch = w->nch ? w->nch : g->n;
  /* the server's count (half-sample lengths to even; the reference
   * reader's read below may hold one sample more) */
  size_t n = (size_t)mef3_files_window_samples(w->t0, w->t1, g->fs);
  char why[256];
  if (sig->n_channels != nch || sig->n_samples != n) {
    snprintf(why, sizeof why, "shape %zu x %zu, want %zu x %zu",
             sig->n_channels, sig->n_samples, nch, n);
    report_wrong(cl, s, w, why);
    return 0;
  }
  for (size_t k = 0; k < nch; k++) {
    const char *want = g->names[w->nch ? w->ch[k] : k];
    if (strcmp(sig->channel_names[k], want)) {
      snprintf(why, sizeof why, "channel %zu is %s, want %s", k,
               sig->channel_names[k], want);
      report_wrong(cl, s, w, why);
      return 0;
    }
  }
  if (!w->on_grid) { /* the file manager without pool */
    const char *names[MAX_GROUP_CH];
    for (size_t k = 0; k < nch; k++)
      names[k] = g->names[w->nch ? w->ch[k] : k];
    mef3_signal *ref = NULL;
    int rc = mef3_files_read_as(&ref, ref_fm, s->rel, s->ref_access.token,
                                names, nch, w->t0, w->t1);
    int same = rc == 0 && ref->n_samples == n &&
               !memcmp(ref->data, sig->data, nch * n * sizeof(float));
    if (!same) {
      snprintf(why, sizeof why,
               "differs from the in-process file manager "
               "(rc %s)",
               mef3_errname(rc));
      report_wrong(cl, s, w, why);
    }
    mef3_signal_free(ref);
    return same;
  }
  if (cl->buf_cap < n + 1) {
    free(cl->buf);
    cl->buf_cap = n + 1;
    cl->buf = malloc((n + 1) * sizeof *cl->buf);
    REQUIRE(cl->buf);
  }
  mef3_reader *r = lease(s);
  if (!r) {
    report_wrong(cl, s, w, "reference reader did not open");
    return 0;
  }
  int same = 1;
  for (size_t k = 0; k < nch && same; k++) {
    int rch = g->rch[w->nch ? w->ch[k] : k];
    size_t got = 0;
    int rc = mef3_reader_read_time(&got, NULL, r, (size_t)rch, w->t0, w->t1,
                                   MEF3_F32, cl->buf, cl->buf_cap, NULL);
    if (rc || got < n) {
      snprintf(why, sizeof why, "reference read: %s, %zu samples",
               mef3_errname(rc), got);
      report_wrong(cl, s, w, why);
      same = 0;
      break;
    }
    const float *x = sig->data + k * n;
    if (memcmp(x, cl->buf, n * sizeof *x)) {
      size_t i = 0;
      while (i < n && !memcmp(&x[i], &cl->buf[i], sizeof *x))
        i++;
      snprintf(why, sizeof why,
               "channel %s sample %zu of %zu: %.9g, direct read %.9g",
               sig->channel_names[k], i, n, x[i], cl->buf[i]);
      report_wrong(cl, s, w, why);
      same = 0;
    }
  }
  release(s, r);
  return same;
}

static int do_open(client *cl, mef3_client *c, sess *s) {
  int64_t t = now_ns();
  mef3_file_info *fi = NULL;
  int rc = mef3_client_open(&fi, NULL, c, s->rel, s->password);
  lat_add(&cl->lat[OP_OPEN], (double)(now_ns() - t) / 1e6);
  if (rc)
    fail(cl, OP_OPEN, rc, s->rel);
  else if (fi->n_channels != s->n_channels)
    fail(cl, OP_OPEN, 0, "wrong channel count");
  else
    cl->ok[OP_OPEN]++;
  mef3_file_info_free(fi);
  return rc;
}

static void do_read(client *cl, mef3_client *c, sess *s) {
  window w;
  int warm = 0;
  pthread_mutex_lock(&s->mu);
  if (s->n_recent && rnd01(&cl->rng) < 0.4) {
    w = s->recent[rnd(&cl->rng) % (uint64_t)s->n_recent];
    warm = 1;
  }
  pthread_mutex_unlock(&s->mu);
  if (!warm)
    pick_window(cl, s, &w);
  int op = warm ? OP_READ_WARM : OP_READ_COLD;
  const group *g = &s->groups[w.group];
  const char *names[MAX_GROUP_CH];
  for (size_t k = 0; k < w.nch; k++)
    names[k] = g->names[w.ch[k]];
  mef3_signal *sig = NULL;
  int64_t t = now_ns();
  int rc = mef3_client_read(&sig, c, s->rel, w.nch ? names : NULL, w.nch, w.t0,
                            w.t1, NULL, NULL);
  double ms = (double)(now_ns() - t) / 1e6;
  if (rc == 0) {
    lat_add(&cl->lat[op], ms);
    cl->ok[op]++;
    atomic_fetch_add(&bytes_read,
                     (long long)(sig->n_channels * sig->n_samples * 4));
    check_read(cl, s, &w, sig);
    if (!warm) {
      pthread_mutex_lock(&s->mu);
      s->recent[s->next] = w;
      s->next = (s->next + 1) % RING;
      if (s->n_recent < RING)
        s->n_recent++;
      pthread_mutex_unlock(&s->mu);
    }
  } else if (is_not_open(rc)) {
    cl->not_open[op]++;
    do_open(cl, c, s);
  } else {
    fail(cl, op, rc, s->rel);
  }
  mef3_signal_free(sig);
}

static void *client_main(void *p) {
  client *cl = p;
  mef3_client *c = NULL;
  /* A generous deadline: under sanitizers a read of minutes of signal
   * takes long; a hung request is the watchdog's. */
  mef3_client_options co = MEF3_CLIENT_OPTIONS_INIT;
  co.timeout_ms = 240000;
  if (mef3_client_new(&c, addr, &co) != 0) {
    fail(cl, OP_OPEN, MEF3_ERROR, "client_new");
    return NULL;
  }
  while (now_ns() < deadline_ns) {
    sess *s = &sessions[rnd(&cl->rng) % n_sessions];
    double u = rnd01(&cl->rng);
    if (u < 0.75) {
      do_read(cl, c, s);
    } else if (u < 0.85) {
      mef3_file_info *fi = NULL;
      int64_t t = now_ns();
      int rc = mef3_client_info(&fi, c, s->rel);
      double ms = (double)(now_ns() - t) / 1e6;
      if (rc == 0 && fi->n_channels == s->n_channels) {
        lat_add(&cl->lat[OP_INFO], ms);
        cl->ok[OP_INFO]++;
      } else if (rc && is_not_open(rc)) {
        cl->not_open[OP_INFO]++;
        do_open(cl, c, s);
      } else {
        fail(cl, OP_INFO, rc, rc ? s->rel : "wrong channel count");
      }
      mef3_file_info_free(fi);
    } else if (u < 0.89) {
      char **paths = NULL;
      size_t n = 0;
      int64_t t = now_ns();
      int rc = mef3_client_list(&paths, &n, c);
      lat_add(&cl->lat[OP_LIST], (double)(now_ns() - t) / 1e6);
      if (rc)
        fail(cl, OP_LIST, rc, "list");
      else if (n > n_sessions)
        fail(cl, OP_LIST, 0, "more files open than exist");
      else
        cl->ok[OP_LIST]++;
      mef3_files_list_free(paths, n);
    } else if (u < 0.985) {
      do_open(cl, c, s);
    } else {
      int64_t t = now_ns();
      int rc = mef3_client_close_file(c, s->rel);
      lat_add(&cl->lat[OP_CLOSE], (double)(now_ns() - t) / 1e6);
      if (rc && is_not_open(rc))
        cl->not_open[OP_CLOSE]++; /* no valid token: nothing closed */
      else if (rc)
        fail(cl, OP_CLOSE, rc, s->rel);
      else
        cl->ok[OP_CLOSE]++;
    }
  }
  mef3_client_free(c);
  return NULL;
}

/* ---- the server's memory ---- */

typedef struct rss_sample {
  double t; /* seconds since the clients started */
  long kb;
} rss_sample;

static rss_sample rss[1 << 16];
static size_t n_rss;
static atomic_int sampling;
static int64_t t_start_ns;

static long vmrss_kb(pid_t pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  long kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld", &kb) == 1)
      break;
  if (f)
    fclose(f);
  return kb;
}

static void *sampler_main(void *p) {
  (void)p;
  while (atomic_load(&sampling)) {
    long kb = vmrss_kb(srv.pid);
    if (kb > 0 && n_rss < sizeof rss / sizeof *rss)
      rss[n_rss++] = (rss_sample){(double)(now_ns() - t_start_ns) / 1e9, kb};
    th_sleep_ms(250);
  }
  return NULL;
}

/* ---- a watchdog: a hung run fails instead of hanging ctest ---- */

static void on_alarm(int sig) {
  (void)sig;
  static const char m[] = "test_server_load: watchdog: the run did not end\n";
  if (write(2, m, sizeof m - 1) < 0) {
  }
  kill(srv.pid, SIGKILL);
  _exit(3);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(const lat *l, double p) {
  if (!l->n)
    return NAN;
  size_t i = (size_t)ceil(p / 100.0 * (double)l->n);
  return l->ms[i ? i - 1 : 0];
}

static long env_long(const char *name, long dflt) {
  const char *v = getenv(name);
  return v && *v ? strtol(v, NULL, 10) : dflt;
}

int main(void) {
  if (!tu_have_golden()) {
    printf("no golden data at %s: skipped\n", MEF3_GOLDEN_DIR);
    return 0;
  }
  long seconds = env_long("MEF3POOL_LOAD_SECONDS", SANITIZED ? 20 : 45);
  long n_clients = env_long("MEF3POOL_LOAD_CLIENTS", 32);
  uint64_t seed = (uint64_t)env_long("MEF3POOL_LOAD_SEED", (long)time(NULL));
  REQUIRE(seconds > 0 && n_clients > 0 && n_clients <= 1024);

  /* The data root: golden sessions copied in, generated ones beside. */
  char root[4096];
  snprintf(root, sizeof root, "%s", tu_scratch("root"));
  int64_t t_setup = now_ns();
  static const char *golden[] = {
      "sessions/a_single_256hz.mefd",      "sessions/b_multi_8ch.mefd",
      "sessions/c_discontinuities.mefd",   "sessions/d_encrypted.mefd",
      "sessions/d2_encrypted_blocks.mefd", "sessions/f_escapes_extremes.mefd",
      "mef3io_golden/multi_segment.mefd",  "mef3io_golden/fractional_fs.mefd",
      "mef3io_golden/enc_both.mefd"};
  static const char *golden_pw[] = {NULL, NULL, NULL, "l2pass", "l2pass",
                                    NULL, NULL, NULL, "pass2"};
  REQUIRE(tu_system("mkdir -p '%s/sessions' '%s/mef3io_golden'", root, root) ==
          0);
  for (size_t i = 0; i < sizeof golden / sizeof *golden; i++) {
    char to[4200];
    snprintf(to, sizeof to, "%s/%s", root, golden[i]);
    REQUIRE(tu_copy_tree(tu_golden(golden[i]), to) == 0);
  }
  /* 16 x 256 Hz x 20 min; 6 x 1 kHz x 8 min in 2-minute segments with
   * gaps; 4 x 500 Hz x 6 min, both passwords, data encrypted at level 2,
   * segments and gaps. */
  gen(root, "gen16.mefd", 16, 256, 1200 / SLOW, 0, 0, NULL, NULL, 0);
  gen(root, "gen_seg.mefd", 6, 1000, 480 / SLOW, 120 / SLOW, 4, NULL, NULL, 0);
  gen(root, "gen_enc.mefd", 4, 500, 360 / SLOW, 150 / SLOW, 2, "lp1", "lp2", 2);

  mef3_files_options fo = MEF3_FILES_OPTIONS_INIT;
  fo.use_process_pool = 0;
  fo.data_root = root;
  fo.tile_cache_bytes = (int64_t)256 << 20;
  REQUIRE(mef3_files_new(&ref_fm, &fo) == 0);
  for (size_t i = 0; i < sizeof golden / sizeof *golden; i++)
    add_session(root, golden[i], golden_pw[i]);
  add_session(root, "gen16.mefd", NULL);
  add_session(root, "gen_seg.mefd", NULL);
  add_session(root, "gen_enc.mefd", "lp2");
  double data_mib = 0;
  for (size_t i = 0; i < n_sessions; i++)
    for (size_t g = 0; g < sessions[i].n_groups; g++) {
      const group *gr = &sessions[i].groups[g];
      data_mib += (double)gr->n * (double)(gr->ce - gr->cs) / 1e6 * gr->fs *
                  4.0 / 1048576.0;
    }

  char tile_mb[64];
  snprintf(tile_mb, sizeof tile_mb, "--tile-cache-mb=%d", TILE_MB);
  const char *extra[] = {"--use-process-pool=1",   "--reader-processes=3",
                         "--prefetch-processes=1", tile_mb,
                         "--max-streams=64",       "--chunk-bytes=524288",
                         "--log-level=info",       NULL};
  REQUIRE(th_start(&srv, root, extra) == 0);
  snprintf(addr, sizeof addr, "%s", srv.addr);
  signal(SIGALRM, on_alarm);
  alarm((unsigned)(seconds + 300));

  /* Open every session once before the clients start. */
  {
    mef3_client *c;
    REQUIRE(mef3_client_new(&c, addr, NULL) == 0);
    for (size_t i = 0; i < n_sessions; i++)
      CHECK_MSG(mef3_client_open(NULL, NULL, c, sessions[i].rel,
                                 sessions[i].password) == 0,
                "open %s: %s", sessions[i].rel, th_err());
    mef3_client_free(c);
  }
  printf("setup %.1f s: %zu sessions (%.0f MiB of float32 signal), server "
         "pid %d, tile cache %d MiB, %ld clients for %ld s, seed %llu\n",
         (double)(now_ns() - t_setup) / 1e9, n_sessions, data_mib, (int)srv.pid,
         TILE_MB, n_clients, seconds, (unsigned long long)seed);
  fflush(stdout);

  client *cl = calloc((size_t)n_clients, sizeof *cl);
  pthread_t *th = calloc((size_t)n_clients, sizeof *th);
  REQUIRE(cl && th);
  t_start_ns = now_ns();
  deadline_ns = t_start_ns + (int64_t)seconds * 1000000000;
  atomic_store(&sampling, 1);
  pthread_t sampler;
  REQUIRE(pthread_create(&sampler, NULL, sampler_main, NULL) == 0);
  for (long i = 0; i < n_clients; i++) {
    cl[i].id = (int)i;
    cl[i].rng = seed * 0x9E3779B97F4A7C15ULL + (uint64_t)i * 7919 + 1;
    REQUIRE(pthread_create(&th[i], NULL, client_main, &cl[i]) == 0);
  }
  for (long i = 0; i < n_clients; i++)
    pthread_join(th[i], NULL);
  double run_s = (double)(now_ns() - t_start_ns) / 1e9;
  atomic_store(&sampling, 0);
  pthread_join(sampler, NULL);

  /* Figures. */
  lat all[N_OPS];
  long ok[N_OPS] = {0}, not_open[N_OPS] = {0}, failed[N_OPS] = {0};
  long total = 0;
  for (int op = 0; op < N_OPS; op++) {
    all[op] = (lat){0};
    for (long i = 0; i < n_clients; i++) {
      for (size_t k = 0; k < cl[i].lat[op].n; k++)
        lat_add(&all[op], cl[i].lat[op].ms[k]);
      ok[op] += cl[i].ok[op];
      not_open[op] += cl[i].not_open[op];
      failed[op] += cl[i].failed[op];
    }
    qsort(all[op].ms, all[op].n, sizeof *all[op].ms, cmp_double);
    total += ok[op] + not_open[op] + failed[op];
  }
  printf("%ld requests in %.1f s (%.0f/s), %.1f MiB of signal received\n",
         total, run_s, (double)total / run_s,
         (double)atomic_load(&bytes_read) / 1048576.0);
  printf("%-10s %8s %9s %7s %10s %10s %10s\n", "operation", "ok", "not open",
         "failed", "p50 ms", "p99 ms", "max ms");
  for (int op = 0; op < N_OPS; op++)
    printf("%-10s %8ld %9ld %7ld %10.2f %10.2f %10.2f\n", op_name[op], ok[op],
           not_open[op], failed[op], pct(&all[op], 50), pct(&all[op], 99),
           all[op].n ? all[op].ms[all[op].n - 1] : NAN);
  printf("wrong results: %ld, unexpected errors: %ld\n", atomic_load(&wrong),
         atomic_load(&unexpected));
  CHECK_MSG(atomic_load(&wrong) == 0, "%ld wrong results", atomic_load(&wrong));
  CHECK_MSG(atomic_load(&unexpected) == 0, "%ld unexpected errors",
            atomic_load(&unexpected));
  CHECK(ok[OP_READ_COLD] > 0); /* it ran (how much depends on the machine) */

  /* Memory: warm-up is the first 30% of the run (at least 3 s). */
  double warm_end = run_s * 0.3 > 3 ? run_s * 0.3 : 3;
  long warm_max = 0, last_max = 0, first_kb = n_rss ? rss[0].kb : 0;
  printf("server VmRSS (MiB) by time (s):");
  double next_print = 0;
  for (size_t i = 0; i < n_rss; i++) {
    if (rss[i].t <= warm_end && rss[i].kb > warm_max)
      warm_max = rss[i].kb;
    if (rss[i].t >= run_s * 0.75 && rss[i].kb > last_max)
      last_max = rss[i].kb;
    if (rss[i].t >= next_print) {
      printf(" %.0f:%.1f", rss[i].t, rss[i].kb / 1024.0);
      next_print += run_s / 15;
    }
  }
  long margin = (2 * TILE_MB + 32) * 1024;
  printf("\nserver VmRSS: first %.1f MiB, warm-up (to %.0f s) max %.1f MiB, "
         "last quarter max %.1f MiB; allowed %.1f MiB%s\n",
         first_kb / 1024.0, warm_end, warm_max / 1024.0, last_max / 1024.0,
         (warm_max + margin) / 1024.0,
         SANITIZED ? " (not checked under sanitizers)" : "");
  CHECK(n_rss > 4);
  if (!SANITIZED)
    CHECK_MSG(last_max <= warm_max + margin,
              "server memory grew after the warm-up: %ld kB > %ld kB + %ld kB",
              last_max, warm_max, margin);

  int st = th_stop(&srv, SIGTERM);
  CHECK_MSG(st == 0, "server exit status %d", st);
  alarm(0);
  CHECK(th_no_children());
  char *log = tu_read_file(srv.log, NULL);
  long errors = 0;
  for (char *p = log; p && (p = strstr(p, " ERROR ")); p++)
    errors++;
  printf("server log: %ld ERROR lines\n", errors);
  free(log);

  for (int op = 0; op < N_OPS; op++)
    free(all[op].ms);
  for (long i = 0; i < n_clients; i++) {
    for (int op = 0; op < N_OPS; op++)
      free(cl[i].lat[op].ms);
    free(cl[i].buf);
  }
  free(cl);
  free(th);
  for (size_t i = 0; i < n_sessions; i++) {
    for (int k = 0; k < sessions[i].n_idle; k++)
      mef3_reader_close(sessions[i].idle[k]);
    for (size_t g = 0; g < sessions[i].n_groups; g++)
      for (size_t k = 0; k < sessions[i].groups[g].n; k++)
        free((char *)sessions[i].groups[g].names[k]);
  }
  mef3_files_free(ref_fm);
  return check_finish();
}
