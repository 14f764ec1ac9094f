/*
 * test_format_parsers - the byte-buffer parsers of format.h on golden
 * files and on damaged copies in memory: universal header (byte order,
 * version, type, header CRC), metadata (sizes, body CRC, sections),
 * index (entries against the session json, multiple of 56, entry count,
 * body CRC, entries outside the data file), RED blocks (every block of a
 * session against the truth, one at a time and in a batch; CRC, short
 * buffers, EBUFSIZE, encrypted statistics) and records (the annotations
 * of mef3io's with_annotations; a bad CRC, a cut body or header, a body
 * CRC failing, an empty Seiz and an EDFA of duration 0: each damaged
 * record flagged, the others decoded).
 */
#include "golden_check.h"

#define A_SEG                                                                  \
  "sessions/a_single_256hz.mefd/ch01.timd/ch01-000000.segd/ch01-000000"
#define RDAT "mef3io_golden/with_annotations.mefd/ch1.timd/ch1.rdat"

static uint8_t *load(const char *rel, size_t *len) {
  uint8_t *b = tu_read_file(tu_golden(rel), len);
  if (!b)
    fprintf(stderr, "cannot read %s\n", rel);
  REQUIRE(b != NULL);
  return b;
}

static uint8_t *dup_buf(const uint8_t *b, size_t len, size_t extra) {
  uint8_t *c = malloc(len + extra);
  memcpy(c, b, len);
  return c;
}

static void fix_header_crc(uint8_t *b) {
  uint32_t c = mef3_crc32(b + 4, 1020);
  memcpy(b, &c, 4);
}

static void fix_body_crc(uint8_t *b, size_t len) {
  uint32_t c = mef3_crc32(b + 1024, len - 1024);
  memcpy(b + 4, &c, 4);
  fix_header_crc(b);
}

static void test_crc(void) {
  size_t len = 0;
  uint8_t *b = load(A_SEG ".tmet", &len);
  uint32_t stored;
  memcpy(&stored, b, 4);
  CHECK_MSG(stored != 0 && mef3_crc32(b + 4, 1020) == stored,
            "header CRC of a meflib file: %08x vs %08x", stored,
            mef3_crc32(b + 4, 1020));
  memcpy(&stored, b + 4, 4);
  CHECK(mef3_crc32(b + 1024, len - 1024) == stored);
  /* Incremental equals one-shot, for every split point class. */
  uint32_t whole = mef3_crc32(b, len);
  for (size_t cut = 0; cut < 40; cut++) {
    uint32_t c = mef3_crc32_update(0xFFFFFFFFu, b, cut);
    c = mef3_crc32_update(c, b + cut, len - cut);
    CHECK(c == whole);
  }
  free(b);
}

static void test_universal_header(void) {
  cJSON *j = tu_read_json(tu_golden("sessions/a_single_256hz.json"));
  REQUIRE(j);
  const cJSON *seg = cJSON_GetArrayItem(
      gc_obj(gc_obj(gc_obj(j, "channels"), "ch01"), "segments"), 0);
  size_t len = 0;
  uint8_t *b = load(A_SEG ".tdat", &len);
  mef3_universal_header uh, uh2;
  CHECK_RC(mef3_uh_parse(&uh, b, len, "tdat", "x.tdat"), 0);
  const cJSON *d = gc_obj(seg, "tdat_uh_on_disk");
  CHECK(uh.start_time == gc_i64(d, "start_time_on_disk"));
  CHECK(uh.end_time == gc_i64(d, "end_time_on_disk"));
  CHECK(uh.number_of_entries == gc_i64(d, "number_of_entries"));
  CHECK(uh.maximum_entry_size == gc_i64(d, "maximum_entry_size"));
  CHECK(strcmp(uh.file_type, "tdat") == 0 && uh.version_major == 3 &&
        uh.byte_order == 1 && uh.segment_number == 0);
  CHECK(strcmp(uh.channel_name, "ch01") == 0);
  CHECK(strcmp(uh.session_name, "a_single_256hz") == 0);
  CHECK_RC(mef3_uh_parse(&uh2, b, len, NULL, NULL), 0);

  /* Written back from the struct, it parses to the same fields. */
  uint8_t w[1024];
  mef3_uh_write(w, &uh);
  CHECK_RC(mef3_uh_parse(&uh2, w, sizeof w, "tdat", NULL), 0);
  uh2.header_crc = uh.header_crc;
  CHECK(memcmp(&uh, &uh2, sizeof uh) == 0);

  uint8_t *c = dup_buf(b, 1024, 0);
  CHECK_RC(mef3_uh_parse(&uh, c, 1023, NULL, "short"), MEF3_ECORRUPT);
  CHECK_RC(mef3_uh_parse(&uh, c, 0, NULL, "short"), MEF3_ECORRUPT);
  CHECK_RC(mef3_uh_parse(&uh, c, 1024, "tmet", "t.tdat"), MEF3_ECORRUPT);
  CHECK(strstr(mef3_error_last()->message, "t.tdat") &&
        strstr(mef3_error_last()->message, "offset 8"));
  c[15] = 0; /* big-endian, CRC now stale: the byte order is reported */
  CHECK_RC(mef3_uh_parse(&uh, c, 1024, NULL, "be"), MEF3_EUNSUPPORTED);
  fix_header_crc(c);
  CHECK_RC(mef3_uh_parse(&uh, c, 1024, NULL, "be"), MEF3_EUNSUPPORTED);
  c[15] = 7;
  fix_header_crc(c);
  CHECK_RC(mef3_uh_parse(&uh, c, 1024, NULL, NULL), MEF3_ECORRUPT);
  c[15] = 1;
  c[13] = 4;
  fix_header_crc(c);
  CHECK_RC(mef3_uh_parse(&uh, c, 1024, NULL, NULL), MEF3_EUNSUPPORTED);
  c[13] = 3;
  fix_header_crc(c);
  CHECK_RC(mef3_uh_parse(&uh, c, 1024, "tdat", NULL), 0);
  c[600] ^= 1; /* anonymized name */
  CHECK_RC(mef3_uh_parse(&uh, c, 1024, "tdat", "crc.tdat"), MEF3_ECRC);
  CHECK(strstr(mef3_error_last()->message, "crc.tdat") != NULL);
  memset(c, 0, 4); /* header CRC 0: no entry, not checked */
  CHECK_RC(mef3_uh_parse(&uh, c, 1024, "tdat", NULL), 0);
  free(c);
  free(b);
  cJSON_Delete(j);
}

static void test_metadata(void) {
  size_t len = 0;
  uint8_t *b = load(A_SEG ".tmet", &len);
  mef3_metadata md;
  mef3_universal_header uh;
  CHECK_RC(mef3_metadata_parse(&md, &uh, b, len, NULL, NULL), 0);
  CHECK(md.section_2_available && md.section_3_available);
  CHECK(md.section_2_encryption == -1 && md.section_3_encryption == -2);
  CHECK(md.sampling_frequency == 256.0 && md.units_conversion_factor == 1.0);
  CHECK(md.number_of_samples == 46080 && md.number_of_blocks == 47);
  CHECK(md.maximum_block_samples == 1000);
  CHECK(md.recording_time_offset == MEF3_UUTC_NO_ENTRY);
  CHECK(md.gmt_offset == -21600);
  CHECK(uh.start_time == -1600000000123456 && uh.number_of_entries == 1);

  uint8_t *c = dup_buf(b, len, 16);
  CHECK_RC(mef3_metadata_parse(&md, NULL, c, len - 1, NULL, "m"),
           MEF3_ECORRUPT);
  CHECK_RC(mef3_metadata_parse(&md, NULL, c, 2000, NULL, "m"), MEF3_ECORRUPT);
  CHECK_RC(mef3_metadata_parse(&md, NULL, c, 100, NULL, "m"), MEF3_ECORRUPT);
  memset(c + len, 0, 16);
  CHECK_RC(mef3_metadata_parse(&md, NULL, c, len + 16, NULL, "m"),
           MEF3_ECORRUPT);
  c[9000] ^= 0x20;
  CHECK_RC(mef3_metadata_parse(&md, NULL, c, len, NULL, "body.tmet"),
           MEF3_ECRC);
  CHECK(strstr(mef3_error_last()->message, "body.tmet") != NULL);
  fix_body_crc(c, len);
  CHECK_RC(mef3_metadata_parse(&md, NULL, c, len, NULL, NULL), 0);
  memset(c + 4, 0, 4); /* body CRC 0: not checked */
  c[9001] ^= 1;
  fix_header_crc(c);
  CHECK_RC(mef3_metadata_parse(&md, NULL, c, len, NULL, NULL), 0);
  /* A tidx is not metadata. */
  size_t il = 0;
  uint8_t *idx = load(A_SEG ".tidx", &il);
  CHECK_RC(mef3_metadata_parse(&md, NULL, idx, il, NULL, NULL), MEF3_ECORRUPT);
  free(idx);
  free(c);
  free(b);
}

static void test_index(void) {
  cJSON *j = tu_read_json(tu_golden("sessions/a_single_256hz.json"));
  REQUIRE(j);
  const cJSON *blocks =
      gc_obj(cJSON_GetArrayItem(
                 gc_obj(gc_obj(gc_obj(j, "channels"), "ch01"), "segments"), 0),
             "blocks");
  size_t len = 0, dl = 0;
  uint8_t *b = load(A_SEG ".tidx", &len);
  uint8_t *dat = load(A_SEG ".tdat", &dl);
  mef3_index_entry *e = NULL;
  size_t n = 0;
  mef3_universal_header uh;
  CHECK_RC(mef3_index_parse(&e, &n, &uh, b, len, dl, "i.tidx"), 0);
  CHECK(n == 47 && uh.number_of_entries == 47);
  size_t k = 0, bad = 0;
  const cJSON *bj;
  cJSON_ArrayForEach(bj, blocks) {
    if (k < n &&
        (e[k].file_offset != gc_i64(bj, "file_offset") ||
         e[k].start_time != gc_i64(bj, "start_time_on_disk") ||
         e[k].start_sample != gc_i64(bj, "start_sample_in_segment") ||
         e[k].number_of_samples != (uint32_t)gc_i64(bj, "number_of_samples") ||
         e[k].block_bytes != (uint32_t)gc_i64(bj, "block_bytes") ||
         e[k].minimum_sample_value != (int32_t)gc_i64(bj, "index_min") ||
         e[k].maximum_sample_value != (int32_t)gc_i64(bj, "index_max") ||
         e[k].flags != (uint8_t)gc_i64(bj, "index_flags")))
      bad++;
    k++;
  }
  CHECK_MSG(k == n && bad == 0, "%zu of %zu index entries differ", bad, k);
  /* Written back and parsed, an entry is the same. */
  for (size_t i = 0; i < n; i++) {
    uint8_t w[56];
    mef3_index_write(w, &e[i]);
    CHECK(memcmp(w, b + 1024 + i * 56, 45) == 0);
  }
  free(e);

  /* The last block ends exactly at the end of the data file. */
  CHECK_RC(mef3_index_parse(&e, &n, NULL, b, len, dl - 1, "i.tidx"),
           MEF3_ECORRUPT);
  CHECK(e == NULL && n == 0);
  uint8_t *c = dup_buf(b, len, 0);
  CHECK_RC(mef3_index_parse(&e, &n, NULL, c, len - 10, 0, "i"), MEF3_ECORRUPT);
  CHECK_RC(mef3_index_parse(&e, &n, NULL, c, len - 56, 0, "i"),
           MEF3_ECORRUPT); /* 46 entries, header says 47 */
  CHECK_RC(mef3_index_parse(&e, &n, NULL, c, 1000, 0, "i"), MEF3_ECORRUPT);
  c[1024 + 56 * 3 + 2] ^= 1;
  CHECK_RC(mef3_index_parse(&e, &n, NULL, c, len, 0, "crc.tidx"), MEF3_ECRC);
  CHECK(strstr(mef3_error_last()->message, "crc.tidx") != NULL);
  memcpy(c, b, len);
  int64_t m1 = -1; /* "no entry" for the count: accepted */
  memcpy(c + 32, &m1, 8);
  fix_header_crc(c);
  CHECK_RC(mef3_index_parse(&e, &n, NULL, c, len, 0, NULL), 0);
  CHECK(n == 47);
  free(e);
  /* Entries that lie. */
  memcpy(c, b, len);
  int64_t neg = -5;
  memcpy(c + 1024 + 16, &neg, 8);
  fix_body_crc(c, len);
  CHECK_RC(mef3_index_parse(&e, &n, NULL, c, len, 0, NULL), MEF3_ECORRUPT);
  memcpy(c, b, len);
  uint32_t huge = 0xFFFFFFF0u;
  memcpy(c + 1024 + 56 * 46 + 28, &huge, 4);
  fix_body_crc(c, len);
  CHECK_RC(mef3_index_parse(&e, &n, NULL, c, len, dl, NULL), MEF3_ECORRUPT);
  int64_t big = INT64_MAX - 10;
  memcpy(c, b, len);
  memcpy(c + 1024 + 56 * 46, &big, 8);
  fix_body_crc(c, len);
  CHECK_RC(mef3_index_parse(&e, &n, NULL, c, len, dl, NULL), MEF3_ECORRUPT);
  /* An empty index. */
  memcpy(c, b, 1024);
  int64_t zero = 0;
  memcpy(c + 32, &zero, 8);
  fix_body_crc(c, 1024);
  CHECK_RC(mef3_index_parse(&e, &n, NULL, c, 1024, 0, NULL), 0);
  CHECK(n == 0);
  free(e);
  free(c);
  free(b);
  free(dat);
  cJSON_Delete(j);
}

/* Every block of a_single: one by one, in one batch, and damaged. */
static void test_red(void) {
  size_t il = 0, dl = 0, tn = 0;
  uint8_t *ib = load(A_SEG ".tidx", &il);
  uint8_t *dat = load(A_SEG ".tdat", &dl);
  int32_t *truth =
      gc_load_i32(tu_golden("sessions/a_single_256hz.truth/ch01.i32"), &tn);
  REQUIRE(truth);
  mef3_index_entry *e = NULL;
  size_t n = 0;
  REQUIRE(mef3_index_parse(&e, &n, NULL, ib, il, dl, NULL) == 0 && n == 47);
  mef3_red_ctx *ctx = NULL;
  REQUIRE(mef3_red_ctx_new(&ctx) == 0);
  int32_t out[1100];
  size_t got = 0, bad = 0;
  for (size_t k = 0; k < n; k++) {
    const uint8_t *blk = dat + e[k].file_offset;
    mef3_red_header h;
    CHECK_RC(mef3_red_header_parse(&h, blk, e[k].block_bytes, NULL, 0), 0);
    CHECK(h.number_of_samples == e[k].number_of_samples &&
          h.block_bytes == e[k].block_bytes &&
          h.start_time == e[k].start_time && h.flags == e[k].flags);
    int rc = mef3_red_decode(ctx, out, 1100, &got, blk, e[k].block_bytes, NULL,
                             1, NULL, 0);
    if (rc || got != e[k].number_of_samples ||
        memcmp(out, truth + e[k].start_sample, got * 4) != 0)
      bad++;
  }
  CHECK_MSG(bad == 0, "%zu blocks decode wrong", bad);

  /* All blocks as one batch, block 20 damaged. */
  uint8_t *dmg = dup_buf(dat, dl, 0);
  dmg[e[20].file_offset + 500] ^= 0x01;
  mef3_red_job *jobs = calloc(n, sizeof *jobs);
  int32_t *outs = malloc(n * 1000 * sizeof *outs);
  for (size_t k = 0; k < n; k++) {
    jobs[k].block = dmg + e[k].file_offset;
    jobs[k].len = e[k].block_bytes;
    jobs[k].offset = (uint64_t)e[k].file_offset;
    jobs[k].out = outs + k * 1000;
    jobs[k].cap = 1000;
  }
  CHECK_RC(mef3_red_decode_batch(ctx, jobs, n, NULL, 1, "b.tdat"), 0);
  bad = 0;
  for (size_t k = 0; k < n; k++) {
    if (k == 20) {
      CHECK_MSG(jobs[k].rc == MEF3_ECRC &&
                    strstr(jobs[k].message, "b.tdat") != NULL,
                "batch: damaged block: %s %s", mef3_errname(jobs[k].rc),
                jobs[k].message);
      continue;
    }
    if (jobs[k].rc || jobs[k].n_out != e[k].number_of_samples ||
        memcmp(jobs[k].out, truth + e[k].start_sample, jobs[k].n_out * 4))
      bad++;
  }
  CHECK_MSG(bad == 0, "batch: %zu good blocks decode wrong", bad);
  /* A batch of one, and an empty batch. */
  CHECK_RC(mef3_red_decode_batch(ctx, jobs, 1, NULL, 1, NULL), 0);
  CHECK(jobs[0].rc == 0 && jobs[0].n_out == 1000);
  CHECK_RC(mef3_red_decode_batch(ctx, jobs, 0, NULL, 1, NULL), 0);
  free(jobs);
  free(outs);

  /* One block, damaged in several ways. */
  const uint8_t *b0 = dat + e[1].file_offset;
  size_t bl = e[1].block_bytes;
  CHECK_RC(mef3_red_decode(ctx, out, 999, &got, b0, bl, NULL, 1, NULL, 0),
           MEF3_EBUFSIZE);
  CHECK(got == 1000);
  CHECK_RC(mef3_red_decode(ctx, out, 1100, &got, b0, 303, NULL, 1, "r", 7),
           MEF3_ECORRUPT);
  CHECK(strstr(mef3_error_last()->message, "offset 7") != NULL);
  CHECK_RC(mef3_red_decode(ctx, out, 1100, &got, b0, bl - 1, NULL, 1, NULL, 0),
           MEF3_ECORRUPT);
  CHECK_RC(mef3_red_decode(ctx, out, 1100, &got, b0, bl - 1, NULL, 0, NULL, 0),
           MEF3_ECORRUPT);
  uint8_t *c = dup_buf(b0, bl, 0);
  c[bl - 1] ^= 0x40;
  CHECK_RC(mef3_red_decode(ctx, out, 1100, &got, c, bl, NULL, 1, NULL, 0),
           MEF3_ECRC);
  /* No symbol statistics at all. */
  memcpy(c, b0, bl);
  memset(c + 48, 0, 256);
  CHECK_RC(mef3_red_decode(ctx, out, 1100, &got, c, bl, NULL, 0, NULL, 0),
           MEF3_ECORRUPT);
  free(c);
  free(dmg);
  mef3_red_ctx_free(ctx);
  mef3_red_ctx_free(NULL);
  free(e);
  free(ib);
  free(dat);
  free(truth);
}

/* Encrypted statistics (d2_encrypted_blocks): keys by level; the block
 * is never modified by its decryption. */
static void test_red_encrypted(void) {
#define D2 "sessions/d2_encrypted_blocks.mefd/"
  const char *chans[2] = {"ch01", "ch02"};
  size_t ml = 0;
  uint8_t *tmet = load(D2 "ch01.timd/ch01-000000.segd/ch01-000000.tmet", &ml);
  mef3_universal_header uh;
  REQUIRE(mef3_uh_parse(&uh, tmet, ml, "tmet", NULL) == 0);
  mef3_keys k1, k2;
  REQUIRE(mef3_keys_from_password(&k1, "l1pass", &uh) == 0);
  REQUIRE(mef3_keys_from_password(&k2, "l2pass", &uh) == 0);
  mef3_red_ctx *ctx = NULL;
  REQUIRE(mef3_red_ctx_new(&ctx) == 0);
  static int32_t out[3000];
  for (int c = 0; c < 2; c++) {
    char rel[256];
    snprintf(rel, sizeof rel, D2 "%s.timd/%s-000000.segd/%s-000000.tdat",
             chans[c], chans[c], chans[c]);
    size_t dl = 0, tn = 0;
    uint8_t *dat = load(rel, &dl);
    snprintf(rel, sizeof rel, "sessions/d2_encrypted_blocks.truth/%s.i32",
             chans[c]);
    int32_t *t = gc_load_i32(tu_golden(rel), &tn);
    REQUIRE(t);
    mef3_red_header h;
    REQUIRE(mef3_red_header_parse(&h, dat + 1024, dl - 1024, NULL, 0) == 0);
    uint8_t *before = dup_buf(dat + 1024, h.block_bytes, 0);
    size_t got = 0;
    int level = c + 1;
    CHECK_RC(mef3_red_decode(ctx, out, 3000, &got, dat + 1024, h.block_bytes,
                             NULL, 1, "enc", 1024),
             MEF3_EACCESS);
    CHECK_RC(mef3_red_decode(ctx, out, 3000, &got, dat + 1024, h.block_bytes,
                             &k1, 1, "enc", 1024),
             level == 1 ? 0 : MEF3_EACCESS);
    CHECK_RC(mef3_red_decode(ctx, out, 3000, &got, dat + 1024, h.block_bytes,
                             &k2, 1, "enc", 1024),
             0);
    CHECK(got == h.number_of_samples && memcmp(out, t, got * 4) == 0);
    CHECK_MSG(memcmp(before, dat + 1024, h.block_bytes) == 0,
              "decoding modified an encrypted block");
    free(before);
    free(dat);
    free(t);
  }
  mef3_red_ctx_free(ctx);
  free(tmet);
#undef D2
}

static void test_records(void) {
  size_t len = 0;
  uint8_t *b = load(RDAT, &len);
  mef3_record *r = NULL;
  size_t n = 0;
  CHECK_RC(mef3_records_parse(&r, &n, b, len, NULL, "a.rdat"), 0);
  CHECK(n == 2);
  if (n == 2) {
    CHECK(strcmp(r[0].type, "Note") == 0 && strcmp(r[0].text, "onset") == 0);
    CHECK(strcmp(r[1].type, "Note") == 0 && strcmp(r[1].text, "offset") == 0);
    CHECK(mef3_time_to_uutc(r[0].time, 0) == 1577836800100000);
    CHECK(mef3_time_to_uutc(r[1].time, 0) == 1577836800500000);
    CHECK(r[0].available && r[0].encryption == 0 && r[0].body_bytes == 16);
  }
  mef3_records_free(r, n);

  /* Damage stays with its record: a CRC failure is flagged, the next
   * record is still decoded. */
  uint8_t *c = dup_buf(b, len, 0);
  c[1024 + 24 + 2] ^= 0x01; /* "onset" -> "oo..." */
  CHECK_RC(mef3_records_parse(&r, &n, c, len, NULL, "crc.rdat"), 0);
  CHECK(n == 2);
  if (n == 2) {
    CHECK(r[0].undecodable == MEF3_ECRC && !r[0].text && r[0].body_bytes == 16 &&
          r[0].body[2] == (uint8_t)('s' ^ 1) && r[0].index == 0 &&
          r[0].offset == 1024);
    CHECK_MSG(r[0].problem &&
                  strstr(r[0].problem, "crc.rdat: record 0 at offset 1024: "
                                       "record CRC mismatch"),
              "%s", r[0].problem ? r[0].problem : "(none)");
    CHECK(!r[1].undecodable && !r[1].problem && r[1].index == 1 &&
          r[1].offset == 1024 + 40 && !strcmp(r[1].text, "offset"));
  }
  mef3_records_free(r, n);
  memcpy(c, b, len);
  /* Body cut: the record is kept with the bytes there are. */
  int64_t t0_disk;
  memcpy(&t0_disk, b + 1024 + 16, 8);
  CHECK_RC(mef3_records_parse(&r, &n, c, 1024 + 24 + 10, NULL, "cut.rdat"), 0);
  CHECK(n == 1 && r[0].undecodable == MEF3_ECORRUPT && r[0].body_bytes == 10 &&
        !strcmp(r[0].type, "Note") && r[0].time == t0_disk &&
        strstr(r[0].problem, "runs past the end"));
  mef3_records_free(r, n);
  /* Header cut: what there is of it, type included. */
  CHECK_RC(mef3_records_parse(&r, &n, c, 1024 + 10, NULL, NULL), 0);
  CHECK(n == 1 && r[0].undecodable == MEF3_ECORRUPT && r[0].body_bytes == 10 &&
        !strcmp(r[0].type, "Note") && r[0].time == MEF3_UUTC_NO_ENTRY &&
        strstr(r[0].problem, "<buffer>: record 0 at offset 1024: header cut"));
  mef3_records_free(r, n);
  /* Not a records file: that fails. */
  CHECK_RC(mef3_records_parse(&r, &n, c, 1000, NULL, NULL), MEF3_ECORRUPT);
  CHECK(r == NULL && n == 0);
  /* A body length running past the end. */
  uint32_t huge = 0xFFFFFFF0u;
  memcpy(c + 1024 + 12, &huge, 4);
  CHECK_RC(mef3_records_parse(&r, &n, c, len, NULL, NULL), 0);
  CHECK(n == 1 && r[0].undecodable == MEF3_ECORRUPT &&
        r[0].body_bytes == len - 1024 - 24);
  mef3_records_free(r, n);
  /* Only as many records as the header announces. */
  memcpy(c, b, len);
  int64_t one = 1;
  memcpy(c + 32, &one, 8);
  fix_header_crc(c);
  CHECK_RC(mef3_records_parse(&r, &n, c, len, NULL, NULL), 0);
  CHECK(n == 1);
  mef3_records_free(r, n);
  /* A body CRC, when present, covers all records. */
  memcpy(c, b, len);
  fix_body_crc(c, len);
  CHECK_RC(mef3_records_parse(&r, &n, c, len, NULL, NULL), 0);
  CHECK(n == 2 && !r[0].undecodable && !r[1].undecodable);
  mef3_records_free(r, n);
  /* When it fails, a record with a good CRC of its own is still trusted;
   * one without (CRC 0) is flagged. */
  c[len - 1] ^= 1; /* in the second record's padding */
  memset(c + 1024, 0, 4);
  memset(c + 1024 + 40, 0, 4);
  CHECK_RC(mef3_records_parse(&r, &n, c, len, NULL, NULL), 0);
  CHECK(n == 2 && r[0].undecodable == MEF3_ECRC &&
        strstr(r[0].problem, "body CRC") && r[1].undecodable == MEF3_ECRC);
  mef3_records_free(r, n);
  memcpy(c, b, len);
  fix_body_crc(c, len);
  c[len - 1] ^= 1;
  uint32_t crc1 = mef3_crc32(c + 1024 + 40 + 4, 20 + 16);
  memcpy(c + 1024 + 40, &crc1, 4);
  CHECK_RC(mef3_records_parse(&r, &n, c, len, NULL, NULL), 0);
  CHECK(n == 2 && !r[0].undecodable && !r[1].undecodable);
  mef3_records_free(r, n);
  /* An empty Seiz body is a valid record with no channels; an EDFA of
   * duration 0 has its duration. */
  memcpy(c, b, len);
  memcpy(c + 1024 + 4, "Seiz", 4);
  memset(c + 1024 + 12, 0, 4); /* body of 0 bytes: the next header follows */
  memmove(c + 1024 + 24, c + 1024 + 40, 40);
  memcpy(c + 1024 + 24 + 4, "EDFA", 4);
  memset(c + 1024 + 24 + 24, 0, 8); /* duration 0 */
  memcpy(c + 1024 + 24 + 24 + 8, "et", 3);
  uint32_t crc0 = mef3_crc32(c + 1024 + 4, 20);
  memcpy(c + 1024, &crc0, 4);
  crc1 = mef3_crc32(c + 1024 + 24 + 4, 20 + 16);
  memcpy(c + 1024 + 24, &crc1, 4);
  CHECK_RC(mef3_records_parse(&r, &n, c, 1024 + 24 + 40, NULL, NULL), 0);
  CHECK(n == 2);
  if (n == 2) {
    CHECK(!r[0].undecodable && !strcmp(r[0].type, "Seiz") &&
          r[0].body_bytes == 0 && r[0].number_of_channels == 0 &&
          !r[0].has_duration && r[0].text == NULL);
    CHECK(!r[1].undecodable && !strcmp(r[1].type, "EDFA") &&
          r[1].has_duration && r[1].duration == 0 &&
          !strcmp(r[1].text, "et"));
  }
  mef3_records_free(r, n);
  /* A Seiz body between 0 and its 1312 fixed bytes is flagged. */
  memcpy(c, b, len);
  memcpy(c + 1024 + 4, "Seiz", 4);
  crc0 = mef3_crc32(c + 1024 + 4, 20 + 16);
  memcpy(c + 1024, &crc0, 4);
  CHECK_RC(mef3_records_parse(&r, &n, c, len, NULL, NULL), 0);
  CHECK(n == 2 && r[0].undecodable == MEF3_ECORRUPT &&
        strstr(r[0].problem, "too short") && !r[1].undecodable);
  mef3_records_free(r, n);
  /* An encrypted record beyond the keys is kept, marked unavailable. */
  memcpy(c, b, len);
  c[1024 + 11] = 2;
  uint32_t rc = mef3_crc32(c + 1024 + 4, 20 + 16);
  memcpy(c + 1024, &rc, 4);
  CHECK_RC(mef3_records_parse(&r, &n, c, len, NULL, NULL), 0);
  CHECK(n == 2 && !r[0].available && r[0].text == NULL && r[1].available);
  mef3_records_free(r, n);
  free(c);
  free(b);
  mef3_records_free(NULL, 0);
}

static void test_small_functions(void) {
  CHECK(mef3_time_to_uutc(-1600000000000000, 0) == 1600000000000000);
  CHECK(mef3_time_to_uutc(-3600000123, 1599996399999877) == 1600000000000000);
  CHECK(mef3_time_to_uutc(1600000000000000, 5) == 1600000000000000);
  CHECK(mef3_time_to_uutc(MEF3_UUTC_NO_ENTRY, 5) == MEF3_UUTC_NO_ENTRY);
  uint8_t p[16], want[16] = {0};
  CHECK_RC(mef3_password_bytes(p, "abc"), 0);
  memcpy(want, "abc", 3);
  CHECK(memcmp(p, want, 16) == 0);
  CHECK_RC(mef3_password_bytes(p, "\xc3\xa9t\xc3\xa9"), 0); /* "été" */
  uint8_t w2[16] = {0xe9, 't', 0xe9};
  CHECK(memcmp(p, w2, 16) == 0);
  CHECK_RC(mef3_password_bytes(p, "123456789012345"), 0);
  CHECK_RC(mef3_password_bytes(p, "1234567890123456"), MEF3_EINVAL);
  CHECK_RC(mef3_password_bytes(p, "\xff\xfe"), MEF3_EINVAL);
  CHECK_RC(mef3_password_bytes(p, "a\xc3"), MEF3_EINVAL);
  CHECK(mef3_window_samples(0, 1000000, 256.0) == 256);
  CHECK(mef3_window_samples(0, 1953, 256.0) == 0); /* 0.4999 */
  CHECK(mef3_window_samples(0, 1954, 256.0) == 1); /* 0.5002 */
  CHECK(mef3_window_samples(0, 2000, 1000.0) == 2);
  CHECK(mef3_window_samples(0, 2500, 1000.0) == 3); /* half away */
  CHECK(mef3_window_samples(10, 10, 1000.0) == 0);
  CHECK(mef3_window_samples(10, 5, 1000.0) == 0);
  CHECK(mef3_window_samples(0, 1000, 0.0) == 0);
}

/* A block whose header promises far more coded symbols than its stream
 * holds, with a valid CRC (so CRC checking does not stop it): the
 * decoder must read zeros past the stream, as the reference does, or
 * refuse it; never read past its buffers (ASan).  Kept last: under ASan
 * a regression aborts the program here. */
static void test_red_short_stream(void) {
  size_t il = 0, dl = 0;
  uint8_t *ib = load(A_SEG ".tidx", &il);
  uint8_t *dat = load(A_SEG ".tdat", &dl);
  mef3_index_entry *e = NULL;
  size_t n = 0;
  REQUIRE(mef3_index_parse(&e, &n, NULL, ib, il, dl, NULL) == 0 && n == 47);
  mef3_red_ctx *ctx = NULL;
  REQUIRE(mef3_red_ctx_new(&ctx) == 0);
  static int32_t out[70000];
  uint32_t streams[] = {0, 16, 100};
  for (size_t i = 0; i < sizeof streams / sizeof *streams; i++) {
    uint32_t bb = 304 + streams[i];
    uint8_t *c = dup_buf(dat + e[1].file_offset, bb, 0);
    uint32_t diff = 200000, ns = 60000;
    memcpy(c + 28, &diff, 4);
    memcpy(c + 32, &ns, 4);
    memcpy(c + 36, &bb, 4);
    uint32_t crc = mef3_crc32(c + 4, bb - 4);
    memcpy(c, &crc, 4);
    size_t got = 0;
    int rc = mef3_red_decode(ctx, out, 70000, &got, c, bb, NULL, 1, NULL, 0);
    CHECK_MSG(rc == 0 || rc == MEF3_ECORRUPT,
              "block of %u stream bytes promising 200000 symbols: %s",
              streams[i], mef3_errname(rc));
    mef3_red_job job;
    memset(&job, 0, sizeof job);
    job.block = c;
    job.len = bb;
    job.out = out;
    job.cap = 70000;
    CHECK_RC(mef3_red_decode_batch(ctx, &job, 1, NULL, 1, NULL), 0);
    CHECK(job.rc == 0 || job.rc == MEF3_ECORRUPT);
    free(c);
  }
  mef3_red_ctx_free(ctx);
  free(e);
  free(ib);
  free(dat);
}

int main(int argc, char **argv) {
  REQUIRE(tu_have_golden());
  static const check_case cases[] = {
      CASE(test_crc),
      CASE(test_universal_header),
      CASE(test_metadata),
      CASE(test_index),
      CASE(test_red),
      CASE(test_red_encrypted),
      CASE(test_records),
      CASE(test_small_functions),
      CASE(test_red_short_stream),
  };
  check_run(argc, argv, cases, sizeof cases / sizeof *cases);
  return check_finish();
}
