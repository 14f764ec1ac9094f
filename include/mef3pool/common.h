/*
 * mef3pool/common.h - error model, versions and shared vocabulary.
 *
 * Every function that can fail returns an int: 0 on success or a negative
 * MEF3_E... code.  The detail of the most recent failure on the calling
 * thread (one line naming the file and the offset) is kept per thread and
 * read with mef3_error_last().
 */
#ifndef MEF3POOL_COMMON_H
#define MEF3POOL_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MEF3POOL_VERSION_MAJOR 0
#define MEF3POOL_VERSION_MINOR 2
#define MEF3POOL_VERSION_PATCH 0
#define MEF3POOL_VERSION_STRING "0.2.0"

#if defined(__GNUC__)
#define MEF3_EXTERN __attribute__((visibility("default")))
#else
#define MEF3_EXTERN
#endif

/*
 * The error table: name, value, description.  One X-macro generates the
 * enum, mef3_strerror() and mef3_errname(), so the three never disagree.
 */
#define MEF3_ERRNO_MAP(X)                                                      \
  X(ERROR, -1, "error")                                                        \
  X(EINVAL, -2, "invalid argument")                                            \
  X(ENOTFOUND, -3, "not found")                                                \
  X(ECRC, -4, "CRC mismatch")                                                  \
  X(EPASSWORD, -5, "password missing or wrong")                                \
  X(EACCESS, -6, "no access to encrypted data at this level")                  \
  X(ECORRUPT, -7, "corrupt or inconsistent file")                              \
  X(EUNSUPPORTED, -8, "unsupported format feature")                            \
  X(EBUFSIZE, -9, "buffer too small")                                          \
  X(ECANCELED, -10, "canceled")                                                \
  X(ETIMEDOUT, -11, "timed out")                                               \
  X(ENOMEM, -12, "out of memory")                                              \
  X(EIO, -13, "input/output error")                                            \
  X(EWORKER, -14, "worker process failed")                                     \
  X(ELIMIT, -15, "resource limit reached")                                     \
  X(EEXIST, -16, "already exists")

typedef enum mef3_errno {
  MEF3_OK = 0,
#define MEF3__ENUM(name, val, desc) MEF3_##name = (val),
  MEF3_ERRNO_MAP(MEF3__ENUM)
#undef MEF3__ENUM
} mef3_errno;

/* Human-readable description of an error code; never NULL. */
MEF3_EXTERN const char *mef3_strerror(int code);

/* Symbolic name of an error code ("MEF3_ECRC"); never NULL. */
MEF3_EXTERN const char *mef3_errname(int code);

/* Per-thread detail of the last failure. */
typedef struct mef3_error {
  int code;          /* the MEF3_E... code returned */
  char message[512]; /* one line: file, offset, what is wrong */
} mef3_error;

/*
 * The last error set on this thread, or an entry with code 0 and an empty
 * message.  The pointer is borrowed and stays valid until the thread ends;
 * its contents change with the next failing call on this thread.
 */
MEF3_EXTERN const mef3_error *mef3_error_last(void);

/* Clear the calling thread's last error. */
MEF3_EXTERN void mef3_error_clear(void);

/* Library version string ("0.2.0"). */
MEF3_EXTERN const char *mef3_version(void);

/*
 * Versioned structs.  Every options or record struct of this API starts
 * with `unsigned int version`, set by its _INIT macro to the header's
 * MEF3_..._VERSION.  The rule that keeps old callers working:
 *  - a later version only adds fields, at the end, and bumps the number;
 *    no field is removed, moved or given another meaning;
 *  - the library accepts every version from 1 to its own: for an older
 *    one it reads only the fields that version had and uses the defaults
 *    of the _INIT macro for the rest;
 *  - it refuses 0 (a struct not initialized) and a version newer than its
 *    own, with MEF3_EINVAL and a message naming the struct and the range
 *    it takes ("mef3_reader_options version 7: this library takes 1 to 2").
 * So start from the _INIT macro and set the fields you need.
 */

/*
 * The allocator hook: every allocation the library makes (its structures,
 * decode buffers, path strings, the results it hands out) goes through
 * these functions once set; by default they are the C library's.  The
 * memory of pool results is shared memory (memfds) and does not; neither
 * do libcrypto's own allocations (OpenSSL has CRYPTO_set_mem_functions).
 *
 * `malloc_fn`, `realloc_fn` and `free_fn` are required, `calloc_fn` may be
 * NULL (malloc_fn and zeroing are used instead).  They behave like their C
 * counterparts (realloc_fn(NULL, n) allocates; sizes passed are never 0;
 * free_fn is never given NULL) and must be thread-safe: every thread of
 * the library calls them.  `payload` is passed to each.  A function that
 * returns NULL makes the call that needed the memory fail with
 * MEF3_ENOMEM and a message naming what it was for; nothing leaks.
 */
#define MEF3_ALLOCATOR_VERSION 1

typedef struct mef3_allocator {
  unsigned int version; /* MEF3_ALLOCATOR_VERSION */
  void *(*malloc_fn)(size_t size, void *payload);
  void *(*calloc_fn)(size_t n, size_t size, void *payload); /* may be NULL */
  void *(*realloc_fn)(void *ptr, size_t size, void *payload);
  void (*free_fn)(void *ptr, void *payload);
  void *payload;
} mef3_allocator;

#define MEF3_ALLOCATOR_INIT                                                    \
  { MEF3_ALLOCATOR_VERSION, NULL, NULL, NULL, NULL, NULL }

/*
 * Route the library's allocations through `a` (copied), or back to the C
 * library's malloc/free with NULL.  Process-wide: call it before any other
 * library call and before starting threads that use the library, and
 * change it only when nothing the library allocated is still alive
 * (memory must be freed by the allocator that made it).  Returns 0 or
 * MEF3_EINVAL (wrong version, a required function missing).
 * Not thread-safe.
 */
MEF3_EXTERN int mef3_set_allocator(const mef3_allocator *a);

/*
 * Allocate and free through the library's allocator.  Memory that a
 * library free function releases (a mef3_signal or mef3_file_info built by
 * an add-on, for mef3_signal_free / mef3_file_info_free) must come from
 * these, and arrays the library hands out without a free function of
 * their own (mef3_index_parse) go back with mef3_free.  Same contracts as
 * malloc, calloc, realloc, strdup and free (mef3_free(NULL) is fine).
 * Thread-safe.
 */
MEF3_EXTERN void *mef3_malloc(size_t size);
MEF3_EXTERN void *mef3_calloc(size_t n, size_t size);
MEF3_EXTERN void *mef3_realloc(void *ptr, size_t size);
MEF3_EXTERN char *mef3_strdup(const char *s);
MEF3_EXTERN void mef3_free(void *ptr);

/* Sample output types of the read functions. */
typedef enum mef3_sample_type {
  MEF3_F32 = 0, /* float32, physical units (raw x units conversion factor) */
  MEF3_F64 = 1, /* float64, physical units */
  MEF3_I32 = 2  /* raw int32 counts, MEF3_RED_NAN where there is no sample */
} mef3_sample_type;

/* Size in bytes of one sample of the given type (0 for an unknown type). */
MEF3_EXTERN size_t mef3_sample_size(mef3_sample_type type);

/* RED sentinels (raw int32 counts). */
#define MEF3_RED_NAN ((int32_t)INT32_MIN)
#define MEF3_RED_NEG_INF ((int32_t)(INT32_MIN + 1))
#define MEF3_RED_POS_INF ((int32_t)INT32_MAX)

/* "No entry" for µUTC times. */
#define MEF3_UUTC_NO_ENTRY ((int64_t)INT64_MIN)

#ifdef __cplusplus
}
#endif
#endif
