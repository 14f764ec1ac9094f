/*
 * format/index.c - time-series index files (.tidx): a universal header
 * and one 56-byte entry per data block.
 */
#include <stdlib.h>
#include <string.h>

#include "mef3pool/format.h"
#include "util/bytes.h"
#include "util/error.h"
#include "util/alloc.h"

int mef3_index_parse(mef3_index_entry **out, size_t *n,
                     mef3_universal_header *uh_out, const uint8_t *buf,
                     size_t len, uint64_t tdat_len, const char *path) {
  mef3_universal_header uh;
  *out = NULL;
  *n = 0;
  int rc = mef3_uh_parse(&uh, buf, len, "tidx", path);
  if (rc)
    return rc;
  size_t body = len - MEF3_UH_BYTES;
  if (body % MEF3_INDEX_BYTES)
    return mef3__error_at(MEF3_ECORRUPT, path, len,
                          "index body of %zu bytes is not a multiple of 56",
                          body);
  size_t count = body / MEF3_INDEX_BYTES;
  if (uh.number_of_entries != -1 && uh.number_of_entries != (int64_t)count)
    return mef3__error_at(MEF3_ECORRUPT, path, 32,
                          "header says %lld entries, file holds %zu",
                          (long long)uh.number_of_entries, count);
  if (uh.body_crc != 0 && mef3_crc32(buf + MEF3_UH_BYTES, body) != uh.body_crc)
    return mef3__error_at(MEF3_ECRC, path, MEF3_UH_BYTES,
                          "index body CRC mismatch");
  mef3_index_entry *e = count ? mef3__calloc(count, sizeof *e) : NULL;
  if (count && !e)
    return mef3__error(MEF3_ENOMEM, "%s: cannot allocate %zu index entries",
                       path ? path : "<buffer>", count);
  for (size_t i = 0; i < count; i++) {
    const uint8_t *p = buf + MEF3_UH_BYTES + i * MEF3_INDEX_BYTES;
    uint64_t at = MEF3_UH_BYTES + i * MEF3_INDEX_BYTES;
    e[i].file_offset = ld_i64(p);
    e[i].start_time = ld_i64(p + 8);
    e[i].start_sample = ld_i64(p + 16);
    e[i].number_of_samples = ld_u32(p + 24);
    e[i].block_bytes = ld_u32(p + 28);
    e[i].maximum_sample_value = ld_i32(p + 32);
    e[i].minimum_sample_value = ld_i32(p + 36);
    e[i].flags = p[44];
    if (e[i].file_offset < MEF3_UH_BYTES ||
        e[i].block_bytes < MEF3_RED_HEADER_BYTES ||
        (tdat_len &&
         (uint64_t)e[i].file_offset + e[i].block_bytes > tdat_len)) {
      rc = mef3__error_at(MEF3_ECORRUPT, path, at,
                          "entry %zu: block at %lld of %u bytes lies outside "
                          "the data file (%llu bytes)",
                          i, (long long)e[i].file_offset, e[i].block_bytes,
                          (unsigned long long)tdat_len);
      break;
    }
    if (e[i].start_sample < 0 ||
        (i > 0 && e[i].start_sample !=
                      e[i - 1].start_sample + e[i - 1].number_of_samples)) {
      rc = mef3__error_at(MEF3_ECORRUPT, path, at + 16,
                          "entry %zu: start sample %lld does not follow the "
                          "previous block",
                          i, (long long)e[i].start_sample);
      break;
    }
  }
  if (rc) {
    mef3__free(e);
    return rc;
  }
  if (uh_out)
    *uh_out = uh;
  *out = e;
  *n = count;
  return 0;
}

void mef3_index_write(uint8_t *p, const mef3_index_entry *e) {
  memset(p, 0, MEF3_INDEX_BYTES);
  st_i64(p, e->file_offset);
  st_i64(p + 8, e->start_time);
  st_i64(p + 16, e->start_sample);
  st_u32(p + 24, e->number_of_samples);
  st_u32(p + 28, e->block_bytes);
  st_i32(p + 32, e->maximum_sample_value);
  st_i32(p + 36, e->minimum_sample_value);
  p[44] = e->flags;
}
