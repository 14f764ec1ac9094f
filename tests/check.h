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

/* Paths of the golden data and of a scratch folder for this test. */
#ifndef MEF3_GOLDEN_DIR
#define MEF3_GOLDEN_DIR "../shared/golden"
#endif
#ifndef MEF3_TEST_TMP
#define MEF3_TEST_TMP "/tmp"
#endif

#endif
