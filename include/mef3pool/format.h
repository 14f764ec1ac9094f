/*
 * mef3pool/format.h - the MEF 3.0 on-disk structures, parsed.
 *
 * These functions turn byte buffers into plain structs and back; they do
 * no I/O.  Every parser validates sizes, offsets and CRCs against the
 * length it is given and names `path` (may be NULL) and the byte offset in
 * the error it sets, so they are safe on hostile input (they are the
 * targets of the fuzzers in fuzz/).
 *
 * Times in these structs are as stored on disk: a negative time has had
 * the recording time offset applied (see mef3_time_to_uutc()).
 */
#ifndef MEF3POOL_FORMAT_H
#define MEF3POOL_FORMAT_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MEF3_UH_BYTES 1024
#define MEF3_METADATA_BYTES 16384
#define MEF3_METADATA_S2_OFFSET 2560
#define MEF3_METADATA_S2_BYTES 10752
#define MEF3_METADATA_S3_OFFSET 13312
#define MEF3_METADATA_S3_BYTES 3072
#define MEF3_INDEX_BYTES 56
#define MEF3_RED_HEADER_BYTES 304
#define MEF3_RED_STATS_OFFSET 48
#define MEF3_RED_STATS_BYTES 256
#define MEF3_RECORD_HEADER_BYTES 24
#define MEF3_RECORD_INDEX_BYTES 24
#define MEF3_PASSWORD_BYTES 16
#define MEF3_PAD_BYTE 0x7e

/* RED block flags. */
#define MEF3_RED_DISCONTINUITY 0x01
#define MEF3_RED_LEVEL_1 0x02
#define MEF3_RED_LEVEL_2 0x04

/* Encryption level values of metadata sections and records. */
#define MEF3_ENC_NONE 0
#define MEF3_ENC_LEVEL_1 1
#define MEF3_ENC_LEVEL_2 2

/* Segment numbers of the universal header for the upper levels. */
#define MEF3_SEGMENT_CHANNEL_LEVEL (-2)
#define MEF3_SEGMENT_SESSION_LEVEL (-3)

/* The 1024-byte header that starts every MEF 3.0 file. */
typedef struct mef3_universal_header {
  uint32_t header_crc; /* CRC of bytes 4..1023; 0 = no entry */
  uint32_t body_crc;   /* CRC of everything after the header; 0 = no entry */
  char file_type[5];   /* "tmet", "tidx", "tdat", "rdat", "ridx", ... */
  uint8_t version_major, version_minor;
  uint8_t byte_order; /* 1 = little-endian */
  int64_t start_time, end_time;
  int64_t number_of_entries;
  int64_t maximum_entry_size;
  int32_t segment_number;
  char channel_name[256];
  char session_name[256];
  char anonymized_name[256];
  uint8_t level_uuid[16];
  uint8_t file_uuid[16];
  uint8_t provenance_uuid[16];
  uint8_t level_1_password_validation[16];
  uint8_t level_2_password_validation[16];
} mef3_universal_header;

/*
 * Parse and validate a universal header from `len` bytes at `buf`.
 * Checks the size, the byte order (big-endian is MEF3_EUNSUPPORTED), the
 * MEF version (3.x), the file type when `expect_type` is not NULL, and the
 * header CRC when it is not 0.
 * Returns 0, MEF3_ECORRUPT, MEF3_ECRC or MEF3_EUNSUPPORTED.
 */
MEF3_EXTERN int mef3_uh_parse(mef3_universal_header *out, const uint8_t *buf,
                              size_t len, const char *expect_type,
                              const char *path);

/* Serialize `uh` into 1024 bytes at `buf`, computing the header CRC
 * (body_crc is written as given). */
MEF3_EXTERN void mef3_uh_write(uint8_t *buf, const mef3_universal_header *uh);

/*
 * Encryption keys of one session: what a password opened.
 * access_level 0: none, 1: level-1 key valid, 2: both keys valid.
 */
typedef struct mef3_keys {
  int access_level;
  uint8_t level_1[MEF3_PASSWORD_BYTES];
  uint8_t level_2[MEF3_PASSWORD_BYTES];
} mef3_keys;

/*
 * The 16 key bytes of a UTF-8 password: the low byte of each character's
 * code point (as meflib does; for ASCII this is the character itself),
 * NUL-terminated and zero-padded.  More than 15 characters or invalid
 * UTF-8 is MEF3_EINVAL.
 */
MEF3_EXTERN int mef3_password_bytes(uint8_t out[MEF3_PASSWORD_BYTES],
                                    const char *password);

/*
 * Check `password` against the validation fields of a universal header and
 * fill `out`.  A NULL or empty password, or any password for a file with
 * no validation field (nothing encrypted), gives access level 0 and
 * returns 0.  A password that matches neither level is MEF3_EPASSWORD.
 */
MEF3_EXTERN int mef3_keys_from_password(mef3_keys *out, const char *password,
                                        const mef3_universal_header *uh);

/*
 * Make the two validation fields for writing: level 1 from `level_1`,
 * level 2 from `level_2` (may be NULL: field zeroed) and fill `keys`.
 */
MEF3_EXTERN int mef3_keys_for_writing(mef3_keys *keys, uint8_t l1_field[16],
                                      uint8_t l2_field[16], const char *level_1,
                                      const char *level_2);

/* Time-series metadata (.tmet), all three sections. */
typedef struct mef3_metadata {
  /* section 1 */
  int8_t section_2_encryption; /* as on disk: >0 encrypted, <=0 plain */
  int8_t section_3_encryption;
  int section_2_available; /* 1 when the fields of section 2 are valid */
  int section_3_available; /* 1 when the fields of section 3 are valid */
  /* section 2 (time series) */
  char channel_description[2048];
  char session_description[2048];
  int64_t recording_duration;
  char reference_description[2048];
  int64_t acquisition_channel_number;
  double sampling_frequency;
  double low_frequency_filter_setting;
  double high_frequency_filter_setting;
  double notch_filter_frequency_setting;
  double ac_line_frequency;
  double units_conversion_factor;
  char units_description[128];
  double maximum_native_sample_value;
  double minimum_native_sample_value;
  int64_t start_sample;
  int64_t number_of_samples;
  int64_t number_of_blocks;
  int64_t maximum_block_bytes;
  uint32_t maximum_block_samples;
  uint32_t maximum_difference_bytes;
  int64_t block_interval;
  int64_t number_of_discontinuities;
  int64_t maximum_contiguous_blocks;
  int64_t maximum_contiguous_block_bytes;
  int64_t maximum_contiguous_samples;
  /* section 3 */
  int64_t recording_time_offset;
  int64_t dst_start_time;
  int64_t dst_end_time;
  int32_t gmt_offset;
  char subject_name_1[128];
  char subject_name_2[128];
  char subject_id[128];
  char recording_location[512];
} mef3_metadata;

/*
 * Parse a whole .tmet file (universal header included, `len` bytes).
 * Sections encrypted at a level `keys` opens are decrypted into `out`
 * (the input is not modified); others are marked unavailable.  Checks the
 * universal header and the body CRC.
 */
MEF3_EXTERN int mef3_metadata_parse(mef3_metadata *out,
                                    mef3_universal_header *uh_out,
                                    const uint8_t *buf, size_t len,
                                    const mef3_keys *keys, const char *path);

/* One entry of a time-series index (.tidx). */
typedef struct mef3_index_entry {
  int64_t file_offset;
  int64_t start_time;   /* on disk */
  int64_t start_sample; /* within the segment */
  uint32_t number_of_samples;
  uint32_t block_bytes;
  int32_t maximum_sample_value;
  int32_t minimum_sample_value;
  uint8_t flags;
} mef3_index_entry;

/*
 * Parse the entries of a whole .tidx file.  `out` receives an array the
 * caller frees with mef3_free (free() when no allocator hook is set),
 * `*n` its length.  Checks the header, the body
 * CRC, that the body is a multiple of 56 bytes, the number of entries, and
 * that every entry's byte range lies inside [1024, tdat_len) when
 * tdat_len is not 0.
 */
MEF3_EXTERN int mef3_index_parse(mef3_index_entry **out, size_t *n,
                                 mef3_universal_header *uh_out,
                                 const uint8_t *buf, size_t len,
                                 uint64_t tdat_len, const char *path);

/* Serialize one index entry into 56 bytes. */
MEF3_EXTERN void mef3_index_write(uint8_t *buf, const mef3_index_entry *e);

/* The fixed 304-byte header of a RED block. */
typedef struct mef3_red_header {
  uint32_t block_crc;
  uint8_t flags;
  float detrend_slope;
  float detrend_intercept;
  float scale_factor;
  uint32_t difference_bytes;
  uint32_t number_of_samples;
  uint32_t block_bytes;
  int64_t start_time; /* on disk */
} mef3_red_header;

/* Parse the fixed fields of a RED block header (no CRC check). */
MEF3_EXTERN int mef3_red_header_parse(mef3_red_header *out, const uint8_t *buf,
                                      size_t len, const char *path,
                                      uint64_t offset);

/* Reusable RED encoding state (difference buffer, AES contexts); one per
 * thread.  Free with mef3_red_enc_ctx_free (NULL is fine). */
typedef struct mef3_red_enc_ctx mef3_red_enc_ctx;

MEF3_EXTERN int mef3_red_enc_ctx_new(mef3_red_enc_ctx **out);
MEF3_EXTERN void mef3_red_enc_ctx_free(mef3_red_enc_ctx *ctx);

/* What mef3_red_encode made of a block. */
typedef struct mef3_red_enc_info {
  uint32_t block_bytes;      /* header, coded bytes and pad bytes */
  uint32_t difference_bytes; /* as stored in the header */
  int32_t minimum, maximum;  /* of the samples, sentinels included */
} mef3_red_enc_info;

/* Room mef3_red_encode needs for a block of `n` samples (worst case). */
MEF3_EXTERN size_t mef3_red_max_block_bytes(size_t n);

/*
 * Encode `n` (>= 1) samples as one lossless RED block at `out`, bit for
 * bit as the reference encoder (meflib's RED_encode_exec) does: wrapping
 * 32-bit differences, key samples for differences outside [-127, 127],
 * scaled statistics, range coding, pad bytes (0x7e) to a multiple of 8,
 * then the block CRC.  `start_time` is stored as given (on-disk form).
 * `flags` may hold MEF3_RED_DISCONTINUITY and one of MEF3_RED_LEVEL_1 /
 * MEF3_RED_LEVEL_2, which encrypts the first 16 statistics bytes with that
 * level's key from `keys` (the CRC covers the encrypted bytes).
 * `cap` must be at least mef3_red_max_block_bytes(n).
 * Returns 0, MEF3_EINVAL (no samples, bad flags), MEF3_EPASSWORD (no key
 * for the level), MEF3_EBUFSIZE (info->block_bytes says how much room is
 * needed) or MEF3_ENOMEM.  Thread-safety: one context per thread.
 */
MEF3_EXTERN int mef3_red_encode(mef3_red_enc_ctx *ctx, uint8_t *out, size_t cap,
                                mef3_red_enc_info *info, const int32_t *samples,
                                size_t n, int64_t start_time, uint8_t flags,
                                const mef3_keys *keys);

/* Reusable RED decoding state; one per thread. */
typedef struct mef3_red_ctx mef3_red_ctx;

MEF3_EXTERN int mef3_red_ctx_new(mef3_red_ctx **out);
MEF3_EXTERN void mef3_red_ctx_free(mef3_red_ctx *ctx);

/*
 * Decode one RED block of `len` bytes into `out` (capacity `cap` samples).
 * Verifies the block CRC when `check_crc`; decrypts an encrypted
 * statistics table with `keys` (NULL: no keys) without changing `block`;
 * applies the scale factor and detrend fields of lossy blocks.
 * `*n_out` receives the number of samples.  Returns 0, MEF3_ECRC,
 * MEF3_EACCESS, MEF3_ECORRUPT or MEF3_EBUFSIZE (with *n_out the size
 * needed).  `path`/`offset` only name the block in errors.
 */
MEF3_EXTERN int mef3_red_decode(mef3_red_ctx *ctx, int32_t *out, size_t cap,
                                size_t *n_out, const uint8_t *block, size_t len,
                                const mef3_keys *keys, int check_crc,
                                const char *path, uint64_t offset);

/* One block of a batch decode: inputs, then what became of it. */
typedef struct mef3_red_job {
  const uint8_t *block; /* the block's bytes */
  size_t len;           /* bytes available at `block` */
  uint64_t offset;      /* its offset in the file, for messages */
  int32_t *out;         /* room for `cap` samples */
  size_t cap;
  size_t n_out;      /* samples decoded (or needed, with EBUFSIZE) */
  int32_t min, max;  /* of the decoded samples (sentinels included) */
  int rc;            /* 0 or the block's error code */
  char message[512]; /* the block's error message when rc != 0 */
} mef3_red_job;

/*
 * Decode `n` independent blocks, several at a time on one core (their
 * range decoders interleave).  Each job gets its own rc and message, as
 * mef3_red_decode would give; a bad block does not stop the others.
 * Returns 0, or MEF3_ENOMEM when the context cannot grow.
 */
MEF3_EXTERN int mef3_red_decode_batch(mef3_red_ctx *ctx, mef3_red_job *jobs,
                                      size_t n, const mef3_keys *keys,
                                      int check_crc, const char *path);

/* Record levels. */
typedef enum mef3_record_level {
  MEF3_LEVEL_SESSION = 0,
  MEF3_LEVEL_CHANNEL = 1,
  MEF3_LEVEL_SEGMENT = 2
} mef3_record_level;

/*
 * One record (annotation), decoded where its type is known.  A record that
 * cannot be decoded (its CRC fails, its body is too short for its type,
 * the file ends inside it) is still returned, flagged `undecodable`, with
 * its type, time and raw body as found and its decoded fields zero, so
 * that one bad record never hides the others.
 */
typedef struct mef3_record {
  char type[5]; /* "Note", "Seiz", "EDFA", "SyLg", "Curs", "Epoc", ... */
  uint8_t version_major, version_minor;
  int8_t encryption; /* as on disk */
  int available;     /* 0 when encrypted beyond the caller's access (or, when
                        undecodable, when `body` is still encrypted) */
  int64_t time;      /* µUTC (absolute when the offset is known);
                        MEF3_UUTC_NO_ENTRY when the header is cut short */
  uint32_t body_bytes;
  uint8_t *body; /* raw body (decrypted when available); of an undecodable
                    record, the bytes there are (body_bytes of them) */
  /* decoded fields (type-specific; zero / NULL when not applicable) */
  char *text;         /* Note, SyLg, EDFA annotation, Seiz annotation, Epoc,
                         Curs name */
  int has_duration;   /* 1 when `duration` was decoded (EDFA, Epoc, a Seiz
                         with a body: an empty Seiz body is valid, with no
                         channels and no duration) */
  int64_t duration;   /* EDFA, Seiz, Epoc (µs) */
  int64_t end_time;   /* Seiz latest offset, Epoc end timestamp */
  int32_t onset_code; /* Seiz */
  int32_t number_of_channels; /* Seiz */
  /* where it was found */
  mef3_record_level level;
  char channel[256]; /* empty at session level */
  int32_t segment;   /* -1 unless at segment level */
  int64_t index;     /* its place in its .rdat (0 = first); -1 for a file */
  int64_t offset;    /* byte offset of its header in its .rdat; -1: a file */
  /* 0 for a decoded record; else why it is undecodable: MEF3_ECRC (its
   * CRC fails) or MEF3_ECORRUPT (malformed, cut short), or, for an entry
   * standing for a whole records file that cannot be read (index -1, no
   * type, time MEF3_UUTC_NO_ENTRY, no body), that failure's code. */
  int undecodable;
  /* When undecodable: one line naming the file, the record's index and
   * byte offset, and what is wrong.  NULL otherwise. */
  char *problem;
} mef3_record;

/*
 * Parse a record data file (.rdat, `len` bytes).  `*out` is an allocated
 * array (free with mef3_records_free), `*n` its length.  Each record's
 * CRC is checked; a record that fails, or cannot be decoded, is returned
 * flagged `undecodable` (see mef3_record) and parsing goes on with the
 * next one, unless the file ends inside it.  When the file's body CRC
 * fails, records without a CRC of their own are flagged too (nothing
 * vouches for them).  `path` names the file in the records' `problem`.
 * Fails only when the buffer is not a records file (its universal header
 * fails: MEF3_ECRC, MEF3_ECORRUPT) or on MEF3_ENOMEM.  Times are left as
 * on disk.
 */
MEF3_EXTERN int mef3_records_parse(mef3_record **out, size_t *n,
                                   const uint8_t *buf, size_t len,
                                   const mef3_keys *keys, const char *path);

/* Free an array returned by mef3_records_parse or the reader. */
MEF3_EXTERN void mef3_records_free(mef3_record *records, size_t n);

/*
 * Turn a time as stored on disk into absolute µUTC: a negative time x
 * becomes -x + offset; others, and MEF3_UUTC_NO_ENTRY, are unchanged.
 * `offset` is the recording time offset (0 when unknown).
 */
MEF3_EXTERN int64_t mef3_time_to_uutc(int64_t on_disk, int64_t offset);

/* The MEF CRC-32 (Koopman polynomial, start 0xFFFFFFFF) of `len` bytes. */
MEF3_EXTERN uint32_t mef3_crc32(const uint8_t *buf, size_t len);
/* Continue a CRC over more bytes. */
MEF3_EXTERN uint32_t mef3_crc32_update(uint32_t crc, const uint8_t *buf,
                                       size_t len);

#ifdef __cplusplus
}
#endif
#endif
