/*
 * http/http_server.c - the HTTP server of the viewer: a libmicrohttpd
 * daemon, request bodies, replies, the embedded page.
 *
 * Threads: MHD_USE_THREAD_PER_CONNECTION with MHD's internal polling
 * thread: each connection (a browser keeps about six) has its own thread,
 * so a handler may block in the file manager without holding up any other
 * connection; MHD_OPTION_CONNECTION_LIMIT bounds the threads.  Nothing
 * here is shared between requests but the file manager (thread-safe) and
 * constant data, so no lock is taken.
 *
 * Requests: a POST body is collected (at most HTTP_MAX_BODY bytes, else
 * 413) before the handler runs; every other method but GET and HEAD is
 * 405.  The log gets one line per request at DEBUG (method and path; the
 * query string is left out although it never holds a password) and every
 * failure at WARN.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_impl.h"
#include "util/version.h"

/* ---- buffers ---- */

void hbuf_put(hbuf *b, const void *p, size_t n) {
  if (b->oom)
    return;
  if (b->len + n + 1 > b->cap) {
    size_t nc = b->cap ? b->cap : 256;
    while (nc < b->len + n + 1)
      nc *= 2;
    char *np = realloc(b->p, nc);
    if (!np) {
      b->oom = 1;
      return;
    }
    b->p = np;
    b->cap = nc;
  }
  memcpy(b->p + b->len, p, n);
  b->len += n;
  b->p[b->len] = '\0';
}

void hbuf_printf(hbuf *b, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if ((size_t)n < sizeof tmp) {
    hbuf_put(b, tmp, (size_t)n);
    return;
  }
  char *big = malloc((size_t)n + 1);
  if (!big) {
    b->oom = 1;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  hbuf_put(b, big, (size_t)n);
  free(big);
}

void hbuf_json(hbuf *b, const char *s) {
  hbuf_put(b, "\"", 1);
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    if (*p == '"' || *p == '\\') {
      char e[2] = {'\\', (char)*p};
      hbuf_put(b, e, 2);
    } else if (*p < 0x20 || *p == 0x7f) {
      hbuf_printf(b, "\\u%04x", *p);
    } else {
      hbuf_put(b, p, 1);
    }
  }
  hbuf_put(b, "\"", 1);
}

/* ---- logging, replies ---- */

void mef3__http_log(mef3_http *h, mef3_log_level lv, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  mef3_log_vprintf(h->o.log, h->o.log_payload, lv, fmt, ap);
  va_end(ap);
}

unsigned mef3__http_status(int code) {
  switch (code) {
  case 0:
    return MHD_HTTP_OK;
  case MEF3_EINVAL:
    return MHD_HTTP_BAD_REQUEST;
  case MEF3_ENOTFOUND:
    return MHD_HTTP_NOT_FOUND;
  case MEF3_EPASSWORD:
  case MEF3_EACCESS:
    return MHD_HTTP_FORBIDDEN;
  case MEF3_ELIMIT:
  case MEF3_EBUFSIZE:
    return MHD_HTTP_CONTENT_TOO_LARGE;
  case MEF3_ECORRUPT:
  case MEF3_ECRC:
  case MEF3_EUNSUPPORTED:
    return MHD_HTTP_UNPROCESSABLE_CONTENT;
  case MEF3_ENOMEM:
  case MEF3_ETIMEDOUT:
    return MHD_HTTP_SERVICE_UNAVAILABLE;
  default:
    return MHD_HTTP_INTERNAL_SERVER_ERROR;
  }
}

static void free_cb(void *p) { free(p); }

enum MHD_Result mef3__http_reply(hreq *r, unsigned status, const char *ctype,
                                 void *body, size_t len,
                                 const char *const *headers) {
  struct MHD_Response *resp =
      MHD_create_response_from_buffer_with_free_callback(len, body, free_cb);
  if (!resp) {
    free(body);
    return MHD_NO;
  }
  if (ctype)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
  MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  for (size_t i = 0; headers && headers[i]; i += 2)
    MHD_add_response_header(resp, headers[i], headers[i + 1]);
  enum MHD_Result ok = MHD_queue_response(r->c, status, resp);
  MHD_destroy_response(resp);
  return ok;
}

static enum MHD_Result verror(hreq *r, unsigned status, const char *name,
                              const char *fmt, va_list ap) {
  char msg[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  mef3__http_log(r->h, MEF3_LOG_WARN, "%s %s: %u %s", r->method, r->url,
                 status, msg);
  hbuf b = {0};
  hbuf_put(&b, "{\"error\":", 9);
  hbuf_json(&b, msg);
  hbuf_put(&b, ",\"code\":", 8);
  hbuf_json(&b, name);
  hbuf_put(&b, "}\n", 2);
  if (b.oom) {
    free(b.p);
    return MHD_NO;
  }
  static const char *const hdr[] = {"Cache-Control", "no-store", NULL};
  return mef3__http_reply(r, status, "application/json", b.p, b.len, hdr);
}

enum MHD_Result mef3__http_error(hreq *r, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const char *name = mef3_errname(code);
  if (!strncmp(name, "MEF3_", 5))
    name += 5;
  enum MHD_Result ok = verror(r, mef3__http_status(code), name, fmt, ap);
  va_end(ap);
  return ok;
}

enum MHD_Result mef3__http_bad(hreq *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  enum MHD_Result ok = verror(r, MHD_HTTP_BAD_REQUEST, "EINVAL", fmt, ap);
  va_end(ap);
  return ok;
}

/* ---- the page ---- */

static enum MHD_Result serve_asset(hreq *r) {
  const char *name = r->url;
  if (!strcmp(name, "/"))
    name = "/index.html";
  for (size_t i = 0; i < mef3__n_assets; i++) {
    const mef3__asset *a = &mef3__assets[i];
    if (strcmp(a->name, name))
      continue;
    const char *inm = MHD_lookup_connection_value(r->c, MHD_HEADER_KIND,
                                                  MHD_HTTP_HEADER_IF_NONE_MATCH);
    const char *const hdr[] = {"ETag", a->etag, "Cache-Control", "no-cache",
                               NULL};
    if (inm && !strcmp(inm, a->etag))
      return mef3__http_reply(r, MHD_HTTP_NOT_MODIFIED, NULL, NULL, 0, hdr);
    void *copy = malloc(a->len ? a->len : 1);
    if (!copy)
      return MHD_NO;
    memcpy(copy, a->data, a->len);
    return mef3__http_reply(r, MHD_HTTP_OK, a->type, copy, a->len, hdr);
  }
  return mef3__http_error(r, MEF3_ENOTFOUND, "no such page: %s", r->url);
}

/* ---- dispatch ---- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
  mef3_http *h = cls;
  hreq *r = *con_cls;
  if (!r) {
    r = calloc(1, sizeof *r);
    if (!r)
      return MHD_NO;
    r->h = h;
    r->c = c;
    r->method = method;
    r->url = url;
    *con_cls = r;
    return MHD_YES;
  }
  if (*upload_size) {
    if (r->body_len + *upload_size > HTTP_MAX_BODY) {
      r->too_big = 1;
    } else {
      char *nb = realloc(r->body, r->body_len + *upload_size + 1);
      if (!nb)
        return MHD_NO;
      memcpy(nb + r->body_len, upload, *upload_size);
      r->body = nb;
      r->body_len += *upload_size;
      r->body[r->body_len] = '\0';
    }
    *upload_size = 0;
    return MHD_YES;
  }
  mef3__http_log(h, MEF3_LOG_DEBUG, "%s %s", method, url);
  if (r->too_big)
    return mef3__http_error(r, MEF3_ELIMIT, "request body over %d bytes",
                            HTTP_MAX_BODY);
  int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
  if (!get && strcmp(method, "POST")) {
    static const char *const hdr[] = {"Allow", "GET, HEAD, POST", NULL};
    char *m = strdup("{\"error\":\"method not allowed\",\"code\":\"EINVAL\"}\n");
    return mef3__http_reply(r, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json",
                            m, m ? strlen(m) : 0, hdr);
  }
  /* A password belongs in a POST body: refuse it in a URL, unread. */
  if (MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "password"))
    return mef3__http_bad(r, "a password goes in the body of POST /api/open, "
                             "never in a URL");
  if (!strncmp(url, "/api/", 5))
    return mef3__http_api(r);
  if (!get)
    return mef3__http_error(r, MEF3_ENOTFOUND, "no such page: %s", url);
  return serve_asset(r);
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe) {
  hreq *r = *con_cls;
  if (!r)
    return;
  free(r->body);
  free(r);
  *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
  mef3_http *h = cls;
  if (!h->o.log)
    return;
  char buf[512];
  vsnprintf(buf, sizeof buf, fmt, ap);
  size_t n = strlen(buf);
  while (n && buf[n - 1] == '\n')
    buf[--n] = '\0';
  h->o.log(MEF3_LOG_WARN, buf, h->o.log_payload);
}

static char *read_pem(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  char *p = malloc(1 << 20);
  size_t n = p ? fread(p, 1, (1 << 20) - 1, f) : 0;
  fclose(f);
  if (!p)
    return NULL;
  p[n] = '\0';
  return p;
}

/* ---- start, stop ---- */

void mef3_http_free(mef3_http *h) {
  if (!h)
    return;
  if (h->d)
    MHD_stop_daemon(h->d);
  for (size_t i = 0; i < h->n_sessions; i++)
    free(h->sessions[i]);
  free(h->sessions);
  free(h->root);
  free((char *)h->o.bind_address);
  free(h->tls_cert);
  free(h->tls_key);
  free(h);
}

int mef3_http_port(const mef3_http *h) { return h ? h->port : 0; }

int mef3_http_start(mef3_http **out, mef3_files *fm,
                    const mef3_http_options *opts) {
  if (!out || !fm)
    return mef3__error(MEF3_EINVAL, "http: no output pointer or file manager");
  *out = NULL;
  mef3_http_options o = MEF3_HTTP_OPTIONS_INIT;
  if (opts) {
    if (mef3__version_check("mef3_http_options", opts->version,
                            MEF3_HTTP_OPTIONS_VERSION))
      return MEF3_EINVAL;
    o = *opts;
  }
  if (o.port < 0 || o.port > 65535)
    return mef3__error(MEF3_EINVAL, "http: port %d is not 0 to 65535", o.port);
  if (o.max_connections < 1 || o.max_samples < 1 || !o.bind_address)
    return mef3__error(MEF3_EINVAL, "http: max_connections and max_samples "
                                    "must be at least 1, bind_address set");
  if (!o.tls_cert != !o.tls_key)
    return mef3__error(MEF3_EINVAL, "http: TLS needs both a certificate and "
                                    "a key");
  mef3_http *h = calloc(1, sizeof *h);
  if (!h)
    return mef3__error(MEF3_ENOMEM, "http: out of memory");
  h->fm = fm;
  h->o = o;
  h->o.bind_address = strdup(o.bind_address);
  h->sessions = calloc(o.n_sessions ? o.n_sessions : 1, sizeof *h->sessions);
  if (!h->o.bind_address || !h->sessions) {
    mef3_http_free(h);
    return mef3__error(MEF3_ENOMEM, "http: out of memory");
  }
  for (size_t i = 0; i < o.n_sessions; i++) {
    if (!(h->sessions[i] = strdup(o.sessions[i]))) {
      mef3_http_free(h);
      return mef3__error(MEF3_ENOMEM, "http: out of memory");
    }
    h->n_sessions++;
  }
  h->o.sessions = NULL;
  const char *root = mef3_files_root(fm);
  if (root && !(h->root = strdup(root))) {
    mef3_http_free(h);
    return mef3__error(MEF3_ENOMEM, "http: out of memory");
  }
  if (o.tls_cert) {
    h->tls_cert = read_pem(o.tls_cert);
    h->tls_key = read_pem(o.tls_key);
    if (!h->tls_cert || !h->tls_key) {
      const char *bad = h->tls_cert ? o.tls_key : o.tls_cert;
      mef3_http_free(h);
      return mef3__error(MEF3_EINVAL, "%s: cannot read it (http TLS)", bad);
    }
  }
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
  unsigned flags = MHD_USE_THREAD_PER_CONNECTION |
                   MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
  if (inet_pton(AF_INET, o.bind_address, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)o.port);
  } else if (inet_pton(AF_INET6, o.bind_address, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)o.port);
    flags |= MHD_USE_IPv6;
  } else {
    mef3_http_free(h);
    return mef3__error(MEF3_EINVAL, "http: bind address %s is not a numeric "
                                    "IPv4 or IPv6 address",
                       o.bind_address);
  }
  if (h->tls_cert)
    flags |= MHD_USE_TLS;
  h->d = MHD_start_daemon(
      flags, (uint16_t)o.port, NULL, NULL, on_request, h,
      MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
      MHD_OPTION_NOTIFY_COMPLETED, on_done, h, MHD_OPTION_CONNECTION_LIMIT,
      (unsigned)o.max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
      (unsigned)120, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
      h->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, h->tls_cert,
      MHD_OPTION_HTTPS_MEM_KEY, h->tls_key, MHD_OPTION_END);
  if (!h->d) {
    mef3_http_free(h);
    return mef3__error(MEF3_EIO, "http: cannot listen on %s port %d",
                       o.bind_address, o.port);
  }
  const union MHD_DaemonInfo *di =
      MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
  h->port = di ? di->port : o.port;
  *out = h;
  return 0;
}
