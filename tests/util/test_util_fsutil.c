/*
 * test_util_fsutil - the file-system helpers of util/fsutil.c, in a
 * scratch folder whose name holds a space.
 *
 * Path helpers (join, base name, child named after its directory,
 * suffix, is-a-directory); whole-file reads (contents, empty, exactly at
 * and over the limit, missing, a directory), each failure with its code
 * and a message naming the path; sorted directory listings filtered by
 * suffix without hidden names; positioned reads (whole, short at the
 * end, past the end, a bad descriptor) and the read-fault hook; the
 * errno-to-code map.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "testutil.h"
#include "util/alloc.h"
#include "util/fsutil.h"

static char dir[1024];

static void put_file(const char *name, const void *data, size_t len) {
  char path[1200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  REQUIRE(f != NULL);
  REQUIRE(fwrite(data, 1, len, f) == len);
  fclose(f);
}

static int says(const char *what) {
  return strstr(mef3_error_last()->message, what) != NULL;
}

static void check_str(char *got, const char *want) {
  CHECK_MSG(got && !strcmp(got, want), "got \"%s\", wanted \"%s\"",
            got ? got : "(null)", want);
  mef3__free(got);
}

static void paths(void) {
  check_str(mef3__join("a", "b"), "a/b");
  check_str(mef3__join("a/", "b"), "a/b");
  check_str(mef3__join("/x/y//", "z.tdat"), "/x/y/z.tdat");
  check_str(mef3__join("with space", "b c"), "with space/b c");

  check_str(mef3__base_name("/data/s/name.mefd"), "name");
  check_str(mef3__base_name("name.mefd/"), "name");
  check_str(mef3__base_name("a.b.c"), "a.b");
  check_str(mef3__base_name("noext"), "noext");
  check_str(mef3__base_name(".hidden"), ".hidden");
  check_str(mef3__base_name("dir.d/file"), "file");
  check_str(mef3__base_name("a b/c d.timd"), "c d");

  check_str(mef3__child_named("/s/s.mefd/ch 1.timd", ".rdat"),
            "/s/s.mefd/ch 1.timd/ch 1.rdat");
  check_str(mef3__child_named("ch-000000.segd/", ".tmet"),
            "ch-000000.segd/ch-000000.tmet");

  CHECK(mef3__ends_with("x.timd", ".timd") && mef3__ends_with("x", ""));
  CHECK(!mef3__ends_with("x.timd", ".segd") && !mef3__ends_with("d", ".timd"));
  CHECK(mef3__ends_with(".timd", ".timd"));

  CHECK(mef3__is_dir(NULL, dir));
  char path[1200];
  snprintf(path, sizeof path, "%s/plain", dir);
  CHECK(!mef3__is_dir(NULL, path));
  snprintf(path, sizeof path, "%s/missing", dir);
  CHECK(!mef3__is_dir(NULL, path));
}

static void read_file(void) {
  char path[1200];
  uint8_t *buf;
  size_t len;
  snprintf(path, sizeof path, "%s/plain", dir);
  CHECK_RC(mef3__read_file(NULL, &buf, &len, path, 100), 0);
  CHECK(len == 11 && buf && !memcmp(buf, "hello world", 11));
  mef3__free(buf);
  CHECK_RC(mef3__read_file(NULL, &buf, &len, path, 11), 0); /* exactly the limit */
  mef3__free(buf);
  CHECK_RC(mef3__read_file(NULL, &buf, &len, path, 10), MEF3_ECORRUPT);
  CHECK(buf == NULL && len == 0 && says(path) && says("larger"));

  snprintf(path, sizeof path, "%s/empty", dir);
  CHECK_RC(mef3__read_file(NULL, &buf, &len, path, 100), 0);
  CHECK(len == 0 && buf != NULL);
  mef3__free(buf);

  snprintf(path, sizeof path, "%s/missing", dir);
  CHECK_RC(mef3__read_file(NULL, &buf, &len, path, 100), MEF3_ENOTFOUND);
  CHECK(buf == NULL && says(path));
  snprintf(path, sizeof path, "%s/plain/below", dir);
  CHECK_RC(mef3__read_file(NULL, &buf, &len, path, 100), MEF3_ENOTFOUND);
  CHECK_RC(mef3__read_file(NULL, &buf, &len, dir, 100), MEF3_EIO);
  CHECK(says(dir) && says("not a regular file"));
}

static void list_dir(void) {
  char **names;
  size_t n;
  CHECK_RC(mef3__list_dir(NULL, &names, &n, dir, ".timd"), 0);
  /* sorted by strcmp: "B" before "a"; the directory "z.timd" too; the
   * hidden one and other suffixes left out */
  static const char *want[] = {"B.timd", "a b.timd", "a.timd", "z.timd"};
  CHECK_MSG(n == 4, "%zu names", n);
  for (size_t i = 0; i < n && i < 4; i++)
    CHECK_MSG(!strcmp(names[i], want[i]), "name %zu: %s", i, names[i]);
  mef3__free_list(names, n);

  CHECK_RC(mef3__list_dir(NULL, &names, &n, dir, ".nothing"), 0);
  CHECK(n == 0);
  mef3__free_list(names, n);
  CHECK_RC(mef3__list_dir(NULL, &names, &n, dir, ""), 0);
  CHECK(n == 8); /* every name but the hidden one */
  mef3__free_list(names, n);
  mef3__free_list(NULL, 0);

  char path[1200];
  snprintf(path, sizeof path, "%s/missing", dir);
  CHECK_RC(mef3__list_dir(NULL, &names, &n, path, ".timd"), MEF3_ENOTFOUND);
  CHECK(names == NULL && n == 0 && says(path));
  snprintf(path, sizeof path, "%s/plain", dir);
  CHECK_RC(mef3__list_dir(NULL, &names, &n, path, ".timd"), MEF3_ENOTFOUND);
}

static int fault_calls;
static int fault_at_8(int fd, size_t len, uint64_t off, void *payload) {
  (void)fd;
  (void)len;
  fault_calls++;
  return off == 8 ? *(int *)payload : 0;
}

static void pread_full(void) {
  char path[1200];
  snprintf(path, sizeof path, "%s/plain", dir);
  int fd = open(path, O_RDONLY);
  REQUIRE(fd >= 0);
  char b[32];
  CHECK(mef3__pread_full(fd, b, 11, 0) == 11 && !memcmp(b, "hello world", 11));
  CHECK(mef3__pread_full(fd, b, 5, 6) == 5 && !memcmp(b, "world", 5));
  CHECK(mef3__pread_full(fd, b, 32, 6) == 5); /* short at the end */
  CHECK(mef3__pread_full(fd, b, 4, 11) == 0);
  CHECK(mef3__pread_full(fd, b, 4, 1000) == 0);
  CHECK(mef3__pread_full(fd, b, 0, 0) == 0);

  int err = EIO;
  mef3__set_read_fault(fault_at_8, &err);
  errno = 0;
  CHECK(mef3__pread_full(fd, b, 2, 8) == -1 && errno == EIO);
  CHECK(mef3__pread_full(fd, b, 2, 0) == 2);
  CHECK(fault_calls == 2);
  uint8_t *buf;
  size_t len;
  err = ENOMEM; /* a whole-file read goes through the hook too */
  mef3__set_read_fault(fault_at_8, &err);
  CHECK_RC(mef3__read_file(NULL, &buf, &len, path, 100), 0); /* reads at 0 */
  mef3__free(buf);
  mef3__set_read_fault(NULL, NULL);
  CHECK(mef3__pread_full(fd, b, 2, 8) == 2 && !memcmp(b, "rl", 2));
  CHECK(fault_calls == 3);
  close(fd);
  errno = 0;
  CHECK(mef3__pread_full(fd, b, 2, 0) == -1 && errno == EBADF);
}

static void errno_codes(void) {
  CHECK(mef3__errno_code(ENOENT) == MEF3_ENOTFOUND);
  CHECK(mef3__errno_code(ENOTDIR) == MEF3_ENOTFOUND);
  CHECK(mef3__errno_code(EMFILE) == MEF3_ELIMIT);
  CHECK(mef3__errno_code(ENFILE) == MEF3_ELIMIT);
  CHECK(mef3__errno_code(ENOMEM) == MEF3_ENOMEM);
  CHECK(mef3__errno_code(EACCES) == MEF3_EIO);
  CHECK(mef3__errno_code(EIO) == MEF3_EIO);
}

int main(int argc, char **argv) {
  snprintf(dir, sizeof dir, "%s/in a folder", tu_scratch("fsutil"));
  REQUIRE(mkdir(dir, 0755) == 0);
  put_file("plain", "hello world", 11);
  put_file("empty", "", 0);
  put_file("a.timd", "x", 1);
  put_file("B.timd", "x", 1);
  put_file("a b.timd", "x", 1);
  put_file(".hidden.timd", "x", 1);
  put_file("c.segd", "x", 1);
  put_file("timd", "x", 1);
  char sub[1200];
  snprintf(sub, sizeof sub, "%s/z.timd", dir);
  REQUIRE(mkdir(sub, 0755) == 0);
  static const check_case cases[] = {
      CASE(paths),
      CASE(read_file),
      CASE(list_dir),
      CASE(pread_full),
      CASE(errno_codes),
  };
  check_run(argc, argv, cases, sizeof cases / sizeof *cases);
  return check_finish();
}
