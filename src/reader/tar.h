/* reader/tar.h - the table of contents of an uncompressed tar archive
 * holding a session (NAME.mefd.tar), so the reader can read its members
 * in place (internal). */
#ifndef MEF3_READER_TAR_H
#define MEF3_READER_TAR_H

#include <stddef.h>
#include <stdint.h>

typedef struct mef3__tar mef3__tar;

/*
 * Open the archive at `path` and index every member.  Member paths are
 * normalized ('/'-separated, no leading "/" or "./", no empty components)
 * and the session's root is stripped: while every member lies below one
 * top-level directory that is not a channel (.timd), that directory is
 * dropped, so "NAME.mefd/ch.timd/..." and "./ch.timd/..." both index as
 * "ch.timd/...".  Returns 0; MEF3_ENOTFOUND, MEF3_EIO, MEF3_ELIMIT for
 * the file itself; MEF3_EUNSUPPORTED for a compressed archive or a sparse
 * member; MEF3_ECORRUPT naming the archive and offset for a damaged or
 * truncated header, a member running past the end of the file, or an
 * archive without its end-of-archive block; MEF3_ENOMEM.  The archive's
 * descriptor stays open (close-on-exec) until mef3__tar_close.
 */
struct mef3__beneath;
/* (beneath `root` when not NULL: util/beneath.h) */
int mef3__tar_open(mef3__tar **out, const struct mef3__beneath *root,
                   const char *path);
void mef3__tar_close(mef3__tar *t);

/* The archive's descriptor (borrowed). */
int mef3__tar_fd(const mef3__tar *t);

/* Regular member `rel` (root-relative): 0 with its data's offset in the
 * archive and its size, or MEF3_ENOTFOUND (no error is set). */
int mef3__tar_find(const mef3__tar *t, const char *rel, uint64_t *offset,
                   uint64_t *size);

/* 1 when `rel` is a directory of the archive ("" is the root): a
 * directory member, or the parent of any member. */
int mef3__tar_is_dir(const mef3__tar *t, const char *rel);

/* The names directly below directory `rel` that end in `suffix`, sorted
 * with strcmp, each once (as mef3__list_dir: free with mef3__free_list).
 * MEF3_ENOTFOUND when `rel` is not a directory of the archive. */
int mef3__tar_list(const mef3__tar *t, char ***out, size_t *n, const char *rel,
                   const char *suffix);

#endif
