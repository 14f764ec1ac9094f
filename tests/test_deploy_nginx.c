/*
 * tests/test_deploy_nginx.c - three `mef3pool serve` nodes over one data
 * folder behind Debian's nginx (grpc_pass, consistent hashing on the
 * header x-mef3-session), as docs/deploy.md sets it up, all on loopback.
 *
 * nginx runs as the test's user in the foreground with a configuration
 * written into the test's scratch folder (the same template as the docs;
 * tests/nginx_cluster.c starts nodes and nginx, for bench/bench_proxy.c
 * too); it is skipped (exit 77, said on stdout) only when there is no
 * nginx.  Checked, through the proxy:
 *  - our C client's reads equal direct reads of the files (mef3_reader);
 *  - every read of one session lands on one node (each node's log has a
 *    line per read: the server's count of the reads it served);
 *  - the original's protocol (tests/deploy_nginx_orig.py: Debian's Python
 *    gRPC with stubs generated now from proto/mef3pool.proto, no header):
 *    reads equal, each connection stays on one node, connections spread;
 *  - a node killed (SIGKILL) during a load of reads from four threads:
 *    every read is either correct or fails with a retryable error
 *    (MEF3_EIO: unavailable or cut short; "File not open" on the node the
 *    session moved to, after which the client opens it again), retried
 *    reads come back correct, and the killed node's session is then
 *    served by one other node;
 *  - nginx's access log names no upstream but the three nodes, and every
 *    address in the configuration is 127.0.0.1.
 */
#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>

#include "nginx_cluster.h"
#include "server_helper.h"

#define NODES 3
#define SESSIONS 6
#define NCH 4
#define FS 256.0
#define DURATION_S 300
#define LOADERS 4

static nc_cluster cl; /* the nodes, nginx, the scratch folder */
static char root[PATH_MAX + 16];
static int64_t sess_start[SESSIONS];
static int owner[SESSIONS]; /* the node serving each session, by its log */

static const char *sess_name(int i) {
  /* per thread: the load's threads name sessions at once */
  static _Thread_local char b[8][32];
  static _Thread_local int slot;
  char *s = b[slot++ & 7];
  snprintf(s, 32, "s%d.mefd", i);
  return s;
}

/* ---- direct reads and comparisons ---- */

/* The window [t0, t1) s after the session's start of every channel, read
 * directly: NCH x n floats (malloc'd). */
static float *direct(mef3_reader *r, int sess, double a_s, double b_s,
                     size_t *n) {
  int64_t t0 = sess_start[sess] + (int64_t)(a_s * 1e6),
          t1 = sess_start[sess] + (int64_t)(b_s * 1e6);
  size_t cap = (size_t)mef3_window_samples(t0, t1, FS);
  float *x = malloc(NCH * cap * sizeof *x);
  for (size_t c = 0; x && c < NCH; c++) {
    size_t got = 0;
    if (mef3_reader_read_time(&got, NULL, r, c, t0, t1, MEF3_F32, x + c * cap,
                              cap, NULL) ||
        got != cap) {
      free(x);
      return NULL;
    }
  }
  *n = cap;
  return x;
}

static int same(const float *a, const float *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (memcmp(&a[i], &b[i], sizeof *a) && !(a[i] != a[i] && b[i] != b[i]))
      return 0;
  return 1;
}

/* How many "range sK.mefd [" lines (reads served) the log holds. */
static int reads_logged(const char *log, int sess) {
  char *t = tu_read_file(log, NULL);
  if (!t)
    return 0;
  char key[64];
  snprintf(key, sizeof key, " range %s [", sess_name(sess));
  int n = 0;
  for (char *p = t; (p = strstr(p, key)); p++)
    n++;
  free(t);
  return n;
}

/* ---- the load of reads during which a node is killed ---- */

typedef struct {
  int id;
  int done;       /* reads that came back correct */
  int wrong;      /* reads that came back with other values */
  int unavailable; /* MEF3_EIO: no node there, or the stream was cut */
  int moved;       /* "File not open": on the node the session moved to */
  int other;      /* any other failure (printed) */
  int gave_up;    /* reads still failing after every retry */
  int after_kill; /* correct reads of session 0 begun after the kill */
} loader;

/* Set by the main thread, read by the loaders; done and after_kill of
 * each loader are read by the main thread while the loader counts. */
static int load_stop, killed;
static mef3_reader *readers[SESSIONS];

static void *load_thread(void *arg) {
  loader *L = arg;
  mef3_client_options o = MEF3_CLIENT_OPTIONS_INIT;
  o.timeout_ms = 30000;
  mef3_client *c;
  if (mef3_client_new(&c, cl.proxy, &o)) {
    L->other++;
    return NULL;
  }
  for (int k = 0; !__atomic_load_n(&load_stop, __ATOMIC_RELAXED); k++) {
    int sess = (L->id + k) % SESSIONS;
    double a = (double)((k * 37 + L->id * 11) % (DURATION_S - 20));
    float *want;
    size_t n;
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&mu); /* a reader is not for two threads at once */
    want = direct(readers[sess], sess, a, a + 10, &n);
    pthread_mutex_unlock(&mu);
    if (!want) {
      L->other++;
      break;
    }
    int was_killed = __atomic_load_n(&killed, __ATOMIC_RELAXED), ok = 0;
    for (int attempt = 0; attempt < 40 && !ok; attempt++) {
      mef3_signal *s = NULL;
      int rc = mef3_client_read(&s, c, sess_name(sess), NULL, 0,
                                sess_start[sess] + (int64_t)(a * 1e6),
                                sess_start[sess] + (int64_t)((a + 10) * 1e6),
                                NULL, NULL);
      const char *msg = mef3_error_last()->message;
      if (!rc) {
        if (s->n_channels == NCH && s->n_samples == n && same(s->data, want, NCH * n))
          ok = 1;
        else
          L->wrong++;
        mef3_signal_free(s);
        if (!ok)
          break;
        continue;
      }
      if (rc == MEF3_EIO && *msg) {
        L->unavailable++;
      } else if (rc == MEF3_ENOTFOUND && strstr(msg, "not open")) {
        /* The session moved to a node that has not opened it. */
        L->moved++;
        mef3_client_open(NULL, NULL, c, sess_name(sess), NULL);
      } else {
        L->other++;
        fprintf(stderr, "load %d: read of %s failed: %s (%s)\n", L->id,
                sess_name(sess), msg, mef3_errname(rc));
        break;
      }
      th_sleep_ms(50);
    }
    free(want);
    if (ok) {
      __atomic_fetch_add(&L->done, 1, __ATOMIC_RELAXED);
      if (was_killed && sess == 0)
        __atomic_fetch_add(&L->after_kill, 1, __ATOMIC_RELAXED);
    } else {
      L->gave_up++;
    }
  }
  mef3_client_free(c);
  return NULL;
}

static int total_done(loader *L) {
  int n = 0;
  for (int i = 0; i < LOADERS; i++)
    n += __atomic_load_n(&L[i].done, __ATOMIC_RELAXED);
  return n;
}

static int total_after_kill(loader *L) {
  int n = 0;
  for (int i = 0; i < LOADERS; i++)
    n += __atomic_load_n(&L[i].after_kill, __ATOMIC_RELAXED);
  return n;
}

/* ---- the checks ---- */

static void check_our_client(void) {
  mef3_client *c;
  REQUIRE(mef3_client_new(&c, cl.proxy, NULL) == 0);
  static const double win[][2] = {{0, 30}, {100, 160}, {250.5, 260}};
  for (int s = 0; s < SESSIONS; s++) {
    mef3_file_info *fi = NULL;
    CHECK_MSG(mef3_client_open(&fi, NULL, c, sess_name(s), NULL) == 0,
              "open %s through the proxy: %s", sess_name(s), th_err());
    CHECK(fi && fi->n_channels == NCH);
    mef3_file_info_free(fi);
    for (size_t w = 0; w < sizeof win / sizeof *win; w++) {
      size_t n;
      float *want = direct(readers[s], s, win[w][0], win[w][1], &n);
      REQUIRE(want);
      mef3_signal *sig = NULL;
      int rc = mef3_client_read(&sig, c, sess_name(s), NULL, 0,
                                sess_start[s] + (int64_t)(win[w][0] * 1e6),
                                sess_start[s] + (int64_t)(win[w][1] * 1e6),
                                NULL, NULL);
      CHECK_MSG(rc == 0, "read %s through the proxy: %s", sess_name(s),
                th_err());
      CHECK_MSG(!rc && sig->n_channels == NCH && sig->n_samples == n &&
                    same(sig->data, want, NCH * n),
                "%s [%g, %g) s through the proxy differs from a direct read",
                sess_name(s), win[w][0], win[w][1]);
      mef3_signal_free(sig);
      free(want);
    }
  }
  mef3_client_free(c);
  /* Each session's 3 reads on one node, none elsewhere. */
  for (int s = 0; s < SESSIONS; s++) {
    int where = 0, total = 0;
    for (int k = 0; k < NODES; k++) {
      int n = reads_logged(cl.nodes[k].log, s);
      if (n > 0)
        owner[s] = k;
      where += n > 0;
      total += n;
    }
    CHECK_MSG(where == 1 && total == 3,
              "%s: %d reads served by %d nodes, wanted 3 by one",
              sess_name(s), total, where);
  }
}

/* Write what each window must read as, for the Python script. */
static void write_expected(const char *dir) {
  char p[PATH_MAX + 32];
  for (int s = 0; s < SESSIONS; s++) {
    size_t n;
    float *x = direct(readers[s], s, 20, 50, &n);
    REQUIRE(x);
    snprintf(p, sizeof p, "%s/%s.f32", dir, sess_name(s));
    FILE *f = fopen(p, "wb");
    REQUIRE(f && fwrite(x, sizeof *x, NCH * n, f) == NCH * n && !fclose(f));
    free(x);
  }
}

static void check_original_protocol(void) {
  char stubs[PATH_MAX + 16], exp[PATH_MAX + 16];
  snprintf(stubs, sizeof stubs, "%s/stubs", cl.work);
  snprintf(exp, sizeof exp, "%s/expected", cl.work);
  mkdir(stubs, 0755);
  mkdir(exp, 0755);
  if (tu_system("/usr/bin/python3 -c 'import grpc, numpy, google.protobuf' "
                "2>/dev/null") != 0) {
    printf("the original's protocol: skipped (no Python gRPC in "
           "/usr/bin/python3)\n");
    return;
  }
  write_expected(exp);
  REQUIRE(tu_system("protoc --python_out='%s' --grpc_python_out='%s' "
                    "--plugin=protoc-gen-grpc_python=\"$(command -v "
                    "grpc_python_plugin)\" -I'%s' '%s/mef3pool.proto'",
                    stubs, stubs, MEF3_PROTO_DIR, MEF3_PROTO_DIR) == 0);
  int rc = tu_system("/usr/bin/python3 '%s/deploy_nginx_orig.py' '%s' '%s' "
                     "'%s' %d %d %g '%s/access.log'",
                     MEF3_TESTS_DIR, stubs, cl.proxy, exp, SESSIONS, NCH, FS,
                     cl.work);
  CHECK_MSG(rc == 0, "the original's protocol through the proxy (rc %d)", rc);
}

/* Every upstream in the access log is one of the nodes. */
static void check_loopback_only(void) {
  char p[PATH_MAX + 16];
  snprintf(p, sizeof p, "%s/access.log", cl.work);
  char *t = tu_read_file(p, NULL);
  REQUIRE(t);
  int lines = 0, bad = 0;
  for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n")) {
    lines++;
    char *bar = strchr(line, '|');
    if (bar)
      *bar = '\0';
    /* "a:p" or, for a call tried on more than one node, "a:p, b:q". */
    for (char *u = line; *u;) {
      size_t len = strcspn(u, ", ");
      int known = 0;
      for (int k = 0; k < NODES; k++)
        known |= len == strlen(cl.nodes[k].addr) &&
                 !strncmp(u, cl.nodes[k].addr, len);
      if (!known && len) {
        bad++;
        fprintf(stderr, "upstream %.*s is not a node\n", (int)len, u);
      }
      u += len;
      u += strspn(u, ", ");
    }
  }
  free(t);
  CHECK(lines > 0);
  CHECK(bad == 0);
  snprintf(p, sizeof p, "%s/nginx.conf", cl.work);
  t = tu_read_file(p, NULL);
  REQUIRE(t);
  int addrs = 0, nonloop = 0;
  for (char *q = t; (q = strstr(q, "server ")); q++)
    if (q[7] != '{') { /* not the server block */
      addrs++;
      nonloop += strncmp(q + 7, "127.0.0.1:", 10) != 0;
    }
  for (char *q = t; (q = strstr(q, "listen ")); q++) {
    addrs++;
    nonloop += strncmp(q + 7, "127.0.0.1:", 10) != 0;
  }
  free(t);
  CHECK(addrs == NODES + 1 && nonloop == 0);
}

static void check_node_lost(void) {
  /* The victim: the node serving session 0.  Reads of it logged so far
   * (the header-less ones of the Python clients too) are the baseline. */
  int victim = owner[0], base[NODES];
  for (int k = 0; k < NODES; k++)
    base[k] = reads_logged(cl.nodes[k].log, 0);
  loader L[LOADERS];
  pthread_t th[LOADERS];
  memset(L, 0, sizeof L);
  for (int i = 0; i < LOADERS; i++) {
    L[i].id = i;
    REQUIRE(pthread_create(&th[i], NULL, load_thread, &L[i]) == 0);
  }
  for (int i = 0; i < 1200 && total_done(L) < 40; i++)
    th_sleep_ms(50);
  nc_stop_pid(cl.nodes[victim].pid, SIGKILL);
  cl.nodes[victim].alive = 0;
  __atomic_store_n(&killed, 1, __ATOMIC_RELAXED);
  int before = total_done(L);
  /* On until every thread has had session 0 again, and a good number of
   * reads more have come back. */
  for (int i = 0; i < 2400 && (total_done(L) < before + 60 ||
                               total_after_kill(L) < LOADERS);
       i++)
    th_sleep_ms(50);
  __atomic_store_n(&load_stop, 1, __ATOMIC_RELAXED);
  int wrong = 0, unavail = 0, moved = 0, other = 0, gave_up = 0;
  for (int i = 0; i < LOADERS; i++) {
    pthread_join(th[i], NULL);
    wrong += L[i].wrong;
    unavail += L[i].unavailable;
    moved += L[i].moved;
    other += L[i].other;
    gave_up += L[i].gave_up;
  }
  printf("node lost: %d reads correct (%d before the kill); failures: %d "
         "unavailable or cut short, %d \"not open\" where the session "
         "moved, %d other; %d wrong, %d given up; %d reads of the lost "
         "node's session after it\n",
         total_done(L), before, unavail, moved, other, wrong, gave_up,
         total_after_kill(L));
  CHECK(wrong == 0);
  CHECK(other == 0);
  CHECK(moved >= 1); /* each loader opened it again there */
  CHECK(gave_up == 0);
  CHECK(total_done(L) >= before + 60);
  CHECK(total_after_kill(L) >= LOADERS);
  /* Session 0 went to one other node, and stays there. */
  int where = 0;
  for (int k = 0; k < NODES; k++)
    if (k != victim && reads_logged(cl.nodes[k].log, 0) > base[k])
      where++;
  CHECK_MSG(where == 1, "session 0 after its node was lost: served by %d "
                        "nodes, wanted 1",
            where);
}

int main(int argc, char **argv) {
  if (nc_find_nginx(&cl)) {
    printf("skipped: nginx is not installed (Debian: apt-get install "
           "nginx-light)\n");
    return 77;
  }
  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  snprintf(cl.work, sizeof cl.work, "%s", tu_scratch("work"));
  snprintf(root, sizeof root, "%s/data root", cl.work);
  mkdir(root, 0755);
  for (int s = 0; s < SESSIONS; s++) {
    REQUIRE(tu_system("'%s' gen '%s/%s' --channels %d --fs %g --duration "
                      "%ds --seed %d >/dev/null",
                      MEF3_CLI, root, sess_name(s), NCH, FS, DURATION_S,
                      s + 1) == 0);
    char p[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/%s", root, sess_name(s));
    REQUIRE(mef3_reader_open(&readers[s], p, NULL) == 0);
    sess_start[s] = mef3_reader_channel(readers[s], 0)->start_uutc;
  }
  static const char *const node_args[] = {"--reader-processes=2",
                                          "--prefetch-processes=1", NULL};
  for (int k = 0; k < NODES; k++)
    REQUIRE(nc_start_node(&cl, MEF3_CLI, root, node_args, 0) == 0);
  REQUIRE(nc_start_nginx(&cl, NC_AFFINITY) == 0);

  static const check_case cases[] = {
      CASE(check_our_client),
      CASE(check_original_protocol),
      CASE(check_node_lost),
  };
  check_run(argc, argv, cases, sizeof cases / sizeof *cases);
  /* Of whatever the cases sent: nothing reached a non-loopback address. */
  check_loopback_only();

  int unclean = nc_stop_all(&cl);
  CHECK_MSG(unclean == 0, "%d node(s) did not stop cleanly on SIGTERM",
            unclean);
  for (int s = 0; s < SESSIONS; s++)
    mef3_reader_close(readers[s]);
  CHECK(th_no_children());
  if (check_failed)
    tu_system("tail -n 20 '%s/error.log' >&2", cl.work);
  return check_finish();
}
