/* server/listen.h - checking an address to listen on before gRPC sees it
 * (internal). */
#ifndef MEF3_SERVER_LISTEN_H
#define MEF3_SERVER_LISTEN_H

#include <stddef.h>

/*
 * Check that `host`:`port` can be listened on: the host resolves, one of
 * its addresses is this machine's and the port is free there.  Writes the
 * address in gRPC's form ("host:port", "[v6]:port") to `addr`.  Returns 0,
 * or MEF3_EIO with one line of ours as the last server error ("cannot listen on
 * H:P: port in use"), so that a bad address never reaches gRPC, whose own
 * complaint is a raw log line.
 */
int mef3__listen_check(const char *host, int port, char *addr, size_t cap);

/* Record `code` and a one-line message as this thread's last server
 * error (mef3_server_error_last); returns `code`. */
int mef3__server_error(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
