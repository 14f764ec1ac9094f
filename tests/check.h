/*
 * tests/check.h - the assertions of the test programs.
 *
 * CHECK() records a failure and goes on; REQUIRE() ends the test.  Each
 * test program returns check_finish(), which prints "N passed, N failed"
 * and exits non-zero on any failure.
 */
#ifndef MEF3_TESTS_CHECK_H
#define MEF3_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mef3pool.h"

static int check_passed, check_failed;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (cond) {                                                                \
      check_passed++;                                                          \
    } else {                                                                   \
      check_failed++;                                                          \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)

#define CHECK_MSG(cond, ...)                                                   \
  do {                                                                         \
    if (cond) {                                                                \
      check_passed++;                                                          \
    } else {                                                                   \
      check_failed++;                                                          \
      fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                            \
      fputc('\n', stderr);                                                     \
    }                                                                          \
  } while (0)

/* Check that a call returned `want`; prints the library's message if not. */
#define CHECK_RC(call, want)                                                   \
  do {                                                                         \
    int check_rc_ = (call);                                                    \
    CHECK_MSG(check_rc_ == (want), "%s returned %s (%s), wanted %s", #call,    \
              mef3_errname(check_rc_), mef3_error_last()->message,             \
              mef3_errname(want));                                             \
  } while (0)

#define REQUIRE(cond)                                                          \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: REQUIRE failed: %s (%s)\n", __FILE__, __LINE__,  \
              #cond, mef3_error_last()->message);                              \
      check_failed++;                                                          \
      exit(check_finish());                                                    \
    }                                                                          \
  } while (0)

static inline int check_finish(void) {
  printf("%d passed, %d failed\n", check_passed, check_failed);
  return check_failed ? 1 : 0;
}

/*
 * Cases.  A program that holds several cases lists them once:
 *
 *   static const check_case cases[] = {CASE(test_a), CASE(test_b)};
 *   check_run(argc, argv, cases, sizeof cases / sizeof *cases);
 *
 * With no arguments every case runs in order; with names, only those (the
 * work before and after check_run, setup and leak checks, runs either
 * way); `--list` prints the names.  tests/CMakeLists.txt finds the CASE()
 * entries in the source and registers each as the CTest test PROGRAM.CASE,
 * so `ctest -R test_files.test_off_grid` runs one case in its own process.
 */
typedef struct check_case {
  const char *name;
  void (*run)(void);
} check_case;

#define CASE(fn) {#fn, fn}

static inline double check_now_(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void check_run(int argc, char **argv, const check_case *cases,
                             size_t n) {
  if (argc == 2 && strcmp(argv[1], "--list") == 0) {
    for (size_t i = 0; i < n; i++)
      printf("%s\n", cases[i].name);
    exit(0);
  }
  for (int a = 1; a < argc; a++) {
    size_t i = 0;
    while (i < n && strcmp(cases[i].name, argv[a]) != 0)
      i++;
    if (i == n) {
      fprintf(stderr, "%s: no case named \"%s\" (--list shows them)\n",
              argv[0], argv[a]);
      exit(2);
    }
  }
  for (size_t i = 0; i < n; i++) {
    int wanted = argc < 2;
    for (int a = 1; a < argc && !wanted; a++)
      wanted = strcmp(cases[i].name, argv[a]) == 0;
    if (!wanted)
      continue;
    double t0 = check_now_();
    int failed0 = check_failed;
    cases[i].run();
    fprintf(stderr, "case %-36s %7.2f s%s\n", cases[i].name,
            check_now_() - t0, check_failed > failed0 ? "  FAILED" : "");
  }
}

/* Paths of the golden data and of a scratch folder for this test. */
#ifndef MEF3_GOLDEN_DIR
#define MEF3_GOLDEN_DIR "../shared/golden"
#endif
#ifndef MEF3_TEST_TMP
#define MEF3_TEST_TMP "/tmp"
#endif

#endif
