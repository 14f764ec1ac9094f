/*
 * tests/rpc/test_rpc_msg.c - reading a received message in place
 * (mef3__rpc_msg_*, src/rpc): a SignalChunk packed by protobuf-c and cut
 * into slices at every possible boundary (inside varints, tags and the
 * samples) gives back the same small fields and the same samples; the
 * last occurrence of the field wins; a missing field has length 0;
 * truncated and malformed messages are refused; reads past the field
 * fail.
 */
#include <string.h>

#include "check.h"
#include "rpc/rpc.h"

/* `bytes` as a byte buffer of slices cut at the given offsets. */
static grpc_byte_buffer *sliced(const uint8_t *bytes, size_t n,
                                const size_t *cuts, size_t ncut) {
  grpc_slice sl[8];
  size_t at = 0, k = 0;
  for (size_t i = 0; i <= ncut; i++) {
    size_t end = i < ncut ? cuts[i] : n;
    sl[k++] = grpc_slice_from_copied_buffer((const char *)bytes + at,
                                            end - at);
    at = end;
  }
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(sl, k);
  for (size_t i = 0; i < k; i++)
    grpc_slice_unref(sl[i]);
  return bb;
}

static uint8_t *pack_chunk(size_t *n, float *samples, size_t ns) {
  SignalChunk ch = SIGNAL_CHUNK__INIT;
  int64_t shape[2] = {1, (int64_t)ns};
  char *names[] = {"ch01"};
  ch.file_path = "a.mefd";
  ch.dtype = "float32";
  ch.shape = shape;
  ch.n_shape = 2;
  ch.array_bytes.data = (uint8_t *)samples;
  ch.array_bytes.len = ns * sizeof *samples;
  ch.start_uutc = 1600000000000000;
  ch.fs = 499.7;
  ch.channel_names = names;
  ch.n_channel_names = 1;
  ch.total_samples = 1234567;
  *n = signal_chunk__get_packed_size(&ch);
  uint8_t *p = malloc(*n);
  signal_chunk__pack(&ch, p);
  return p;
}

static void test_every_cut(void) {
  float x[40];
  for (int i = 0; i < 40; i++)
    x[i] = (float)i * 1.5f - 7.0f;
  size_t n;
  uint8_t *p = pack_chunk(&n, x, 40);
  int bad = 0;
  for (size_t a = 0; a < n; a++)
    for (size_t b = a; b < n; b += 7) {
      size_t cuts[2] = {a, b};
      grpc_byte_buffer *bb = sliced(p, n, cuts, 2);
      mef3__rpc_msg m;
      uint8_t *rest;
      size_t rn;
      if (mef3__rpc_msg_open(&m, bb, 2, &rest, &rn) != 0) {
        bad++;
        grpc_byte_buffer_destroy(bb);
        continue;
      }
      SignalChunk *ch = signal_chunk__unpack(NULL, rn, rest);
      float got[40];
      int ok = ch && m.left == sizeof x && !ch->array_bytes.len &&
               !strcmp(ch->file_path, "a.mefd") && ch->fs == 499.7 &&
               ch->total_samples == 1234567 && ch->n_shape == 2 &&
               mef3__rpc_msg_read(&m, got, 10 * sizeof *got) == 0 &&
               mef3__rpc_msg_read(&m, got + 10, 30 * sizeof *got) == 0 &&
               !memcmp(got, x, sizeof x) &&
               mef3__rpc_msg_read(&m, got, 1) == -1;
      bad += !ok;
      if (ch)
        signal_chunk__free_unpacked(ch, NULL);
      free(rest);
      mef3__rpc_msg_close(&m);
      grpc_byte_buffer_destroy(bb);
    }
  CHECK_MSG(bad == 0, "%d cuts gave a wrong result", bad);
  /* Every truncation is refused (the message ends inside a field) or,
   * cut at a field boundary, parses as the shorter message. */
  int crashed_or_wrong = 0;
  for (size_t t = 0; t < n; t++) {
    size_t cut = t / 2;
    grpc_byte_buffer *bb = sliced(p, t, &cut, 1);
    mef3__rpc_msg m;
    uint8_t *rest;
    size_t rn;
    int r = mef3__rpc_msg_open(&m, bb, 2, &rest, &rn);
    if (r == 0) {
      crashed_or_wrong += rn > t || m.left > t;
      free(rest);
      mef3__rpc_msg_close(&m);
    } else {
      crashed_or_wrong += r != -1;
    }
    grpc_byte_buffer_destroy(bb);
  }
  CHECK(crashed_or_wrong == 0);
  free(p);
}

static void test_last_wins_and_absent(void) {
  /* field 2 twice (4 bytes, then 8), a varint field 5 in between */
  const uint8_t msg[] = {0x12, 4, 1, 2, 3, 4, 0x28, 0x96, 0x01,
                         0x12, 8, 9, 9, 9, 9, 8, 8, 8, 8};
  size_t cut = 11;
  grpc_byte_buffer *bb = sliced(msg, sizeof msg, &cut, 1);
  mef3__rpc_msg m;
  uint8_t *rest;
  size_t rn;
  CHECK(mef3__rpc_msg_open(&m, bb, 2, &rest, &rn) == 0);
  CHECK(m.left == 8);
  uint8_t got[8];
  CHECK(mef3__rpc_msg_read(&m, got, 8) == 0);
  CHECK(got[0] == 9 && got[7] == 8);
  /* the rest: the first occurrence and field 5 */
  CHECK(rn == 9 && !memcmp(rest, msg, 9));
  free(rest);
  mef3__rpc_msg_close(&m);
  /* a field that is not there */
  CHECK(mef3__rpc_msg_open(&m, bb, 7, &rest, &rn) == 0);
  CHECK(m.left == 0 && rn == sizeof msg);
  CHECK(mef3__rpc_msg_read(&m, got, 1) == -1);
  free(rest);
  mef3__rpc_msg_close(&m);
  grpc_byte_buffer_destroy(bb);
}

static void test_malformed(void) {
  const uint8_t wt3[] = {0x0b, 0x00};              /* group start */
  const uint8_t longlen[] = {0x12, 0x7f, 1, 2};    /* length past the end */
  const uint8_t badvar[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
                            0xff, 0xff, 0xff, 0xff, 0xff, 0xff}; /* > 64 bits */
  const uint8_t *cases[] = {wt3, longlen, badvar};
  size_t lens[] = {sizeof wt3, sizeof longlen, sizeof badvar};
  for (int i = 0; i < 3; i++) {
    grpc_byte_buffer *bb = sliced(cases[i], lens[i], NULL, 0);
    mef3__rpc_msg m;
    uint8_t *rest = (uint8_t *)1;
    size_t rn = 99;
    CHECK(mef3__rpc_msg_open(&m, bb, 2, &rest, &rn) == -1);
    CHECK(rest == NULL && rn == 0);
    grpc_byte_buffer_destroy(bb);
  }
  mef3__rpc_msg m;
  uint8_t *rest;
  size_t rn;
  CHECK(mef3__rpc_msg_open(&m, NULL, 2, &rest, &rn) == -1);
}

/* gRPC statuses to our codes: what a caller may retry is MEF3_EIO. */
static void test_status_codes(void) {
  CHECK(mef3__rpc_code_of_status(GRPC_STATUS_OK) == 0);
  CHECK(mef3__rpc_code_of_status(GRPC_STATUS_UNAVAILABLE) == MEF3_EIO);
  /* A stream the transport reset (RST_STREAM through a proxy whose node
   * died): was MEF3_ERROR, which no caller retries. */
  CHECK(mef3__rpc_code_of_status(GRPC_STATUS_INTERNAL) == MEF3_EIO);
  CHECK(mef3__rpc_code_of_status(GRPC_STATUS_PERMISSION_DENIED) ==
        MEF3_EPASSWORD);
  CHECK(mef3__rpc_code_of_status(GRPC_STATUS_INVALID_ARGUMENT) ==
        MEF3_EINVAL);
  CHECK(mef3__rpc_code_of_status(GRPC_STATUS_UNIMPLEMENTED) ==
        MEF3_EUNSUPPORTED);
  CHECK(mef3__rpc_code_of_status(GRPC_STATUS_DATA_LOSS) == MEF3_ERROR);
}

int main(int argc, char **argv) {
  grpc_init();
  static const check_case cases[] = {
      CASE(test_every_cut),
      CASE(test_last_wins_and_absent),
      CASE(test_malformed),
      CASE(test_status_codes),
  };
  check_run(argc, argv, cases, sizeof cases / sizeof *cases);
  grpc_shutdown();
  return check_finish();
}
