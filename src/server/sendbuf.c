/*
 * server/sendbuf.c - see sendbuf.h.  A buffer is a header (its pool and
 * size) followed by the samples; idle buffers form a list, best fit
 * first.  Sizes are rounded up to 64 KiB so that windows of slightly
 * different lengths share buffers.
 */
#include <pthread.h>
#include <stdlib.h>

#include "server/sendbuf.h"

#define HDR 64 /* keeps the samples 64-byte aligned */
#define ROUND ((size_t)64 << 10)

typedef struct hdr {
  mef3__sendbufs *pool;
  size_t cap; /* bytes after the header */
  struct hdr *next;
} hdr;

_Static_assert(sizeof(hdr) <= HDR, "header too large");

struct mef3__sendbufs {
  pthread_mutex_t mu;
  size_t keep, idle_bytes;
  hdr *idle;
  size_t out;
  int released;
  uint64_t gets, reused;
};

mef3__sendbufs *mef3__sendbufs_new(size_t keep_bytes) {
  mef3__sendbufs *p = calloc(1, sizeof *p);
  if (!p)
    return NULL;
  pthread_mutex_init(&p->mu, NULL);
  p->keep = keep_bytes;
  return p;
}

static void pool_free(mef3__sendbufs *p) {
  for (hdr *h = p->idle, *nx; h; h = nx) {
    nx = h->next;
    free(h);
  }
  pthread_mutex_destroy(&p->mu);
  free(p);
}

void mef3__sendbufs_release(mef3__sendbufs *p) {
  if (!p)
    return;
  pthread_mutex_lock(&p->mu);
  p->released = 1;
  int last = p->out == 0;
  pthread_mutex_unlock(&p->mu);
  if (last)
    pool_free(p);
}

void *mef3__sendbuf_get(mef3__sendbufs *p, size_t bytes) {
  if (bytes > SIZE_MAX - HDR - ROUND)
    return NULL;
  size_t cap = (bytes + ROUND - 1) / ROUND * ROUND;
  if (cap == 0)
    cap = ROUND;
  pthread_mutex_lock(&p->mu);
  p->gets++;
  hdr **best = NULL;
  for (hdr **h = &p->idle; *h; h = &(*h)->next)
    if ((*h)->cap >= cap && (!best || (*h)->cap < (*best)->cap))
      best = h;
  hdr *got = NULL;
  if (best) {
    got = *best;
    *best = got->next;
    p->idle_bytes -= got->cap;
    p->reused++;
  }
  p->out++;
  pthread_mutex_unlock(&p->mu);
  if (!got) {
    got = aligned_alloc(HDR, HDR + cap);
    if (!got) {
      pthread_mutex_lock(&p->mu);
      p->out--;
      pthread_mutex_unlock(&p->mu);
      return NULL;
    }
    got->pool = p;
    got->cap = cap;
  }
  got->next = NULL;
  return (char *)got + HDR;
}

void mef3__sendbuf_put(void *buf) {
  if (!buf)
    return;
  hdr *h = (hdr *)((char *)buf - HDR);
  mef3__sendbufs *p = h->pool;
  pthread_mutex_lock(&p->mu);
  p->out--;
  int keep = !p->released && p->idle_bytes + h->cap <= p->keep;
  if (keep) {
    h->next = p->idle;
    p->idle = h;
    p->idle_bytes += h->cap;
  }
  int last = p->released && p->out == 0;
  pthread_mutex_unlock(&p->mu);
  if (!keep)
    free(h);
  if (last)
    pool_free(p);
}

void mef3__sendbufs_stats_get(mef3__sendbufs *p, mef3__sendbufs_stats *out) {
  pthread_mutex_lock(&p->mu);
  out->gets = p->gets;
  out->reused = p->reused;
  out->idle_bytes = p->idle_bytes;
  out->out = p->out;
  pthread_mutex_unlock(&p->mu);
}
