/*
 * pool/shm.h - shared memory for results: slabs of anonymous memfd memory
 * mapped in the host and in every worker, carved into regions.
 */
#ifndef MEF3_POOL_SHM_H
#define MEF3_POOL_SHM_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mef3__range {
  size_t off, len;
} mef3__range;

typedef struct mef3__slab {
  uint32_t id;
  int fd;
  uint8_t *base;
  size_t size;
  int dedicated; /* made for one region; workers unmap it after use */
  pthread_mutex_t mu;
  mef3__range *free_list; /* sorted by offset, coalesced */
  size_t n_free, cap_free;
  int refs; /* the allocator's (if kept) + one per live region */
} mef3__slab;

typedef struct mef3__region {
  mef3__slab *slab;
  size_t off, len;
  uint8_t *ptr;
} mef3__region;

typedef struct mef3__shm {
  pthread_mutex_t mu;
  mef3__slab **slabs;
  size_t n_slabs, cap_slabs;
  size_t slab_size;
  uint32_t next_id;
  uint64_t mapped;
} mef3__shm;

int mef3__shm_init(mef3__shm *s, size_t slab_size);
/* Drop the allocator's references; slabs live on until their last region
 * is freed. */
void mef3__shm_dispose(mef3__shm *s);
/* Allocate `len` bytes (page-aligned); 0, MEF3_ENOMEM or MEF3_ELIMIT (no
 * descriptor left for a new memfd), with the error set. */
int mef3__shm_alloc(mef3__shm *s, size_t len, mef3__region *out);
/* Return a region; may unmap its slab when it was the last user. */
void mef3__region_free(mef3__region *r);

#endif
