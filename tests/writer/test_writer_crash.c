/*
 * test_writer_crash - a session whose writer is killed (SIGKILL, no
 * close) opens and reads up to the last complete block.
 *
 * 1. Deterministic: a child writes a known number of whole blocks plus a
 *    partial one and kills itself; the session must hold exactly the whole
 *    blocks, sample for sample, and the records added so far.
 * 2. Asynchronous: children write three channels (different rates and
 *    block lengths, checkpoints every few blocks, notes now and then) and
 *    report each completed call through a pipe; the parent kills them with
 *    SIGKILL at different points.  Every channel must then read as an exact
 *    prefix of what was written, at least as long as the whole blocks the
 *    child had reported written, and a whole number of blocks long; with
 *    blocks collected in buffers (io_buffer_bytes), still an exact prefix
 *    of whole blocks.
 * The children leave no process behind (each is waited for).
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "testutil.h"

#define T0 1650000000000000LL
#define NCH 3

static const double fs[NCH] = {256.0, 1000.0, 499.7};
static const uint32_t bs[NCH] = {256, 500, 137};

static int32_t value(int ch, int64_t i) {
  uint64_t z = (uint64_t)i * 0x9E3779B97F4A7C15ull + (uint64_t)ch * 7919;
  z ^= z >> 29;
  return (int32_t)(z % 2001) - 1000 + (int32_t)((i / 97) % 50);
}

typedef struct {
  int64_t written[NCH]; /* samples passed to completed write calls */
  int64_t notes;        /* notes added */
} progress;

/* The child: write until killed (or `stop_after` calls, then SIGKILL
 * itself), collecting `io_buffer` bytes per file before writing them.
 * Never returns. */
static void child(const char *path, int fd, int64_t stop_after,
                  size_t io_buffer) {
  mef3_writer_options o = MEF3_WRITER_OPTIONS_INIT;
  /* Frequent checkpoints, except with buffers: those must fill up. */
  o.checkpoint_blocks = io_buffer ? 100000 : 5;
  o.io_buffer_bytes = io_buffer;
  o.rto_mode = MEF3_RTO_VALUE;
  o.recording_time_offset = T0 - 1000000;
  mef3_writer *w;
  if (mef3_writer_open(&w, path, &o))
    _exit(3);
  size_t ch[NCH];
  for (int c = 0; c < NCH; c++) {
    mef3_channel_options co = MEF3_CHANNEL_OPTIONS_INIT;
    char name[16];
    snprintf(name, sizeof name, "c%d", c);
    co.name = name;
    co.fs = fs[c];
    co.block_samples = bs[c];
    co.start_uutc = T0;
    if (mef3_writer_add_channel(&ch[c], w, &co))
      _exit(4);
  }
  progress p = {{0}, 0};
  int32_t buf[512];
  for (int64_t call = 0;; call++) {
    if (stop_after >= 0 && call == stop_after)
      raise(SIGKILL);
    for (int c = 0; c < NCH; c++) {
      size_t m = 1 + (size_t)((call * 131 + c * 17) % 300);
      for (size_t i = 0; i < m; i++)
        buf[i] = value(c, p.written[c] + (int64_t)i);
      if (mef3_writer_write_i32(w, ch[c], MEF3_UUTC_NO_ENTRY, buf, m))
        _exit(5);
      p.written[c] += (int64_t)m;
    }
    if (call % 40 == 0) {
      char text[32];
      snprintf(text, sizeof text, "note %lld", (long long)p.notes);
      if (mef3_writer_add_note(w, (size_t)(p.notes % 2 ? 0 : -1),
                               T0 + p.notes * 1000, text))
        _exit(6);
      p.notes++;
    }
    if (fd >= 0 && write(fd, &p, sizeof p) != (ssize_t)sizeof p)
      _exit(7);
  }
}

/* Check the session left behind against `p` (what the child reported):
 * `exact`: exactly the whole blocks reported; else at least them, unless
 * the child collected blocks in buffers (`buffered`): then any whole
 * number of blocks, always an exact prefix. */
static void check_session(const char *path, const progress *p, int exact,
                          int buffered, const char *label) {
  mef3_reader *r;
  int rc = mef3_reader_open(&r, path, NULL);
  CHECK_MSG(rc == 0, "%s: open: %s", label, mef3_error_last()->message);
  if (rc)
    return;
  CHECK(mef3_reader_channel_count(r) == NCH);
  for (int c = 0; c < NCH && c < (int)mef3_reader_channel_count(r); c++) {
    const mef3_channel_info *ci = mef3_reader_channel(r, (size_t)c);
    int64_t whole = p->written[c] / bs[c] * bs[c];
    int64_t n = ci->n_samples;
    if (exact)
      CHECK_MSG(n == whole, "%s: c%d holds %lld samples, want %lld", label, c,
                (long long)n, (long long)whole);
    else
      CHECK_MSG((buffered || n >= whole) && n % bs[c] == 0,
                "%s: c%d holds %lld samples, reported %lld", label, c,
                (long long)n, (long long)p->written[c]);
    int32_t *x = malloc((size_t)(n ? n : 1) * sizeof *x);
    size_t got = 0;
    mef3_read_report rep;
    CHECK_RC(mef3_reader_read_samples(&got, &rep, r, (size_t)c, 0, n, MEF3_I32,
                                      x, (size_t)n),
             0);
    int64_t bad = -1;
    for (int64_t i = 0; i < n && bad < 0; i++)
      if (x[i] != value(c, i))
        bad = i;
    CHECK_MSG(bad < 0 && rep.n_bad_blocks == 0,
              "%s: c%d differs at sample %lld (%zu bad blocks)", label, c,
              (long long)bad, rep.n_bad_blocks);
    free(x);
    /* Blocks sit on the time grid. */
    const mef3_block_info *b;
    size_t nb;
    CHECK_RC(mef3_reader_blocks(&b, &nb, r, (size_t)c), 0);
    for (size_t i = 0; i < nb; i++)
      CHECK(b[i].start_uutc ==
            T0 + llround((double)b[i].start_sample * 1e6 / fs[c]));
  }
  mef3_record *rec;
  size_t nr;
  CHECK_RC(mef3_reader_records(&rec, &nr, r, 1), 0);
  if (exact)
    CHECK(nr == (size_t)p->notes);
  else
    CHECK(nr >= (size_t)p->notes); /* records are never buffered */
  for (size_t i = 0; i < nr; i++) {
    char want[32];
    snprintf(want, sizeof want, "note %lld",
             (long long)((rec[i].time - T0) / 1000));
    CHECK(rec[i].text && !strcmp(rec[i].text, want));
  }
  mef3_records_free(rec, nr);
  mef3_reader_close(r);
}

/* A writer killed between calls (never during a write) leaves every
 * append-only file with a true header: entry count and body CRC, not "no
 * entry", so that readers stricter than ours (meflib) open it too. */
static void check_headers(const char *path) {
  static const char *const types[] = {"tdat", "tidx"};
  for (int c = 0; c < NCH; c++)
    for (int t = 0; t < 2; t++) {
      char f[4200];
      snprintf(f, sizeof f, "%s/c%d.timd/c%d-000000.segd/c%d-000000.%s", path,
               c, c, c, types[t]);
      size_t len = 0;
      uint8_t *b = tu_read_file(f, &len);
      REQUIRE(b != NULL && len >= MEF3_UH_BYTES);
      mef3_universal_header uh;
      CHECK_RC(mef3_uh_parse(&uh, b, len, types[t], f), 0);
      CHECK_MSG(uh.number_of_entries >= 0 && uh.body_crc != 0 &&
                    uh.body_crc ==
                        mef3_crc32(b + MEF3_UH_BYTES, len - MEF3_UH_BYTES),
                "%s: header says %lld entries, CRC %08x", f,
                (long long)uh.number_of_entries, uh.body_crc);
      if (t == 1)
        CHECK(uh.number_of_entries ==
              (int64_t)((len - MEF3_UH_BYTES) / MEF3_INDEX_BYTES));
      free(b);
    }
  char f[4200];
  snprintf(f, sizeof f, "%s/k.rdat", path);
  size_t len = 0;
  uint8_t *b = tu_read_file(f, &len);
  REQUIRE(b != NULL);
  mef3_universal_header uh;
  CHECK_RC(mef3_uh_parse(&uh, b, len, "rdat", f), 0);
  CHECK(uh.number_of_entries > 0 && uh.body_crc != 0);
  free(b);
}

static void self_kill(void) {
  const char *dir = tu_scratch("self");
  char path[3000];
  snprintf(path, sizeof path, "%s/k.mefd", dir);
  int64_t calls = 123;
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0)
    child(path, -1, calls, 0);
  int st = 0;
  REQUIRE(waitpid(pid, &st, 0) == pid);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  /* What the child had written when it killed itself. */
  progress p = {{0}, 0};
  for (int64_t call = 0; call < calls; call++) {
    for (int c = 0; c < NCH; c++)
      p.written[c] += 1 + (call * 131 + c * 17) % 300;
    if (call % 40 == 0)
      p.notes++;
  }
  check_session(path, &p, 1, 0, "self-kill");
  check_headers(path);
}

/* Buffered children killing themselves after `calls` calls: whatever the
 * buffers held, the index never names blocks that are not in the file. */
static void self_kill_buffered(int64_t calls) {
  char tag[64];
  snprintf(tag, sizeof tag, "self-buffered-%lld", (long long)calls);
  const char *dir = tu_scratch(tag);
  char path[3000];
  snprintf(path, sizeof path, "%s/k.mefd", dir);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0)
    child(path, -1, calls, 2000);
  int st = 0;
  REQUIRE(waitpid(pid, &st, 0) == pid);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  progress p = {{0}, 0};
  for (int64_t call = 0; call < calls; call++)
    if (call % 40 == 0)
      p.notes++;
  check_session(path, &p, 0, 1, tag);
}

static void killed(int64_t at_calls, size_t io_buffer, const char *tag) {
  const char *dir = tu_scratch(tag);
  char path[3000];
  snprintf(path, sizeof path, "%s/k.mefd", dir);
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    child(path, fds[1], -1, io_buffer);
  }
  close(fds[1]);
  progress p = {{0}, 0}, q;
  int64_t seen = 0;
  while (seen < at_calls && read(fds[0], &q, sizeof q) == (ssize_t)sizeof q) {
    p = q;
    seen++;
  }
  kill(pid, SIGKILL);
  close(fds[0]);
  int st = 0;
  REQUIRE(waitpid(pid, &st, 0) == pid);
  CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
            "%s: the child ended on its own (status %d)", tag, st);
  CHECK(seen == at_calls);
  check_session(path, &p, 0, io_buffer != 0, tag);
}

int main(void) {
  self_kill();
  killed(1, 0, "kill-1");
  killed(17, 0, "kill-17");
  killed(250, 0, "kill-250");
  killed(1000, 0, "kill-1000");
  killed(3001, 0, "kill-3001");
  for (int64_t calls = 3; calls < 200; calls += 7)
    self_kill_buffered(calls);
  killed(400, 3000, "kill-buffered-400");
  killed(2500, 3000, "kill-buffered-2500");
  return check_finish();
}
