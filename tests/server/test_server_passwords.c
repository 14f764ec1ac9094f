/*
 * tests/server/test_server_passwords.c - passwords never leak: the real
 * `mef3pool serve` with its reader pool and logging at debug level, opening
 * the encrypted golden sessions with right and wrong passwords, reading
 * them (so that the workers decode with the password).  No password may
 * appear in an error message or reply, in the log file, in the server's
 * stderr, in /proc/PID/cmdline or /proc/PID/environ of the server or any
 * of its workers, nor in `ps` output (with environments) while they run.
 * The same for the access tokens the opens return: they are credentials
 * too, and a wrong or replayed token is refused without being echoed.
 */
#include <dirent.h>
#include <limits.h>

#include "server_helper.h"

/* Every password this test sends (right and wrong), as they would show. */
static const char *const secrets[] = {"l1pass", "l2pass", "Wr0ng-Pa55-Zq7",
                                      "s3cr3t-l2pass-x"};
#define N_SECRETS (sizeof secrets / sizeof *secrets)

/* The access tokens the opens returned, and a made-up one sent. */
static char tokens[8][MEF3_FILES_TOKEN_CHARS + 1];
static size_t n_tokens;

static void remember_token(mef3_client *c, const char *path) {
  REQUIRE(n_tokens < 8);
  CHECK_RC(mef3_client_token_get(c, path, tokens[n_tokens]), 0);
  CHECK(strlen(tokens[n_tokens]) == MEF3_FILES_TOKEN_CHARS);
  n_tokens++;
}

/* The secret (password or token) `n` bytes at `p` show, or NULL. */
static const char *shows_secret(const char *p, size_t n) {
  for (size_t i = 0; i < N_SECRETS; i++)
    if (memmem(p, n, secrets[i], strlen(secrets[i])))
      return secrets[i];
  for (size_t i = 0; i < n_tokens; i++)
    if (memmem(p, n, tokens[i], MEF3_FILES_TOKEN_CHARS))
      return tokens[i];
  return NULL;
}

/* A whole file, read to its end (files of /proc report no size, so
 * tu_read_file would see them empty); NULL when it cannot be read. */
static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  size_t n = 0, cap = 4096;
  char *buf = malloc(cap + 1);
  size_t k;
  while (buf && (k = fread(buf + n, 1, cap - n, f)) > 0) {
    n += k;
    if (n == cap) {
      char *nb = realloc(buf, 2 * cap + 1);
      if (!nb) {
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = nb;
      cap *= 2;
    }
  }
  fclose(f);
  if (buf)
    buf[n] = '\0';
  *len = n;
  return buf;
}

static int no_secret_in_file(const char *path, const char *what) {
  size_t n = 0;
  char *text = slurp(path, &n);
  if (!text) {
    fprintf(stderr, "%s: cannot read %s\n", what, path);
    return 0;
  }
  const char *s = shows_secret(text, n);
  if (s)
    fprintf(stderr, "%s (%s) shows the password %s\n", what, path, s);
  free(text);
  return s == NULL;
}

/* The processes whose parent is `pid` (pool workers), into out[]. */
static int children_of(pid_t pid, pid_t *out, int cap) {
  DIR *d = opendir("/proc");
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d))) {
    char *end;
    long p = strtol(e->d_name, &end, 10);
    if (*end || p <= 0)
      continue;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", p);
    FILE *f = fopen(path, "r");
    if (!f)
      continue;
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[k] = '\0';
    const char *rp = strrchr(buf, ')'); /* the name may hold spaces */
    long ppid = 0;
    if (rp && sscanf(rp + 1, " %*c %ld", &ppid) == 1 && ppid == pid && n < cap)
      out[n++] = (pid_t)p;
  }
  if (d)
    closedir(d);
  return n;
}

/* /proc/PID/{cmdline,environ} of the server and of each worker. */
static void check_processes(pid_t server) {
  pid_t pids[64];
  int n = children_of(server, pids + 1, 63);
  pids[0] = server;
  CHECK_MSG(n >= 1, "%d workers running", n);
  for (int i = 0; i <= n; i++) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pids[i]);
    CHECK(no_secret_in_file(path, i ? "a worker's command line"
                                    : "the server's command line"));
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pids[i]);
    CHECK(no_secret_in_file(path, i ? "a worker's environment"
                                    : "the server's environment"));
    size_t len = 0;
    char *env = slurp(path, &len);
    CHECK_MSG(env && len > 0, "%s: empty", path); /* really read */
    free(env);
  }
  /* ps, wide, every process, with environments (BSD `e`). */
  char out[PATH_MAX];
  snprintf(out, sizeof out, "%s/ps.txt", tu_scratch("ps"));
  CHECK(tu_system("ps -e -ww -o pid,ppid,args > '%s' && ps eww -e >> '%s'", out,
                  out) == 0);
  CHECK(no_secret_in_file(out, "ps output"));
  size_t len;
  char *text = slurp(out, &len);
  CHECK(text && strstr(text, "mef3pool-worker")); /* the workers were seen */
  free(text);
}

/* The client's last error message shows no password. */
static int clean_error(void) {
  const char *m = th_err();
  const char *s = shows_secret(m, strlen(m));
  if (s)
    fprintf(stderr, "an error message shows the password %s: %s\n", s, m);
  return s == NULL;
}

static void read_all(mef3_client *c, const char *path, const char *ch) {
  mef3_file_info *fi = NULL;
  REQUIRE(mef3_client_info(&fi, c, path) == 0 && fi);
  for (size_t i = 0; i < fi->n_channels; i++) {
    if (ch && strcmp(fi->channels[i].name, ch))
      continue;
    const char *one[] = {fi->channels[i].name};
    mef3_signal *sig = NULL;
    CHECK_MSG(mef3_client_read(&sig, c, path, one, 1,
                               fi->channels[i].start_uutc,
                               fi->channels[i].end_uutc, NULL, NULL) == 0,
              "%s %s: %s", path, one[0], th_err());
    CHECK(sig && sig->n_samples > 0);
    mef3_signal_free(sig);
  }
  mef3_file_info_free(fi);
}

int main(void) {
  if (!tu_have_golden()) {
    printf("no golden data at %s: skipped\n", MEF3_GOLDEN_DIR);
    return 0;
  }
  const char *root = tu_scratch("root");
  REQUIRE(tu_system("cp -a '%s' '%s/enc.mefd' && cp -a '%s' '%s/enc2.mefd'",
                    tu_golden("sessions/d_encrypted.mefd"), root,
                    tu_golden("sessions/d2_encrypted_blocks.mefd"), root) == 0);
  th_server srv;
  /* Small tiles and the pool for every miss: the workers get the
   * passwords and decode with them. */
  const char *extra[] = {"--tile-duration-s=5", "--min-parallel-tiles=1", NULL};
  REQUIRE(th_start(&srv, root, extra) == 0);
  mef3_client *c;
  REQUIRE(mef3_client_new(&c, srv.addr, NULL) == 0);

  /* Wrong passwords, and none: refused, without echo. */
  CHECK_RC(mef3_client_open(NULL, NULL, c, "enc.mefd", "Wr0ng-Pa55-Zq7"),
           MEF3_EPASSWORD);
  CHECK(clean_error());
  CHECK_RC(mef3_client_open(NULL, NULL, c, "enc2.mefd", "s3cr3t-l2pass-x"),
           MEF3_EPASSWORD);
  CHECK(clean_error());
  CHECK_RC(mef3_client_open(NULL, NULL, c, "enc.mefd", NULL), MEF3_EPASSWORD);
  /* A missing file, with a password: the error names the path only. */
  CHECK_RC(mef3_client_open(NULL, NULL, c, "nope.mefd", "l2pass"),
           MEF3_ENOTFOUND);
  CHECK(clean_error());

  /* Level 1, then level 2; the data-encrypted session at both levels. */
  CHECK_RC(mef3_client_open(NULL, NULL, c, "enc.mefd", "l1pass"), 0);
  remember_token(c, "enc.mefd");
  read_all(c, "enc.mefd", NULL);
  CHECK_RC(mef3_client_close_file(c, "enc.mefd"), 0);
  CHECK_RC(mef3_client_open(NULL, NULL, c, "enc.mefd", "l2pass"), 0);
  remember_token(c, "enc.mefd");
  read_all(c, "enc.mefd", NULL);
  CHECK_RC(mef3_client_open(NULL, NULL, c, "enc2.mefd", "l2pass"), 0);
  remember_token(c, "enc2.mefd");
  read_all(c, "enc2.mefd", NULL);

  /* Tokens refused, never echoed: a made-up one, one of another file, one
   * of a closed view (the level-1 view of enc.mefd, closed above). */
  mef3_client *other;
  REQUIRE(mef3_client_new(&other, srv.addr, NULL) == 0);
  snprintf(tokens[n_tokens++], MEF3_FILES_TOKEN_CHARS + 1, "%s",
           "0123456789abcdef0123456789abcdef");
  const char *tries[][2] = {{"enc2.mefd", tokens[n_tokens - 1]},
                            {"enc2.mefd", tokens[1]},
                            {"enc.mefd", tokens[2]},
                            {"enc.mefd", tokens[0]}};
  for (size_t k = 0; k < sizeof tries / sizeof *tries; k++) {
    CHECK_RC(mef3_client_token_set(other, tries[k][0], tries[k][1]), 0);
    mef3_file_info *fi = NULL;
    CHECK_MSG(mef3_client_info(&fi, other, tries[k][0]) == MEF3_EPASSWORD,
              "token %zu on %s", k, tries[k][0]);
    mef3_file_info_free(fi);
    CHECK(clean_error());
    const char *one[] = {"ch01"};
    mef3_signal *s = NULL;
    CHECK(mef3_client_read(&s, other, tries[k][0], one, 1, 0, 1000000, NULL,
                           NULL) == MEF3_EPASSWORD);
    mef3_signal_free(s);
    CHECK(clean_error());
  }
  /* The right one, handed over, works (so the refusals above mean it). */
  CHECK_RC(mef3_client_token_set(other, "enc2.mefd", tokens[2]), 0);
  mef3_file_info *ok = NULL;
  CHECK_RC(mef3_client_info(&ok, other, "enc2.mefd"), 0);
  mef3_file_info_free(ok);
  mef3_client_free(other);
  /* Open already: a wrong password is refused all the same, changes
   * nothing and is not shown. */
  int already = 0;
  CHECK_RC(mef3_client_open(NULL, &already, c, "enc2.mefd", "Wr0ng-Pa55-Zq7"),
           MEF3_EPASSWORD);
  CHECK(already == 0 && clean_error());
  /* A read error on an encrypted file names no password either. */
  const char *bad[] = {"nope"};
  mef3_signal *sig = NULL;
  CHECK_RC(
      mef3_client_read(&sig, c, "enc2.mefd", bad, 1, 0, 1000000, NULL, NULL),
      MEF3_ENOTFOUND);
  CHECK(clean_error());

  /* While the workers hold the passwords. */
  check_processes(srv.pid);

  char **paths;
  size_t n;
  CHECK_RC(mef3_client_list(&paths, &n, c), 0);
  for (size_t i = 0; i < n; i++)
    CHECK(!shows_secret(paths[i], strlen(paths[i])));
  mef3_files_list_free(paths, n);
  CHECK_RC(mef3_client_close_file(c, "enc.mefd"), 0);
  CHECK_RC(mef3_client_close_file(c, "enc2.mefd"), 0);
  mef3_client_free(c);
  CHECK(th_stop(&srv, SIGTERM) == 0);
  CHECK(th_no_children());

  /* The log at debug level, and the server's stderr. */
  CHECK(th_log_has(&srv, "enc2.mefd"));
  CHECK(no_secret_in_file(srv.log, "the log file"));
  char err_path[PATH_MAX];
  snprintf(err_path, sizeof err_path, "%s", srv.log);
  char *slash = strrchr(err_path, '/');
  REQUIRE(slash);
  snprintf(slash, sizeof err_path - (size_t)(slash - err_path),
           "/server.stderr");
  CHECK(no_secret_in_file(err_path, "the server's stderr"));
  size_t len = 0;
  char *text = slurp(err_path, &len);
  CHECK_MSG(text && strstr(text, "enc2.mefd"),
            "stderr holds the log too (%zu bytes)", len);
  free(text);
  return check_finish();
}
