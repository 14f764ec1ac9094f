/*
 * cli/cmd_read.c - `mef3pool read`: decode a time window or a range of
 * stored samples of some channels and write them as raw little-endian
 * binary (f32, f64, i32), CSV or NumPy .npy.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char read_usage[] =
    "usage: mef3pool read SESSION [--channels a,b] (--start T0 --end T1 |\n"
    "                     --samples S0:S1) [--password P | --password-file F]\n"
    "                     [--format f32|f64|i32|csv|npy] [-o FILE]\n\n"
    "Decode channels of a MEF 3.0 session over the time window [T0, T1) or\n"
    "the stored samples [S0, S1).  T0/T1 are absolute µUTC integers, ISO\n"
    "8601 UTC times (2021-01-01T00:10:00.5Z), or times after the session's\n"
    "start: a number with a unit us, ms, s, m or h (--start 10s), or\n"
    "hh:mm:ss[.f].  A window wholly outside the recording reads as NaN,\n"
    "with a note on stderr.  Without --channels every channel is read\n"
    "(--channels \"ch01, ch02\": spaces around names are ignored).\n\n"
    "Formats: f32/f64 physical units (raw x units conversion factor), i32\n"
    "raw counts (-2147483648 where there is no sample), all little-endian,\n"
    "channels one after another, each complete; csv has one column per\n"
    "channel; npy is a (channels, samples) float32 array (channels must\n"
    "then have equal lengths).  Slots with no sample are NaN.  Output goes\n"
    "to stdout unless -o is given.\n\n"
    CLI_PASSWORD_HELP;

typedef enum { FMT_F32, FMT_F64, FMT_I32, FMT_CSV, FMT_NPY } out_format;

static int parse_format(const char *s, out_format *f) {
  static const char *names[] = {"f32", "f64", "i32", "csv", "npy"};
  for (int i = 0; i < 5; i++)
    if (!strcmp(s, names[i])) {
      *f = (out_format)i;
      return 0;
    }
  return -1;
}

static int write_npy(FILE *f, const float *data, size_t rows, size_t cols) {
  char header[128];
  int k = snprintf(header, sizeof header,
                   "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, "
                   "%zu), }",
                   rows, cols);
  size_t total = 10 + (size_t)k + 1;
  size_t pad = (64 - total % 64) % 64;
  uint16_t hlen = (uint16_t)(k + pad + 1);
  fwrite("\x93NUMPY\x01\x00", 1, 8, f);
  uint8_t le[2] = {(uint8_t)(hlen & 0xff), (uint8_t)(hlen >> 8)};
  fwrite(le, 1, 2, f);
  fwrite(header, 1, (size_t)k, f);
  for (size_t i = 0; i < pad; i++)
    fputc(' ', f);
  fputc('\n', f);
  return fwrite(data, sizeof *data, rows * cols, f) == rows * cols ? 0 : -1;
}

int mef3_cli_read(int argc, char **argv) {
  const char *path = NULL, *password = NULL, *chans = NULL, *start = NULL,
             *end = NULL, *samples = NULL, *outp = NULL, *pwfile = NULL, *v;
  out_format fmt = FMT_F32;
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
      if (!v || parse_format(v, &fmt))
        return cli_fail(CLI_USAGE, "--format takes f32, f64, i32, csv or npy");
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
  if (!idx || !lens || !data) {
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
  mef3_sample_type type = fmt == FMT_F64   ? MEF3_F64
                          : fmt == FMT_I32 ? MEF3_I32
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
    rc = samples ? mef3_reader_read_samples(r, idx[k], s0, s1, type, data[k],
                                            (size_t)n, &lens[k], &rep)
                 : mef3_reader_read_time(r, idx[k], t0, t1, type, data[k],
                                         (size_t)n, &lens[k], NULL, &rep);
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
  if (fmt == FMT_CSV) {
    size_t rows = 0;
    for (size_t k = 0; k < nch; k++) {
      fprintf(out, "%s", k ? "," : "");
      cli_json_string(out, mef3_reader_channel(r, idx[k])->name);
      if (lens[k] > rows)
        rows = lens[k];
    }
    fputc('\n', out);
    for (size_t i = 0; i < rows; i++) {
      for (size_t k = 0; k < nch; k++) {
        if (k)
          fputc(',', out);
        if (i < lens[k]) {
          float x = ((float *)data[k])[i];
          if (isnan(x))
            fputs("nan", out);
          else
            fprintf(out, "%.9g", x);
        }
      }
      fputc('\n', out);
    }
  } else if (fmt == FMT_NPY) {
    for (size_t k = 1; k < nch; k++)
      if (lens[k] != lens[0]) {
        ret = cli_fail(CLI_FAIL,
                       "npy needs channels of equal length "
                       "(%s has %zu samples, %s %zu); read them "
                       "separately",
                       mef3_reader_channel(r, idx[0])->name, lens[0],
                       mef3_reader_channel(r, idx[k])->name, lens[k]);
        goto done;
      }
    size_t cells = nch * lens[0];
    float *all = malloc((cells ? cells : 1) * sizeof *all);
    if (!all) {
      ret = cli_fail(CLI_FAIL, "out of memory");
      goto done;
    }
    for (size_t k = 0; k < nch; k++)
      memcpy(all + k * lens[0], data[k], lens[0] * sizeof *all);
    werr = write_npy(out, all, nch, lens[0]);
    free(all);
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
  cli_free_split(names, n_names);
  mef3_reader_close(r);
  return ret;
}
