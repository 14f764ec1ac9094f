/*
 * test_reader_sessions - every session under golden/sessions, read in
 * place: channel, segment and block tables against NAME.json, every stored
 * sample against NAME.truth/<ch>.i32 (raw, float64 and float32 reads), and
 * the whole channel read by time (gaps NaN, every stored sample once, in
 * order).  Encrypted sessions are opened with their level-2 password.
 */
#include <dirent.h>
#include <math.h>

#include "golden_check.h"

static void check_blocks(mef3_reader *r, size_t ch, const char *label,
                         const cJSON *segments, double fs) {
  const mef3_block_info *b = NULL;
  size_t nb = 0;
  CHECK_RC(mef3_reader_blocks(&b, &nb, r, ch), 0);
  size_t k = 0, bad = 0;
  int32_t seg = 0;
  const cJSON *sg;
  cJSON_ArrayForEach(sg, segments) {
    int64_t seg_start = gc_i64(sg, "start_sample");
    const cJSON *bj;
    cJSON_ArrayForEach(bj, gc_obj(sg, "blocks")) {
      if (k >= nb) {
        k++;
        continue;
      }
      const mef3_block_info *x = &b[k];
      int ok = x->start_uutc == gc_i64(bj, "start_uutc") &&
               x->start_sample ==
                   seg_start + gc_i64(bj, "start_sample_in_segment") &&
               x->n_samples == (uint32_t)gc_i64(bj, "number_of_samples") &&
               x->file_offset == gc_i64(bj, "file_offset") &&
               x->bytes == (uint32_t)gc_i64(bj, "block_bytes") &&
               x->flags == (uint8_t)gc_i64(bj, "index_flags") &&
               x->min == (int32_t)gc_i64(bj, "index_min") &&
               x->max == (int32_t)gc_i64(bj, "index_max") && x->segment == seg;
      if (!ok && bad++ < 3)
        fprintf(stderr,
                "  %s block %zu: got start %lld sample %lld n %u off %lld "
                "bytes %u flags %u min %d max %d seg %d\n",
                label, k, (long long)x->start_uutc, (long long)x->start_sample,
                x->n_samples, (long long)x->file_offset, x->bytes, x->flags,
                x->min, x->max, x->segment);
      k++;
    }
    seg++;
  }
  CHECK_MSG(k == nb, "%s: %zu blocks, json has %zu", label, nb, k);
  CHECK_MSG(bad == 0, "%s: %zu blocks differ from the json", label, bad);

  /* Contiguous runs by the documented rule: a break at a block flagged as
   * a discontinuity or starting at least one sample period away from
   * where the previous block ends. */
  const mef3_contiguon *cg = NULL;
  size_t ncg = 0;
  CHECK_RC(mef3_reader_contigua(&cg, &ncg, r, ch), 0);
  size_t want = 0;
  for (size_t i = 0; i < nb; i++) {
    int brk = i == 0 || (b[i].flags & MEF3_RED_DISCONTINUITY);
    if (!brk) {
      double expect =
          (double)b[i - 1].start_uutc + b[i - 1].n_samples * (1e6 / fs);
      brk = fabs((double)b[i].start_uutc - expect) >= 1e6 / fs;
    }
    if (brk) {
      int ok = want < ncg && cg[want].first_block == i &&
               cg[want].start_sample == b[i].start_sample &&
               cg[want].start_uutc == b[i].start_uutc;
      CHECK_MSG(ok, "%s: contiguon %zu should start at block %zu", label, want,
                i);
      if (want > 0 && want - 1 < ncg)
        CHECK_MSG(cg[want - 1].end_sample == b[i].start_sample &&
                      cg[want - 1].first_block + cg[want - 1].n_blocks == i,
                  "%s: contiguon %zu should end at block %zu", label, want - 1,
                  i);
      want++;
    }
  }
  CHECK_MSG(ncg == want, "%s: %zu contigua, expected %zu", label, ncg, want);
}

/* The gaps the json lists must each be a boundary between contigua. */
static void check_gaps(mef3_reader *r, size_t ch, const char *label,
                       const cJSON *gaps) {
  const mef3_contiguon *cg = NULL;
  size_t ncg = 0;
  mef3_reader_contigua(&cg, &ncg, r, ch);
  const cJSON *g;
  cJSON_ArrayForEach(g, gaps) {
    int64_t after = gc_i64(g, "after_channel_sample");
    int64_t next = gc_i64(g, "next_block_start_uutc");
    int found = 0;
    for (size_t i = 1; i < ncg; i++)
      if (cg[i].start_sample == after && cg[i].start_uutc == next)
        found = 1;
    CHECK_MSG(found, "%s: no contiguon starts at the gap after sample %lld",
              label, (long long)after);
  }
}

static void check_samples(mef3_reader *r, size_t ch, const char *label,
                          const int32_t *truth, size_t n, double ufact) {
  mef3_read_report rep;
  int32_t *raw = gc_read_all_i32(r, ch, &rep);
  CHECK_MSG(gc_diff_i32(raw, truth, n, label) == 0,
            "%s: raw sample read differs from the truth", label);
  CHECK_MSG(rep.n_bad_blocks == 0 && rep.first_error == 0,
            "%s: %zu bad blocks (%s)", label, rep.n_bad_blocks,
            rep.first_message);
  size_t nan_truth = 0;
  for (size_t i = 0; i < n; i++)
    nan_truth += truth[i] == MEF3_RED_NAN;
  CHECK_MSG(rep.n_valid == (int64_t)(n - nan_truth),
            "%s: report n_valid %lld, want %zu", label, (long long)rep.n_valid,
            n - nan_truth);

  /* Physical units: raw x factor, the sentinels as NaN / ±inf. */
  double *f64 = malloc(n * sizeof *f64);
  float *f32 = malloc(n * sizeof *f32);
  size_t got = 0;
  CHECK_RC(mef3_reader_read_samples(&got, NULL, r, ch, 0, (int64_t)n, MEF3_F64,
                                    f64, n),
           0);
  CHECK_RC(mef3_reader_read_samples(&got, NULL, r, ch, 0, (int64_t)n, MEF3_F32,
                                    f32, n),
           0);
  size_t bad64 = 0, bad32 = 0;
  for (size_t i = 0; i < n; i++) {
    int32_t v = truth[i];
    double w = v == MEF3_RED_NAN       ? NAN
               : v == MEF3_RED_POS_INF ? INFINITY
               : v == MEF3_RED_NEG_INF ? -INFINITY
                                       : (double)v * ufact;
    float w32 = (float)w;
    if (isnan(w) ? !isnan(f64[i]) : f64[i] != w) {
      if (bad64++ < 3)
        fprintf(stderr, "  %s f64 [%zu] got %.17g want %.17g\n", label, i,
                f64[i], w);
    }
    if (isnan(w32) ? !isnan(f32[i]) : f32[i] != w32) {
      if (bad32++ < 3)
        fprintf(stderr, "  %s f32 [%zu] got %.9g want %.9g\n", label, i,
                (double)f32[i], (double)w32);
    }
  }
  CHECK_MSG(bad64 == 0, "%s: %zu float64 samples differ", label, bad64);
  CHECK_MSG(bad32 == 0, "%s: %zu float32 samples differ", label, bad32);
  free(f64);
  free(f32);
  free(raw);
}

/* The whole channel by time: every stored sample once, in storage order,
 * NaN only in the gaps. */
static void check_time_all(mef3_reader *r, size_t ch, const char *label,
                           const int32_t *truth, size_t n) {
  const mef3_channel_info *ci = mef3_reader_channel(r, ch);
  int64_t w = mef3_window_samples(ci->start_uutc, ci->end_uutc, ci->fs);
  REQUIRE(w > 0);
  int32_t *v = malloc((size_t)w * sizeof *v);
  uint8_t *valid = malloc((size_t)w);
  size_t got = 0;
  mef3_read_report rep;
  CHECK_RC(mef3_reader_read_time(&got, &rep, r, ch, ci->start_uutc,
                                 ci->end_uutc, MEF3_I32, v, (size_t)w, valid),
           0);
  CHECK_MSG(got == (size_t)w, "%s: time read gave %zu of %lld", label, got,
            (long long)w);
  size_t j = 0, bad = 0, bad_valid = 0;
  for (size_t i = 0; i < got; i++) {
    if (valid[i] != (v[i] != MEF3_RED_NAN))
      bad_valid++;
    if (v[i] == MEF3_RED_NAN)
      continue;
    while (j < n && truth[j] == MEF3_RED_NAN)
      j++;
    if (j >= n || v[i] != truth[j]) {
      if (bad++ < 3)
        fprintf(stderr, "  %s time slot %zu: got %d, truth[%zu] %d\n", label, i,
                v[i], j, j < n ? truth[j] : 0);
    }
    j++;
  }
  while (j < n && truth[j] == MEF3_RED_NAN)
    j++;
  CHECK_MSG(bad == 0 && j == n,
            "%s: time read of the whole channel is not the stored samples in "
            "order (%zu differ, %zu of %zu seen)",
            label, bad, j, n);
  CHECK_MSG(bad_valid == 0, "%s: valid[] disagrees with NaN in %zu slots",
            label, bad_valid);
  CHECK_MSG(rep.n_bad_blocks == 0, "%s: %zu bad blocks in the time read", label,
            rep.n_bad_blocks);
  free(v);
  free(valid);
}

static void check_channel(mef3_reader *r, const char *session, const char *name,
                          const cJSON *cj, int64_t json_end) {
  char label[256];
  snprintf(label, sizeof label, "%s/%s", session, name);
  int ch = mef3_reader_find_channel(r, name);
  CHECK_MSG(ch >= 0, "%s: channel not found", label);
  if (ch < 0)
    return;
  const mef3_channel_info *ci = mef3_reader_channel(r, (size_t)ch);
  const cJSON *segs = gc_obj(cj, "segments");
  int nseg = cJSON_GetArraySize(segs);
  size_t nblocks = 0;
  int max_flags_enc = 0;
  const cJSON *sg;
  cJSON_ArrayForEach(sg, segs) {
    const cJSON *bj;
    cJSON_ArrayForEach(bj, gc_obj(sg, "blocks")) {
      nblocks++;
      int f = (int)gc_i64(bj, "index_flags");
      int e = (f & MEF3_RED_LEVEL_2) ? 2 : (f & MEF3_RED_LEVEL_1) ? 1 : 0;
      if (e > max_flags_enc)
        max_flags_enc = e;
    }
  }
  CHECK_MSG(strcmp(ci->name, name) == 0, "%s: name %s", label, ci->name);
  CHECK_MSG(ci->fs == gc_num(cj, "fs"), "%s: fs %.17g, want %.17g", label,
            ci->fs, gc_num(cj, "fs"));
  CHECK_MSG(ci->units_conversion_factor ==
                gc_num(cj, "units_conversion_factor"),
            "%s: units conversion factor %.17g, want %.17g", label,
            ci->units_conversion_factor, gc_num(cj, "units_conversion_factor"));
  CHECK_MSG(ci->n_samples == gc_i64(cj, "number_of_samples"),
            "%s: %lld samples, want %lld", label, (long long)ci->n_samples,
            (long long)gc_i64(cj, "number_of_samples"));
  CHECK_MSG(ci->n_segments == (size_t)nseg, "%s: %zu segments, want %d", label,
            ci->n_segments, nseg);
  CHECK_MSG(ci->n_blocks == nblocks, "%s: %zu blocks, want %zu", label,
            ci->n_blocks, nblocks);
  CHECK_MSG(ci->times_relative == 0, "%s: times relative with full access",
            label);
  CHECK_MSG(ci->data_encryption == max_flags_enc,
            "%s: data encryption %d, blocks say %d", label, ci->data_encryption,
            max_flags_enc);
  CHECK_MSG(ci->max_block_samples <= (uint32_t)gc_i64(cj, "samples_per_block"),
            "%s: max block samples %u > %lld", label, ci->max_block_samples,
            (long long)gc_i64(cj, "samples_per_block"));
  const cJSON *seg0 = cJSON_GetArrayItem(segs, 0);
  CHECK_MSG(ci->start_uutc == gc_i64(seg0, "segment_start_uutc"),
            "%s: start %lld, want %lld", label, (long long)ci->start_uutc,
            (long long)gc_i64(seg0, "segment_start_uutc"));
  /* The channel's end as meflib/pymef report it (readback manifest
   * end_time, the json's segment_end_uutc) is the end time of the
   * universal header, i.e. where the recording ends.  b_multi_8ch/ch07
   * (499.7 Hz) is where this differs from the last block's start + its
   * duration (1600000059999979): pymef's block start times drift by the
   * truncated block interval. */
  CHECK_MSG(ci->end_uutc == json_end,
            "%s: end %lld, want %lld (golden: the header's end time)", label,
            (long long)ci->end_uutc, (long long)json_end);
  CHECK_MSG(ci->section_2_encryption ==
                gc_i64(gc_obj(seg0, "tmet_on_disk"), "section_2_encryption"),
            "%s: section 2 encryption %d", label, ci->section_2_encryption);
  CHECK_MSG(ci->section_3_encryption ==
                gc_i64(gc_obj(seg0, "tmet_on_disk"), "section_3_encryption"),
            "%s: section 3 encryption %d", label, ci->section_3_encryption);
  CHECK_MSG(ci->metadata && ci->metadata->section_3_available,
            "%s: section 3 not available with full access", label);

  int s = 0;
  cJSON_ArrayForEach(sg, segs) {
    const mef3_segment_info *si = mef3_reader_segment(r, (size_t)ch, (size_t)s);
    CHECK_MSG(si != NULL, "%s: segment %d missing", label, s);
    if (si) {
      CHECK_MSG(si->number == (int32_t)gc_i64(sg, "segment_number") &&
                    si->start_sample == gc_i64(sg, "start_sample") &&
                    si->n_samples == gc_i64(sg, "number_of_samples") &&
                    si->n_blocks ==
                        (size_t)cJSON_GetArraySize(gc_obj(sg, "blocks")) &&
                    si->start_uutc == gc_i64(sg, "segment_start_uutc"),
                "%s: segment %d: number %d start sample %lld n %lld blocks "
                "%zu start %lld",
                label, s, si->number, (long long)si->start_sample,
                (long long)si->n_samples, si->n_blocks,
                (long long)si->start_uutc);
      /* As the channel end above (b_multi_8ch/ch07). */
      CHECK_MSG(si->end_uutc == gc_i64(sg, "segment_end_uutc"),
                "%s: segment %d end %lld, want %lld (golden: the header's "
                "end time)",
                label, s, (long long)si->end_uutc,
                (long long)gc_i64(sg, "segment_end_uutc"));
      CHECK_MSG(si->metadata &&
                    si->metadata->number_of_samples == si->n_samples,
                "%s: segment %d metadata sample count", label, s);
    }
    s++;
  }
  CHECK(mef3_reader_segment(r, (size_t)ch, (size_t)nseg) == NULL);

  check_blocks(r, (size_t)ch, label, segs, ci->fs);
  check_gaps(r, (size_t)ch, label, gc_obj(cj, "gaps"));

  size_t n = 0;
  int32_t *truth = gc_load_i32(tu_golden(gc_str(cj, "truth_file")), &n);
  CHECK_MSG(truth && n == (size_t)ci->n_samples,
            "%s: truth file has %zu samples", label, n);
  if (truth && n == (size_t)ci->n_samples) {
    check_samples(r, (size_t)ch, label, truth, n, ci->units_conversion_factor);
    check_time_all(r, (size_t)ch, label, truth, n);
  }
  free(truth);
}

/* The channel end time the golden readback manifest reports (pymef), or,
 * for sessions pymef cannot read, the last segment's end in the json. */
static int64_t golden_end(const char *session, const char *channel,
                          const cJSON *cj) {
  char rel[512];
  snprintf(rel, sizeof rel, "readback/%s/manifest.json", session);
  cJSON *m = tu_read_json(tu_golden(rel));
  int64_t end = GC_MISSING;
  if (m) {
    const cJSON *c = gc_obj(gc_obj(m, "channels"), channel);
    if (c)
      end = gc_i64(c, "end_time");
    cJSON_Delete(m);
  }
  if (end == GC_MISSING) {
    const cJSON *segs = gc_obj(cj, "segments");
    end = gc_i64(cJSON_GetArrayItem(segs, cJSON_GetArraySize(segs) - 1),
                 "segment_end_uutc");
  }
  return end;
}

static void check_session(const char *json_name) {
  char rel[512];
  snprintf(rel, sizeof rel, "sessions/%s", json_name);
  cJSON *j = tu_read_json(tu_golden(rel));
  CHECK_MSG(j != NULL, "cannot parse %s", rel);
  if (!j)
    return;
  const char *name = gc_str(j, "name");
  const char *pw = gc_str(j, "password2");
  mef3_reader *r = gc_must_open(tu_golden(gc_str(j, "session_path")), pw);
  const cJSON *chans = gc_obj(j, "channels");
  CHECK_MSG(mef3_reader_channel_count(r) == (size_t)cJSON_GetArraySize(chans),
            "%s: %zu channels, want %d", name, mef3_reader_channel_count(r),
            cJSON_GetArraySize(chans));
  CHECK_MSG(strcmp(mef3_reader_session_name(r), name) == 0,
            "%s: session name %s", name, mef3_reader_session_name(r));
  CHECK_MSG(mef3_reader_access_level(r) == (pw ? 2 : 0), "%s: access level %d",
            name, mef3_reader_access_level(r));
  /* Channel order: by name, strcmp. */
  for (size_t i = 1; i < mef3_reader_channel_count(r); i++)
    CHECK_MSG(strcmp(mef3_reader_channel(r, i - 1)->name,
                     mef3_reader_channel(r, i)->name) < 0,
              "%s: channels %zu and %zu out of order", name, i - 1, i);
  const cJSON *cj;
  cJSON_ArrayForEach(cj, chans) {
    check_channel(r, name, cj->string, cj, golden_end(name, cj->string, cj));
    int64_t rto = gc_i64(j, "recording_time_offset");
    int ch = mef3_reader_find_channel(r, cj->string);
    if (ch >= 0)
      CHECK_MSG(
          mef3_reader_channel(r, (size_t)ch)->metadata->recording_time_offset ==
              rto,
          "%s/%s: recording time offset %lld, want %lld", name, cj->string,
          (long long)mef3_reader_channel(r, (size_t)ch)
              ->metadata->recording_time_offset,
          (long long)rto);
  }
  mef3_reader_close(r);
  cJSON_Delete(j);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void) {
  REQUIRE(tu_have_golden());
  DIR *d = opendir(tu_golden("sessions"));
  REQUIRE(d != NULL);
  char *names[64];
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 64) {
    size_t l = strlen(e->d_name);
    if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0)
      names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof *names, cmp_str);
  CHECK_MSG(n >= 6, "only %zu sessions found", n);
  for (size_t i = 0; i < n; i++) {
    check_session(names[i]);
    free(names[i]);
  }
  return check_finish();
}
