/*
 * server/sendbuf.h - memory for outgoing chunks, reused from send to send.
 *
 * A chunk's samples are read straight into a buffer taken here and handed
 * to gRPC as a slice; when gRPC releases the slice the buffer comes back.
 * Reused memory is the point: on a VM the page faults of 1 MB of fresh
 * memory (5 ms) cost more than serving a cached 60 s window (< 1 ms).
 *
 * The pool keeps at most `keep_bytes` of idle buffers (the rest is freed
 * at once) and outlives its owner while gRPC holds buffers: it is freed
 * when the owner has let go and the last buffer is back.  Thread-safe.
 */
#ifndef MEF3POOL_SERVER_SENDBUF_H
#define MEF3POOL_SERVER_SENDBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct mef3__sendbufs mef3__sendbufs;

/* NULL when out of memory. */
mef3__sendbufs *mef3__sendbufs_new(size_t keep_bytes);

/* The owner lets go (buffers out stay valid until put back). */
void mef3__sendbufs_release(mef3__sendbufs *p);

/* A buffer of at least `bytes` bytes (64-byte aligned), or NULL. */
void *mef3__sendbuf_get(mef3__sendbufs *p, size_t bytes);

/* Give a buffer back (gRPC's slice destroy callback has this shape). */
void mef3__sendbuf_put(void *buf);

/* Counters for tests and logs. */
typedef struct {
  uint64_t gets, reused; /* buffers handed out; of those, reused */
  size_t idle_bytes;     /* kept for reuse now */
  size_t out;            /* buffers handed out and not back yet */
} mef3__sendbufs_stats;
void mef3__sendbufs_stats_get(mef3__sendbufs *p, mef3__sendbufs_stats *out);

#endif
