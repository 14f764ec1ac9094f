/*
 * cli/cmd_info.c - `mef3pool info`: what a session holds, as text for
 * people or JSON for scripts.
 */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char info_usage[] =
    "usage: mef3pool info SESSION [--password P] [--json]\n\n"
    "Show the channels of a MEF 3.0 session (.mefd), channel (.timd) or\n"
    "session packed as an uncompressed tar (.mefd.tar, read in place):\n"
    "sampling rates, time spans, sample and block counts, segments, gaps,\n"
    "encryption state and units.  Times are µUTC; with a level-1 password\n"
    "they are relative (the recording time offset is in section 3).\n";

static void iso_time(char *buf, size_t len, int64_t uutc) {
  time_t s = (time_t)(uutc / 1000000);
  long us = (long)(uutc % 1000000);
  if (us < 0) {
    us += 1000000;
    s--;
  }
  struct tm tm;
  if (!gmtime_r(&s, &tm)) {
    snprintf(buf, len, "?");
    return;
  }
  size_t k = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + k, len - k, ".%06ldZ", us);
}

static const char *enc_name(int level) {
  return level > 0 ? (level == 1 ? "level 1" : "level 2") : "none";
}

static void print_json(mef3_reader *r) {
  printf("{\"path\":");
  cli_json_string(stdout, mef3_reader_path(r));
  printf(",\"session\":");
  cli_json_string(stdout, mef3_reader_session_name(r));
  printf(",\"access_level\":%d,\"channels\":[", mef3_reader_access_level(r));
  for (size_t c = 0; c < mef3_reader_channel_count(r); c++) {
    const mef3_channel_info *ci = mef3_reader_channel(r, c);
    const mef3_metadata *md = ci->metadata;
    printf("%s{\"name\":", c ? "," : "");
    cli_json_string(stdout, ci->name);
    printf(",\"fs\":%.17g,\"start_uutc\":%" PRId64 ",\"end_uutc\":%" PRId64
           ",\"duration_s\":%.6f,\"n_samples\":%" PRId64
           ",\"n_blocks\":%zu,\"n_segments\":%zu,\"times_relative\":%s",
           ci->fs, ci->start_uutc, ci->end_uutc,
           (double)(ci->end_uutc - ci->start_uutc) / 1e6, ci->n_samples,
           ci->n_blocks, ci->n_segments, ci->times_relative ? "true" : "false");
    printf(",\"units\":");
    cli_json_string(stdout, ci->units_description);
    printf(",\"units_conversion_factor\":%.17g", ci->units_conversion_factor);
    printf(",\"encryption\":{\"section_2\":%d,\"section_3\":%d,\"data\":%d}",
           ci->section_2_encryption, ci->section_3_encryption,
           ci->data_encryption);
    printf(",\"channel_description\":");
    cli_json_string(stdout, md->channel_description);
    printf(",\"acquisition_channel_number\":%" PRId64,
           md->acquisition_channel_number);
    printf(",\"filters\":{\"low\":%.17g,\"high\":%.17g,\"notch\":%.17g,"
           "\"ac_line\":%.17g}",
           md->low_frequency_filter_setting, md->high_frequency_filter_setting,
           md->notch_filter_frequency_setting, md->ac_line_frequency);
    if (md->section_3_available)
      printf(",\"recording_time_offset\":%" PRId64 ",\"gmt_offset\":%d",
             md->recording_time_offset, md->gmt_offset);
    const mef3_contiguon *k;
    size_t nk;
    mef3_reader_contigua(r, c, &k, &nk);
    printf(",\"contigua\":[");
    for (size_t i = 0; i < nk; i++)
      printf("%s{\"start_uutc\":%" PRId64 ",\"end_uutc\":%" PRId64
             ",\"start_sample\":%" PRId64 ",\"end_sample\":%" PRId64 "}",
             i ? "," : "", k[i].start_uutc, k[i].end_uutc, k[i].start_sample,
             k[i].end_sample);
    printf("],\"segments\":[");
    for (size_t s = 0; s < ci->n_segments; s++) {
      const mef3_segment_info *g = mef3_reader_segment(r, c, s);
      printf("%s{\"start_uutc\":%" PRId64 ",\"end_uutc\":%" PRId64
             ",\"start_sample\":%" PRId64 ",\"n_samples\":%" PRId64
             ",\"n_blocks\":%zu}",
             s ? "," : "", g->start_uutc, g->end_uutc, g->start_sample,
             g->n_samples, g->n_blocks);
    }
    printf("]}");
  }
  printf("]}\n");
}

static void print_text(mef3_reader *r) {
  size_t n = mef3_reader_channel_count(r);
  printf("session   %s (%s)\n", mef3_reader_session_name(r),
         mef3_reader_path(r));
  printf("access    level %d\n", mef3_reader_access_level(r));
  printf("channels  %zu\n\n", n);
  printf("%-16s %10s %-27s %12s %12s %7s %4s %5s  %s\n", "channel", "fs (Hz)",
         "start (UTC)", "duration (s)", "samples", "blocks", "segs", "gaps",
         "units");
  for (size_t c = 0; c < n; c++) {
    const mef3_channel_info *ci = mef3_reader_channel(r, c);
    char start[64];
    if (ci->times_relative)
      snprintf(start, sizeof start, "+%.6f s (relative)",
               (double)ci->start_uutc / 1e6);
    else
      iso_time(start, sizeof start, ci->start_uutc);
    printf("%-16s %10.4f %-27s %12.3f %12" PRId64 " %7zu %4zu %5zu  %s (x%g)\n",
           ci->name, ci->fs, start,
           (double)(ci->end_uutc - ci->start_uutc) / 1e6, ci->n_samples,
           ci->n_blocks, ci->n_segments,
           ci->n_contigua ? ci->n_contigua - 1 : 0,
           ci->units_description[0] ? ci->units_description : "-",
           ci->units_conversion_factor);
  }
  const mef3_channel_info *c0 = mef3_reader_channel(r, 0);
  printf("\nencryption: metadata section 2 %s, section 3 %s; data %s\n",
         enc_name(c0->section_2_encryption), enc_name(c0->section_3_encryption),
         enc_name(c0->data_encryption));
  if (c0->times_relative)
    printf("times are relative: the password does not open metadata "
           "section 3\n");
}

int mef3_cli_info(int argc, char **argv) {
  const char *path, *password;
  int json;
  int ex = cli_session_args(argc, argv, "info", info_usage, &path, &password,
                            &json);
  if (ex >= 0)
    return ex;
  mef3_reader *r = cli_open_session(path, password);
  if (!r)
    return CLI_FAIL;
  if (json)
    print_json(r);
  else
    print_text(r);
  mef3_reader_close(r);
  return CLI_OK;
}
