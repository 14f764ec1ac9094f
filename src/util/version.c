/*
 * util/version.c - the check of a versioned struct's version (see
 * util/version.h).  Stateless; any thread.
 */
#include "util/version.h"

int mef3__version_check(const char *what, unsigned version, unsigned current) {
  if (version >= 1 && version <= current)
    return 0;
  if (current == 1)
    return mef3__error(MEF3_EINVAL, "%s version %u: this library takes 1", what,
                       version);
  return mef3__error(MEF3_EINVAL, "%s version %u: this library takes 1 to %u",
                     what, version, current);
}
