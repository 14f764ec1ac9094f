/*
 * cli/cli_password.c - where a command's password comes from, so that it
 * need not be on the command line (where `ps` shows it to every user):
 * --password P, else --password-file F (its first line), else the
 * environment variable MEF3POOL_PASSWORD, else, when the session needs one
 * and stdin is a terminal, a prompt on the terminal without echo.
 *
 * The password read from a file or typed is kept in one static buffer,
 * wiped at exit.  Single-threaded, as the CLI is.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

static char held[1024];
static int wipe_registered;

static void wipe_held(void) {
  volatile char *p = held;
  for (size_t i = 0; i < sizeof held; i++)
    p[i] = 0;
}

static void hold(void) {
  if (!wipe_registered) {
    atexit(wipe_held);
    wipe_registered = 1;
  }
}

/* Cut a line end off `held`. */
static void chomp(void) {
  size_t n = strcspn(held, "\r\n");
  held[n] = '\0';
}

int cli_password(const char *given, const char *file, const char **out) {
  *out = NULL;
  if (given && file)
    return cli_fail(CLI_USAGE, "give --password or --password-file, not both");
  if (given) {
    *out = given;
    return -1;
  }
  if (file) {
    FILE *f = fopen(file, "r");
    if (!f)
      return cli_fail(CLI_FAIL, "%s: cannot read the password file: %s", file,
                      strerror(errno));
    hold();
    int ok = fgets(held, sizeof held, f) != NULL;
    fclose(f);
    if (!ok)
      return cli_fail(CLI_FAIL, "%s: the password file is empty", file);
    chomp();
    *out = held;
    return -1;
  }
  const char *env = getenv("MEF3POOL_PASSWORD");
  if (env && *env)
    *out = env;
  return -1;
}

int cli_password_pair(const char *file, const char **l1, const char **l2) {
  *l1 = *l2 = NULL;
  FILE *f = fopen(file, "r");
  if (!f)
    return cli_fail(CLI_FAIL, "%s: cannot read the password file: %s", file,
                    strerror(errno));
  hold();
  size_t half = sizeof held / 2;
  int ok = fgets(held, (int)half, f) != NULL;
  if (ok && !fgets(held + half, (int)half, f))
    held[half] = '\0';
  fclose(f);
  held[strcspn(held, "\r\n")] = '\0';
  held[half + strcspn(held + half, "\r\n")] = '\0';
  if (!ok || !held[0])
    return cli_fail(CLI_FAIL, "%s: the password file has no first line",
                    file);
  *l1 = held;
  *l2 = held[half] ? held + half : NULL;
  return -1;
}

int cli_password_prompt(int rc, const char *what, const char **out) {
  if (rc != MEF3_EPASSWORD || !isatty(STDIN_FILENO))
    return 0;
  FILE *tty = fopen("/dev/tty", "r+");
  if (!tty)
    return 0;
  struct termios old, quiet;
  int fd = fileno(tty);
  if (tcgetattr(fd, &old) != 0) {
    fclose(tty);
    return 0;
  }
  quiet = old;
  quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
  fprintf(tty, "password for %s: ", what);
  fflush(tty);
  tcsetattr(fd, TCSAFLUSH, &quiet);
  hold();
  int ok = fgets(held, sizeof held, tty) != NULL;
  tcsetattr(fd, TCSAFLUSH, &old);
  fputc('\n', tty);
  fclose(tty);
  if (!ok)
    return 0;
  chomp();
  *out = held;
  return held[0] != '\0';
}
