/*
 * pool/chantab.c - the per-file channel tables a pool keeps for windows.
 *
 * A window's result is sized by its channels' rates.  The host opens no
 * file, so the first window of a file makes the pool ask a worker for the
 * file's channel table (an INFO job: names and rates, written to shared
 * memory); the windows of that file wait in a list until it comes, then
 * are expanded into their jobs, or fail with the INFO job's error.  A
 * table that did not fit its region is asked for again with the size the
 * worker reported.  Tables stay until the file is forgotten
 * (mef3_pool_forget, set_access) or the pool is freed.
 *
 * Threads: the maps (path -> table, path -> waiting windows) are under
 * the pool lock; an INFO answer is handled on the service thread, which
 * completes the futures it fails with no lock held.
 */
#include <stdio.h>
#include <string.h>

#include "mef3pool/reader.h"
#include "pool/pool_impl.h"
#include "util/alloc.h"
#include "util/error.h"

void mef3__chantab_free(mef3__chantab *t) {
  if (!t)
    return;
  for (size_t i = 0; i < t->n; i++)
    mef3__free(t->names[i]);
  mef3__free(t->names);
  mef3__free(t->fs);
  mef3__free(t);
}

/* The table a worker wrote: a count, then per channel its name, rate and
 * three 64-bit fields the pool does not use. */
static int parse_table(const uint8_t *p, size_t len, mef3__chantab **out) {
  mef3__cur c = {p, len, 0, 0};
  uint32_t n = mef3__cur_u32(&c);
  if (c.bad || n > len)
    return MEF3_ECORRUPT;
  mef3__chantab *t = mef3__calloc(1, sizeof *t);
  if (!t)
    return MEF3_ENOMEM;
  t->names = mef3__calloc(n ? n : 1, sizeof *t->names);
  t->fs = mef3__calloc(n ? n : 1, sizeof *t->fs);
  if (!t->names || !t->fs) {
    mef3__chantab_free(t);
    return MEF3_ENOMEM;
  }
  for (uint32_t i = 0; i < n; i++) {
    const char *name = mef3__cur_str(&c);
    t->fs[i] = mef3__cur_f64(&c);
    mef3__cur_u64(&c);
    mef3__cur_u64(&c);
    mef3__cur_u64(&c);
    if (c.bad || !(t->names[i] = mef3__strdup(name))) {
      t->n = i;
      mef3__chantab_free(t);
      return c.bad ? MEF3_ECORRUPT : MEF3_ENOMEM;
    }
    t->n = i + 1;
  }
  *out = t;
  return 0;
}

const mef3__chantab *mef3__chantab_get_locked(mef3_pool *p, const char *path) {
  return mef3__strmap_get(&p->info, path);
}

int mef3__chantab_samples(const mef3__chantab *t, const mef3_future *f,
                          size_t *n) {
  int64_t nmin = -1;
  for (size_t k = 0; k < f->n_names; k++) {
    size_t i = 0;
    while (i < t->n && strcmp(t->names[i], f->names[k]))
      i++;
    if (i == t->n)
      return mef3__error(MEF3_ENOTFOUND, "%s: no channel named \"%s\"", f->path,
                         f->names[k]);
    int64_t m = mef3_window_samples(f->t0, f->t1, t->fs[i]);
    if (nmin < 0 || m < nmin)
      nmin = m;
  }
  *n = (size_t)(nmin < 0 ? 0 : nmin);
  return 0;
}

int mef3__chantab_wait_locked(mef3_pool *p, mef3_future *f) {
  mef3_future *head = mef3__strmap_get(&p->waiting, f->path);
  if (!head) { /* first window of this file: learn its channels */
    mef3__job *ij =
        mef3__info_job_locked(p, f->path, -1, NULL, MEF3__INFO_BYTES);
    if (!ij)
      return mef3_error_last()->code;
    mef3__enqueue_locked(p, ij);
  }
  f->next_waiting = head;
  if (mef3__strmap_put(&p->waiting, f->path, f, NULL) != 0)
    return mef3__error(MEF3_ENOMEM, "out of memory");
  return 0;
}

int mef3__chantab_unwait_locked(mef3_pool *p, mef3_future *f) {
  if (!f->path)
    return 0;
  mef3_future *head = mef3__strmap_get(&p->waiting, f->path);
  mef3_future **pp = &head;
  while (*pp && *pp != f)
    pp = &(*pp)->next_waiting;
  if (!*pp)
    return 0;
  *pp = f->next_waiting;
  if (head)
    mef3__strmap_put(&p->waiting, f->path, head, NULL);
  else
    mef3__strmap_del(&p->waiting, f->path);
  return 1;
}

mef3_future *mef3__chantab_take_waiting_locked(mef3_pool *p) {
  mef3_future *all = NULL;
  size_t it = 0;
  const char *key;
  void *val;
  while (mef3__strmap_next(&p->waiting, &it, &key, &val)) {
    mef3_future *f = val;
    while (f) {
      mef3_future *nx = f->next_waiting;
      f->next_waiting = all;
      all = f;
      f = nx;
    }
  }
  mef3__strmap_dispose(&p->waiting);
  return all;
}

void mef3__chantab_drop_locked(mef3_pool *p, const char *path) {
  mef3__chantab_free(mef3__strmap_del(&p->info, path));
}

void mef3__chantab_dispose(mef3_pool *p) {
  size_t it = 0;
  const char *key;
  void *val;
  while (mef3__strmap_next(&p->info, &it, &key, &val))
    mef3__chantab_free(val);
  mef3__strmap_dispose(&p->info);
}

/* The table did not fit: ask again with room for `bytes`.  1 when asked,
 * 0 when that failed (the error set). */
static int ask_again(mef3_pool *p, mef3__job *j, uint64_t bytes) {
  pthread_mutex_lock(&p->mu);
  mef3__job *again =
      mef3__info_job_locked(p, j->path, j->target, j->fut, (size_t)bytes);
  if (again)
    mef3__enqueue_locked(p, again);
  pthread_mutex_unlock(&p->mu);
  return again != NULL;
}

/* Expand the windows `w` (a list) that waited for table `t`, or fail them
 * with `rc` and `why` when the table could not be had (pool locked).
 * Returns the ones that failed, each with its status and message set, for
 * the caller to complete with no lock held. */
static mef3_future *expand_waiting_locked(mef3_pool *p, mef3_future *w,
                                          const mef3__chantab *t, int rc,
                                          const char *why) {
  mef3_future *fail = NULL;
  for (mef3_future *f = w, *nx; f; f = nx) {
    nx = f->next_waiting;
    f->next_waiting = NULL;
    int e = rc;
    size_t n;
    if (!e && !(e = mef3__chantab_samples(t, f, &n)))
      e = mef3__expand_window_locked(p, f, n);
    if (e) {
      snprintf(f->message, sizeof f->message, "%s",
               e != rc ? mef3_error_last()->message : why);
      f->status = e;
      f->state = MEF3__FUT_RUNNING;
      f->next_waiting = fail;
      fail = f;
    }
  }
  return fail;
}

void mef3__chantab_info_done(mef3_pool *p, mef3__job *j, int rc, uint64_t bytes,
                             const char *msg) {
  mef3__chantab *t = NULL;
  char buf[512];
  snprintf(buf, sizeof buf, "%s", msg ? msg : "");
  if (rc == MEF3_EBUFSIZE && bytes > j->info_region.len &&
      bytes < ((uint64_t)1 << 30)) {
    if (ask_again(p, j, bytes))
      return;
    rc = mef3_error_last()->code;
    snprintf(buf, sizeof buf, "%s", mef3_error_last()->message);
  }
  if (rc == 0) {
    rc = parse_table(j->info_region.ptr, (size_t)bytes, &t);
    if (rc)
      snprintf(buf, sizeof buf, "%s: %s", j->path,
               rc == MEF3_ENOMEM ? "out of memory for its channel table"
                                 : "malformed channel table from a worker");
  }
  pthread_mutex_lock(&p->mu);
  mef3__chantab *unkept = NULL;
  if (rc == 0) {
    void *old = NULL;
    if (mef3__strmap_put(&p->info, j->path, t, &old) == 0)
      mef3__chantab_free(old);
    else /* no room to keep it: the waiting windows still use it, and
            the next window of this file asks again */
      unkept = t;
  }
  mef3_future *w = mef3__strmap_del(&p->waiting, j->path);
  mef3_future *fail = expand_waiting_locked(p, w, t, rc, buf);
  pthread_mutex_unlock(&p->mu);
  mef3__chantab_free(unkept);
  for (mef3_future *f = fail, *nx; f; f = nx) {
    nx = f->next_waiting;
    char m[512];
    snprintf(m, sizeof m, "%s", f->message);
    mef3__future_complete(p, f, f->status, m);
  }
  if (j->fut)
    mef3__future_complete(p, j->fut, rc, buf);
}
