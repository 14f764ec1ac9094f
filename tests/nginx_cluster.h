/*
 * tests/nginx_cluster.h - N `mef3pool serve` nodes over one data folder
 * behind Debian's nginx, all on 127.0.0.1, as docs/deploy.md sets them up:
 * shared by tests/test_deploy_nginx.c (what must hold through the proxy)
 * and bench/bench_proxy.c (how fast, and how well the caches do).
 *
 * Processes only: each node is `mef3pool serve --port=0` writing its port
 * to a file in its own folder (work/nodeK), nginx runs as the caller's
 * user in the foreground (no daemon, no master process) with a
 * configuration written into the work folder, its logs there too.
 * Nothing here keeps global state; one thread drives a cluster.
 */
#ifndef MEF3_TESTS_NGINX_CLUSTER_H
#define MEF3_TESTS_NGINX_CLUSTER_H

#include <limits.h>
#include <sys/types.h>

#define NC_MAX_NODES 8

/* How nginx spreads calls over the nodes. */
typedef enum {
  /* docs/deploy.md: a consistent hash of the header x-mef3-session, or of
   * the connection for clients that send none (the original's). */
  NC_AFFINITY,
  /* nginx's default: every call to the next node in turn. */
  NC_ROUND_ROBIN,
} nc_balance;

typedef struct {
  pid_t pid;
  int port;      /* gRPC */
  int http_port; /* the HTTP API (/api/stats), or 0 when not asked for */
  int alive;
  char addr[64]; /* "127.0.0.1:PORT" */
  char dir[PATH_MAX + 16], log[PATH_MAX + 48];
} nc_node;

typedef struct {
  char work[PATH_MAX];      /* nginx.conf, access.log, error.log, nodeK/ */
  char nginx_bin[PATH_MAX]; /* set by nc_find_nginx */
  char proxy[64];           /* nginx's "127.0.0.1:PORT" once started */
  pid_t nginx_pid;
  int n_nodes; /* nodes started, in nodes[0 .. n_nodes) */
  nc_node nodes[NC_MAX_NODES];
} nc_cluster;

void nc_sleep_ms(int ms);

/* Debian's nginx (or one in /usr/local) into c->nginx_bin: 0, or -1 when
 * there is none. */
int nc_find_nginx(nc_cluster *c);

/* Start node c->n_nodes: `cli serve --root root` on 127.0.0.1 with a log
 * file, plus `extra` (NULL-terminated, or NULL), plus the HTTP API when
 * `http`; waits until it listens.  0, or -1 (its stderr is in
 * work/nodeK/stderr). */
int nc_start_node(nc_cluster *c, const char *cli, const char *root,
                  const char *const *extra, int http);

/* Write work/nginx.conf for the nodes started (balanced as `b`) on a free
 * loopback port and start nginx; waits until it accepts connections.
 * 0, or -1 (its messages copied to stderr). */
int nc_start_nginx(nc_cluster *c, nc_balance b);

/* Send `sig` to pid and reap it (pid <= 0: nothing). */
void nc_stop_pid(pid_t pid, int sig);

/* nginx stopped (SIGTERM) and every node still alive too (SIGTERM, their
 * grace period); returns how many nodes did not exit with status 0. */
int nc_stop_all(nc_cluster *c);

/* A node's tile cache counters since it started (mef3_files_stats). */
typedef struct {
  unsigned long long reads, hits, misses, prefetched;
} nc_cache_stats;

/* The node's counters from its HTTP API (GET /api/stats; the node was
 * started with `http`): 0, or -1 when it does not answer. */
int nc_node_cache_stats(nc_cache_stats *out, const nc_node *n);

#endif
