/*
 * files/access.c - who may read what: opening and closing files, one
 * view per access level, access tokens, finding the view a call names.
 *
 * An open file is one view per access level (0, 1, 2) that someone's
 * password gave: a level-1 view is built from a reader opened with a
 * level-1 password, so it never holds section 3, absolute times or a
 * block encrypted at level 2, whoever else has the file open; a level-2
 * view never waits for one.  Each view is an mfile of its own: own id (so
 * its tiles in the shared cache are its own, see tile_cache.h), own
 * channel table, own readers, own key in the pools (pool.h's
 * mef3_pool_set_access: the real path plus "//level-L", which no
 * canonical path contains).  The cost is that two levels reading one
 * session decode it twice; the gain is that no view is derived from data
 * its holder could not decrypt.
 *
 * Every open checks the password it carries: equal to the one a view was
 * opened with, it gives that view at once; any other is checked by
 * opening a reader with it (a wrong one is MEF3_EPASSWORD and changes
 * nothing).  A view of level 1 or 2 has a random 128-bit token (from
 * getrandom), handed to whoever opens it with a password of that level;
 * every later call on the view must present it.  Calls without a token
 * reach only the level-0 view (what needs no password).  A token is
 * compared in constant time, names one view of one file, and dies with
 * the view's close: a reopened view has a new token.
 *
 * Maps (under fm->mu): fm->files "L:" + canonical path -> mfile (one
 * reference), fm->aliases "L:" + the string a caller used -> mfile (no
 * reference).  The "L:" prefix keeps levels apart and cannot be forged
 * from a path, since it comes first.  pools_mu serializes publishing and
 * closing, so pool passwords change in the same order as the maps.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "files/files_impl.h"
#include "util/alloc.h"

#define VKEY_MAX (PATH_MAX + 8)

/* "L:s" into buf; 0 when it does not fit. */
static int vkey(char *buf, int level, const char *s) {
  int n = snprintf(buf, VKEY_MAX, "%d:%s", level, s);
  return n > 0 && n < VKEY_MAX;
}

static const char hexd[] = "0123456789abcdef";

static void token_hex(char out[MEF3_FILES_TOKEN_CHARS + 1],
                      const uint8_t t[MEF3__TOKEN_BYTES]) {
  for (int i = 0; i < MEF3__TOKEN_BYTES; i++) {
    out[2 * i] = hexd[t[i] >> 4];
    out[2 * i + 1] = hexd[t[i] & 15];
  }
  out[MEF3_FILES_TOKEN_CHARS] = '\0';
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* 0 when `s` is 32 hex digits (their bytes to `t`), else -1. */
static int token_parse(uint8_t t[MEF3__TOKEN_BYTES], const char *s) {
  for (int i = 0; i < MEF3__TOKEN_BYTES; i++) {
    int a = hexval(s[2 * i]), b = a < 0 ? -1 : hexval(s[2 * i + 1]);
    if (a < 0 || b < 0)
      return -1;
    t[i] = (uint8_t)(a << 4 | b);
  }
  return s[MEF3_FILES_TOKEN_CHARS] ? -1 : 0;
}

static int token_equal(const uint8_t *a, const uint8_t *b) {
  unsigned d = 0;
  for (int i = 0; i < MEF3__TOKEN_BYTES; i++)
    d |= (unsigned)(a[i] ^ b[i]);
  return d == 0;
}

/* Passwords alike (NULL and "" are none); no early exit on a byte. */
static int password_equal(const char *a, const char *b) {
  if (!a || !*a || !b || !*b)
    return (!a || !*a) && (!b || !*b);
  size_t n = strlen(a);
  if (n != strlen(b))
    return 0;
  unsigned d = 0;
  for (size_t i = 0; i < n; i++)
    d |= (unsigned)(a[i] ^ b[i]);
  return d == 0;
}

static void fill_access(mef3_files_access *out, const mfile *f) {
  if (!out)
    return;
  memset(out, 0, sizeof *out);
  out->level = f->access_level;
  if (f->access_level > 0)
    token_hex(out->token, f->token);
}

/* View `level` of the file `path` names (alias first, then by `real` when
 * given), with a reference; NULL if none.  Takes fm->mu. */
static mfile *view_get(mef3_files *fm, const char *path, const char *real,
                       int level) {
  char k[VKEY_MAX];
  mfile *f = NULL;
  pthread_mutex_lock(&fm->mu);
  if (vkey(k, level, path))
    f = mef3__strmap_get(&fm->aliases, k);
  if (!f && real && vkey(k, level, real))
    f = mef3__strmap_get(&fm->files, k);
  if (f)
    atomic_fetch_add(&f->refs, 1);
  pthread_mutex_unlock(&fm->mu);
  return f;
}

mfile *mef3__files_lookup(mef3_files *fm, const char *path, const char *token) {
  uint8_t tok[MEF3__TOKEN_BYTES];
  int have_tok = token && *token;
  if (have_tok && token_parse(tok, token)) {
    mef3__error(MEF3_EPASSWORD, "%s: not an access token (32 hex digits)",
                path);
    return NULL;
  }
  int lo = have_tok ? 1 : 0, hi = have_tok ? 2 : 0;
  char real[PATH_MAX];
  int resolved = 0, rrc = 0;
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1) {
      rrc = mef3_files_resolve(fm->root, path, real, sizeof real);
      resolved = rrc == 0;
      if (!resolved)
        break;
    }
    for (int L = lo; L <= hi; L++) {
      mfile *f = view_get(fm, path, resolved ? real : NULL, L);
      if (f && (L == 0 || token_equal(f->token, tok)))
        return f;
      mef3__mfile_unref(f);
    }
  }
  if (rrc == MEF3_EINVAL)
    return NULL; /* outside the root: resolve said why */
  /* Not found: say whether other views of it are open. */
  int others = 0;
  for (int L = 0; L <= 2 && resolved; L++) {
    if (L >= lo && L <= hi)
      continue;
    mfile *f = view_get(fm, path, real, L);
    others |= f != NULL;
    mef3__mfile_unref(f);
  }
  if (have_tok)
    mef3__error(MEF3_EPASSWORD,
                "%s: the access token is not valid for this file (it was "
                "closed, or the token is of another file)",
                path);
  else if (others)
    mef3__error(MEF3_EPASSWORD,
                "%s: opened with a password; calls need the access token "
                "its open returned",
                path);
  else
    mef3__error(MEF3_ENOTFOUND, "%s: file not open", path);
  return NULL;
}

/* ---- open ---- */

static int add_alias_locked(mef3_files *fm, const char *path, mfile *f) {
  char k[VKEY_MAX];
  if (!vkey(k, f->access_level, path))
    return 0; /* too long to be an alias: found by its real path */
  return mef3__strmap_put(&fm->aliases, k, f, NULL) ? MEF3_ENOMEM : 0;
}

/* Tell a pool what the view's key opens. */
static void pool_access(mef3_pool *p, const mfile *f, int on) {
  if (!p || (!strcmp(f->pkey, f->real) && !f->password))
    return; /* the default: path as key, no password */
  mef3_pool_set_access(p, f->pkey, on ? f->real : NULL,
                       on ? f->password : NULL);
}

void mef3__files_pool_access(mef3_pool *p, const mfile *f) {
  pool_access(p, f, 1);
}

/* A view already open whose password is `pw`, with a reference. */
static mfile *view_by_password(mef3_files *fm, const char *path,
                               const char *real, const char *pw) {
  char k[VKEY_MAX];
  mfile *found = NULL;
  pthread_mutex_lock(&fm->mu);
  for (int L = 0; L <= 2 && !found; L++) {
    mfile *f = vkey(k, L, real) ? mef3__strmap_get(&fm->files, k) : NULL;
    /* Level 0 has no password: any password must be checked. */
    if (f && (L == 0 ? !pw : password_equal(f->password, pw)))
      found = f;
  }
  if (found) {
    atomic_fetch_add(&found->refs, 1);
    add_alias_locked(fm, path, found); /* a missing alias costs a realpath */
  }
  pthread_mutex_unlock(&fm->mu);
  return found;
}

static void log_fail(mef3_files *fm, const char *path) {
  mef3__files_log(fm, MEF3_LOG_WARN, "open %s: %s", path,
                  mef3_error_last()->message);
}

int mef3_files_open_as(mef3_files_access *out, int *already_open,
                       mef3_files *fm, const char *path, const char *password) {
  if (already_open)
    *already_open = 0;
  if (out)
    memset(out, 0, sizeof *out);
  if (!fm || !path)
    return mef3__error(MEF3_EINVAL, "no file manager or path");
  const char *pw = password && *password ? password : NULL;
  char real[PATH_MAX];
  int held = 0; /* our reference to a new view, taken before the map has it */
  int rc = mef3_files_resolve(fm->root, path, real, sizeof real);
  if (rc) {
    log_fail(fm, path);
    return rc;
  }
  mfile *have = view_by_password(fm, path, real, pw);
  if (have) {
    fill_access(out, have);
    if (already_open)
      *already_open = 1;
    mef3__files_log(fm, MEF3_LOG_INFO,
                    "open %s: already open (access level %d)", path,
                    have->access_level);
    mef3__mfile_unref(have);
    return 0;
  }
  /* The password is checked by opening a reader with it. */
  mef3__files_tree *tree = NULL; /* checked now, and before each decode */
  if (fm->root && (rc = mef3__files_tree_new(&tree, fm->root, real)) != 0) {
    log_fail(fm, path);
    return rc;
  }
  mef3_reader *r = NULL;
  mef3_reader_options ro = MEF3_READER_OPTIONS_INIT;
  ro.password = pw;
  ro.root = fm->root; /* every open beneath it, the workers' too */
  rc = mef3_reader_open(&r, real, &ro);
  int level = rc ? 0 : mef3_reader_access_level(r);
  mfile *f = NULL;
  if (!rc)
    rc = mef3__mfile_new(&f, fm, path, real, level ? pw : NULL, r);
  if (rc) {
    mef3__files_tree_free(tree);
    log_fail(fm, path);
    return rc;
  }
  f->tree = tree;
  if (level > 0 &&
      getrandom(f->token, sizeof f->token, 0) != (ssize_t)sizeof f->token) {
    rc = mef3__error(MEF3_EIO, "%s: no random bytes for a token: %s", path,
                     strerror(errno));
    mef3__mfile_unref(f);
    log_fail(fm, path);
    return rc;
  }

  /* Publish it.  Under pools_mu, so that passwords reach the pools before
   * any read can find the view, and a close of it cannot interleave. */
  char k[VKEY_MAX];
  vkey(k, level, real); /* fits: real is shorter than PATH_MAX */
  pthread_mutex_lock(&fm->pools_mu);
  pthread_mutex_lock(&fm->mu);
  have = mef3__strmap_get(&fm->files, k);
  if (have) { /* opened meanwhile, or with another password of its level */
    atomic_fetch_add(&have->refs, 1);
    add_alias_locked(fm, path, have);
  } else if (fm->o.max_open_files > 0 &&
             (int64_t)fm->files.used >= fm->o.max_open_files) {
    rc = mef3__error(MEF3_ELIMIT, "%s: %lld files open already (the limit)",
                     path, (long long)fm->o.max_open_files);
  } else {
    f->id = ++fm->next_id;
  }
  pthread_mutex_unlock(&fm->mu);
  if (!have && !rc) {
    rc = mef3__tcache_file_add(&fm->cache, f->id);
    if (!rc) {
      pool_access(fm->fg, f, 1);
      pool_access(fm->pf, f, 1);
    }
    pthread_mutex_lock(&fm->mu);
    /* Our own reference until the reply is filled: once in the map, a
     * close on another thread may drop the map's at once (TSan saw the
     * reply read a freed view). */
    if (!rc) {
      atomic_fetch_add(&f->refs, 1);
      held = 1;
    }
    if (!rc &&
        (mef3__strmap_put(&fm->files, k, f, NULL) ||
         add_alias_locked(fm, path, f) || add_alias_locked(fm, real, f))) {
      char a[VKEY_MAX];
      mef3__strmap_del(&fm->files, k);
      if (vkey(a, level, path))
        mef3__strmap_del(&fm->aliases, a);
      mef3__strmap_del(&fm->aliases, k);
      rc = mef3__error(MEF3_ENOMEM, "out of memory");
    }
    pthread_mutex_unlock(&fm->mu);
    if (rc) {
      mef3__tcache_file_drop(&fm->cache, f->id);
      pool_access(fm->fg, f, 0);
      pool_access(fm->pf, f, 0);
    }
  }
  pthread_mutex_unlock(&fm->pools_mu);
  if (have) {
    mef3__mfile_unref(f);
    fill_access(out, have);
    mef3__mfile_unref(have);
    if (already_open)
      *already_open = 1;
    return 0;
  }
  if (rc) {
    if (held)
      mef3__mfile_unref(f);
    mef3__mfile_unref(f);
    log_fail(fm, path);
    return rc;
  }
  fill_access(out, f);
  mef3__files_log(fm, MEF3_LOG_INFO,
                  "opened %s (%zu channels, access level %d)", real, f->n_ch,
                  f->access_level);
  mef3__mfile_unref(f); /* ours; the map keeps its own */
  return 0;
}

int mef3_files_open(int *already_open, mef3_files *fm, const char *path,
                    const char *password) {
  return mef3_files_open_as(NULL, already_open, fm, path, password);
}

/* ---- close ---- */

int mef3_files_close_as(mef3_files *fm, const char *path, const char *token) {
  if (!fm || !path)
    return mef3__error(MEF3_EINVAL, "no file manager or path");
  mfile *f = mef3__files_lookup(fm, path, token);
  if (!f)
    return mef3_error_last()->code;
  char k[VKEY_MAX];
  vkey(k, f->access_level, f->real);
  pthread_mutex_lock(&fm->pools_mu);
  pthread_mutex_lock(&fm->mu);
  int mine = mef3__strmap_get(&fm->files, k) == f;
  if (mine) {
    mef3__strmap_del(&fm->files, k);
    size_t it = 0;
    const char *key;
    void *val;
    while (mef3__strmap_next(&fm->aliases, &it, &key, &val))
      if (val == f)
        mef3__strmap_del(&fm->aliases, key);
  }
  pthread_mutex_unlock(&fm->mu);
  if (!mine) { /* closed by another call meanwhile */
    pthread_mutex_unlock(&fm->pools_mu);
    mef3__mfile_unref(f);
    return mef3__error(MEF3_ENOTFOUND, "%s: file not open", path);
  }
  size_t n = mef3__tcache_file_drop(&fm->cache, f->id);
  mef3__envcache_file_drop(fm->env, f->id);
  /* Forgetting the key also makes every worker close the file. */
  if (fm->fg)
    mef3_pool_set_access(fm->fg, f->pkey, NULL, NULL);
  if (fm->pf)
    mef3_pool_set_access(fm->pf, f->pkey, NULL, NULL);
  pthread_mutex_unlock(&fm->pools_mu);
  mef3__files_log(fm, MEF3_LOG_INFO,
                  "closed %s (access level %d, %zu tiles dropped)", f->real,
                  f->access_level, n);
  mef3__mfile_unref(f); /* the lookup's */
  mef3__mfile_unref(f); /* the map's */
  return 0;
}

int mef3_files_close(mef3_files *fm, const char *path) {
  return mef3_files_close_as(fm, path, NULL);
}

/* ---- list ---- */

typedef struct listed {
  const char *real;
  uint64_t id;
  char *given;
} listed;

static int cmp_listed(const void *a, const void *b) {
  const listed *x = a, *y = b;
  int c = strcmp(x->real, y->real);
  return c ? c : x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_id(const void *a, const void *b) {
  uint64_t x = ((const listed *)a)->id, y = ((const listed *)b)->id;
  return x < y ? -1 : x > y;
}

int mef3_files_list(char ***out, size_t *n, mef3_files *fm) {
  if (!out || !n)
    return mef3__error(MEF3_EINVAL, "no output pointer");
  *out = NULL;
  *n = 0;
  if (!fm)
    return mef3__error(MEF3_EINVAL, "no file manager");
  pthread_mutex_lock(&fm->mu);
  size_t cap = fm->files.used, k = 0, it = 0;
  listed *l = mef3__calloc(cap ? cap : 1, sizeof *l);
  char **v = mef3__calloc(cap ? cap : 1, sizeof *v);
  const char *key;
  void *val;
  int rc = l && v ? 0 : MEF3_ENOMEM;
  while (!rc && mef3__strmap_next(&fm->files, &it, &key, &val)) {
    mfile *f = val;
    l[k] = (listed){f->real, f->id, mef3__strdup(f->given)};
    if (!l[k++].given)
      rc = MEF3_ENOMEM;
  }
  if (!rc) /* one line per file (its first view's path), not per view */
    qsort(l, k, sizeof *l, cmp_listed);
  size_t m = 0;
  for (size_t i = 0; i < k; i++) {
    if (!rc && (i == 0 || strcmp(l[i].real, l[i - 1].real))) {
      l[m++] = l[i]; /* the file's first view: the lowest id */
      continue;
    }
    mef3__free(l[i].given);
  }
  pthread_mutex_unlock(&fm->mu);
  /* Opening order, as the original lists (ids grow with each open, so a
   * file closed and opened again goes last). */
  if (!rc)
    qsort(l, m, sizeof *l, cmp_id);
  for (size_t i = 0; i < m; i++)
    v[i] = l[i].given;
  mef3__free(l);
  if (rc) {
    mef3_files_list_free(v, m);
    return mef3__error(MEF3_ENOMEM, "out of memory");
  }
  *out = v;
  *n = m;
  return 0;
}

void mef3_files_list_free(char **paths, size_t n) {
  if (!paths)
    return;
  for (size_t i = 0; i < n; i++)
    mef3__free(paths[i]);
  mef3__free(paths);
}
