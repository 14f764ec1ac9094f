/*
 * writer/writer_header.c - what every file of a writer has in common:
 * the UUIDs and the universal header it starts with.
 *
 * Each file carries the session's and its channel's names, the level
 * UUID shared by the files of its level, the password validation fields
 * and its own file UUID, which is also its provenance UUID (these files
 * are their own origin).  The file UUID is set here and nowhere else.
 * UUIDs are random, or drawn from a seeded generator when the options
 * give a seed, so that the same calls write the same bytes.  Lowest
 * layer of the writer after writer_files.c: it uses only the writer's
 * fields.  Runs on the caller's thread.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "util/error.h"
#include "writer/writer_impl.h"

static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int mef3__writer_uuid(mef3_writer *w, uint8_t out[16]) {
  if (w->uuid_state) {
    uint64_t a = splitmix64(&w->uuid_state), b = splitmix64(&w->uuid_state);
    memcpy(out, &a, 8);
    memcpy(out + 8, &b, 8);
    return 0;
  }
  size_t got = 0;
  while (got < 16) {
    ssize_t k = getrandom(out + got, 16 - got, 0);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      return mef3__error(MEF3_EIO, "getrandom: %s", strerror(errno));
    }
    got += (size_t)k;
  }
  return 0;
}

int mef3__writer_file_header(mef3_writer *w, mef3_universal_header *uh,
                             const char *type, int32_t segment,
                             const char *channel, const uint8_t level[16],
                             const uint8_t *file_uuid) {
  memset(uh, 0, sizeof *uh);
  memcpy(uh->file_type, type, 4);
  uh->version_major = 3;
  uh->version_minor = 0;
  uh->byte_order = 1;
  uh->start_time = uh->end_time = MEF3_UUTC_NO_ENTRY;
  uh->number_of_entries = 0;
  uh->maximum_entry_size = -1;
  uh->segment_number = segment;
  snprintf(uh->channel_name, sizeof uh->channel_name, "%s",
           channel ? channel : "");
  snprintf(uh->session_name, sizeof uh->session_name, "%s", w->session_name);
  snprintf(uh->anonymized_name, sizeof uh->anonymized_name, "%s",
           w->opts.anonymized_name ? w->opts.anonymized_name : "");
  memcpy(uh->level_uuid, level, 16);
  memcpy(uh->level_1_password_validation, w->pv1, 16);
  memcpy(uh->level_2_password_validation, w->pv2, 16);
  int rc = 0;
  if (file_uuid)
    memcpy(uh->file_uuid, file_uuid, 16);
  else
    rc = mef3__writer_uuid(w, uh->file_uuid);
  memcpy(uh->provenance_uuid, uh->file_uuid, 16);
  return rc;
}
