/*
 * cli/cli.h - the subcommands of the mef3pool command and their shared
 * helpers.  The CLI uses the public API only.
 *
 * Exit codes: 0 success, 1 failure (one line on stderr), 2 usage error.
 */
#ifndef MEF3_CLI_H
#define MEF3_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "mef3pool.h"

#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

int mef3_cli_info(int argc, char **argv);
int mef3_cli_read(int argc, char **argv);
int mef3_cli_records(int argc, char **argv);
int mef3_cli_serve(int argc, char **argv);
int mef3_cli_client(int argc, char **argv);
int mef3_cli_gen(int argc, char **argv);
int mef3_cli_view(int argc, char **argv);

/* The running subcommand ("read", "client", ...; NULL before one is
 * chosen), named by usage errors. */
extern const char *cli_command;

/* Print "mef3pool: " + message to stderr as one line; returns `code`.
 * A usage error (CLI_USAGE) ends with "; see `mef3pool CMD --help`":
 * never the whole help text. */
int cli_fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Report a library failure: the last error's message or its code name,
 * after `what` unless the message begins with it. */
int cli_lib_fail(int rc, const char *what);
/* The same with error `e` (a client's or a server's last error). */
int cli_fail_with(int rc, const char *what, const mef3_error *e);

/* A duration in µs (gen's --duration, --gap, --segment): a non-negative
 * number with an optional unit us, ms, s, m, h; a bare number is seconds.
 * 0 or -1. */
int cli_parse_duration(const char *s, int64_t *out);
/* Parse a time (cli_time.c): an integer is absolute µUTC; ISO 8601 UTC
 * ("2021-01-01T00:10:00.5Z"); relative to `base`: hh:mm:ss[.f] or a
 * number with a unit us, ms, s, m, h ("10s", "-2.5ms").  0 or -1. */
int cli_parse_time(const char *s, int64_t base, int64_t *out);
/* What --start/--end take, for error messages. */
#define CLI_TIME_FORMS                                                         \
  "µUTC integers, ISO 8601 UTC times (2021-01-01T00:10:00Z) or times "        \
  "after the start (10s, 250ms, 00:01:30.5)"
/* `uutc` as ISO 8601 UTC ("2021-01-01T00:00:00.250000Z"). */
void cli_format_time(int64_t uutc, char *buf, size_t cap);
/* When [t0, t1) lies wholly outside [rec0, rec1): one note on stderr
 * naming the recording's span (the window still reads, as NaN). */
void cli_note_outside(int64_t t0, int64_t t1, int64_t rec0, int64_t rec1);
/* Parse a non-negative integer; 0 or -1. */
int cli_parse_i64(const char *s, int64_t *out);

/* Write `s` as a JSON string literal. */
void cli_json_string(FILE *f, const char *s);

/* 1 when the value of option `name` is next: handles "--name V" and
 * "--name=V", advancing *i. */
int cli_opt(int argc, char **argv, int *i, const char *name, const char **val);

/*
 * Parse "SESSION [--password P] [--json]" for command `name` (argv[0] is
 * the command).  Returns -1 when the caller should go on, or the exit code
 * to return (CLI_OK after printing `usage` for --help, CLI_USAGE).
 */
int cli_session_args(int argc, char **argv, const char *name, const char *usage,
                     const char **path, const char **password, int *json);

/*
 * A command's password (cli_password.c): `given` (--password), else the
 * first line of `file` (--password-file), else $MEF3POOL_PASSWORD, else
 * NULL, into *out.  Returns -1 to go on, or an exit code (both options,
 * an unreadable file: the error said).
 */
int cli_password(const char *given, const char *file, const char **out);
/* The two passwords a writer takes, from `file`: its first line is the
 * level-1 password, its second (if any) the level-2 one (*l2 NULL when
 * absent).  -1 to go on, or an exit code (the error said). */
int cli_password_pair(const char *file, const char **l1, const char **l2);
/* After a failure `rc`: when it is MEF3_EPASSWORD and stdin is a
 * terminal, ask for the password of `what` on the terminal, without echo;
 * 1 when one was typed (*out set), else 0. */
int cli_password_prompt(int rc, const char *what, const char **out);
/* The help text's paragraph on passwords. */
#define CLI_PASSWORD_HELP                                                      \
  "Passwords: --password P is seen by every user of the machine (ps shows\n" \
  "command lines); prefer --password-file F (its first line) or the\n"       \
  "environment variable MEF3POOL_PASSWORD.  Without any, a session that\n"   \
  "needs one asks for it on the terminal (no echo) when stdin is one.\n"

/* Open `path` with `password` or report the failure (asking for a
 * password on a terminal when one is needed and none was given); NULL on failure
 * (the exit code is then CLI_FAIL). */
mef3_reader *cli_open_session(const char *path, const char *password);

/* Split "a,b,c" into a malloc'd array of malloc'd strings; empty items
 * are dropped. */
int cli_split(const char *s, char ***out, size_t *n);
/* As cli_split, each name trimmed of surrounding spaces ("a, b"). */
int cli_split_names(const char *s, char ***out, size_t *n);
/* Report channel `name` missing from `path`, listing the first few of
 * the `n` channels there are; returns CLI_FAIL. */
int cli_fail_channel(const char *path, const char *name,
                     const char *const *names, size_t n);
void cli_free_split(char **v, size_t n);
/* Write "PORT\n" to `path` whole (a temporary file renamed); NULL does
 * nothing.  0, or -1 after reporting the failure. */
int cli_write_port_file(const char *path, int port);

#endif
