/*
 * cli/cmd_gen.c - `mef3pool gen`: write a session of realistic,
 * deterministic EEG-like data (mef3_gen_session), for tests, benchmarks
 * and demonstrations.  Progress goes to stderr when it is a terminal; the
 * summary (sizes and write speed) to stdout.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* What gen.h's start_uutc 0 means: 2021-01-01T00:00:00Z. */
#define GEN_DEFAULT_START INT64_C(1609459200000000)

static const char gen_usage[] =
    "usage: mef3pool gen OUT.mefd --channels N --fs HZ --duration D\n"
    "                    [--seed S] [--block-seconds B] [--gaps N]\n"
    "                    [--gap START:LEN]... [--segment D]\n"
    "                    [--password L1[,L2] | --password-file F]\n"
    "                    [--encrypt-data[=1|2]]\n"
    "                    [--start T] [--ufact UV]\n\n"
    "Write a new MEF 3.0 session of EEG-like data: 1/f background, alpha\n"
    "rhythm, spikes, blinks, muscle and electrode artefacts, line noise,\n"
    "different on every channel.  The same arguments give the same files.\n\n"
    "  --channels N        number of channels (ch01, ch02, ...)\n"
    "  --fs HZ             sampling frequency\n"
    "  --duration D        length: 90s, 30m, 1h, 1500ms (plain number: s)\n"
    "  --seed S            random seed (default 0)\n"
    "  --block-seconds B   RED block length in seconds (default 1)\n"
    "  --gaps N            N random gaps (0.5 s to 60 s each, in the middle\n"
    "                      90% of the recording, together at most half\n"
    "                      of it)\n"
    "  --gap START:LEN     a gap LEN long at START after the start (both as\n"
    "                      durations); may be repeated\n"
    "  --segment D         start a new segment every D\n"
    "  --password L1[,L2]  encrypt metadata: section 2 with L1, section 3\n"
    "                      with L2 (or L1); seen by every user in ps:\n"
    "                      prefer --password-file F (line 1: L1, line 2:\n"
    "                      L2) or MEF3POOL_PASSWORD=L1[,L2]\n"
    "  --encrypt-data[=L]  also encrypt the data blocks at level L (1)\n"
    "  --start T           time of the first sample (default 2021-01-01):\n"
    "                      µUTC, ISO 8601 UTC (2022-03-01T08:00:00Z) or\n"
    "                      after the default (10s, 01:00:00)\n"
    "  --ufact UV          microvolts per count (default 0.1)\n\n"
    "Every gap asked for is written, so `mef3pool info` shows them all: a\n"
    "gap must hold a sample slot, have samples before and after it and\n"
    "not touch another gap; a gap that cannot be placed (or more random\n"
    "gaps than fit) is a usage error, before anything is written.\n";

static int parse_double(const char *s, double *out) {
  if (!s || !*s)
    return -1;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || *end || !isfinite(v))
    return -1;
  *out = v;
  return 0;
}

static int parse_u64(const char *s, uint64_t *out) {
  if (!s || !*s || *s == '-')
    return -1;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end)
    return -1;
  *out = v;
  return 0;
}

static int progress(double done, void *payload) {
  (void)payload;
  fprintf(stderr, "\rgen: %3d%%", (int)(100 * done));
  return 0;
}

/* What the command line asked for, and what it owns. */
typedef struct gen_args {
  const char *out, *password, *pw_file;
  mef3_gen_options o;
  int have_channels, have_fs, have_duration, help;
  mef3_gen_gap *gaps;
  size_t n_gaps;
  char **pw;                /* --password, split */
  size_t n_pw, n_levels;    /* its parts; passwords given */
} gen_args;

static void gen_args_free(gen_args *g) {
  free(g->gaps);
  cli_free_split(g->pw, g->n_pw);
}

/* --gap START:LEN, appended to g->gaps. */
static int add_gap(gen_args *g, const char *val) {
  const char *colon = val ? strchr(val, ':') : NULL;
  char start[64];
  mef3_gen_gap gap;
  if (!colon || (size_t)(colon - val) >= sizeof start)
    return cli_fail(CLI_USAGE, "gen: --gap needs START:LEN");
  memcpy(start, val, (size_t)(colon - val));
  start[colon - val] = '\0';
  if (cli_parse_duration(start, &gap.start_us) ||
      cli_parse_duration(colon + 1, &gap.length_us) || gap.length_us <= 0)
    return cli_fail(CLI_USAGE, "gen: --gap needs START:LEN, durations "
                               "such as 10m:30s");
  mef3_gen_gap *ng = realloc(g->gaps, (g->n_gaps + 1) * sizeof *ng);
  if (!ng)
    return cli_fail(CLI_FAIL, "gen: out of memory");
  g->gaps = ng;
  g->gaps[g->n_gaps++] = gap;
  return CLI_OK;
}

/* One option at argv[*i] (consuming its value); CLI_OK or the exit code. */
static int gen_option(gen_args *g, int argc, char **argv, int *i) {
  const char *a = argv[*i], *val = NULL;
  mef3_gen_options *o = &g->o;
  uint64_t u;
  if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
    g->help = 1;
  } else if (cli_opt(argc, argv, i, "--channels", &val)) {
    if (parse_u64(val, &u) || u < 1 || u > 100000)
      return cli_fail(CLI_USAGE, "gen: --channels needs a count from 1");
    o->n_channels = (size_t)u;
    g->have_channels = 1;
  } else if (cli_opt(argc, argv, i, "--fs", &val)) {
    if (parse_double(val, &o->fs) || !(o->fs > 0) || o->fs > 1e7)
      return cli_fail(CLI_USAGE, "gen: --fs needs a rate in Hz");
    g->have_fs = 1;
  } else if (cli_opt(argc, argv, i, "--duration", &val)) {
    if (cli_parse_duration(val, &o->duration_us) || o->duration_us <= 0)
      return cli_fail(CLI_USAGE, "gen: --duration needs a length such as "
                                 "30m");
    g->have_duration = 1;
  } else if (cli_opt(argc, argv, i, "--seed", &val)) {
    if (parse_u64(val, &o->seed))
      return cli_fail(CLI_USAGE, "gen: --seed needs a non-negative integer");
  } else if (cli_opt(argc, argv, i, "--block-seconds", &val)) {
    if (parse_double(val, &o->block_seconds) || !(o->block_seconds > 0))
      return cli_fail(CLI_USAGE, "gen: --block-seconds needs a positive "
                                 "number");
  } else if (cli_opt(argc, argv, i, "--gaps", &val)) {
    if (parse_u64(val, &u) || u > 100000)
      return cli_fail(CLI_USAGE, "gen: --gaps needs a count");
    o->n_random_gaps = (size_t)u;
  } else if (cli_opt(argc, argv, i, "--gap", &val)) {
    return add_gap(g, val);
  } else if (cli_opt(argc, argv, i, "--segment", &val)) {
    if (cli_parse_duration(val, &o->segment_us) || o->segment_us <= 0)
      return cli_fail(CLI_USAGE, "gen: --segment needs a duration");
  } else if (cli_opt(argc, argv, i, "--password", &val)) {
    if (!val || !*val)
      return cli_fail(CLI_USAGE, "gen: --password needs L1[,L2]");
    g->password = val;
  } else if (cli_opt(argc, argv, i, "--password-file", &val)) {
    if (!val || !*val)
      return cli_fail(CLI_USAGE, "gen: --password-file needs a file");
    g->pw_file = val;
  } else if (!strcmp(a, "--encrypt-data")) {
    o->data_encryption = 1;
  } else if (!strncmp(a, "--encrypt-data=", 15)) {
    if (strcmp(a + 15, "1") && strcmp(a + 15, "2"))
      return cli_fail(CLI_USAGE, "gen: --encrypt-data takes 1 or 2");
    o->data_encryption = a[15] - '0';
  } else if (cli_opt(argc, argv, i, "--start", &val)) {
    /* Relative times count from the default start. */
    int64_t t;
    if (!val || cli_parse_time(val, GEN_DEFAULT_START, &t) || t <= 0 ||
        t > INT64_MAX / 2)
      return cli_fail(CLI_USAGE,
                      "gen: --start takes a time after 1970: " CLI_TIME_FORMS);
    o->start_uutc = t;
  } else if (cli_opt(argc, argv, i, "--ufact", &val)) {
    if (parse_double(val, &o->units_conversion_factor) ||
        !(o->units_conversion_factor > 0))
      return cli_fail(CLI_USAGE, "gen: --ufact needs a positive number");
  } else if (a[0] == '-') {
    return cli_fail(CLI_USAGE, "gen: unknown option \"%s\"", a);
  } else if (!g->out) {
    g->out = a;
  } else {
    return cli_fail(CLI_USAGE, "gen: more than one output path");
  }
  return CLI_OK;
}

/* The passwords: --password, --password-file or MEF3POOL_PASSWORD. */
static int gen_passwords(gen_args *g) {
  if (g->password && g->pw_file)
    return cli_fail(CLI_USAGE, "gen: give --password or --password-file, not "
                               "both");
  if (!g->password && !g->pw_file) {
    const char *env = getenv("MEF3POOL_PASSWORD");
    if (env && *env)
      g->password = env; /* L1[,L2], as --password */
  }
  if (g->pw_file) {
    const char *l1, *l2;
    int ex = cli_password_pair(g->pw_file, &l1, &l2);
    if (ex >= 0)
      return ex;
    g->o.level_1_password = l1;
    g->o.level_2_password = l2;
    g->n_levels = l2 ? 2 : 1;
  }
  if (g->password) {
    if (cli_split(g->password, &g->pw, &g->n_pw) || g->n_pw < 1 ||
        g->n_pw > 2)
      return cli_fail(CLI_USAGE, "gen: --password takes L1 or L1,L2");
    g->o.level_1_password = g->pw[0];
    g->o.level_2_password = g->n_pw > 1 ? g->pw[1] : NULL;
    g->n_levels = g->n_pw;
  }
  if (g->o.data_encryption > (int)g->n_levels)
    return cli_fail(CLI_USAGE,
                    "gen: --encrypt-data=%d needs a level-%d "
                    "password",
                    g->o.data_encryption, g->o.data_encryption);
  return CLI_OK;
}

/* Write the session and print its summary. */
static int gen_write(gen_args *g) {
  mef3_gen_options *o = &g->o;
  o->gaps = g->gaps;
  o->n_gaps = g->n_gaps;
  /* A gap that cannot be placed is the user's to fix: a usage error,
   * before anything is written. */
  int crc = mef3_gen_check_options(o);
  if (crc) {
    if (crc == MEF3_EINVAL)
      return cli_fail(CLI_USAGE, "gen: %s", mef3_error_last()->message);
    return cli_lib_fail(crc, g->out);
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int tty = isatty(STDERR_FILENO);
  mef3_gen_result res;
  int lrc = mef3_gen_session(&res, g->out, o, tty ? progress : NULL, NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (tty)
    fputs("\r         \r", stderr);
  if (lrc)
    return cli_lib_fail(lrc, g->out);
  double secs =
      (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  double ratio =
      res.bytes ? 4.0 * (double)res.samples / (double)res.bytes : 0.0;
  printf("wrote %s: %zu channels at %g Hz, %.3f s, %zu gaps\n", g->out,
         o->n_channels, o->fs, (double)o->duration_us / 1e6, res.n_gaps);
  printf("%lld samples in %lld blocks, %.1f MB of blocks (ratio %.2f to "
         "int32)\n",
         (long long)res.samples, (long long)res.blocks, (double)res.bytes / 1e6,
         ratio);
  printf("%.2f s, %.1f MS/s\n", secs,
         secs > 0 ? (double)res.samples / secs / 1e6 : 0.0);
  return CLI_OK;
}

int mef3_cli_gen(int argc, char **argv) {
  gen_args g = {.o = MEF3_GEN_OPTIONS_INIT};
  int rc = CLI_OK;
  for (int i = 1; i < argc && rc == CLI_OK && !g.help; i++)
    rc = gen_option(&g, argc, argv, &i);
  if (g.help) {
    fputs(gen_usage, stdout);
  } else if (rc == CLI_OK) {
    if (!g.out || !g.have_channels || !g.have_fs || !g.have_duration)
      rc = cli_fail(CLI_USAGE, "gen: OUT.mefd, --channels, --fs and "
                               "--duration are required");
    else if ((rc = gen_passwords(&g)) == CLI_OK)
      rc = gen_write(&g);
  }
  gen_args_free(&g);
  return rc;
}
