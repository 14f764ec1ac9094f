/*
 * client/client_error.c - the client's error detail: one per thread, set
 * where a failure is found and read with mef3_client_error_last().
 *
 * The client is its own library (mef3pool-rpc) and the core library's
 * error setter is private to it, so the client keeps this channel of its
 * own.  Thread-local: no locks.
 */
#include <stdarg.h>
#include <stdio.h>

#include "client/client_impl.h"

static _Thread_local mef3_error client_err;

const mef3_error *mef3_client_error_last(void) {
  return &client_err;
}

int mef3__client_error(int code, const char *fmt, ...) {
  client_err.code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(client_err.message, sizeof client_err.message, fmt, ap);
  va_end(ap);
  return code;
}

int mef3__client_server_error(const char *msg, const char *code) {
  int c = mef3__rpc_code_of_name(code);
  return mef3__client_error(c ? c : MEF3_ERROR, "%s", msg);
}
