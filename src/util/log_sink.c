/*
 * util/log_sink.c - the logger of programs (server, viewer): one line per
 * message, with a UTC timestamp and a level, to stderr and/or appended to
 * a file.
 *
 * Any thread may write; a mutex keeps lines whole and in order.  Callers
 * never pass a password (the server logs paths, windows and outcomes only).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mef3pool/log.h"
#include "util/error.h"

struct mef3_log_sink {
  pthread_mutex_t mu;
  mef3_log_level level;
  int to_stderr;
  FILE *file;
};

int mef3_log_sink_open(mef3_log_sink **out, mef3_log_level level,
                         int to_stderr, const char *path) {
  *out = NULL;
  mef3_log_sink *l = calloc(1, sizeof *l);
  if (!l)
    return mef3__error(MEF3_ENOMEM, "log: out of memory");
  if (path && !(l->file = fopen(path, "a"))) {
    int err = errno; /* kept for the caller (the CLI prints %m) */
    free(l);
    mef3__error(MEF3_EIO, "%s: cannot open the log file: %s", path,
                strerror(err));
    errno = err;
    return MEF3_EIO;
  }
  pthread_mutex_init(&l->mu, NULL);
  l->level = level;
  l->to_stderr = to_stderr;
  *out = l;
  return 0;
}

void mef3_log_sink_write(mef3_log_level level, const char *message,
                           void *payload) {
  static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  mef3_log_sink *l = payload;
  if (!l || level < l->level)
    return;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char stamp[40];
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  const char *name = (unsigned)level < 4 ? names[level] : "?";
  pthread_mutex_lock(&l->mu);
  if (l->to_stderr) {
    fprintf(stderr, "%s.%03ldZ %-5s %s\n", stamp, ts.tv_nsec / 1000000, name,
            message);
    fflush(stderr);
  }
  if (l->file) {
    fprintf(l->file, "%s.%03ldZ %-5s %s\n", stamp, ts.tv_nsec / 1000000,
            name, message);
    fflush(l->file);
  }
  pthread_mutex_unlock(&l->mu);
}

void mef3_log_sink_close(mef3_log_sink *l) {
  if (!l)
    return;
  if (l->file)
    fclose(l->file);
  pthread_mutex_destroy(&l->mu);
  free(l);
}

int mef3_log_level_parse(mef3_log_level *out, const char *s) {
  static const char *names[] = {"debug", "info", "warn", "error"};
  for (int i = 0; i < 4; i++)
    if (!strcasecmp(s, names[i]) ||
        (i == 2 && !strcasecmp(s, "warning"))) {
      *out = (mef3_log_level)i;
      return 0;
    }
  return mef3__error(MEF3_EINVAL,
                     "log level \"%s\": debug, info, warn or error", s);
}

void mef3_log_vprintf(mef3_log_fn fn, void *payload, mef3_log_level level,
                      const char *fmt, va_list ap) {
  if (!fn)
    return;
  char buf[1024];
  vsnprintf(buf, sizeof buf, fmt, ap);
  fn(level, buf, payload);
}

void mef3_log_printf(mef3_log_fn fn, void *payload, mef3_log_level level,
                     const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  mef3_log_vprintf(fn, payload, level, fmt, ap);
  va_end(ap);
}
