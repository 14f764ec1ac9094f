/*
 * worker/main.c - mef3pool-worker, the program a reader pool spawns.
 * Usage (by the pool only): mef3pool-worker FD
 * where FD is the connected socket to the pool.
 */
#include <stdio.h>
#include <stdlib.h>

#include "mef3pool/pool.h"

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
  return mef3_pool_worker_main((int)fd);
}
