/*
 * cli/cmd_serve.c - `mef3pool serve`: run the gRPC server until SIGTERM or
 * SIGINT.
 *
 * Every knob comes from the server's table (server.h): first the
 * environment variables of the Python original, then the flags, which
 * win.  SIGINT and SIGTERM are blocked in every thread (before the server
 * starts any) and taken by sigwait() in the main thread, which then shuts
 * the server down in order: no new calls, running calls get --grace-s,
 * then are cancelled; both pools are shut down; exit 0.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mef3pool/http.h"
#include "mef3pool/server.h"

static void serve_usage(FILE *f) {
  size_t n;
  const mef3_server_knob *k = mef3_server_knobs(&n);
  fprintf(f, "usage: mef3pool serve [--port P] [--bind ADDR] [--root DIR] "
             "[options]\n\n"
             "Serve MEF 3.0 sessions over gRPC (service gRPCMef3Server, "
             "compatible with\nthe Python mef3io-server) until SIGTERM or "
             "SIGINT.  Listens on loopback\nunless --bind says otherwise.  "
             "Plain text unless given --tls-cert and\n--tls-key (TLS; with "
             "--tls-client-ca, mutual TLS): plain text on an address\nthat "
             "is not loopback logs a warning.  See docs/security.md.\n\n"
             "options (environment variable in brackets; a flag wins):\n");
  for (size_t i = 0; i < n; i++) {
    char left[64];
    snprintf(left, sizeof left, "%s %s", k[i].flag, k[i].arg);
    fprintf(f, "  %-28s %s", left, k[i].help);
    if (k[i].env)
      fprintf(f, " [%s]", k[i].env);
    fputc('\n', f);
  }
  fprintf(f, "  %-28s %s\n", "--log-file FILE",
          "also append the log to FILE [LOG_FILE]");
  fprintf(f, "  %-28s %s\n", "--grace-s S",
          "on SIGTERM/SIGINT, let running calls finish this long (5)");
  fprintf(f, "  %-28s %s\n", "--port-file FILE",
          "write the port listened on to FILE once serving");
  fprintf(f, "  %-28s %s\n", "--http-port P",
          "also serve the web viewer and HTTP API on port P (0: any free);\n"
          "                               HTTPS with --tls-cert/--tls-key "
          "(not with --tls-client-ca)");
  fprintf(f, "  %-28s %s\n", "--http-port-file FILE",
          "write the HTTP port to FILE once serving");
  fprintf(f, "\nThe log (levels debug, info, warn, error) goes to stderr: "
             "opens, closes,\nreads with cache hits and misses, prefetch, "
             "errors; never a password.\n");
}

int mef3_cli_serve(int argc, char **argv) {
  mef3_server_options o = MEF3_SERVER_OPTIONS_INIT;
  const char *log_file = getenv("LOG_FILE"), *port_file = NULL, *v;
  const char *http_port_file = NULL;
  int http_port = -1;
  if (log_file && !*log_file)
    log_file = NULL;
  double grace_s = 5;
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      serve_usage(stdout);
      return CLI_OK;
    }
  if (mef3_server_options_from_env(&o))
    return cli_fail(CLI_USAGE, "serve: %s", mef3_error_last()->message);
  for (int i = 1; i < argc; i++) {
    if (cli_opt(argc, argv, &i, "--log-file", &v)) {
      if (!v)
        return cli_fail(CLI_USAGE, "--log-file needs a value");
      log_file = v;
      continue;
    }
    if (cli_opt(argc, argv, &i, "--port-file", &v)) {
      if (!v)
        return cli_fail(CLI_USAGE, "--port-file needs a value");
      port_file = v;
      continue;
    }
    if (cli_opt(argc, argv, &i, "--http-port", &v)) {
      int64_t p;
      if (!v || cli_parse_i64(v, &p) || p > 65535)
        return cli_fail(CLI_USAGE, "--http-port takes a port from 0 to 65535");
      http_port = (int)p;
      continue;
    }
    if (cli_opt(argc, argv, &i, "--http-port-file", &v)) {
      if (!v)
        return cli_fail(CLI_USAGE, "--http-port-file needs a value");
      http_port_file = v;
      continue;
    }
    if (cli_opt(argc, argv, &i, "--grace-s", &v)) {
      char *end;
      grace_s = v ? strtod(v, &end) : -1;
      if (!v || *end || !(grace_s >= 0) || grace_s > 86400)
        return cli_fail(CLI_USAGE, "--grace-s takes seconds from 0 to 86400");
      continue;
    }
    if (strncmp(argv[i], "--", 2) != 0)
      return cli_fail(CLI_USAGE, "serve: unexpected argument \"%s\"", argv[i]);
    const char *eq = strchr(argv[i], '=');
    char flag[64];
    size_t fl = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);
    if (fl >= sizeof flag)
      return cli_fail(CLI_USAGE, "serve: unknown option %s", argv[i]);
    memcpy(flag, argv[i], fl);
    flag[fl] = '\0';
    if (!cli_opt(argc, argv, &i, flag, &v) || !v)
      return cli_fail(CLI_USAGE, "serve: %s needs a value", flag);
    if (mef3_server_options_set(&o, flag, v))
      return cli_fail(CLI_USAGE, "serve: %s", mef3_error_last()->message);
  }

  mef3_log_sink *log;
  if (mef3_log_sink_open(&log, o.log_level, 1, log_file))
    return cli_fail(CLI_FAIL, "%s: cannot open the log file: %m", log_file);
  o.log = mef3_log_sink_write;
  o.log_payload = log;

  /* Block the signals before any thread exists, so all inherit it. */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);

  mef3_server *srv;
  int rc = mef3_server_start(&srv, &o);
  if (rc) {
    mef3_log_sink_close(log);
    const mef3_error *e = mef3_error_last();
    if (e->code == rc && e->message[0])
      return cli_fail(CLI_FAIL, "%s", e->message);
    return cli_lib_fail(rc, "cannot start the server");
  }
  mef3_http *http = NULL;
  if (http_port >= 0 && o.tls_client_ca_file) {
    /* A browser has no client certificate to give: refuse rather than
     * serve the viewer with less than the gRPC service asks. */
    mef3_server_free(srv);
    mef3_log_sink_close(log);
    return cli_fail(CLI_USAGE, "--http-port with --tls-client-ca: the web "
                               "viewer does not do mutual TLS (serve it "
                               "behind a proxy that does)");
  }
  if (http_port >= 0) {
    mef3_http_options ho = MEF3_HTTP_OPTIONS_INIT;
    ho.bind_address = o.bind_address;
    ho.port = http_port;
    ho.tls_cert = o.tls_cert_file; /* the gRPC service's certificate: HTTPS */
    ho.tls_key = o.tls_key_file;
    ho.log = mef3_log_sink_write;
    ho.log_payload = log;
    rc = mef3_http_start(&http, mef3_server_files(srv), &ho);
    if (rc) {
      mef3_server_free(srv);
      mef3_log_sink_close(log);
      return cli_fail(CLI_FAIL, "cannot serve HTTP on %s:%d (%s)",
                      o.bind_address, http_port,
                      rc == MEF3_EIO ? "in use, or not an address of this "
                                       "machine"
                                     : mef3_strerror(rc));
    }
    char msg[128];
    snprintf(msg, sizeof msg, "web viewer on %s://%s:%d/",
             o.tls_cert_file ? "https" : "http", o.bind_address,
             mef3_http_port(http));
    mef3_log_sink_write(MEF3_LOG_INFO, msg, log);
  }
  if (cli_write_port_file(port_file, mef3_server_port(srv)) ||
      (http && cli_write_port_file(http_port_file, mef3_http_port(http)))) {
    mef3_http_free(http);
    mef3_server_free(srv);
    mef3_log_sink_close(log);
    return CLI_FAIL;
  }
  int sig = 0;
  while (sigwait(&sigs, &sig) != 0)
    ;
  char msg[96];
  snprintf(msg, sizeof msg, "received %s: stopping",
           sig == SIGINT ? "SIGINT" : "SIGTERM");
  mef3_log_sink_write(MEF3_LOG_INFO, msg, log);
  mef3_http_free(http); /* before the file manager it reads goes */
  mef3_server_shutdown(srv, (int64_t)llround(grace_s * 1000));
  mef3_server_free(srv);
  mef3_log_sink_close(log);
  return CLI_OK;
}
