/*
 * test_files_tar - a session packed as an uncompressed tar read through
 * every layer above the reader: the file manager in process and with its
 * reader process pool (workers open the archive themselves), the gRPC
 * server and our client, and `mef3pool read`; each equal bit for bit to
 * the same read of the session directory.
 */
#include <signal.h>

#include "golden_check.h"
#include "server_helper.h"

static char root[2048], dir[4096], tarp[4096];

static mef3_files *manager(int pool) {
  mef3_files_options o = MEF3_FILES_OPTIONS_INIT;
  o.use_process_pool = pool;
  o.reader_processes = 2;
  o.prefetch_processes = 1;
  o.min_parallel_tiles = 1;
  o.tile_duration_s = 7.0;
  mef3_files *fm = NULL;
  REQUIRE(mef3_files_new(&fm, &o) == 0);
  return fm;
}

static int same_signal(const mef3_signal *a, const mef3_signal *b) {
  if (a->n_channels != b->n_channels || a->n_samples != b->n_samples ||
      a->fs != b->fs)
    return 0;
  for (size_t c = 0; c < a->n_channels; c++)
    if (strcmp(a->channel_names[c], b->channel_names[c]))
      return 0;
  return !memcmp(a->data, b->data,
                 a->n_channels * a->n_samples * sizeof *a->data);
}

static void check_files(int pool) {
  mef3_files *fm = manager(pool);
  CHECK_RC(mef3_files_open(NULL, fm, dir, NULL), 0);
  CHECK_RC(mef3_files_open(NULL, fm, tarp, NULL), 0);
  mef3_file_info *ia = NULL, *ib = NULL;
  CHECK_RC(mef3_files_info(&ia, fm, dir), 0);
  CHECK_RC(mef3_files_info(&ib, fm, tarp), 0);
  REQUIRE(ia && ib);
  CHECK(ia->n_channels == ib->n_channels && ia->start_uutc == ib->start_uutc &&
        ia->end_uutc == ib->end_uutc);
  for (size_t c = 0; c < ia->n_channels && c < ib->n_channels; c++)
    CHECK(!strcmp(ia->channels[c].name, ib->channels[c].name) &&
          ia->channels[c].n_samples == ib->channels[c].n_samples);
  int64_t t0 = ia->start_uutc;
  /* channels of one rate per read: ch01..ch03 (256 Hz), ch04..ch06 */
  const char *const groups[2][3] = {{"ch01", "ch02", "ch03"},
                                    {"ch04", "ch05", "ch06"}};
  int64_t windows[][2] = {{t0, t0 + 20000000},
                          {t0 + 13000000, t0 + 41000000},
                          {t0 + 50000000, t0 + 70000000}};
  for (int g = 0; g < 2; g++)
    for (int w = 0; w < 3; w++) {
      mef3_signal *sa = NULL, *sb = NULL;
      CHECK_RC(mef3_files_read(&sa, fm, dir, groups[g], 3, windows[w][0],
                               windows[w][1]),
               0);
      CHECK_RC(mef3_files_read(&sb, fm, tarp, groups[g], 3, windows[w][0],
                               windows[w][1]),
               0);
      CHECK_MSG(sa && sb && sa->n_samples > 0 && same_signal(sa, sb),
                "pool %d, group %d, window %d: the archive reads differently",
                pool, g, w);
      mef3_signal_free(sa);
      mef3_signal_free(sb);
    }
  mef3_files_stats st;
  mef3_files_get_stats(&st, fm);
  if (pool)
    CHECK_MSG(st.pool_tiles > 0, "no tile decoded by a worker");
  mef3_file_info_free(ia);
  mef3_file_info_free(ib);
  mef3_files_free(fm);
}

static void check_server(void) {
  th_server srv;
  REQUIRE(th_start(&srv, root, NULL) == 0);
  mef3_client *c = NULL;
  REQUIRE(mef3_client_new(&c, srv.addr, NULL) == 0);
  mef3_file_info *ia = NULL, *ib = NULL;
  CHECK_RC(mef3_client_open(&ia, NULL, c, "b_multi_8ch.mefd", NULL), 0);
  CHECK_RC(mef3_client_open(&ib, NULL, c, "b.mefd.tar", NULL), 0);
  REQUIRE(ia && ib);
  CHECK(ia->n_channels == ib->n_channels && ia->n_channels == 8);
  const char *chs[] = {"ch04", "ch06"};
  mef3_signal *sa = NULL, *sb = NULL;
  int64_t t0 = ia->start_uutc + 3333333;
  CHECK_RC(mef3_client_read(&sa, c, "b_multi_8ch.mefd", chs, 2, t0,
                            t0 + 30000000, NULL, NULL),
           0);
  CHECK_RC(mef3_client_read(&sb, c, "b.mefd.tar", chs, 2, t0, t0 + 30000000,
                            NULL, NULL),
           0);
  CHECK_MSG(sa && sb && sa->n_samples == 30000 && same_signal(sa, sb),
            "the server reads the archive differently");
  mef3_signal_free(sa);
  mef3_signal_free(sb);
  mef3_file_info_free(ia);
  mef3_file_info_free(ib);
  mef3_client_free(c);
  CHECK(th_stop(&srv, SIGTERM) == 0);
  CHECK(th_no_children());
}

static void check_cli(void) {
  CHECK(tu_system("'%s' read '%s' --start 5s --end 25s --format f64 -o "
                  "'%s/dir.f64' && '%s' read '%s' --start 5s --end 25s "
                  "--format f64 -o '%s/tar.f64' && cmp '%s/dir.f64' "
                  "'%s/tar.f64' && test -s '%s/tar.f64'",
                  MEF3_CLI, dir, root, MEF3_CLI, tarp, root, root, root,
                  root) == 0);
  CHECK(tu_system("'%s' records '%s' > '%s/dir.txt' && '%s' records '%s' > "
                  "'%s/tar.txt' && cmp '%s/dir.txt' '%s/tar.txt'",
                  MEF3_CLI, dir, root, MEF3_CLI, tarp, root, root, root) == 0);
}

int main(int argc, char **argv) {
  if (!tu_have_golden()) {
    printf("SKIP: no golden folder at %s\n", MEF3_GOLDEN_DIR);
    return 77;
  }
  /* a folder with a space, holding the session and its archive */
  snprintf(root, sizeof root, "%s/data root", tu_scratch("files"));
  snprintf(dir, sizeof dir, "%s/b_multi_8ch.mefd", root);
  snprintf(tarp, sizeof tarp, "%s/b.mefd.tar", root);
  const char *src = tu_golden("sessions/b_multi_8ch.mefd");
  REQUIRE(tu_system("mkdir -p '%s' && cp -a '%s' '%s' && tar -cf '%s' -C "
                    "'%s' b_multi_8ch.mefd",
                    root, src, dir, tarp, root) == 0);
  check_files(0);
  check_files(1);
  static const check_case cases[] = {
      CASE(check_server),
      CASE(check_cli),
  };
  check_run(argc, argv, cases, sizeof cases / sizeof *cases);
  return check_finish();
}
