/*
 * files/tilemem.h - memory for new tiles, its pages touched ahead of time.
 *
 * A cold read allocates a tile per channel and fills it: on a VM the first
 * touch of a fresh page costs ~20-30 µs (the host backs it), 5-7 ms for
 * the 1 MB of a 60 s x 16-channel window, most of such a read.  A thread
 * keeps a few MiB of tile buffers of the size last asked for allocated and
 * touched, refilled in the background once a read has taken some, so
 * that a read after a pause finds its memory ready.  Buffers come from
 * the library's allocator (util/alloc.h) and are freed like any tile.
 */
#ifndef MEF3_FILES_TILEMEM_H
#define MEF3_FILES_TILEMEM_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mef3__tilemem {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  size_t keep_bytes; /* reserve to hold (0: off) */
  size_t n_floats;   /* size of the buffers kept */
  float **ready;     /* touched, not handed out */
  size_t n_ready, cap;
  int stop, started;
  unsigned other;    /* gets in a row of another size */
  pthread_t th;
  uint64_t taken, missed; /* gets served from the reserve / not */
} mef3__tilemem;

/* keep_bytes 0: no reserve, no thread (every get allocates). */
void mef3__tilemem_init(mef3__tilemem *tm, size_t keep_bytes);
/* Stop the thread and free the reserve. */
void mef3__tilemem_destroy(mef3__tilemem *tm);
/* A buffer of n floats (free it with mef3__free), or NULL. */
float *mef3__tilemem_get(mef3__tilemem *tm, size_t n);

#endif
