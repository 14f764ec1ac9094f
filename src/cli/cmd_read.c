/*
 * cli/cmd_read.c - `mef3pool read`: decode a time window or a range of
 * stored samples of some channels and write them as raw little-endian
 * binary (f32, f64, i32), CSV, NumPy .npy or .npz (the structured
 * formats: cli_out.h).  The format is --format's, else the -o file's
 * extension's; what a format cannot hold (CSV rows of channels at
 * different rates, an npy of unequal lengths) is refused before reading.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "cli_out.h"

static const char read_usage[] =
    "usage: mef3pool read SESSION [--channels a,b] (--start T0 --end T1 |\n"
    "                     --samples S0:S1) [--password P | --password-file F]\n"
    "                     [--format f32|f64|i32|csv|npy|npz] [-o FILE]\n\n"
    "Decode channels of a MEF 3.0 session over the time window [T0, T1) or\n"
    "the stored samples [S0, S1).  T0/T1 are absolute µUTC integers, ISO\n"
    "8601 UTC times (2021-01-01T00:10:00.5Z), or times after the session's\n"
    "start: a number with a unit us, ms, s, m or h (--start 10s), or\n"
    "hh:mm:ss[.f].  A window wholly outside the recording reads as NaN,\n"
    "with a note on stderr.  Without --channels every channel is read\n"
    "(--channels \"ch01, ch02\": spaces around names are ignored).\n\n"
    "Formats (without --format, the extension of -o FILE says: .f32, .f64,\n"
    ".i32, .csv, .npy, .npz; another is a usage error; no -o: f32):\n"
    "  f32, f64  physical units (raw x units conversion factor), i32 raw\n"
    "            counts (-2147483648 where there is no sample); little-\n"
    "            endian, channels one after another, each complete\n"
    "  csv       a header line, then one row per sample: time_uutc (µUTC),\n"
    "            time_s (seconds from the first row), one column per\n"
    "            channel; the channels must share a rate (and, for\n"
    "            --samples, their sample times)\n"
    "  npy       a (channels, samples) float32 array (equal lengths)\n"
    "  npz       NumPy archive (np.load): data, float64 (channels,\n"
    "            samples) when the rates are equal, else data_0, data_1,\n"
    "            ... per channel; channels, fs, start_uutc (of sample 0),\n"
    "            units, units_conversion_factor\n"
    "Slots with no sample are NaN.  Output goes to stdout unless -o is\n"
    "given.\n\n" CLI_PASSWORD_HELP;

/* µUTC of the stored samples [s0, s0 + n) of channel `c`: a block's
 * samples follow its start time at 1/fs (the reader's rule). */
static int sample_times(const mef3_reader *r, size_t c, int64_t s0, size_t n,
                        int64_t *out) {
  const mef3_block_info *b;
  size_t nb;
  int rc = mef3_reader_blocks(&b, &nb, r, c);
  if (rc)
    return rc;
  double fs = mef3_reader_channel(r, c)->fs;
  size_t lo = 0, hi = nb;
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (b[mid].start_sample <= s0)
      lo = mid;
    else
      hi = mid;
  }
  for (size_t i = 0; i < n && nb; i++) {
    int64_t k = s0 + (int64_t)i;
    while (lo + 1 < nb && b[lo + 1].start_sample <= k)
      lo++;
    out[i] = mef3_grid_time(b[lo].start_uutc, k - b[lo].start_sample, fs);
  }
  return 0;
}

/* What the command line asked for. */
typedef struct read_args {
  const char *path, *password, *pwfile, *chans, *start, *end, *samples, *outp;
  cli_format fmt;
  int fmt_given;
  int64_t s0, s1; /* --samples S0:S1 */
} read_args;

/* A read in progress: its channels, their decoded data and stored times. */
typedef struct read_job {
  read_args a;
  mef3_reader *r;
  char **names; /* --channels, split */
  size_t n_names;
  size_t nch;
  size_t *idx, *lens; /* per output channel: reader index, samples read */
  void **data;
  int64_t *starts;       /* µUTC of each channel's sample 0 */
  int64_t *times, *other; /* stored samples' times (csv, npz) */
  cli_out_channel *cols;
  int64_t base, rec_end; /* the recording's span */
  int64_t t0, t1;        /* the window (not --samples) */
} read_job;

/* The stages below return -1 to go on, else the command's exit code. */
#define GO_ON (-1)

static int parse_args(read_args *a, int argc, char **argv) {
  const char *v;
  a->fmt = FMT_F32;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(read_usage, stdout);
      return CLI_OK;
    }
#define OPT(name, var)                                                         \
  if (cli_opt(argc, argv, &i, name, &v)) {                                     \
    if (!v)                                                                    \
      return cli_fail(CLI_USAGE, "%s needs a value", name);                    \
    a->var = v;                                                                \
    continue;                                                                  \
  }
    OPT("--password", password)
    OPT("--password-file", pwfile)
    OPT("--channels", chans)
    OPT("--start", start)
    OPT("--end", end)
    OPT("--samples", samples)
    OPT("-o", outp)
    OPT("--output", outp)
#undef OPT
    if (cli_opt(argc, argv, &i, "--format", &v)) {
      if (!v || cli_format_parse(v, &a->fmt))
        return cli_fail(CLI_USAGE,
                        "--format takes f32, f64, i32, csv, npy or npz");
      a->fmt_given = 1;
      continue;
    }
    if (argv[i][0] == '-' && argv[i][1])
      return cli_fail(CLI_USAGE, "read: unknown option %s", argv[i]);
    if (a->path)
      return cli_fail(CLI_USAGE, "read: one session at a time");
    a->path = argv[i];
  }
  if (!a->path)
    return cli_fail(CLI_USAGE, "read: give a SESSION");
  if (!a->samples && (!a->start || !a->end))
    return cli_fail(CLI_USAGE, "read: give --start and --end, or --samples");
  if (a->samples && (a->start || a->end))
    return cli_fail(CLI_USAGE, "read: --samples excludes --start/--end");
  if (a->samples) {
    const char *colon = strchr(a->samples, ':');
    char s0[32];
    if (!colon || (size_t)(colon - a->samples) >= sizeof s0)
      return cli_fail(CLI_USAGE, "--samples takes S0:S1");
    memcpy(s0, a->samples, (size_t)(colon - a->samples));
    s0[colon - a->samples] = '\0';
    if (cli_parse_i64(s0, &a->s0) || cli_parse_i64(colon + 1, &a->s1) ||
        a->s0 < 0 || a->s1 < a->s0)
      return cli_fail(CLI_USAGE, "--samples takes S0:S1 with 0 <= S0 <= S1");
  }
  if (a->outp && !a->fmt_given) {
    int fex = cli_format_of_path("read", a->outp, &a->fmt);
    if (fex)
      return fex;
  }
  if (!a->outp && isatty(STDOUT_FILENO) && a->fmt != FMT_CSV)
    return cli_fail(CLI_USAGE, "read: refusing to write binary data to a "
                               "terminal; use -o FILE or --format csv");
  return GO_ON;
}

/* Samples of output channel k in the window. */
static int64_t job_samples(const read_job *j, size_t k) {
  if (j->a.samples)
    return j->a.s1 - j->a.s0;
  return mef3_window_samples(j->t0, j->t1,
                             mef3_reader_channel(j->r, j->idx[k])->fs);
}

/* The channels to read (names to indices), the recording's span, and the
 * window in µUTC (relative times count from the recording's start). */
static int pick_channels(read_job *j) {
  const read_args *a = &j->a;
  mef3_reader *r = j->r;
  size_t all = mef3_reader_channel_count(r);
  j->nch = all;
  if (a->chans) {
    if (cli_split_names(a->chans, &j->names, &j->n_names) || j->n_names == 0)
      return cli_fail(CLI_USAGE, "--channels takes a comma-separated list");
    j->nch = j->n_names;
  }
  size_t nch = j->nch;
  j->idx = calloc(nch, sizeof *j->idx);
  j->lens = calloc(nch, sizeof *j->lens);
  j->data = calloc(nch, sizeof *j->data);
  j->starts = calloc(nch, sizeof *j->starts);
  j->cols = calloc(nch, sizeof *j->cols);
  if (!j->idx || !j->lens || !j->data || !j->starts || !j->cols)
    return cli_fail(CLI_FAIL, "out of memory");
  j->base = INT64_MAX;
  j->rec_end = INT64_MIN;
  for (size_t c = 0; c < all; c++) {
    const mef3_channel_info *ci = mef3_reader_channel(r, c);
    if (ci->start_uutc == MEF3_UUTC_NO_ENTRY)
      continue;
    if (ci->start_uutc < j->base)
      j->base = ci->start_uutc;
    if (ci->end_uutc > j->rec_end)
      j->rec_end = ci->end_uutc;
  }
  if (j->base == INT64_MAX)
    j->base = j->rec_end = 0;
  for (size_t k = 0; k < nch; k++) {
    if (!j->names) {
      j->idx[k] = k;
      continue;
    }
    int ci = mef3_reader_find_channel(r, j->names[k]);
    if (ci < 0) {
      const char **have = calloc(all ? all : 1, sizeof *have);
      for (size_t i = 0; have && i < all; i++)
        have[i] = mef3_reader_channel(r, i)->name;
      int ret = have ? cli_fail_channel(a->path, j->names[k], have, all)
                     : cli_fail(CLI_FAIL, "out of memory");
      free(have);
      return ret;
    }
    j->idx[k] = (size_t)ci;
  }
  if (!a->samples) {
    if (cli_parse_time(a->start, j->base, &j->t0) ||
        cli_parse_time(a->end, j->base, &j->t1))
      return cli_fail(CLI_USAGE, "read: --start/--end take " CLI_TIME_FORMS);
    if (j->t1 < j->t0)
      return cli_fail(CLI_USAGE, "read: --end is before --start");
    cli_note_outside(j->t0, j->t1, j->base, j->rec_end);
  }
  return GO_ON;
}

/* What the format cannot hold is refused before a long read. */
static int check_format(const read_job *j) {
  cli_format fmt = j->a.fmt;
  if (fmt != FMT_CSV && fmt != FMT_NPY)
    return GO_ON;
  const mef3_channel_info *c0 = mef3_reader_channel(j->r, j->idx[0]);
  int64_t n0 = job_samples(j, 0);
  for (size_t k = 1; k < j->nch; k++) {
    const mef3_channel_info *ck = mef3_reader_channel(j->r, j->idx[k]);
    int64_t nk = job_samples(j, k);
    if (fmt == FMT_CSV && ck->fs != c0->fs)
      return cli_fail(CLI_FAIL,
                      "csv rows are sample times, and %s (%g Hz) and %s (%g "
                      "Hz) do not share them; read them separately, or as "
                      "npz",
                      c0->name, c0->fs, ck->name, ck->fs);
    if (fmt == FMT_NPY && nk != n0)
      return cli_fail(CLI_FAIL,
                      "npy needs channels of equal length (%s has %" PRId64
                      " samples, %s %" PRId64 "); read them separately, or "
                      "as npz",
                      c0->name, n0, ck->name, nk);
  }
  return GO_ON;
}

/* The times of stored samples: each row's for csv, sample 0's for npz
 * (a read too long to hold is refused later, by the read). */
static int stored_times(read_job *j) {
  const read_args *a = &j->a;
  if (!(a->samples && (a->fmt == FMT_CSV || a->fmt == FMT_NPZ) &&
        a->s1 - a->s0 <= (int64_t)1 << 32)) {
    for (size_t k = 0; k < j->nch; k++)
      j->starts[k] = j->t0;
    return GO_ON;
  }
  size_t m = a->fmt == FMT_CSV ? (size_t)(a->s1 - a->s0) : 1;
  j->times = malloc((m ? m : 1) * sizeof *j->times);
  j->other = malloc((m ? m : 1) * sizeof *j->other);
  if (!j->times || !j->other)
    return cli_fail(CLI_FAIL, "out of memory");
  const mef3_channel_info *c0 = mef3_reader_channel(j->r, j->idx[0]);
  for (size_t k = 0; k < j->nch; k++) {
    const mef3_channel_info *ck = mef3_reader_channel(j->r, j->idx[k]);
    size_t mk = a->s0 < ck->n_samples ? m : 0;
    int64_t *t = k ? j->other : j->times;
    int rc = sample_times(j->r, j->idx[k], a->s0, mk, t);
    if (rc)
      return cli_lib_fail(rc, ck->name);
    j->starts[k] = mk ? t[0] : ck->end_uutc;
    if (a->fmt == FMT_CSV && k && memcmp(j->times, j->other, mk * sizeof *t))
      return cli_fail(CLI_FAIL,
                      "csv rows are sample times, and the stored samples "
                      "%" PRId64 ":%" PRId64 " of %s and %s lie at "
                      "different times; read them separately, or by "
                      "--start/--end",
                      a->s0, a->s1, c0->name, ck->name);
  }
  return GO_ON;
}

static mef3_sample_type job_type(const read_job *j) {
  cli_format f = j->a.fmt;
  return f == FMT_F64 || f == FMT_NPZ ? MEF3_F64
         : f == FMT_I32               ? MEF3_I32
                                      : MEF3_F32;
}

/* Decode every channel; damaged blocks are a warning (their slots NaN). */
static int read_channels(read_job *j) {
  const read_args *a = &j->a;
  mef3_sample_type type = job_type(j);
  size_t es = mef3_sample_size(type);
  /* Progress per channel on a terminal, for reads of a second or more. */
  int show = isatty(STDERR_FILENO) && j->nch > 1 &&
             job_samples(j, 0) * (int64_t)j->nch > (int64_t)4000000;
  for (size_t k = 0; k < j->nch; k++) {
    const mef3_channel_info *ci = mef3_reader_channel(j->r, j->idx[k]);
    int64_t n = job_samples(j, k);
    if (show)
      fprintf(stderr, "\rreading: channel %zu of %zu (%s)\033[K", k + 1,
              j->nch, ci->name);
    if (n > (int64_t)1 << 32)
      return cli_fail(CLI_FAIL,
                      "%s: the window holds %" PRId64 " samples at %g Hz, too "
                      "many to read at once (a plain integer time is µUTC)",
                      ci->name, n, ci->fs);
    if (!(j->data[k] = malloc(n ? (size_t)n * es : 1)))
      return cli_fail(CLI_FAIL, "out of memory for %" PRId64 " samples", n);
    mef3_read_report rep;
    int rc = a->samples
                 ? mef3_reader_read_samples(&j->lens[k], &rep, j->r, j->idx[k],
                                            a->s0, a->s1, type, j->data[k],
                                            (size_t)n)
                 : mef3_reader_read_time(&j->lens[k], &rep, j->r, j->idx[k],
                                         j->t0, j->t1, type, j->data[k],
                                         (size_t)n, NULL);
    if (rc)
      return cli_lib_fail(rc, ci->name);
    if (rep.n_bad_blocks)
      fprintf(stderr,
              "mef3pool: warning: %s: %zu block(s) could not be decoded; "
              "first: %s\n",
              ci->name, rep.n_bad_blocks, rep.first_message);
  }
  if (show)
    fputs("\r\033[K", stderr);
  return GO_ON;
}

/* Write the channels in the format to -o FILE or stdout. */
static int write_output(read_job *j) {
  const read_args *a = &j->a;
  const char *what = a->outp ? a->outp : "stdout";
  FILE *out = stdout;
  if (a->outp && !(out = fopen(a->outp, a->fmt == FMT_CSV ? "w" : "wb")))
    return cli_fail(CLI_FAIL, "%s: cannot create: %m", a->outp);
  int werr = 0;
  if (a->fmt == FMT_CSV || a->fmt == FMT_NPY || a->fmt == FMT_NPZ) {
    for (size_t k = 0; k < j->nch; k++) {
      const mef3_channel_info *ck = mef3_reader_channel(j->r, j->idx[k]);
      j->cols[k] = (cli_out_channel){ck->name,
                                     ck->units_description,
                                     ck->fs,
                                     ck->units_conversion_factor,
                                     j->starts[k],
                                     a->samples ? j->times : NULL,
                                     j->data[k],
                                     j->lens[k]};
    }
    werr = a->fmt == FMT_CSV   ? cli_out_csv(out, j->cols, j->nch)
           : a->fmt == FMT_NPY ? cli_out_npy(out, j->cols, j->nch)
                               : cli_out_npz(out, j->cols, j->nch);
  } else {
    size_t es = mef3_sample_size(job_type(j));
    for (size_t k = 0; k < j->nch && !werr; k++)
      werr = fwrite(j->data[k], es, j->lens[k], out) != j->lens[k];
  }
  werr |= fflush(out) != 0 || ferror(out);
  if (out != stdout)
    werr |= fclose(out) != 0;
  if (werr)
    return cli_fail(CLI_FAIL, "%s: write failed: %m", what);
  return CLI_OK;
}

static void job_free(read_job *j) {
  if (j->data)
    for (size_t k = 0; k < j->nch; k++)
      free(j->data[k]);
  free(j->data);
  free(j->lens);
  free(j->idx);
  free(j->starts);
  free(j->cols);
  free(j->times);
  free(j->other);
  cli_free_split(j->names, j->n_names);
  mef3_reader_close(j->r);
}

int mef3_cli_read(int argc, char **argv) {
  read_job j;
  memset(&j, 0, sizeof j);
  int ret = parse_args(&j.a, argc, argv);
  if (ret != GO_ON)
    return ret;
  const char *password = j.a.password;
  int pex = cli_password(j.a.password, j.a.pwfile, &password);
  if (pex >= 0)
    return pex;
  mef3_reader_options o = MEF3_READER_OPTIONS_INIT;
  o.password = password;
  int rc = mef3_reader_open(&j.r, j.a.path, &o);
  if (rc && !password && cli_password_prompt(rc, j.a.path, &o.password))
    rc = mef3_reader_open(&j.r, j.a.path, &o);
  if (rc)
    return cli_lib_fail(rc, "cannot open session");
  if ((ret = pick_channels(&j)) == GO_ON && (ret = check_format(&j)) == GO_ON &&
      (ret = stored_times(&j)) == GO_ON && (ret = read_channels(&j)) == GO_ON)
    ret = write_output(&j);
  job_free(&j);
  return ret;
}
