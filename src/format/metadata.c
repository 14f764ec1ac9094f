/*
 * format/metadata.c - time-series metadata files (.tmet): a universal
 * header and three sections.  Section 1 says how sections 2 and 3 are
 * encrypted; section 2 holds the technical fields (rate, units, counts),
 * section 3 the recording time offset and subject fields.
 */
#include <string.h>

#include "codec/crypto.h"
#include "mef3pool/format.h"
#include "util/bytes.h"
#include "util/error.h"

/* Decrypt section [off, off+len) of `m` in place if `enc` > 0 and the keys
 * reach that level.  Returns 1 when the section is readable afterwards. */
static int open_section(uint8_t *m, size_t off, size_t len, int enc,
                        const mef3_keys *keys) {
  if (enc <= 0)
    return 1; /* plain ("specified, now decrypted" values are <= 0 too) */
  if (enc > 2 || !keys || keys->access_level < enc)
    return 0;
  const uint8_t *key = enc == 1 ? keys->level_1 : keys->level_2;
  return mef3__aes_ecb(key, 0, m + off, len) == 0;
}

int mef3_metadata_parse(mef3_metadata *out, mef3_universal_header *uh_out,
                        const uint8_t *buf, size_t len, const mef3_keys *keys,
                        const char *path) {
  mef3_universal_header uh;
  memset(out, 0, sizeof *out);
  int rc = mef3_uh_parse(&uh, buf, len, "tmet", path);
  if (rc)
    return rc;
  if (len != MEF3_METADATA_BYTES)
    return mef3__error_at(MEF3_ECORRUPT, path,
                          len < MEF3_METADATA_BYTES ? len : MEF3_METADATA_BYTES,
                          "metadata file is %zu bytes, expected 16384", len);
  if (uh.body_crc != 0 &&
      mef3_crc32(buf + MEF3_UH_BYTES, len - MEF3_UH_BYTES) != uh.body_crc)
    return mef3__error_at(MEF3_ECRC, path, MEF3_UH_BYTES,
                          "metadata body CRC mismatch");
  if (uh_out)
    *uh_out = uh;

  uint8_t m[MEF3_METADATA_BYTES];
  memcpy(m, buf, sizeof m);
  out->section_2_encryption = (int8_t)m[1024];
  out->section_3_encryption = (int8_t)m[1025];
  out->section_2_available =
      open_section(m, MEF3_METADATA_S2_OFFSET, MEF3_METADATA_S2_BYTES,
                   out->section_2_encryption, keys);
  out->section_3_available =
      open_section(m, MEF3_METADATA_S3_OFFSET, MEF3_METADATA_S3_BYTES,
                   out->section_3_encryption, keys);

  if (out->section_2_available) {
    ld_str(out->channel_description, 2048, m + 2560, 2048);
    ld_str(out->session_description, 2048, m + 4608, 2048);
    out->recording_duration = ld_i64(m + 6656);
    ld_str(out->reference_description, 2048, m + 6664, 2048);
    out->acquisition_channel_number = ld_i64(m + 8712);
    out->sampling_frequency = ld_f64(m + 8720);
    out->low_frequency_filter_setting = ld_f64(m + 8728);
    out->high_frequency_filter_setting = ld_f64(m + 8736);
    out->notch_filter_frequency_setting = ld_f64(m + 8744);
    out->ac_line_frequency = ld_f64(m + 8752);
    out->units_conversion_factor = ld_f64(m + 8760);
    ld_str(out->units_description, 128, m + 8768, 128);
    out->maximum_native_sample_value = ld_f64(m + 8896);
    out->minimum_native_sample_value = ld_f64(m + 8904);
    out->start_sample = ld_i64(m + 8912);
    out->number_of_samples = ld_i64(m + 8920);
    out->number_of_blocks = ld_i64(m + 8928);
    out->maximum_block_bytes = ld_i64(m + 8936);
    out->maximum_block_samples = ld_u32(m + 8944);
    out->maximum_difference_bytes = ld_u32(m + 8948);
    out->block_interval = ld_i64(m + 8952);
    out->number_of_discontinuities = ld_i64(m + 8960);
    out->maximum_contiguous_blocks = ld_i64(m + 8968);
    out->maximum_contiguous_block_bytes = ld_i64(m + 8976);
    out->maximum_contiguous_samples = ld_i64(m + 8984);
  }
  if (out->section_3_available) {
    out->recording_time_offset = ld_i64(m + 13312);
    out->dst_start_time = ld_i64(m + 13320);
    out->dst_end_time = ld_i64(m + 13328);
    out->gmt_offset = ld_i32(m + 13336);
    ld_str(out->subject_name_1, 128, m + 13340, 128);
    ld_str(out->subject_name_2, 128, m + 13468, 128);
    ld_str(out->subject_id, 128, m + 13596, 128);
    ld_str(out->recording_location, 512, m + 13724, 512);
  } else {
    out->recording_time_offset = MEF3_UUTC_NO_ENTRY;
    out->dst_start_time = out->dst_end_time = MEF3_UUTC_NO_ENTRY;
  }
  return 0;
}
