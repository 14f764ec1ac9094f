/*
 * pool/worker.c - the body of a worker process.
 *
 * A worker serves one request at a time from its socket: it opens readers
 * lazily (one per file and password, at most max_readers, least recently
 * used closed first), decodes into the shared-memory region the request
 * names, and answers with a small MEF3__MSG_DONE frame (status, bytes written,
 * message).  Slabs arrive once as descriptors and stay mapped; dedicated
 * slabs are unmapped after their one request.  The worker ends when its
 * socket reaches end of stream, which also happens when the host dies.
 *
 * It never trusts a request: sizes are checked against the region, and a
 * malformed frame ends the worker (the host then sees a dead worker).
 *
 * Out of memory or descriptors.  A request whose work cannot get memory
 * or a descriptor (opening a reader, decoding) fails with MEF3_ENOMEM or
 * MEF3_ELIMIT and the worker goes on; answers are built in a fixed buffer,
 * so that failing never needs memory.  Only when the worker cannot take
 * the next frame at all (its input buffer cannot grow, a slab's
 * descriptor or mapping finds no room) does it exit, with a status that
 * says why (proto.h), which the host reports for the request.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mef3pool/pool.h"
#include "mef3pool/reader.h"
#include "pool/proto.h"
#include "util/error.h"
#include "util/alloc.h"

typedef struct wreader {
  char *path;
  char *password;
  mef3_reader *r;
  uint64_t last_use;
} wreader;

typedef struct wslab {
  uint32_t id;
  uint8_t *base;
  size_t size;
  int dedicated;
} wslab;

typedef struct worker {
  int sock;
  int max_readers;
  int check_crc;
  char *root;       /* files are opened beneath it; NULL: anywhere */
  wreader *readers; /* grown as readers open, up to max_readers */
  size_t n_readers, cap_readers;
  wslab *slabs;
  size_t n_slabs, cap_slabs;
  uint64_t clock;
} worker;

static void wipe_free(char *s) {
  if (!s)
    return;
  for (volatile char *p = s; *p; p++)
    *p = 0;
  mef3__free(s);
}

static void reader_drop(worker *w, size_t i) {
  mef3_reader_close(w->readers[i].r);
  mef3__free(w->readers[i].path);
  wipe_free(w->readers[i].password);
  w->readers[i] = w->readers[--w->n_readers];
}

static int get_reader(worker *w, const char *path, const char *pw,
                      mef3_reader **out) {
  for (size_t i = 0; i < w->n_readers; i++) {
    wreader *x = &w->readers[i];
    if (!strcmp(x->path, path) && !strcmp(x->password, pw)) {
      x->last_use = ++w->clock;
      *out = x->r;
      return 0;
    }
  }
  mef3_reader_options o = MEF3_READER_OPTIONS_INIT;
  o.password = pw[0] ? pw : NULL;
  o.check_block_crc = w->check_crc;
  o.root = w->root;
  mef3_reader *r;
  int rc = mef3_reader_open(&r, path, &o);
  if (rc)
    return rc;
  while (w->n_readers && (int)w->n_readers >= w->max_readers) {
    size_t lru = 0;
    for (size_t i = 1; i < w->n_readers; i++)
      if (w->readers[i].last_use < w->readers[lru].last_use)
        lru = i;
    reader_drop(w, lru);
  }
  if (w->n_readers == w->cap_readers) {
    size_t nc = w->cap_readers ? w->cap_readers * 2 : 4;
    wreader *nr = mef3__realloc(w->readers, nc * sizeof *nr);
    if (!nr) {
      mef3_reader_close(r);
      return mef3__error(MEF3_ENOMEM, "%s: out of memory for a reader", path);
    }
    w->readers = nr;
    w->cap_readers = nc;
  }
  wreader *x = &w->readers[w->n_readers];
  x->path = mef3__strdup(path);
  x->password = mef3__strdup(pw);
  if (!x->path || !x->password) {
    mef3__free(x->path);
    wipe_free(x->password);
    mef3_reader_close(r);
    return mef3__error(MEF3_ENOMEM, "%s: out of memory for a reader", path);
  }
  x->r = r;
  x->last_use = ++w->clock;
  w->n_readers++;
  *out = r;
  return 0;
}

static wslab *find_slab(worker *w, uint32_t id) {
  for (size_t i = 0; i < w->n_slabs; i++)
    if (w->slabs[i].id == id)
      return &w->slabs[i];
  return NULL;
}

static void drop_slab(worker *w, wslab *s) {
  munmap(s->base, s->size);
  *s = w->slabs[--w->n_slabs];
}

/* The region [off, off+len) of slab `id`, or NULL. */
static uint8_t *region(worker *w, uint32_t id, uint64_t off, uint64_t len) {
  wslab *s = find_slab(w, id);
  if (!s || off > s->size || len > s->size - off)
    return NULL;
  return s->base + off;
}

static int reply(worker *w, uint32_t id, int rc, uint64_t bytes,
                 const char *msg) {
  /* A fixed buffer: the answer to a request that failed for memory must
   * not need memory.  Messages are shorter than a mef3_error's. */
  uint8_t space[64 + sizeof(((mef3_error *)0)->message)];
  mef3__buf b = MEF3__BUF_ON(space);
  mef3__buf_u32(&b, MEF3__MSG_DONE);
  mef3__buf_u32(&b, id);
  mef3__buf_u32(&b, (uint32_t)rc);
  mef3__buf_u64(&b, bytes);
  mef3__buf_str(&b, rc ? msg : "");
  int x = mef3__frame_send(w->sock, &b, -1);
  mef3__buf_free(&b);
  return x;
}

/* MEF3__MSG_INFO: describe every channel into the region. */
static int do_info(worker *w, mef3__cur *c, uint8_t *out, uint64_t cap,
                   uint64_t *bytes) {
  const char *path = mef3__cur_str(c);
  const char *pw = mef3__cur_str(c);
  if (c->bad)
    return -1;
  mef3_reader *r;
  int rc = get_reader(w, path, pw, &r);
  if (rc)
    return rc;
  mef3__buf b = {0};
  size_t n = mef3_reader_channel_count(r);
  mef3__buf_u32(&b, (uint32_t)n);
  for (size_t i = 0; i < n; i++) {
    const mef3_channel_info *ci = mef3_reader_channel(r, i);
    mef3__buf_str(&b, ci->name);
    mef3__buf_f64(&b, ci->fs);
    mef3__buf_u64(&b, (uint64_t)ci->start_uutc);
    mef3__buf_u64(&b, (uint64_t)ci->end_uutc);
    mef3__buf_u64(&b, (uint64_t)ci->n_samples);
  }
  if (b.oom) {
    mef3__buf_free(&b);
    return mef3__error(MEF3_ENOMEM, "out of memory");
  }
  *bytes = b.len;
  if (b.len > cap) {
    mef3__buf_free(&b);
    return mef3__error(MEF3_EBUFSIZE, "channel table of %llu bytes",
                       (unsigned long long)*bytes);
  }
  memcpy(out, b.p, b.len);
  mef3__buf_free(&b);
  return 0;
}

/* MEF3__MSG_TILES: tiles of one channel, NaN where the read fails. */
static int do_tiles(worker *w, mef3__cur *c, uint8_t *out, uint64_t cap,
                    uint64_t *bytes) {
  const char *path = mef3__cur_str(c);
  const char *pw = mef3__cur_str(c);
  const char *chan = mef3__cur_str(c);
  double fs = mef3__cur_f64(c);
  int64_t cs = (int64_t)mef3__cur_u64(c);
  int64_t S = (int64_t)mef3__cur_u64(c);
  uint32_t n = mef3__cur_u32(c);
  if (c->bad)
    return -1;
  if (S <= 0 || !(fs > 0) || (uint64_t)n * (uint64_t)S * 4 > cap)
    return mef3__error(MEF3_EINVAL,
                       "invalid tile request (%u tiles of "
                       "%lld samples at %g Hz)",
                       n, (long long)S, fs);
  mef3_reader *r;
  int rc = get_reader(w, path, pw, &r);
  if (rc)
    return rc;
  int ch = mef3_reader_find_channel(r, chan);
  if (ch < 0)
    return ch;
  float *o = (float *)out;
  for (uint32_t i = 0; i < n; i++) {
    int64_t b = (int64_t)mef3__cur_u64(c);
    if (c->bad)
      return -1;
    /* Strict: a tile that fails for memory or a read error fails the
     * request, rather than arriving as NaN for data that exists. */
    rc = mef3_reader_read_tile(NULL, r, (size_t)ch, b, fs, cs, S,
                               o + (size_t)i * S, 1);
    if (rc)
      return rc;
  }
  *bytes = (uint64_t)n * (uint64_t)S * 4;
  return 0;
}

/* MEF3__MSG_WINDOW: rows of a (channels, n) float32 window. */
static int do_window(worker *w, mef3__cur *c, uint8_t *out, uint64_t cap,
                     uint64_t *bytes) {
  const char *path = mef3__cur_str(c);
  const char *pw = mef3__cur_str(c);
  int64_t t0 = (int64_t)mef3__cur_u64(c);
  int64_t t1 = (int64_t)mef3__cur_u64(c);
  uint64_t n = mef3__cur_u64(c);
  uint32_t nch = mef3__cur_u32(c);
  if (c->bad)
    return -1;
  if (n * 4 * nch > cap)
    return mef3__error(MEF3_EINVAL, "window does not fit its region");
  mef3_reader *r;
  int rc = get_reader(w, path, pw, &r);
  if (rc)
    return rc;
  float *tmp = NULL;
  size_t tmp_cap = 0;
  for (uint32_t k = 0; k < nch && !rc; k++) {
    const char *name = mef3__cur_str(c);
    if (c->bad) {
      mef3__free(tmp);
      return -1;
    }
    int ch = mef3_reader_find_channel(r, name);
    if (ch < 0) {
      rc = ch;
      break;
    }
    float *row = (float *)out + (size_t)k * n;
    const mef3_channel_info *ci = mef3_reader_channel(r, (size_t)ch);
    size_t need = (size_t)mef3_window_samples(t0, t1, ci->fs), got;
    if (need <= n) {
      rc = mef3_reader_read_time(&got, NULL, r, (size_t)ch, t0, t1, MEF3_F32,
                                 row, n, NULL);
      for (size_t i = got; !rc && i < n; i++)
        row[i] = NAN;
    } else { /* a faster channel than the shortest: keep its first n */
      if (need > tmp_cap) {
        float *nt = mef3__realloc(tmp, need * sizeof *nt);
        if (!nt) {
          rc = mef3__error(MEF3_ENOMEM, "%s: out of memory for %zu samples",
                           path, need);
          break;
        }
        tmp = nt;
        tmp_cap = need;
      }
      rc = mef3_reader_read_time(&got, NULL, r, (size_t)ch, t0, t1, MEF3_F32,
                                 tmp, need, NULL);
      if (!rc)
        memcpy(row, tmp, n * sizeof *row);
    }
  }
  mef3__free(tmp);
  *bytes = (uint64_t)n * 4 * nch;
  return rc;
}

/* Serve one frame: 0, or the exit status of a worker that must stop. */
static int serve(worker *w, mef3__buf *in, int fd) {
  mef3__cur c = {in->p, in->len, 0, 0};
  uint32_t type = mef3__cur_u32(&c);
  switch (type) {
  case MEF3__MSG_CONFIG:
    w->max_readers = (int)mef3__cur_u32(&c);
    w->check_crc = (int)mef3__cur_u32(&c);
    {
      const char *root = mef3__cur_str(&c);
      mef3__free(w->root);
      w->root = root[0] ? mef3__strdup(root) : NULL;
      if (root[0] && !w->root)
        return MEF3__WORKER_EXIT_NOMEM; /* never read unconfined */
    }
    if (w->max_readers < 1)
      w->max_readers = 1;
    while ((int)w->n_readers > w->max_readers)
      reader_drop(w, 0);
    return c.bad ? MEF3__WORKER_EXIT_PROTOCOL : 0;
  case MEF3__MSG_SLAB: {
    uint32_t id = mef3__cur_u32(&c);
    uint64_t size = mef3__cur_u64(&c);
    uint32_t dedicated = mef3__cur_u32(&c);
    if (c.bad || fd < 0) {
      if (fd >= 0)
        close(fd);
      return MEF3__WORKER_EXIT_PROTOCOL;
    }
    if (w->n_slabs == w->cap_slabs) {
      size_t nc = w->cap_slabs ? w->cap_slabs * 2 : 8;
      wslab *ns = mef3__realloc(w->slabs, nc * sizeof *ns);
      if (!ns) {
        close(fd);
        return MEF3__WORKER_EXIT_NOMEM;
      }
      w->slabs = ns;
      w->cap_slabs = nc;
    }
    void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (base == MAP_FAILED)
      return MEF3__WORKER_EXIT_NOMEM;
    w->slabs[w->n_slabs++] = (wslab){id, base, size, (int)dedicated};
    return 0;
  }
  case MEF3__MSG_FORGET: {
    const char *path = mef3__cur_str(&c);
    if (c.bad)
      return MEF3__WORKER_EXIT_PROTOCOL;
    for (size_t i = 0; i < w->n_readers;)
      if (!strcmp(w->readers[i].path, path))
        reader_drop(w, i);
      else
        i++;
    return 0;
  }
  case MEF3__MSG_INFO:
  case MEF3__MSG_TILES:
  case MEF3__MSG_WINDOW: {
    uint32_t id = mef3__cur_u32(&c);
    uint32_t slab = mef3__cur_u32(&c);
    uint64_t off = mef3__cur_u64(&c);
    uint64_t cap = mef3__cur_u64(&c);
    uint8_t *out = c.bad ? NULL : region(w, slab, off, cap);
    if (!out)
      return MEF3__WORKER_EXIT_PROTOCOL;
    mef3__cur peek = c; /* every request names its file first */
    const char *path = mef3__cur_str(&peek);
    uint64_t bytes = 0;
    mef3_error_clear();
    int rc = type == MEF3__MSG_INFO    ? do_info(w, &c, out, cap, &bytes)
             : type == MEF3__MSG_TILES ? do_tiles(w, &c, out, cap, &bytes)
                                       : do_window(w, &c, out, cap, &bytes);
    if (rc == -1 && c.bad)
      return MEF3__WORKER_EXIT_PROTOCOL;
    wslab *s = find_slab(w, slab);
    if (s && s->dedicated)
      drop_slab(w, s);
    /* The answer names the file, also when the failure's own message
     * does not (a bare "out of memory"). */
    const mef3_error *e = mef3_error_last();
    const char *why = rc && e->message[0] ? e->message : mef3_strerror(rc);
    char msg[sizeof e->message];
    if (rc && *path && !strstr(why, path)) /* both cut to fit the answer */
      snprintf(msg, sizeof msg, "%.250s: %.255s", path, why);
    else
      snprintf(msg, sizeof msg, "%s", why);
    return reply(w, id, rc, bytes, msg) ? MEF3__WORKER_EXIT_PROTOCOL : 0;
  }
  default:
    return MEF3__WORKER_EXIT_PROTOCOL;
  }
}

int mef3_pool_worker_main(int fd) {
  /* The host handles interrupts and shuts the pool down; a worker only
   * stops when its socket closes. */
  signal(SIGINT, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  worker w = {0};
  w.sock = fd;
  w.max_readers = 64;
  w.check_crc = 1;
  mef3__buf in = {0};
  int status = 0;
  for (;;) {
    int pfd = -1;
    int rc = mef3__frame_recv(fd, &in, &pfd);
    if (rc == 0)
      break; /* the host closed the socket: done */
    if (rc < 0) {
      status = errno == ENOMEM   ? MEF3__WORKER_EXIT_NOMEM
               : errno == EMFILE ? MEF3__WORKER_EXIT_NOFD
                                 : MEF3__WORKER_EXIT_PROTOCOL;
      break;
    }
    if ((status = serve(&w, &in, pfd)) != 0)
      break;
  }
  while (w.n_readers)
    reader_drop(&w, 0);
  mef3__free(w.readers);
  mef3__free(w.root);
  while (w.n_slabs)
    drop_slab(&w, &w.slabs[0]);
  mef3__free(w.slabs);
  mef3__buf_free(&in);
  close(fd);
  return status;
}
