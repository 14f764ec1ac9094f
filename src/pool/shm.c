/*
 * pool/shm.c - slabs of shared memory for results.
 *
 * A slab is an anonymous memfd (MFD_CLOEXEC: no name, nothing to leak in
 * /dev/shm) mapped shared in the host; workers receive its descriptor once
 * and keep it mapped.  The host carves slabs into page-aligned regions
 * with a first-fit free list per slab.  Each region holds a reference to
 * its slab, so a slab outlives the pool while futures still point into it.
 * A request larger than a slab gets a dedicated slab of its own size,
 * which dies with its region.  Freed regions keep their pages: a page
 * fault costs far more than the memory (16 ms per 4 MiB touched on the
 * virtual machines we measured), so a slab's resident size is the peak of
 * results in flight at once, reused from then on.
 *
 * Locking: the allocator's mutex guards the slab list; each slab's mutex
 * guards its free list and reference count.
 */
#include "pool/shm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mef3pool/common.h"
#include "util/error.h"
#include "util/alloc.h"

#define PAGE 4096u

int mef3__shm_init(mef3__shm *s, size_t slab_size) {
  memset(s, 0, sizeof *s);
  s->slab_size = (slab_size + PAGE - 1) & ~(size_t)(PAGE - 1);
  s->next_id = 1;
  return pthread_mutex_init(&s->mu, NULL) ? MEF3_ENOMEM : 0;
}

static void slab_destroy(mef3__slab *b) {
  munmap(b->base, b->size);
  close(b->fd);
  pthread_mutex_destroy(&b->mu);
  mef3__free(b->free_list);
  mef3__free(b);
}

static void slab_unref(mef3__slab *b) {
  pthread_mutex_lock(&b->mu);
  int left = --b->refs;
  pthread_mutex_unlock(&b->mu);
  if (left == 0)
    slab_destroy(b);
}

void mef3__shm_dispose(mef3__shm *s) {
  for (size_t i = 0; i < s->n_slabs; i++)
    slab_unref(s->slabs[i]);
  mef3__free(s->slabs);
  pthread_mutex_destroy(&s->mu);
  memset(s, 0, sizeof *s);
}

/* A new slab, or NULL with the error set: MEF3_ELIMIT when no descriptor
 * is left for its memfd, else MEF3_ENOMEM. */
static mef3__slab *slab_new(uint32_t id, size_t size, int dedicated) {
  mef3__slab *b = mef3__calloc(1, sizeof *b);
  if (!b) {
    mef3__error(MEF3_ENOMEM, "out of memory for a shared-memory slab");
    return NULL;
  }
  b->fd = memfd_create(dedicated ? "mef3pool-result" : "mef3pool-slab",
                       MFD_CLOEXEC);
  if (b->fd < 0) {
    int e = errno;
    mef3__error(e == EMFILE || e == ENFILE ? MEF3_ELIMIT : MEF3_ENOMEM,
                "cannot create %zu bytes of shared memory: memfd_create: %s",
                size, strerror(e));
    goto fail;
  }
  if (ftruncate(b->fd, (off_t)size) != 0) {
    mef3__error(MEF3_ENOMEM,
                "cannot create %zu bytes of shared memory: ftruncate: %s", size,
                strerror(errno));
    goto fail_fd;
  }
  b->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd, 0);
  if (b->base == MAP_FAILED) {
    mef3__error(MEF3_ENOMEM, "cannot map %zu bytes of shared memory: mmap: %s",
                size, strerror(errno));
    goto fail_fd;
  }
  if (pthread_mutex_init(&b->mu, NULL)) {
    mef3__error(MEF3_ENOMEM, "out of memory for a shared-memory slab");
    goto fail_map;
  }
  b->id = id;
  b->size = size;
  b->dedicated = dedicated;
  b->free_list = mef3__malloc(sizeof *b->free_list * 8);
  if (!b->free_list) {
    mef3__error(MEF3_ENOMEM, "out of memory for a shared-memory slab");
    pthread_mutex_destroy(&b->mu);
    goto fail_map;
  }
  b->cap_free = 8;
  b->n_free = 1;
  b->free_list[0].off = 0;
  b->free_list[0].len = size;
  return b;
fail_map:
  munmap(b->base, size);
fail_fd:
  close(b->fd);
fail:
  mef3__free(b);
  return NULL;
}

/* First fit in one slab, under its lock; returns 1 when carved. */
static int slab_take(mef3__slab *b, size_t len, size_t *off) {
  for (size_t i = 0; i < b->n_free; i++) {
    mef3__range *r = &b->free_list[i];
    if (r->len < len)
      continue;
    *off = r->off;
    r->off += len;
    r->len -= len;
    if (r->len == 0) {
      memmove(r, r + 1, (b->n_free - i - 1) * sizeof *r);
      b->n_free--;
    }
    b->refs++;
    return 1;
  }
  return 0;
}

int mef3__shm_alloc(mef3__shm *s, size_t len, mef3__region *out) {
  memset(out, 0, sizeof *out);
  if (len == 0)
    len = 1;
  len = (len + PAGE - 1) & ~(size_t)(PAGE - 1);
  pthread_mutex_lock(&s->mu);
  mef3__slab *got = NULL;
  size_t off = 0;
  if (len <= s->slab_size) {
    for (size_t i = 0; i < s->n_slabs && !got; i++) {
      mef3__slab *b = s->slabs[i];
      pthread_mutex_lock(&b->mu);
      if (slab_take(b, len, &off))
        got = b;
      pthread_mutex_unlock(&b->mu);
    }
    if (!got) {
      if (s->n_slabs == s->cap_slabs) {
        size_t nc = s->cap_slabs ? s->cap_slabs * 2 : 4;
        mef3__slab **ns = mef3__realloc(s->slabs, nc * sizeof *ns);
        if (!ns) {
          mef3__error(MEF3_ENOMEM, "out of memory for the slab table");
          goto fail;
        }
        s->slabs = ns;
        s->cap_slabs = nc;
      }
      mef3__slab *b = slab_new(s->next_id++, s->slab_size, 0);
      if (!b)
        goto fail;
      b->refs = 1; /* the allocator's */
      s->slabs[s->n_slabs++] = b;
      s->mapped += b->size;
      slab_take(b, len, &off);
      got = b;
    }
  } else {
    got = slab_new(s->next_id++, len, 1);
    if (!got)
      goto fail;
    got->n_free = 0;
    got->refs = 1; /* the region's only */
    off = 0;
  }
  pthread_mutex_unlock(&s->mu);
  out->slab = got;
  out->off = off;
  out->len = len;
  out->ptr = got->base + off;
  return 0;
fail:
  pthread_mutex_unlock(&s->mu);
  return mef3_error_last()->code;
}

void mef3__region_free(mef3__region *r) {
  mef3__slab *b = r->slab;
  if (!b)
    return;
  if (!b->dedicated) {
    pthread_mutex_lock(&b->mu);
    /* Insert [off, off+len) keeping the list sorted, then coalesce. */
    size_t i = 0;
    while (i < b->n_free && b->free_list[i].off < r->off)
      i++;
    int merged = 0;
    if (i > 0 && b->free_list[i - 1].off + b->free_list[i - 1].len == r->off) {
      b->free_list[i - 1].len += r->len;
      merged = 1;
      if (i < b->n_free && b->free_list[i - 1].off + b->free_list[i - 1].len ==
                               b->free_list[i].off) {
        b->free_list[i - 1].len += b->free_list[i].len;
        memmove(&b->free_list[i], &b->free_list[i + 1],
                (b->n_free - i - 1) * sizeof *b->free_list);
        b->n_free--;
      }
    } else if (i < b->n_free && r->off + r->len == b->free_list[i].off) {
      b->free_list[i].off = r->off;
      b->free_list[i].len += r->len;
      merged = 1;
    }
    if (!merged) {
      if (b->n_free == b->cap_free) {
        size_t nc = b->cap_free * 2;
        mef3__range *nl = mef3__realloc(b->free_list, nc * sizeof *nl);
        if (nl) {
          b->free_list = nl;
          b->cap_free = nc;
        }
      }
      if (b->n_free < b->cap_free) { /* else the range is lost, not broken */
        memmove(&b->free_list[i + 1], &b->free_list[i],
                (b->n_free - i) * sizeof *b->free_list);
        b->free_list[i].off = r->off;
        b->free_list[i].len = r->len;
        b->n_free++;
      }
    }
    pthread_mutex_unlock(&b->mu);
  }
  slab_unref(b);
  memset(r, 0, sizeof *r);
}
