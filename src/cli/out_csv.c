/*
 * cli/out_csv.c - `read --format csv`: one row per sample time, so the
 * rows are times every channel shares (the caller refuses channels whose
 * rates or sample times differ rather than misalign them).  Columns:
 * time_uutc (integer µUTC), time_s (seconds from the first row, to the
 * µs) and one per channel; a header line names them, RFC 4180 quoting.
 * Values print with 9 significant digits, which round-trip a float.
 */
#include <inttypes.h>
#include <math.h>

#include "cli_out.h"
#include "mef3pool/grid.h"

/* A header field: quoted, inner quotes doubled. */
static void field(FILE *f, const char *s) {
  fputc('"', f);
  for (; s && *s; s++) {
    if (*s == '"')
      fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

int cli_out_csv(FILE *f, const cli_out_channel *ch, size_t n) {
  field(f, "time_uutc");
  fputc(',', f);
  field(f, "time_s");
  for (size_t c = 0; c < n; c++) {
    fputc(',', f);
    field(f, ch[c].name);
  }
  fputc('\n', f);
  size_t rows = n ? ch[0].n : 0;
  const int64_t *times = n ? ch[0].times : NULL;
  for (size_t i = 0; i < rows && !ferror(f); i++) {
    int64_t t = times ? times[i]
                      : mef3_grid_time(ch[0].start_uutc, (int64_t)i, ch[0].fs);
    int64_t first = times ? times[0] : ch[0].start_uutc;
    /* From the µUTC column, so the two columns never disagree. */
    double s = (double)(t - first) / 1e6;
    fprintf(f, "%" PRId64 ",%.6f", t, s);
    for (size_t c = 0; c < n; c++) {
      float x = ((const float *)ch[c].data)[i];
      if (isnan(x))
        fputs(",nan", f);
      else
        fprintf(f, ",%.9g", x);
    }
    fputc('\n', f);
  }
  return ferror(f) ? -1 : 0;
}
