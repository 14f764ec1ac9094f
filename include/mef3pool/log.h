/*
 * mef3pool/log.h - log levels, the log callback every layer takes (file
 * manager, server, HTTP), and a ready logger for programs: timestamped
 * lines to stderr and/or a file.
 */
#ifndef MEF3POOL_LOG_H
#define MEF3POOL_LOG_H

#include <stdarg.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Log levels of the optional log callback. */
typedef enum mef3_log_level {
  MEF3_LOG_DEBUG = 0,
  MEF3_LOG_INFO = 1,
  MEF3_LOG_WARN = 2,
  MEF3_LOG_ERROR = 3
} mef3_log_level;

typedef void (*mef3_log_fn)(mef3_log_level level, const char *message,
                            void *payload);

/* Format a message (at most 1 KiB; longer ones are cut) and hand it to
 * `fn` with `payload`; nothing when `fn` is NULL.  What every layer's log
 * calls, so a line is formatted in one place. */
MEF3_EXTERN void mef3_log_printf(mef3_log_fn fn, void *payload,
                                 mef3_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same with a va_list, for a layer's own varargs wrapper. */
MEF3_EXTERN void mef3_log_vprintf(mef3_log_fn fn, void *payload,
                                  mef3_log_level level, const char *fmt,
                                  va_list ap)
    __attribute__((format(printf, 4, 0)));

typedef struct mef3_log_sink mef3_log_sink;

/*
 * A logger writing "2026-01-02T03:04:05.678Z LEVEL message" lines to
 * stderr (when `to_stderr`) and appended to `path` (when not NULL).  Its
 * mef3_log_sink_write is a mef3_log_fn; pass the logger as payload.
 * Returns 0, MEF3_EIO (cannot open path; errno is fopen's), MEF3_ENOMEM,
 * with the message in mef3_error_last().
 */
MEF3_EXTERN int mef3_log_sink_open(mef3_log_sink **out, mef3_log_level level,
                                   int to_stderr, const char *path);
MEF3_EXTERN void mef3_log_sink_write(mef3_log_level level, const char *message,
                                     void *payload);
MEF3_EXTERN void mef3_log_sink_close(mef3_log_sink *log);

/* Parse "debug", "info", "warn", "error"; 0 or MEF3_EINVAL (with a
 * message in mef3_error_last()). */
MEF3_EXTERN int mef3_log_level_parse(mef3_log_level *out, const char *s);

#ifdef __cplusplus
}
#endif

#endif
