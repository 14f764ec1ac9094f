/*
 * test_reader_readback - replays every read listed in
 * golden/readback/<session>/manifest.json (what pymef returned) and
 * compares bit for bit: raw counts read as MEF3_I32 against the .f64 file
 * (NaN <-> MEF3_RED_NAN), the window length, the NaN count and runs, the
 * valid[] flags and the report.  Sample reads use the manifest's
 * effective_sample_range (pymef clamps; we reject a range outside the
 * channel with MEF3_EINVAL, which is checked too).  Time reads entirely
 * outside the recording come back all NaN with the window's length.
 * The per-channel metadata of each manifest is checked as well.
 */
#include <dirent.h>
#include <math.h>

#include "golden_check.h"

static void check_channel_meta(mef3_reader *r, const char *session,
                               const cJSON *channels) {
  const cJSON *c;
  cJSON_ArrayForEach(c, channels) {
    int ch = mef3_reader_find_channel(r, c->string);
    CHECK_MSG(ch >= 0, "%s/%s: no such channel", session, c->string);
    if (ch < 0)
      continue;
    const mef3_channel_info *ci = mef3_reader_channel(r, (size_t)ch);
    CHECK_MSG(ci->fs == gc_num(c, "fs"), "%s/%s: fs %.17g", session, c->string,
              ci->fs);
    CHECK_MSG(ci->units_conversion_factor == gc_num(c, "ufact"),
              "%s/%s: ufact %.17g", session, c->string,
              ci->units_conversion_factor);
    CHECK_MSG(ci->n_samples == gc_i64(c, "nsamp"), "%s/%s: nsamp %lld", session,
              c->string, (long long)ci->n_samples);
    CHECK_MSG(ci->start_uutc == gc_i64(c, "start_time"),
              "%s/%s: start %lld, want %lld", session, c->string,
              (long long)ci->start_uutc, (long long)gc_i64(c, "start_time"));
    /* The header's end time, not the last block's (b_multi_8ch/ch07,
     * see test_reader_sessions). */
    CHECK_MSG(ci->end_uutc == gc_i64(c, "end_time"),
              "%s/%s: end %lld, want %lld (golden: the header's end time)",
              session, c->string, (long long)ci->end_uutc,
              (long long)gc_i64(c, "end_time"));
    int64_t rto = gc_i64(c, "section_3_recording_time_offset_seen_by_pymef");
    CHECK_MSG(ci->metadata->recording_time_offset == rto,
              "%s/%s: recording time offset %lld, want %lld", session,
              c->string, (long long)ci->metadata->recording_time_offset,
              (long long)rto);
  }
}

/* NaN runs of `v` as [start, end) pairs against the manifest's. */
static int runs_match(const int32_t *v, size_t n, const cJSON *runs) {
  size_t k = 0;
  int ok = 1;
  for (size_t i = 0; i < n;) {
    if (v[i] != MEF3_RED_NAN) {
      i++;
      continue;
    }
    size_t j = i;
    while (j < n && v[j] == MEF3_RED_NAN)
      j++;
    const cJSON *run = cJSON_GetArrayItem(runs, (int)k++);
    if (!run || cJSON_GetArrayItem(run, 0)->valuedouble != (double)i ||
        cJSON_GetArrayItem(run, 1)->valuedouble != (double)j)
      ok = 0;
    i = j;
  }
  return ok && k == (size_t)cJSON_GetArraySize(runs);
}

static void replay(mef3_reader *r, const cJSON *rd) {
  const char *id = gc_str(rd, "id");
  const char *mode = gc_str(rd, "mode");
  int ch = mef3_reader_find_channel(r, gc_str(rd, "channel"));
  CHECK_MSG(ch >= 0, "%s: no channel", id);
  if (ch < 0)
    return;
  const mef3_channel_info *ci = mef3_reader_channel(r, (size_t)ch);
  size_t want_n = 0;
  double *want = gc_load_f64(tu_golden(gc_str(rd, "file")), &want_n);
  size_t length = (size_t)gc_i64(rd, "length");
  CHECK_MSG(want && want_n == length, "%s: file holds %zu values, length %zu",
            id, want_n, length);
  if (!want)
    return;
  const cJSON *req = gc_obj(rd, "request");
  size_t cap = length + 16, got = 0;
  int32_t *v = malloc(cap * sizeof *v);
  double *f = malloc(cap * sizeof *f);
  uint8_t *valid = malloc(cap);
  mef3_read_report rep;
  int rc;
  if (strcmp(mode, "sample") == 0) {
    const cJSON *eff = gc_obj(rd, "effective_sample_range");
    int64_t s0 = (int64_t)cJSON_GetArrayItem(eff, 0)->valuedouble;
    int64_t s1 = (int64_t)cJSON_GetArrayItem(eff, 1)->valuedouble;
    int64_t q0 = gc_i64(req, "start_sample"), q1 = gc_i64(req, "end_sample");
    if (q0 != s0 || q1 != s1) {
      /* pymef clamped the request; we reject it. */
      int rc2 = mef3_reader_read_samples(&got, NULL, r, (size_t)ch, q0, q1,
                                         MEF3_I32, v, cap);
      CHECK_MSG(rc2 == MEF3_EINVAL,
                "%s: out-of-range request [%lld, %lld) gave %s, want "
                "MEF3_EINVAL",
                id, (long long)q0, (long long)q1, mef3_errname(rc2));
    }
    rc = mef3_reader_read_samples(&got, &rep, r, (size_t)ch, s0, s1, MEF3_I32,
                                  v, cap);
    CHECK_MSG(rc == 0, "%s: %s (%s)", id, mef3_errname(rc),
              mef3_error_last()->message);
    memset(valid, 1, cap);
    for (size_t i = 0; i < got; i++)
      valid[i] = v[i] != MEF3_RED_NAN;
    if (!rc)
      CHECK_RC(mef3_reader_read_samples(&got, NULL, r, (size_t)ch, s0, s1,
                                        MEF3_F64, f, cap),
               0);
  } else {
    int64_t t0 = gc_i64(req, "start_uutc"), t1 = gc_i64(req, "end_uutc");
    CHECK_MSG(mef3_window_samples(t0, t1, ci->fs) == (int64_t)length,
              "%s: window of %lld samples, manifest %zu", id,
              (long long)mef3_window_samples(t0, t1, ci->fs), length);
    rc = mef3_reader_read_time(&got, &rep, r, (size_t)ch, t0, t1, MEF3_I32, v,
                               cap, valid);
    CHECK_MSG(rc == 0, "%s: %s (%s)", id, mef3_errname(rc),
              mef3_error_last()->message);
    if (!rc)
      CHECK_RC(mef3_reader_read_time(&got, NULL, r, (size_t)ch, t0, t1,
                                     MEF3_F64, f, cap, NULL),
               0);
  }
  if (rc == 0) {
    CHECK_MSG(got == length, "%s: %zu samples, manifest %zu", id, got, length);
    size_t n = got < want_n ? got : want_n;
    CHECK_MSG(gc_diff_raw(v, want, n, id) == 0, "%s: values differ", id);
    size_t n_nan = 0, bad_valid = 0, bad_f = 0;
    for (size_t i = 0; i < n; i++) {
      n_nan += v[i] == MEF3_RED_NAN;
      bad_valid += valid[i] != (v[i] != MEF3_RED_NAN);
      /* Physical values: the ±inf sentinels (raw ±2147483647, which pymef
       * returns as finite counts) become ±inf. */
      double w = isnan(want[i])                        ? NAN
                 : want[i] == (double)MEF3_RED_POS_INF ? INFINITY
                 : want[i] == (double)MEF3_RED_NEG_INF
                     ? -INFINITY
                     : want[i] * ci->units_conversion_factor;
      if (isnan(w) ? !isnan(f[i]) : f[i] != w)
        bad_f++;
    }
    CHECK_MSG(n_nan == (size_t)gc_i64(rd, "n_nan"), "%s: %zu NaN, want %lld",
              id, n_nan, (long long)gc_i64(rd, "n_nan"));
    CHECK_MSG(runs_match(v, n, gc_obj(rd, "nan_runs")),
              "%s: NaN runs differ from the manifest", id);
    CHECK_MSG(bad_valid == 0, "%s: valid[] wrong in %zu slots", id, bad_valid);
    CHECK_MSG(
        bad_f == 0,
        "%s: %zu float64 values are not raw x %g (±inf for the sentinels)", id,
        bad_f, ci->units_conversion_factor);
    CHECK_MSG(rep.n_bad_blocks == 0 && rep.first_error == 0,
              "%s: %zu bad blocks: %s", id, rep.n_bad_blocks,
              rep.first_message);
    CHECK_MSG(rep.n_valid == (int64_t)(got - n_nan),
              "%s: report n_valid %lld, want %zu", id, (long long)rep.n_valid,
              got - n_nan);
  }
  free(v);
  free(f);
  free(valid);
  free(want);
}

static int replay_session(const char *dir) {
  char rel[512];
  snprintf(rel, sizeof rel, "readback/%s/manifest.json", dir);
  cJSON *m = tu_read_json(tu_golden(rel));
  if (!m)
    return 0; /* the meflib dumps have no manifest */
  const char *session = gc_str(m, "session");
  snprintf(rel, sizeof rel, "sessions/%s.mefd", session);
  mef3_reader *r = gc_must_open(tu_golden(rel), gc_str(m, "password_used"));
  check_channel_meta(r, session, gc_obj(m, "channels"));
  int n = 0;
  const cJSON *rd;
  cJSON_ArrayForEach(rd, gc_obj(m, "reads")) {
    replay(r, rd);
    n++;
  }
  mef3_reader_close(r);
  cJSON_Delete(m);
  return n;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void) {
  REQUIRE(tu_have_golden());
  DIR *d = opendir(tu_golden("readback"));
  REQUIRE(d != NULL);
  char *names[64];
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 64)
    if (e->d_name[0] != '.' && !strchr(e->d_name, '.'))
      names[n++] = strdup(e->d_name);
  closedir(d);
  qsort(names, n, sizeof *names, cmp_str);
  int reads = 0, sessions = 0;
  for (size_t i = 0; i < n; i++) {
    int k = replay_session(names[i]);
    sessions += k > 0;
    reads += k;
    free(names[i]);
  }
  printf("replayed %d reads of %d sessions\n", reads, sessions);
  CHECK_MSG(sessions >= 5 && reads >= 300, "only %d reads of %d sessions",
            reads, sessions);
  return check_finish();
}
