/*
 * files/tilemem.c - see tilemem.h.  The reserve holds buffers of one size
 * (the last asked for: tiles of one session mostly share it); eight
 * gets in a row of another size switch it to that size, and the old
 * buffers are freed outside the lock.  The thread starts at
 * the first get, refills when the reserve is below half, touches one byte
 * per page of each buffer with the lock released, and exits on destroy.
 */
#include <string.h>
#include <unistd.h>

#include "files/tilemem.h"
#include "util/alloc.h"

static size_t page_size(void) {
  long p = sysconf(_SC_PAGESIZE);
  return p > 0 ? (size_t)p : 4096;
}

/* Buffers the reserve holds at this size (at least 1). */
static size_t target(const mef3__tilemem *tm) {
  size_t b = tm->n_floats * sizeof(float);
  size_t n = b ? tm->keep_bytes / b : 0;
  return n ? n : 1;
}

static void drop_all(mef3__tilemem *tm) {
  for (size_t i = 0; i < tm->n_ready; i++)
    mef3__free(tm->ready[i]);
  tm->n_ready = 0;
}

static void *refill_main(void *arg) {
  mef3__tilemem *tm = arg;
  size_t pg = page_size();
  pthread_mutex_lock(&tm->mu);
  for (;;) {
    while (!tm->stop && (!tm->n_floats || tm->n_ready >= target(tm)))
      pthread_cond_wait(&tm->cv, &tm->mu);
    if (tm->stop)
      break;
    size_t n = tm->n_floats;
    pthread_mutex_unlock(&tm->mu);
    float *b = mef3__malloc(n * sizeof *b);
    if (b) {
      volatile char *p = (volatile char *)b;
      for (size_t off = 0; off < n * sizeof *b; off += pg)
        p[off] = 0;
    }
    pthread_mutex_lock(&tm->mu);
    if (!b)
      break; /* out of memory: reads allocate on their own */
    if (tm->stop || n != tm->n_floats || tm->n_ready >= tm->cap) {
      mef3__free(b);
      continue;
    }
    tm->ready[tm->n_ready++] = b;
  }
  pthread_mutex_unlock(&tm->mu);
  return NULL;
}

void mef3__tilemem_init(mef3__tilemem *tm, size_t keep_bytes) {
  memset(tm, 0, sizeof *tm);
  pthread_mutex_init(&tm->mu, NULL);
  pthread_cond_init(&tm->cv, NULL);
  tm->keep_bytes = keep_bytes;
}

void mef3__tilemem_destroy(mef3__tilemem *tm) {
  pthread_mutex_lock(&tm->mu);
  tm->stop = 1;
  pthread_cond_broadcast(&tm->cv);
  int started = tm->started;
  pthread_mutex_unlock(&tm->mu);
  if (started)
    pthread_join(tm->th, NULL);
  drop_all(tm);
  mef3__free(tm->ready);
  pthread_mutex_destroy(&tm->mu);
  pthread_cond_destroy(&tm->cv);
}

float *mef3__tilemem_get(mef3__tilemem *tm, size_t n) {
  if (!tm->keep_bytes || !n)
    return mef3__malloc(n * sizeof(float));
  float *b = NULL;
  float **gone = NULL; /* the old size's buffers, freed after the lock */
  size_t n_gone = 0;
  pthread_mutex_lock(&tm->mu);
  /* Another size: the reserve follows it only after 8 in a row, so that
   * a session of several rates does not empty and refill it read after
   * read; the others allocate on their own. */
  if (n != tm->n_floats && tm->n_floats && ++tm->other < 8) {
    tm->missed++;
    pthread_mutex_unlock(&tm->mu);
    return mef3__malloc(n * sizeof(float));
  }
  if (n != tm->n_floats) {
    gone = tm->ready;
    n_gone = tm->n_ready;
    tm->ready = NULL;
    tm->n_ready = tm->cap = 0;
    tm->n_floats = n;
    size_t want = target(tm);
    if (want > tm->cap) {
      float **r = mef3__realloc(tm->ready, want * sizeof *r);
      if (r) {
        tm->ready = r;
        tm->cap = want;
      }
    }
  }
  tm->other = 0;
  if (tm->n_ready) {
    b = tm->ready[--tm->n_ready];
    tm->taken++;
  } else {
    tm->missed++;
  }
  if (!tm->started && !tm->stop && tm->cap &&
      pthread_create(&tm->th, NULL, refill_main, tm) == 0)
    tm->started = 1;
  if (tm->n_ready < target(tm) / 2 + 1)
    pthread_cond_signal(&tm->cv);
  pthread_mutex_unlock(&tm->mu);
  for (size_t i = 0; i < n_gone; i++)
    mef3__free(gone[i]);
  mef3__free(gone);
  return b ? b : mef3__malloc(n * sizeof(float));
}
