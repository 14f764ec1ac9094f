/*
 * util/error.h - setting the per-thread last error (internal).
 *
 * One channel for the whole house: the core sets it, and so do the
 * libraries built over it (mef3pool-rpc: server, client, rpc), so that
 * mef3_error_last() answers after a failing call of any public header.
 * The setters are therefore exported from the shared core (MEF3__SHARED,
 * default visibility) while their names stay internal (mef3__, this
 * header is not installed).  In a static link the one definition in
 * libmef3pool.a is the channel of every library in the program.
 */
#ifndef MEF3_UTIL_ERROR_H
#define MEF3_UTIL_ERROR_H

#include "mef3pool/common.h"

#if defined(__GNUC__)
#define MEF3__PRINTF(a, b) __attribute__((format(printf, a, b)))
/* Internal, but used across the library boundary (core -> rpc). */
#define MEF3__SHARED __attribute__((visibility("default")))
#else
#define MEF3__PRINTF(a, b)
#define MEF3__SHARED
#endif

/* Record `code` and a formatted one-line message for this thread; returns
 * `code` so that callers can write `return mef3__error(...)`. */
MEF3__SHARED int mef3__error(int code, const char *fmt, ...) MEF3__PRINTF(2, 3);

/* Like mef3__error, for a file: "PATH: at offset OFF: message". */
MEF3__SHARED int mef3__error_at(int code, const char *path, uint64_t offset,
                                const char *fmt, ...) MEF3__PRINTF(4, 5);

#endif
