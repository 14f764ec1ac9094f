/* tests/testutil.h - helpers shared by the test programs. */
#ifndef MEF3_TESTS_TESTUTIL_H
#define MEF3_TESTS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Read a whole file (malloc'd, NUL-appended); NULL on failure. */
void *tu_read_file(const char *path, size_t *len);
/* Parse a JSON file; NULL on failure. */
cJSON *tu_read_json(const char *path);
/* "MEF3_GOLDEN_DIR/rel" in a static buffer per call slot (4 slots). */
const char *tu_golden(const char *rel);
/* A fresh, empty scratch directory below MEF3_TEST_TMP for this test,
 * named after `tag`; returns its path (static buffer per slot). */
const char *tu_scratch(const char *tag);
/* Copy a directory tree (cp -a); 0 on success. */
int tu_copy_tree(const char *from, const char *to);
/* Run a shell command; returns its exit status (or -1). */
int tu_system(const char *fmt, ...);
/* This process's open descriptors, and in *memfds (may be NULL) how many
 * of them are memfds (the pool's shared memory). */
int tu_fds(int *memfds);
/* Process ids of this process's children, from /proc: returns how many
 * there are and stores up to `cap` of them in `out` (may be NULL). */
int tu_children(int *out, int cap);
/* Mappings of pool shared memory (memfds named "mef3pool-...") in this
 * process.  Only memfd mappings count: the executable's own mappings may
 * have "mef3pool-" in their path (a checkout in mef3pool-1.0/). */
int tu_memfd_maps(void);
/* 1 when the golden folder exists. */
int tu_have_golden(void);

/*
 * A raw unary call (through src/rpc/call.h) for what the C client cannot
 * send, strings holding NUL bytes: `n` request bytes to `method` of the
 * server at `addr` (with `token` as the access-token metadata when not
 * NULL), within 20 s.  The reply's bytes go to *reply (malloc'd; NULL
 * when none came) and *reply_len; returns the call's gRPC status code.
 */
int tu_rpc_unary(const char *addr, const char *method, const void *req,
                 size_t n, const char *token, void **reply,
                 size_t *reply_len);

#endif
