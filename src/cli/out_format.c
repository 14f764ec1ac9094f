/*
 * cli/out_format.c - which output format a command writes: by --format,
 * or by the extension of -o FILE.  One table for `read` and `client read`.
 */
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "cli_out.h"

static const char *const names[] = {"f32", "f64", "i32", "csv", "npy", "npz"};
#define N_NAMES (sizeof names / sizeof *names)

int cli_format_parse(const char *s, cli_format *f) {
  for (size_t i = 0; i < N_NAMES; i++)
    if (!strcasecmp(s, names[i])) {
      *f = (cli_format)i;
      return 0;
    }
  return -1;
}

int cli_format_of_path(const char *cmd, const char *path, cli_format *f) {
  const char *base = strrchr(path, '/'), *dot;
  base = base ? base + 1 : path;
  dot = strrchr(base, '.');
  if (dot && dot != base && !cli_format_parse(dot + 1, f))
    return 0;
  if (dot && dot != base)
    return cli_fail(CLI_USAGE,
                    "%s: -o %s: unknown extension \"%s\"; name the file "
                    ".f32, .f64, .i32, .csv, .npy or .npz, or give --format",
                    cmd, path, dot);
  return cli_fail(CLI_USAGE,
                  "%s: -o %s has no extension to tell the format by; name "
                  "it .f32, .f64, .i32, .csv, .npy or .npz, or give --format",
                  cmd, path);
}
