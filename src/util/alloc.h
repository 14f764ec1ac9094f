/*
 * util/alloc.h - the library's allocation wrappers (internal).
 *
 * Every allocation of the library goes through these, so that a host's
 * allocator hook (mef3_set_allocator) sees all of them, and memory the
 * library frees is always freed by the allocator that made it.  With no
 * hook set, the cost is one load and a branch predicted not taken.
 * Sizes of 0 are raised to 1, so that a NULL result always means "out of
 * memory".
 */
#ifndef MEF3_UTIL_ALLOC_H
#define MEF3_UTIL_ALLOC_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mef3pool/common.h"

/* The hook in force, or NULL for the C library's (util/alloc.c). */
extern _Atomic(const mef3_allocator *) mef3__allocator;

static inline const mef3_allocator *mef3__alloc_hook(void) {
  return atomic_load_explicit(&mef3__allocator, memory_order_acquire);
}

static inline void *mef3__malloc(size_t n) {
  const mef3_allocator *a = mef3__alloc_hook();
  if (__builtin_expect(a != NULL, 0))
    return a->malloc_fn(n ? n : 1, a->payload);
  return malloc(n ? n : 1);
}

static inline void *mef3__calloc(size_t n, size_t size) {
  const mef3_allocator *a = mef3__alloc_hook();
  if (__builtin_expect(a != NULL, 0)) {
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes))
      return NULL;
    if (a->calloc_fn)
      return a->calloc_fn(n ? n : 1, size ? size : 1, a->payload);
    void *p = a->malloc_fn(bytes ? bytes : 1, a->payload);
    if (p)
      memset(p, 0, bytes);
    return p;
  }
  return calloc(n ? n : 1, size ? size : 1);
}

static inline void *mef3__realloc(void *p, size_t n) {
  const mef3_allocator *a = mef3__alloc_hook();
  if (__builtin_expect(a != NULL, 0))
    return a->realloc_fn(p, n ? n : 1, a->payload);
  return realloc(p, n ? n : 1);
}

static inline void mef3__free(void *p) {
  if (!p)
    return;
  const mef3_allocator *a = mef3__alloc_hook();
  if (__builtin_expect(a != NULL, 0))
    a->free_fn(p, a->payload);
  else
    free(p);
}

static inline char *mef3__strndup(const char *s, size_t max) {
  size_t n = strnlen(s, max);
  char *d = (char *)mef3__malloc(n + 1);
  if (d) {
    memcpy(d, s, n);
    d[n] = '\0';
  }
  return d;
}

static inline char *mef3__strdup(const char *s) {
  return mef3__strndup(s, SIZE_MAX);
}

#endif
