/*
 * util/alloc.c - the allocator hook (mef3_set_allocator) and the public
 * allocation functions.
 *
 * The hook is one process-wide pointer to a copy of the host's
 * mef3_allocator, set before the library is used (common.h); the inline
 * wrappers of util/alloc.h read it on every allocation.  It is atomic so
 * that a read on any thread sees a complete copy, not to make changing it
 * while memory is alive safe: memory must go back to the allocator that
 * made it, which the contract leaves to the host.
 */
#include "util/alloc.h"

#include "util/error.h"
#include "util/version.h"

_Atomic(const mef3_allocator *) mef3__allocator = NULL;

/* The copy the pointer refers to while a hook is set. */
static mef3_allocator installed;

int mef3_set_allocator(const mef3_allocator *a) {
  if (!a) {
    atomic_store_explicit(&mef3__allocator, NULL, memory_order_release);
    return 0;
  }
  if (mef3__version_check("mef3_allocator", a->version,
                          MEF3_ALLOCATOR_VERSION))
    return MEF3_EINVAL;
  if (!a->malloc_fn || !a->realloc_fn || !a->free_fn)
    return mef3__error(MEF3_EINVAL,
                       "an allocator needs malloc_fn, realloc_fn and free_fn");
  atomic_store_explicit(&mef3__allocator, NULL, memory_order_release);
  installed = *a;
  atomic_store_explicit(&mef3__allocator, &installed, memory_order_release);
  return 0;
}

void *mef3_malloc(size_t size) {
  return mef3__malloc(size);
}

void *mef3_calloc(size_t n, size_t size) {
  return mef3__calloc(n, size);
}

void *mef3_realloc(void *ptr, size_t size) {
  return mef3__realloc(ptr, size);
}

char *mef3_strdup(const char *s) {
  return s ? mef3__strdup(s) : NULL;
}

void mef3_free(void *ptr) {
  mef3__free(ptr);
}
