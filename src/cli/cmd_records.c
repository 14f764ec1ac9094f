/*
 * cli/cmd_records.c - `mef3pool records`: the annotations of a session at
 * session, channel and segment level, ordered by time.
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

static const char records_usage[] =
    "usage: mef3pool records SESSION [--password P | --password-file F] [--json]\n\n"
    "List the records (annotations: Note, Seiz, EDFA, SyLg, ...) of a MEF\n"
    "3.0 session at every level, ordered by time (µUTC).  Records of\n"
    "unknown types are listed with their type, time and body size.\n\n"
    CLI_PASSWORD_HELP;

static const char *level_name(mef3_record_level l) {
  return l == MEF3_LEVEL_SESSION   ? "session"
         : l == MEF3_LEVEL_CHANNEL ? "channel"
                                   : "segment";
}

int mef3_cli_records(int argc, char **argv) {
  const char *path, *password;
  int json;
  int ex = cli_session_args(argc, argv, "records", records_usage, &path, &password,
                            &json);
  if (ex >= 0)
    return ex;
  mef3_reader *r = cli_open_session(path, password);
  if (!r)
    return CLI_FAIL;
  mef3_record *recs;
  size_t n;
  int rc = mef3_reader_records(r, &recs, &n, 1);
  if (rc) {
    mef3_reader_close(r);
    return cli_lib_fail(rc, "cannot read records");
  }
  if (json)
    printf("[");
  for (size_t i = 0; i < n; i++) {
    const mef3_record *x = &recs[i];
    if (json) {
      printf("%s{\"type\":", i ? "," : "");
      cli_json_string(stdout, x->type);
      printf(",\"time\":%" PRId64 ",\"level\":\"%s\",\"channel\":", x->time,
             level_name(x->level));
      cli_json_string(stdout, x->channel);
      printf(",\"segment\":%d,\"available\":%s,\"body_bytes\":%u", x->segment,
             x->available ? "true" : "false", x->body_bytes);
      if (x->text) {
        printf(",\"text\":");
        cli_json_string(stdout, x->text);
      }
      if (x->duration)
        printf(",\"duration\":%" PRId64, x->duration);
      if (!strcmp(x->type, "Seiz"))
        printf(",\"end_time\":%" PRId64 ",\"onset_code\":%d"
               ",\"number_of_channels\":%d",
               x->end_time, x->onset_code, x->number_of_channels);
      printf("}");
    } else {
      printf("%" PRId64 "  %-4s  %-7s %-12s %s\n", x->time, x->type,
             level_name(x->level), x->channel[0] ? x->channel : "-",
             !x->available ? "(encrypted)"
             : x->text     ? x->text
                           : "");
    }
  }
  if (json)
    printf("]\n");
  else if (n == 0)
    printf("no records\n");
  mef3_records_free(recs, n);
  mef3_reader_close(r);
  return CLI_OK;
}
