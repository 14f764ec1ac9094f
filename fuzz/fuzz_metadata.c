/*
 * fuzz/fuzz_metadata.c - the time-series metadata parser
 * (mef3_metadata_parse) with no keys and with level-1 and level-2 keys,
 * on the input as given and with its CRCs repaired.  Invariant: the
 * input is never modified.
 */
#include "fuzz_common.h"

static void run(const uint8_t *buf, size_t size) {
  mef3_metadata md;
  mef3_universal_header uh;
  for (int level = 0; level <= 2; level++) {
    mef3_keys k = fuzz_keys(level);
    mef3_metadata_parse(&md, &uh, buf, size, level ? &k : NULL, "fuzz");
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  run(data, size);
  uint8_t *fixed = fuzz_fix_crcs(data, size);
  if (fixed) {
    uint8_t *copy = malloc(size);
    if (copy) {
      memcpy(copy, fixed, size);
      run(fixed, size);
      if (memcmp(copy, fixed, size) != 0)
        abort();
      free(copy);
    }
  }
  free(fixed);
  return 0;
}
