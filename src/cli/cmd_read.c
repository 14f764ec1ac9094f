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

int mef3_cli_read(int argc, char **argv) {
  const char *path = NULL, *password = NULL, *chans = NULL, *start = NULL,
             *end = NULL, *samples = NULL, *outp = NULL, *pwfile = NULL, *v;
  cli_format fmt = FMT_F32;
  int fmt_given = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(read_usage, stdout);
      return CLI_OK;
    }
#define OPT(name, var)                                                         \
  if (cli_opt(argc, argv, &i, name, &v)) {                                     \
    if (!v)                                                                    \
      return cli_fail(CLI_USAGE, "%s needs a value", name);                    \
    var = v;                                                                   \
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
      if (!v || cli_format_parse(v, &fmt))
        return cli_fail(CLI_USAGE,
                        "--format takes f32, f64, i32, csv, npy or npz");
      fmt_given = 1;
      continue;
    }
    if (argv[i][0] == '-' && argv[i][1])
      return cli_fail(CLI_USAGE, "read: unknown option %s", argv[i]);
    if (path)
      return cli_fail(CLI_USAGE, "read: one session at a time");
    path = argv[i];
  }
  if (!path)
    return cli_fail(CLI_USAGE, "read: give a SESSION");
  if (!samples && (!start || !end))
    return cli_fail(CLI_USAGE, "read: give --start and --end, or --samples");
  if (samples && (start || end))
    return cli_fail(CLI_USAGE, "read: --samples excludes --start/--end");
  int64_t s0 = 0, s1 = 0;
  if (samples) {
    const char *colon = strchr(samples, ':');
    char a[32];
    if (!colon || (size_t)(colon - samples) >= sizeof a)
      return cli_fail(CLI_USAGE, "--samples takes S0:S1");
    memcpy(a, samples, (size_t)(colon - samples));
    a[colon - samples] = '\0';
    if (cli_parse_i64(a, &s0) || cli_parse_i64(colon + 1, &s1) || s0 < 0 ||
        s1 < s0)
      return cli_fail(CLI_USAGE, "--samples takes S0:S1 with 0 <= S0 <= S1");
  }
  if (outp && !fmt_given) {
    int fex = cli_format_of_path("read", outp, &fmt);
    if (fex)
      return fex;
  }
  FILE *out = stdout;
  if (!outp && isatty(STDOUT_FILENO) && fmt != FMT_CSV)
    return cli_fail(CLI_USAGE, "read: refusing to write binary data to a "
                               "terminal; use -o FILE or --format csv");

  int pex = cli_password(password, pwfile, &password);
  if (pex >= 0)
    return pex;
  mef3_reader_options o = MEF3_READER_OPTIONS_INIT;
  o.password = password;
  mef3_reader *r;
  int rc = mef3_reader_open(&r, path, &o);
  if (rc && !password && cli_password_prompt(rc, path, &o.password))
    rc = mef3_reader_open(&r, path, &o);
  if (rc)
    return cli_lib_fail(rc, "cannot open session");

  int ret = CLI_FAIL;
  char **names = NULL;
  size_t n_names = 0;
  size_t *idx = NULL, *lens = NULL;
  void **data = NULL;
  int64_t *starts = NULL, *times = NULL, *other = NULL;
  cli_out_channel *cols = NULL;
  size_t nch = mef3_reader_channel_count(r);
  if (chans) {
    if (cli_split_names(chans, &names, &n_names) || n_names == 0) {
      ret = cli_fail(CLI_USAGE, "--channels takes a comma-separated list");
      goto done;
    }
    nch = n_names;
  }
  idx = calloc(nch, sizeof *idx);
  lens = calloc(nch, sizeof *lens);
  data = calloc(nch, sizeof *data);
  starts = calloc(nch, sizeof *starts);
  cols = calloc(nch, sizeof *cols);
  if (!idx || !lens || !data || !starts || !cols) {
    ret = cli_fail(CLI_FAIL, "out of memory");
    goto done;
  }
  /* The recording's span: relative times count from its start. */
  int64_t base = INT64_MAX, rec_end = INT64_MIN;
  for (size_t c = 0; c < mef3_reader_channel_count(r); c++) {
    const mef3_channel_info *ci = mef3_reader_channel(r, c);
    if (ci->start_uutc == MEF3_UUTC_NO_ENTRY)
      continue;
    if (ci->start_uutc < base)
      base = ci->start_uutc;
    if (ci->end_uutc > rec_end)
      rec_end = ci->end_uutc;
  }
  if (base == INT64_MAX)
    base = rec_end = 0;
  for (size_t k = 0; k < nch; k++) {
    if (names) {
      int ci = mef3_reader_find_channel(r, names[k]);
      if (ci < 0) {
        size_t all = mef3_reader_channel_count(r);
        const char **have = calloc(all ? all : 1, sizeof *have);
        for (size_t j = 0; have && j < all; j++)
          have[j] = mef3_reader_channel(r, j)->name;
        ret = have ? cli_fail_channel(path, names[k], have, all)
                   : cli_fail(CLI_FAIL, "out of memory");
        free(have);
        goto done;
      }
      idx[k] = (size_t)ci;
    } else {
      idx[k] = k;
    }
  }
  int64_t t0 = 0, t1 = 0;
  if (!samples) {
    if (cli_parse_time(start, base, &t0) || cli_parse_time(end, base, &t1)) {
      ret = cli_fail(CLI_USAGE, "read: --start/--end take " CLI_TIME_FORMS);
      goto done;
    }
    if (t1 < t0) {
      ret = cli_fail(CLI_USAGE, "read: --end is before --start");
      goto done;
    }
    cli_note_outside(t0, t1, base, rec_end);
  }
  /* What the format cannot hold is refused before a long read. */
  const mef3_channel_info *c0 = mef3_reader_channel(r, idx[0]);
  for (size_t k = 1; k < nch && (fmt == FMT_CSV || fmt == FMT_NPY); k++) {
    const mef3_channel_info *ck = mef3_reader_channel(r, idx[k]);
    int64_t n0 = samples ? s1 - s0 : mef3_window_samples(t0, t1, c0->fs);
    int64_t nk = samples ? s1 - s0 : mef3_window_samples(t0, t1, ck->fs);
    if (fmt == FMT_CSV && ck->fs != c0->fs) {
      ret = cli_fail(CLI_FAIL,
                     "csv rows are sample times, and %s (%g Hz) and %s (%g "
                     "Hz) do not share them; read them separately, or as "
                     "npz",
                     c0->name, c0->fs, ck->name, ck->fs);
      goto done;
    }
    if (fmt == FMT_NPY && nk != n0) {
      ret = cli_fail(CLI_FAIL,
                     "npy needs channels of equal length (%s has %" PRId64
                     " samples, %s %" PRId64 "); read them separately, or "
                     "as npz",
                     c0->name, n0, ck->name, nk);
      goto done;
    }
  }
  /* The times of stored samples: each row's for csv, sample 0's for npz
   * (a read too long to hold is refused below, by the read). */
  if (samples && (fmt == FMT_CSV || fmt == FMT_NPZ) &&
      s1 - s0 <= (int64_t)1 << 32) {
    size_t m = fmt == FMT_CSV ? (size_t)(s1 - s0) : 1;
    times = malloc((m ? m : 1) * sizeof *times);
    other = malloc((m ? m : 1) * sizeof *other);
    if (!times || !other) {
      ret = cli_fail(CLI_FAIL, "out of memory");
      goto done;
    }
    for (size_t k = 0; k < nch; k++) {
      const mef3_channel_info *ck = mef3_reader_channel(r, idx[k]);
      size_t mk = s0 < ck->n_samples ? m : 0;
      rc = sample_times(r, idx[k], s0, mk, k ? other : times);
      if (rc) {
        ret = cli_lib_fail(rc, ck->name);
        goto done;
      }
      starts[k] = mk ? (k ? other : times)[0] : ck->end_uutc;
      if (fmt == FMT_CSV && k && memcmp(times, other, mk * sizeof *times)) {
        ret = cli_fail(CLI_FAIL,
                       "csv rows are sample times, and the stored samples "
                       "%" PRId64 ":%" PRId64 " of %s and %s lie at "
                       "different times; read them separately, or by "
                       "--start/--end",
                       s0, s1, c0->name, ck->name);
        goto done;
      }
    }
  } else {
    for (size_t k = 0; k < nch; k++)
      starts[k] = t0;
  }
  mef3_sample_type type = fmt == FMT_F64 || fmt == FMT_NPZ ? MEF3_F64
                          : fmt == FMT_I32                 ? MEF3_I32
                                                           : MEF3_F32;
  size_t es = mef3_sample_size(type);
  /* Progress per channel on a terminal, for reads of a second or more. */
  int show =
      isatty(STDERR_FILENO) && nch > 1 &&
      (samples
           ? s1 - s0
           : mef3_window_samples(t0, t1, mef3_reader_channel(r, idx[0])->fs)) *
              (int64_t)nch >
          (int64_t)4000000;
  for (size_t k = 0; k < nch; k++) {
    const mef3_channel_info *ci = mef3_reader_channel(r, idx[k]);
    int64_t n = samples ? s1 - s0 : mef3_window_samples(t0, t1, ci->fs);
    if (show)
      fprintf(stderr, "\rreading: channel %zu of %zu (%s)\033[K", k + 1, nch,
              ci->name);
    if (n > (int64_t)1 << 32) {
      ret = cli_fail(CLI_FAIL,
                     "%s: the window holds %" PRId64 " samples at %g Hz, too "
                     "many to read at once (a plain integer time is µUTC)",
                     ci->name, n, ci->fs);
      goto done;
    }
    data[k] = malloc(n ? (size_t)n * es : 1);
    if (!data[k]) {
      ret = cli_fail(CLI_FAIL, "out of memory for %" PRId64 " samples", n);
      goto done;
    }
    mef3_read_report rep;
    rc = samples ? mef3_reader_read_samples(&lens[k], &rep, r, idx[k], s0, s1,
                                            type, data[k], (size_t)n)
                 : mef3_reader_read_time(&lens[k], &rep, r, idx[k], t0, t1,
                                         type, data[k], (size_t)n, NULL);
    if (rc) {
      ret = cli_lib_fail(rc, ci->name);
      goto done;
    }
    if (rep.n_bad_blocks)
      fprintf(stderr,
              "mef3pool: warning: %s: %zu block(s) could not be decoded; "
              "first: %s\n",
              ci->name, rep.n_bad_blocks, rep.first_message);
  }
  if (show)
    fputs("\r\033[K", stderr);

  if (outp && !(out = fopen(outp, fmt == FMT_CSV ? "w" : "wb"))) {
    ret = cli_fail(CLI_FAIL, "%s: cannot create: %m", outp);
    goto done;
  }
  int werr = 0;
  if (fmt == FMT_CSV || fmt == FMT_NPY || fmt == FMT_NPZ) {
    for (size_t k = 0; k < nch; k++) {
      const mef3_channel_info *ck = mef3_reader_channel(r, idx[k]);
      cols[k] = (cli_out_channel){ck->name,  ck->units_description,
                                  ck->fs,    ck->units_conversion_factor,
                                  starts[k], samples ? times : NULL,
                                  data[k],   lens[k]};
    }
    werr = fmt == FMT_CSV   ? cli_out_csv(out, cols, nch)
           : fmt == FMT_NPY ? cli_out_npy(out, cols, nch)
                            : cli_out_npz(out, cols, nch);
  } else {
    for (size_t k = 0; k < nch && !werr; k++)
      werr = fwrite(data[k], es, lens[k], out) != lens[k];
  }
  if (fflush(out) != 0 || ferror(out) || werr) {
    ret = cli_fail(CLI_FAIL, "%s: write failed: %m", outp ? outp : "stdout");
    goto done;
  }
  ret = CLI_OK;
done:
  if (out && out != stdout && fclose(out) != 0 && ret == CLI_OK)
    ret = cli_fail(CLI_FAIL, "%s: write failed: %m", outp);
  if (data)
    for (size_t k = 0; k < nch; k++)
      free(data[k]);
  free(data);
  free(lens);
  free(idx);
  free(starts);
  free(cols);
  free(times);
  free(other);
  cli_free_split(names, n_names);
  mef3_reader_close(r);
  return ret;
}
