/*
 * util/error.c - the error table and the per-thread last error.
 *
 * Each thread has its own mef3_error (thread-local storage), written once
 * where a failure is found and read by mef3_error_last().  Nothing here is
 * shared between threads.
 */
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local mef3_error last_error;

const char *mef3_strerror(int code) {
  switch (code) {
  case 0:
    return "success";
#define MEF3__DESC(name, val, desc)                                            \
  case val:                                                                    \
    return desc;
    MEF3_ERRNO_MAP(MEF3__DESC)
#undef MEF3__DESC
  default:
    return "unknown error";
  }
}

const char *mef3_errname(int code) {
  switch (code) {
  case 0:
    return "MEF3_OK";
#define MEF3__NAME(name, val, desc)                                            \
  case val:                                                                    \
    return "MEF3_" #name;
    MEF3_ERRNO_MAP(MEF3__NAME)
#undef MEF3__NAME
  default:
    return "MEF3_UNKNOWN";
  }
}

const mef3_error *mef3_error_last(void) {
  return &last_error;
}

void mef3_error_clear(void) {
  last_error.code = 0;
  last_error.message[0] = '\0';
}

const char *mef3_version(void) {
  return MEF3POOL_VERSION_STRING;
}

size_t mef3_sample_size(mef3_sample_type type) {
  switch (type) {
  case MEF3_F32:
    return 4;
  case MEF3_F64:
    return 8;
  case MEF3_I32:
    return 4;
  }
  return 0;
}

static void set_message(int code, const char *prefix, const char *fmt,
                        va_list ap) {
  /* Format into a scratch buffer first: the arguments may point into the
   * current message (a caller adding context to an inner error). */
  char tmp[sizeof last_error.message];
  size_t n = 0;
  if (prefix) {
    int k = snprintf(tmp, sizeof tmp, "%s", prefix);
    n = k < 0 ? 0 : (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1;
  }
  vsnprintf(tmp + n, sizeof tmp - n, fmt, ap);
  for (char *p = tmp; *p; p++) /* keep it one line */
    if (*p == '\n' || *p == '\r')
      *p = ' ';
  memcpy(last_error.message, tmp, sizeof tmp);
  last_error.code = code;
}

int mef3__error(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  set_message(code, NULL, fmt, ap);
  va_end(ap);
  return code;
}

int mef3__error_at(int code, const char *path, uint64_t offset, const char *fmt,
                   ...) {
  char prefix[300];
  snprintf(prefix, sizeof prefix,
           "%s: at offset %llu: ", path ? path : "<buffer>",
           (unsigned long long)offset);
  va_list ap;
  va_start(ap, fmt);
  set_message(code, prefix, fmt, ap);
  va_end(ap);
  return code;
}
