/*
 * cli/cli_out.h - the output formats of `mef3pool read` and `client read`:
 * choosing one (out_format.c), CSV with time columns (out_csv.c), NumPy
 * .npy arrays (out_npy.c) and .npz archives (out_npz.c) in a zip
 * container of our own (out_zip.c).  Raw binary output is plain fwrite,
 * in the commands.
 *
 * All of it runs on the command's one thread.  Writers return 0, or -1
 * with errno set when the stream failed (the caller names the file).
 */
#ifndef MEF3_CLI_OUT_H
#define MEF3_CLI_OUT_H

#include <stdint.h>
#include <stdio.h>

/* The formats, in the order of their names (out_format.c). */
typedef enum {
  FMT_F32,
  FMT_F64,
  FMT_I32,
  FMT_CSV,
  FMT_NPY,
  FMT_NPZ
} cli_format;

/* "f32", "npz", ... (any case) -> *f; 0, or -1 for no such format. */
int cli_format_parse(const char *s, cli_format *f);
/* The format the extension of `path` names, or a usage error of command
 * `cmd` (its exit code, the message printed) when it names none. */
int cli_format_of_path(const char *cmd, const char *path, cli_format *f);

/* One channel as read: its samples and what they mean. */
typedef struct cli_out_channel {
  const char *name;
  const char *units; /* units description ("uV"), "" if none */
  double fs;
  double units_conversion_factor;
  /* µUTC of sample 0: the window start of a time read, the time of stored
   * sample S0 of a --samples read. */
  int64_t start_uutc;
  /* --samples reads: the µUTC of every sample (stored samples skip the
   * gaps); NULL for time reads, where sample i is at
   * start_uutc + round(i * 1e6 / fs). */
  const int64_t *times;
  const void *data; /* float (csv, npy) or double (npz) */
  size_t n;
} cli_out_channel;

/* CSV: a header line ("time_uutc","time_s", then the channel names), then
 * one row per sample: µUTC, seconds from the first row, one value per
 * channel ("nan" where there is no sample).  The channels share a rate
 * and their sample times (the caller checks); data is float. */
int cli_out_csv(FILE *f, const cli_out_channel *ch, size_t n);

/* .npy: one (n, samples) float32 array; equal lengths (the caller
 * checks). */
int cli_out_npy(FILE *f, const cli_out_channel *ch, size_t n);

/* .npz (data is double): see out_npz.c for the members. */
int cli_out_npz(FILE *f, const cli_out_channel *ch, size_t n);

/* The header of a .npy array (format 1.0) of `descr` ("<f8") and shape
 * (d0,) when ndim is 1 or (d0, d1) when 2, padded to a multiple of 64
 * bytes, into `buf` (256 bytes are enough for any shape); its length. */
size_t cli_npy_header(char *buf, size_t cap, const char *descr, int ndim,
                      uint64_t d0, uint64_t d1);

/* UTF-8 strings as a NumPy '<U' array: `n` rows of *width UTF-32LE code
 * units (zero-padded; at least 1), into a malloc'd *out.  Invalid UTF-8
 * becomes U+FFFD.  0 or -1 (out of memory). */
int cli_npy_strings(const char *const *s, size_t n, uint32_t **out,
                    size_t *width);

/* A piece of a zip member: `len` bytes at `p`. */
typedef struct cli_piece {
  const void *p;
  uint64_t len;
} cli_piece;

typedef struct cli_zip_entry {
  char *name;
  uint64_t offset, size;
  uint32_t crc;
} cli_zip_entry;

/* A zip archive being written to a stream, front to back (no seeking:
 * stdout works), members stored uncompressed. */
typedef struct cli_zip {
  FILE *f;
  uint64_t offset;     /* bytes written */
  uint64_t zip64_from; /* sizes and offsets from here on use zip64 */
  cli_zip_entry *e;
  size_t n, cap;
  uint32_t crc_table[256];
} cli_zip;

/* Start an archive on `f`.  Sizes and offsets of `zip64_from` or more
 * get zip64 records (0xFFFFFFFF: only where the classic fields cannot
 * hold them; tests pass 0 to have them everywhere). */
void cli_zip_init(cli_zip *z, FILE *f, uint64_t zip64_from);
/* Add member `name` whose bytes are the `n` pieces, one after another. */
int cli_zip_add(cli_zip *z, const char *name, const cli_piece *p, size_t n);
/* Write the central directory: the archive is complete. */
int cli_zip_finish(cli_zip *z);
/* Free what the archive holds (after finishing or failing). */
void cli_zip_dispose(cli_zip *z);

#endif
