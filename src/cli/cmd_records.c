/*
 * cli/cmd_records.c - `mef3pool records`: the annotations of a session at
 * session, channel and segment level, ordered by time.
 *
 * A record that cannot be decoded is listed with its type, time and raw
 * body (hex) and named in a warning on stderr (file, index, offset); the
 * others are listed as usual and the command succeeds: one bad record
 * must not hide the rest.
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

static const char records_usage[] =
    "usage: mef3pool records SESSION [--password P | --password-file F] "
    "[--json]\n\n"
    "List the records (annotations: Note, Seiz, EDFA, SyLg, ...) of a MEF\n"
    "3.0 session at every level, ordered by time (µUTC), with their text and,\n"
    "where the type has one, their duration (µs).  Records of unknown types\n"
    "are listed with their type, time and body size.  A record that cannot\n"
    "be decoded (bad CRC, a body too short for its type, cut off by the end\n"
    "of the file) is listed as \"undecodable\" with its raw body in hex, and "
    "a\n"
    "warning on stderr names its file, index and byte offset; the others are\n"
    "still listed and the exit status is 0.\n\n" CLI_PASSWORD_HELP;

/* Bytes of an undecodable body shown in the text listing (--json has all). */
#define TEXT_HEX_BYTES 64

static const char *level_name(mef3_record_level l) {
  return l == MEF3_LEVEL_SESSION   ? "session"
         : l == MEF3_LEVEL_CHANNEL ? "channel"
                                   : "segment";
}

/* The type as printable ASCII: a damaged header's bytes become '?'. */
static void type_text(const char *type, char out[5]) {
  size_t i = 0;
  for (; i < 4 && type[i]; i++)
    out[i] = type[i] > 0x20 && type[i] < 0x7f ? type[i] : '?';
  out[i] = '\0';
  if (!i)
    memcpy(out, "?", 2);
}

static void put_hex(FILE *f, const uint8_t *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    fprintf(f, "%02x", b[i]);
}

static void print_json(const mef3_record *x, int first) {
  char type[5];
  type_text(x->type, type);
  printf("%s{\"type\":", first ? "" : ",");
  cli_json_string(stdout, type);
  if (x->time == MEF3_UUTC_NO_ENTRY)
    printf(",\"time\":null");
  else
    printf(",\"time\":%" PRId64, x->time);
  printf(",\"level\":\"%s\",\"channel\":", level_name(x->level));
  cli_json_string(stdout, x->channel);
  printf(",\"segment\":%d,\"available\":%s,\"body_bytes\":%u", x->segment,
         x->available ? "true" : "false", x->body_bytes);
  if (x->undecodable) {
    printf(",\"undecodable\":true,\"problem\":");
    cli_json_string(stdout, x->problem);
    printf(",\"index\":%" PRId64 ",\"offset\":%" PRId64 ",\"body_hex\":\"",
           x->index, x->offset);
    put_hex(stdout, x->body, x->body ? x->body_bytes : 0);
    printf("\"}");
    return;
  }
  if (x->text) {
    printf(",\"text\":");
    cli_json_string(stdout, x->text);
  }
  if (x->has_duration)
    printf(",\"duration\":%" PRId64, x->duration);
  if (!strcmp(x->type, "Seiz")) {
    if (x->has_duration)
      printf(",\"end_time\":%" PRId64 ",\"onset_code\":%d", x->end_time,
             x->onset_code);
    printf(",\"number_of_channels\":%d", x->number_of_channels);
  }
  printf("}");
}

static void print_text(const mef3_record *x) {
  char type[5];
  type_text(x->type, type);
  if (x->time == MEF3_UUTC_NO_ENTRY)
    printf("%-16s", "-");
  else
    printf("%" PRId64, x->time);
  printf("  %-4s  %-7s %-12s ", type, level_name(x->level),
         x->channel[0] ? x->channel : "-");
  if (x->undecodable && x->index < 0) {
    printf("(records file cannot be read)\n");
    return;
  }
  if (x->undecodable) {
    size_t shown =
        x->body_bytes < TEXT_HEX_BYTES ? x->body_bytes : TEXT_HEX_BYTES;
    printf("(undecodable, %u bytes) ", x->body_bytes);
    put_hex(stdout, x->body, x->body ? shown : 0);
    printf("%s\n", shown < x->body_bytes ? "..." : "");
    return;
  }
  if (!x->available) {
    printf("(encrypted)\n");
    return;
  }
  if (x->has_duration)
    printf("(duration %" PRId64 " µs) ", x->duration);
  printf("%s\n", x->text ? x->text : "");
}

int mef3_cli_records(int argc, char **argv) {
  const char *path, *password;
  int json;
  int ex = cli_session_args(argc, argv, "records", records_usage, &path,
                            &password, &json);
  if (ex >= 0)
    return ex;
  mef3_reader *r = cli_open_session(path, password);
  if (!r)
    return CLI_FAIL;
  mef3_record *recs;
  size_t n;
  int rc = mef3_reader_records(&recs, &n, r, 0);
  if (rc) {
    mef3_reader_close(r);
    return cli_lib_fail(rc, "cannot read records");
  }
  for (size_t i = 0; i < n; i++)
    if (recs[i].undecodable)
      fprintf(stderr, "mef3pool: warning: %s\n", recs[i].problem);
  if (json)
    printf("[");
  for (size_t i = 0; i < n; i++) {
    if (json)
      print_json(&recs[i], i == 0);
    else
      print_text(&recs[i]);
  }
  if (json)
    printf("]\n");
  else if (n == 0)
    printf("no records\n");
  mef3_records_free(recs, n);
  mef3_reader_close(r);
  return CLI_OK;
}
