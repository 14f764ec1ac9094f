/*
 * pool/proto.h - the control messages between the pool and its workers.
 *
 * Frames on a stream socket: a 32-bit length, then the body.  A frame may
 * carry one descriptor (SCM_RIGHTS), which arrives with its first byte.
 * Bodies are little-endian fields written with the buf_* helpers; sample
 * data never travels here, only in shared memory.
 */
#ifndef MEF3_POOL_PROTO_H
#define MEF3_POOL_PROTO_H

#include <stddef.h>
#include <stdint.h>

enum {
  MEF3__MSG_CONFIG = 1, /* host -> worker: max readers, CRC checks, data root */
  MEF3__MSG_SLAB,       /* host -> worker: a slab descriptor (with fd) */
  MEF3__MSG_INFO,       /* host -> worker: open a file, describe its channels */
  MEF3__MSG_TILES,      /* host -> worker: decode tiles of one channel */
  MEF3__MSG_WINDOW,     /* host -> worker: decode a window of channels */
  MEF3__MSG_FORGET,     /* host -> worker: close the readers of a file */
  MEF3__MSG_DONE        /* worker -> host: a request finished */
};

#define MEF3__MSG_MAX_BYTES ((size_t)64 << 20)

/* A growable output buffer / a cursor over an input body.  A `fixed`
 * buffer writes into memory it does not own (MEF3__BUF_ON: an array on
 * the stack, for frames of bounded size built where an allocation must
 * not fail) and turns oom instead of growing. */
typedef struct mef3__buf {
  uint8_t *p;
  size_t len, cap;
  int oom;
  int fixed;
} mef3__buf;

#define MEF3__BUF_ON(array) ((mef3__buf){(array), 0, sizeof(array), 0, 1})

typedef struct mef3__cur {
  const uint8_t *p;
  size_t len, pos;
  int bad; /* read past the end */
} mef3__cur;

void mef3__buf_u32(mef3__buf *b, uint32_t v);
void mef3__buf_u64(mef3__buf *b, uint64_t v);
void mef3__buf_f64(mef3__buf *b, double v);
void mef3__buf_str(mef3__buf *b, const char *s);
void mef3__buf_bytes(mef3__buf *b, const void *p, size_t n);
void mef3__buf_free(mef3__buf *b);

uint32_t mef3__cur_u32(mef3__cur *c);
uint64_t mef3__cur_u64(mef3__cur *c);
double mef3__cur_f64(mef3__cur *c);
/* A NUL-terminated string inside the body (borrowed), or "" when bad. */
const char *mef3__cur_str(mef3__cur *c);

/* Send one frame (and `fd` when >= 0).  0 or -1 (errno set). */
int mef3__frame_send(int sock, const mef3__buf *body, int fd);
/*
 * Receive one frame into `b` (grown as needed).  `*fd` receives a passed
 * descriptor or -1.  Returns 1 for a frame, 0 for end of stream, -1 on
 * error (errno set; EPROTO for a malformed frame, ENOMEM when `b` cannot
 * grow, EMFILE when a descriptor was sent but this process had no room
 * for it).
 */
int mef3__frame_recv(int sock, mef3__buf *b, int *fd);

/* Exit statuses of a worker that must stop; the pool names them. */
enum {
  MEF3__WORKER_EXIT_PROTOCOL = 2, /* a malformed frame, or the host gone */
  MEF3__WORKER_EXIT_NOMEM = 3,    /* no memory to take the next frame */
  MEF3__WORKER_EXIT_NOFD = 4      /* no descriptor for a shared-memory slab */
};

#endif
