/*
 * cli/cmd_info.c - `mef3pool info`: what a session holds, as text for
 * people or JSON for scripts.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char info_usage[] =
    "usage: mef3pool info SESSION [--password P | --password-file F] "
    "[--json]\n\n"
    "Show the channels of a MEF 3.0 session (.mefd), channel (.timd) or\n"
    "session packed as an uncompressed tar (.mefd.tar, read in place):\n"
    "sampling rates, time spans, sample and block counts, segments, gaps,\n"
    "encryption state and units; the session's and channels' descriptions,\n"
    "subject and place (metadata section 3, when the password opens it),\n"
    "references and filter settings.  Times are µUTC; with a level-1 password\n"
    "they are relative (the recording time offset is in section "
    "3).\n\n" CLI_PASSWORD_HELP;

/* A time for people: ISO 8601 UTC, "+S s (relative)" when the recording
 * time offset is unknown, and never the "no entry" value as a date. */
static void fmt_time(char *buf, size_t len, int64_t uutc, int relative) {
  if (uutc == MEF3_UUTC_NO_ENTRY) {
    snprintf(buf, len, "no entry");
    return;
  }
  if (relative) {
    snprintf(buf, len, "+%.6f s (relative)", (double)uutc / 1e6);
    return;
  }
  time_t s = (time_t)(uutc / 1000000);
  long us = (long)(uutc % 1000000);
  if (us < 0) {
    us += 1000000;
    s--;
  }
  struct tm tm;
  if (!gmtime_r(&s, &tm) || tm.tm_year < -1900 || tm.tm_year > 8099) {
    snprintf(buf, len, "%" PRId64 " (not a date)", uutc);
    return;
  }
  size_t k = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + k, len - k, ".%06ldZ", us);
}

static const char *enc_name(int level) {
  return level > 0 ? (level == 1 ? "level 1" : "level 2") : "none";
}

/* One gap: no sample in [start, end). */
typedef struct gap {
  int64_t start, end;
} gap;

/*
 * The gaps of channel `c`: where one contiguous run ends and the next
 * starts later.  A run also breaks at a discontinuity flag or a segment
 * boundary with no time jump; that is not a gap.  Block times are whole
 * microseconds and some writers truncate per-block increments, so a jump
 * of up to 1 µs (or 1% of a sample period, if more) is not a gap either;
 * 2.3 ms at 250 Hz (under one period) is.  Returns the count; *out is
 * malloc'd (NULL when there are none or on failure: count 0).
 */
static size_t channel_gaps(const mef3_reader *r, size_t c, gap **out) {
  const mef3_channel_info *ci = mef3_reader_channel(r, c);
  const mef3_contiguon *k;
  size_t nk, n = 0;
  *out = NULL;
  if (mef3_reader_contigua(&k, &nk, r, c) || nk < 2)
    return 0;
  gap *g = malloc((nk - 1) * sizeof *g);
  if (!g)
    return 0;
  double tol = 1e4 / ci->fs > 1.0 ? 1e4 / ci->fs : 1.0;
  for (size_t i = 1; i < nk; i++)
    if ((double)(k[i].start_uutc - k[i - 1].end_uutc) > tol)
      g[n++] = (gap){k[i - 1].end_uutc, k[i].start_uutc};
  if (!n)
    free(g);
  else
    *out = g;
  return n;
}

/* A filter or line frequency: MEF's "no entry" is -1 (any negative). */
static void json_setting(double hz) {
  if (hz < 0)
    printf("null");
  else
    printf("%.17g", hz);
}

/*
 * What describes the session as a whole, from channel 0's metadata (every
 * channel of a session carries the same): its description (section 2),
 * and the subject and place (section 3: null when the password does not
 * open it, so nothing of it is shown to a level-1 holder).
 */
static void print_json_session(const mef3_reader *r) {
  const mef3_metadata *md = mef3_reader_channel(r, 0)->metadata;
  printf(",\"session_description\":");
  cli_json_string(stdout, md->session_description);
  printf(",\"subject\":");
  if (!md->section_3_available) {
    printf("null");
    return;
  }
  printf("{\"name_1\":");
  cli_json_string(stdout, md->subject_name_1);
  printf(",\"name_2\":");
  cli_json_string(stdout, md->subject_name_2);
  printf(",\"id\":");
  cli_json_string(stdout, md->subject_id);
  printf(",\"recording_location\":");
  cli_json_string(stdout, md->recording_location);
  printf("}");
}

static void print_json(mef3_reader *r) {
  printf("{\"path\":");
  cli_json_string(stdout, mef3_reader_path(r));
  printf(",\"session\":");
  cli_json_string(stdout, mef3_reader_session_name(r));
  printf(",\"access_level\":%d", mef3_reader_access_level(r));
  print_json_session(r);
  printf(",\"channels\":[");
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
    printf(",\"reference_description\":");
    cli_json_string(stdout, md->reference_description);
    printf(",\"acquisition_channel_number\":%" PRId64,
           md->acquisition_channel_number);
    printf(",\"filters\":{\"low\":");
    json_setting(md->low_frequency_filter_setting);
    printf(",\"high\":");
    json_setting(md->high_frequency_filter_setting);
    printf(",\"notch\":");
    json_setting(md->notch_filter_frequency_setting);
    printf(",\"ac_line\":");
    json_setting(md->ac_line_frequency);
    printf("}");
    if (md->section_3_available)
      printf(",\"recording_time_offset\":%" PRId64 ",\"gmt_offset\":%d",
             md->recording_time_offset, md->gmt_offset);
    const mef3_contiguon *k;
    size_t nk;
    mef3_reader_contigua(&k, &nk, r, c);
    printf(",\"contigua\":[");
    for (size_t i = 0; i < nk; i++)
      printf("%s{\"start_uutc\":%" PRId64 ",\"end_uutc\":%" PRId64
             ",\"start_sample\":%" PRId64 ",\"end_sample\":%" PRId64 "}",
             i ? "," : "", k[i].start_uutc, k[i].end_uutc, k[i].start_sample,
             k[i].end_sample);
    gap *gp;
    size_t ng = channel_gaps(r, c, &gp);
    printf("],\"gaps\":[");
    for (size_t i = 0; i < ng; i++)
      printf("%s{\"start_uutc\":%" PRId64 ",\"end_uutc\":%" PRId64
             ",\"duration_s\":%.6f}",
             i ? "," : "", gp[i].start, gp[i].end,
             (double)(gp[i].end - gp[i].start) / 1e6);
    free(gp);
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

static void print_gap_list(const gap *g, size_t n, int relative) {
  for (size_t i = 0; i < n; i++) {
    char a[64], b[64];
    fmt_time(a, sizeof a, g[i].start, relative);
    fmt_time(b, sizeof b, g[i].end, relative);
    printf("  %-27s  %-27s  %12.6f s\n", a, b,
           (double)(g[i].end - g[i].start) / 1e6);
  }
}

/* Each gap (start, end, duration): once when every channel has the same,
 * else for each run of channels that share a list. */
static void print_gaps(const mef3_reader *r) {
  size_t n = mef3_reader_channel_count(r);
  gap **all = calloc(n, sizeof *all);
  size_t *cnt = calloc(n, sizeof *cnt);
  if (!all || !cnt) {
    free(all);
    free(cnt);
    return;
  }
  int same = 1;
  for (size_t c = 0; c < n; c++) {
    cnt[c] = channel_gaps(r, c, &all[c]);
    same &= cnt[c] == cnt[0] &&
            (!cnt[c] || !memcmp(all[c], all[0], cnt[c] * sizeof **all));
  }
  int rel = mef3_reader_channel(r, 0)->times_relative;
  if (same && !cnt[0]) {
    printf("\ngaps: none\n");
  } else if (same) {
    printf("\ngaps: %zu in every channel (start, end, duration)\n", cnt[0]);
    print_gap_list(all[0], cnt[0], rel);
  } else {
    printf("\ngaps (start, end, duration):\n");
    for (size_t c = 0; c < n;) {
      size_t e = c + 1;
      while (e < n && cnt[e] == cnt[c] &&
             (!cnt[c] || !memcmp(all[e], all[c], cnt[c] * sizeof **all)))
        e++;
      const mef3_channel_info *ci = mef3_reader_channel(r, c);
      if (e == c + 1)
        printf(" %s: %zu\n", ci->name, cnt[c]);
      else
        printf(" %s to %s: %zu\n", ci->name,
               mef3_reader_channel(r, e - 1)->name, cnt[c]);
      print_gap_list(all[c], cnt[c], ci->times_relative);
      c = e;
    }
  }
  for (size_t c = 0; c < n; c++)
    free(all[c]);
  free(all);
  free(cnt);
}

static int same_encryption(const mef3_channel_info *a,
                           const mef3_channel_info *b) {
  return a->section_2_encryption == b->section_2_encryption &&
         a->section_3_encryption == b->section_3_encryption &&
         a->data_encryption == b->data_encryption;
}

static void print_encryption(const mef3_reader *r) {
  size_t n = mef3_reader_channel_count(r);
  const mef3_channel_info *c0 = mef3_reader_channel(r, 0);
  size_t c = 1;
  while (c < n && same_encryption(c0, mef3_reader_channel(r, c)))
    c++;
  if (c == n) {
    printf("\nencryption: metadata section 2 %s, section 3 %s; data %s\n",
           enc_name(c0->section_2_encryption),
           enc_name(c0->section_3_encryption), enc_name(c0->data_encryption));
    return;
  }
  /* It differs between channels: say it for each. */
  printf("\nencryption (per channel):\n");
  for (c = 0; c < n; c++) {
    const mef3_channel_info *ci = mef3_reader_channel(r, c);
    printf("  %-16s metadata section 2 %s, section 3 %s; data %s\n", ci->name,
           enc_name(ci->section_2_encryption),
           enc_name(ci->section_3_encryption), enc_name(ci->data_encryption));
  }
}

/* A setting for people: "-" for MEF's "no entry" (negative). */
static void fmt_setting(char *buf, size_t len, double hz) {
  if (hz < 0)
    snprintf(buf, len, "-");
  else
    snprintf(buf, len, "%g", hz);
}

static const char *or_dash(const char *s) {
  return s[0] ? s : "-";
}

/*
 * The descriptive metadata: the session's description, subject and place
 * (section 3, shown only when the password opens it), then per channel
 * its acquisition number, reference, filters and description.
 */
static void print_description(const mef3_reader *r) {
  const mef3_metadata *md0 = mef3_reader_channel(r, 0)->metadata;
  printf("\ndescription  %s\n", or_dash(md0->session_description));
  if (md0->section_3_available) {
    char who[300];
    snprintf(who, sizeof who, "%s%s%s", md0->subject_name_1,
             md0->subject_name_1[0] && md0->subject_name_2[0] ? " " : "",
             md0->subject_name_2);
    printf("subject      %s (id %s)\n", or_dash(who), or_dash(md0->subject_id));
    printf("location     %s\n", or_dash(md0->recording_location));
  } else {
    printf("subject      (in metadata section 3, which the password does "
           "not open)\n");
  }
  printf("\n%-16s %5s %-12s %8s %8s %8s %7s  %s\n", "channel", "acq",
         "reference", "low (Hz)", "high", "notch", "AC line", "description");
  for (size_t c = 0; c < mef3_reader_channel_count(r); c++) {
    const mef3_channel_info *ci = mef3_reader_channel(r, c);
    const mef3_metadata *md = ci->metadata;
    char lo[32], hi[32], notch[32], ac[32];
    fmt_setting(lo, sizeof lo, md->low_frequency_filter_setting);
    fmt_setting(hi, sizeof hi, md->high_frequency_filter_setting);
    fmt_setting(notch, sizeof notch, md->notch_filter_frequency_setting);
    fmt_setting(ac, sizeof ac, md->ac_line_frequency);
    printf("%-16s %5" PRId64 " %-12s %8s %8s %8s %7s  %s\n", ci->name,
           md->acquisition_channel_number, or_dash(md->reference_description),
           lo, hi, notch, ac, or_dash(md->channel_description));
  }
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
  int relative = 0;
  for (size_t c = 0; c < n; c++) {
    const mef3_channel_info *ci = mef3_reader_channel(r, c);
    char start[64];
    fmt_time(start, sizeof start, ci->start_uutc, ci->times_relative);
    gap *g;
    size_t ng = channel_gaps(r, c, &g);
    free(g);
    int known = ci->start_uutc != MEF3_UUTC_NO_ENTRY &&
                ci->end_uutc != MEF3_UUTC_NO_ENTRY;
    printf("%-16s %10.4f %-27s %12.3f %12" PRId64 " %7zu %4zu %5zu  %s (x%g)\n",
           ci->name, ci->fs, start,
           known ? (double)(ci->end_uutc - ci->start_uutc) / 1e6 : 0.0,
           ci->n_samples, ci->n_blocks, ci->n_segments, ng,
           ci->units_description[0] ? ci->units_description : "-",
           ci->units_conversion_factor);
    relative |= ci->times_relative;
  }
  print_description(r);
  print_gaps(r);
  print_encryption(r);
  if (relative)
    printf("times are relative: the password does not open metadata "
           "section 3\n");
}

int mef3_cli_info(int argc, char **argv) {
  const char *path, *password;
  int json;
  int ex =
      cli_session_args(argc, argv, "info", info_usage, &path, &password, &json);
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
