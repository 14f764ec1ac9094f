/*
 * tests/server/test_server_helper_exit.c - a server test that ends on a
 * failed REQUIRE leaves no server behind (server_helper.h): this program
 * runs itself as a child that starts a server and fails, with its output
 * on a pipe, as CTest runs a test.  The pipe must reach end-of-file (every
 * holder gone, the server included) and the server must be gone.  Before
 * the helper killed its servers at exit, the orphaned server held the pipe
 * open and CTest waited for its 600 s timeout; here the wait is bounded by
 * 120 s (a failure, never a timing).
 */
#include <poll.h>

#include "server_helper.h"

static int child(void) {
  th_server s;
  REQUIRE(th_start(&s, NULL, NULL) == 0);
  printf("server pid %d\n", (int)s.pid);
  fflush(stdout);
  REQUIRE(!"a test failing while its server runs");
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "--child"))
    return child();
  int fd[2];
  REQUIRE(pipe(fd) == 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fd[1], 2);
  posix_spawn_file_actions_addclose(&fa, fd[0]);
  char *cargv[] = {"/proc/self/exe", "--child", NULL};
  pid_t kid;
  REQUIRE(posix_spawn(&kid, "/proc/self/exe", &fa, NULL, cargv, environ) == 0);
  posix_spawn_file_actions_destroy(&fa);
  close(fd[1]);
  char out[8192];
  size_t got = 0;
  int eof = 0;
  for (int waited = 0; !eof && waited < 1200;) {
    struct pollfd p = {fd[0], POLLIN, 0};
    int r = poll(&p, 1, 100);
    if (r == 0) {
      waited++;
      continue;
    }
    ssize_t n = read(fd[0], out + got, sizeof out - 1 - got);
    if (n <= 0)
      eof = 1;
    else if ((got += (size_t)n) == sizeof out - 1)
      got = 0; /* keep reading; only the first lines matter */
  }
  out[got] = '\0';
  int st = 0;
  waitpid(kid, &st, 0);
  CHECK_MSG(eof, "the pipe stayed open 120 s after the test failed: a "
                 "server kept it");
  CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) != 0,
            "the failing child exited with status %d", st);
  int spid = 0;
  const char *at = strstr(out, "server pid ");
  CHECK_MSG(at && sscanf(at, "server pid %d", &spid) == 1 && spid > 0,
            "the child said no server pid: %s", out);
  if (spid > 0) {
    /* A zombie would still answer kill(); a process gone does not. */
    int gone = kill(spid, 0) != 0 && errno == ESRCH;
    if (!gone) {
      kill(spid, SIGKILL);
      waitpid(spid, NULL, 0);
    }
    CHECK_MSG(gone, "server %d outlived the failed test", spid);
  }
  close(fd[0]);
  return check_finish();
}
