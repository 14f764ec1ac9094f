/*
 * fuzz/fuzz_uh.c - the universal header parser (mef3_uh_parse), the
 * writer's round trip and the password check against the parsed fields.
 * Invariant: a header that parses, written back with mef3_uh_write,
 * parses again to the same fields.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *types[] = {NULL, "tmet", "tidx", "tdat", "rdat"};
  mef3_universal_header uh, again;
  for (size_t t = 0; t < sizeof types / sizeof *types; t++)
    mef3_uh_parse(&uh, data, size, types[t], "fuzz");
  uint8_t *fixed = fuzz_fix_crcs(data, size);
  if (fixed && mef3_uh_parse(&uh, fixed, size, NULL, "fuzz") == 0) {
    uint8_t w[MEF3_UH_BYTES];
    mef3_uh_write(w, &uh);
    if (mef3_uh_parse(&again, w, sizeof w, NULL, NULL) != 0)
      abort();
    again.header_crc = uh.header_crc;
    if (memcmp(&uh, &again, sizeof uh) != 0)
      abort();
    mef3_keys k;
    mef3_keys_from_password(&k, "l1pass", &uh);
    mef3_keys_from_password(&k, "l2pass", &uh);
  }
  free(fixed);
  return 0;
}
