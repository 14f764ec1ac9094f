/*
 * server/listen.c - checking an address to listen on before gRPC sees it.
 *
 * gRPC reports a name it cannot resolve, or an address it cannot bind, as
 * a raw log line on stderr ("E1203 ... chttp2_server.cc ...") and a bare
 * failure.  We resolve the host ourselves and bind a probe socket on each
 * of its addresses, so the caller gets one line saying what is wrong.  The
 * probe is closed before gRPC binds; a port taken in between still fails
 * (the server disallows SO_REUSEPORT sharing), only with a vaguer message.
 * Called from mef3_server_start on the caller's thread; the message is
 * the thread's last error (mef3_error_last).
 */
#include "server/listen.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mef3pool/server.h"
#include "util/error.h"

static const char *bind_reason(int err) {
  switch (err) {
  case EADDRINUSE:
    return "port in use";
  case EADDRNOTAVAIL:
    return "not an address of this machine";
  case EACCES:
    return "permission denied (ports below 1024 need privileges)";
  default:
    return strerror(err);
  }
}

int mef3__listen_check(const char *host, int port, char *addr, size_t cap) {
  snprintf(addr, cap, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
  if (!*host)
    return mef3__error(MEF3_EIO, "cannot listen on %s: empty host", addr);
  char service[16];
  snprintf(service, sizeof service, "%d", port);
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  int g = getaddrinfo(host, service, &hints, &res);
  if (g)
    return mef3__error(MEF3_EIO, "cannot listen on %s: no such host (%s)", addr,
                       g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
  int first_err = 0;
  int ok = 0;
  for (struct addrinfo *a = res; a && !ok; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      if (!first_err)
        first_err = errno;
      continue;
    }
    /* As gRPC does: a port in TIME_WAIT is free, a listening one is not. */
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, a->ai_addr, a->ai_addrlen) == 0)
      ok = 1;
    else if (!first_err)
      first_err = errno;
    close(fd);
  }
  freeaddrinfo(res);
  if (!ok)
    return mef3__error(MEF3_EIO, "cannot listen on %s: %s", addr,
                       bind_reason(first_err ? first_err : EADDRNOTAVAIL));
  return 0;
}
