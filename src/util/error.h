/* util/error.h - setting the per-thread last error (internal). */
#ifndef MEF3_UTIL_ERROR_H
#define MEF3_UTIL_ERROR_H

#include "mef3pool/common.h"

#if defined(__GNUC__)
#define MEF3__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MEF3__PRINTF(a, b)
#endif

/* Record `code` and a formatted one-line message for this thread; returns
 * `code` so that callers can write `return mef3__error(...)`. */
int mef3__error(int code, const char *fmt, ...) MEF3__PRINTF(2, 3);

/* Like mef3__error, for a file: "PATH: at offset OFF: message". */
int mef3__error_at(int code, const char *path, uint64_t offset, const char *fmt,
                   ...) MEF3__PRINTF(4, 5);

#endif
