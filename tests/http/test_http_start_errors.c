/*
 * test_http_start_errors - a failing mef3_http_start leaves its code and
 * a message naming what is wrong in mef3_error_last() (issue 13: every
 * public header speaks through the one per-thread channel), and a wrong
 * options version is reported as that.  Nothing is listened on.
 */
#include <string.h>

#include "check.h"
#include "mef3pool/http.h"

#define CHECK_LAST(want, part)                                                 \
  do {                                                                         \
    const mef3_error *e_ = mef3_error_last();                                  \
    CHECK_MSG(e_->code == (want) && strstr(e_->message, (part)),               \
              "last error %s \"%s\", wanted %s with \"%s\"",                   \
              mef3_errname(e_->code), e_->message, mef3_errname(want), part);  \
  } while (0)

int main(void) {
  mef3_files *fm = NULL;
  REQUIRE(mef3_files_new(&fm, NULL) == 0);
  mef3_http *h = NULL;

  mef3_http_options o = MEF3_HTTP_OPTIONS_INIT;
  o.version = 99;
  mef3_error_clear();
  CHECK_RC(mef3_http_start(&h, fm, &o), MEF3_EINVAL);
  CHECK_LAST(MEF3_EINVAL, "mef3_http_options version 99");

  o = (mef3_http_options)MEF3_HTTP_OPTIONS_INIT;
  o.port = -1;
  mef3_error_clear();
  CHECK_RC(mef3_http_start(&h, fm, &o), MEF3_EINVAL);
  CHECK_LAST(MEF3_EINVAL, "port -1");

  o = (mef3_http_options)MEF3_HTTP_OPTIONS_INIT;
  o.bind_address = "localhost";
  o.port = 0;
  mef3_error_clear();
  CHECK_RC(mef3_http_start(&h, fm, &o), MEF3_EINVAL);
  CHECK_LAST(MEF3_EINVAL, "localhost");

  o = (mef3_http_options)MEF3_HTTP_OPTIONS_INIT;
  o.port = 0;
  o.tls_cert = "/nonexistent/cert.pem";
  mef3_error_clear();
  CHECK_RC(mef3_http_start(&h, fm, &o), MEF3_EINVAL);
  CHECK_LAST(MEF3_EINVAL, "key");
  o.tls_key = "/nonexistent/key.pem";
  CHECK_RC(mef3_http_start(&h, fm, &o), MEF3_EINVAL);
  CHECK_LAST(MEF3_EINVAL, "/nonexistent/cert.pem");

  /* cannot listen: TEST-NET-1 is no address of this machine */
  o = (mef3_http_options)MEF3_HTTP_OPTIONS_INIT;
  o.bind_address = "192.0.2.1";
  o.port = 0;
  mef3_error_clear();
  CHECK_RC(mef3_http_start(&h, fm, &o), MEF3_EIO);
  CHECK_LAST(MEF3_EIO, "192.0.2.1");
  CHECK(h == NULL);

  mef3_files_free(fm);
  return check_finish();
}
