/*
 * reader/annotations.c - collecting the records (annotations) of a
 * session: NAME.rdat at session level, in each channel directory and in
 * each segment directory.  Times are converted with the recording time
 * offset of the channel's (or, at session level, the first channel's)
 * first segment.
 *
 * One bad record or file never hides the rest: records that cannot be
 * decoded come back flagged (format/records.c), and a records file that
 * cannot be read at all becomes one flagged entry naming it, unless the
 * caller asks for strict, when the first of these fails the call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reader/reader_impl.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/alloc.h"

#define MAX_RECORD_FILE_BYTES ((size_t)1 << 30)

typedef struct {
  mef3_record *v;
  size_t n, cap;
} rec_list;

static int grow(rec_list *l, size_t more) {
  if (l->n + more <= l->cap)
    return 0;
  size_t nc = l->cap ? l->cap : 16;
  while (nc < l->n + more)
    nc *= 2;
  mef3_record *nv = mef3__realloc(l->v, nc * sizeof *nv);
  if (!nv)
    return mef3__error(MEF3_ENOMEM, "out of memory");
  l->v = nv;
  l->cap = nc;
  return 0;
}

/* One entry standing for a records file that failed with `code` (the last
 * error says how, naming the file). */
static int add_failed_file(rec_list *l, int code, mef3_record_level level,
                           const char *channel, int32_t segment) {
  char *problem = mef3__strdup(mef3_error_last()->message);
  if (!problem || grow(l, 1)) {
    mef3__free(problem);
    return mef3__error(MEF3_ENOMEM, "out of memory");
  }
  mef3_record *r = &l->v[l->n++];
  memset(r, 0, sizeof *r);
  r->time = r->end_time = MEF3_UUTC_NO_ENTRY;
  r->level = level;
  snprintf(r->channel, sizeof r->channel, "%s", channel ? channel : "");
  r->segment = segment;
  r->index = r->offset = -1;
  r->undecodable = code;
  r->problem = problem;
  return 0;
}

/* The records of file `path` (taken: freed here; NULL is out of memory). */
static int add_file(const mef3_reader *rd, rec_list *l, char *path,
                    const mef3_keys *keys, int64_t rto, mef3_record_level level,
                    const char *channel, int32_t segment, int strict) {
  if (!path)
    return mef3__error(MEF3_ENOMEM, "out of memory");
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc = mef3__rd_read_file(rd, &buf, &len, path, MAX_RECORD_FILE_BYTES);
  if (rc == MEF3_ENOTFOUND) {
    mef3__free(path);
    mef3_error_clear();
    return 0;
  }
  mef3_record *recs = NULL;
  size_t n = 0;
  if (!rc)
    rc = mef3_records_parse(&recs, &n, buf, len, keys, path);
  mef3__free(buf);
  mef3__free(path);
  if (rc)
    return strict || rc == MEF3_ENOMEM
               ? rc
               : add_failed_file(l, rc, level, channel, segment);
  for (size_t i = 0; strict && i < n; i++)
    if (recs[i].undecodable) {
      rc = mef3__error(recs[i].undecodable, "%s", recs[i].problem);
      mef3_records_free(recs, n);
      return rc;
    }
  if (grow(l, n)) {
    mef3_records_free(recs, n);
    return MEF3_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    mef3_record *r = &recs[i];
    r->time = mef3_time_to_uutc(r->time, rto);
    if (r->end_time < 0 && r->end_time != MEF3_UUTC_NO_ENTRY)
      r->end_time = mef3_time_to_uutc(r->end_time, rto);
    r->level = level;
    snprintf(r->channel, sizeof r->channel, "%s", channel ? channel : "");
    r->segment = segment;
    l->v[l->n++] = *r;
  }
  mef3__free(recs); /* the bodies, texts and problems moved into l */
  return 0;
}

static int64_t rto_of(const rd_segment *g) {
  return g->md.section_3_available &&
                 g->md.recording_time_offset != MEF3_UUTC_NO_ENTRY
             ? g->md.recording_time_offset
             : 0;
}

static int cmp_time(const void *a, const void *b) {
  const mef3_record *x = a, *y = b;
  if (x->time != y->time)
    return x->time < y->time ? -1 : 1;
  if (x->level != y->level)
    return (int)x->level - (int)y->level;
  int c = strcmp(x->channel, y->channel);
  if (c)
    return c;
  /* qsort is not stable: file order breaks the remaining ties. */
  if (x->segment != y->segment)
    return x->segment < y->segment ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

int mef3_reader_records(mef3_record **out, size_t *n, mef3_reader *r,
                        int strict) {
  *out = NULL;
  *n = 0;
  rec_list l = {0};
  int rc = 0;
  if (r->is_session && r->n_ch) {
    /* NAME.rdat in the session's directory (or its archive's root) */
    size_t ln = strlen(r->session_name);
    char *file = mef3__malloc(ln + 6);
    char *path = NULL;
    if (file) {
      memcpy(file, r->session_name, ln);
      memcpy(file + ln, ".rdat", 6);
      path = mef3__join(r->path, file);
    }
    mef3__free(file);
    rc =
        add_file(r, &l, path, &r->ch[0].segs[0].keys, rto_of(&r->ch[0].segs[0]),
                 MEF3_LEVEL_SESSION, NULL, -1, strict);
  }
  for (size_t i = 0; !rc && i < r->n_ch; i++) {
    rd_channel *c = &r->ch[i];
    rc = add_file(r, &l, mef3__child_named(c->path, ".rdat"), &c->segs[0].keys,
                  rto_of(&c->segs[0]), MEF3_LEVEL_CHANNEL, c->name, -1, strict);
    for (size_t s = 0; !rc && s < c->n_segs; s++)
      rc = add_file(r, &l, mef3__child_named(c->segs[s].dir, ".rdat"),
                    &c->segs[s].keys, rto_of(&c->segs[s]), MEF3_LEVEL_SEGMENT,
                    c->name, (int32_t)s, strict);
  }
  if (rc) {
    mef3_records_free(l.v, l.n);
    return rc;
  }
  if (l.n)
    qsort(l.v, l.n, sizeof *l.v, cmp_time);
  *out = l.v;
  *n = l.n;
  return 0;
}
