/*
 * cli/cmd_client.c - `mef3pool client ADDR open|info|read|envelope|list|close`:
 * talk to a gRPCMef3Server (ours or the Python original) for people and
 * scripts.  `read` writes f32, npy or csv as `mef3pool read` does and shows
 * progress on a terminal (stderr) for long reads; nothing when piped.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <grpc/support/log.h>

#include "cli.h"
#include "cli_out.h"
#include "mef3pool/client.h"

static const char client_usage[] =
    "usage: mef3pool client ADDR COMMAND [ARGS...] [--timeout-ms MS]\n"
    "                       [--tls-ca F [--tls-cert F --tls-key F]]\n\n"
    "Talk to a gRPCMef3Server at ADDR (HOST:PORT, e.g. 127.0.0.1:50051).\n"
    "--tls-ca F connects with TLS, trusting the PEM CAs in F (the server's\n"
    "certificate must name HOST); --tls-cert/--tls-key add a client\n"
    "certificate, for a server requiring mutual TLS.  Without --tls-ca the\n"
    "connection is plain text; against a TLS server it fails at once, saying\n"
    "the server may require TLS.\n\n"
    "commands:\n"
    "  open PATH [--password P | --password-file F] [--json]\n"
    "                                      open a session, show its channels\n"
    "  info PATH [--json]                  channels of an open session\n"
    "  read PATH [--channels a,b] --start T0 --end T1\n"
    "       [--format f32|f64|csv|npy|npz|summary] [-o FILE]\n"
    "                                      read a window (float32, physical\n"
    "                                      units; NaN where no sample)\n"
    "  envelope PATH [--channels a,b] --start T0 --end T1 --columns W\n"
    "       [--format csv|f32|summary] [-o FILE]\n"
    "                                      the window in at most W columns\n"
    "                                      of (min, max) per channel, for\n"
    "                                      overviews (a mef3pool server)\n"
    "  list                                the open sessions, one a line\n"
    "  close PATH                          close a session\n\n"
    "A session opened with a password is read only with it: give\n"
    "--password to info, read and close too (each opens it first and sends\n"
    "the access token the open returns).\n"
    CLI_PASSWORD_HELP "\n"
    "T0/T1 are absolute µUTC integers, ISO 8601 UTC times\n"
    "(2021-01-01T00:10:00Z), or times after the session's start: a number\n"
    "with a unit us, ms, s, m or h (--start 10s) or hh:mm:ss[.f].  A window\n"
    "wholly outside the recording reads as NaN, with a note on stderr.\n"
    "Without --format, the extension of -o FILE names the format (.f32,\n"
    ".f64, .csv, .npy, .npz), as for `mef3pool read`; else f32.  f32/f64\n"
    "hold the channels one after another, each complete, little-endian;\n"
    "npy is a (channels, samples) float32 array; npz and csv are those of\n"
    "`mef3pool read` (csv: time columns, then one per channel); summary\n"
    "prints the shape, the time taken and a few values.\n"
    "envelope writes csv by default (a row per column: its time in µUTC,\n"
    "then min and max of each channel, empty where the column has no data),\n"
    "or f32 ((channels, columns, 2) float32 little-endian; -o FILE.f32), or\n"
    "a summary.  W is 1 to 65536.\n"
    "Errors are one line on stderr; exit codes 0, 1 (failure), 2 (usage).\n";

/* Set while a password may still be asked for: a refusal for the lack
 * of one is then not reported, but noted for a prompt. */
static int may_prompt, wants_password;

static int client_fail(int rc, const char *what) {
  if (may_prompt && rc == MEF3_EPASSWORD) {
    wants_password = 1;
    return CLI_FAIL;
  }
  return cli_fail_with(rc, what, mef3_error_last());
}

static void print_info(const mef3_file_info *fi, int json) {
  if (json) {
    printf("{\"path\": ");
    cli_json_string(stdout, fi->path);
    printf(", \"start_uutc\": %" PRId64 ", \"end_uutc\": %" PRId64
           ", \"duration_s\": %.6f, \"channels\": [",
           fi->start_uutc, fi->end_uutc, fi->duration_s);
    for (size_t i = 0; i < fi->n_channels; i++) {
      const mef3_file_channel *c = &fi->channels[i];
      printf("%s{\"name\": ", i ? ", " : "");
      cli_json_string(stdout, c->name);
      printf(", \"fs\": %.17g, \"start_uutc\": %" PRId64
             ", \"end_uutc\": %" PRId64 ", \"n_samples\": %" PRId64
             ", \"units\": ",
             c->fs, c->start_uutc, c->end_uutc, c->n_samples);
      cli_json_string(stdout, c->units);
      printf("}");
    }
    printf("]}\n");
    return;
  }
  char when[64] = "";
  time_t t = (time_t)(fi->start_uutc / 1000000);
  struct tm tm;
  if (gmtime_r(&t, &tm))
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
  printf("%s: %zu channels, %.3f s from %s (%" PRId64 " to %" PRId64 " µUTC)\n",
         fi->path, fi->n_channels, fi->duration_s, when, fi->start_uutc,
         fi->end_uutc);
  printf("  %-20s %12s %12s %20s %20s %s\n", "channel", "fs (Hz)", "samples",
         "start µUTC", "end µUTC", "units");
  for (size_t i = 0; i < fi->n_channels; i++) {
    const mef3_file_channel *c = &fi->channels[i];
    printf("  %-20s %12.6g %12" PRId64 " %20" PRId64 " %20" PRId64 " %s\n",
           c->name, c->fs, c->n_samples, c->start_uutc, c->end_uutc, c->units);
  }
}

/* Progress on a terminal: redrawn at most every 0.1 s. */
typedef struct {
  int on;
  double last;
} progress_state;

static double mono(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int on_progress(int64_t done, int64_t total, void *payload) {
  progress_state *p = payload;
  double now = mono();
  if (!p->on || (now - p->last < 0.1 && done != total))
    return 0;
  p->last = now;
  if (total > 0)
    fprintf(stderr, "\rreading: %3d%% (%" PRId64 " of %" PRId64 " samples)",
            (int)(100.0 * (double)done / (double)total), done, total);
  else
    fprintf(stderr, "\rreading: %" PRId64 " samples", done);
  return 0;
}

/*
 * Write a served window in `fmt` to `outp` (NULL: stdout) through the
 * same writers as `mef3pool read` (cli_out.h): the channels' units and
 * factors from the file's info, sample i at the window start + i/fs.
 */
static int write_signal(const char *outp, cli_format fmt, const mef3_signal *sig,
                        const mef3_file_info *fi) {
  size_t nch = sig->n_channels, n = sig->n_samples;
  int wide = fmt == FMT_F64 || fmt == FMT_NPZ;
  size_t cells = nch * n;
  double *d = wide ? malloc((cells > 0 ? cells : 1) * sizeof *d) : NULL;
  cli_out_channel *cols = calloc(nch ? nch : 1, sizeof *cols);
  if ((wide && !d) || !cols) {
    free(d);
    free(cols);
    return cli_fail(CLI_FAIL, "out of memory");
  }
  for (size_t i = 0; wide && i < nch * n; i++)
    d[i] = sig->data[i];
  for (size_t k = 0; k < nch; k++) {
    const mef3_file_channel *fc = NULL;
    for (size_t j = 0; j < fi->n_channels && !fc; j++)
      if (!strcmp(fi->channels[j].name, sig->channel_names[k]))
        fc = &fi->channels[j];
    cols[k] = (cli_out_channel){sig->channel_names[k],
                                fc ? fc->units : "",
                                sig->fs,
                                fc ? fc->units_conversion_factor : 1.0,
                                sig->start_uutc,
                                NULL,
                                wide ? (const void *)(d + k * n)
                                     : (const void *)(sig->data + k * n),
                                n};
  }
  FILE *out = stdout;
  int werr = 0;
  if (outp && !(out = fopen(outp, fmt == FMT_CSV ? "w" : "wb"))) {
    free(d);
    free(cols);
    return cli_fail(CLI_FAIL, "%s: cannot create: %m", outp);
  }
  if (fmt == FMT_CSV)
    werr = cli_out_csv(out, cols, nch);
  else if (fmt == FMT_NPY)
    werr = cli_out_npy(out, cols, nch);
  else if (fmt == FMT_NPZ)
    werr = cli_out_npz(out, cols, nch);
  else if (fmt == FMT_F64)
    werr = fwrite(d, sizeof *d, nch * n, out) != nch * n;
  else
    werr = fwrite(sig->data, sizeof(float), nch * n, out) != nch * n;
  free(d);
  free(cols);
  if (fflush(out) || ferror(out) || werr ||
      (out != stdout && fclose(out) != 0))
    return cli_fail(CLI_FAIL, "%s: write failed: %m", outp ? outp : "stdout");
  return CLI_OK;
}

/* The window of `what` ("client read"): the session's info (for relative
 * times and units) into *fi, --start/--end as µUTC, --channels split and
 * checked against the session's (an unknown one named with those there
 * are).  CLI_OK, or the exit code (the error printed). */
static int window_args(mef3_client *c, const char *path, const char *what,
                       const char *start, const char *end, const char *chans,
                       mef3_file_info **fi_out, int64_t *t0, int64_t *t1,
                       char ***names_out, size_t *n_out) {
  mef3_file_info *fi;
  int rc = mef3_client_info(&fi, c, path);
  if (rc)
    return client_fail(rc, path);
  if (cli_parse_time(start, fi->start_uutc, t0) ||
      cli_parse_time(end, fi->start_uutc, t1)) {
    mef3_file_info_free(fi);
    return cli_fail(CLI_USAGE, "%s: --start/--end take " CLI_TIME_FORMS, what);
  }
  char **names = NULL;
  size_t n_names = 0;
  if (chans && (cli_split_names(chans, &names, &n_names) || !n_names)) {
    mef3_file_info_free(fi);
    return cli_fail(CLI_USAGE, "%s: --channels takes a comma-separated list",
                    what);
  }
  /* Unknown names here, with the channels there are (the server's error
   * names only the unknown ones). */
  for (size_t k = 0; k < n_names; k++) {
    size_t j = 0;
    while (j < fi->n_channels && strcmp(fi->channels[j].name, names[k]))
      j++;
    if (j < fi->n_channels)
      continue;
    const char **have = calloc(fi->n_channels + 1, sizeof *have);
    for (size_t i = 0; have && i < fi->n_channels; i++)
      have[i] = fi->channels[i].name;
    int r = have ? cli_fail_channel(path, names[k], have, fi->n_channels)
                 : cli_fail(CLI_FAIL, "out of memory");
    free(have);
    cli_free_split(names, n_names);
    mef3_file_info_free(fi);
    return r;
  }
  *fi_out = fi;
  *names_out = names;
  *n_out = n_names;
  return CLI_OK;
}

static int do_read(mef3_client *c, const char *path, int argc, char **argv) {
  const char *chans = NULL, *start = NULL, *end = NULL, *outp = NULL,
             *fmt_s = NULL, *v;
  for (int i = 0; i < argc; i++) {
    if (cli_opt(argc, argv, &i, "--channels", &v))
      chans = v;
    else if (cli_opt(argc, argv, &i, "--start", &v))
      start = v;
    else if (cli_opt(argc, argv, &i, "--end", &v))
      end = v;
    else if (cli_opt(argc, argv, &i, "-o", &v) ||
             cli_opt(argc, argv, &i, "--output", &v))
      outp = v;
    else if (cli_opt(argc, argv, &i, "--format", &v))
      fmt_s = v;
    else
      return cli_fail(CLI_USAGE, "client read: unknown argument %s", argv[i]);
    if (!v)
      return cli_fail(CLI_USAGE, "client read: %s needs a value", argv[i]);
  }
  if (!start || !end)
    return cli_fail(CLI_USAGE, "client read: give --start and --end");
  /* The format: --format, else -o FILE's extension, else f32. */
  int summary = fmt_s && !strcasecmp(fmt_s, "summary");
  cli_format fmt = FMT_F32;
  if (fmt_s && !summary && (cli_format_parse(fmt_s, &fmt) || fmt == FMT_I32))
    return cli_fail(CLI_USAGE, "client read: --format takes f32, f64, csv, "
                               "npy, npz or summary (the server sends "
                               "float32: no i32)");
  if (!fmt_s && outp) {
    int fex = cli_format_of_path("client read", outp, &fmt);
    if (fex)
      return fex;
    if (fmt == FMT_I32)
      return cli_fail(CLI_USAGE, "client read: -o %s: the server sends "
                                 "float32, no i32 counts",
                      outp);
  }
  if (!outp && isatty(STDOUT_FILENO) && fmt != FMT_CSV && !summary)
    return cli_fail(CLI_USAGE, "client read: refusing to write binary data to "
                               "a terminal; use -o FILE or --format csv");
  mef3_file_info *fi;
  int64_t t0, t1;
  char **names;
  size_t n_names;
  int rc = window_args(c, path, "client read", start, end, chans, &fi, &t0,
                       &t1, &names, &n_names);
  if (rc != CLI_OK)
    return rc;
  if (t1 > t0)
    cli_note_outside(t0, t1, fi->start_uutc, fi->end_uutc);
  progress_state ps = {isatty(STDERR_FILENO), 0};
  mef3_signal *sig;
  double took = mono();
  rc = mef3_client_read(&sig, c, path, (const char *const *)names, n_names, t0,
                        t1, on_progress, &ps);
  took = mono() - took;
  if (ps.on && ps.last > 0)
    fputs("\r\033[K", stderr);
  cli_free_split(names, n_names);
  if (rc) {
    mef3_file_info_free(fi);
    return client_fail(rc, path);
  }
  if (summary) {
    size_t nan = 0, cells = sig->n_channels * sig->n_samples;
    for (size_t i = 0; i < cells; i++)
      nan += isnan(sig->data[i]);
    printf("%zu channels x %zu samples (%.3f s at %g Hz) in %.2f ms, "
           "%.1f MB; %zu NaN\n",
           sig->n_channels, sig->n_samples, (double)(t1 - t0) / 1e6, sig->fs,
           took * 1e3, (double)cells * 4 / 1e6, nan);
    for (size_t k = 0; k < sig->n_channels && k < 8; k++) {
      printf("  %-12s", sig->channel_names[k]);
      for (size_t i = 0; i < sig->n_samples && i < 6; i++)
        printf(" %10.3f", sig->data[k * sig->n_samples + i]);
      printf("%s\n", sig->n_samples > 6 ? " ..." : "");
    }
    if (sig->n_channels > 8)
      printf("  (%zu more channels)\n", sig->n_channels - 8);
    mef3_signal_free(sig);
    mef3_file_info_free(fi);
    return CLI_OK;
  }
  int werr = write_signal(outp, fmt, sig, fi);
  mef3_signal_free(sig);
  mef3_file_info_free(fi);
  return werr;
}

/* Column j's time on channel k's grid (its first sample's). */
static int64_t column_uutc(const mef3_envelope *e, size_t k, size_t j) {
  return e->first_uutc[k] +
         (int64_t)llround((double)j * (double)e->samples_per_column * 1e6 /
                          e->fs);
}

/* An envelope as csv (a row per column: its time on the first channel's
 * grid, then min and max of each channel; empty where NaN), f32
 * ((channels, columns, 2) float32 little-endian, as the HTTP API's) or a
 * summary. */
static int write_envelope(const char *outp, const char *fmt,
                          const mef3_envelope *e, double took) {
  FILE *out = stdout;
  if (outp && !(out = fopen(outp, "wb")))
    return cli_fail(CLI_FAIL, "%s: cannot create: %m", outp);
  size_t nch = e->n_channels, nc = e->n_columns;
  int werr = 0;
  if (!strcmp(fmt, "summary")) {
    size_t nan = 0;
    for (size_t i = 0; i < nch * nc; i++)
      nan += isnan(e->min[i]);
    fprintf(out,
            "%zu channels x %zu columns of %" PRId64 " samples (%.3f s at %g "
            "Hz; %s) in %.2f ms; %zu NaN columns (no data)\n",
            nch, nc, e->samples_per_column,
            (double)e->samples_per_column / e->fs, e->fs,
            e->level < 0 ? "from samples" : "pyramid", took * 1e3, nan);
    if (e->level >= 0)
      fprintf(out, "  (pyramid level %d)\n", e->level);
    for (size_t k = 0; k < nch && k < 8; k++) {
      fprintf(out, "  %-12s", e->channel_names[k]);
      for (size_t j = 0; j < nc && j < 4; j++)
        fprintf(out, " [%.3f, %.3f]", e->min[k * nc + j], e->max[k * nc + j]);
      fprintf(out, "%s\n", nc > 4 ? " ..." : "");
    }
    if (nch > 8)
      fprintf(out, "  (%zu more channels)\n", nch - 8);
  } else if (!strcmp(fmt, "f32")) {
    for (size_t k = 0; k < nch && !werr; k++)
      for (size_t j = 0; j < nc && !werr; j++) {
        float v[2] = {e->min[k * nc + j], e->max[k * nc + j]};
        werr = fwrite(v, sizeof *v, 2, out) != 2;
      }
  } else {
    fprintf(out, "time_uutc");
    for (size_t k = 0; k < nch; k++)
      fprintf(out, ",%s_min,%s_max", e->channel_names[k], e->channel_names[k]);
    fputc('\n', out);
    for (size_t j = 0; j < nc; j++) {
      fprintf(out, "%" PRId64, column_uutc(e, 0, j));
      for (size_t k = 0; k < nch; k++) {
        float lo = e->min[k * nc + j], hi = e->max[k * nc + j];
        if (isnan(lo))
          fputs(",,", out);
        else
          fprintf(out, ",%.9g,%.9g", lo, hi);
      }
      fputc('\n', out);
    }
  }
  if (fflush(out) || ferror(out) || werr ||
      (out != stdout && fclose(out) != 0))
    return cli_fail(CLI_FAIL, "%s: write failed: %m", outp ? outp : "stdout");
  return CLI_OK;
}

static int do_envelope(mef3_client *c, const char *path, int argc,
                       char **argv) {
  const char *chans = NULL, *start = NULL, *end = NULL, *outp = NULL,
             *fmt = NULL, *cols_s = NULL, *v;
  for (int i = 0; i < argc; i++) {
    if (cli_opt(argc, argv, &i, "--channels", &v))
      chans = v;
    else if (cli_opt(argc, argv, &i, "--start", &v))
      start = v;
    else if (cli_opt(argc, argv, &i, "--end", &v))
      end = v;
    else if (cli_opt(argc, argv, &i, "--columns", &v))
      cols_s = v;
    else if (cli_opt(argc, argv, &i, "-o", &v) ||
             cli_opt(argc, argv, &i, "--output", &v))
      outp = v;
    else if (cli_opt(argc, argv, &i, "--format", &v))
      fmt = v;
    else
      return cli_fail(CLI_USAGE, "client envelope: unknown argument %s",
                      argv[i]);
    if (!v)
      return cli_fail(CLI_USAGE, "client envelope: %s needs a value", argv[i]);
  }
  int64_t cols = 0;
  if (!start || !end || !cols_s)
    return cli_fail(CLI_USAGE,
                    "client envelope: give --start, --end and --columns");
  if (cli_parse_i64(cols_s, &cols) || cols < 1 || cols > 65536)
    return cli_fail(CLI_USAGE, "client envelope: --columns takes a number "
                               "from 1 to 65536");
  if (!fmt) {
    size_t n = outp ? strlen(outp) : 0;
    fmt = n > 4 && !strcasecmp(outp + n - 4, ".f32") ? "f32" : "csv";
  }
  if (strcmp(fmt, "csv") && strcmp(fmt, "f32") && strcmp(fmt, "summary"))
    return cli_fail(CLI_USAGE,
                    "client envelope: --format takes csv, f32 or summary");
  if (!outp && !strcmp(fmt, "f32") && isatty(STDOUT_FILENO))
    return cli_fail(CLI_USAGE, "client envelope: refusing to write binary "
                               "data to a terminal; use -o FILE or --format "
                               "csv");
  mef3_file_info *fi;
  int64_t t0, t1;
  char **names;
  size_t n_names;
  int rc = window_args(c, path, "client envelope", start, end, chans, &fi, &t0,
                       &t1, &names, &n_names);
  if (rc != CLI_OK)
    return rc;
  mef3_file_info_free(fi);
  mef3_envelope *e;
  double took = mono();
  rc = mef3_client_envelope(&e, c, path, (const char *const *)names, n_names,
                            t0, t1, (size_t)cols);
  took = mono() - took;
  cli_free_split(names, n_names);
  if (rc)
    return client_fail(rc, path);
  int werr = write_envelope(outp, fmt, e, took);
  mef3_envelope_free(e);
  return werr;
}

/* gRPC's own log lines (a failed TLS handshake: "E1206 ...
 * ssl_transport_security.cc ...") are dropped: the error line we print
 * carries their detail.  GRPC_VERBOSITY set: kept, for debugging. */
static void grpc_quiet(gpr_log_func_args *args) { (void)args; }

/* --tls-ca, --tls-cert, --tls-key: the flag's name when argv[*i] is one
 * (its value, NULL when missing, stored in `co` and *v), else NULL. */
static const char *tls_flag(int argc, char **argv, int *i,
                            mef3_client_options *co, const char **v) {
  if (cli_opt(argc, argv, i, "--tls-ca", v))
    return co->tls_ca_file = *v, "--tls-ca";
  if (cli_opt(argc, argv, i, "--tls-cert", v))
    return co->tls_cert_file = *v, "--tls-cert";
  if (cli_opt(argc, argv, i, "--tls-key", v))
    return co->tls_key_file = *v, "--tls-key";
  return NULL;
}

/* One command; path NULL for list. */
static int run(mef3_client *c, const char *cmd, const char *path,
               const char *password, int json, int nrest, char **rest) {
  int ret = CLI_OK, rc;
  int is_list = path == NULL;
  /* A session opened with a password is read with the access token its
   * open returns: info, read and close open it first (the client then
   * sends the token with each call). */
  if (password && !is_list && strcmp(cmd, "open") &&
      (rc = mef3_client_open(NULL, NULL, c, path, password)) != 0) {
    return client_fail(rc, path);
  }
  if (!strcmp(cmd, "open") || !strcmp(cmd, "info")) {
    mef3_file_info *fi;
    int already = 0;
    rc = !strcmp(cmd, "open")
             ? mef3_client_open(&fi, &already, c, path, password)
             : mef3_client_info(&fi, c, path);
    if (rc) {
      ret = client_fail(rc, path);
    } else {
      print_info(fi, json);
      if (already && !json)
        printf("(it was open already)\n");
      mef3_file_info_free(fi);
    }
  } else if (!strcmp(cmd, "close")) {
    if ((rc = mef3_client_close_file(c, path)))
      ret = client_fail(rc, path);
  } else if (is_list) {
    char **paths;
    size_t n;
    if ((rc = mef3_client_list(&paths, &n, c))) {
      ret = client_fail(rc, "list");
    } else {
      for (size_t i = 0; i < n; i++)
        printf("%s\n", paths[i]);
      mef3_files_list_free(paths, n);
    }
  } else if (!strcmp(cmd, "envelope")) {
    ret = do_envelope(c, path, nrest - 1, rest + 1);
  } else {
    ret = do_read(c, path, nrest - 1, rest + 1);
  }
  return ret;
}

int mef3_cli_client(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(client_usage, stdout);
      return CLI_OK;
    }
  if (argc < 3)
    return cli_fail(CLI_USAGE, "client: give ADDR and a COMMAND (open, info, "
                               "read, envelope, list, close)");
  const char *addr = argv[1], *cmd = argv[2], *v;
  mef3_client_options co = MEF3_CLIENT_OPTIONS_INIT;
  /* Options common to every command, taken out of the argument list. */
  char **rest = calloc((size_t)argc, sizeof *rest);
  int nrest = 0, json = 0;
  const char *password = NULL, *pwfile = NULL, *tls;
  if (!rest)
    return cli_fail(CLI_FAIL, "out of memory");
  for (int i = 3; i < argc; i++) {
    if (cli_opt(argc, argv, &i, "--timeout-ms", &v)) {
      int64_t ms;
      if (!v || cli_parse_i64(v, &ms)) {
        free(rest);
        return cli_fail(CLI_USAGE, "--timeout-ms takes milliseconds");
      }
      co.timeout_ms = ms;
    } else if ((tls = tls_flag(argc, argv, &i, &co, &v)) != NULL) {
      if (!v) {
        free(rest);
        return cli_fail(CLI_USAGE, "%s needs a PEM file", tls);
      }
    } else if (cli_opt(argc, argv, &i, "--password", &v)) {
      if (!v) {
        free(rest);
        return cli_fail(CLI_USAGE, "--password needs a value");
      }
      password = v;
    } else if (cli_opt(argc, argv, &i, "--password-file", &v)) {
      if (!v) {
        free(rest);
        return cli_fail(CLI_USAGE, "--password-file needs a file");
      }
      pwfile = v;
    } else if (!strcmp(argv[i], "--json")) {
      json = 1;
    } else {
      rest[nrest++] = argv[i];
    }
  }
  int is_list = !strcmp(cmd, "list");
  int known = is_list || !strcmp(cmd, "open") || !strcmp(cmd, "info") ||
              !strcmp(cmd, "read") || !strcmp(cmd, "close") ||
              !strcmp(cmd, "envelope");
  if (!known) {
    free(rest);
    return cli_fail(CLI_USAGE,
                    "client: unknown command \"%s\" (open, info, "
                    "read, envelope, list, close)",
                    cmd);
  }
  if (!is_list && (nrest < 1 || rest[0][0] == '-')) {
    free(rest);
    return cli_fail(CLI_USAGE, "client %s: give the session's PATH", cmd);
  }
  if ((is_list && nrest > 0) ||
      (!is_list && strcmp(cmd, "read") && strcmp(cmd, "envelope") &&
       nrest > 1)) {
    int r = cli_fail(CLI_USAGE, "client %s: unexpected argument \"%s\"", cmd,
                     rest[is_list ? 0 : 1]);
    free(rest);
    return r;
  }
  int pex = cli_password(password, pwfile, &password);
  if (pex >= 0) {
    free(rest);
    return pex;
  }
  if (!getenv("GRPC_VERBOSITY"))
    gpr_set_log_function(grpc_quiet);
  mef3_client *c;
  int rc = mef3_client_new(&c, addr, &co);
  if (rc) {
    free(rest);
    return client_fail(rc, addr);
  }
  const char *path = is_list ? NULL : rest[0];
  /* Without a password, a session that needs one asks for it on a
   * terminal, and the command runs again with it. */
  may_prompt = !password && isatty(STDIN_FILENO);
  int ret = run(c, cmd, path, password, json, nrest, rest);
  if (wants_password) {
    may_prompt = 0;
    if (cli_password_prompt(MEF3_EPASSWORD, path ? path : addr, &password))
      ret = run(c, cmd, path, password, json, nrest, rest);
    else
      ret = cli_fail(CLI_FAIL, "%s: a password is needed (MEF3_EPASSWORD)",
                     path ? path : addr);
  }
  mef3_client_free(c);
  free(rest);
  return ret;
}
