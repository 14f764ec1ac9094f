/*
 * server/server_log.c - the server's logger: one line per message, with a
 * UTC timestamp and a level, to stderr and/or appended to a file.
 *
 * Any thread may write; a mutex keeps lines whole and in order.  Callers
 * never pass a password (the server logs paths, windows and outcomes only).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mef3pool/server.h"

struct mef3_server_log {
  pthread_mutex_t mu;
  mef3_log_level level;
  int to_stderr;
  FILE *file;
};

int mef3_server_log_open(mef3_server_log **out, mef3_log_level level,
                         int to_stderr, const char *path) {
  *out = NULL;
  mef3_server_log *l = calloc(1, sizeof *l);
  if (!l)
    return MEF3_ENOMEM;
  if (path && !(l->file = fopen(path, "a"))) {
    free(l);
    return MEF3_EIO;
  }
  pthread_mutex_init(&l->mu, NULL);
  l->level = level;
  l->to_stderr = to_stderr;
  *out = l;
  return 0;
}

void mef3_server_log_write(mef3_log_level level, const char *message,
                           void *payload) {
  static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  mef3_server_log *l = payload;
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

void mef3_server_log_close(mef3_server_log *l) {
  if (!l)
    return;
  if (l->file)
    fclose(l->file);
  pthread_mutex_destroy(&l->mu);
  free(l);
}
