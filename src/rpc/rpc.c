/*
 * rpc/rpc.c - byte buffers, the status table, times (see rpc.h).
 *
 * Stateless; every function is safe from any thread.
 */
#include <stdlib.h>
#include <string.h>

#include "rpc.h"

grpc_byte_buffer *mef3__rpc_pack(const ProtobufCMessage *m) {
  size_t n = protobuf_c_message_get_packed_size(m);
  uint8_t *buf = malloc(n ? n : 1);
  if (!buf)
    return NULL;
  protobuf_c_message_pack(m, buf);
  /* The slice takes the buffer: no copy. */
  grpc_slice s = grpc_slice_new(buf, n, free);
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
  grpc_slice_unref(s);
  return bb;
}

ProtobufCMessage *mef3__rpc_unpack(const ProtobufCMessageDescriptor *d,
                                   grpc_byte_buffer *bb) {
  if (!bb)
    return NULL;
  grpc_byte_buffer_reader rd;
  if (!grpc_byte_buffer_reader_init(&rd, bb))
    return NULL;
  grpc_slice s = grpc_byte_buffer_reader_readall(&rd);
  grpc_byte_buffer_reader_destroy(&rd);
  ProtobufCMessage *m = protobuf_c_message_unpack(
      d, NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
  grpc_slice_unref(s);
  return m;
}

/*
 * MEF3 code -> gRPC status.  Codes not listed are data errors: status OK,
 * the message in error_message, as the original server does for every
 * failure.
 */
static const struct {
  int code;
  grpc_status_code status;
} status_table[] = {
    {MEF3_EINVAL, GRPC_STATUS_INVALID_ARGUMENT},
    {MEF3_EPASSWORD, GRPC_STATUS_PERMISSION_DENIED},
    {MEF3_ECANCELED, GRPC_STATUS_CANCELLED},
    {MEF3_ETIMEDOUT, GRPC_STATUS_DEADLINE_EXCEEDED},
    {MEF3_ELIMIT, GRPC_STATUS_RESOURCE_EXHAUSTED},
    {MEF3_ENOMEM, GRPC_STATUS_RESOURCE_EXHAUSTED},
};

grpc_status_code mef3__rpc_status_of(int code) {
  for (size_t i = 0; i < sizeof status_table / sizeof *status_table; i++)
    if (status_table[i].code == code)
      return status_table[i].status;
  return GRPC_STATUS_OK;
}

int mef3__rpc_code_of_status(grpc_status_code st) {
  if (st == GRPC_STATUS_OK)
    return 0;
  for (size_t i = 0; i < sizeof status_table / sizeof *status_table; i++)
    if (status_table[i].status == st)
      return status_table[i].code;
  switch (st) {
  case GRPC_STATUS_UNAVAILABLE:
    return MEF3_EIO; /* no server there, or it went away */
  case GRPC_STATUS_INTERNAL:
    /* Our server never sends it: the transport does, for a stream reset
     * or broken on the way (a proxy whose node died mid-read sends
     * RST_STREAM INTERNAL_ERROR).  The read was cut: retryable, as for
     * UNAVAILABLE. */
    return MEF3_EIO;
  case GRPC_STATUS_UNIMPLEMENTED:
    return MEF3_EUNSUPPORTED;
  default:
    return MEF3_ERROR;
  }
}

int mef3__rpc_code_of_name(const char *name) {
  if (!name || !*name)
    return 0;
  for (int c = -1; c >= -64; c--) {
    const char *n = mef3_errname(c);
    if (n && !strcmp(n, name))
      return c;
  }
  return MEF3_ERROR;
}

const char *mef3__rpc_status_name(grpc_status_code st) {
  static const char *const names[] = {
      "OK",           "CANCELLED",         "UNKNOWN",
      "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
      "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION", "ABORTED",       "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL",          "UNAVAILABLE",
      "DATA_LOSS",     "UNAUTHENTICATED"};
  if ((int)st >= 0 && (size_t)st < sizeof names / sizeof *names)
    return names[st];
  return "UNKNOWN";
}

gpr_timespec mef3__rpc_deadline(int64_t ms) {
  if (ms < 0)
    return gpr_inf_future(GPR_CLOCK_MONOTONIC);
  return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                      gpr_time_from_millis(ms, GPR_TIMESPAN));
}

int mef3__rpc_past(gpr_timespec deadline) {
  gpr_timespec d = gpr_convert_clock_type(deadline, GPR_CLOCK_MONOTONIC);
  return gpr_time_cmp(gpr_now(GPR_CLOCK_MONOTONIC), d) >= 0;
}

size_t mef3__rpc_varint(uint8_t *out, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    out[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  out[n++] = (uint8_t)v;
  return n;
}

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  *v = 0;
  for (int shift = 0; shift < 64 && *p < end; shift += 7) {
    uint8_t b = *(*p)++;
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80))
      return 0;
  }
  return -1;
}

int mef3__rpc_find_field(const uint8_t *p, size_t n, uint32_t field,
                         size_t *tag_off, size_t *data_off, size_t *data_len) {
  const uint8_t *start = p, *end = p + n;
  uint64_t key, v;
  while (p < end) {
    const uint8_t *at = p;
    if (read_varint(&p, end, &key))
      return -1;
    switch (key & 7) {
    case 0:
      if (read_varint(&p, end, &v))
        return -1;
      break;
    case 1:
      if ((size_t)(end - p) < 8)
        return -1;
      p += 8;
      break;
    case 2:
      if (read_varint(&p, end, &v) || v > (uint64_t)(end - p))
        return -1;
      if ((key >> 3) == field) {
        *tag_off = (size_t)(at - start);
        *data_off = (size_t)(p - start);
        *data_len = (size_t)v;
        return 0;
      }
      p += v;
      break;
    case 5:
      if ((size_t)(end - p) < 4)
        return -1;
      p += 4;
      break;
    default:
      return -1;
    }
  }
  return -1;
}

/* ---- messages read in place ---- */

/* Cursor over a message's slices. */
typedef struct {
  const grpc_slice *sl;
  size_t nsl, i, o, pos; /* slice, offset in it, offset in the message */
} scur;

static void scur_norm(scur *c) {
  while (c->i < c->nsl && c->o == GRPC_SLICE_LENGTH(c->sl[c->i])) {
    c->i++;
    c->o = 0;
  }
}

static int scur_byte(scur *c, uint8_t *b) {
  scur_norm(c);
  if (c->i == c->nsl)
    return -1;
  *b = GRPC_SLICE_START_PTR(c->sl[c->i])[c->o++];
  c->pos++;
  return 0;
}

static int scur_varint(scur *c, uint64_t *v) {
  *v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    uint8_t b;
    if (scur_byte(c, &b))
      return -1;
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80))
      return 0;
  }
  return -1;
}

/* Advance n bytes, copying them to dst when not NULL; -1 past the end. */
static int scur_take(scur *c, uint8_t *dst, uint64_t n) {
  while (n) {
    scur_norm(c);
    if (c->i == c->nsl)
      return -1;
    size_t avail = GRPC_SLICE_LENGTH(c->sl[c->i]) - c->o;
    size_t k = n < avail ? (size_t)n : avail;
    if (dst) {
      memcpy(dst, GRPC_SLICE_START_PTR(c->sl[c->i]) + c->o, k);
      dst += k;
    }
    c->o += k;
    c->pos += k;
    n -= k;
  }
  return 0;
}

int mef3__rpc_msg_open(mef3__rpc_msg *m, grpc_byte_buffer *bb, uint32_t field,
                       uint8_t **rest, size_t *rest_len) {
  memset(m, 0, sizeof *m);
  *rest = NULL;
  *rest_len = 0;
  if (!bb)
    return -1;
  if (bb->type == GRPC_BB_RAW &&
      bb->data.raw.compression == GRPC_COMPRESS_NONE) {
    m->sl = bb->data.raw.slice_buffer.slices;
    m->nsl = bb->data.raw.slice_buffer.count;
  } else { /* compressed: gRPC inflates it into one slice */
    grpc_byte_buffer_reader rd;
    if (!grpc_byte_buffer_reader_init(&rd, bb))
      return -1;
    m->flat = grpc_byte_buffer_reader_readall(&rd);
    grpc_byte_buffer_reader_destroy(&rd);
    m->has_flat = 1;
    m->sl = &m->flat;
    m->nsl = 1;
  }
  size_t total = 0;
  for (size_t i = 0; i < m->nsl; i++)
    total += GRPC_SLICE_LENGTH(m->sl[i]);
  /* Pass 1: where the field is (its last occurrence). */
  scur c = {m->sl, m->nsl, 0, 0, 0};
  scur at = c, field_at = c;
  size_t field_tag = 0, field_end = 0;
  int found = 0;
  uint64_t key, v;
  while (c.pos < total) {
    size_t tag_pos = c.pos;
    if (scur_varint(&c, &key))
      goto bad;
    switch (key & 7) {
    case 0:
      if (scur_varint(&c, &v))
        goto bad;
      break;
    case 1:
      if (scur_take(&c, NULL, 8))
        goto bad;
      break;
    case 2:
      if (scur_varint(&c, &v) || v > total - c.pos)
        goto bad;
      if ((key >> 3) == field) {
        found = 1;
        field_tag = tag_pos;
        field_at = c;
        m->left = (size_t)v;
        field_end = c.pos + (size_t)v;
      }
      if (scur_take(&c, NULL, v))
        goto bad;
      break;
    case 5:
      if (scur_take(&c, NULL, 4))
        goto bad;
      break;
    default:
      goto bad;
    }
  }
  /* Pass 2: everything but that occurrence of the field. */
  size_t cut = found ? field_end - field_tag : 0;
  *rest_len = total - cut;
  *rest = malloc(*rest_len ? *rest_len : 1);
  if (!*rest) {
    mef3__rpc_msg_close(m);
    return -2;
  }
  at = (scur){m->sl, m->nsl, 0, 0, 0};
  if (scur_take(&at, *rest, found ? field_tag : total))
    goto bad;
  if (found && (scur_take(&at, NULL, cut) ||
                scur_take(&at, *rest + field_tag, total - field_end)))
    goto bad;
  if (found) {
    m->i = field_at.i;
    m->o = field_at.o;
  } else {
    m->left = 0;
  }
  return 0;
bad:
  free(*rest);
  *rest = NULL;
  *rest_len = 0;
  mef3__rpc_msg_close(m);
  return -1;
}

int mef3__rpc_msg_read(mef3__rpc_msg *m, void *dst, size_t n) {
  if (n > m->left)
    return -1;
  scur c = {m->sl, m->nsl, m->i, m->o, 0};
  if (scur_take(&c, dst, n))
    return -1;
  m->i = c.i;
  m->o = c.o;
  m->left -= n;
  return 0;
}

void mef3__rpc_msg_close(mef3__rpc_msg *m) {
  if (m->has_flat)
    grpc_slice_unref(m->flat);
  memset(m, 0, sizeof *m);
}

int mef3__rpc_field_has_nul(grpc_byte_buffer *bb, uint32_t field) {
  if (!bb)
    return 0;
  grpc_byte_buffer_reader rd;
  if (!grpc_byte_buffer_reader_init(&rd, bb))
    return 0;
  grpc_slice s = grpc_byte_buffer_reader_readall(&rd);
  grpc_byte_buffer_reader_destroy(&rd);
  const uint8_t *p = GRPC_SLICE_START_PTR(s);
  size_t n = GRPC_SLICE_LENGTH(s), t, off, len;
  int found = 0;
  /* Every occurrence of the field (a repeated one may appear again). */
  while (!found && !mef3__rpc_find_field(p, n, field, &t, &off, &len)) {
    found = memchr(p + off, 0, len) != NULL;
    p += off + len;
    n -= off + len;
  }
  grpc_slice_unref(s);
  return found;
}

#if defined(__SANITIZE_THREAD__)
/*
 * ThreadSanitizer builds only.  Debian's gRPC core is not built with
 * TSan: it synchronizes through atomics TSan cannot see, so TSan reports
 * races inside it (and on descriptors it shares between its threads) that
 * are not there.  Those reports are suppressed; everything of ours stays
 * checked, and our state shared with gRPC threads is guarded by our own
 * mutexes (see server_impl.h).
 */
const char *__tsan_default_suppressions(void);
__attribute__((visibility("default"))) const char *
__tsan_default_suppressions(void) {
  return "called_from_lib:libgrpc.so\n"
         "called_from_lib:libgpr.so\n"
         "called_from_lib:libgrpc.so.29\n"
         "called_from_lib:libgpr.so.29\n"
         "race:libgrpc.so\n"
         "race:libgpr.so\n"
         "race:libabsl\n"
         "deadlock:libgrpc.so\n";
}
#endif
