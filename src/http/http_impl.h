/*
 * http/http_impl.h - internals of the HTTP server shared by http_server.c
 * (the daemon, requests, responses, static files) and http_api.c (the
 * /api/ handlers).  Not installed.
 */
#ifndef MEF3_HTTP_IMPL_H
#define MEF3_HTTP_IMPL_H

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

#include "mef3pool/http.h"

#define HTTP_MAX_BODY (64 * 1024) /* POST bodies (JSON) */

struct mef3_http {
  struct MHD_Daemon *d;
  mef3_files *fm;
  mef3_http_options o;
  int port;
  char *root;            /* the file manager's data root (canonical), or NULL */
  char **sessions;       /* paths the API may open without a root */
  size_t n_sessions;
  char *tls_cert, *tls_key; /* PEM contents */
};

/* One request in progress (MHD's per-connection request context). */
typedef struct hreq {
  mef3_http *h;
  struct MHD_Connection *c;
  const char *method, *url;
  char *body;
  size_t body_len;
  int too_big;
} hreq;

/* A growable byte buffer (malloc). */
typedef struct hbuf {
  char *p;
  size_t len, cap;
  int oom;
} hbuf;

void hbuf_put(hbuf *b, const void *p, size_t n);
void hbuf_printf(hbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A JSON string literal of `s` (UTF-8 passed through, controls escaped). */
void hbuf_json(hbuf *b, const char *s);

/* Reply with a body (taken: freed with free()) and extra headers given as
 * NULL-terminated name/value pairs. */
enum MHD_Result mef3__http_reply(hreq *r, unsigned status, const char *ctype,
                                 void *body, size_t len,
                                 const char *const *headers);
/* {"error": msg, "code": NAME} with the status `code` maps to. */
enum MHD_Result mef3__http_error(hreq *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 400 with a message. */
enum MHD_Result mef3__http_bad(hreq *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The status a library code maps to. */
unsigned mef3__http_status(int code);
void mef3__http_log(mef3_http *h, mef3_log_level lv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The /api/ handlers; `r->url` starts with "/api/". */
enum MHD_Result mef3__http_api(hreq *r);

/* Embedded static files (generated at build time from web/). */
typedef struct mef3__asset {
  const char *name; /* "/index.html" */
  const char *type;
  const unsigned char *data;
  size_t len;
  const char *etag;
} mef3__asset;
extern const mef3__asset mef3__assets[];
extern const size_t mef3__n_assets;

#endif
