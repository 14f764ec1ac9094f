/* server/listen.h - checking an address to listen on before gRPC sees it
 * (internal). */
#ifndef MEF3_SERVER_LISTEN_H
#define MEF3_SERVER_LISTEN_H

#include <stddef.h>

/*
 * Check that `host`:`port` can be listened on: the host resolves, one of
 * its addresses is this machine's and the port is free there.  Writes the
 * address in gRPC's form ("host:port", "[v6]:port") to `addr`.  Returns 0,
 * or MEF3_EIO with one line of ours as the thread's last error ("cannot listen on
 * H:P: port in use"), so that a bad address never reaches gRPC, whose own
 * complaint is a raw log line.
 */
int mef3__listen_check(const char *host, int port, char *addr, size_t cap);

#endif
