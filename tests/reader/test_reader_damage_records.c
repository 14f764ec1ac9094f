/*
 * tests/reader/test_reader_damage_records.c - one bad record must not hide the
 * others (issue 12, point 8).
 *
 * A session written by our writer (a session-level Note, a Note on
 * channel a, a Seiz on b, a Note on c) has records appended by hand to
 * its session .rdat, as writers in the wild leave them: a Seiz with an
 * empty body (valid: no channels), a good Note, an EDFA of duration 0, a
 * record whose CRC fails, a good Note after it, a Seiz body too short for
 * its type, and a last record cut off by the end of the file.  Channel
 * c's .rdat header is damaged as a whole.  The reader must return every
 * good record, each bad one flagged undecodable with its raw body and a
 * problem naming the file, index and offset, and c's file as one flagged
 * entry; strict fails on the first.  `mef3pool records` (text and --json)
 * lists them all, warns on stderr and exits 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "mef3pool.h"
#include "testutil.h"

#define T0 1600000000000000LL
#define SEC 1000000LL

static char session[4096], rdat[4200], c_rdat[4200];
/* Offsets, in the session .rdat, of the appended records. */
static long off_garbage, off_short_seiz, off_cut;
static int64_t first_appended; /* index of the first appended record */

static void put_u32(uint8_t *p, uint32_t v) {
  memcpy(p, &v, 4);
}
static void put_i64(uint8_t *p, int64_t v) {
  memcpy(p, &v, 8);
}

/* Append one record (header and `len` body bytes, padded to 16 with 0x7e
 * unless `raw`) to buf at *pos; `crc_xor` spoils its CRC.  Returns its
 * offset. */
static long append(uint8_t *buf, size_t *pos, const char *type, int64_t t,
                   const void *body, size_t len, uint32_t crc_xor) {
  long at = (long)*pos;
  size_t padded = (len + 15) / 16 * 16;
  uint8_t *h = buf + *pos;
  memset(h, 0, 24);
  memcpy(h + 4, type, 4);
  h[9] = 1;
  put_u32(h + 12, (uint32_t)padded);
  put_i64(h + 16, -t); /* no recording time offset: stored as -t */
  memset(h + 24, 0x7e, padded);
  if (len)
    memcpy(h + 24, body, len);
  put_u32(h, mef3_crc32(h + 4, 20 + padded) ^ crc_xor);
  *pos += 24 + padded;
  return at;
}

static void make_session(void) {
  const char *dir = tu_scratch("s p a c e");
  snprintf(session, sizeof session, "%s/rec.mefd", dir);
  mef3_writer_options o = MEF3_WRITER_OPTIONS_INIT;
  o.uuid_seed = 12;
  mef3_writer *w;
  REQUIRE(mef3_writer_open(&w, session, &o) == 0);
  const char *names[3] = {"a", "b", "c"};
  int32_t v[256];
  for (int i = 0; i < 256; i++)
    v[i] = i;
  for (int c = 0; c < 3; c++) {
    mef3_channel_options co = MEF3_CHANNEL_OPTIONS_INIT;
    co.name = names[c];
    co.fs = 256;
    co.start_uutc = T0;
    size_t ch;
    REQUIRE(mef3_writer_add_channel(&ch, w, &co) == 0);
    for (int k = 0; k < 20; k++)
      REQUIRE(mef3_writer_write_i32(w, ch, MEF3_UUTC_NO_ENTRY, v, 256) == 0);
  }
  REQUIRE(mef3_writer_add_note(w, MEF3_WRITER_SESSION, T0 + 1 * SEC,
                               "session note") == 0);
  REQUIRE(mef3_writer_add_note(w, 0, T0 + 2 * SEC, "a note") == 0);
  const char *inv[1] = {"b"};
  mef3_seizure sz = {MEF3_SEIZURE_VERSION,
                     T0 + 3 * SEC,
                     T0 + 4 * SEC,
                     1,
                     NULL,
                     NULL,
                     "b seizure",
                     inv,
                     1};
  REQUIRE(mef3_writer_add_seizure(w, 1, &sz) == 0);
  REQUIRE(mef3_writer_add_note(w, 2, T0 + 4 * SEC, "c note") == 0);
  REQUIRE(mef3_writer_close(w) == 0);

  snprintf(rdat, sizeof rdat, "%s/rec.rdat", session);
  snprintf(c_rdat, sizeof c_rdat, "%s/c.timd/c.rdat", session);
  size_t len = 0;
  uint8_t *old = tu_read_file(rdat, &len);
  REQUIRE(old);
  uint8_t *b = calloc(1, len + 4096);
  REQUIRE(b);
  memcpy(b, old, len);
  free(old);
  mef3_universal_header uh;
  REQUIRE(mef3_uh_parse(&uh, b, len, "rdat", rdat) == 0);
  first_appended = uh.number_of_entries;
  size_t pos = len;
  append(b, &pos, "Seiz", T0 + 5 * SEC, NULL, 0, 0);
  append(b, &pos, "Note", T0 + 6 * SEC, "good note", 10, 0);
  uint8_t edfa[24] = {0}; /* duration 0, then the text */
  memcpy(edfa + 8, "edfa zero", 10);
  append(b, &pos, "EDFA", T0 + 7 * SEC, edfa, sizeof edfa, 0);
  off_garbage =
      append(b, &pos, "Note", T0 + 8 * SEC, "spoilt spoilt spoilt", 21, 1);
  append(b, &pos, "Note", T0 + 9 * SEC, "after garbage", 14, 0);
  uint8_t short_seiz[100];
  memset(short_seiz, 0x11, sizeof short_seiz);
  off_short_seiz =
      append(b, &pos, "Seiz", T0 + 10 * SEC, short_seiz, sizeof short_seiz, 0);
  /* A record whose 64-byte body the file ends inside, 20 bytes in. */
  off_cut = append(b, &pos, "Note", T0 + 11 * SEC, "cut", 4, 0);
  put_u32(b + off_cut + 12, 64);
  pos = (size_t)off_cut + 24 + 20;
  uh.number_of_entries += 7;
  uh.body_crc = mef3_crc32(b + 1024, pos - 1024);
  mef3_uh_write(b, &uh);
  FILE *f = fopen(rdat, "wb");
  REQUIRE(f && fwrite(b, 1, pos, f) == pos);
  REQUIRE(fclose(f) == 0);
  free(b);

  /* c's records file: a byte of its universal header flipped. */
  b = tu_read_file(c_rdat, &len);
  REQUIRE(b && len > 1024);
  b[100] ^= 0x40;
  f = fopen(c_rdat, "wb");
  REQUIRE(f && fwrite(b, 1, len, f) == len);
  REQUIRE(fclose(f) == 0);
  free(b);
}

static const mef3_record *at_time(const mef3_record *r, size_t n, int64_t t) {
  for (size_t i = 0; i < n; i++)
    if (r[i].time == t)
      return &r[i];
  return NULL;
}

static int problem_names(const mef3_record *x, const char *file, int64_t index,
                         long offset, const char *what) {
  char want[64];
  snprintf(want, sizeof want, "record %lld at offset %ld: ", (long long)index,
           offset);
  return x && x->problem && strstr(x->problem, file) &&
         strstr(x->problem, want) && strstr(x->problem, what);
}

static void test_library(void) {
  mef3_reader *r;
  REQUIRE(mef3_reader_open(&r, session, NULL) == 0);
  mef3_record *rec = NULL;
  size_t n = 0;
  CHECK_RC(mef3_reader_records(&rec, &n, r, 0), 0);
  /* 4 written, c's lost with its file (one entry instead), 7 appended */
  CHECK_MSG(n == 11, "%zu records", n);
  const mef3_record *x;

  x = at_time(rec, n, T0 + 1 * SEC);
  CHECK(x && !x->undecodable && !strcmp(x->text, "session note"));
  x = at_time(rec, n, T0 + 2 * SEC);
  CHECK(x && !x->undecodable && !strcmp(x->channel, "a") &&
        !strcmp(x->text, "a note"));
  x = at_time(rec, n, T0 + 3 * SEC);
  CHECK(x && !x->undecodable && !strcmp(x->type, "Seiz") && x->has_duration &&
        x->duration == SEC && x->number_of_channels == 1 &&
        !strcmp(x->text, "b seizure"));
  CHECK(!at_time(rec, n, T0 + 4 * SEC)); /* c's Note, in the damaged file */

  x = at_time(rec, n, T0 + 5 * SEC);
  CHECK_MSG(x && !x->undecodable && !strcmp(x->type, "Seiz") &&
                x->body_bytes == 0 && x->number_of_channels == 0 &&
                !x->has_duration && x->level == MEF3_LEVEL_SESSION,
            "empty Seiz: %s", x && x->problem ? x->problem : "");
  x = at_time(rec, n, T0 + 6 * SEC);
  CHECK(x && !x->undecodable && !strcmp(x->text, "good note"));
  x = at_time(rec, n, T0 + 7 * SEC);
  CHECK(x && !x->undecodable && !strcmp(x->type, "EDFA") && x->has_duration &&
        x->duration == 0 && !strcmp(x->text, "edfa zero"));
  x = at_time(rec, n, T0 + 8 * SEC);
  CHECK(x && x->undecodable == MEF3_ECRC && !x->text && x->body_bytes == 32 &&
        !memcmp(x->body, "spoilt spoilt spoilt", 21) &&
        x->index == first_appended + 3 && x->offset == off_garbage);
  CHECK_MSG(
      problem_names(x, rdat, first_appended + 3, off_garbage, "CRC mismatch"),
      "%s", x && x->problem ? x->problem : "(none)");
  x = at_time(rec, n, T0 + 9 * SEC);
  CHECK(x && !x->undecodable && !strcmp(x->text, "after garbage"));
  x = at_time(rec, n, T0 + 10 * SEC);
  CHECK(x && x->undecodable == MEF3_ECORRUPT && x->body_bytes == 112 &&
        !x->has_duration);
  CHECK_MSG(
      problem_names(x, rdat, first_appended + 5, off_short_seiz, "too short"),
      "%s", x && x->problem ? x->problem : "(none)");
  x = at_time(rec, n, T0 + 11 * SEC);
  CHECK(x && x->undecodable == MEF3_ECORRUPT && x->body_bytes == 20 &&
        !memcmp(x->body, "cut", 4));
  CHECK_MSG(
      problem_names(x, rdat, first_appended + 6, off_cut, "runs past the end"),
      "%s", x && x->problem ? x->problem : "(none)");

  /* c's file as one entry naming it. */
  x = at_time(rec, n, MEF3_UUTC_NO_ENTRY);
  CHECK(x && x->undecodable == MEF3_ECRC && x->index == -1 &&
        x->level == MEF3_LEVEL_CHANNEL && !strcmp(x->channel, "c") &&
        x->body_bytes == 0 && x->problem && strstr(x->problem, c_rdat));
  /* Good records have no problem; the list is in time order. */
  for (size_t i = 0; i < n; i++) {
    CHECK(!rec[i].undecodable == !rec[i].problem);
    CHECK(i == 0 || rec[i - 1].time <= rec[i].time);
  }
  mef3_records_free(rec, n);

  /* Strict: the first problem (the session file's CRC) fails the call. */
  rec = NULL;
  n = 7;
  CHECK_RC(mef3_reader_records(&rec, &n, r, 1), MEF3_ECRC);
  CHECK(rec == NULL && n == 0);
  char want[64];
  snprintf(want, sizeof want, "record %lld at offset %ld",
           (long long)first_appended + 3, off_garbage);
  CHECK_MSG(strstr(mef3_error_last()->message, want) &&
                strstr(mef3_error_last()->message, "rec.rdat"),
            "strict: %s", mef3_error_last()->message);
  mef3_reader_close(r);
}

static void test_cli(void) {
  const char *dir = tu_scratch("cli");
  char out[4200], err[4200];
  snprintf(out, sizeof out, "%s/out.json", dir);
  snprintf(err, sizeof err, "%s/err.txt", dir);
  CHECK(tu_system("'%s' records '%s' --json >'%s' 2>'%s'", MEF3_CLI, session,
                  out, err) == 0);
  cJSON *j = tu_read_json(out);
  CHECK_MSG(cJSON_IsArray(j) && cJSON_GetArraySize(j) == 11,
            "records --json: %d entries", j ? cJSON_GetArraySize(j) : -1);
  int undecodable = 0, good = 0, edfa_zero = 0, empty_seiz = 0, hex = 0;
  cJSON *e;
  cJSON_ArrayForEach(e, j) {
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(e, "type"));
    if (cJSON_IsTrue(cJSON_GetObjectItem(e, "undecodable"))) {
      undecodable++;
      const char *h = cJSON_GetStringValue(cJSON_GetObjectItem(e, "body_hex"));
      /* "spoilt" in hex */
      if (h && !strncmp(h, "73706f696c74", 12))
        hex++;
      continue;
    }
    good++;
    cJSON *d = cJSON_GetObjectItem(e, "duration");
    if (type && !strcmp(type, "EDFA") && cJSON_IsNumber(d) &&
        d->valuedouble == 0)
      edfa_zero++;
    if (type && !strcmp(type, "Seiz") &&
        cJSON_GetObjectItem(e, "body_bytes")->valueint == 0 &&
        cJSON_GetObjectItem(e, "number_of_channels")->valueint == 0)
      empty_seiz++;
  }
  CHECK_MSG(undecodable == 4 && good == 7 && edfa_zero == 1 &&
                empty_seiz == 1 && hex == 1,
            "--json: %d undecodable, %d good, %d EDFA of duration 0, %d empty "
            "Seiz, %d raw bodies",
            undecodable, good, edfa_zero, empty_seiz, hex);
  cJSON_Delete(j);

  /* One warning per undecodable record, naming file, index and offset. */
  size_t len = 0;
  char *w = tu_read_file(err, &len);
  REQUIRE(w);
  int lines = 0;
  for (char *p = w; *p; p++)
    lines += *p == '\n';
  char want[4400];
  snprintf(want, sizeof want,
           "mef3pool: warning: %s: record %lld at offset %ld: record CRC "
           "mismatch\n",
           rdat, (long long)first_appended + 3, off_garbage);
  CHECK_MSG(lines == 4 && strstr(w, want) && strstr(w, c_rdat), "warnings:\n%s",
            w);
  free(w);

  /* Text: every record listed; the EDFA's duration shows. */
  CHECK(tu_system("'%s' records '%s' >'%s' 2>'%s'", MEF3_CLI, session, out,
                  err) == 0);
  char *t = tu_read_file(out, &len);
  REQUIRE(t);
  lines = 0;
  for (char *p = t; *p; p++)
    lines += *p == '\n';
  CHECK_MSG(lines == 11 && strstr(t, "(duration 0 µs) edfa zero") &&
                strstr(t, "after garbage") && strstr(t, "a note") &&
                strstr(t, "(undecodable, 32 bytes) 73706f696c74"),
            "records text:\n%s", t);
  free(t);
}

int main(int argc, char **argv) {
  make_session();
  static const check_case cases[] = {
      CASE(test_library),
      CASE(test_cli),
  };
  check_run(argc, argv, cases, sizeof cases / sizeof *cases);
  return check_finish();
}
