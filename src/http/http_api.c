/*
 * http/http_api.c - the handlers of the HTTP API (docs/http.md): each
 * turns its query or body into one or a few file-manager calls and the
 * result into JSON or little-endian float32.  They run on their
 * connection's thread (http_server.c) and share nothing but the file
 * manager.
 *
 * Caching: windows and envelopes carry an ETag made of the file's
 * identity, its extent (which grows while a session is being written)
 * and the request, so a window asked again is answered 304 without
 * reading anything; those wholly inside the recorded extent may be kept
 * an hour.  The ETag names the access level too, and responses vary on
 * the token, so a cache never hands one level's answer to another.
 *
 * Access: the open (POST api/open with the password in its body) returns
 * the view's token; every later call names it in the header
 * X-Mef3-Token, and the file manager checks it on every call (files.h,
 * Access).  Without it a call reaches only the level-0 view, which an
 * encrypted session has not.  Tokens never go into URLs or logs.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "http/http_impl.h"
#include "mef3pool/reader.h"

#define MAX_LIST 10000 /* sessions listed under the root */
#define MAX_DEPTH 6
#define MAX_CHANNELS 4096

/* ---- arguments ---- */

/* A query argument, or NULL; an argument holding a NUL is refused. */
static const char *qarg(hreq *r, const char *name, int *bad) {
  const char *v = NULL;
  size_t len = 0;
  if (MHD_lookup_connection_value_n(r->c, MHD_GET_ARGUMENT_KIND, name,
                                    strlen(name), &v, &len) != MHD_YES)
    return NULL;
  if (!v)
    return "";
  if (strlen(v) != len) {
    *bad = 1;
    return NULL;
  }
  return v;
}

static int parse_i64(const char *s, int64_t *out) {
  if (!s || !*s)
    return -1;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || *end)
    return -1;
  *out = v;
  return 0;
}

/* Split a comma-separated list of channel names (empty: none = all). */
static int split_channels(const char *s, char ***out, size_t *n) {
  *out = NULL;
  *n = 0;
  if (!s || !*s)
    return 0;
  size_t k = 1;
  for (const char *p = s; *p; p++)
    k += *p == ',';
  if (k > MAX_CHANNELS)
    return -1;
  char **v = calloc(k, sizeof *v);
  char *copy = strdup(s);
  if (!v || !copy) {
    free(v);
    free(copy);
    return -2;
  }
  size_t i = 0;
  for (char *p = copy, *q; p; p = q) {
    q = strchr(p, ',');
    if (q)
      *q++ = '\0';
    v[i++] = p;
  }
  *out = v; /* v[0] owns the copy */
  *n = k;
  return 0;
}

static void free_channels(char **v) {
  if (v)
    free(v[0]);
  free(v);
}

/* ---- JSON replies ---- */

static enum MHD_Result reply_json(hreq *r, hbuf *b) {
  if (b->oom) {
    free(b->p);
    return mef3__http_error(r, MEF3_ENOMEM, "out of memory");
  }
  static const char *const hdr[] = {"Cache-Control", "no-store", NULL};
  hbuf_put(b, "\n", 1);
  return mef3__http_reply(r, MHD_HTTP_OK, "application/json", b->p, b->len,
                          hdr);
}

static enum MHD_Result lib_error(hreq *r, int rc, const char *what) {
  return mef3__http_error(r, rc, "%s: %s", what, mef3_error_last()->message);
}

/* ---- sessions ---- */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collect NAME.mefd directories below root/rel (no symbolic link is
 * followed, so nothing outside the root is listed). */
static void walk(const char *root, const char *rel, int depth, char ***list,
                 size_t *n, size_t *cap) {
  char dir[PATH_MAX];
  if (snprintf(dir, sizeof dir, "%s%s%s", root, *rel ? "/" : "", rel) >=
      (int)sizeof dir)
    return;
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *e;
  while ((e = readdir(d)) && *n < MAX_LIST) {
    if (e->d_name[0] == '.')
      continue;
    char sub[PATH_MAX], full[PATH_MAX];
    if (snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name) >=
            (int)sizeof sub ||
        snprintf(full, sizeof full, "%s/%s", root, sub) >= (int)sizeof full)
      continue;
    struct stat st;
    if (lstat(full, &st) || !S_ISDIR(st.st_mode))
      continue;
    size_t len = strlen(e->d_name);
    if (len > 5 && !strcmp(e->d_name + len - 5, ".mefd")) {
      if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        char **nl = realloc(*list, nc * sizeof *nl);
        if (!nl)
          break;
        *list = nl;
        *cap = nc;
      }
      if (((*list)[*n] = strdup(sub)))
        (*n)++;
    } else if (depth < MAX_DEPTH) {
      walk(root, sub, depth + 1, list, n, cap);
    }
  }
  closedir(d);
}

static enum MHD_Result api_sessions(hreq *r) {
  char **open = NULL;
  size_t nopen = 0;
  int rc = mef3_files_list(&open, &nopen, r->h->fm);
  if (rc)
    return lib_error(r, rc, "list");
  char **avail = NULL;
  size_t navail = 0, cap = 0;
  if (r->h->root)
    walk(r->h->root, "", 0, &avail, &navail, &cap);
  if (navail)
    qsort(avail, navail, sizeof *avail, cmp_str);
  hbuf b = {0};
  hbuf_printf(&b, "{\"root\":%s,\"open\":[", r->h->root ? "true" : "false");
  for (size_t i = 0; i < nopen; i++) {
    if (i)
      hbuf_put(&b, ",", 1);
    hbuf_json(&b, open[i]);
  }
  hbuf_put(&b, "],\"available\":[", 15);
  size_t k = 0;
  for (size_t i = 0; i < r->h->n_sessions; i++, k++) {
    if (k)
      hbuf_put(&b, ",", 1);
    hbuf_json(&b, r->h->sessions[i]);
  }
  for (size_t i = 0; i < navail; i++, k++) {
    if (k)
      hbuf_put(&b, ",", 1);
    hbuf_json(&b, avail[i]);
    free(avail[i]);
  }
  hbuf_put(&b, "]}", 2);
  free(avail);
  mef3_files_list_free(open, nopen);
  return reply_json(r, &b);
}

/* ---- info ---- */

/* The caller's access token (X-Mef3-Token), or NULL. */
static const char *req_token(hreq *r) {
  return MHD_lookup_connection_value(r->c, MHD_HEADER_KIND, "X-Mef3-Token");
}

static void info_json(hbuf *b, mef3_http *h, const char *path,
                      const char *tok, const mef3_file_info *in) {
  int32_t gmt = 0;
  int gmt_known = 0;
  mef3_files_gmt_offset_as(&gmt, &gmt_known, h->fm, path, tok);
  mef3_record *recs = NULL;
  size_t nrec = 0;
  mef3_files_records_as(&recs, &nrec, h->fm, path, tok, INT64_MIN, INT64_MAX);
  mef3_records_free(recs, nrec);
  hbuf_put(b, "{\"path\":", 8);
  hbuf_json(b, in->path);
  hbuf_printf(b,
              ",\"start_uutc\":%" PRId64 ",\"end_uutc\":%" PRId64
              ",\"duration_s\":%.17g,\"access_level\":%d,\"times_relative\":"
              "%s,\"n_records\":%zu,\"gmt_offset_s\":",
              in->start_uutc, in->end_uutc, in->duration_s, in->access_level,
              in->times_relative ? "true" : "false", nrec);
  if (gmt_known)
    hbuf_printf(b, "%d", (int)gmt);
  else
    hbuf_put(b, "null", 4);
  hbuf_put(b, ",\"channels\":[", 13);
  for (size_t i = 0; i < in->n_channels; i++) {
    const mef3_file_channel *c = &in->channels[i];
    hbuf_printf(b, "%s{\"name\":", i ? "," : "");
    hbuf_json(b, c->name);
    hbuf_printf(b,
                ",\"fs\":%.17g,\"start_uutc\":%" PRId64 ",\"end_uutc\":%" PRId64
                ",\"n_samples\":%" PRId64
                ",\"units_conversion_factor\":%.17g,\"units\":",
                c->fs, c->start_uutc, c->end_uutc, c->n_samples,
                c->units_conversion_factor);
    hbuf_json(b, c->units);
    hbuf_put(b, ",\"runs\":[", 9);
    mef3_time_run *runs = NULL;
    size_t nr = 0;
    if (mef3_files_contigua_as(&runs, &nr, h->fm, path, tok, c->name) == 0)
      for (size_t k = 0; k < nr; k++)
        hbuf_printf(b, "%s[%" PRId64 ",%" PRId64 "]", k ? "," : "",
                    runs[k].start_uutc, runs[k].end_uutc);
    mef3_free(runs);
    hbuf_put(b, "]}", 2);
  }
  hbuf_put(b, "]}", 2);
}

static enum MHD_Result api_info(hreq *r) {
  int bad = 0;
  const char *path = qarg(r, "path", &bad);
  if (bad || !path || !*path)
    return mef3__http_bad(r, "info needs ?path=SESSION");
  mef3_file_info *in = NULL;
  int rc = mef3_files_info_as(&in, r->h->fm, path, req_token(r));
  if (rc)
    return lib_error(r, rc, path);
  hbuf b = {0};
  info_json(&b, r->h, path, req_token(r), in);
  mef3_file_info_free(in);
  return reply_json(r, &b);
}

/* ---- open, close ---- */

static int may_open(mef3_http *h, const char *path) {
  for (size_t i = 0; i < h->n_sessions; i++)
    if (!strcmp(h->sessions[i], path))
      return 1;
  return h->root != NULL;
}

static enum MHD_Result api_open(hreq *r, int close) {
  if (strcmp(r->method, "POST"))
    return mef3__http_error(r, MEF3_EINVAL, "%s takes a POST",
                            close ? "close" : "open");
  cJSON *j = r->body ? cJSON_ParseWithLength(r->body, r->body_len) : NULL;
  const cJSON *jp = j ? cJSON_GetObjectItemCaseSensitive(j, "path") : NULL;
  const cJSON *jw = j ? cJSON_GetObjectItemCaseSensitive(j, "password") : NULL;
  if (!cJSON_IsString(jp) || !*jp->valuestring ||
      (jw && !cJSON_IsString(jw) && !cJSON_IsNull(jw))) {
    cJSON_Delete(j);
    return mef3__http_bad(r, "the body must be JSON {\"path\": SESSION%s}",
                          close ? "" : ", \"password\": P (optional)");
  }
  const char *path = jp->valuestring;
  const char *pw = cJSON_IsString(jw) ? jw->valuestring : NULL;
  enum MHD_Result ok;
  mef3_http *h = r->h;
  if (close) {
    int rc = mef3_files_close_as(h->fm, path, req_token(r));
    if (rc)
      ok = lib_error(r, rc, path);
    else {
      hbuf b = {0};
      hbuf_put(&b, "{\"closed\":", 10);
      hbuf_json(&b, path);
      hbuf_put(&b, "}", 1);
      ok = reply_json(r, &b);
    }
    cJSON_Delete(j);
    return ok;
  }
  mef3_file_info *in = NULL;
  int rc = pw ? MEF3_ENOTFOUND : mef3_files_info(&in, h->fm, path);
  if (rc && !may_open(h, path)) {
    ok = mef3__http_error(r, MEF3_EACCESS,
                          "%s: not open, and this server opens only the "
                          "sessions it was started with (no --root)",
                          path);
    cJSON_Delete(j);
    return ok;
  }
  /* Every open with a password checks it, first or not, and names the
   * view it opened; the level-0 view needs no token (files.h, Access). */
  mef3_files_access acc;
  acc.token[0] = '\0';
  if (rc) {
    rc = mef3_files_open_as(&acc, NULL, h->fm, path, pw);
    if (!rc)
      rc = mef3_files_info_as(&in, h->fm, path, acc.token);
  }
  if (pw) /* wipe our copy of the password */
    for (volatile char *p = jw->valuestring; *p; p++)
      *p = 0;
  if (rc) {
    ok = lib_error(r, rc, path);
  } else {
    hbuf b = {0};
    info_json(&b, h, path, acc.token, in);
    if (acc.token[0] && b.len && b.p[b.len - 1] == '}') {
      b.len--; /* the token, to its holder only */
      hbuf_put(&b, ",\"token\":", 9);
      hbuf_json(&b, acc.token);
      hbuf_put(&b, "}", 1);
    }
    ok = reply_json(r, &b);
  }
  for (volatile char *p = acc.token; *p; p++)
    *p = 0;
  mef3_file_info_free(in);
  cJSON_Delete(j);
  return ok;
}

/* ---- records ---- */

static enum MHD_Result api_records(hreq *r) {
  int bad = 0;
  const char *path = qarg(r, "path", &bad);
  const char *s0 = qarg(r, "start", &bad), *s1 = qarg(r, "end", &bad);
  int64_t t0 = INT64_MIN, t1 = INT64_MAX;
  if (bad || !path || !*path || (s0 && parse_i64(s0, &t0)) ||
      (s1 && parse_i64(s1, &t1)))
    return mef3__http_bad(r, "records needs ?path=SESSION and optionally "
                             "&start=T0&end=T1 (µUTC integers)");
  mef3_record *recs = NULL;
  size_t n = 0;
  int rc =
      mef3_files_records_as(&recs, &n, r->h->fm, path, req_token(r), t0, t1);
  if (rc)
    return lib_error(r, rc, path);
  hbuf b = {0};
  hbuf_put(&b, "[", 1);
  for (size_t i = 0; i < n; i++) {
    const mef3_record *x = &recs[i];
    hbuf_printf(&b, "%s{\"type\":", i ? "," : "");
    hbuf_json(&b, x->type);
    hbuf_printf(&b, ",\"time\":%" PRId64 ",\"duration\":%" PRId64
                    ",\"available\":%s,\"level\":\"%s\",\"channel\":",
                x->time, x->duration, x->available ? "true" : "false",
                x->level == MEF3_LEVEL_SESSION   ? "session"
                : x->level == MEF3_LEVEL_CHANNEL ? "channel"
                                                 : "segment");
    hbuf_json(&b, x->channel);
    hbuf_put(&b, ",\"text\":", 8);
    hbuf_json(&b, x->text ? x->text : "");
    if (!strcmp(x->type, "Seiz"))
      hbuf_printf(&b, ",\"end_time\":%" PRId64, x->end_time);
    if (x->undecodable) {
      hbuf_put(&b, ",\"undecodable\":true,\"problem\":", 30);
      hbuf_json(&b, x->problem);
    }
    hbuf_put(&b, "}", 1);
  }
  hbuf_put(&b, "]", 1);
  mef3_records_free(recs, n);
  return reply_json(r, &b);
}

/* ---- windows and envelopes ---- */

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *c = p;
  for (size_t i = 0; i < n; i++)
    h = (h ^ c[i]) * 0x100000001b3ull;
  return h;
}

/* The ETag of a window or envelope of `in`. */
static void make_etag(char *out, size_t cap, const mef3_file_info *in,
                      const char *kind, const char *chans, int64_t t0,
                      int64_t t1, int64_t columns) {
  uint64_t h = 0xcbf29ce484222325ull;
  h = fnv(h, in->real_path, strlen(in->real_path) + 1);
  h = fnv(h, kind, strlen(kind) + 1);
  h = fnv(h, chans, strlen(chans) + 1);
  int64_t v[5] = {t0, t1, columns, in->end_uutc, in->access_level};
  h = fnv(h, v, sizeof v);
  for (size_t i = 0; i < in->n_channels; i++)
    h = fnv(h, &in->channels[i].n_samples, sizeof(int64_t));
  snprintf(out, cap, "\"%016" PRIx64 "\"", h);
}

/* gzip `len` bytes at `p` (level 1): a new buffer, or NULL. */
static void *gzip(const void *p, size_t len, size_t *out_len) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (deflateInit2(&z, 1, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return NULL;
  uLong cap = deflateBound(&z, (uLong)len);
  unsigned char *o = malloc(cap);
  if (!o) {
    deflateEnd(&z);
    return NULL;
  }
  z.next_in = (Bytef *)p;
  z.avail_in = (uInt)len;
  z.next_out = o;
  z.avail_out = (uInt)cap;
  int zr = deflate(&z, Z_FINISH);
  *out_len = z.total_out;
  deflateEnd(&z);
  if (zr != Z_STREAM_END) {
    free(o);
    return NULL;
  }
  return o;
}

static void to_le(float *x, size_t n) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  for (size_t i = 0; i < n; i++) {
    uint32_t u;
    memcpy(&u, &x[i], 4);
    u = __builtin_bswap32(u);
    memcpy(&x[i], &u, 4);
  }
#else
  (void)x;
  (void)n;
#endif
}

static enum MHD_Result api_signal(hreq *r, int envelope) {
  int bad = 0;
  mef3_http *h = r->h;
  const char *path = qarg(r, "path", &bad), *cs = qarg(r, "channels", &bad);
  const char *s0 = qarg(r, "start", &bad), *s1 = qarg(r, "end", &bad);
  const char *sc = qarg(r, "columns", &bad), *gz = qarg(r, "gzip", &bad);
  int64_t t0, t1, columns = 0;
  if (bad || !path || !*path || parse_i64(s0, &t0) || parse_i64(s1, &t1))
    return mef3__http_bad(r, "%s needs ?path=SESSION&start=T0&end=T1 (µUTC "
                             "integers) and optionally &channels=a,b%s",
                          envelope ? "envelope" : "window",
                          envelope ? "&columns=W" : "&gzip=1");
  if (t1 <= t0)
    return mef3__http_bad(r, "window [%" PRId64 ", %" PRId64
                             ") is empty or reversed", t0, t1);
  if (envelope && (parse_i64(sc, &columns) || columns < 1 ||
                   columns > 65536))
    return mef3__http_bad(r, "envelope needs &columns=W, W in [1, 65536]");
  char **chans = NULL;
  size_t nch = 0;
  int src = split_channels(cs, &chans, &nch);
  if (src)
    return src == -1 ? mef3__http_bad(r, "more than %d channels",
                                      MAX_CHANNELS)
                     : mef3__http_error(r, MEF3_ENOMEM, "out of memory");
  mef3_file_info *in = NULL;
  int rc = mef3_files_info_as(&in, h->fm, path, req_token(r));
  if (rc) {
    free_channels(chans);
    return lib_error(r, rc, path);
  }
  char etag[40];
  make_etag(etag, sizeof etag, in, envelope ? "env" : "win", cs ? cs : "", t0,
            t1, columns);
  const char *cache = t1 <= in->end_uutc ? "private, max-age=3600"
                                         : "private, no-cache";
  const char *inm = MHD_lookup_connection_value(r->c, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_IF_NONE_MATCH);
  if (inm && !strcmp(inm, etag)) {
    mef3_file_info_free(in);
    free_channels(chans);
    const char *const hdr[] = {"ETag", etag, "Cache-Control", cache, NULL};
    return mef3__http_reply(r, MHD_HTTP_NOT_MODIFIED, NULL, NULL, 0, hdr);
  }
  /* The first channel's rate and start: the window's grid. */
  const mef3_file_channel *c0 = nch ? NULL : &in->channels[0];
  for (size_t i = 0; !c0 && i < in->n_channels; i++)
    if (!strcmp(in->channels[i].name, chans[0]))
      c0 = &in->channels[i];
  if (!c0 || in->n_channels == 0) {
    mef3_file_info_free(in);
    enum MHD_Result ok = mef3__http_error(
        r, MEF3_ENOTFOUND, "%s: no channel named \"%s\"", path,
        nch ? chans[0] : "");
    free_channels(chans);
    return ok;
  }
  size_t rows = nch ? nch : in->n_channels;
  double fs = c0->fs;
  char h_rows[32], h_n[32], h_fs[40], h_t0[64], h_extra1[64], h_extra2[64];
  void *body = NULL;
  size_t len = 0;
  char *firsts = NULL;
  if (!envelope) {
    int64_t n = mef3_files_window_samples(t0, t1, fs);
    if (n <= 0 || (uint64_t)n * rows > (uint64_t)h->o.max_samples) {
      mef3_file_info_free(in);
      free_channels(chans);
      return n <= 0 ? mef3__http_bad(r, "window shorter than one sample")
                    : mef3__http_error(r, MEF3_ELIMIT,
                                       "%zu channels x %" PRId64
                                       " samples is over the limit of %" PRId64,
                                       rows, n, h->o.max_samples);
    }
    float *x = malloc((size_t)n * rows * sizeof *x);
    size_t got = 0;
    rc = x ? mef3_files_read_into_as(&got, h->fm, path, req_token(r),
                                     (const char *const *)chans, nch, t0, t1, x,
                                     (size_t)n * rows)
           : MEF3_ENOMEM;
    if (rc) {
      free(x);
      mef3_file_info_free(in);
      free_channels(chans);
      return lib_error(r, rc, path);
    }
    to_le(x, (size_t)n * rows);
    body = x;
    len = (size_t)n * rows * sizeof *x;
    snprintf(h_n, sizeof h_n, "%zu", got);
    int64_t i1 = c0->start_uutc == MEF3_UUTC_NO_ENTRY
                     ? 0
                     : mef3_grid_slot(t0, c0->start_uutc, fs, MEF3_ROUND_EVEN);
    int64_t ts = c0->start_uutc == MEF3_UUTC_NO_ENTRY
                     ? t0
                     : mef3_grid_time(c0->start_uutc, i1, fs);
    snprintf(h_t0, sizeof h_t0, "%" PRId64, ts);
    snprintf(h_extra1, sizeof h_extra1, "samples");
    snprintf(h_extra2, sizeof h_extra2, "float32le");
  } else {
    mef3_envelope *e = NULL;
    rc = mef3_files_envelope_as(&e, h->fm, path, req_token(r),
                                (const char *const *)chans, nch, t0, t1,
                                (size_t)columns);
    if (rc) {
      mef3_file_info_free(in);
      free_channels(chans);
      return lib_error(r, rc, path);
    }
    size_t nc = e->n_columns;
    float *x = malloc(rows * nc * 2 * sizeof *x);
    hbuf fb = {0};
    for (size_t i = 0; i < rows; i++)
      hbuf_printf(&fb, "%s%" PRId64, i ? "," : "", e->first_uutc[i]);
    if (!x || fb.oom) {
      free(x);
      free(fb.p);
      mef3_envelope_free(e);
      mef3_file_info_free(in);
      free_channels(chans);
      return mef3__http_error(r, MEF3_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < rows; i++)
      for (size_t j = 0; j < nc; j++) {
        x[(i * nc + j) * 2] = e->min[i * nc + j];
        x[(i * nc + j) * 2 + 1] = e->max[i * nc + j];
      }
    to_le(x, rows * nc * 2);
    body = x;
    len = rows * nc * 2 * sizeof *x;
    firsts = fb.p;
    snprintf(h_n, sizeof h_n, "%zu", nc);
    snprintf(h_t0, sizeof h_t0, "%" PRId64, e->first_uutc[0]);
    snprintf(h_extra1, sizeof h_extra1, "%" PRId64, e->samples_per_column);
    snprintf(h_extra2, sizeof h_extra2, "%d", e->level);
    mef3_envelope_free(e);
  }
  snprintf(h_rows, sizeof h_rows, "%zu", rows);
  snprintf(h_fs, sizeof h_fs, "%.17g", fs);
  mef3_file_info_free(in);
  free_channels(chans);

  const char *ae = MHD_lookup_connection_value(r->c, MHD_HEADER_KIND,
                                               MHD_HTTP_HEADER_ACCEPT_ENCODING);
  int zip = gz && !strcmp(gz, "1") && ae && strstr(ae, "gzip") && len >= 1024;
  if (zip) {
    size_t zl = 0;
    void *z = gzip(body, len, &zl);
    if (z) {
      free(body);
      body = z;
      len = zl;
    } else {
      zip = 0;
    }
  }
  const char *hdr[32];
  size_t k = 0;
  hdr[k++] = "ETag", hdr[k++] = etag;
  hdr[k++] = "Cache-Control", hdr[k++] = cache;
  hdr[k++] = "Vary", hdr[k++] = "Accept-Encoding, X-Mef3-Token";
  hdr[k++] = "X-Mef3-Channels", hdr[k++] = h_rows;
  hdr[k++] = "X-Mef3-Fs", hdr[k++] = h_fs;
  if (!envelope) {
    hdr[k++] = "X-Mef3-Samples", hdr[k++] = h_n;
    hdr[k++] = "X-Mef3-Start-Uutc", hdr[k++] = h_t0;
    hdr[k++] = "X-Mef3-Layout", hdr[k++] = "channels,samples;float32le";
  } else {
    hdr[k++] = "X-Mef3-Columns", hdr[k++] = h_n;
    hdr[k++] = "X-Mef3-Samples-Per-Column", hdr[k++] = h_extra1;
    hdr[k++] = "X-Mef3-Level", hdr[k++] = h_extra2;
    hdr[k++] = "X-Mef3-First-Uutc", hdr[k++] = firsts;
    hdr[k++] = "X-Mef3-Layout", hdr[k++] = "channels,columns,minmax;float32le";
  }
  if (zip)
    hdr[k++] = "Content-Encoding", hdr[k++] = "gzip";
  hdr[k] = NULL;
  enum MHD_Result ok = mef3__http_reply(r, MHD_HTTP_OK,
                                        "application/octet-stream", body, len,
                                        hdr);
  free(firsts);
  return ok;
}

/* ---- stats ---- */

static enum MHD_Result api_stats(hreq *r) {
  mef3_files_stats s;
  mef3_envelope_stats e;
  mef3_files_get_stats(&s, r->h->fm);
  mef3_files_get_envelope_stats(&e, r->h->fm);
  hbuf b = {0};
  hbuf_printf(&b,
              "{\"reads\":%" PRIu64 ",\"hits\":%" PRIu64 ",\"misses\":%" PRIu64
              ",\"tiles\":%" PRIu64 ",\"bytes\":%" PRIu64
              ",\"prefetched\":%" PRIu64 ",\"envelope_pyramids\":%" PRIu64
              ",\"envelope_bytes\":%" PRIu64 ",\"envelope_built\":%" PRIu64
              ",\"envelope_hits\":%" PRIu64 "}",
              s.reads, s.hits, s.misses, s.tiles, s.bytes, s.prefetched,
              e.pyramids, e.bytes, e.built, e.hits);
  return reply_json(r, &b);
}

enum MHD_Result mef3__http_api(hreq *r) {
  const char *u = r->url + 5;
  int post = !strcmp(r->method, "POST");
  if (!strcmp(u, "open"))
    return api_open(r, 0);
  if (!strcmp(u, "close"))
    return api_open(r, 1);
  if (post)
    return mef3__http_error(r, MEF3_EINVAL, "/api/%s takes a GET", u);
  if (!strcmp(u, "sessions"))
    return api_sessions(r);
  if (!strcmp(u, "info"))
    return api_info(r);
  if (!strcmp(u, "window"))
    return api_signal(r, 0);
  if (!strcmp(u, "envelope"))
    return api_signal(r, 1);
  if (!strcmp(u, "records"))
    return api_records(r);
  if (!strcmp(u, "stats"))
    return api_stats(r);
  return mef3__http_error(r, MEF3_ENOTFOUND, "no such API call: %s", r->url);
}
