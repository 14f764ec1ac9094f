/*
 * test_reader_tar - sessions packed as uncompressed tar archives
 * (NAME.mefd.tar, made here with the system's `tar`) read in place.
 *
 * Every golden session and a session of our writer with names too long
 * for a plain ustar header, packed in every layout tar makes (rooted at
 * the session directory, "./" members, a deeper root; ustar, GNU, pax,
 * v7): tables, every sample (time and sample reads, raw and physical) and
 * the records bit for bit equal to the directory's.  A windowed read of
 * the archive reads exactly the byte ranges the same read of the
 * directory reads, shifted to the data file's member, counted through the
 * reader's one I/O function.  Damaged and truncated archives fail the
 * open with an error naming the archive, the offset and what is wrong.
 */
#include <errno.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "golden_check.h"
#include "util/fsutil.h"

static char scratch[2048];

/* ---- comparing two readers of the same session ---- */

static int same_f64(const double *a, const double *b, size_t n) {
  return n == 0 || memcmp(a, b, n * sizeof *a) == 0;
}

static void compare_records(const char *label, mef3_reader *a, mef3_reader *b) {
  mef3_record *ra = NULL, *rb = NULL;
  size_t na = 0, nb = 0;
  CHECK_RC(mef3_reader_records(&ra, &na, a, 1), 0);
  CHECK_RC(mef3_reader_records(&rb, &nb, b, 1), 0);
  CHECK_MSG(na == nb, "%s: %zu records, archive %zu", label, na, nb);
  for (size_t i = 0; i < na && i < nb; i++) {
    const mef3_record *x = &ra[i], *y = &rb[i];
    int ok = !strcmp(x->type, y->type) && x->time == y->time &&
             x->body_bytes == y->body_bytes && x->level == y->level &&
             !strcmp(x->channel, y->channel) && x->segment == y->segment &&
             x->duration == y->duration && x->end_time == y->end_time &&
             (!x->body_bytes || !memcmp(x->body, y->body, x->body_bytes)) &&
             ((!x->text && !y->text) ||
              (x->text && y->text && !strcmp(x->text, y->text)));
    CHECK_MSG(ok, "%s: record %zu differs", label, i);
  }
  mef3_records_free(ra, na);
  mef3_records_free(rb, nb);
}

/* Tables, every sample and the records of `b` (the archive) equal to
 * those of `a` (the directory).  Returns the samples compared. */
static int64_t compare_readers(const char *label, mef3_reader *a,
                               mef3_reader *b) {
  int64_t compared = 0;
  size_t nch = mef3_reader_channel_count(a);
  CHECK_MSG(nch == mef3_reader_channel_count(b),
            "%s: %zu channels, "
            "archive %zu",
            label, nch, mef3_reader_channel_count(b));
  CHECK(mef3_reader_access_level(a) == mef3_reader_access_level(b));
  for (size_t c = 0; c < nch && c < mef3_reader_channel_count(b); c++) {
    const mef3_channel_info *x = mef3_reader_channel(a, c);
    const mef3_channel_info *y = mef3_reader_channel(b, c);
    CHECK_MSG(
        !strcmp(x->name, y->name) && x->fs == y->fs &&
            x->units_conversion_factor == y->units_conversion_factor &&
            x->start_uutc == y->start_uutc && x->end_uutc == y->end_uutc &&
            x->n_samples == y->n_samples && x->n_blocks == y->n_blocks &&
            x->n_segments == y->n_segments && x->n_contigua == y->n_contigua &&
            x->times_relative == y->times_relative &&
            x->data_encryption == y->data_encryption,
        "%s/%s: channel info differs", label, x->name);
    const mef3_block_info *ba, *bb;
    size_t nba, nbb;
    CHECK_RC(mef3_reader_blocks(&ba, &nba, a, c), 0);
    CHECK_RC(mef3_reader_blocks(&bb, &nbb, b, c), 0);
    size_t bad = 0;
    for (size_t k = 0; k < nba && k < nbb; k++)
      bad += ba[k].start_uutc != bb[k].start_uutc ||
             ba[k].start_sample != bb[k].start_sample ||
             ba[k].file_offset != bb[k].file_offset ||
             ba[k].n_samples != bb[k].n_samples || ba[k].bytes != bb[k].bytes ||
             ba[k].segment != bb[k].segment || ba[k].flags != bb[k].flags;
    CHECK_MSG(nba == nbb && bad == 0, "%s/%s: block tables differ", label,
              x->name);

    /* the whole channel by time, float64 with its valid mask */
    int64_t n = mef3_window_samples(x->start_uutc, x->end_uutc, x->fs);
    double *va = malloc((size_t)(n + 1) * sizeof *va);
    double *vb = malloc((size_t)(n + 1) * sizeof *vb);
    uint8_t *ma = malloc((size_t)n + 1), *mb = malloc((size_t)n + 1);
    REQUIRE(va && vb && ma && mb);
    size_t ga = 0, gb = 0;
    mef3_read_report rpa, rpb;
    CHECK_RC(mef3_reader_read_time(&ga, &rpa, a, c, x->start_uutc, x->end_uutc,
                                   MEF3_F64, va, (size_t)n, ma),
             0);
    CHECK_RC(mef3_reader_read_time(&gb, &rpb, b, c, x->start_uutc, x->end_uutc,
                                   MEF3_F64, vb, (size_t)n, mb),
             0);
    CHECK_MSG(ga == gb && same_f64(va, vb, ga) && !memcmp(ma, mb, ga) &&
                  rpa.n_valid == rpb.n_valid &&
                  rpa.n_bad_blocks == rpb.n_bad_blocks,
              "%s/%s: time read of %zu samples differs", label, x->name, ga);
    compared += (int64_t)ga;

    /* a window in the middle, float32 */
    int64_t t0 = x->start_uutc + (x->end_uutc - x->start_uutc) / 3;
    int64_t t1 = x->start_uutc + (x->end_uutc - x->start_uutc) / 2;
    size_t wa = 0, wb = 0;
    CHECK_RC(mef3_reader_read_time(&wa, NULL, a, c, t0, t1, MEF3_F32, va,
                                   (size_t)n, NULL),
             0);
    CHECK_RC(mef3_reader_read_time(&wb, NULL, b, c, t0, t1, MEF3_F32, vb,
                                   (size_t)n, NULL),
             0);
    CHECK_MSG(wa == wb && !memcmp(va, vb, wa * sizeof(float)),
              "%s/%s: window read differs", label, x->name);

    /* every stored sample, raw */
    int64_t ns = x->n_samples;
    int32_t *ia = malloc((size_t)(ns + 1) * 4),
            *ib = malloc((size_t)(ns + 1) * 4);
    REQUIRE(ia && ib);
    size_t sa = 0, sb = 0;
    CHECK_RC(mef3_reader_read_samples(&sa, NULL, a, c, 0, ns, MEF3_I32, ia,
                                      (size_t)ns),
             0);
    CHECK_RC(mef3_reader_read_samples(&sb, NULL, b, c, 0, ns, MEF3_I32, ib,
                                      (size_t)ns),
             0);
    CHECK_MSG(sa == sb && (size_t)ns == sa && !memcmp(ia, ib, sa * 4),
              "%s/%s: sample read differs", label, x->name);
    compared += (int64_t)sa;
    free(va);
    free(vb);
    free(ma);
    free(mb);
    free(ia);
    free(ib);
  }
  compare_records(label, a, b);
  return compared;
}

static mef3_reader *open_or_report(const char *path, const char *pw) {
  mef3_reader_options o = MEF3_READER_OPTIONS_INIT;
  o.password = pw;
  mef3_reader *r = NULL;
  int rc = mef3_reader_open(&r, path, &o);
  CHECK_MSG(rc == 0, "open %s: %s: %s", path, mef3_errname(rc),
            mef3_error_last()->message);
  return r;
}

/* Pack `dir` (a NAME.mefd) in every layout and compare each archive with
 * the directory. */
static void check_session(const char *dir, const char *pw, const char *tag,
                          int short_names) {
  char parent[2048], base[512];
  snprintf(parent, sizeof parent, "%s", dir);
  char *slash = strrchr(parent, '/');
  REQUIRE(slash);
  *slash = '\0';
  snprintf(base, sizeof base, "%s", slash + 1);
  size_t lb = strlen(base);
  REQUIRE(lb > 5);
  base[lb - 5] = '\0'; /* without .mefd */

  mef3_reader *a = open_or_report(dir, pw);
  REQUIRE(a);
  struct {
    const char *name, *cmd;
  } layouts[] = {
      {"rooted", "tar --format=ustar -cf '%s' -C '%s' '%s.mefd'"},
      {"gnu", "tar --format=gnu -cf '%s' -C '%s' '%s.mefd'"},
      {"pax", "tar --format=pax -cf '%s' -C '%s' '%s.mefd'"},
      {"v7", "tar --format=v7 -cf '%s' -C '%s' '%s.mefd'"},
      {"dot", "tar -cf '%s' -C '%s/%s.mefd' ."},
      {"deep", "tar -cf '%s' -C '%s/..' \"$(basename '%s')/%s.mefd\""},
  };
  for (size_t i = 0; i < sizeof layouts / sizeof *layouts; i++) {
    /* ustar and v7 cannot hold long names */
    if (!short_names &&
        (!strcmp(layouts[i].name, "v7") || !strcmp(layouts[i].name, "rooted")))
      continue;
    char tarp[4096], label[256];
    snprintf(tarp, sizeof tarp, "%s/%s-%s/%s.mefd.tar", scratch, tag,
             layouts[i].name, base);
    snprintf(label, sizeof label, "%s %s", tag, layouts[i].name);
    REQUIRE(tu_system("mkdir -p \"$(dirname '%s')\"", tarp) == 0);
    int st;
    if (!strcmp(layouts[i].name, "deep"))
      st = tu_system(layouts[i].cmd, tarp, parent, parent, base);
    else
      st = tu_system(layouts[i].cmd, tarp, parent, base);
    REQUIRE(st == 0);
    mef3_reader *b = open_or_report(tarp, pw);
    if (b) {
      int64_t k = compare_readers(label, a, b);
      CHECK_MSG(k > 0, "%s: nothing compared", label);
      CHECK_MSG(
          !strcmp(mef3_reader_session_name(a), mef3_reader_session_name(b)),
          "%s: session %s, archive's %s", label, mef3_reader_session_name(a),
          mef3_reader_session_name(b));
      /* channel paths name the archive and the member */
      const mef3_channel_info *ci = mef3_reader_channel(b, 0);
      CHECK_MSG(!strncmp(ci->path, tarp, strlen(tarp)) &&
                    ci->path[strlen(tarp)] == '/',
                "%s: channel path %s", label, ci->path);
    }
    mef3_reader_close(b);
  }
  mef3_reader_close(a);
}

/* A session of our writer whose names do not fit a ustar header (GNU
 * long names, pax paths), with records at session and channel level. */
static const char *write_long_names(void) {
  static char path[4096];
  const char *d = tu_scratch("writer");
  snprintf(path, sizeof path, "%s/w.mefd", d);
  mef3_writer_options o = MEF3_WRITER_OPTIONS_INIT;
  o.uuid_seed = 7;
  mef3_writer *w;
  REQUIRE(mef3_writer_open(&w, path, &o) == 0);
  char name[2][160];
  memset(name[0], 'a', 150);
  name[0][150] = '\0';
  memset(name[1], 'b', 120);
  name[1][120] = '\0';
  const int64_t T0 = 1600000000000000;
  int32_t *buf = malloc(20000 * sizeof *buf);
  REQUIRE(buf);
  for (int i = 0; i < 20000; i++)
    buf[i] = (int32_t)((i * 7919) % 2001) - 1000;
  for (int k = 0; k < 2; k++) {
    mef3_channel_options co = MEF3_CHANNEL_OPTIONS_INIT;
    co.name = name[k];
    co.fs = k ? 500.0 : 256.0;
    co.start_uutc = T0;
    co.block_samples = k ? 333 : 256;
    size_t ch;
    REQUIRE(mef3_writer_add_channel(&ch, w, &co) == 0);
    REQUIRE(mef3_writer_write_i32(w, ch, T0, buf, 12000) == 0);
    /* a gap, then more */
    REQUIRE(mef3_writer_write_i32(w, ch, T0 + 60000000, buf + 5000, 8000) == 0);
    REQUIRE(mef3_writer_add_note(w, ch, T0 + 1000000 * (k + 1), "channel") ==
            0);
  }
  REQUIRE(mef3_writer_add_note(w, MEF3_WRITER_SESSION, T0 + 500000,
                               "session note") == 0);
  REQUIRE(mef3_writer_close(w) == 0);
  free(buf);
  return path;
}

/* ---- bytes read ---- */

typedef struct {
  size_t n;
  uint64_t off[4096];
  size_t len[4096];
} io_log;

static int log_read(int fd, size_t len, uint64_t off, void *payload) {
  (void)fd;
  io_log *l = payload;
  if (l->n < 4096) {
    l->off[l->n] = off;
    l->len[l->n] = len;
  }
  l->n++;
  return 0;
}

/* Where `data` (n bytes) lies in the file `path`, or -1. */
static long long find_in_file(const char *path, const void *data, size_t n) {
  size_t len = 0;
  uint8_t *f = tu_read_file(path, &len);
  if (!f)
    return -1;
  long long at = -1;
  for (size_t i = 0; i + n <= len; i++)
    if (!memcmp(f + i, data, n)) {
      at = (long long)i;
      break;
    }
  free(f);
  return at;
}

/* A window of channel ch08 of b_multi_8ch read from the directory and
 * from the archive: the archive's reads are exactly the directory's,
 * shifted to where the data file lies in the archive, and they cover
 * exactly the blocks the window overlaps. */
static void check_byte_ranges(void) {
  const char *dir = tu_golden("sessions/b_multi_8ch.mefd");
  char tarp[4096];
  snprintf(tarp, sizeof tarp, "%s/bytes/b.mefd.tar", scratch);
  REQUIRE(tu_system("mkdir -p '%s/bytes' && tar --format=ustar -cf '%s' -C "
                    "'%s/..' b_multi_8ch.mefd",
                    scratch, tarp, dir) == 0);
  mef3_reader *a = open_or_report(dir, NULL);
  mef3_reader *b = open_or_report(tarp, NULL);
  REQUIRE(a && b);
  int ch = mef3_reader_find_channel(a, "ch08");
  REQUIRE(ch >= 0);
  const mef3_channel_info *ci = mef3_reader_channel(a, (size_t)ch);
  const mef3_block_info *bl;
  size_t nb;
  REQUIRE(mef3_reader_blocks(&bl, &nb, a, (size_t)ch) == 0 && nb >= 40);
  /* from inside block 20 to inside block 24 */
  int64_t t0 = bl[20].start_uutc + 123457;
  int64_t t1 = bl[24].start_uutc + 654321;
  uint64_t lo = UINT64_MAX, hi = 0, want_bytes = 0;
  for (size_t k = 0; k < nb; k++) {
    int64_t end =
        bl[k].start_uutc + (int64_t)llround(bl[k].n_samples * 1e6 / ci->fs);
    if (bl[k].start_uutc < t1 && end > t0) {
      lo = (uint64_t)bl[k].file_offset < lo ? (uint64_t)bl[k].file_offset : lo;
      uint64_t e = (uint64_t)bl[k].file_offset + bl[k].bytes;
      hi = e > hi ? e : hi;
      want_bytes += bl[k].bytes;
    }
  }
  REQUIRE(want_bytes > 0);

  char tdat[4096];
  snprintf(tdat, sizeof tdat, "%s/ch08.timd/ch08-000000.segd/ch08-000000.tdat",
           dir);
  size_t tlen = 0;
  uint8_t *head = tu_read_file(tdat, &tlen);
  REQUIRE(head && tlen > 4096);
  long long member = find_in_file(tarp, head, MEF3_UH_BYTES);
  free(head);
  REQUIRE(member > 0);

  static io_log la, lb;
  float out[200000];
  size_t got_a = 0, got_b = 0;
  memset(&la, 0, sizeof la);
  mef3__set_read_fault(log_read, &la);
  CHECK_RC(mef3_reader_read_time(&got_a, NULL, a, (size_t)ch, t0, t1, MEF3_F32,
                                 out, 200000, NULL),
           0);
  memset(&lb, 0, sizeof lb);
  mef3__set_read_fault(log_read, &lb);
  CHECK_RC(mef3_reader_read_time(&got_b, NULL, b, (size_t)ch, t0, t1, MEF3_F32,
                                 out, 200000, NULL),
           0);
  mef3__set_read_fault(NULL, NULL);
  CHECK(got_a == got_b && got_a > 0);

  CHECK_MSG(la.n == lb.n && la.n >= 1 && la.n < 4096,
            "%zu reads from the directory, %zu from the archive", la.n, lb.n);
  uint64_t data_bytes = 0, total = 0;
  for (size_t i = 0; i < la.n && i < lb.n && i < 4096; i++) {
    CHECK_MSG(lb.len[i] == la.len[i] &&
                  lb.off[i] == (uint64_t)member + la.off[i],
              "read %zu: directory %zu bytes at %llu, archive %zu at %llu "
              "(member at %lld)",
              i, la.len[i], (unsigned long long)la.off[i], lb.len[i],
              (unsigned long long)lb.off[i], member);
    CHECK(lb.off[i] + lb.len[i] <= (uint64_t)member + tlen);
    total += lb.len[i];
    if (la.off[i] == 0 && la.len[i] == MEF3_UH_BYTES)
      continue; /* the check that the data file is this segment's */
    CHECK_MSG(la.off[i] >= lo && la.off[i] + la.len[i] <= hi,
              "read of %zu bytes at %llu is outside the window's blocks "
              "[%llu, %llu)",
              la.len[i], (unsigned long long)la.off[i], (unsigned long long)lo,
              (unsigned long long)hi);
    data_bytes += la.len[i];
  }
  CHECK_MSG(data_bytes == want_bytes,
            "the window's blocks are %llu bytes, %llu were read",
            (unsigned long long)want_bytes, (unsigned long long)data_bytes);
  struct stat st;
  REQUIRE(stat(tarp, &st) == 0);
  printf("window of %zu samples: %llu bytes read of a %lld-byte archive\n",
         got_b, (unsigned long long)total, (long long)st.st_size);
  CHECK(total * 20 < (uint64_t)st.st_size);

  /* a second read of the same window: no header check again */
  memset(&lb, 0, sizeof lb);
  mef3__set_read_fault(log_read, &lb);
  CHECK_RC(mef3_reader_read_time(&got_b, NULL, b, (size_t)ch, t0, t1, MEF3_F32,
                                 out, 200000, NULL),
           0);
  mef3__set_read_fault(NULL, NULL);
  uint64_t again = 0;
  for (size_t i = 0; i < lb.n && i < 4096; i++)
    again += lb.len[i];
  CHECK_MSG(again == want_bytes, "second read: %llu bytes, want %llu",
            (unsigned long long)again, (unsigned long long)want_bytes);
  mef3_reader_close(a);
  mef3_reader_close(b);
}

/* ---- damaged archives ---- */

/* Header offsets of the members of `tarp`, by `tar -tR` (block numbers
 * of each member's header); returns how many (up to cap). */
static int member_headers(const char *tarp, long long *blk, char names[][512],
                          int cap) {
  char cmd[5000];
  snprintf(cmd, sizeof cmd, "tar -tR -f '%s'", tarp);
  FILE *p = popen(cmd, "r");
  if (!p)
    return 0;
  int n = 0;
  char line[1024];
  while (n < cap && fgets(line, sizeof line, p)) {
    long long b;
    char name[512];
    if (sscanf(line, "block %lld: %511[^\n]", &b, name) == 2 &&
        strcmp(name, "** Block of NULs **")) {
      blk[n] = b * 512;
      snprintf(names[n], 512, "%s", name);
      n++;
    }
  }
  pclose(p);
  return n;
}

static void expect_open_error(const char *tarp, int code, const char *has1,
                              const char *has2) {
  mef3_reader *r = NULL;
  int rc = mef3_reader_open(&r, tarp, NULL);
  const char *msg = mef3_error_last()->message;
  CHECK_MSG(rc == code && strstr(msg, tarp) && (!has1 || strstr(msg, has1)) &&
                (!has2 || strstr(msg, has2)),
            "open %s: %s \"%s\"; wanted %s with \"%s\", \"%s\"", tarp,
            mef3_errname(rc), msg, mef3_errname(code), has1 ? has1 : "",
            has2 ? has2 : "");
  mef3_reader_close(r);
}

static void put_bytes(const char *path, long long off, const void *b,
                      size_t n) {
  FILE *f = fopen(path, "r+b");
  REQUIRE(f);
  REQUIRE(fseek(f, off, SEEK_SET) == 0 && fwrite(b, 1, n, f) == n);
  fclose(f);
}

static void set_checksum(const char *path, long long hdr) {
  FILE *f = fopen(path, "r+b");
  REQUIRE(f);
  uint8_t h[512];
  REQUIRE(fseek(f, hdr, SEEK_SET) == 0 && fread(h, 1, 512, f) == 512);
  memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (int i = 0; i < 512; i++)
    sum += h[i];
  snprintf((char *)h + 148, 8, "%06o", sum);
  h[155] = ' ';
  REQUIRE(fseek(f, hdr, SEEK_SET) == 0 && fwrite(h, 1, 512, f) == 512);
  fclose(f);
}

static void check_damage(void) {
  const char *src = tu_golden("sessions/a_single_256hz.mefd");
  char good[4096], t[4096];
  snprintf(good, sizeof good, "%s/damage/good.mefd.tar", scratch);
  REQUIRE(tu_system("mkdir -p '%s/damage' && tar --format=ustar -cf '%s' -C "
                    "'%s/..' a_single_256hz.mefd",
                    scratch, good, src) == 0);
  long long hdr[64];
  char names[64][512];
  int n = member_headers(good, hdr, names, 64);
  REQUIRE(n >= 5);
  int di = -1, xi = -1; /* the .tdat member, the .tidx member */
  for (int i = 0; i < n; i++) {
    if (mef3__ends_with(names[i], ".tdat"))
      di = i;
    if (mef3__ends_with(names[i], ".tidx"))
      xi = i;
  }
  REQUIRE(di > 0 && xi > 0);
  struct stat st;
  REQUIRE(stat(good, &st) == 0);
  char off[64];

  /* a byte of a member's name changed: its checksum fails */
  snprintf(t, sizeof t, "%s/damage/name.mefd.tar", scratch);
  REQUIRE(tu_system("cp '%s' '%s'", good, t) == 0);
  put_bytes(t, hdr[xi] + 3, "#", 1);
  snprintf(off, sizeof off, "at offset %lld:", hdr[xi]);
  expect_open_error(t, MEF3_ECORRUPT, off, "checksum");

  /* a size field that is not a number (the checksum made to match) */
  snprintf(t, sizeof t, "%s/damage/size.mefd.tar", scratch);
  REQUIRE(tu_system("cp '%s' '%s'", good, t) == 0);
  put_bytes(t, hdr[di] + 124, "12x4", 4);
  set_checksum(t, hdr[di]);
  snprintf(off, sizeof off, "at offset %lld:", hdr[di]);
  expect_open_error(t, MEF3_ECORRUPT, off, "size field");

  /* a size running past the end of the archive */
  snprintf(t, sizeof t, "%s/damage/big.mefd.tar", scratch);
  REQUIRE(tu_system("cp '%s' '%s'", good, t) == 0);
  put_bytes(t, hdr[di] + 124, "77777777777", 11);
  set_checksum(t, hdr[di]);
  expect_open_error(t, MEF3_ECORRUPT, "runs past the end", ".tdat");

  /* cut inside a header */
  snprintf(t, sizeof t, "%s/damage/cuthdr.mefd.tar", scratch);
  REQUIRE(tu_system("cp '%s' '%s' && truncate -s %lld '%s'", good, t,
                    hdr[n - 1] + 100, t) == 0);
  snprintf(off, sizeof off, "at offset %lld:", hdr[n - 1]);
  expect_open_error(t, MEF3_ECORRUPT, off, "inside a member header");

  /* cut inside the data file's data */
  snprintf(t, sizeof t, "%s/damage/cutdata.mefd.tar", scratch);
  REQUIRE(tu_system("cp '%s' '%s' && truncate -s %lld '%s'", good, t,
                    hdr[di] + 512 + 5000, t) == 0);
  expect_open_error(t, MEF3_ECORRUPT, "runs past the end", "cut short");

  /* cut right after a member: no end-of-archive block */
  snprintf(t, sizeof t, "%s/damage/noend.mefd.tar", scratch);
  REQUIRE(tu_system("cp '%s' '%s' && truncate -s %lld '%s'", good, t,
                    hdr[di < n - 1 ? di + 1 : di], t) == 0);
  expect_open_error(t, MEF3_ECORRUPT, "end-of-archive", NULL);

  /* an empty file */
  snprintf(t, sizeof t, "%s/damage/empty.mefd.tar", scratch);
  REQUIRE(tu_system(": > '%s'", t) == 0);
  expect_open_error(t, MEF3_ECORRUPT, "end-of-archive", NULL);

  /* not a tar at all */
  snprintf(t, sizeof t, "%s/damage/text.mefd.tar", scratch);
  REQUIRE(tu_system("head -c 5000 /dev/zero | tr '\\0' A > '%s'", t) == 0);
  expect_open_error(t, MEF3_ECORRUPT, "not a tar archive", NULL);

  /* compressed, by name and by content */
  snprintf(t, sizeof t, "%s/damage/z.mefd.tar.gz", scratch);
  REQUIRE(tu_system("gzip -c '%s' > '%s'", good, t) == 0);
  expect_open_error(t, MEF3_EUNSUPPORTED, "compressed", NULL);
  snprintf(t, sizeof t, "%s/damage/gz.mefd.tar", scratch);
  REQUIRE(tu_system("gzip -c '%s' > '%s'", good, t) == 0);
  expect_open_error(t, MEF3_EUNSUPPORTED, "gzip", NULL);

  /* a data file left out: the open names the missing member */
  snprintf(t, sizeof t, "%s/damage/nodata.mefd.tar", scratch);
  REQUIRE(tu_system("tar -cf '%s' --exclude='*.tdat' -C '%s/..' "
                    "a_single_256hz.mefd",
                    t, src) == 0);
  expect_open_error(t, MEF3_ENOTFOUND, "missing data file", ".tdat");

  /* an archive holding nothing */
  snprintf(t, sizeof t, "%s/damage/none.mefd.tar", scratch);
  REQUIRE(tu_system("tar -cf '%s' -T /dev/null", t) == 0);
  expect_open_error(t, MEF3_ENOTFOUND, "no time-series channel", NULL);

  /* the good one still opens, and reads the same as the directory */
  mef3_reader *a = open_or_report(src, NULL), *b = open_or_report(good, NULL);
  if (a && b)
    compare_readers("damage-control", a, b);
  mef3_reader_close(a);
  mef3_reader_close(b);
}

int main(int argc, char **argv) {
  if (!tu_have_golden()) {
    printf("SKIP: no golden folder at %s\n", MEF3_GOLDEN_DIR);
    return 77;
  }
  snprintf(scratch, sizeof scratch, "%s", tu_scratch("tars"));
  static const struct {
    const char *rel, *pw;
  } sessions[] = {
      {"sessions/a_single_256hz.mefd", NULL},
      {"sessions/b_multi_8ch.mefd", NULL},
      {"sessions/c_discontinuities.mefd", NULL},
      {"sessions/d_encrypted.mefd", "l2pass"},
      {"sessions/d2_encrypted_blocks.mefd", "l2pass"},
      {"sessions/d2_encrypted_blocks.mefd", "l1pass"},
      {"sessions/f_escapes_extremes.mefd", NULL},
      {"mef3io_golden/enc_both.mefd", "pass2"},
      {"mef3io_golden/fractional_fs.mefd", NULL},
      {"mef3io_golden/multi_channel.mefd", NULL},
      {"mef3io_golden/multi_segment.mefd", NULL},
      {"mef3io_golden/nan_gap_long.mefd", NULL},
      {"mef3io_golden/nan_gap_short.mefd", NULL},
      {"mef3io_golden/plain_single.mefd", NULL},
  };
  for (size_t i = 0; i < sizeof sessions / sizeof *sessions; i++) {
    char tag[64];
    snprintf(tag, sizeof tag, "s%zu", i);
    check_session(tu_golden(sessions[i].rel), sessions[i].pw, tag, 1);
  }
  /* our writer's session: names past ustar's 100 + 155 bytes */
  check_session(write_long_names(), NULL, "long", 0);
  static const check_case cases[] = {
      CASE(check_byte_ranges),
      CASE(check_damage),
  };
  check_run(argc, argv, cases, sizeof cases / sizeof *cases);
  return check_finish();
}
