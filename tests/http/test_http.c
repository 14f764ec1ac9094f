/*
 * tests/http/test_http.c - the HTTP API (docs/http.md) on loopback, from a
 * plain socket client: windows bit for bit equal to direct reads
 * (mef3_reader_read_time) on golden sessions and a generated one with
 * gaps, envelopes equal to mef3_files_envelope, gzip, ETags (304 without
 * a read), info, sessions under the root, records of a range, passwords
 * (a wrong one is 403, none in a URL), and bad requests: each a clear 4xx
 * with a JSON message, the server still serving afterwards.
 */
#include <arpa/inet.h>
#include <math.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "mef3pool/http.h"
#include "testutil.h"

typedef struct resp {
  int status;
  char head[8192];
  char *body;
  size_t len;
} resp;

static int port;

/* One request on a fresh connection; `extra` are header lines. */
static int request(resp *r, const char *method, const char *target,
                   const char *extra, const char *body) {
  memset(r, 0, sizeof *r);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a)) {
    perror("connect");
    if (fd >= 0)
      close(fd);
    return -1;
  }
  size_t rcap = 16384 + (body ? strlen(body) : 0);
  char *req = malloc(rcap);
  int n = snprintf(req, rcap,
                   "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                   "%s\r\n",
                   method, target, extra ? extra : "");
  if (body)
    n = snprintf(req, rcap,
                 "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                 "%sContent-Type: application/json\r\nContent-Length: %zu"
                 "\r\n\r\n%s",
                 method, target, extra ? extra : "", strlen(body), body);
  ssize_t wr = write(fd, req, (size_t)n);
  free(req);
  if (wr != n) {
    perror("write");
    close(fd);
    return -1;
  }
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (len + 65536 > cap)
      buf = realloc(buf, cap *= 2);
    ssize_t k = read(fd, buf + len, cap - len);
    if (k <= 0)
      break;
    len += (size_t)k;
  }
  close(fd);
  char *sep = memmem(buf, len, "\r\n\r\n", 4);
  if (!sep || sscanf(buf, "HTTP/1.1 %d", &r->status) != 1) {
    fprintf(stderr, "bad response (%zu bytes): %.*s\n", len, (int)len, buf);
    free(buf);
    return -1;
  }
  size_t hl = (size_t)(sep - buf);
  memcpy(r->head, buf, hl < sizeof r->head - 1 ? hl : sizeof r->head - 1);
  r->len = len - hl - 4;
  r->body = malloc(r->len + 1);
  memcpy(r->body, sep + 4, r->len);
  r->body[r->len] = '\0';
  free(buf);
  return 0;
}

static void resp_free(resp *r) { free(r->body); }

/* A header's value (case-insensitive name), or NULL. */
static const char *header(const resp *r, const char *name, char *out,
                          size_t cap) {
  size_t nl = strlen(name);
  for (const char *p = r->head; (p = strstr(p, "\r\n")); ) {
    p += 2;
    if (!strncasecmp(p, name, nl) && p[nl] == ':') {
      const char *v = p + nl + 1;
      while (*v == ' ')
        v++;
      size_t k = strcspn(v, "\r\n");
      if (k >= cap)
        k = cap - 1;
      memcpy(out, v, k);
      out[k] = '\0';
      return out;
    }
  }
  return NULL;
}

static void urlenc(char *out, size_t cap, const char *s) {
  size_t k = 0;
  for (; *s && k + 4 < cap; s++)
    if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
        (*s >= '0' && *s <= '9') || strchr("-_./", *s))
      out[k++] = *s;
    else
      k += (size_t)snprintf(out + k, cap - k, "%%%02X", (unsigned char)*s);
  out[k] = '\0';
}

/* A 4xx with a JSON {"error", "code"} body. */
static void check_4xx(int want, const char *method, const char *target,
                      const char *body, const char *code) {
  resp r;
  if (request(&r, method, target, NULL, body) != 0)
    fprintf(stderr, "request %s %s failed\n", method, target);
  REQUIRE(r.body);
  CHECK_MSG(r.status == want, "%s %s: %d, wanted %d (%s)", method, target,
            r.status, want, r.body);
  cJSON *j = cJSON_Parse(r.body);
  const cJSON *e = cJSON_GetObjectItem(j, "error");
  const cJSON *c = cJSON_GetObjectItem(j, "code");
  CHECK_MSG(cJSON_IsString(e) && strlen(e->valuestring) > 5, "%s: %s", target,
            r.body);
  if (code)
    CHECK_MSG(cJSON_IsString(c) && !strcmp(c->valuestring, code),
              "%s: code %s, wanted %s", target, r.body, code);
  cJSON_Delete(j);
  resp_free(&r);
}

static int same_bits(const float *a, const float *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!(isnan(a[i]) && isnan(b[i])) && memcmp(&a[i], &b[i], 4))
      return 0;
  return 1;
}

/* GET a window of every channel of `rel` through HTTP and compare it with
 * direct reads of the same grid-aligned window. */
static void check_window(const char *rel, const char *abs, const char *ch,
                         int64_t off_samples, int64_t n) {
  mef3_reader *rd = NULL;
  REQUIRE(mef3_reader_open(&rd, abs, NULL) == 0);
  int ci = mef3_reader_find_channel(rd, ch);
  REQUIRE(ci >= 0);
  const mef3_channel_info *c = mef3_reader_channel(rd, (size_t)ci);
  int64_t t0 = c->start_uutc + llround((double)off_samples * 1e6 / c->fs);
  int64_t t1 = c->start_uutc + llround((double)(off_samples + n) * 1e6 / c->fs);
  size_t m = (size_t)mef3_window_samples(t0, t1, c->fs), got = 0;
  float *want = malloc(m * sizeof *want);
  REQUIRE(mef3_reader_read_time(&got, NULL, rd, (size_t)ci, t0, t1, MEF3_F32,
                                want, m, NULL) == 0);
  char er[1024], ec[512], target[4096];
  urlenc(er, sizeof er, rel);
  urlenc(ec, sizeof ec, ch);
  snprintf(target, sizeof target,
           "/api/window?path=%s&channels=%s,%s&start=%lld&end=%lld", er, ec, ec,
           (long long)t0, (long long)t1);
  resp r;
  REQUIRE(request(&r, "GET", target, NULL, NULL) == 0);
  CHECK_MSG(r.status == 200, "%s: %d %s", target, r.status, r.body);
  char v[256];
  CHECK(header(&r, "X-Mef3-Channels", v, sizeof v) && !strcmp(v, "2"));
  CHECK(header(&r, "X-Mef3-Samples", v, sizeof v) && (size_t)atoll(v) == m);
  CHECK(header(&r, "X-Mef3-Start-Uutc", v, sizeof v) && atoll(v) == t0);
  CHECK(header(&r, "X-Mef3-Fs", v, sizeof v) && strtod(v, NULL) == c->fs);
  CHECK_MSG(r.len == 2 * m * 4, "%s: %zu bytes", target, r.len);
  if (r.len == 2 * m * 4) {
    CHECK_MSG(same_bits((float *)r.body, want, m), "%s: samples differ",
              target);
    CHECK(same_bits((float *)r.body + m, want, m));
  }
  /* Asked again with its ETag: 304, nothing read. */
  char etag[128], extra[256];
  REQUIRE(header(&r, "ETag", etag, sizeof etag));
  snprintf(extra, sizeof extra, "If-None-Match: %s\r\n", etag);
  resp r2;
  REQUIRE(request(&r2, "GET", target, extra, NULL) == 0);
  CHECK(r2.status == 304 && r2.len == 0);
  resp_free(&r2);
  /* gzip when asked for and accepted: the same bytes. */
  char zt[4200];
  snprintf(zt, sizeof zt, "%s&gzip=1", target);
  REQUIRE(request(&r2, "GET", zt, "Accept-Encoding: gzip\r\n", NULL) == 0);
  CHECK(r2.status == 200);
  if (r.len >= 1024) {
    CHECK(header(&r2, "Content-Encoding", v, sizeof v) && !strcmp(v, "gzip"));
    unsigned char *un = malloc(r.len + 16);
    z_stream z = {0};
    REQUIRE(inflateInit2(&z, 31) == Z_OK);
    z.next_in = (Bytef *)r2.body;
    z.avail_in = (uInt)r2.len;
    z.next_out = un;
    z.avail_out = (uInt)(r.len + 16);
    CHECK(inflate(&z, Z_FINISH) == Z_STREAM_END);
    CHECK(z.total_out == r.len && !memcmp(un, r.body, r.len));
    inflateEnd(&z);
    free(un);
  }
  resp_free(&r2);
  resp_free(&r);
  free(want);
  mef3_reader_close(rd);
}

/* An envelope through HTTP against mef3_files_envelope. */
static void check_envelope(mef3_files *fm, const char *rel, int64_t t0,
                           int64_t t1, int columns) {
  mef3_envelope *e = NULL;
  REQUIRE(mef3_files_envelope(&e, fm, rel, NULL, 0, t0, t1, (size_t)columns) ==
          0);
  char er[1024], target[4096], v[4096];
  urlenc(er, sizeof er, rel);
  snprintf(target, sizeof target,
           "/api/envelope?path=%s&start=%lld&end=%lld&columns=%d", er,
           (long long)t0, (long long)t1, columns);
  resp r;
  REQUIRE(request(&r, "GET", target, NULL, NULL) == 0);
  CHECK_MSG(r.status == 200, "%s: %d %s", target, r.status, r.body);
  size_t nc = e->n_columns, rows = e->n_channels;
  CHECK(header(&r, "X-Mef3-Columns", v, sizeof v) && (size_t)atoll(v) == nc);
  CHECK(header(&r, "X-Mef3-Samples-Per-Column", v, sizeof v) &&
        atoll(v) == e->samples_per_column);
  CHECK(header(&r, "X-Mef3-First-Uutc", v, sizeof v) &&
        atoll(v) == e->first_uutc[0]);
  CHECK(r.len == rows * nc * 2 * 4);
  if (r.len == rows * nc * 2 * 4) {
    const float *x = (const float *)r.body;
    int ok = 1;
    for (size_t i = 0; i < rows * nc; i++)
      ok &= same_bits(&x[2 * i], &e->min[i], 1) &&
            same_bits(&x[2 * i + 1], &e->max[i], 1);
    CHECK_MSG(ok, "%s: envelope differs", target);
  }
  resp_free(&r);
  mef3_envelope_free(e);
}

static cJSON *get_json(const char *target, int want) {
  resp r;
  REQUIRE(request(&r, "GET", target, NULL, NULL) == 0);
  CHECK_MSG(r.status == want, "%s: %d %s", target, r.status, r.body);
  cJSON *j = cJSON_Parse(r.body);
  CHECK_MSG(j != NULL, "%s: not JSON: %s", target, r.body);
  resp_free(&r);
  return j;
}

static cJSON *post_json(const char *target, const char *body, int want) {
  resp r;
  REQUIRE(request(&r, "POST", target, NULL, body) == 0);
  CHECK_MSG(r.status == want, "%s: %d, wanted %d: %s", target, r.status, want,
            r.body);
  cJSON *j = cJSON_Parse(r.body);
  resp_free(&r);
  return j;
}

static void with_root(void) {
  /* A root holding copies of golden sessions and a generated one, in a
   * folder whose name has a space. */
  const char *root = tu_scratch("http root");
  char p[4096], gen[4096];
  static const char *names[] = {"b_multi_8ch", "c_discontinuities",
                                "d_encrypted"};
  for (size_t i = 0; i < 3; i++) {
    char from[64];
    snprintf(from, sizeof from, "sessions/%s.mefd", names[i]);
    snprintf(p, sizeof p, "%s/golden/%s.mefd", root, names[i]);
    tu_system("mkdir -p '%s/golden'", root);
    REQUIRE(tu_copy_tree(tu_golden(from), p) == 0);
  }
  snprintf(gen, sizeof gen, "%s/gen.mefd", root);
  mef3_gen_options g = MEF3_GEN_OPTIONS_INIT;
  g.n_channels = 4;
  g.fs = 256;
  g.duration_us = (int64_t)20 * 60 * 1000000;
  g.n_random_gaps = 3;
  g.seed = 11;
  REQUIRE(mef3_gen_session(NULL, gen, &g, NULL, NULL) == 0);

  mef3_files_options fo = MEF3_FILES_OPTIONS_INIT;
  fo.data_root = root;
  fo.reader_processes = 2;
  fo.prefetch_processes = 1;
  mef3_files *fm = NULL;
  REQUIRE(mef3_files_new(&fm, &fo) == 0);
  mef3_http_options ho = MEF3_HTTP_OPTIONS_INIT;
  ho.port = 0;
  ho.max_samples = 1 << 22;
  mef3_http *h = NULL;
  REQUIRE(mef3_http_start(&h, fm, &ho) == 0);
  port = mef3_http_port(h);
  CHECK(port > 0);

  /* Sessions under the root, none open yet. */
  cJSON *j = get_json("/api/sessions", 200);
  const cJSON *av = cJSON_GetObjectItem(j, "available");
  CHECK(cJSON_GetArraySize(av) == 4);
  CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "open")) == 0);
  CHECK(!strcmp(cJSON_GetArrayItem(av, 0)->valuestring, "gen.mefd"));
  CHECK(!strcmp(cJSON_GetArrayItem(av, 1)->valuestring,
                "golden/b_multi_8ch.mefd"));
  cJSON_Delete(j);

  /* Open: info comes back. */
  j = post_json("/api/open", "{\"path\":\"golden/b_multi_8ch.mefd\"}", 200);
  const cJSON *chs = cJSON_GetObjectItem(j, "channels");
  CHECK(cJSON_GetArraySize(chs) == 8);
  cJSON_Delete(j);
  j = post_json("/api/open", "{\"path\":\"golden/c_discontinuities.mefd\"}",
                200);
  /* c has gaps: more than one run per channel. */
  chs = cJSON_GetObjectItem(j, "channels");
  const cJSON *runs = cJSON_GetObjectItem(cJSON_GetArrayItem(chs, 0), "runs");
  CHECK(cJSON_GetArraySize(runs) >= 3);
  cJSON_Delete(j);
  j = post_json("/api/open", "{\"path\":\"gen.mefd\"}", 200);
  CHECK(cJSON_GetObjectItem(j, "n_records")->valueint >= 4);
  int64_t gs = (int64_t)cJSON_GetObjectItem(j, "start_uutc")->valuedouble;
  cJSON_Delete(j);

  /* Windows, bit for bit. */
  mef3_reader *rd = NULL;
  snprintf(p, sizeof p, "%s/golden/b_multi_8ch.mefd", root);
  REQUIRE(mef3_reader_open(&rd, p, NULL) == 0);
  for (size_t c = 0; c < mef3_reader_channel_count(rd); c++) {
    const mef3_channel_info *ci = mef3_reader_channel(rd, c);
    check_window("golden/b_multi_8ch.mefd", p, ci->name, 0, 1000);
    check_window("golden/b_multi_8ch.mefd", p, ci->name, 12345,
                 (int64_t)(ci->fs * 30));
    check_window("golden/b_multi_8ch.mefd", p, ci->name, -100, 500);
  }
  mef3_reader_close(rd);
  snprintf(p, sizeof p, "%s/golden/c_discontinuities.mefd", root);
  check_window("golden/c_discontinuities.mefd", p, "ch01", 0, 250 * 60);
  check_window("golden/c_discontinuities.mefd", p, "ch02", 1000, 250 * 100);
  check_window("gen.mefd", gen, "ch01", 256 * 100, 256 * 600);
  check_window("gen.mefd", gen, "ch04", 0, 256 * 1200);

  /* Envelopes. */
  check_envelope(fm, "gen.mefd", gs, gs + (int64_t)1200 * 1000000, 1000);
  check_envelope(fm, "gen.mefd", gs + 777777, gs + (int64_t)300 * 1000000, 640);
  check_envelope(fm, "gen.mefd", gs, gs + (int64_t)10 * 1000000, 400);

  /* Records of a range: the notes at the gaps lie inside the recording. */
  char t[512];
  snprintf(t, sizeof t, "/api/records?path=gen.mefd&start=%lld&end=%lld",
           (long long)(gs + 1), (long long)(gs + (int64_t)1200 * 1000000));
  j = get_json(t, 200);
  CHECK(cJSON_GetArraySize(j) >= 3);
  cJSON *first = cJSON_GetArrayItem(j, 0);
  CHECK(first && cJSON_GetObjectItem(first, "time")->valuedouble > (double)gs);
  cJSON_Delete(j);
  snprintf(t, sizeof t, "/api/records?path=gen.mefd&start=%lld&end=%lld",
           (long long)gs, (long long)(gs + 1));
  j = get_json(t, 200);
  CHECK(cJSON_GetArraySize(j) == 1); /* the note at the start */
  cJSON_Delete(j);

  /* Passwords: wrong is 403 EPASSWORD, none in a URL, right opens. */
  check_4xx(403, "POST", "/api/open",
            "{\"path\":\"golden/d_encrypted.mefd\",\"password\":\"nope\"}",
            "EPASSWORD");
  check_4xx(403, "POST", "/api/open", "{\"path\":\"golden/d_encrypted.mefd\"}",
            "EPASSWORD");
  check_4xx(400, "GET", "/api/info?path=golden/d_encrypted.mefd&password=l2pass",
            NULL, "EINVAL");
  j = post_json("/api/open",
                "{\"path\":\"golden/d_encrypted.mefd\",\"password\":\"l2pass\"}",
                200);
  CHECK(cJSON_GetObjectItem(j, "access_level")->valueint == 2);
  char tok2[80] = "", tok1[80] = "", hdr[128];
  cJSON *jt = cJSON_GetObjectItem(j, "token");
  CHECK(cJSON_IsString(jt) && strlen(jt->valuestring) == 32);
  if (cJSON_IsString(jt))
    snprintf(tok2, sizeof tok2, "%s", jt->valuestring);
  cJSON_Delete(j);
  /* Every later call shows the token: without it, or with a wrong one,
   * an encrypted session is 403; with it, the level its password gave. */
  check_4xx(403, "GET", "/api/info?path=golden/d_encrypted.mefd", NULL,
            "EPASSWORD");
  {
    resp r;
    snprintf(hdr, sizeof hdr, "X-Mef3-Token: %032d\r\n", 7);
    REQUIRE(request(&r, "GET", "/api/info?path=golden/d_encrypted.mefd", hdr,
                    NULL) == 0);
    CHECK_MSG(r.status == 403, "a wrong token: %d", r.status);
    resp_free(&r);
    /* a level-1 holder beside the level-2 one sees level 1 */
    j = post_json("/api/open",
                  "{\"path\":\"golden/d_encrypted.mefd\",\"password\":"
                  "\"l1pass\"}",
                  200);
    CHECK(cJSON_GetObjectItem(j, "access_level")->valueint == 1);
    jt = cJSON_GetObjectItem(j, "token");
    if (cJSON_IsString(jt))
      snprintf(tok1, sizeof tok1, "%s", jt->valuestring);
    CHECK(tok1[0] && strcmp(tok1, tok2));
    cJSON_Delete(j);
    const char *toks[2] = {tok1, tok2};
    for (int lv = 1; lv <= 2; lv++) {
      snprintf(hdr, sizeof hdr, "X-Mef3-Token: %s\r\n", toks[lv - 1]);
      REQUIRE(request(&r, "GET", "/api/info?path=golden/d_encrypted.mefd",
                      hdr, NULL) == 0);
      CHECK_MSG(r.status == 200, "info with the level-%d token: %d %s", lv,
                r.status, r.body);
      j = cJSON_Parse(r.body);
      CHECK(j && cJSON_GetObjectItem(j, "access_level")->valueint == lv);
      CHECK(j && !cJSON_GetObjectItem(j, "token")); /* only the open says it */
      cJSON_Delete(j);
      resp_free(&r);
    }
    /* a token of one session opens no other */
    snprintf(hdr, sizeof hdr, "X-Mef3-Token: %s\r\n", tok2);
    REQUIRE(request(&r, "GET", "/api/info?path=golden/b_multi_8ch.mefd", hdr,
                    NULL) == 0);
    CHECK_MSG(r.status == 403, "another session with a stray token: %d",
              r.status); /* (files.h, Access: a token names one view) */
    resp_free(&r);
  }

  /* Bad requests. */
  check_4xx(400, "POST", "/api/open", "{\"path\":\"../x.mefd\"}", "EINVAL");
  check_4xx(400, "POST", "/api/open", "{\"path\":\"/etc\"}", "EINVAL");
  check_4xx(404, "POST", "/api/open", "{\"path\":\"nothere.mefd\"}",
            "ENOTFOUND");
  check_4xx(400, "POST", "/api/open", "not json", "EINVAL");
  check_4xx(400, "POST", "/api/open", "{\"path\":3}", "EINVAL");
  check_4xx(400, "GET", "/api/open", NULL, "EINVAL");
  check_4xx(404, "GET", "/api/info?path=golden/other.mefd", NULL, "ENOTFOUND");
  check_4xx(400, "GET", "/api/info", NULL, "EINVAL");
  check_4xx(400, "GET", "/api/window?path=gen.mefd&start=10&end=5", NULL,
            "EINVAL");
  check_4xx(400, "GET", "/api/window?path=gen.mefd&start=x&end=5", NULL,
            "EINVAL");
  check_4xx(400, "GET", "/api/window?path=gen.mefd&start=1", NULL, "EINVAL");
  check_4xx(400, "GET", "/api/window?path=gen.mefd%00x&start=1&end=2", NULL,
            "EINVAL");
  snprintf(t, sizeof t, "/api/window?path=gen.mefd&start=%lld&end=%lld",
           (long long)gs, (long long)(gs + (int64_t)86400 * 1000000));
  check_4xx(413, "GET", t, NULL, "ELIMIT");
  snprintf(t, sizeof t,
           "/api/window?path=gen.mefd&channels=nope&start=%lld&end=%lld",
           (long long)gs, (long long)(gs + 1000000));
  check_4xx(404, "GET", t, NULL, "ENOTFOUND");
  snprintf(t, sizeof t,
           "/api/window?path=golden/b_multi_8ch.mefd&start=%lld&end=%lld",
           (long long)gs, (long long)(gs + 1000000));
  check_4xx(400, "GET", t, NULL, "EINVAL"); /* rates differ */
  snprintf(t, sizeof t,
           "/api/envelope?path=gen.mefd&start=%lld&end=%lld&columns=0",
           (long long)gs, (long long)(gs + 1000000));
  check_4xx(400, "GET", t, NULL, "EINVAL");
  check_4xx(404, "GET", "/api/nothing", NULL, "ENOTFOUND");
  check_4xx(404, "GET", "/../../etc/passwd", NULL, "ENOTFOUND");
  check_4xx(405, "PUT", "/api/info", "{}", NULL);
  char *big = malloc(100000);
  memset(big, 'a', 99999);
  big[99999] = 0;
  check_4xx(413, "POST", "/api/open", big, "ELIMIT");
  free(big);

  /* Close; then it is not open. */
  j = post_json("/api/close", "{\"path\":\"gen.mefd\"}", 200);
  cJSON_Delete(j);
  check_4xx(404, "GET", "/api/info?path=gen.mefd", NULL, "ENOTFOUND");
  j = get_json("/api/sessions", 200);
  CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "open")) == 3);
  cJSON_Delete(j);

  /* The page is served. */
  resp r;
  REQUIRE(request(&r, "GET", "/", NULL, NULL) == 0);
  CHECK(r.status == 200 && strstr(r.body, "<html") != NULL);
  resp_free(&r);

  mef3_http_free(h);
  mef3_files_free(fm);
}

/* Without a root: only the sessions given may be opened. */
static void without_root(void) {
  mef3_files *fm = NULL;
  mef3_files_options fo = MEF3_FILES_OPTIONS_INIT;
  fo.use_process_pool = 0;
  REQUIRE(mef3_files_new(&fm, &fo) == 0);
  const char *d = tu_golden("sessions/d_encrypted.mefd");
  char dcopy[4096];
  snprintf(dcopy, sizeof dcopy, "%s", d);
  mef3_http_options ho = MEF3_HTTP_OPTIONS_INIT;
  ho.port = 0;
  const char *sess[1] = {dcopy};
  ho.sessions = sess;
  ho.n_sessions = 1;
  mef3_http *h = NULL;
  REQUIRE(mef3_http_start(&h, fm, &ho) == 0);
  port = mef3_http_port(h);
  char body[8192];
  snprintf(body, sizeof body, "{\"path\":\"%s\"}",
           tu_golden("sessions/b_multi_8ch.mefd"));
  check_4xx(403, "POST", "/api/open", body, "EACCESS");
  snprintf(body, sizeof body, "{\"path\":\"%s\",\"password\":\"bad\"}", dcopy);
  check_4xx(403, "POST", "/api/open", body, "EPASSWORD");
  snprintf(body, sizeof body, "{\"path\":\"%s\",\"password\":\"l1pass\"}",
           dcopy);
  cJSON *j = post_json("/api/open", body, 200);
  CHECK(j && cJSON_GetObjectItem(j, "access_level")->valueint == 1);
  cJSON_Delete(j);
  mef3_http_free(h);
  mef3_files_free(fm);
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (!tu_have_golden()) {
    fprintf(stderr, "no golden sessions: skipped\n");
    return 77;
  }
  static const check_case cases[] = {
      CASE(with_root),
      CASE(without_root),
  };
  check_run(argc, argv, cases, sizeof cases / sizeof *cases);
  return check_finish();
}
