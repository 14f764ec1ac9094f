/*
 * tests/cli/test_cli_out.c - the CLI's zip and .npy writers (src/cli/out_*.c,
 * linked in directly) on what `mef3pool read` cannot easily reach: zip64
 * records (forced from offset 0 instead of 4 GiB), names and strings that
 * are not ASCII, invalid UTF-8, empty arrays.  NumPy (/usr/bin/python3)
 * and Python's zipfile judge the archives; without NumPy the test skips.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cli_out.h"
#include "testutil.h"

static const double values[] = {1.5, -2.25, NAN, 1e300};
static const char *const names[] = {"ch01", "Fp1-\xc3\xa9", "\xe6\x97\xa5",
                                    "bad\xff\xc3", ""};

/* An archive of a 2-D array (two pieces), strings and an empty array. */
static int write_archive(const char *path, uint64_t zip64_from) {
  FILE *f = fopen(path, "wb");
  if (!f)
    return -1;
  cli_zip z;
  cli_zip_init(&z, f, zip64_from);
  char h[256];
  size_t hl = cli_npy_header(h, sizeof h, "<f8", 2, 2, 2);
  cli_piece p[3] = {{h, hl}, {values, 16}, {values + 2, 16}};
  int rc = cli_zip_add(&z, "data.npy", p, 3);
  uint32_t *u = NULL;
  size_t w = 0;
  if (!rc)
    rc = cli_npy_strings(names, 5, &u, &w);
  char descr[16], h2[256];
  snprintf(descr, sizeof descr, "<U%zu", w);
  size_t hl2 = cli_npy_header(h2, sizeof h2, descr, 1, 5, 0);
  cli_piece q[2] = {{h2, hl2}, {u, 5 * w * 4}};
  if (!rc)
    rc = cli_zip_add(&z, "names.npy", q, 2);
  char h3[256];
  size_t hl3 = cli_npy_header(h3, sizeof h3, "<i8", 1, 0, 0);
  cli_piece e = {h3, hl3};
  if (!rc)
    rc = cli_zip_add(&z, "empty.npy", &e, 1);
  if (!rc)
    rc = cli_zip_finish(&z);
  cli_zip_dispose(&z);
  free(u);
  CHECK(hl % 64 == 0 && hl2 % 64 == 0 && hl3 % 64 == 0);
  CHECK(w == 5); /* "bad", U+FFFD twice ("\xff", a cut "\xc3") */
  return fclose(f) || rc;
}

static void archives(void) {
  const char *d = tu_scratch("zip");
  char classic[4096], zip64[4096];
  snprintf(classic, sizeof classic, "%s/classic.npz", d);
  snprintf(zip64, sizeof zip64, "%s/zip64.npz", d);
  REQUIRE(write_archive(classic, UINT32_MAX) == 0);
  REQUIRE(write_archive(zip64, 0) == 0);
  /* Both read alike; the forced one really uses zip64 records. */
  int rc = tu_system(
      "/usr/bin/python3 -c '\n"
      "import numpy as np, zipfile, sys\n"
      "for p, big in ((sys.argv[1], False), (sys.argv[2], True)):\n"
      "    with zipfile.ZipFile(p) as zf:\n"
      "        assert zf.testzip() is None\n"
      "        assert zf.namelist() == [\"data.npy\", \"names.npy\", "
      "\"empty.npy\"]\n"
      "    raw = open(p, \"rb\").read()\n"
      "    assert (b\"PK\\x06\\x06\" in raw) == big, p\n"
      "    z = np.load(p)\n"
      "    d = z[\"data\"]\n"
      "    assert d.shape == (2, 2) and d.dtype == np.float64\n"
      "    assert d[0, 0] == 1.5 and d[0, 1] == -2.25\n"
      "    assert np.isnan(d[1, 0]) and d[1, 1] == 1e300\n"
      "    assert list(z[\"names\"]) == [\"ch01\", \"Fp1-\\u00e9\", "
      "\"\\u65e5\", \"bad\\ufffd\\ufffd\", \"\"], list(z[\"names\"])\n"
      "    assert z[\"empty\"].shape == (0,) and z[\"empty\"].dtype == "
      "np.int64\n"
      "' '%s' '%s'",
      classic, zip64);
  CHECK_MSG(rc == 0, "numpy/zipfile reject the archives (rc %d)", rc);
}

int main(void) {
  if (tu_system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0) {
    printf("SKIP: /usr/bin/python3 has no numpy\n");
    return 77;
  }
  archives();
  return check_finish();
}
