/*
 * tests/server/test_server_envelope.c - GetEnvelope on the wire: the real
 * `mef3pool serve` (worker pool, --root, small chunks so that envelopes
 * span many messages) and the C client on loopback.
 *  - every envelope equals, bit for bit and field for field, the file
 *    manager's envelope of the same window read in this process: golden
 *    sessions (rates whose tiles are not multiples of the pyramid's base,
 *    gaps, a late channel) and a generated session with gaps, whose gap
 *    columns stay NaN; windows whole, inside, overlapping either end,
 *    widths reaching every pyramid level and the samples below it;
 *  - an encrypted session: the level-1 view's envelope with its token
 *    equals the level-1 file manager's (the level-2 channel NaN); no
 *    token, another client's wrong password: PERMISSION_DENIED;
 *  - bad arguments (0 or too many columns, end before start, an unknown
 *    channel, mixed rates): INVALID_ARGUMENT with a message saying what
 *    is wrong, seen raw (status, error chunk) and through the client.
 */
#include <math.h>

#include "rpc/rpc.h"
#include "server_helper.h"

static char root_dir[4096];
/* The local file manager's token of the session compared ("": none). */
static char local_token[MEF3_FILES_TOKEN_CHARS + 1];
static int compared, nan_columns, levels[8], raw_level;

/* The local reference: a file manager in this process. */
static mef3_files *local_fm(void) {
  mef3_files_options o = MEF3_FILES_OPTIONS_INIT;
  o.use_process_pool = 0;
  mef3_files *fm = NULL;
  REQUIRE(mef3_files_new(&fm, &o) == 0);
  return fm;
}

static int same_bits(float a, float b) {
  return (isnan(a) && isnan(b)) || !memcmp(&a, &b, sizeof a);
}

/* The served envelope of one window against the local one. */
static void compare(mef3_client *c, mef3_files *fm, const char *rel,
                    const char *const *chans, size_t nch, int64_t t0,
                    int64_t t1, size_t W) {
  char full[8192];
  snprintf(full, sizeof full, "%s/%s", root_dir, rel);
  mef3_envelope *got = NULL, *want = NULL;
  int rc = mef3_client_envelope(&got, c, rel, chans, nch, t0, t1, W);
  CHECK_MSG(rc == 0, "%s %s [%lld, %lld) W=%zu: %s", rel,
            nch ? chans[0] : "(all)", (long long)t0, (long long)t1, W,
            th_err());
  REQUIRE(mef3_files_envelope_as(&want, fm, full, local_token, chans, nch, t0,
                                 t1, W) == 0);
  if (rc) {
    mef3_envelope_free(want);
    return;
  }
  int same = got->n_channels == want->n_channels &&
             got->n_columns == want->n_columns && got->fs == want->fs &&
             got->samples_per_column == want->samples_per_column &&
             got->level == want->level && got->start_uutc == t0 &&
             got->end_uutc == t1;
  for (size_t i = 0; same && i < got->n_channels; i++)
    same = !strcmp(got->channel_names[i], want->channel_names[i]) &&
           got->first_sample[i] == want->first_sample[i] &&
           got->first_uutc[i] == want->first_uutc[i];
  size_t n = got->n_channels * got->n_columns;
  for (size_t i = 0; same && i < n; i++) {
    same = same_bits(got->min[i], want->min[i]) &&
           same_bits(got->max[i], want->max[i]);
    nan_columns += isnan(got->min[i]);
  }
  CHECK_MSG(same, "%s %s [%lld, %lld) W=%zu: served envelope differs", rel,
            nch ? chans[0] : "(all)", (long long)t0, (long long)t1, W);
  if (same) {
    compared++;
    if (got->level < 0)
      raw_level++;
    else if (got->level < 8)
      levels[got->level]++;
  }
  mef3_envelope_free(got);
  mef3_envelope_free(want);
}

/* Every channel of `rel`, alone, over many windows and widths. */
static void sweep(mef3_client *c, mef3_files *fm, const char *rel) {
  mef3_file_info *fi = NULL;
  REQUIRE(mef3_client_info(&fi, c, rel) == 0);
  static const size_t widths[] = {1, 17, 640, 1500};
  for (size_t k = 0; k < fi->n_channels; k++) {
    const mef3_file_channel *ch = &fi->channels[k];
    const char *one[] = {ch->name};
    int64_t s = ch->start_uutc, d = ch->end_uutc - ch->start_uutc;
    for (size_t w = 0; w < sizeof widths / sizeof *widths; w++) {
      compare(c, fm, rel, one, 1, s, s + d, widths[w]);
      compare(c, fm, rel, one, 1, s + d / 7 + 3, s + d / 2, widths[w]);
      compare(c, fm, rel, one, 1, s - 2000000, s + d / 3, widths[w]);
      compare(c, fm, rel, one, 1, s + d / 2, s + d + 3000000, widths[w]);
    }
  }
  mef3_file_info_free(fi);
}

static void golden(mef3_client *c, mef3_files *fm) {
  static const char *rel[] = {"a.mefd", "b.mefd", "c.mefd"};
  for (size_t i = 0; i < 3; i++) {
    char full[8192];
    snprintf(full, sizeof full, "%s/%s", root_dir, rel[i]);
    REQUIRE(mef3_files_open(NULL, fm, full, NULL) == 0);
    CHECK_RC(mef3_client_open(NULL, NULL, c, rel[i], NULL), 0);
    sweep(c, fm, rel[i]);
  }
  /* All channels (none named) of a one-rate session. */
  mef3_file_info *fi = NULL;
  REQUIRE(mef3_client_info(&fi, c, "a.mefd") == 0);
  compare(c, fm, "a.mefd", NULL, 0, fi->start_uutc, fi->end_uutc, 300);
  mef3_file_info_free(fi);
}

/* 4 channels, 512 Hz, 20 min with two gaps: several channels at once,
 * whole columns in the gap NaN. */
static void generated(mef3_client *c, mef3_files *fm) {
  char path[8192];
  snprintf(path, sizeof path, "%s/gen.mefd", root_dir);
  mef3_gen_options g = MEF3_GEN_OPTIONS_INIT;
  g.n_channels = 4;
  g.fs = 512;
  g.duration_us = (int64_t)20 * 60 * 1000000;
  g.seed = 11;
  mef3_gen_gap gaps[2] = {{(int64_t)200 * 1000000, (int64_t)120 * 1000000},
                          {(int64_t)700 * 1000000, 900000}};
  g.gaps = gaps;
  g.n_gaps = 2;
  REQUIRE(mef3_gen_session(NULL, path, &g, NULL, NULL) == 0);
  REQUIRE(mef3_files_open(NULL, fm, path, NULL) == 0);
  mef3_file_info *fi = NULL;
  REQUIRE(mef3_client_open(&fi, NULL, c, "gen.mefd", NULL) == 0);
  int before = nan_columns;
  compare(c, fm, "gen.mefd", NULL, 0, fi->start_uutc, fi->end_uutc, 1000);
  /* 120 s in columns of 768 samples (1.5 s): 80 columns of each. */
  CHECK_MSG(nan_columns - before >= 4 * 78, "%d NaN columns",
            nan_columns - before);
  const char *two[] = {fi->channels[2].name, fi->channels[0].name};
  compare(c, fm, "gen.mefd", two, 2, fi->start_uutc + 150000000,
          fi->start_uutc + 400000000, 777);
  compare(c, fm, "gen.mefd", two, 2, fi->start_uutc + 699000000,
          fi->start_uutc + 702000000, 3000);
  mef3_file_info_free(fi);
  sweep(c, fm, "gen.mefd");
}

/* A raw GetEnvelope: the status, its details and the first chunk's
 * error_message (copied into `msg`). */
static grpc_status_code raw_envelope(const char *addr, const EnvelopeRequest *rq,
                                     const char *token, char *msg, size_t cap) {
  size_t n = envelope_request__get_packed_size(rq);
  uint8_t *buf = malloc(n ? n : 1);
  REQUIRE(buf);
  envelope_request__pack(rq, buf);
  void *reply = NULL;
  size_t len = 0;
  grpc_status_code st = (grpc_status_code)tu_rpc_unary(
      addr, MEF3_RPC_ENVELOPE, buf, n, token, &reply, &len);
  free(buf);
  msg[0] = '\0';
  EnvelopeChunk *ch =
      reply ? envelope_chunk__unpack(NULL, len, reply) : NULL;
  if (ch && ch->error_message)
    snprintf(msg, cap, "%s", ch->error_message);
  if (ch)
    envelope_chunk__free_unpacked(ch, NULL);
  free(reply);
  return st;
}

static void bad_arguments(const char *addr, mef3_client *c) {
  mef3_file_info *fi = NULL;
  REQUIRE(mef3_client_info(&fi, c, "gen.mefd") == 0);
  int64_t t0 = fi->start_uutc;
  char *one[] = {(char *)fi->channels[0].name};
  char *nope[] = {"nope", (char *)fi->channels[1].name, "nix"};
  struct {
    int64_t a, b, cols;
    char **chans;
    size_t nch;
    const char *says;
  } bad[] = {
      {t0, t0 + 60000000, 0, one, 1, "max_columns must be in [1, 65536]"},
      {t0, t0 + 60000000, 65537, one, 1, "max_columns must be in [1, 65536]"},
      {t0, t0 + 60000000, (int64_t)1 << 40, one, 1,
       "max_columns must be in [1, 65536]"},
      {t0 + 60000000, t0, 100, one, 1,
       "end_uutc must be greater than start_uutc"},
      {t0, t0, 100, one, 1, "end_uutc must be greater than start_uutc"},
      {t0, t0 + 60000000, 100, nope, 3, "Unknown channels: ['nope', 'nix']"},
  };
  char msg[2048];
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    EnvelopeRequest rq = ENVELOPE_REQUEST__INIT;
    rq.file_path = "gen.mefd";
    rq.channel_names = bad[i].chans;
    rq.n_channel_names = bad[i].nch;
    rq.start_uutc = bad[i].a;
    rq.end_uutc = bad[i].b;
    rq.max_columns = bad[i].cols;
    grpc_status_code st = raw_envelope(addr, &rq, NULL, msg, sizeof msg);
    CHECK_MSG(st == GRPC_STATUS_INVALID_ARGUMENT && !strcmp(msg, bad[i].says),
              "bad case %zu: status %d, message \"%s\"", i, (int)st, msg);
    if (bad[i].cols <= 65536) {
      mef3_envelope *e = NULL;
      CHECK_RC(mef3_client_envelope(&e, c, "gen.mefd",
                                    (const char *const *)bad[i].chans,
                                    bad[i].nch, bad[i].a, bad[i].b,
                                    (size_t)bad[i].cols),
               MEF3_EINVAL);
      CHECK_MSG(strstr(th_err(), bad[i].says) != NULL, "client said: %s",
                th_err());
      CHECK(e == NULL);
    }
  }
  mef3_file_info_free(fi);
  /* Channels of different rates, none named: the rates are named. */
  mef3_envelope *e = NULL;
  CHECK_RC(mef3_client_envelope(&e, c, "b.mefd", NULL, 0, 1600000000000000,
                                1600000010000000, 10),
           MEF3_EINVAL);
  CHECK(strstr(th_err(), "do not share a sampling rate") != NULL);
  /* A session not open: a data error, as GetSignalRange's. */
  CHECK_RC(mef3_client_envelope(&e, c, "d2.mefd", NULL, 0, 0, 1000, 10),
           MEF3_ENOTFOUND);
  CHECK(strstr(th_err(), "File not open: d2.mefd") != NULL);
}

static int denied_status(const char *addr, const char *token) {
  EnvelopeRequest rq = ENVELOPE_REQUEST__INIT;
  char *one[] = {"ch01"};
  rq.file_path = "d2.mefd";
  rq.channel_names = one;
  rq.n_channel_names = 1;
  rq.start_uutc = 3600000123;
  rq.end_uutc = 3610000123;
  rq.max_columns = 10;
  char msg[2048];
  grpc_status_code st = raw_envelope(addr, &rq, token, msg, sizeof msg);
  CHECK_MSG(strstr(msg, "access token") != NULL, "message: %s", msg);
  return st == GRPC_STATUS_PERMISSION_DENIED;
}

static void encrypted(const char *addr, mef3_client *a) {
  char full[8192];
  snprintf(full, sizeof full, "%s/d2.mefd", root_dir);
  mef3_files *fm = local_fm();
  mef3_files_access acc;
  REQUIRE(mef3_files_open_as(&acc, NULL, fm, full, "l1pass") == 0);
  snprintf(local_token, sizeof local_token, "%s", acc.token);
  CHECK_RC(mef3_client_open(NULL, NULL, a, "d2.mefd", "l1pass"), 0);
  mef3_file_info *fi = NULL;
  REQUIRE(mef3_client_info(&fi, a, "d2.mefd") == 0);
  for (size_t k = 0; k < fi->n_channels; k++) {
    const char *one[] = {fi->channels[k].name};
    int before = nan_columns;
    compare(a, fm, "d2.mefd", one, 1, fi->channels[k].start_uutc,
            fi->channels[k].end_uutc, 200);
    /* ch02's blocks are encrypted at level 2: NaN at level 1 (118
     * columns of 512 samples). */
    if (!strcmp(one[0], "ch02"))
      CHECK(nan_columns - before >= 118);
  }
  mef3_file_info_free(fi);
  mef3_files_free(fm);
  local_token[0] = '\0';

  /* Another client: no token, then a wrong password. */
  mef3_client *b;
  REQUIRE(mef3_client_new(&b, addr, NULL) == 0);
  const char *one[] = {"ch01"};
  mef3_envelope *e = NULL;
  CHECK_RC(mef3_client_envelope(&e, b, "d2.mefd", one, 1, 3600000123,
                                3610000123, 10),
           MEF3_EPASSWORD);
  CHECK(e == NULL);
  CHECK_RC(mef3_client_open(NULL, NULL, b, "d2.mefd", "WRONGpw"),
           MEF3_EPASSWORD);
  CHECK_RC(mef3_client_envelope(&e, b, "d2.mefd", one, 1, 3600000123,
                                3610000123, 10),
           MEF3_EPASSWORD);
  mef3_client_free(b);
  CHECK(denied_status(addr, NULL));
  CHECK(denied_status(addr, "0123456789abcdef0123456789abcdef"));
  char tok[MEF3_FILES_TOKEN_CHARS + 1];
  REQUIRE(mef3_client_token_get(a, "d2.mefd", tok) == 0);
  EnvelopeRequest rq = ENVELOPE_REQUEST__INIT;
  char *ch1[] = {"ch01"};
  rq.file_path = "d2.mefd";
  rq.channel_names = ch1;
  rq.n_channel_names = 1;
  rq.start_uutc = 3600000123;
  rq.end_uutc = 3610000123;
  rq.max_columns = 10;
  char msg[2048];
  CHECK(raw_envelope(addr, &rq, tok, msg, sizeof msg) == GRPC_STATUS_OK);
  memset(tok, 0, sizeof tok);
  CHECK_RC(mef3_client_close_file(a, "d2.mefd"), 0);
}

int main(void) {
  if (!tu_have_golden()) {
    printf("no golden data at %s: skipped\n", MEF3_GOLDEN_DIR);
    return 0;
  }
  snprintf(root_dir, sizeof root_dir, "%s", tu_scratch("env root"));
  REQUIRE(tu_system("cp -a '%s' '%s/a.mefd' && cp -a '%s' '%s/b.mefd' && "
                    "cp -a '%s' '%s/c.mefd' && cp -a '%s' '%s/d2.mefd'",
                    tu_golden("sessions/a_single_256hz.mefd"), root_dir,
                    tu_golden("sessions/b_multi_8ch.mefd"), root_dir,
                    tu_golden("sessions/c_discontinuities.mefd"), root_dir,
                    tu_golden("sessions/d2_encrypted_blocks.mefd"),
                    root_dir) == 0);
  th_server srv;
  /* 7 s tiles: a window's pyramids come from several tiles; chunks of
   * 4 KiB: an envelope of 1500 columns takes three messages or more. */
  const char *extra[] = {"--tile-duration-s=7", "--chunk-bytes=4096", NULL};
  REQUIRE(th_start(&srv, root_dir, extra) == 0);
  mef3_client *c;
  REQUIRE(mef3_client_new(&c, srv.addr, NULL) == 0);
  mef3_files *fm = local_fm();
  golden(c, fm);
  generated(c, fm);
  bad_arguments(srv.addr, c);
  encrypted(srv.addr, c);
  mef3_files_free(fm);
  mef3_client_free(c);
  CHECK(compared > 100);
  CHECK(nan_columns > 0);
  CHECK(raw_level > 0);
  for (int l = 0; l < 3; l++)
    CHECK_MSG(levels[l] > 0, "level %d never served", l);
  CHECK(th_log_has(&srv, "envelope a.mefd"));
  CHECK(th_stop(&srv, SIGTERM) == 0);
  CHECK(th_no_children());
  return check_finish();
}
