/*
 * bench/bench_proxy.c - reads per second through nginx with 1 and 3
 * `mef3pool serve` nodes, and the nodes' tile cache hit rates with session
 * affinity (docs/deploy.md: a consistent hash of the session header) and
 * without (nginx's round robin), all on 127.0.0.1 of this machine.
 *
 * Nodes and nginx are started by tests/nginx_cluster.c, as in
 * tests/test_deploy_nginx.c, over one folder of generated sessions.  Each
 * configuration starts fresh nodes (cold caches) and runs the same load:
 * --clients threads, each with a client (a connection) of its own, each
 * reading --reads windows of --window-s seconds of every channel, the
 * session and start drawn from a seeded generator (the same sequence in
 * every configuration), so the nodes see the same reads of the same
 * tiles.  The hit rate is hits / (hits + misses) of the tile cache summed
 * over the nodes (their HTTP API, /api/stats); a tile missed on one node
 * and read later on another is decoded twice, which affinity avoids.
 * Without affinity a read may land on any node, so every node opens every
 * session first (directly, not through the proxy); with it, the opens go
 * through the proxy like the reads.  Before the load, each node reads a
 * session outside it once (its reader processes start at its first read)
 * and the counters are taken then: figures count the load alone.
 *
 * Configurations: 1 node read directly (no proxy: the baseline of the
 * proxy's cost), 1 node through nginx, 3 nodes through nginx with
 * affinity, 3 nodes with round robin.  Printed: reads/s (median of
 * --rounds), hit rates, tiles decoded, and the ratios 1 node via nginx /
 * direct, 3 nodes / 1 node, affinity / round robin.  On a machine with
 * 2 cores, 3 nodes (and nginx, and the clients) share those 2 cores: they
 * cannot read faster than 1 node; the hit rate is what carries over to
 * nodes with cores of their own.
 *
 * usage: bench_proxy [--quick] [--dir DIR] [--rounds N] [--clients N]
 *                    [--reads N] [--sessions N] [--channels N] [--fs HZ]
 *                    [--duration-s S] [--window-s S] [--cache-mb MB]
 * --quick: small sessions and few reads (CTest's smoke: it checks that
 * every read comes back whole and the counters answer, not the figures).
 * Exits 77 without nginx, 1 when a read failed.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "bench_util.h"
#include "mef3pool.h"
#include "mef3pool/client.h"
#include "nginx_cluster.h"

#define MAX_SESSIONS 64
#define MAX_CLIENTS 32

typedef struct {
  const char *name;
  int nodes;
  int proxy; /* through nginx, or straight to node 0 */
  nc_balance balance;
} config;

static const config configs[] = {
    {"1 node, direct (no proxy)", 1, 0, NC_AFFINITY},
    {"1 node via nginx", 1, 1, NC_AFFINITY},
    {"3 nodes via nginx, affinity", 3, 1, NC_AFFINITY},
    {"3 nodes via nginx, round robin", 3, 1, NC_ROUND_ROBIN},
};
#define N_CONFIGS (sizeof configs / sizeof *configs)

/* The load, from the command line. */
static int n_sessions = 12, n_channels = 16, clients = 4, reads = 150;
static double fs = 256, duration_s = 600, window_s = 10;
static int cache_mb = 0; /* 0: the server's default */
static char data[2048], names[MAX_SESSIONS][32];
static int64_t starts[MAX_SESSIONS];
/* A session outside the load, for warm_up. */
#define WARM_NAME "warm-up.mefd"
static int64_t warm_start;

typedef struct {
  int id;
  const char *addr;
  int ok, failed;
  size_t expect; /* samples per channel of every window */
} client_job;

static void *client_thread(void *arg) {
  client_job *j = arg;
  mef3_client *c;
  if (mef3_client_new(&c, j->addr, NULL)) {
    j->failed = reads;
    return NULL;
  }
  uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(j->id + 1);
  int64_t span = (int64_t)((duration_s - window_s) * 1e6);
  for (int k = 0; k < reads; k++) {
    int s = (int)(bench_rand(&seed) % (uint64_t)n_sessions);
    /* starts on whole seconds: windows of viewers repeat */
    int64_t t0 =
        starts[s] +
        (int64_t)(bench_rand(&seed) % (uint64_t)(span / 1000000 + 1)) * 1000000;
    int64_t t1 = t0 + (int64_t)(window_s * 1e6);
    mef3_signal *sig = NULL;
    int rc = mef3_client_read(&sig, c, names[s], NULL, 0, t0, t1, NULL, NULL);
    if (!rc && sig->n_channels == (size_t)n_channels &&
        sig->n_samples == j->expect) {
      j->ok++;
    } else {
      if (j->failed++ < 3)
        fprintf(stderr, "bench_proxy: client %d: read of %s failed: %s\n",
                j->id, names[s],
                rc ? mef3_error_last()->message : "wrong shape");
    }
    mef3_signal_free(sig);
  }
  mef3_client_free(c);
  return NULL;
}

typedef struct {
  double reads_per_s;
  nc_cache_stats st; /* summed over the nodes */
  unsigned long long node_reads[NC_MAX_NODES];
  int failed;
} result;

/* Open every session on `addr` (a node, or the proxy). */
static int open_all(const char *addr) {
  mef3_client *c;
  if (mef3_client_new(&c, addr, NULL))
    return -1;
  int rc = 0;
  for (int s = 0; s < n_sessions && !rc; s++)
    if ((rc = mef3_client_open(NULL, NULL, c, names[s], NULL)))
      fprintf(stderr, "bench_proxy: open %s on %s: %s\n", names[s], addr,
              mef3_error_last()->message);
  mef3_client_free(c);
  return rc;
}

/* Start every node's reader processes (they start at a node's first
 * read, which should not count) with a read of a session outside the
 * load, directly on the node, and take its counters as the baseline. */
static int warm_up(nc_cluster *cl, nc_cache_stats *base) {
  for (int k = 0; k < cl->n_nodes; k++) {
    mef3_client *c;
    if (mef3_client_new(&c, cl->nodes[k].addr, NULL))
      return -1;
    mef3_signal *sig = NULL;
    int rc = mef3_client_open(NULL, NULL, c, WARM_NAME, NULL);
    if (!rc)
      rc = mef3_client_read(&sig, c, WARM_NAME, NULL, 0, warm_start,
                            warm_start + (int64_t)(window_s * 1e6), NULL, NULL);
    if (rc)
      fprintf(stderr, "bench_proxy: warm-up read on node %d: %s\n", k,
              mef3_error_last()->message);
    mef3_signal_free(sig);
    mef3_client_free(c);
    if (rc)
      return -1;
  }
  nc_sleep_ms(300); /* the prefetch that read started */
  for (int k = 0; k < cl->n_nodes; k++)
    if (nc_node_cache_stats(&base[k], &cl->nodes[k])) {
      fprintf(stderr, "bench_proxy: node %d: no /api/stats\n", k);
      return -1;
    }
  return 0;
}

static int run_config(const config *cf, int round, const char *scratch,
                      result *out) {
  memset(out, 0, sizeof *out);
  nc_cluster cl;
  memset(&cl, 0, sizeof cl);
  if (nc_find_nginx(&cl))
    return -1;
  snprintf(cl.work, sizeof cl.work, "%s/c%d-%zu", scratch, round,
           (size_t)(cf - configs));
  mkdir(cl.work, 0755);
  char cache[32];
  snprintf(cache, sizeof cache, "--tile-cache-mb=%d", cache_mb);
  const char *extra[] = {cache_mb > 0 ? cache : NULL, NULL};
  int rc = 0;
  for (int k = 0; k < cf->nodes && !rc; k++)
    rc = nc_start_node(&cl, MEF3_CLI, data, extra, 1);
  if (!rc && cf->proxy)
    rc = nc_start_nginx(&cl, cf->balance);
  const char *addr = cf->proxy ? cl.proxy : cl.nodes[0].addr;
  /* Without affinity any node may get any read: all open all. */
  if (!rc && cf->proxy && cf->balance == NC_ROUND_ROBIN)
    for (int k = 0; k < cl.n_nodes && !rc; k++)
      rc = open_all(cl.nodes[k].addr);
  else if (!rc)
    rc = open_all(addr);
  nc_cache_stats base[NC_MAX_NODES];
  if (!rc)
    rc = warm_up(&cl, base);
  client_job jobs[MAX_CLIENTS];
  pthread_t th[MAX_CLIENTS];
  size_t expect = (size_t)mef3_window_samples(0, (int64_t)(window_s * 1e6), fs);
  if (!rc) {
    double t = bench_now();
    for (int i = 0; i < clients; i++) {
      jobs[i] = (client_job){.id = i, .addr = addr, .expect = expect};
      pthread_create(&th[i], NULL, client_thread, &jobs[i]);
    }
    int ok = 0;
    for (int i = 0; i < clients; i++) {
      pthread_join(th[i], NULL);
      ok += jobs[i].ok;
      out->failed += jobs[i].failed;
    }
    t = bench_now() - t;
    out->reads_per_s = ok / t;
    for (int k = 0; k < cl.n_nodes && !rc; k++) {
      nc_cache_stats s;
      if ((rc = nc_node_cache_stats(&s, &cl.nodes[k]))) {
        fprintf(stderr, "bench_proxy: node %d: no /api/stats\n", k);
        break;
      }
      out->st.reads += s.reads - base[k].reads;
      out->st.hits += s.hits - base[k].hits;
      out->st.misses += s.misses - base[k].misses;
      out->st.prefetched += s.prefetched - base[k].prefetched;
      out->node_reads[k] = s.reads - base[k].reads;
    }
  }
  int unclean = nc_stop_all(&cl);
  if (unclean)
    fprintf(stderr, "bench_proxy: %d node(s) did not stop cleanly\n", unclean);
  if (rc)
    fprintf(stderr, "bench_proxy: %s: could not run (logs in %s)\n", cf->name,
            cl.work);
  return rc || unclean ? -1 : 0;
}

/* mkdir -p */
static int mkdir_parents(const char *dir) {
  char p[2048];
  snprintf(p, sizeof p, "%s", dir);
  for (char *q = p + 1; *q; q++)
    if (*q == '/') {
      *q = '\0';
      if (mkdir(p, 0755) && errno != EEXIST)
        return -1;
      *q = '/';
    }
  return mkdir(p, 0755) && errno != EEXIST ? -1 : 0;
}

static double hit_rate(const nc_cache_stats *s) {
  unsigned long long n = s->hits + s->misses;
  return n ? (double)s->hits / (double)n : 0;
}

static int arg_int(int argc, char **argv, int *i, const char *name, int *v) {
  if (strcmp(argv[*i], name) || *i + 1 >= argc)
    return 0;
  *v = atoi(argv[++*i]);
  return 1;
}

static int arg_double(int argc, char **argv, int *i, const char *name,
                      double *v) {
  if (strcmp(argv[*i], name) || *i + 1 >= argc)
    return 0;
  *v = atof(argv[++*i]);
  return 1;
}

int main(int argc, char **argv) {
  const char *dir = MEF3_BENCH_DIR;
  int rounds = 3;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--quick")) {
      n_sessions = 3, n_channels = 4, clients = 2, reads = 12;
      duration_s = 120, rounds = 1;
    } else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
      dir = argv[++i];
    } else if (arg_int(argc, argv, &i, "--rounds", &rounds) ||
               arg_int(argc, argv, &i, "--clients", &clients) ||
               arg_int(argc, argv, &i, "--reads", &reads) ||
               arg_int(argc, argv, &i, "--sessions", &n_sessions) ||
               arg_int(argc, argv, &i, "--channels", &n_channels) ||
               arg_int(argc, argv, &i, "--cache-mb", &cache_mb) ||
               arg_double(argc, argv, &i, "--fs", &fs) ||
               arg_double(argc, argv, &i, "--duration-s", &duration_s) ||
               arg_double(argc, argv, &i, "--window-s", &window_s)) {
    } else {
      fprintf(stderr,
              "usage: bench_proxy [--quick] [--dir DIR] [--rounds N] "
              "[--clients N] [--reads N]\n"
              "                   [--sessions N] [--channels N] [--fs HZ] "
              "[--duration-s S] [--window-s S]\n"
              "                   [--cache-mb MB]\n");
      return 2;
    }
  }
  if (n_sessions < 1 || n_sessions > MAX_SESSIONS || clients < 1 ||
      clients > MAX_CLIENTS || reads < 1 || rounds < 1 || n_channels < 1 ||
      fs <= 0 || window_s <= 0 || duration_s < window_s + 1) {
    fprintf(stderr, "bench_proxy: a parameter is out of range\n");
    return 2;
  }
  nc_cluster probe;
  if (nc_find_nginx(&probe)) {
    printf("skipped: nginx is not installed (Debian: apt-get install "
           "nginx-light)\n");
    return 77;
  }
  signal(SIGPIPE, SIG_IGN);
  /* Workers a node leaves behind are reaped here, not by init. */
  prctl(PR_SET_CHILD_SUBREAPER, 1);

  /* The sessions, kept between runs; the scratch folder, not. */
  if (mkdir_parents(dir)) {
    fprintf(stderr, "bench_proxy: cannot make %s: %s\n", dir, strerror(errno));
    return 1;
  }
  snprintf(data, sizeof data, "%s/proxy-%dch-%gHz-%gs", dir, n_channels, fs,
           duration_s);
  mkdir(data, 0755);
  char dur[32];
  snprintf(dur, sizeof dur, "%gs", duration_s);
  for (int s = 0; s <= n_sessions; s++) {
    char path[2200];
    if (s < n_sessions) {
      snprintf(names[s], sizeof names[s], "p%d.mefd", s);
      snprintf(path, sizeof path, "%s/p%d.mefd", data, s);
    } else {
      snprintf(path, sizeof path, "%s/" WARM_NAME, data);
    }
    mef3_reader *r;
    if (bench_gen(MEF3_CLI, path, n_channels, fs, dur, NULL) ||
        mef3_reader_open(&r, path, NULL)) {
      fprintf(stderr, "bench_proxy: no session %s\n", path);
      return 1;
    }
    *(s < n_sessions ? &starts[s] : &warm_start) =
        mef3_reader_channel(r, 0)->start_uutc;
    mef3_reader_close(r);
  }
  char scratch[2048];
  snprintf(scratch, sizeof scratch, "%s/proxy-run.XXXXXX", dir);
  if (!mkdtemp(scratch)) {
    fprintf(stderr, "bench_proxy: mkdtemp %s: %s\n", scratch, strerror(errno));
    return 1;
  }

  char cache[32] = "the default";
  if (cache_mb > 0)
    snprintf(cache, sizeof cache, "%d MiB", cache_mb);
  printf("bench_proxy: %d sessions of %d ch x %g Hz x %g s; %d clients x %d "
         "reads of %g s windows; tile cache %s per node; %d round(s); %ld "
         "cores\n",
         n_sessions, n_channels, fs, duration_s, clients, reads, window_s,
         cache, rounds, sysconf(_SC_NPROCESSORS_ONLN));
  result res[N_CONFIGS];
  double rps[N_CONFIGS][16];
  int failed = 0;
  if (rounds > 16)
    rounds = 16;
  for (int round = 0; round < rounds; round++)
    for (size_t i = 0; i < N_CONFIGS; i++) {
      result r;
      if (run_config(&configs[i], round, scratch, &r))
        return 1;
      failed += r.failed;
      rps[i][round] = r.reads_per_s;
      res[i] = r; /* counters: the same load each round; the last kept */
    }
  for (size_t i = 0; i < N_CONFIGS; i++)
    res[i].reads_per_s = bench_median(rps[i], (size_t)rounds);

  printf("%-32s %10s %9s %8s %8s %9s  %s\n", "configuration", "reads/s",
         "hit rate", "hits", "misses", "prefetch", "reads per node");
  for (size_t i = 0; i < N_CONFIGS; i++) {
    const result *r = &res[i];
    char per[96] = "";
    for (int k = 0; k < configs[i].nodes; k++)
      snprintf(per + strlen(per), sizeof per - strlen(per), "%s%llu",
               k ? "/" : "", r->node_reads[k]);
    printf("%-32s %10.1f %8.1f%% %8llu %8llu %9llu  %s\n", configs[i].name,
           r->reads_per_s, 100 * hit_rate(&r->st), r->st.hits, r->st.misses,
           r->st.prefetched, per);
  }
  const result *direct = &res[0], *one = &res[1], *aff = &res[2], *rr = &res[3];
  printf("ratio reads/s  1 node via nginx / direct:          %.2fx\n",
         one->reads_per_s / direct->reads_per_s);
  printf("ratio reads/s  3 nodes / 1 node (both via nginx):  %.2fx  "
         "(%ld cores for all of them)\n",
         aff->reads_per_s / one->reads_per_s, sysconf(_SC_NPROCESSORS_ONLN));
  printf("ratio reads/s  affinity / round robin (3 nodes):   %.2fx\n",
         aff->reads_per_s / rr->reads_per_s);
  unsigned long long dec_aff = aff->st.misses + aff->st.prefetched,
                     dec_rr = rr->st.misses + rr->st.prefetched;
  printf("hit rate       affinity %.1f%% vs round robin %.1f%%; tiles "
         "decoded (misses + prefetched) %llu vs %llu: round robin %.2fx\n",
         100 * hit_rate(&aff->st), 100 * hit_rate(&rr->st), dec_aff, dec_rr,
         dec_aff ? (double)dec_rr / (double)dec_aff : 0);
  char rm[2100];
  snprintf(rm, sizeof rm, "rm -rf '%s'", scratch);
  if (system(rm) != 0)
    fprintf(stderr, "bench_proxy: could not remove %s\n", scratch);
  if (failed) {
    fprintf(stderr, "bench_proxy: %d read(s) failed\n", failed);
    return 1;
  }
  return 0;
}
