/*
 * test_reader_mef3io - every case of golden/mef3io_golden (sessions
 * written by mef_tools): the whole-channel time read equals __raw.f64 (raw
 * counts, NaN in gaps) and __raw.i32 (MEF3_RED_NAN in gaps), the float64
 * physical read equals __scaled.f64 bit for bit, the sample read of all
 * stored samples equals __pymef_sample.f64; channel metadata and blocks
 * against golden_manifest.json; the annotations of with_annotations; the
 * passwords of enc_both (pass2 everything, pass1 signal with relative
 * times, wrong or none refused).
 */
#include <math.h>

#include "golden_check.h"

static void check_blocks(mef3_reader *r, size_t ch, const char *label,
                         const cJSON *on_disk) {
  const mef3_block_info *b = NULL;
  size_t nb = 0, k = 0;
  CHECK_RC(mef3_reader_blocks(&b, &nb, r, ch), 0);
  int seg = 0;
  const cJSON *sg;
  cJSON_ArrayForEach(sg, on_disk) {
    const mef3_segment_info *si = mef3_reader_segment(r, ch, (size_t)seg);
    CHECK_MSG(si != NULL, "%s: segment %d missing", label, seg);
    const cJSON *bj;
    cJSON_ArrayForEach(bj, gc_obj(sg, "blocks")) {
      if (k < nb && si) {
        const mef3_block_info *x = &b[k];
        CHECK_MSG(
            x->start_uutc == gc_i64(bj, "start_uutc") &&
                x->start_sample ==
                    si->start_sample + gc_i64(bj, "start_sample") &&
                x->n_samples == (uint32_t)gc_i64(bj, "number_of_samples") &&
                x->bytes == (uint32_t)gc_i64(bj, "block_bytes") &&
                x->flags == (uint8_t)gc_i64(bj, "flags") &&
                x->min == (int32_t)gc_i64(bj, "index_min") &&
                x->max == (int32_t)gc_i64(bj, "index_max") && x->segment == seg,
            "%s: block %zu differs (start %lld, n %u, bytes %u)", label, k,
            (long long)x->start_uutc, x->n_samples, x->bytes);
      }
      k++;
    }
    seg++;
  }
  CHECK_MSG(k == nb, "%s: %zu blocks, golden %zu", label, nb, k);
  CHECK_MSG(mef3_reader_channel(r, ch)->n_segments == (size_t)seg,
            "%s: %zu segments, golden %d", label,
            mef3_reader_channel(r, ch)->n_segments, seg);
}

static void check_channel(mef3_reader *r, const char *cname, const char *chname,
                          const cJSON *c, int expect_relative) {
  char label[256];
  snprintf(label, sizeof label, "%s/%s", cname, chname);
  int ch = mef3_reader_find_channel(r, chname);
  CHECK_MSG(ch >= 0, "%s: no such channel", label);
  if (ch < 0)
    return;
  const mef3_channel_info *ci = mef3_reader_channel(r, (size_t)ch);
  const cJSON *pm = gc_obj(c, "pymef");
  int64_t t0 = gc_i64(c, "start_time"), t1 = gc_i64(c, "end_time");
  CHECK_MSG(ci->fs == gc_num(c, "fs"), "%s: fs %.17g", label, ci->fs);
  CHECK_MSG(ci->units_conversion_factor == gc_num(c, "ufact"),
            "%s: ufact %.17g", label, ci->units_conversion_factor);
  CHECK_MSG(ci->n_samples == gc_i64(pm, "nsamp_stored"),
            "%s: %lld stored samples, want %lld", label,
            (long long)ci->n_samples, (long long)gc_i64(pm, "nsamp_stored"));
  CHECK_MSG(ci->start_uutc == t0, "%s: start %lld, want %lld", label,
            (long long)ci->start_uutc, (long long)t0);
  CHECK_MSG(ci->end_uutc == t1, "%s: end %lld, want %lld", label,
            (long long)ci->end_uutc, (long long)t1);
  CHECK_MSG(ci->times_relative == expect_relative, "%s: times_relative %d",
            label, ci->times_relative);
  check_blocks(r, (size_t)ch, label, gc_obj(c, "on_disk"));

  const cJSON *files = gc_obj(c, "files");
  size_t length = (size_t)gc_i64(c, "length");
  CHECK_MSG(mef3_window_samples(t0, t1, ci->fs) == (int64_t)length,
            "%s: window of %lld samples, golden %zu", label,
            (long long)mef3_window_samples(t0, t1, ci->fs), length);
  size_t n_raw = 0, n_i32 = 0, n_scaled = 0, n_ps = 0, n_pu = 0;
  double *raw = gc_load_f64(tu_golden(gc_str(files, "raw_f64")), &n_raw);
  int32_t *raw_i32 = gc_load_i32(tu_golden(gc_str(files, "raw_i32")), &n_i32);
  double *scaled =
      gc_load_f64(tu_golden(gc_str(files, "scaled_f64")), &n_scaled);
  double *ps = gc_load_f64(tu_golden(gc_str(files, "pymef_sample_f64")), &n_ps);
  double *pu = gc_load_f64(tu_golden(gc_str(files, "pymef_uutc_f64")), &n_pu);
  REQUIRE(raw && raw_i32 && scaled && ps && pu);
  CHECK_MSG(n_raw == length && n_i32 == length && n_scaled == length &&
                n_pu == length,
            "%s: golden files of %zu/%zu/%zu/%zu values, length %zu", label,
            n_raw, n_i32, n_scaled, n_pu, length);

  size_t cap = length + 8, got = 0;
  int32_t *v = malloc(cap * sizeof *v);
  double *f = malloc(cap * sizeof *f);
  uint8_t *valid = malloc(cap);
  mef3_read_report rep;
  CHECK_RC(mef3_reader_read_time(&got, &rep, r, (size_t)ch, t0, t1, MEF3_I32, v,
                                 cap, valid),
           0);
  CHECK_MSG(got == length, "%s: time read of %zu samples, want %zu", label, got,
            length);
  size_t n = got < length ? got : length;
  CHECK_MSG(gc_diff_i32(v, raw_i32, n, label) == 0,
            "%s: time read differs from __raw.i32", label);
  CHECK_MSG(gc_diff_raw(v, raw, n, label) == 0,
            "%s: time read differs from __raw.f64", label);
  CHECK_MSG(gc_diff_raw(v, pu, n, label) == 0,
            "%s: time read differs from pymef's uutc read", label);
  CHECK_MSG(rep.n_bad_blocks == 0, "%s: %zu bad blocks: %s", label,
            rep.n_bad_blocks, rep.first_message);
  CHECK_MSG(rep.n_valid == (int64_t)(length - (size_t)gc_i64(c, "n_nan")),
            "%s: n_valid %lld, %lld NaN in golden", label,
            (long long)rep.n_valid, (long long)gc_i64(c, "n_nan"));
  size_t bad_valid = 0;
  for (size_t i = 0; i < n; i++)
    bad_valid += valid[i] != !isnan(raw[i]);
  CHECK_MSG(bad_valid == 0, "%s: valid[] wrong in %zu slots", label, bad_valid);

  CHECK_RC(mef3_reader_read_time(&got, NULL, r, (size_t)ch, t0, t1, MEF3_F64, f,
                                 cap, NULL),
           0);
  CHECK_MSG(gc_diff_f64(f, scaled, n, label) == 0,
            "%s: float64 read differs from __scaled.f64", label);

  /* All stored samples by number: pymef's sample read. */
  size_t ns = (size_t)ci->n_samples;
  int32_t *s = malloc((ns + 1) * sizeof *s);
  CHECK_RC(mef3_reader_read_samples(&got, NULL, r, (size_t)ch, 0, (int64_t)ns,
                                    MEF3_I32, s, ns),
           0);
  CHECK_MSG(n_ps == ns && gc_diff_raw(s, ps, ns, label) == 0,
            "%s: sample read differs from pymef's (%zu values)", label, n_ps);
  free(s);
  free(v);
  free(f);
  free(valid);
  free(raw);
  free(raw_i32);
  free(scaled);
  free(ps);
  free(pu);
}

static void check_annotations(mef3_reader *r, const cJSON *want) {
  mef3_record *recs = NULL;
  size_t n = 0;
  CHECK_RC(mef3_reader_records(&recs, &n, r, 1), 0);
  CHECK_MSG(n == (size_t)cJSON_GetArraySize(want), "%zu records, want %d", n,
            cJSON_GetArraySize(want));
  size_t i = 0;
  const cJSON *w;
  cJSON_ArrayForEach(w, want) {
    if (i >= n)
      break;
    int64_t t = strtoll(gc_str(w, "time"), NULL, 10);
    CHECK_MSG(strcmp(recs[i].type, gc_str(w, "type")) == 0,
              "record %zu: type %s", i, recs[i].type);
    CHECK_MSG(recs[i].time == t, "record %zu: time %lld, want %lld", i,
              (long long)recs[i].time, (long long)t);
    CHECK_MSG(recs[i].available && recs[i].text &&
                  strcmp(recs[i].text, gc_str(w, "text")) == 0,
              "record %zu: text \"%s\", want \"%s\"", i,
              recs[i].text ? recs[i].text : "(null)", gc_str(w, "text"));
    CHECK_MSG(recs[i].level == MEF3_LEVEL_CHANNEL &&
                  strcmp(recs[i].channel, "ch1") == 0 && recs[i].segment == -1,
              "record %zu: level %d channel \"%s\" segment %d", i,
              (int)recs[i].level, recs[i].channel, recs[i].segment);
    i++;
  }
  mef3_records_free(recs, n);
}

int main(void) {
  REQUIRE(tu_have_golden());
  cJSON *m = tu_read_json(tu_golden("mef3io_golden/golden_manifest.json"));
  REQUIRE(m != NULL);
  int cases = 0;
  const cJSON *c;
  cJSON_ArrayForEach(c, gc_obj(m, "cases")) {
    const char *name = gc_str(c, "name");
    const char *pw = gc_str(c, "password_for_full_access");
    char path[4096]; /* tu_golden's buffers are reused */
    snprintf(path, sizeof path, "%s", tu_golden(gc_str(c, "session_path")));
    mef3_reader *r = gc_must_open(path, pw);
    const cJSON *chans = gc_obj(c, "channels");
    CHECK_MSG(mef3_reader_channel_count(r) == (size_t)cJSON_GetArraySize(chans),
              "%s: %zu channels", name, mef3_reader_channel_count(r));
    const cJSON *ch;
    cJSON_ArrayForEach(ch, chans) check_channel(r, name, ch->string, ch, 0);
    const cJSON *recs = gc_obj(c, "records_via_pymef");
    if (cJSON_IsArray(recs))
      check_annotations(r, recs);
    else {
      mef3_record *none = NULL;
      size_t nn = 0;
      CHECK_RC(mef3_reader_records(&none, &nn, r, 1), 0);
      CHECK_MSG(nn == 0, "%s: %zu records, expected none", name, nn);
      mef3_records_free(none, nn);
    }
    mef3_reader_close(r);

    const char *pw1 = gc_str(c, "password1");
    if (pw1) {
      /* Level 1: the signal and section 2, times relative (the offset of
       * section 3 is unknown; here it is 0 so the values agree). */
      r = gc_must_open(path, pw1);
      CHECK_MSG(mef3_reader_access_level(r) == 1,
                "%s: access level %d with "
                "the level-1 password",
                name, mef3_reader_access_level(r));
      cJSON_ArrayForEach(ch, chans) check_channel(r, name, ch->string, ch, 1);
      mef3_reader_close(r);
      mef3_reader *bad = NULL;
      CHECK_RC(gc_open(&bad, path, "wrong"), MEF3_EPASSWORD);
      CHECK(bad == NULL);
      CHECK_RC(gc_open(&bad, path, NULL), MEF3_EPASSWORD);
      CHECK_MSG(strstr(mef3_error_last()->message, ".tmet") != NULL,
                "%s: error does not name the metadata file: %s", name,
                mef3_error_last()->message);
    }
    cases++;
  }
  CHECK_MSG(cases == 8, "%d cases", cases);
  cJSON_Delete(m);
  return check_finish();
}
