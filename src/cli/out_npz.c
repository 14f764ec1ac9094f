/*
 * cli/out_npz.c - `read --format npz`: the samples and what they mean in
 * one NumPy archive (np.load opens it; members are .npy arrays in a zip,
 * out_zip.c).  Members:
 *
 *   data          float64 (channels, samples), physical units, NaN where
 *                 there is no sample - when every channel has one rate
 *   data_0, ...   float64 (samples,) per channel, in channel order - when
 *                 the rates differ (so no member pretends to be a grid)
 *   channels      str (channels,)   names
 *   fs            float64 (channels,) sampling rates, Hz
 *   start_uutc    int64 (channels,) µUTC of each channel's sample 0
 *   units         str (channels,)   units descriptions
 *   units_conversion_factor  float64 (channels,): raw = data / factor
 *
 * float64, not float32 as npy: raw counts times the factor are exact in
 * it, and what goes in an archive is kept for analysis.  Sample data is
 * written from the channels' buffers without a copy.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli_out.h"

/* One member: `ndim`-D array of `descr`, the header then the pieces. */
static int member(cli_zip *z, const char *name, const char *descr, int ndim,
                  uint64_t d0, uint64_t d1, const cli_piece *data, size_t n) {
  char h[256];
  cli_piece stack[8], *p = n + 1 <= 8 ? stack : malloc((n + 1) * sizeof *p);
  if (!p)
    return -1;
  size_t len = cli_npy_header(h, sizeof h, descr, ndim, d0, d1);
  p[0] = (cli_piece){h, len};
  memcpy(p + 1, data, n * sizeof *p);
  int rc = len ? cli_zip_add(z, name, p, n + 1) : (errno = EINVAL, -1);
  if (p != stack)
    free(p);
  return rc;
}

static int strings(cli_zip *z, const char *name, const char *const *s,
                   size_t n) {
  uint32_t *u;
  size_t w;
  if (cli_npy_strings(s, n, &u, &w))
    return -1;
  char descr[32];
  snprintf(descr, sizeof descr, "<U%zu", w);
  cli_piece p = {u, (uint64_t)n * w * sizeof *u};
  int rc = member(z, name, descr, 1, n, 0, &p, 1);
  free(u);
  return rc;
}

int cli_out_npz(FILE *f, const cli_out_channel *ch, size_t n) {
  cli_zip z;
  cli_zip_init(&z, f, UINT32_MAX);
  const char **names = calloc(n ? n : 1, sizeof *names);
  const char **units = calloc(n ? n : 1, sizeof *units);
  double *fs = calloc(n ? n : 1, sizeof *fs);
  double *uf = calloc(n ? n : 1, sizeof *uf);
  int64_t *t0 = calloc(n ? n : 1, sizeof *t0);
  cli_piece *data = calloc(n ? n : 1, sizeof *data);
  int rc = names && units && fs && uf && t0 && data ? 0 : -1;
  int one_rate = 1;
  for (size_t c = 0; !rc && c < n; c++) {
    names[c] = ch[c].name;
    units[c] = ch[c].units ? ch[c].units : "";
    fs[c] = ch[c].fs;
    uf[c] = ch[c].units_conversion_factor;
    t0[c] = ch[c].start_uutc;
    data[c] = (cli_piece){ch[c].data, (uint64_t)ch[c].n * sizeof(double)};
    one_rate &= ch[c].fs == ch[0].fs && ch[c].n == ch[0].n;
  }
  if (!rc && one_rate)
    rc = member(&z, "data.npy", "<f8", 2, n, n ? ch[0].n : 0, data, n);
  for (size_t c = 0; !rc && !one_rate && c < n; c++) {
    char name[40];
    snprintf(name, sizeof name, "data_%zu.npy", c);
    rc = member(&z, name, "<f8", 1, ch[c].n, 0, &data[c], 1);
  }
  cli_piece p;
  if (!rc)
    rc = strings(&z, "channels.npy", names, n);
  p = (cli_piece){fs, n * sizeof *fs};
  if (!rc)
    rc = member(&z, "fs.npy", "<f8", 1, n, 0, &p, 1);
  p = (cli_piece){t0, n * sizeof *t0};
  if (!rc)
    rc = member(&z, "start_uutc.npy", "<i8", 1, n, 0, &p, 1);
  if (!rc)
    rc = strings(&z, "units.npy", units, n);
  p = (cli_piece){uf, n * sizeof *uf};
  if (!rc)
    rc = member(&z, "units_conversion_factor.npy", "<f8", 1, n, 0, &p, 1);
  if (!rc)
    rc = cli_zip_finish(&z);
  int e = errno;
  cli_zip_dispose(&z);
  free(names);
  free(units);
  free(fs);
  free(uf);
  free(t0);
  free(data);
  errno = rc && !e ? ENOMEM : e;
  return rc;
}
