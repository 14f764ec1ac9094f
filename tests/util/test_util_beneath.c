/*
 * test_util_beneath - opens confined to a root (util/beneath.c): files,
 * directories and links that stay inside open; "..", absolute links,
 * relative links climbing out, paths not below the root, and the root's
 * own parent are refused with EXDEV, said as "leads outside the data
 * root".
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "testutil.h"
#include "util/beneath.h"
#include "util/fsutil.h"

static char root[PATH_MAX], outside[PATH_MAX];

/* Open `rel` below the root: the descriptor's errno (0 when it opened). */
static int try_open(const mef3__beneath *b, const char *rel, int flags) {
  char p[PATH_MAX + 64];
  snprintf(p, sizeof p, "%s%s%s", root, rel[0] ? "/" : "", rel);
  int fd = mef3__beneath_open(b, p, flags);
  if (fd >= 0) {
    close(fd);
    return 0;
  }
  return errno;
}

int main(void) {
  char tmp[PATH_MAX + 64];
  REQUIRE(realpath(tu_scratch("beneath root"), root));
  REQUIRE(realpath(tu_scratch("beneath outside"), outside));
  REQUIRE(tu_system("mkdir -p '%s/d/e' && echo in > '%s/a' && echo out > "
                    "'%s/secret'",
                    root, root, outside) == 0);
  REQUIRE(tu_system("cd '%s' && ln -s a in_link && ln -s d/e dir_link && "
                    "ln -s ../a d/up_inside && ln -s '%s/secret' abs_out && "
                    "ln -s ../'%s' rel_out && ln -s /proc/self/root magic",
                    root, outside, strrchr(outside, '/') + 1) == 0);
  mef3__beneath *b = NULL;
  REQUIRE(mef3__beneath_new(&b, root) == 0);
  CHECK(!strcmp(mef3__beneath_path(b), root));

  CHECK(try_open(b, "a", O_RDONLY) == 0);
  CHECK(try_open(b, "", O_RDONLY | O_DIRECTORY) == 0); /* the root */
  CHECK(try_open(b, "d/e", O_RDONLY | O_DIRECTORY) == 0);
  CHECK(try_open(b, "in_link", O_RDONLY) == 0);     /* links inside work */
  CHECK(try_open(b, "dir_link", O_RDONLY) == 0);
  CHECK(try_open(b, "d/up_inside", O_RDONLY) == 0); /* ".." staying in */
  CHECK(try_open(b, "missing", O_RDONLY) == ENOENT);

  CHECK(try_open(b, "abs_out", O_RDONLY) == EXDEV);
  CHECK(try_open(b, "rel_out", O_RDONLY | O_DIRECTORY) == EXDEV);
  CHECK(try_open(b, "magic", O_RDONLY) == EXDEV);
  CHECK(try_open(b, "..", O_RDONLY | O_DIRECTORY) == EXDEV);
  CHECK(try_open(b, "d/../../x", O_RDONLY) == EXDEV);
  snprintf(tmp, sizeof tmp, "%s/secret", outside);
  CHECK(mef3__beneath_open(b, tmp, O_RDONLY) < 0 && errno == EXDEV);
  snprintf(tmp, sizeof tmp, "%sX/a", root); /* a sibling sharing a prefix */
  CHECK(mef3__beneath_open(b, tmp, O_RDONLY) < 0 && errno == EXDEV);
  CHECK(mef3__beneath_open(b, "a", O_RDONLY) < 0 && errno == EXDEV);
  CHECK(!mef3__beneath_racy()); /* this kernel has openat2 */

  /* Through fsutil: the code and the words. */
  uint8_t *buf = NULL;
  size_t len = 0;
  snprintf(tmp, sizeof tmp, "%s/abs_out", root);
  CHECK(mef3__read_file(b, &buf, &len, tmp, 100) == MEF3_EINVAL);
  CHECK(strstr(mef3_error_last()->message, "leads outside the data root"));
  snprintf(tmp, sizeof tmp, "%s/in_link", root);
  CHECK(mef3__read_file(b, &buf, &len, tmp, 100) == 0 && len == 3);
  free(buf);
  snprintf(tmp, sizeof tmp, "%s/rel_out", root);
  CHECK(!mef3__is_dir(b, tmp));
  CHECK(mef3__is_dir(NULL, tmp)); /* unconfined, it is a directory */

  mef3__beneath *bad = NULL;
  CHECK(mef3__beneath_new(&bad, "relative/root") == MEF3_EINVAL && !bad);
  snprintf(tmp, sizeof tmp, "%s/missing", root);
  CHECK(mef3__beneath_new(&bad, tmp) == MEF3_ENOTFOUND && !bad);
  mef3__beneath_free(b);
  return check_finish();
}
