/* tests/testutil.c - helpers shared by the test programs. */
#include "testutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/wait.h>

#include "check.h"
#include "rpc/call.h"

void *tu_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  if (buf) {
    buf[n] = '\0';
    if (len)
      *len = (size_t)n;
  }
  return buf;
}

cJSON *tu_read_json(const char *path) {
  char *s = tu_read_file(path, NULL);
  if (!s)
    return NULL;
  cJSON *j = cJSON_Parse(s);
  free(s);
  return j;
}

const char *tu_golden(const char *rel) {
  static char buf[4][4096];
  static int slot;
  char *b = buf[slot++ & 3];
  snprintf(b, 4096, "%s/%s", MEF3_GOLDEN_DIR, rel);
  return b;
}

int tu_system(const char *fmt, ...) {
  char cmd[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  int st = system(cmd);
  if (st == -1)
    return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

const char *tu_scratch(const char *tag) {
  static char buf[4][4096];
  static int slot;
  char *b = buf[slot++ & 3];
  const char *test = getenv("MEF3_TEST_NAME");
  snprintf(b, 4096, "%s/%s-%s", MEF3_TEST_TMP, test ? test : "test", tag);
  tu_system("rm -rf '%s' && mkdir -p '%s'", b, b);
  return b;
}

int tu_copy_tree(const char *from, const char *to) {
  return tu_system("cp -a '%s' '%s'", from, to);
}

int tu_have_golden(void) {
  struct stat st;
  return stat(MEF3_GOLDEN_DIR, &st) == 0;
}

/* Open descriptors, and those that are memfds. */
int tu_fds(int *memfds) {
  DIR *d = opendir("/proc/self/fd");
  int n = 0, m = 0;
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    char path[300], link[512];
    snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
    ssize_t k = readlink(path, link, sizeof link - 1);
    if (k < 0)
      continue; /* the DIR's own, gone */
    link[k] = '\0';
    n++;
    m += strncmp(link, "/memfd:", 7) == 0;
  }
  if (d)
    closedir(d);
  if (memfds)
    *memfds = m;
  return n - 1; /* the DIR's own descriptor */
}

int tu_children(int *out, int cap) {
  DIR *d = opendir("/proc");
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d))) {
    char *end;
    long pid = strtol(e->d_name, &end, 10);
    if (*end || pid <= 0)
      continue;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
      continue;
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[k] = '\0';
    char *rp = strrchr(buf, ')');
    int ppid = 0;
    char st;
    if (rp && sscanf(rp + 2, "%c %d", &st, &ppid) == 2 && ppid == getpid()) {
      if (out && n < cap)
        out[n] = (int)pid;
      n++;
    }
  }
  if (d)
    closedir(d);
  return n;
}

int tu_memfd_maps(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[4096];
  int n = 0;
  while (f && fgets(line, sizeof line, f))
    n += strstr(line, " /memfd:mef3pool-") != NULL;
  if (f)
    fclose(f);
  return n;
}

int tu_rpc_unary(const char *addr, const char *method, const void *req,
                 size_t n, const char *token, void **reply,
                 size_t *reply_len) {
  *reply = NULL;
  *reply_len = 0;
  grpc_init();
  grpc_channel_credentials *cred = grpc_insecure_credentials_create();
  grpc_channel *ch = grpc_channel_create(addr, cred, NULL);
  grpc_channel_credentials_release(cred);
  grpc_slice body = grpc_slice_from_copied_buffer(req, n);
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&body, 1), *in = NULL;
  grpc_slice_unref(body);
  mef3__rpc_md md = {MEF3_RPC_TOKEN_KEY, token};
  mef3__rpc_call c;
  grpc_status_code st = GRPC_STATUS_UNKNOWN;
  if (!mef3__rpc_call_begin(&c, ch, method, mef3__rpc_deadline(20000), &md,
                            token ? 1 : 0, bb, &in) &&
      !mef3__rpc_call_end(&c, NULL))
    st = c.status;
  if (in) {
    grpc_byte_buffer_reader rd;
    if (grpc_byte_buffer_reader_init(&rd, in)) {
      grpc_slice s = grpc_byte_buffer_reader_readall(&rd);
      grpc_byte_buffer_reader_destroy(&rd);
      *reply_len = GRPC_SLICE_LENGTH(s);
      *reply = malloc(*reply_len ? *reply_len : 1);
      if (*reply)
        memcpy(*reply, GRPC_SLICE_START_PTR(s), *reply_len);
      grpc_slice_unref(s);
    }
    grpc_byte_buffer_destroy(in);
  }
  grpc_byte_buffer_destroy(bb);
  mef3__rpc_call_dispose(&c);
  grpc_channel_destroy(ch);
  grpc_shutdown();
  return (int)st;
}
