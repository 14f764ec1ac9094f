/*
 * test_util_log_errors - the logger's failures (util/log_sink.c) leave
 * their code and a message in mef3_error_last(), like every other call
 * of a public header (issue 13): a log file that cannot be opened (its
 * path named, errno kept for the caller) and an unknown level.
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "mef3pool/log.h"

int main(void) {
  mef3_log_sink *l = (mef3_log_sink *)1;
  mef3_error_clear();
  errno = 0;
  CHECK_RC(mef3_log_sink_open(&l, MEF3_LOG_INFO, 0, "/nonexistent/dir/x.log"),
           MEF3_EIO);
  CHECK(errno == ENOENT);
  CHECK(l == NULL);
  CHECK(mef3_error_last()->code == MEF3_EIO);
  CHECK_MSG(strstr(mef3_error_last()->message, "/nonexistent/dir/x.log"), "%s",
            mef3_error_last()->message);

  mef3_log_level lv;
  mef3_error_clear();
  CHECK_RC(mef3_log_level_parse(&lv, "loud"), MEF3_EINVAL);
  CHECK(mef3_error_last()->code == MEF3_EINVAL);
  CHECK_MSG(strstr(mef3_error_last()->message, "loud"), "%s",
            mef3_error_last()->message);
  CHECK_RC(mef3_log_level_parse(&lv, "warning"), 0);
  CHECK(lv == MEF3_LOG_WARN);
  return check_finish();
}
