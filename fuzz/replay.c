/*
 * fuzz/replay.c - runs a fuzz target over a committed corpus without
 * libFuzzer, so that CTest replays every input in an ordinary build (and
 * under ASan+UBSan with -DMEF3_SANITIZE=ON).
 *
 * Usage: fuzz_X DIR_OR_FILE...  Every regular file of each directory
 * (sorted by name, not recursive) and every file named is passed to
 * LLVMFuzzerTestOneInput once.  A corpus that cannot be read or holds no
 * input is a failure, so a missing corpus does not pass silently; a crash
 * is a crash.
 * fuzz_X --random COUNT SEED [MAXLEN]: COUNT inputs of random bytes and
 * random lengths 1 to MAXLEN (default 8192) from a generator seeded with
 * SEED, the same inputs on every run.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "%s: cannot open\n", path);
    return -1;
  }
  uint8_t *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len == cap) {
      cap = cap ? cap * 2 : 65536;
      uint8_t *nb = realloc(buf, cap);
      if (!nb) {
        free(buf);
        fclose(f);
        return -1;
      }
      buf = nb;
    }
    size_t k = fread(buf + len, 1, cap - len, f);
    if (k == 0)
      break;
    len += k;
  }
  fclose(f);
  /* An exact-size copy, so that ASan sees reads past the input's end. */
  uint8_t *in = malloc(len ? len : 1);
  if (!in) {
    free(buf);
    return -1;
  }
  if (len)
    memcpy(in, buf, len);
  free(buf);
  LLVMFuzzerTestOneInput(in, len);
  free(in);
  return 0;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir, size_t *count) {
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(stderr, "%s: cannot open directory\n", dir);
    return -1;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      char **nn = realloc(names, cap * sizeof *nn);
      if (!nn)
        break;
      names = nn;
    }
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  if (n)
    qsort(names, n, sizeof *names, cmp_names);
  int rc = 0;
  for (size_t i = 0; i < n; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
      if (run_file(path) != 0)
        rc = -1;
      else
        (*count)++;
    }
    free(names[i]);
  }
  free(names);
  return rc;
}

/* Inputs made by xorshift64* from `seed`: repeatable random tests. */
static int run_random(long count, uint64_t seed, size_t maxlen) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (long i = 0; i < count; i++) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    size_t len = 1 + (size_t)((x * 2685821657736338717ull) >> 33) % maxlen;
    uint8_t *in = malloc(len);
    if (!in)
      return 1;
    for (size_t k = 0; k < len; k++) {
      x ^= x >> 12;
      x ^= x << 25;
      x ^= x >> 27;
      in[k] = (uint8_t)((x * 2685821657736338717ull) >> 56);
    }
    LLVMFuzzerTestOneInput(in, len);
    free(in);
  }
  printf("ran %ld random inputs (seed %llu)\n", count,
         (unsigned long long)seed);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "--random") == 0) {
    long count = strtol(argv[2], NULL, 10);
    size_t maxlen = argc >= 5 ? (size_t)strtoul(argv[4], NULL, 10) : 8192;
    if (count <= 0 || maxlen == 0) {
      fprintf(stderr, "usage: %s --random COUNT SEED [MAXLEN]\n", argv[0]);
      return 2;
    }
    return run_random(count, strtoull(argv[3], NULL, 10), maxlen);
  }
  if (argc < 2) {
    fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
    return 2;
  }
  size_t count = 0;
  int rc = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "%s: no such file or directory\n", argv[i]);
      rc = -1;
    } else if (S_ISDIR(st.st_mode)) {
      rc |= run_dir(argv[i], &count);
    } else if (run_file(argv[i]) == 0) {
      count++;
    } else {
      rc = -1;
    }
  }
  printf("replayed %zu inputs\n", count);
  if (count == 0) {
    fprintf(stderr, "no inputs replayed\n");
    return 1;
  }
  return rc ? 1 : 0;
}
