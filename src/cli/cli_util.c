/* cli/cli_util.c - helpers shared by the subcommands: errors, option and
 * time parsing, JSON strings. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char *cli_command;

int cli_fail(int code, const char *fmt, ...) {
  va_list ap;
  fputs("mef3pool: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  if (code == CLI_USAGE)
    fprintf(stderr, "; see `mef3pool %s%s--help`",
            cli_command ? cli_command : "", cli_command ? " " : "");
  fputc('\n', stderr);
  return code;
}

int cli_fail_with(int rc, const char *what, const mef3_error *e) {
  const char *msg = e->code == rc && e->message[0] ? e->message
                                                   : mef3_strerror(rc);
  /* Messages usually name their file already: say it once. */
  size_t n = strlen(what);
  if (!strncmp(msg, what, n) && msg[n] == ':')
    return cli_fail(CLI_FAIL, "%s (%s)", msg, mef3_errname(rc));
  return cli_fail(CLI_FAIL, "%s: %s (%s)", what, msg, mef3_errname(rc));
}

int cli_lib_fail(int rc, const char *what) {
  return cli_fail_with(rc, what, mef3_error_last());
}

int cli_parse_i64(const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end)
    return -1;
  *out = v;
  return 0;
}

void cli_json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
    switch (*p) {
    case '"':
      fputs("\\\"", f);
      break;
    case '\\':
      fputs("\\\\", f);
      break;
    case '\n':
      fputs("\\n", f);
      break;
    case '\r':
      fputs("\\r", f);
      break;
    case '\t':
      fputs("\\t", f);
      break;
    default:
      if (*p < 0x20)
        fprintf(f, "\\u%04x", *p);
      else
        fputc(*p, f);
    }
  }
  fputc('"', f);
}

int cli_opt(int argc, char **argv, int *i, const char *name, const char **val) {
  size_t n = strlen(name);
  const char *a = argv[*i];
  if (strncmp(a, name, n) != 0)
    return 0;
  if (a[n] == '=') {
    *val = a + n + 1;
    return 1;
  }
  if (a[n] != '\0')
    return 0;
  if (*i + 1 >= argc) {
    *val = NULL;
    return 1;
  }
  *val = argv[++*i];
  return 1;
}

static int split(const char *s, int trim, char ***out, size_t *n) {
  *out = NULL;
  *n = 0;
  size_t cap = 1;
  for (const char *p = s; *p; p++)
    cap += *p == ',';
  char **v = calloc(cap, sizeof *v);
  if (!v)
    return -1;
  size_t k = 0;
  const char *p = s;
  while (1) {
    const char *c = strchr(p, ',');
    size_t len = c ? (size_t)(c - p) : strlen(p);
    const char *q = p;
    while (trim && len && (*q == ' ' || *q == '\t')) {
      q++;
      len--;
    }
    while (trim && len && (q[len - 1] == ' ' || q[len - 1] == '\t'))
      len--;
    if (len) {
      v[k] = strndup(q, len);
      if (!v[k]) {
        cli_free_split(v, k);
        return -1;
      }
      k++;
    }
    if (!c)
      break;
    p = c + 1;
  }
  *out = v;
  *n = k;
  return 0;
}

int cli_split(const char *s, char ***out, size_t *n) {
  return split(s, 0, out, n);
}

int cli_split_names(const char *s, char ***out, size_t *n) {
  return split(s, 1, out, n);
}

int cli_fail_channel(const char *path, const char *name,
                     const char *const *names, size_t n) {
  char list[512];
  size_t len = 0;
  list[0] = '\0';
  size_t shown = 0;
  for (; shown < n && shown < 8; shown++) {
    int k = snprintf(list + len, sizeof list - len, "%s%s", shown ? ", " : "",
                     names[shown]);
    if (k < 0 || (size_t)k >= sizeof list - len) {
      list[len] = '\0';
      break;
    }
    len += (size_t)k;
  }
  return cli_fail(CLI_FAIL, "%s: no channel named \"%s\"; it has %zu: %s%s",
                  path, name, n, n ? list : "(none)", shown < n ? ", ..." : "");
}

void cli_free_split(char **v, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

int cli_session_args(int argc, char **argv, const char *name, const char *usage,
                     const char **path, const char **password, int *json) {
  const char *v, *given = NULL, *file = NULL;
  *path = *password = NULL;
  *json = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(usage, stdout);
      return CLI_OK;
    } else if (!strcmp(argv[i], "--json")) {
      *json = 1;
    } else if (cli_opt(argc, argv, &i, "--password", &v)) {
      if (!v)
        return cli_fail(CLI_USAGE, "--password needs a value");
      given = v;
    } else if (cli_opt(argc, argv, &i, "--password-file", &v)) {
      if (!v)
        return cli_fail(CLI_USAGE, "--password-file needs a file");
      file = v;
    } else if (argv[i][0] == '-') {
      return cli_fail(CLI_USAGE, "%s: unknown option %s", name, argv[i]);
    } else if (!*path) {
      *path = argv[i];
    } else {
      return cli_fail(CLI_USAGE, "%s: one session at a time", name);
    }
  }
  if (!*path)
    return cli_fail(CLI_USAGE, "%s: give a SESSION", name);
  return cli_password(given, file, password);
}

mef3_reader *cli_open_session(const char *path, const char *password) {
  mef3_reader_options o = MEF3_READER_OPTIONS_INIT;
  o.password = password;
  mef3_reader *r = NULL;
  int rc = mef3_reader_open(&r, path, &o);
  if (rc && !password && cli_password_prompt(rc, path, &o.password))
    rc = mef3_reader_open(&r, path, &o);
  if (rc) {
    cli_lib_fail(rc, "cannot open session");
    return NULL;
  }
  return r;
}

int cli_write_port_file(const char *path, int port) {
  if (!path)
    return 0;
  /* Written whole, then renamed, so a reader never sees half. */
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) || rename(tmp, path)) {
    cli_fail(CLI_FAIL, "%s: cannot write: %m", path);
    return -1;
  }
  return 0;
}
