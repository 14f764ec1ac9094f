/*
 * worker/main.c - mef3pool-worker, the program a reader pool spawns.
 * Usage (by the pool only): mef3pool-worker FD
 * where FD is the connected socket to the pool.
 *
 * Fault injection, for tests of the pool and of what runs on it: the
 * environment variable MEF3POOL_WORKER_FAULTS, e.g.
 *   MEF3POOL_WORKER_FAULTS="alloc=0.02,read=0.05,seed=7"
 * makes each allocation of the library fail with probability `alloc`
 * (through the allocator hook, as if memory ran out) and each read of a
 * file fail with EIO with probability `read` (at the library's one
 * file-read helper).  `seed` (default 1) seeds the draws; each worker
 * mixes in its process id, so workers fail differently.  Requests that
 * hit a fault fail with MEF3_ENOMEM or MEF3_EIO naming the file (or, when
 * the worker cannot even take a frame, it exits and the request fails
 * with MEF3_ENOMEM).  The pool passes its environment to its workers, so
 * setting the variable before creating a pool turns faults on in every
 * worker it starts.  A malformed value stops the worker with a message.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mef3pool/pool.h"
#include "util/fsutil.h"

/* ---- fault injection ---- */

static double p_alloc, p_read;
static uint64_t rng;

static uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/* A draw in [0, 1).  The worker runs one thread, so no lock. */
static double draw(void) {
  rng = splitmix64(rng);
  return (double)(rng >> 11) * 0x1.0p-53;
}

static void *f_malloc(size_t n, void *payload) {
  (void)payload;
  return draw() < p_alloc ? NULL : malloc(n);
}

static void *f_calloc(size_t n, size_t size, void *payload) {
  (void)payload;
  return draw() < p_alloc ? NULL : calloc(n, size);
}

static void *f_realloc(void *p, size_t n, void *payload) {
  (void)payload;
  return draw() < p_alloc ? NULL : realloc(p, n);
}

static void f_free(void *p, void *payload) {
  (void)payload;
  free(p);
}

static int f_read(int fd, size_t len, uint64_t off, void *payload) {
  (void)fd, (void)len, (void)off, (void)payload;
  return draw() < p_read ? EIO : 0;
}

static int parse_prob(const char *v, double *out) {
  char *end;
  errno = 0;
  double x = strtod(v, &end);
  if (errno || end == v || *end || !(x >= 0.0 && x <= 1.0))
    return -1;
  *out = x;
  return 0;
}

/* Parse "key=value,..." and install the hooks; 0, or -1 with a message. */
static int setup_faults(const char *spec) {
  char buf[256];
  if (strlen(spec) >= sizeof buf) {
    fprintf(stderr, "mef3pool-worker: MEF3POOL_WORKER_FAULTS is too long\n");
    return -1;
  }
  snprintf(buf, sizeof buf, "%s", spec);
  uint64_t seed = 1;
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
       tok = strtok_r(NULL, ",", &save)) {
    char item[256];
    snprintf(item, sizeof item, "%s", tok);
    char *eq = strchr(tok, '=');
    int bad = !eq;
    if (!bad) {
      *eq = '\0';
      const char *v = eq + 1;
      if (!strcmp(tok, "alloc"))
        bad = parse_prob(v, &p_alloc);
      else if (!strcmp(tok, "read"))
        bad = parse_prob(v, &p_read);
      else if (!strcmp(tok, "seed")) {
        char *end;
        errno = 0;
        seed = strtoull(v, &end, 10);
        bad = errno || end == v || *end;
      } else
        bad = 1;
    }
    if (bad) {
      fprintf(stderr,
              "mef3pool-worker: MEF3POOL_WORKER_FAULTS: bad item \"%s\" "
              "(want alloc=P, read=P, seed=N; P in [0, 1])\n",
              item);
      return -1;
    }
  }
  rng = splitmix64(seed) ^ splitmix64((uint64_t)getpid());
  if (p_read > 0)
    mef3__set_read_fault(f_read, NULL);
  if (p_alloc > 0) {
    mef3_allocator a = MEF3_ALLOCATOR_INIT;
    a.malloc_fn = f_malloc;
    a.calloc_fn = f_calloc;
    a.realloc_fn = f_realloc;
    a.free_fn = f_free;
    if (mef3_set_allocator(&a) != 0)
      return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "mef3pool-worker: started by a mef3pool reader pool, "
                    "not by hand\n");
    return 2;
  }
  char *end;
  long fd = strtol(argv[1], &end, 10);
  if (*end || fd < 0 || fd > 1 << 20) {
    fprintf(stderr, "mef3pool-worker: bad descriptor \"%s\"\n", argv[1]);
    return 2;
  }
  const char *faults = getenv("MEF3POOL_WORKER_FAULTS");
  if (faults && *faults && setup_faults(faults) != 0)
    return 2;
  return mef3_pool_worker_main((int)fd);
}
