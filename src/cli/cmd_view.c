/*
 * cli/cmd_view.c - `mef3pool view SESSION`: a loopback web server with one
 * session open, for paging through it in a browser.
 *
 * The session is opened with the password given (--password-file, or the
 * environment variable MEF3POOL_PASSWORD, so it appears in no process list);
 * when it needs one that was not given, the server starts anyway and the
 * page asks for it.  Prints the URL, opens a browser with --open
 * ($BROWSER, else xdg-open), serves until SIGINT or SIGTERM.
 */
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cli.h"
#include "mef3pool/http.h"
#include "mef3pool/server.h"

extern char **environ;

static const char view_usage[] =
    "usage: mef3pool view SESSION [--port P] [--bind ADDR] [--open]\n"
    "                     [--password-file FILE] [--port-file FILE]\n\n"
    "Serve the web viewer with SESSION open, on loopback (127.0.0.1) unless\n"
    "--bind says otherwise, print its URL and serve until SIGINT/SIGTERM.\n"
    "Nothing is fetched from the internet: the page is part of mef3pool.\n\n"
    "  --port P             port (default 0: any free one)\n"
    "  --open               open the URL in a browser ($BROWSER or xdg-open)\n"
    "  --password-file F    read the password from F (first line); or set\n"
    "                       MEF3POOL_PASSWORD; without one the page asks for it\n"
    "  --port-file F        write the port to F once serving\n"
    "  --log-level L        debug, info, warn or error (warn)\n";

/* `url` with the characters of a URL fragment value escaped. */
static void escape(char *out, size_t cap, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  size_t k = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p && k + 4 < cap;
       p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
        (*p >= '0' && *p <= '9') || strchr("-_.~/", *p)) {
      out[k++] = (char)*p;
    } else {
      out[k++] = '%';
      out[k++] = hex[*p >> 4];
      out[k++] = hex[*p & 15];
    }
  }
  out[k] = '\0';
}

static void open_browser(const char *url) {
  const char *b = getenv("BROWSER");
  char *argv[3] = {(char *)(b && *b ? b : "xdg-open"), (char *)url, NULL};
  pid_t pid;
  if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0)
    fprintf(stderr, "mef3pool: cannot start %s; open the URL yourself\n",
            argv[0]);
  /* not waited for: the browser may live longer than we do */
}

int mef3_cli_view(int argc, char **argv) {
  const char *path = NULL, *bind = "127.0.0.1", *pw_file = NULL, *v;
  const char *port_file = NULL;
  int64_t port = 0;
  int open_it = 0;
  mef3_log_level level = MEF3_LOG_WARN;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(view_usage, stdout);
      return CLI_OK;
    }
    if (!strcmp(argv[i], "--open")) {
      open_it = 1;
    } else if (cli_opt(argc, argv, &i, "--port", &v)) {
      if (!v || cli_parse_i64(v, &port) || port > 65535)
        return cli_fail(CLI_USAGE, "--port takes a port from 0 to 65535");
    } else if (cli_opt(argc, argv, &i, "--bind", &v)) {
      if (!v)
        return cli_fail(CLI_USAGE, "--bind needs an address");
      bind = v;
    } else if (cli_opt(argc, argv, &i, "--password-file", &v)) {
      if (!v)
        return cli_fail(CLI_USAGE, "--password-file needs a file");
      pw_file = v;
    } else if (cli_opt(argc, argv, &i, "--port-file", &v)) {
      if (!v)
        return cli_fail(CLI_USAGE, "--port-file needs a file");
      port_file = v;
    } else if (cli_opt(argc, argv, &i, "--log-level", &v)) {
      if (!v || mef3_log_level_parse(&level, v))
        return cli_fail(CLI_USAGE, "--log-level takes debug, info, warn or "
                                   "error");
    } else if (!strcmp(argv[i], "--password") ||
               !strncmp(argv[i], "--password=", 11)) {
      return cli_fail(CLI_USAGE, "view takes no --password (it would show in "
                                 "the process list): use --password-file or "
                                 "MEF3POOL_PASSWORD");
    } else if (argv[i][0] == '-') {
      return cli_fail(CLI_USAGE, "unknown option %s", argv[i]);
    } else if (path) {
      return cli_fail(CLI_USAGE, "give one session");
    } else {
      path = argv[i];
    }
  }
  if (!path)
    return cli_fail(CLI_USAGE, "give a session (NAME.mefd)");
  char pw[1024] = "";
  if (pw_file) {
    FILE *f = fopen(pw_file, "r");
    if (!f)
      return cli_fail(CLI_FAIL, "%s: cannot read: %m", pw_file);
    if (!fgets(pw, sizeof pw, f))
      pw[0] = '\0';
    fclose(f);
    pw[strcspn(pw, "\r\n")] = '\0';
  } else if ((v = getenv("MEF3POOL_PASSWORD"))) {
    snprintf(pw, sizeof pw, "%s", v);
  }

  mef3_log_sink *log;
  if (mef3_log_sink_open(&log, level, 1, NULL))
    return cli_fail(CLI_FAIL, "cannot start the log");
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);

  mef3_files_options fo = MEF3_FILES_OPTIONS_INIT;
  fo.log = mef3_log_sink_write;
  fo.log_payload = log;
  mef3_files *fm;
  int rc = mef3_files_new(&fm, &fo);
  if (rc) {
    mef3_log_sink_close(log);
    return cli_lib_fail(rc, "cannot start the file manager");
  }
  rc = mef3_files_open(NULL, fm, path, pw[0] ? pw : NULL);
  memset(pw, 0, sizeof pw);
  if (rc == MEF3_EPASSWORD) {
    fprintf(stderr, "mef3pool: %s needs a password: the page will ask\n",
            path);
  } else if (rc) {
    mef3_files_free(fm);
    mef3_log_sink_close(log);
    return cli_lib_fail(rc, path);
  }
  mef3_http_options ho = MEF3_HTTP_OPTIONS_INIT;
  ho.bind_address = bind;
  ho.port = (int)port;
  ho.log = mef3_log_sink_write;
  ho.log_payload = log;
  const char *sess[1] = {path};
  ho.sessions = sess;
  ho.n_sessions = 1;
  mef3_http *h;
  rc = mef3_http_start(&h, fm, &ho);
  if (rc) {
    mef3_files_free(fm);
    mef3_log_sink_close(log);
    return cli_fail(CLI_FAIL, "cannot serve on %s:%lld (%s)", bind,
                    (long long)port,
                    rc == MEF3_EIO ? "in use, or not an address of this machine"
                                   : mef3_strerror(rc));
  }
  char esc[8192], url[8400];
  escape(esc, sizeof esc, path);
  snprintf(url, sizeof url, "http://%s%s%s:%d/#path=%s",
           strchr(bind, ':') ? "[" : "", bind, strchr(bind, ':') ? "]" : "",
           mef3_http_port(h), esc);
  printf("%s\n", url);
  fflush(stdout);
  if (cli_write_port_file(port_file, mef3_http_port(h))) {
    mef3_http_free(h);
    mef3_files_free(fm);
    mef3_log_sink_close(log);
    return CLI_FAIL;
  }
  if (open_it)
    open_browser(url);
  int sig = 0;
  while (sigwait(&sigs, &sig) != 0)
    ;
  mef3_http_free(h);
  mef3_files_free(fm);
  mef3_log_sink_close(log);
  return CLI_OK;
}
