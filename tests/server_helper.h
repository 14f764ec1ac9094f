/*
 * tests/server_helper.h - start and stop a real `mef3pool serve` for the
 * server tests: on 127.0.0.1, port 0 (the server picks a free one and
 * writes it to a file), with a log file to look at.
 *
 * The test process makes itself a child subreaper, so that any process the
 * server leaves behind (a reader worker) becomes its child and
 * th_no_children() can see it.  A server not stopped when the test exits
 * (a REQUIRE that failed) is killed at exit: it holds the test's stdout,
 * and CTest would wait for that pipe to close until its timeout.
 */
#ifndef MEF3_TESTS_SERVER_HELPER_H
#define MEF3_TESTS_SERVER_HELPER_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "mef3pool/client.h"
#include "testutil.h"

extern char **environ;

typedef struct {
  pid_t pid;
  int port;
  char addr[64];
  char log[4096];
} th_server;

static inline void th_sleep_ms(int ms) {
  struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000};
  nanosleep(&t, NULL);
}

/* The servers started and not yet stopped, killed at exit. */
static pid_t th_running[32];

static inline void th_forget(pid_t pid) {
  for (size_t i = 0; i < sizeof th_running / sizeof *th_running; i++)
    if (th_running[i] == pid)
      th_running[i] = 0;
}

static void th_kill_running(void) {
  for (size_t i = 0; i < sizeof th_running / sizeof *th_running; i++)
    if (th_running[i] > 0) {
      kill(th_running[i], SIGKILL);
      waitpid(th_running[i], NULL, 0);
      th_running[i] = 0;
    }
}

static inline void th_remember(pid_t pid) {
  static int registered;
  if (!registered)
    registered = atexit(th_kill_running) == 0;
  for (size_t i = 0; i < sizeof th_running / sizeof *th_running; i++)
    if (th_running[i] == 0) {
      th_running[i] = pid;
      return;
    }
}

/* Start `mef3pool serve --root root` plus `extra` (NULL-terminated). */
static inline int th_start(th_server *s, const char *root, const char *const *extra) {
  static int seq;
  const char *dir = tu_scratch(seq++ == 0 ? "srv0" : "srvN");
  char port_file[4096];
  snprintf(port_file, sizeof port_file, "%s/port", dir);
  snprintf(s->log, sizeof s->log, "%s/server.log", dir);
  const char *argv[64];
  int n = 0;
  argv[n++] = MEF3_CLI;
  argv[n++] = "serve";
  argv[n++] = "--port=0";
  argv[n++] = "--bind=127.0.0.1";
  argv[n++] = "--port-file";
  argv[n++] = port_file;
  argv[n++] = "--log-file";
  argv[n++] = s->log;
  argv[n++] = "--log-level=debug";
  argv[n++] = "--reader-processes=2";
  argv[n++] = "--prefetch-processes=1";
  if (root) {
    argv[n++] = "--root";
    argv[n++] = root;
  }
  for (int i = 0; extra && extra[i] && n < 62; i++)
    argv[n++] = extra[i];
  argv[n] = NULL;
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  /* The server's own stderr copy of the log is not needed. */
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  {
    char err_path[4200];
    snprintf(err_path, sizeof err_path, "%s/server.stderr", dir);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  int rc = posix_spawn(&s->pid, MEF3_CLI, &fa, NULL, (char *const *)argv,
                       environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc) {
    fprintf(stderr, "cannot start %s: %s\n", MEF3_CLI, strerror(rc));
    return -1;
  }
  th_remember(s->pid);
  for (int i = 0; i < 600; i++) { /* up to 60 s (sanitizer builds) */
    FILE *f = fopen(port_file, "r");
    if (f) {
      int ok = fscanf(f, "%d", &s->port) == 1;
      fclose(f);
      if (ok) {
        snprintf(s->addr, sizeof s->addr, "127.0.0.1:%d", s->port);
        return 0;
      }
    }
    int st;
    if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
      th_forget(s->pid);
      fprintf(stderr, "the server exited at start (status %d); log:\n", st);
      tu_system("cat '%s' >&2", s->log);
      return -1;
    }
    th_sleep_ms(100);
  }
  fprintf(stderr, "the server did not start\n");
  kill(s->pid, SIGKILL);
  waitpid(s->pid, NULL, 0);
  th_forget(s->pid);
  return -1;
}

/* Send `sig` and wait: the exit status (or -1 when it did not exit
 * normally). */
static inline int th_stop(th_server *s, int sig) {
  kill(s->pid, sig);
  int st;
  while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
    ;
  th_forget(s->pid);
  if (!WIFEXITED(st)) {
    fprintf(stderr, "server ended by signal %d; log:\n",
            WIFSIGNALED(st) ? WTERMSIG(st) : -1);
    tu_system("tail -n 30 '%s' >&2", s->log);
    return -1;
  }
  return WEXITSTATUS(st);
}

/* 1 when no child process is left (after waiting up to 10 s for the
 * orphans to exit: workers end when their socket closes). */
static inline int th_no_children(void) {
  for (int i = 0; i < 100; i++) {
    pid_t p = waitpid(-1, NULL, WNOHANG);
    if (p < 0 && errno == ECHILD)
      return 1;
    if (p == 0)
      th_sleep_ms(100);
  }
  return 0;
}

/* 1 once the log holds `text` (polls up to 30 s). */
static inline int th_log_has(const th_server *s, const char *text) {
  for (int i = 0; i < 300; i++) {
    char *log = tu_read_file(s->log, NULL);
    int found = log && strstr(log, text);
    free(log);
    if (found)
      return 1;
    th_sleep_ms(100);
  }
  return 0;
}

/* The message of the last client error. */
static inline const char *th_err(void) {
  return mef3_error_last()->message;
}

#endif
