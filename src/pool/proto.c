/*
 * pool/proto.c - framing and field encoding of the pool's control
 * messages (see proto.h).  Reads and writes loop over short counts and
 * EINTR; sends use MSG_NOSIGNAL so that a dead peer is an error, not a
 * SIGPIPE.
 */
#include "pool/proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include "util/alloc.h"

static void reserve(mef3__buf *b, size_t more) {
  if (b->oom || b->len + more <= b->cap)
    return;
  if (b->fixed) {
    b->oom = 1;
    return;
  }
  size_t nc = b->cap ? b->cap : 256;
  while (nc < b->len + more)
    nc *= 2;
  uint8_t *np = mef3__realloc(b->p, nc);
  if (!np) {
    b->oom = 1;
    return;
  }
  b->p = np;
  b->cap = nc;
}

void mef3__buf_bytes(mef3__buf *b, const void *p, size_t n) {
  reserve(b, n);
  if (b->oom)
    return;
  memcpy(b->p + b->len, p, n);
  b->len += n;
}

void mef3__buf_u32(mef3__buf *b, uint32_t v) {
  mef3__buf_bytes(b, &v, 4);
}
void mef3__buf_u64(mef3__buf *b, uint64_t v) {
  mef3__buf_bytes(b, &v, 8);
}
void mef3__buf_f64(mef3__buf *b, double v) {
  mef3__buf_bytes(b, &v, 8);
}

void mef3__buf_str(mef3__buf *b, const char *s) {
  size_t n = s ? strlen(s) : 0;
  mef3__buf_u32(b, (uint32_t)n);
  if (n)
    mef3__buf_bytes(b, s, n);
  mef3__buf_bytes(b, "", 1);
}

void mef3__buf_free(mef3__buf *b) {
  if (b->fixed) {
    b->len = 0;
    b->oom = 0;
    return;
  }
  mef3__free(b->p);
  memset(b, 0, sizeof *b);
}

static const uint8_t *take(mef3__cur *c, size_t n) {
  if (c->bad || c->len - c->pos < n) {
    c->bad = 1;
    return NULL;
  }
  const uint8_t *p = c->p + c->pos;
  c->pos += n;
  return p;
}

uint32_t mef3__cur_u32(mef3__cur *c) {
  const uint8_t *p = take(c, 4);
  uint32_t v = 0;
  if (p)
    memcpy(&v, p, 4);
  return v;
}

uint64_t mef3__cur_u64(mef3__cur *c) {
  const uint8_t *p = take(c, 8);
  uint64_t v = 0;
  if (p)
    memcpy(&v, p, 8);
  return v;
}

double mef3__cur_f64(mef3__cur *c) {
  const uint8_t *p = take(c, 8);
  double v = 0;
  if (p)
    memcpy(&v, p, 8);
  return v;
}

const char *mef3__cur_str(mef3__cur *c) {
  uint32_t n = mef3__cur_u32(c);
  const uint8_t *p = take(c, (size_t)n + 1);
  if (!p || p[n] != '\0') {
    c->bad = 1;
    return "";
  }
  return (const char *)p;
}

int mef3__frame_send(int sock, const mef3__buf *body, int fd) {
  if (body->oom) {
    errno = ENOMEM;
    return -1;
  }
  uint32_t len = (uint32_t)body->len;
  struct iovec iov[2] = {{&len, 4}, {body->p, body->len}};
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } ctl;
  struct msghdr msg = {0};
  msg.msg_iov = iov;
  msg.msg_iovlen = 2;
  if (fd >= 0) {
    memset(&ctl, 0, sizeof ctl);
    msg.msg_control = ctl.buf;
    msg.msg_controllen = sizeof ctl.buf;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof fd);
  }
  size_t total = 4 + body->len, sent = 0;
  while (sent < total) {
    ssize_t k = sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    sent += (size_t)k;
    msg.msg_control = NULL; /* the descriptor went with the first byte */
    msg.msg_controllen = 0;
    /* advance the iovecs past what was sent */
    size_t skip = (size_t)k;
    while (msg.msg_iovlen && skip >= msg.msg_iov[0].iov_len) {
      skip -= msg.msg_iov[0].iov_len;
      msg.msg_iov++;
      msg.msg_iovlen--;
    }
    if (msg.msg_iovlen) {
      msg.msg_iov[0].iov_base = (char *)msg.msg_iov[0].iov_base + skip;
      msg.msg_iov[0].iov_len -= skip;
    }
  }
  return 0;
}

/* Read exactly n bytes (the first read may carry a descriptor). */
static int read_full(int sock, void *p, size_t n, int *fd) {
  size_t got = 0;
  while (got < n) {
    union {
      struct cmsghdr h;
      char buf[CMSG_SPACE(sizeof(int) * 4)];
    } ctl;
    struct iovec iov = {(char *)p + got, n - got};
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.buf;
    msg.msg_controllen = sizeof ctl.buf;
    ssize_t k = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    int lost_fd = (msg.msg_flags & MSG_CTRUNC) != 0; /* no room for it */
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm;
         cm = CMSG_NXTHDR(&msg, cm)) {
      if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
        int nfd = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < nfd; i++) {
          int x;
          memcpy(&x, CMSG_DATA(cm) + i * sizeof(int), sizeof x);
          if (fd && *fd < 0)
            *fd = x;
          else
            close(x); /* unexpected extra descriptors */
        }
      }
    }
    if (lost_fd) {
      errno = EMFILE;
      return -1;
    }
    if (k == 0)
      return got == 0 ? 0 : (errno = EPROTO, -1);
    got += (size_t)k;
  }
  return 1;
}

int mef3__frame_recv(int sock, mef3__buf *b, int *fd) {
  *fd = -1;
  uint32_t len;
  int rc = read_full(sock, &len, 4, fd);
  if (rc <= 0)
    return rc;
  if (len > MEF3__MSG_MAX_BYTES) {
    errno = EPROTO;
    return -1;
  }
  b->len = 0;
  reserve(b, len ? len : 1);
  if (b->oom) {
    errno = ENOMEM;
    return -1;
  }
  rc = read_full(sock, b->p, len, NULL);
  if (rc == 0 && len) {
    errno = EPROTO;
    return -1;
  }
  if (rc < 0)
    return -1;
  b->len = len;
  return 1;
}
