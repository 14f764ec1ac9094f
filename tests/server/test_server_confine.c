/*
 * tests/server/test_server_confine.c - the real `mef3pool serve --root ROOT` (with
 * its reader pool) against hostile paths, through the C client and, for
 * NUL bytes, raw gRPC calls: "..", absolute paths outside and inside the
 * root, symbolic links leading out (to a directory, to a file, chains, a
 * channel or a segment or a data file of a session inside), paths longer
 * than PATH_MAX or of thousands of components, empty and odd ones, non
 * UTF-8 bytes, NUL bytes in a path or a password.  Each must fail with a
 * clear error for OpenFile, FileInfo, GetSignalRange and CloseFile, and
 * nothing outside the root may be opened: inotify watches every directory
 * of `outside` for opens by any process (the server's workers included).
 * Then a session, and a channel of another, replaced by links leading out
 * after they were opened: the next read that needs the disk must refuse,
 * not follow.  The server stays healthy throughout.
 *
 * mef3_files_resolve itself is tested in test_files.c (test_data_root);
 * this is the same rules seen from a client.
 */
#include <limits.h>
#include <sys/inotify.h>

#include "rpc/rpc.h"
#include "server_helper.h"

static char root[PATH_MAX], outside[PATH_MAX], rroot[PATH_MAX];
static int ino = -1;

/* Watch every directory below `dir` for opens and reads. */
static void watch_tree(const char *dir) {
  char cmd[PATH_MAX + 64];
  snprintf(cmd, sizeof cmd, "find '%s' -type d", dir);
  FILE *p = popen(cmd, "r");
  REQUIRE(p);
  char line[PATH_MAX];
  while (fgets(line, sizeof line, p)) {
    line[strcspn(line, "\n")] = '\0';
    REQUIRE(inotify_add_watch(ino, line, IN_OPEN | IN_ACCESS) >= 0);
  }
  pclose(p);
  char buf[4096];
  while (read(ino, buf, sizeof buf) > 0) /* find's own opens */
    ;
}

/* 1 when nothing below `outside` was opened since the last call. */
static int outside_untouched(const char *when) {
  char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
  ssize_t n = read(ino, buf, sizeof buf);
  if (n <= 0)
    return 1;
  const struct inotify_event *e = (const void *)buf;
  fprintf(stderr, "%s: opened outside the root: %s (mask 0x%x)\n", when,
          e->len ? e->name : "(a watched directory)", e->mask);
  return 0;
}

static void setup_tree(void) {
  snprintf(root, sizeof root, "%s", tu_scratch("root"));
  snprintf(outside, sizeof outside, "%s", tu_scratch("outside"));
  REQUIRE(realpath(root, rroot));
  const char *a = tu_golden("sessions/a_single_256hz.mefd");
  REQUIRE(tu_system("cp -a '%s' '%s/a.mefd'", a, root) == 0);
  REQUIRE(tu_system("cp -a '%s' '%s/o.mefd'", a, outside) == 0);
  REQUIRE(tu_system("echo secret > '%s/secret'", outside) == 0);
  const char *seg = "ch01.timd/ch01-000000.segd";
  REQUIRE(tu_system("cd '%s' && mkdir sub sneaky.mefd && "
                    "ln -s a.mefd in.mefd && "           /* stays in */
                    "ln -s '%s/o.mefd' out.mefd && "     /* absolute */
                    "ln -s ../'%s' outrel.mefd && "      /* relative */
                    "ln -s '%s/secret' outfile && "      /* a file */
                    "ln -s sub/hop1.mefd chain.mefd && " /* a chain */
                    "ln -s hop2.mefd sub/hop1.mefd && "
                    "ln -s '%s/o.mefd' sub/hop2.mefd && "
                    "ln -s '%s/o.mefd/ch01.timd' sneaky.mefd/ch01.timd && "
                    "cp -a a.mefd deep.mefd && rm -r deep.mefd/%s && "
                    "ln -s '%s/o.mefd/%s' deep.mefd/%s && " /* a segment */
                    "cp -a a.mefd file.mefd && "            /* a data file */
                    "ln -sf '%s/o.mefd/%s/ch01-000000.tdat' "
                    "file.mefd/%s/ch01-000000.tdat && "
                    "cp -a a.mefd swap.mefd && cp -a a.mefd chswap.mefd",
                    root, outside, strrchr(outside, '/') + 1, outside, outside,
                    outside, seg, outside, seg, seg, outside, seg, seg) == 0);
  ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  REQUIRE(ino >= 0);
  watch_tree(outside);
}

/* A raw unary call (tu_rpc_unary) whose reply, if any, is a
 * FileInfoResponse. */
static grpc_status_code raw_call(const char *addr, const char *method,
                                 const uint8_t *req, size_t n,
                                 FileInfoResponse **reply) {
  void *in;
  size_t len;
  grpc_status_code st = tu_rpc_unary(addr, method, req, n, NULL, &in, &len);
  *reply = in ? file_info_response__unpack(NULL, len, in) : NULL;
  free(in);
  return st;
}

/* Field `f` as a length-delimited protobuf field of `len` bytes. */
static size_t put_field(uint8_t *out, uint32_t f, const char *s, size_t len) {
  size_t n = mef3__rpc_varint(out, (uint64_t)f << 3 | 2);
  n += mef3__rpc_varint(out + n, len);
  memcpy(out + n, s, len);
  return n + len;
}

typedef struct {
  const char *path;
  int open_rc;     /* what OpenFile gives */
  const char *why; /* in the message */
} bad_path;

/* Every call on `path` fails (or, for CloseFile, closes nothing). */
static void refused_everywhere(mef3_client *c, const bad_path *b, int64_t t0) {
  char shown[80];
  snprintf(shown, sizeof shown, "%.60s%s", b->path,
           strlen(b->path) > 60 ? "..." : "");
  mef3_file_info *fi = NULL;
  int rc = mef3_client_open(&fi, NULL, c, b->path, NULL);
  CHECK_MSG(rc == b->open_rc, "open %s: %s (%s), wanted %s", shown,
            mef3_errname(rc), th_err(), mef3_errname(b->open_rc));
  CHECK_MSG(!b->why || strstr(th_err(), b->why), "open %s: \"%s\" lacks %s",
            shown, th_err(), b->why);
  CHECK(fi == NULL);
  mef3_file_info_free(fi);
  fi = NULL;
  rc = mef3_client_info(&fi, c, b->path);
  CHECK_MSG(rc == MEF3_ENOTFOUND || rc == MEF3_EINVAL, "info %s: %s (%s)",
            shown, mef3_errname(rc), th_err());
  mef3_file_info_free(fi);
  mef3_signal *sig = NULL;
  rc =
      mef3_client_read(&sig, c, b->path, NULL, 0, t0, t0 + 1000000, NULL, NULL);
  CHECK_MSG(rc == MEF3_ENOTFOUND || rc == MEF3_EINVAL, "read %s: %s (%s)",
            shown, mef3_errname(rc), th_err());
  CHECK(sig == NULL);
  mef3_signal_free(sig);
  /* Closing what is not open is not an error (as the original). */
  rc = mef3_client_close_file(c, b->path);
  CHECK_MSG(rc == 0 || rc == MEF3_EINVAL, "close %s: %s (%s)", shown,
            mef3_errname(rc), th_err());
}

static void test_hostile_paths(const char *addr, int64_t t0) {
  mef3_client *c;
  REQUIRE(mef3_client_new(&c, addr, NULL) == 0);
  char abs_out[PATH_MAX + 16], abs_in[PATH_MAX + 16], dslash[PATH_MAX + 16];
  snprintf(abs_out, sizeof abs_out, "%s/o.mefd", outside);
  snprintf(abs_in, sizeof abs_in, "%s/sub/../a.mefd", rroot);
  snprintf(dslash, sizeof dslash, "/%s", outside);
  char *too_long = malloc(PATH_MAX + 100), *many = malloc(3 * PATH_MAX);
  REQUIRE(too_long && many);
  memset(too_long, 'x', PATH_MAX + 99);
  too_long[PATH_MAX + 99] = '\0';
  /* 6000 components of "./": more than PATH_MAX bytes in all */
  for (int i = 0; i < 3000; i++)
    memcpy(many + 2 * i, "./", 2);
  snprintf(many + 6000, 3 * PATH_MAX - 6000, "a.mefd");
  /* 1500 components, under PATH_MAX; and one that fits PATH_MAX only
   * until the root is put in front of it */
  char *a_many = malloc(3001), *x4090 = malloc(4091);
  REQUIRE(a_many && x4090);
  for (int i = 0; i < 1500; i++)
    memcpy(a_many + 2 * i, "a/", 2);
  a_many[3000] = '\0';
  memset(x4090, 'x', 4090);
  x4090[4090] = '\0';
  char rel_out[PATH_MAX + 16];
  snprintf(rel_out, sizeof rel_out, "../%s/o.mefd", strrchr(outside, '/') + 1);

  const bad_path bad[] = {
      {"../a.mefd", MEF3_EINVAL, "\"..\""},
      {rel_out, MEF3_EINVAL, "\"..\""},
      {"sub/../a.mefd", MEF3_EINVAL, "\"..\""},
      {"a.mefd/..", MEF3_EINVAL, "\"..\""},
      {"..", MEF3_EINVAL, "\"..\""},
      {abs_out, MEF3_EINVAL, "outside the data root"},
      {dslash, MEF3_EINVAL, "outside the data root"},
      {abs_in, MEF3_EINVAL, "\"..\""},
      {"/etc/passwd", MEF3_EINVAL, "outside the data root"},
      {"/", MEF3_EINVAL, "outside the data root"},
      {"//", MEF3_EINVAL, "outside the data root"},
      {"out.mefd", MEF3_EINVAL, "outside the data root"},
      {"out.mefd/", MEF3_EINVAL, "outside the data root"},
      {"outrel.mefd", MEF3_EINVAL, "outside the data root"},
      {"outfile", MEF3_EINVAL, "outside the data root"},
      {"chain.mefd", MEF3_EINVAL, "outside the data root"},
      {"sub/hop1.mefd", MEF3_EINVAL, "outside the data root"},
      {"sneaky.mefd", MEF3_EINVAL, "symbolic link"},
      {"deep.mefd", MEF3_EINVAL, "symbolic link"},
      {"file.mefd", MEF3_EINVAL, "symbolic link"},
      {"sub", MEF3_EINVAL, "symbolic link"},
      {".", MEF3_EINVAL, "symbolic link"}, /* the root holds links out */
      {too_long, MEF3_EINVAL, "longer than"},
      {many, MEF3_EINVAL, "longer than"},
      {"", MEF3_ENOTFOUND, "File does not exist:  (an empty path)"},
      {"nope.mefd", MEF3_ENOTFOUND, "no such file"},
      {a_many, MEF3_ENOTFOUND, "no such file"},
      {x4090, MEF3_EINVAL, "too long"},
      {"a.mefd\xff\xfe", MEF3_ENOTFOUND, "no such file"},
      {"\xc3\x28.mefd", MEF3_ENOTFOUND, "no such file"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    refused_everywhere(c, &bad[i], t0);
    CHECK(outside_untouched(bad[i].path));
  }

  /* Odd spellings of a path inside name the same file. */
  const char *same[] = {"a.mefd/",  "a.mefd//", ".//a.mefd",
                        "./a.mefd", "in.mefd",  rroot /* replaced below */};
  char abs_a[PATH_MAX + 16];
  snprintf(abs_a, sizeof abs_a, "%s//a.mefd/", rroot);
  int already = -1;
  CHECK_RC(mef3_client_open(NULL, &already, c, "a.mefd", NULL), 0);
  CHECK(already == 0);
  for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
    const char *p = i == 5 ? abs_a : same[i];
    CHECK_MSG(mef3_client_open(NULL, &already, c, p, NULL) == 0 && already == 1,
              "open %s: %s", p, th_err());
  }

  /* NUL bytes in the path or the password: refused before any C string
   * could cut them (raw calls: the C client cannot send them); OpenFile,
   * FileInfo and CloseFile answer in the reply with status OK, as the
   * original does. */
  uint8_t req[256];
  FileInfoResponse *r;
  size_t n = put_field(req, 1, "a.mefd\0../../etc", 16);
  CHECK(raw_call(addr, MEF3_RPC_OPEN, req, n, &r) == GRPC_STATUS_OK);
  CHECK(r && !r->file_opened &&
        strstr(r->error_message, "File does not exist: a.mefd") &&
        strstr(r->error_message, "NUL byte"));
  file_info_response__free_unpacked(r, NULL);
  n = put_field(req, 1, "out.mefd\0", 9);
  CHECK(raw_call(addr, MEF3_RPC_INFO, req, n, &r) == GRPC_STATUS_OK);
  CHECK(r && !r->file_opened && strstr(r->error_message, "NUL byte"));
  file_info_response__free_unpacked(r, NULL);
  n = put_field(req, 1, "a.mefd", 6);
  n += put_field(req + n, 2, "l2pass\0xx", 9);
  /* a password cut at a NUL is a wrong password: refused as every other */
  CHECK(raw_call(addr, MEF3_RPC_OPEN, req, n, &r) ==
        GRPC_STATUS_PERMISSION_DENIED);
  CHECK(!r || (!r->file_opened && (!r->access_token || !r->access_token[0])));
  if (r)
    file_info_response__free_unpacked(r, NULL);
  n = put_field(req, 1, "a.mefd\0", 7);
  CHECK(raw_call(addr, MEF3_RPC_CLOSE, req, n, &r) == GRPC_STATUS_OK);
  CHECK(r && !r->file_opened && strstr(r->error_message, "NUL byte"));
  file_info_response__free_unpacked(r, NULL);
  n = put_field(req, 1, "a.mefd\0/../../x", 15); /* no chunk, a status */
  req[n++] = 3 << 3;
  n += mef3__rpc_varint(req + n, (uint64_t)t0);
  req[n++] = 4 << 3;
  n += mef3__rpc_varint(req + n, (uint64_t)t0 + 1000000);
  CHECK(raw_call(addr, MEF3_RPC_RANGE, req, n, &r) ==
        GRPC_STATUS_INVALID_ARGUMENT);
  CHECK(r == NULL);
  file_info_response__free_unpacked(r, NULL);
  mef3_signal *sig = NULL;
  CHECK_RC(mef3_client_read(&sig, c, "a.mefd", NULL, 0, t0, t0 + 1000000, NULL,
                            NULL),
           0); /* the NUL close closed nothing */
  mef3_signal_free(sig);
  CHECK(outside_untouched("NUL bytes"));

  /* Only a.mefd is open, under the name it was first opened with. */
  char **paths;
  size_t np;
  CHECK_RC(mef3_client_list(&paths, &np, c), 0);
  CHECK(np == 1 && !strcmp(paths[0], "a.mefd"));
  mef3_files_list_free(paths, np);
  CHECK_RC(mef3_client_close_file(c, "a.mefd"), 0);
  free(too_long);
  free(many);
  free(a_many);
  free(x4090);
  mef3_client_free(c);
}

/* Read [t0 + from_s, t0 + from_s + 5 s) of `path`; the client's code. */
static int read_at(mef3_client *c, const char *path, int64_t t0, int from_s) {
  mef3_signal *sig = NULL;
  int64_t a = t0 + (int64_t)from_s * 1000000;
  int rc = mef3_client_read(&sig, c, path, NULL, 0, a, a + 5000000, NULL, NULL);
  CHECK(rc || (sig && sig->n_samples == 5 * 256));
  mef3_signal_free(sig);
  return rc;
}

/*
 * Sessions replaced after they were opened: the first read afterwards
 * opens the data files (a worker opens the session anew), and must refuse
 * rather than follow the links out.  The open files keep their names:
 * once the tree is put back, they read again.
 */
static void test_replaced_after_open(const char *addr, int64_t t0) {
  mef3_client *c;
  REQUIRE(mef3_client_new(&c, addr, NULL) == 0);
  CHECK_RC(mef3_client_open(NULL, NULL, c, "swap.mefd", NULL), 0);
  CHECK_RC(mef3_client_open(NULL, NULL, c, "chswap.mefd", NULL), 0);
  /* The session directory, then a channel directory of the other, become
   * links to a copy outside. */
  REQUIRE(tu_system("cd '%s' && mv swap.mefd swap.orig && "
                    "ln -s '%s/o.mefd' swap.mefd && "
                    "mv chswap.mefd/ch01.timd chswap.orig.timd && "
                    "ln -s '%s/o.mefd/ch01.timd' chswap.mefd/ch01.timd",
                    root, outside, outside) == 0);
  int rc = read_at(c, "swap.mefd", t0, 130);
  CHECK_MSG(rc == MEF3_EINVAL && strstr(th_err(), "replaced since it was "
                                                  "opened"),
            "read of a replaced session: %s (%s)", mef3_errname(rc), th_err());
  rc = read_at(c, "chswap.mefd", t0, 130);
  CHECK_MSG(rc == MEF3_EINVAL && strstr(th_err(), "symbolic link"),
            "read of a session whose channel was replaced: %s (%s)",
            mef3_errname(rc), th_err());
  CHECK(outside_untouched("replaced sessions"));
  /* Put back, the same open files read again. */
  REQUIRE(tu_system("cd '%s' && rm swap.mefd chswap.mefd/ch01.timd && "
                    "mv swap.orig swap.mefd && "
                    "mv chswap.orig.timd chswap.mefd/ch01.timd",
                    root) == 0);
  CHECK_RC(read_at(c, "swap.mefd", t0, 130), 0);
  CHECK_RC(read_at(c, "chswap.mefd", t0, 130), 0);
  CHECK_RC(mef3_client_close_file(c, "swap.mefd"), 0);
  CHECK_RC(mef3_client_close_file(c, "chswap.mefd"), 0);
  mef3_client_free(c);
}

/* After everything: a normal open and read work, nothing is left open. */
static void test_still_healthy(const char *addr, int64_t t0) {
  mef3_client *c;
  REQUIRE(mef3_client_new(&c, addr, NULL) == 0);
  mef3_file_info *fi = NULL;
  CHECK_RC(mef3_client_open(&fi, NULL, c, "in.mefd", NULL), 0);
  CHECK(fi && fi->n_channels == 1 && fi->start_uutc == t0);
  CHECK_RC(read_at(c, "in.mefd", t0, 60), 0);
  CHECK_RC(mef3_client_close_file(c, "in.mefd"), 0);
  char **paths;
  size_t np;
  CHECK_RC(mef3_client_list(&paths, &np, c), 0);
  CHECK(np == 0);
  mef3_files_list_free(paths, np);
  mef3_file_info_free(fi);
  mef3_client_free(c);
}

int main(void) {
  if (!tu_have_golden()) {
    printf("no golden data at %s: skipped\n", MEF3_GOLDEN_DIR);
    return 0;
  }
  setup_tree();
  const int64_t t0 = 1600000000123456LL; /* a_single_256hz's start */
  th_server srv;
  /* The pool on (workers open files too), small tiles. */
  const char *extra[] = {"--tile-duration-s=20", "--min-parallel-tiles=1",
                         NULL};
  REQUIRE(th_start(&srv, root, extra) == 0);
  test_hostile_paths(srv.addr, t0);
  test_replaced_after_open(srv.addr, t0);
  test_still_healthy(srv.addr, t0);
  CHECK(outside_untouched("the whole test"));
  CHECK(th_stop(&srv, SIGTERM) == 0);
  CHECK(th_no_children());
  CHECK(outside_untouched("shutdown"));

  /* The same with decoding in the server's own threads. */
  const char *inproc[] = {"--tile-duration-s=20", "--use-process-pool=0", NULL};
  REQUIRE(th_start(&srv, root, inproc) == 0);
  test_replaced_after_open(srv.addr, t0);
  test_still_healthy(srv.addr, t0);
  CHECK(th_stop(&srv, SIGTERM) == 0);
  CHECK(outside_untouched("in-process server"));
  close(ino);
  return check_finish();
}
