/* util/fsutil.h - small file-system helpers (internal). */
#ifndef MEF3_UTIL_FSUTIL_H
#define MEF3_UTIL_FSUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "util/beneath.h"

/* Every function taking a `root` opens beneath it when it is not NULL
 * (util/beneath.h: a path leading outside fails with MEF3_EINVAL). */

/* open(path, flags | O_CLOEXEC), beneath `root` when given; -1 + errno. */
int mef3__open_in(const mef3__beneath *root, const char *path, int flags);

/* Read a whole regular file of at most `max` bytes into a buffer from
 * mef3__malloc. Errors name the path: MEF3_ENOTFOUND, MEF3_EIO, MEF3_ECORRUPT
 * (too large), MEF3_ENOMEM, MEF3_EINVAL (outside the root). */
int mef3__read_file(const mef3__beneath *root, uint8_t **out, size_t *len,
                    const char *path, size_t max);

/* Names in directory `dir` ending in `suffix` (e.g. ".timd"), sorted with
 * strcmp.  `*out` is an array of names (mef3__malloc). */
int mef3__list_dir(const mef3__beneath *root, char ***out, size_t *n,
                   const char *dir, const char *suffix);
void mef3__free_list(char **names, size_t n);

/* "a/b" joined; NULL when out of memory. */
char *mef3__join(const char *a, const char *b);
/* "dir/base.ext" where base is the last path component of dir without its
 * extension, plus `ext`. */
char *mef3__child_named(const char *dir, const char *ext);
/* Last path component without extension (mef3__malloc). */
char *mef3__base_name(const char *path);
/* 1 when `s` ends with `suffix`. */
int mef3__ends_with(const char *s, const char *suffix);
/* 1 when `path` is a directory. */
int mef3__is_dir(const mef3__beneath *root, const char *path);

/* pread all of `len` bytes; returns bytes read (short at end of file) or
 * -1 with errno set.  Every read of file contents in the library goes
 * through here (whole files and data blocks alike). */
long long mef3__pread_full(int fd, void *buf, size_t len, uint64_t off);

/*
 * The code for a failed open(), opendir() or read of a file: MEF3_ENOTFOUND
 * (ENOENT, ENOTDIR), MEF3_ELIMIT (no descriptor left: EMFILE, ENFILE),
 * MEF3_ENOMEM, MEF3_EINVAL (EXDEV: it leads outside the data root), else
 * MEF3_EIO.  (mef3__beneath_strerror says it in words.)
 */
int mef3__errno_code(int err);

/*
 * Fault injection (tests and the worker program's MEF3POOL_WORKER_FAULTS,
 * never the library itself): when set, `fn` is called before every read
 * of mef3__pread_full with its arguments, and a non-zero return (an errno
 * value such as EIO) makes that read fail with it.  Process-wide; set it
 * before any read starts.
 */
typedef int (*mef3__read_fault_fn)(int fd, size_t len, uint64_t off,
                                   void *payload);
void mef3__set_read_fault(mef3__read_fault_fn fn, void *payload);

#endif
