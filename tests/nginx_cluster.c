/*
 * tests/nginx_cluster.c - nodes and nginx on loopback for the deployment
 * test and the proxy benchmark (nginx_cluster.h).
 *
 * Processes are started with posix_spawn, stdout to /dev/null and stderr
 * to a file of their own, and reaped by the caller through nc_stop_pid.
 * Ports: each node picks a free one itself (--port=0, read back from its
 * port file); nginx gets a port that was free a moment before it binds
 * it, and a clash (nginx exits) makes nc_start_nginx try another.
 */
#include "nginx_cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

void nc_sleep_ms(int ms) {
  struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000};
  nanosleep(&t, NULL);
}

int nc_find_nginx(nc_cluster *c) {
  static const char *const cands[] = {"/usr/sbin/nginx", "/usr/bin/nginx",
                                      "/usr/local/sbin/nginx"};
  for (size_t i = 0; i < sizeof cands / sizeof *cands; i++)
    if (access(cands[i], X_OK) == 0) {
      snprintf(c->nginx_bin, sizeof c->nginx_bin, "%s", cands[i]);
      return 0;
    }
  return -1;
}

static pid_t spawn(const char *const *argv, const char *err_path) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, err_path,
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc ? -1 : pid;
}

static int read_port(const char *path) {
  FILE *f = fopen(path, "r");
  int port = 0;
  if (f) {
    if (fscanf(f, "%d", &port) != 1)
      port = 0;
    fclose(f);
  }
  return port;
}

int nc_start_node(nc_cluster *c, const char *cli, const char *root,
                  const char *const *extra, int http) {
  if (c->n_nodes >= NC_MAX_NODES)
    return -1;
  int k = c->n_nodes;
  nc_node *n = &c->nodes[k];
  memset(n, 0, sizeof *n);
  /* (built in locals: the node lies inside *c, which GCC's -Wrestrict
   * takes for an overlap of source and destination) */
  char dir[sizeof n->dir], log[sizeof n->log];
  snprintf(dir, sizeof dir, "%s/node%d", c->work, k);
  mkdir(dir, 0755);
  char port_file[PATH_MAX + 48], http_file[PATH_MAX + 48], err[PATH_MAX + 48];
  snprintf(port_file, sizeof port_file, "%s/port", dir);
  snprintf(http_file, sizeof http_file, "%s/http_port", dir);
  snprintf(log, sizeof log, "%s/server.log", dir);
  snprintf(err, sizeof err, "%s/stderr", dir);
  memcpy(n->dir, dir, sizeof dir);
  memcpy(n->log, log, sizeof log);
  unlink(port_file);
  unlink(http_file);
  const char *argv[64];
  int a = 0;
  argv[a++] = cli;
  argv[a++] = "serve";
  argv[a++] = "--port=0";
  argv[a++] = "--bind=127.0.0.1";
  argv[a++] = "--port-file";
  argv[a++] = port_file;
  argv[a++] = "--log-file";
  argv[a++] = n->log;
  argv[a++] = "--root";
  argv[a++] = root;
  if (http) {
    argv[a++] = "--http-port=0";
    argv[a++] = "--http-port-file";
    argv[a++] = http_file;
  }
  for (int i = 0; extra && extra[i] && a < 63; i++)
    argv[a++] = extra[i];
  argv[a] = NULL;
  if ((n->pid = spawn(argv, err)) < 0)
    return -1;
  for (int i = 0; i < 600; i++) {
    /* The HTTP port file is written with the gRPC one, after both bind. */
    if ((n->port = read_port(port_file)) > 0 &&
        (!http || (n->http_port = read_port(http_file)) > 0)) {
      snprintf(n->addr, sizeof n->addr, "127.0.0.1:%d", n->port);
      n->alive = 1;
      c->n_nodes++;
      return 0;
    }
    if (waitpid(n->pid, NULL, WNOHANG) == n->pid)
      return -1;
    nc_sleep_ms(100);
  }
  nc_stop_pid(n->pid, SIGKILL);
  return -1;
}

void nc_stop_pid(pid_t pid, int sig) {
  if (pid <= 0)
    return;
  kill(pid, sig);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
    ;
}

int nc_stop_all(nc_cluster *c) {
  nc_stop_pid(c->nginx_pid, SIGTERM);
  c->nginx_pid = 0;
  int bad = 0;
  for (int k = 0; k < c->n_nodes; k++) {
    nc_node *n = &c->nodes[k];
    if (!n->alive)
      continue;
    int st = -1;
    kill(n->pid, SIGTERM);
    while (waitpid(n->pid, &st, 0) < 0 && errno == EINTR)
      ;
    n->alive = 0;
    bad += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  return bad;
}

/* A port free right now on 127.0.0.1. */
static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int port = -1;
  if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof a) &&
      !getsockname(fd, (struct sockaddr *)&a, &len))
    port = ntohs(a.sin_port);
  if (fd >= 0)
    close(fd);
  return port;
}

static int connect_loopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a)) {
    close(fd);
    fd = -1;
  }
  return fd;
}

/*
 * The configuration of docs/deploy.md with this cluster's paths and
 * ports.  With affinity, requests with the header go by a consistent hash
 * of it; those without (the original's clients) by their connection, so
 * one client's OpenFile and reads meet on one node.  A node that refuses
 * or breaks a call is left alone for 30 s and the call tried on the next
 * node.  The access log names the upstream of every call.
 */
static int write_conf(const nc_cluster *c, const char *conf, int port,
                      nc_balance b) {
  FILE *f = fopen(conf, "w");
  if (!f)
    return -1;
  const char *w = c->work;
  fprintf(f,
          "daemon off;\nmaster_process off;\nworker_processes 1;\n"
          "pid \"%s/nginx.pid\";\nerror_log \"%s/error.log\" info;\n"
          "events { worker_connections 512; }\n"
          "http {\n"
          "  client_body_temp_path \"%s/tmp/body\";\n"
          "  proxy_temp_path \"%s/tmp/proxy\";\n"
          "  fastcgi_temp_path \"%s/tmp/fastcgi\";\n"
          "  uwsgi_temp_path \"%s/tmp/uwsgi\";\n"
          "  scgi_temp_path \"%s/tmp/scgi\";\n"
          "  log_format mef3 '$upstream_addr|$http_x_mef3_session|"
          "$remote_port|$status|$request_uri';\n"
          "  access_log \"%s/access.log\" mef3;\n"
          "  map $http_x_mef3_session $mef3_affinity {\n"
          "    \"\" $remote_addr:$remote_port;\n"
          "    default $http_x_mef3_session;\n"
          "  }\n"
          "  upstream mef3pool {\n",
          w, w, w, w, w, w, w, w);
  if (b == NC_AFFINITY)
    fprintf(f, "    hash $mef3_affinity consistent;\n");
  for (int k = 0; k < c->n_nodes; k++)
    fprintf(f, "    server %s max_fails=1 fail_timeout=30s;\n",
            c->nodes[k].addr);
  fprintf(f,
          "    keepalive 32;\n"
          "  }\n"
          "  server {\n"
          "    listen 127.0.0.1:%d http2;\n"
          "    location / {\n"
          "      grpc_pass grpc://mef3pool;\n"
          "      grpc_next_upstream error timeout http_502 http_503;\n"
          "      grpc_next_upstream_tries 3;\n"
          "      grpc_connect_timeout 2s;\n"
          "      grpc_read_timeout 60s;\n"
          "      grpc_send_timeout 60s;\n"
          "      error_page 502 503 504 = @mef3_unavailable;\n"
          "    }\n"
          "    location @mef3_unavailable {\n"
          "      default_type application/grpc;\n"
          "      add_header grpc-status 14 always;\n"
          "      add_header grpc-message \"no mef3pool node could answer\" "
          "always;\n"
          "      return 204;\n"
          "    }\n"
          "  }\n"
          "}\n",
          port);
  return fclose(f);
}

static void copy_to_stderr(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f)
    return;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0)
    fwrite(buf, 1, n, stderr);
  fclose(f);
}

int nc_start_nginx(nc_cluster *c, nc_balance b) {
  char conf[PATH_MAX + 16], err[PATH_MAX + 16], tmp[PATH_MAX + 16],
      errlog[PATH_MAX + 16];
  snprintf(conf, sizeof conf, "%s/nginx.conf", c->work);
  snprintf(err, sizeof err, "%s/nginx.stderr", c->work);
  snprintf(tmp, sizeof tmp, "%s/tmp", c->work);
  snprintf(errlog, sizeof errlog, "%s/error.log", c->work);
  mkdir(tmp, 0700);
  for (int attempt = 0; attempt < 5; attempt++) {
    int port = free_port();
    if (port <= 0 || write_conf(c, conf, port, b))
      return -1;
    /* -e: nginx's own start-up messages go to the work folder too, not
     * to /var/log/nginx (not writable by an ordinary user). */
    const char *argv[] = {c->nginx_bin, "-p", c->work, "-c",
                          conf,         "-e", errlog,  NULL};
    if ((c->nginx_pid = spawn(argv, err)) < 0)
      return -1;
    for (int i = 0; i < 300; i++) {
      int fd = connect_loopback(port);
      if (fd >= 0) {
        close(fd);
        snprintf(c->proxy, sizeof c->proxy, "127.0.0.1:%d", port);
        return 0;
      }
      if (waitpid(c->nginx_pid, NULL, WNOHANG) == c->nginx_pid) {
        c->nginx_pid = 0;
        break;
      }
      nc_sleep_ms(50);
    }
    if (c->nginx_pid) {
      nc_stop_pid(c->nginx_pid, SIGKILL);
      c->nginx_pid = 0;
    }
    copy_to_stderr(err);
    copy_to_stderr(errlog);
  }
  return -1;
}

/* The unsigned number after "\"key\":" in a JSON text, or -1. */
static int json_u64(const char *t, const char *key, unsigned long long *out) {
  char k[64];
  snprintf(k, sizeof k, "\"%s\":", key);
  const char *p = strstr(t, k);
  if (!p)
    return -1;
  char *end;
  *out = strtoull(p + strlen(k), &end, 10);
  return end == p + strlen(k) ? -1 : 0;
}

int nc_node_cache_stats(nc_cache_stats *out, const nc_node *n) {
  int fd = n->http_port > 0 ? connect_loopback(n->http_port) : -1;
  if (fd < 0)
    return -1;
  static const char req[] =
      "GET /api/stats HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  char buf[8192];
  size_t len = 0;
  ssize_t r;
  int rc = write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1) ? 0 : -1;
  /* HTTP/1.0: the reply ends where the server closes the connection. */
  while (!rc && len < sizeof buf - 1 &&
         (r = read(fd, buf + len, sizeof buf - 1 - len)) != 0) {
    if (r < 0 && errno != EINTR)
      rc = -1;
    else if (r > 0)
      len += (size_t)r;
  }
  close(fd);
  buf[len] = '\0';
  const char *body = strstr(buf, "\r\n\r\n");
  if (rc || strncmp(buf, "HTTP/1.", 7) || strncmp(buf + 8, " 200", 4) ||
      !body || json_u64(body, "reads", &out->reads) ||
      json_u64(body, "hits", &out->hits) ||
      json_u64(body, "misses", &out->misses) ||
      json_u64(body, "prefetched", &out->prefetched))
    return -1;
  return 0;
}
