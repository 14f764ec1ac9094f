/*
 * test_util_version - the one check of a versioned struct (util/version.c).
 *
 * Every version from 1 to the current one is accepted (an old caller
 * keeps working after a bump); 0 and a newer one are MEF3_EINVAL with a
 * message naming the struct, the version given and the range taken.
 */
#include <string.h>

#include "check.h"
#include "util/version.h"

int main(void) {
  for (unsigned cur = 1; cur <= 5; cur++)
    for (unsigned v = 1; v <= cur; v++)
      CHECK_MSG(mef3__version_check("s", v, cur) == 0, "%u of %u", v, cur);

  mef3_error_clear();
  CHECK(mef3__version_check("mef3_x_options", 0, 3) == MEF3_EINVAL);
  CHECK(mef3_error_last()->code == MEF3_EINVAL);
  CHECK_MSG(!strcmp(mef3_error_last()->message,
                    "mef3_x_options version 0: this library takes 1 to 3"),
            "%s", mef3_error_last()->message);
  CHECK(mef3__version_check("mef3_x_options", 4, 3) == MEF3_EINVAL);
  CHECK_MSG(!strcmp(mef3_error_last()->message,
                    "mef3_x_options version 4: this library takes 1 to 3"),
            "%s", mef3_error_last()->message);
  CHECK(mef3__version_check("mef3_y", 2, 1) == MEF3_EINVAL);
  CHECK_MSG(!strcmp(mef3_error_last()->message,
                    "mef3_y version 2: this library takes 1"),
            "%s", mef3_error_last()->message);
  return check_finish();
}
