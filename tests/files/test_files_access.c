/*
 * tests/files/test_files_access.c - who may read what through the file manager
 * (files.h, Access), on the golden encrypted sessions d_encrypted and
 * d2_encrypted_blocks, in process and through the worker pools:
 *  - every open is checked: no, a wrong, a level-1 and a level-2 password
 *    on a file open already; failures change nothing;
 *  - one view per level: a level-1 and a level-2 holder reading the same
 *    session at once each get exactly what a direct read with their own
 *    password gives, bit for bit (level 1: relative times, ch02 of d2 all
 *    NaN; level 2: absolute times, every sample), and the level-1 view
 *    never changes because a level-2 holder came;
 *  - tokens: required on every call of a view opened with a password,
 *    one file's token opens no other, garbage is refused, a token dies
 *    with its view's close and a reopened view has a new one;
 *  - a session without encryption works by path alone;
 *  - no password or token in any log line or error message.
 */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "check.h"
#include "files/files_impl.h"
#include "testutil.h"

#define D1 "sessions/d_encrypted.mefd"
#define D2 "sessions/d2_encrypted_blocks.mefd"
static const int64_t L2_START = 1600000000000000;
static const int64_t L1_START = 3600000123; /* the golden's L1 view */

static char d1[4096], d2[4096], plain[4096];

/* ---- log capture: nothing secret may appear ---- */

typedef struct {
  pthread_mutex_t mu;
  char secrets[8][64];
  int n_secrets;
  int lines, leaked;
} sink;

static sink logs = {PTHREAD_MUTEX_INITIALIZER, {{0}}, 0, 0, 0};

static void add_secret(const char *s) {
  pthread_mutex_lock(&logs.mu);
  if (logs.n_secrets < 8 && *s)
    snprintf(logs.secrets[logs.n_secrets++], 64, "%s", s);
  pthread_mutex_unlock(&logs.mu);
}

static int has_secret(const char *msg) {
  int bad = 0;
  pthread_mutex_lock(&logs.mu);
  for (int i = 0; i < logs.n_secrets; i++)
    bad |= strstr(msg, logs.secrets[i]) != NULL;
  pthread_mutex_unlock(&logs.mu);
  return bad;
}

static void on_log(mef3_log_level lv, const char *msg, void *payload) {
  (void)lv;
  (void)payload;
  int bad = has_secret(msg);
  pthread_mutex_lock(&logs.mu);
  logs.lines++;
  logs.leaked += bad;
  pthread_mutex_unlock(&logs.mu);
  if (bad)
    fprintf(stderr, "secret in a log line: %s\n", msg);
}

/* The last error names no secret. */
#define CHECK_CLEAN() CHECK(!has_secret(mef3_error_last()->message))

static mef3_files *new_fm(int pool) {
  mef3_files_options o = MEF3_FILES_OPTIONS_INIT;
  o.use_process_pool = pool;
  o.reader_processes = 3;
  o.prefetch_processes = 1;
  o.min_parallel_tiles = 1;
  o.tile_duration_s = 7.0;
  o.cache_ttl_s = 0;
  o.log = on_log;
  mef3_files *fm = NULL;
  CHECK_RC(mef3_files_new(&fm, &o), 0);
  REQUIRE(fm);
  return fm;
}

/* ---- a view against direct reads with the same password ---- */

typedef struct {
  mef3_files *fm;
  const char *path, *pw, *token;
  int level;
  int rounds;
  int failures; /* windows that differ, or failed */
  size_t nan_rows, data_rows;
} viewer;

/* Read every channel of the view in windows and compare each with a
 * direct reader read with the viewer's password. */
static void *view_all(void *arg) {
  viewer *v = arg;
  mef3_reader_options ro = MEF3_READER_OPTIONS_INIT;
  ro.password = v->pw;
  mef3_reader *r = NULL;
  if (mef3_reader_open(&r, v->path, &ro)) {
    v->failures++;
    return NULL;
  }
  mef3_file_info *fi = NULL;
  if (mef3_files_info_as(&fi, v->fm, v->path, v->token) ||
      fi->access_level != v->level ||
      fi->n_channels != mef3_reader_channel_count(r)) {
    v->failures++;
    mef3_file_info_free(fi);
    mef3_reader_close(r);
    return NULL;
  }
  for (int round = 0; round < v->rounds; round++)
    for (size_t ch = 0; ch < fi->n_channels; ch++) {
      const mef3_channel_info *ci = mef3_reader_channel(r, ch);
      const char *names[1] = {ci->name};
      /* three windows on the grid: start, middle, the last 10 s */
      int64_t len = 10000000, k = ci->n_samples / 2;
      int64_t starts[3] = {
          ci->start_uutc,
          ci->start_uutc + (int64_t)llround((double)k * 1e6 / ci->fs),
          ci->start_uutc + (int64_t)llround((double)(ci->n_samples -
                                                     (int64_t)(10 * ci->fs)) *
                                            1e6 / ci->fs)};
      for (int w = 0; w < 3; w++) {
        int64_t t0 = starts[w], t1 = t0 + len;
        size_t n = (size_t)mef3_window_samples(t0, t1, ci->fs), got = 0;
        float *want = malloc(n * sizeof *want);
        mef3_signal *s = NULL;
        int ok = want &&
                 mef3_files_read_as(&s, v->fm, v->path, v->token, names, 1, t0,
                                    t1) == 0 &&
                 mef3_reader_read_time(&got, NULL, r, ch, t0, t1, MEF3_F32,
                                       want, n, NULL) == 0 &&
                 got == n && s->n_samples == n;
        size_t nan = 0;
        for (size_t i = 0; ok && i < n; i++) {
          if (isnan(want[i]) && isnan(s->data[i])) {
            nan++;
            continue;
          }
          ok = memcmp(&want[i], &s->data[i], sizeof *want) == 0;
        }
        if (!ok) {
          v->failures++;
          fprintf(stderr, "%s level %d %s [%lld, %lld): differs or failed\n",
                  v->path, v->level, ci->name, (long long)t0, (long long)t1);
        }
        if (nan == n)
          v->nan_rows++;
        else
          v->data_rows++;
        mef3_signal_free(s);
        free(want);
      }
    }
  mef3_file_info_free(fi);
  mef3_reader_close(r);
  return NULL;
}

/* Every way in to one session, with `fm` fresh. */
static void check_session(int pool, const char *path, int blocks_encrypted) {
  mef3_files *fm = new_fm(pool);
  mef3_files_access a1, a2, a;
  int already = -1;
  mef3_files_stats st;

  /* nothing open: no password, a wrong one */
  CHECK_RC(mef3_files_open_as(&a, NULL, fm, path, NULL), MEF3_EPASSWORD);
  CHECK_RC(mef3_files_open_as(&a, NULL, fm, path, "WRONGpw"), MEF3_EPASSWORD);
  CHECK_CLEAN();

  /* level 1 first */
  CHECK_RC(mef3_files_open_as(&a1, &already, fm, path, "l1pass"), 0);
  CHECK(already == 0 && a1.level == 1 &&
        strlen(a1.token) == MEF3_FILES_TOKEN_CHARS);
  add_secret(a1.token);

  /* the same session again: every open checked, nothing changes */
  CHECK_RC(mef3_files_open_as(&a, &already, fm, path, "WRONGpw"),
           MEF3_EPASSWORD);
  CHECK(already == 0 && a.token[0] == '\0');
  CHECK_CLEAN();
  CHECK_RC(mef3_files_open_as(&a, &already, fm, path, NULL), MEF3_EPASSWORD);
  CHECK(a.token[0] == '\0');
  CHECK_RC(mef3_files_open_as(&a, NULL, fm, path, ""), MEF3_EPASSWORD);
  mef3_files_get_stats(&st, fm);
  CHECK(st.open_files == 1);
  CHECK_RC(mef3_files_open_as(&a, &already, fm, path, "l1pass"), 0);
  CHECK(already == 1 && a.level == 1 && !strcmp(a.token, a1.token));

  /* a call without the token, with garbage, with the wrong length */
  mef3_file_info *fi = NULL;
  CHECK_RC(mef3_files_info_as(&fi, fm, path, NULL), MEF3_EPASSWORD);
  CHECK(fi == NULL);
  CHECK_RC(mef3_files_info(&fi, fm, path), MEF3_EPASSWORD);
  const char *c1[] = {"ch01"};
  mef3_signal *s = NULL;
  CHECK_RC(mef3_files_read(&s, fm, path, c1, 1, L1_START, L1_START + 1000000),
           MEF3_EPASSWORD);
  CHECK(s == NULL);
  char bad[MEF3_FILES_TOKEN_CHARS + 1];
  memcpy(bad, a1.token, sizeof bad);
  bad[5] = bad[5] == '0' ? '1' : '0';
  add_secret(bad);
  CHECK_RC(mef3_files_info_as(&fi, fm, path, bad), MEF3_EPASSWORD);
  CHECK_CLEAN();
  CHECK_RC(mef3_files_info_as(&fi, fm, path, "zz"), MEF3_EPASSWORD);
  CHECK_RC(mef3_files_read_as(&s, fm, path, bad, c1, 1, L1_START,
                              L1_START + 1000000),
           MEF3_EPASSWORD);
  CHECK_RC(mef3_files_close_as(fm, path, NULL), MEF3_EPASSWORD);
  CHECK_RC(mef3_files_close_as(fm, path, bad), MEF3_EPASSWORD);
  CHECK_CLEAN();

  CHECK_RC(mef3_files_info_as(&fi, fm, path, a1.token), 0);
  REQUIRE(fi);
  CHECK(fi->access_level == 1 && fi->times_relative == 1 &&
        fi->start_uutc == L1_START);
  mef3_file_info_free(fi);

  /* level 2 comes: its own view, the level-1 view unchanged */
  CHECK_RC(mef3_files_open_as(&a2, &already, fm, path, "l2pass"), 0);
  CHECK(already == 0 && a2.level == 2 &&
        strlen(a2.token) == MEF3_FILES_TOKEN_CHARS &&
        strcmp(a2.token, a1.token));
  add_secret(a2.token);
  CHECK_RC(mef3_files_info_as(&fi, fm, path, a2.token), 0);
  REQUIRE(fi);
  CHECK(fi->access_level == 2 && fi->times_relative == 0 &&
        fi->start_uutc == L2_START);
  mef3_file_info_free(fi);
  CHECK_RC(mef3_files_info_as(&fi, fm, path, a1.token), 0);
  REQUIRE(fi);
  CHECK(fi->access_level == 1 && fi->times_relative == 1 &&
        fi->start_uutc == L1_START);
  mef3_file_info_free(fi);
  char **list;
  size_t n;
  CHECK_RC(mef3_files_list(&list, &n, fm), 0);
  CHECK(n == 1 && !strcmp(list[0], path)); /* one file, two views */
  mef3_files_list_free(list, n);

  /* both read at once, each bit for bit its own direct read */
  viewer v1 = {fm, path, "l1pass", a1.token, 1, 3, 0, 0, 0};
  viewer v2 = {fm, path, "l2pass", a2.token, 2, 3, 0, 0, 0};
  pthread_t t1, t2;
  REQUIRE(pthread_create(&t1, NULL, view_all, &v1) == 0);
  REQUIRE(pthread_create(&t2, NULL, view_all, &v2) == 0);
  pthread_join(t1, NULL);
  pthread_join(t2, NULL);
  CHECK_MSG(v1.failures == 0 && v2.failures == 0, "%s: %d and %d failures",
            path, v1.failures, v2.failures);
  /* d2: ch02's blocks are level 2, so its level-1 rows are NaN */
  CHECK(v2.nan_rows == 0 && v2.data_rows > 0);
  CHECK(v1.data_rows > 0);
  CHECK(blocks_encrypted ? v1.nan_rows == v1.data_rows : v1.nan_rows == 0);
  mef3__files_prefetch_wait(fm);
  mef3_files_get_stats(&st, fm);
  CHECK(st.open_files == 2);
  if (pool)
    CHECK(st.pool_tiles > 0);

  /* the level-2 view has absolute times: at the level-1 view's times it
   * holds nothing (the views share no tiles) */
  CHECK_RC(mef3_files_read_as(&s, fm, path, a2.token, c1, 1, L1_START,
                              L1_START + 1000000),
           0);
  int all_nan = s != NULL;
  for (size_t i = 0; s && i < s->n_samples; i++)
    all_nan &= isnan(s->data[i]);
  CHECK(all_nan);
  mef3_signal_free(s);

  /* close: level 1 only; its token is dead, level 2 goes on */
  CHECK_RC(mef3_files_close_as(fm, path, a1.token), 0);
  CHECK_RC(mef3_files_info_as(&fi, fm, path, a1.token), MEF3_EPASSWORD);
  CHECK_RC(mef3_files_read_as(&s, fm, path, a1.token, c1, 1, L1_START,
                              L1_START + 1000000),
           MEF3_EPASSWORD);
  CHECK_RC(mef3_files_close_as(fm, path, a1.token), MEF3_EPASSWORD);
  CHECK_RC(mef3_files_info_as(&fi, fm, path, a2.token), 0);
  CHECK(fi && fi->access_level == 2);
  mef3_file_info_free(fi);
  /* reopened: a new token, the old one still dead */
  mef3_files_access a1b;
  CHECK_RC(mef3_files_open_as(&a1b, &already, fm, path, "l1pass"), 0);
  CHECK(already == 0 && a1b.level == 1 && strcmp(a1b.token, a1.token));
  add_secret(a1b.token);
  CHECK_RC(mef3_files_info_as(&fi, fm, path, a1.token), MEF3_EPASSWORD);
  CHECK_RC(mef3_files_info_as(&fi, fm, path, a1b.token), 0);
  CHECK(fi && fi->access_level == 1);
  mef3_file_info_free(fi);
  viewer v1b = {fm, path, "l1pass", a1b.token, 1, 1, 0, 0, 0};
  view_all(&v1b);
  CHECK(v1b.failures == 0);
  CHECK_RC(mef3_files_close_as(fm, path, a2.token), 0);
  CHECK_RC(mef3_files_close_as(fm, path, a1b.token), 0);
  mef3_files_get_stats(&st, fm);
  CHECK(st.open_files == 0 && st.tiles == 0);
  mef3_files_free(fm);
}

/* Tokens of one file open no other; a plain session needs none. */
static void check_across_files(int pool) {
  mef3_files *fm = new_fm(pool);
  mef3_files_access a, b, p;
  CHECK_RC(mef3_files_open_as(&a, NULL, fm, d1, "l1pass"), 0);
  CHECK_RC(mef3_files_open_as(&b, NULL, fm, d2, "l1pass"), 0);
  add_secret(a.token);
  add_secret(b.token);
  CHECK(strcmp(a.token, b.token));
  mef3_file_info *fi = NULL;
  CHECK_RC(mef3_files_info_as(&fi, fm, d2, a.token), MEF3_EPASSWORD);
  CHECK_RC(mef3_files_info_as(&fi, fm, d1, b.token), MEF3_EPASSWORD);
  CHECK_RC(mef3_files_close_as(fm, d1, b.token), MEF3_EPASSWORD);
  CHECK_CLEAN();
  CHECK_RC(mef3_files_info_as(&fi, fm, d1, a.token), 0);
  mef3_file_info_free(fi);

  /* plain: level 0, no token, by path alone; a password changes nothing */
  int already = -1;
  CHECK_RC(mef3_files_open_as(&p, &already, fm, plain, NULL), 0);
  CHECK(already == 0 && p.level == 0 && p.token[0] == '\0');
  CHECK_RC(mef3_files_open_as(&p, &already, fm, plain, "anything"), 0);
  CHECK(already == 1 && p.level == 0 && p.token[0] == '\0');
  CHECK_RC(mef3_files_info(&fi, fm, plain), 0);
  CHECK(fi && fi->access_level == 0);
  const char *c1[] = {"ch01"};
  mef3_signal *s = NULL;
  CHECK_RC(mef3_files_read(&s, fm, plain, c1, 1, fi->start_uutc,
                           fi->start_uutc + 1000000),
           0);
  mef3_signal_free(s);
  mef3_file_info_free(fi);
  /* another file's token does not reach the plain one's view either */
  CHECK_RC(mef3_files_info_as(&fi, fm, plain, a.token), MEF3_EPASSWORD);
  CHECK_RC(mef3_files_close(fm, plain), 0);
  CHECK_RC(mef3_files_close(fm, d1), MEF3_EPASSWORD);
  mef3_files_free(fm);
}

int main(void) {
  if (!tu_have_golden()) {
    fprintf(stderr, "golden folder missing\n");
    return 1;
  }
  snprintf(d1, sizeof d1, "%s", tu_golden(D1));
  snprintf(d2, sizeof d2, "%s", tu_golden(D2));
  snprintf(plain, sizeof plain, "%s",
           tu_golden("sessions/a_single_256hz.mefd"));
  add_secret("l1pass");
  add_secret("l2pass");
  add_secret("WRONGpw");
  for (int pool = 0; pool < 2; pool++) {
    check_session(pool, d1, 0);
    check_session(pool, d2, 1);
    check_across_files(pool);
  }
  CHECK(logs.lines > 0);
  CHECK(logs.leaked == 0);
  return check_finish();
}
