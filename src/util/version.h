/*
 * util/version.h - the one check of a versioned struct's `version` field
 * (internal; the rule is documented in include/mef3pool/common.h).
 *
 * Every options or record struct of the public API starts with a version.
 * A caller compiled against an older header passes an older version, and
 * that must keep working: every version from 1 to the current one is
 * accepted, and only 0 (an unset struct) or one newer than this library
 * is refused.  All checks go through here so that a version bump changes
 * nothing for old callers anywhere.  Exported for mef3pool-rpc.
 *
 * A struct still at version 1 may be copied whole (`o = *opts`).  Its
 * first bump must change that copy: start from the _INIT defaults and
 * copy only the fields of the caller's version, whose struct is shorter
 * (mef3_server_start and mef3_client_new do this for version 2).
 */
#ifndef MEF3_UTIL_VERSION_H
#define MEF3_UTIL_VERSION_H

#include "util/error.h"

/*
 * 0 when 1 <= `version` <= `current`; otherwise MEF3_EINVAL with the
 * message "WHAT version V: this library takes 1 to CURRENT" (`what` names
 * the struct, e.g. "mef3_reader_options").
 */
MEF3__SHARED int mef3__version_check(const char *what, unsigned version,
                                     unsigned current);

#endif
