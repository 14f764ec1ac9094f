/*
 * fuzz/fuzz_index.c - the time-series index parser (mef3_index_parse),
 * without a data-file length and with a few lengths, on the input as
 * given and with its CRCs repaired.  Invariant: on success every entry
 * lies inside [1024, tdat_len) when a length is given, and sample
 * numbers follow each other.
 */
#include "fuzz_common.h"

static void run(const uint8_t *buf, size_t size) {
  static const uint64_t lens[] = {0, 1024, 75000, UINT64_MAX};
  for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
    mef3_index_entry *e = NULL;
    size_t n = 0;
    mef3_universal_header uh;
    if (mef3_index_parse(&e, &n, &uh, buf, size, lens[i], "fuzz") == 0) {
      for (size_t k = 0; k < n; k++) {
        if (e[k].file_offset < 1024 || e[k].block_bytes < 304)
          abort();
        if (lens[i] && (uint64_t)e[k].file_offset + e[k].block_bytes > lens[i])
          abort();
        if (k && e[k].start_sample !=
                     e[k - 1].start_sample + e[k - 1].number_of_samples)
          abort();
      }
    }
    free(e);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  run(data, size);
  uint8_t *fixed = fuzz_fix_crcs(data, size);
  if (fixed)
    run(fixed, size);
  free(fixed);
  return 0;
}
