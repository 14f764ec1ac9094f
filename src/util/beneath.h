/*
 * util/beneath.h - opening files beneath a directory without a race
 * (internal): the data root's confinement, for the reader, the workers
 * and the file manager.
 *
 * A check of a path followed by an open of it leaves a window: a link
 * swapped in between leads the open anywhere.  Here every open is one
 * openat2(root_fd, relative path, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS):
 * the kernel refuses (EXDEV) any resolution that would leave the root -
 * "..", an absolute link, a relative link climbing out - at the moment of
 * the open, and /proc magic links always.  Links that stay inside work.
 *
 * Where the kernel lacks openat2 (before Linux 5.6: ENOSYS, or EPERM
 * from a seccomp filter that does not know it), the open falls back to
 * realpath, a check that the result lies below the root, then open: the
 * same rule with the old race.  mef3__beneath_racy says when that
 * happened, so a caller can say so once.
 *
 * Immutable after creation: any thread.
 */
#ifndef MEF3_UTIL_BENEATH_H
#define MEF3_UTIL_BENEATH_H

#include <stddef.h>
#include <sys/stat.h>

typedef struct mef3__beneath mef3__beneath;

/* Open the root `dir`, a canonical absolute path: 0, or the error set
 * (MEF3_ENOTFOUND, MEF3_EINVAL: not canonical or not a directory,
 * MEF3_ENOMEM). */
int mef3__beneath_new(mef3__beneath **out, const char *dir);
void mef3__beneath_free(mef3__beneath *b);
const char *mef3__beneath_path(const mef3__beneath *b);

/* Open `path` - the root itself or an absolute path below it, as the
 * strings go - beneath the root with `flags` (O_CLOEXEC is added).
 * A descriptor, or -1 with errno: EXDEV when `path` is not below the
 * root or its resolution leaves it; the kernel's otherwise. */
int mef3__beneath_open(const mef3__beneath *b, const char *path, int flags);

/* stat() of `path` beneath the root: 0, or -1 with errno as above. */
int mef3__beneath_stat(const mef3__beneath *b, const char *path,
                       struct stat *st);

/* 1 once an open fell back to the racy check (no openat2). */
int mef3__beneath_racy(void);

/* strerror(err), but "leads outside the data root" for EXDEV. */
const char *mef3__beneath_strerror(int err);

#endif
