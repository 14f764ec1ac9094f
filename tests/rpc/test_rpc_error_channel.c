/*
 * tests/rpc/test_rpc_error_channel.c - one per-thread error channel across
 * libmef3pool and libmef3pool-rpc (issue 13).
 *
 * Failing calls of client.h and server.h must leave their code and message
 * in mef3_error_last(), the core's channel, as the core's own calls do:
 * the rpc library sets errors through the core's setter.  Built twice
 * (tests/CMakeLists.txt): against the static libraries, where the two
 * archives must share the one definition, and against the shared ones,
 * where the rpc library must find the setter exported by libmef3pool.so.
 * Also: a wrong client options version is reported as that, not as a
 * missing address; the old names (mef3_client_error_last,
 * mef3_server_error_last, mef3_server_config_error) read the same entry.
 * Nothing is written; no server is left running.
 */
#include <string.h>

#include "check.h"
#include "mef3pool/client.h"
#include "mef3pool/server.h"

/* The last error is `want` and its message contains `part`. */
#define CHECK_LAST(want, part)                                                 \
  do {                                                                         \
    const mef3_error *e_ = mef3_error_last();                                  \
    CHECK_MSG(e_->code == (want) && strstr(e_->message, (part)),               \
              "last error %s \"%s\", wanted %s with \"%s\"",                   \
              mef3_errname(e_->code), e_->message, mef3_errname(want), part);  \
  } while (0)

static void client_errors(void) {
  mef3_client *c = (mef3_client *)1;
  mef3_error_clear();
  CHECK_RC(mef3_client_new(&c, NULL, NULL), MEF3_EINVAL);
  CHECK(c == NULL);
  CHECK_LAST(MEF3_EINVAL, "HOST:PORT");

  /* a wrong version names the struct, not the address */
  mef3_client_options o = MEF3_CLIENT_OPTIONS_INIT;
  o.version = 99;
  mef3_error_clear();
  CHECK_RC(mef3_client_new(&c, "127.0.0.1:1", &o), MEF3_EINVAL);
  CHECK_LAST(MEF3_EINVAL, "mef3_client_options version 99");
  CHECK(!strstr(mef3_error_last()->message, "HOST:PORT"));
  o.version = 0;
  CHECK_RC(mef3_client_new(&c, "127.0.0.1:1", &o), MEF3_EINVAL);
  CHECK_LAST(MEF3_EINVAL, "mef3_client_options version 0");

  /* a call that reaches gRPC: nothing listens on port 1 */
  o = (mef3_client_options)MEF3_CLIENT_OPTIONS_INIT;
  o.timeout_ms = 20000;
  REQUIRE(mef3_client_new(&c, "127.0.0.1:1", &o) == 0);
  char **paths = NULL;
  size_t n = 0;
  mef3_error_clear();
  int rc = mef3_client_list(&paths, &n, c);
  CHECK_MSG(rc < 0, "list without a server: %s", mef3_errname(rc));
  CHECK_LAST(rc, "127.0.0.1:1");
  CHECK(mef3_client_error_last() == mef3_error_last());
  mef3_client_free(c);
}

static void server_errors(void) {
  mef3_server *s = (mef3_server *)1;
  mef3_server_options o = MEF3_SERVER_OPTIONS_INIT;
  o.version = 99;
  mef3_error_clear();
  CHECK_RC(mef3_server_start(&s, &o), MEF3_EINVAL);
  CHECK(s == NULL);
  CHECK_LAST(MEF3_EINVAL, "mef3_server_options version 99");

  o = (mef3_server_options)MEF3_SERVER_OPTIONS_INIT;
  o.port = 70000;
  mef3_error_clear();
  CHECK_RC(mef3_server_start(&s, &o), MEF3_EINVAL);
  CHECK_LAST(MEF3_EINVAL, "port 70000");

  /* cannot listen: TEST-NET-1 is no address of this machine (no DNS) */
  o = (mef3_server_options)MEF3_SERVER_OPTIONS_INIT;
  o.bind_address = "192.0.2.1";
  o.port = 0;
  mef3_error_clear();
  CHECK_RC(mef3_server_start(&s, &o), MEF3_EIO);
  CHECK_LAST(MEF3_EIO, "cannot listen on 192.0.2.1");
  CHECK(mef3_server_error_last() == mef3_error_last());

  /* the knobs */
  mef3_error_clear();
  CHECK_RC(mef3_server_options_set(&o, "--no-such-knob", "1"), MEF3_EINVAL);
  CHECK_LAST(MEF3_EINVAL, "unknown option --no-such-knob");
  CHECK(!strcmp(mef3_server_config_error(), mef3_error_last()->message));
  CHECK_RC(mef3_server_options_set(&o, "--port", "nonsense"), MEF3_EINVAL);
  CHECK_LAST(MEF3_EINVAL, "--port");
}

/* The core's own version check speaks the same way. */
static void core_errors(void) {
  mef3_reader *r = NULL;
  mef3_reader_options ro = MEF3_READER_OPTIONS_INIT;
  ro.version = 99;
  mef3_error_clear();
  CHECK_RC(mef3_reader_open(&r, "/nonexistent.mefd", &ro), MEF3_EINVAL);
  CHECK_LAST(MEF3_EINVAL, "mef3_reader_options version 99");
}

int main(int argc, char **argv) {
  static const check_case cases[] = {
      CASE(client_errors),
      CASE(server_errors),
      CASE(core_errors),
  };
  check_run(argc, argv, cases, sizeof cases / sizeof *cases);
  return check_finish();
}
