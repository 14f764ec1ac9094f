/*
 * server/server_unary.c - the unary methods: OpenFile, FileInfo,
 * CloseFile and ListOpenFiles, each one file-manager call and one reply.
 *
 * Work threads; each job answers its call once (mef3__call_finish), with
 * the reply and the status in one batch.  Replies follow the original
 * server: data errors (a file that is not there, not open) travel in
 * error_message with status OK, the rest get the status of the table in
 * rpc.c; a wrong password is PERMISSION_DENIED.  Passwords and tokens
 * never reach a log line or a message; buffers that held a token are
 * wiped.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_impl.h"

/* ---- FileInfoResponse ---- */

typedef struct {
  FileInfoResponse r;
  float *rates;
  double *fs;
  int64_t *starts, *ends, *ns;
  char **names, **units;
} info_reply;

static void info_reply_free(info_reply *ir) {
  free(ir->rates);
  free(ir->fs);
  free(ir->starts);
  free(ir->ends);
  free(ir->ns);
  free(ir->names);
  free(ir->units);
}

/* Fill a reply from `info` (borrowed until the reply is packed). */
static int info_reply_fill(info_reply *ir, const char *path,
                           mef3_file_info *info) {
  memset(ir, 0, sizeof *ir);
  file_info_response__init(&ir->r);
  ir->r.file_path = (char *)path;
  if (!info)
    return 0;
  size_t n = info->n_channels;
  size_t k = n ? n : 1;
  ir->rates = malloc(k * sizeof *ir->rates);
  ir->fs = malloc(k * sizeof *ir->fs);
  ir->starts = malloc(k * sizeof *ir->starts);
  ir->ends = malloc(k * sizeof *ir->ends);
  ir->ns = malloc(k * sizeof *ir->ns);
  ir->names = malloc(k * sizeof *ir->names);
  ir->units = malloc(k * sizeof *ir->units);
  if (!ir->rates || !ir->fs || !ir->starts || !ir->ends || !ir->ns ||
      !ir->names || !ir->units) {
    info_reply_free(ir);
    return MEF3_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    const mef3_file_channel *ch = &info->channels[i];
    ir->names[i] = (char *)ch->name;
    ir->units[i] = (char *)ch->units;
    ir->rates[i] = (float)ch->fs;
    ir->fs[i] = ch->fs;
    ir->starts[i] = ch->start_uutc;
    ir->ends[i] = ch->end_uutc;
    ir->ns[i] = ch->n_samples;
  }
  FileInfoResponse *r = &ir->r;
  r->file_opened = 1;
  r->number_of_channels = (int64_t)n;
  r->n_channel_names = r->n_channel_sampling_rates = r->n_channel_start_uutc =
      r->n_channel_end_uutc = r->n_channel_fs = r->n_channel_n_samples =
          r->n_channel_units = n;
  r->channel_names = ir->names;
  r->channel_sampling_rates = ir->rates;
  r->channel_start_uutc = ir->starts;
  r->channel_end_uutc = ir->ends;
  r->channel_fs = ir->fs;
  r->channel_n_samples = ir->ns;
  r->channel_units = ir->units;
  r->start_uutc = info->start_uutc;
  r->end_uutc = info->end_uutc;
  r->duration_s = info->duration_s;
  r->access_level = info->access_level;
  return 0;
}

/* ---- the methods ---- */

/* Answer with `ir` (carrying rc's name and `msg` when rc is not 0) and the
 * status the table gives rc. */
static void reply_info(mef3__call *c, info_reply *ir, int rc, const char *msg) {
  if (rc) {
    ir->r.error_message = (char *)msg;
    ir->r.error_code = (char *)mef3_errname(rc);
  }
  grpc_byte_buffer *bb = mef3__rpc_pack(&ir->r.base);
  grpc_status_code st = mef3__rpc_status_of(rc);
  if (!bb)
    mef3__call_finish(c, NULL, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  else
    mef3__call_finish(c, bb, st, msg);
}

/*
 * OpenFile, FileInfo or CloseFile of an empty path, or of a path or
 * password holding a NUL byte (which C strings would cut): answered in
 * the reply, file_opened = false and a message, with status OK, as the
 * original answers (its client raises on any other status).  1 when it
 * answered.
 */
static int bad_path_reply(mef3_server *s, mef3__call *c, const char *path) {
  int nul = mef3__rpc_field_has_nul(c->payload, 1);
  /* (a path is cut at its NUL: the message shows what came before) */
  int pw_nul = c->m == MEF3__M_OPEN && mef3__rpc_field_has_nul(c->payload, 2);
  if ((path[0] || c->m == MEF3__M_CLOSE) && !nul && !pw_nul)
    return 0; /* closing "" closes nothing, no error (as the original) */
  char msg[1200];
  const char *why = pw_nul ? "the password holds a NUL byte"
                    : nul  ? "the path holds a NUL byte"
                           : "an empty path";
  if (c->m == MEF3__M_OPEN && pw_nul)
    snprintf(msg, sizeof msg, "Cannot open %s: %s", path, why);
  else
    snprintf(msg, sizeof msg, "%s: %s (%s)",
             c->m == MEF3__M_OPEN ? "File does not exist" : "File not open",
             path, why);
  mef3__server_log(s, MEF3_LOG_WARN, "%s: %s", mef3__method_names[c->m], msg);
  info_reply ir;
  info_reply_fill(&ir, path, NULL);
  if (pw_nul) {
    /* a password that cannot be right is a wrong password: refused with
     * the status of every other (PERMISSION_DENIED), never cut short */
    reply_info(c, &ir, MEF3_EPASSWORD, msg);
    info_reply_free(&ir);
    return 1;
  }
  ir.r.error_message = msg;
  ir.r.error_code = (char *)mef3_errname(MEF3_ENOTFOUND); /* status OK */
  grpc_byte_buffer *bb = mef3__rpc_pack(&ir.r.base);
  if (!bb)
    mef3__call_finish(c, NULL, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  else
    mef3__call_finish(c, bb, GRPC_STATUS_OK, NULL);
  info_reply_free(&ir);
  return 1;
}

/*
 * Open `path` and get its info.  Another client's CloseFile can come
 * between the open and the info (the token then is dead): open again (a
 * few times) rather than fail an open that succeeded with "not open".
 */
static int open_and_info(mef3_server *s, const char *path, const char *pw,
                         mef3_files_access *acc, int *already,
                         mef3_file_info **info) {
  int rc = mef3_files_open_as(acc, already, s->fm, path, pw);
  for (int again = 0;
       !rc &&
       ((rc = mef3_files_info_as(info, s->fm, path, acc->token)) ==
            MEF3_ENOTFOUND ||
        rc == MEF3_EPASSWORD) &&
       again < 8;
       again++)
    rc = mef3_files_open_as(acc, already, s->fm, path, pw);
  return rc;
}

/* The message of a failed open: a path that is not there in the
 * original's words first, then ours. */
static void open_failed_message(mef3_server *s, const char *path, int rc,
                                char *msg, size_t cap) {
  char why[PATH_MAX + 1100], real[PATH_MAX];
  snprintf(why, sizeof why, "%s", mef3__server_err_msg(rc));
  size_t pl = strlen(path);
  const char *w = why;
  if (!strncmp(w, path, pl) && !strncmp(w + pl, ": ", 2))
    w += pl + 2;
  if (rc == MEF3_ENOTFOUND &&
      mef3_files_resolve(s->root, path, real, sizeof real) == MEF3_ENOTFOUND)
    /* (a very long path shortened: the detail must still fit a
     * client's message) */
    snprintf(msg, cap, "File does not exist: %.*s%s (%s)",
             pl > 300 ? 200 : (int)pl, path, pl > 300 ? "..." : "", w);
  else
    snprintf(msg, cap, "%s", why);
}

void mef3__unary_open(mef3_server *s, mef3__call *c) {
  OpenFileRequest *rq = (OpenFileRequest *)mef3__rpc_unpack(
      &open_file_request__descriptor, c->payload);
  if (!rq) {
    mef3__call_finish(c, NULL, GRPC_STATUS_INVALID_ARGUMENT,
                      "malformed OpenFileRequest");
    return;
  }
  const char *path = rq->file_path ? rq->file_path : "";
  const char *pw = rq->password && rq->password[0] ? rq->password : NULL;
  if (bad_path_reply(s, c, path)) {
    open_file_request__free_unpacked(rq, NULL);
    return;
  }
  int already = 0;
  int64_t t0 = mef3__server_now_ns();
  mef3_files_access acc;
  mef3_file_info *info = NULL;
  int rc = open_and_info(s, path, pw, &acc, &already, &info);
  info_reply ir;
  char msg[PATH_MAX + 1200];
  msg[0] = '\0';
  if (rc) {
    open_failed_message(s, path, rc, msg, sizeof msg);
    mef3__server_log(s, MEF3_LOG_WARN, "open %s failed: %s (%s)", path, msg,
                     mef3_errname(rc));
    info_reply_fill(&ir, path, NULL);
  } else if (info_reply_fill(&ir, path, info)) {
    rc = MEF3_ENOMEM;
    snprintf(msg, sizeof msg, "out of memory");
    info_reply_fill(&ir, path, NULL);
  } else {
    if (acc.token[0])
      ir.r.access_token = acc.token; /* only to whoever gave the password */
    if (already) {
      /* As the original: the file's info, with a note. */
      snprintf(msg, sizeof msg, "File already open: %s", path);
      ir.r.error_message = msg;
      ir.r.error_code = (char *)mef3_errname(MEF3_EEXIST);
    } else {
      mef3__server_log(
          s, MEF3_LOG_DEBUG, "opened %s: %zu channels, %.1f s, %.1f ms%s", path,
          info->n_channels, info->duration_s,
          (mef3__server_now_ns() - t0) / 1e6, pw ? " (with a password)" : "");
    }
  }
  reply_info(c, &ir, rc, msg);
  info_reply_free(&ir);
  mef3_file_info_free(info);
  mef3__server_wipe(acc.token, sizeof acc.token);
  open_file_request__free_unpacked(rq, NULL);
}

/* CloseFile: `ir` the reply, `msg` the failure; the outcome's code. */
static int do_close(mef3_server *s, const char *path, const char *token,
                    info_reply *ir, char *msg, size_t cap) {
  int rc = mef3_files_close_as(s->fm, path, token);
  if (rc == MEF3_ENOTFOUND) /* as the original: closed already, fine */
    rc = 0;
  else if (rc)
    snprintf(msg, cap, "%s", mef3__server_err_msg(rc));
  if (rc)
    mef3__server_log(s, MEF3_LOG_WARN, "close %s failed: %s", path, msg);
  else
    mef3__server_log(s, MEF3_LOG_INFO, "closed %s", path);
  info_reply_fill(ir, path, NULL);
  return rc;
}

/* FileInfo: as do_close; `*info` is what `ir` borrows. */
static int do_info(mef3_server *s, const char *path, const char *token,
                   info_reply *ir, mef3_file_info **info, char *msg,
                   size_t cap) {
  int rc = mef3_files_info_as(info, s->fm, path, token);
  if (rc == MEF3_ENOTFOUND) { /* as the original: not open, no error */
    rc = 0;
    *info = NULL;
  } else if (rc) {
    snprintf(msg, cap, "%s", mef3__server_err_msg(rc));
  }
  if (info_reply_fill(ir, path, *info)) {
    rc = MEF3_ENOMEM;
    snprintf(msg, cap, "out of memory");
    info_reply_fill(ir, path, NULL);
  }
  mef3__server_log(s, MEF3_LOG_DEBUG, "info %s: %s", path,
                   rc      ? msg
                   : *info ? "open"
                           : "not open");
  return rc;
}

void mef3__unary_info_or_close(mef3_server *s, mef3__call *c) {
  FileInfoRequest *rq = (FileInfoRequest *)mef3__rpc_unpack(
      &file_info_request__descriptor, c->payload);
  if (!rq) {
    mef3__call_finish(c, NULL, GRPC_STATUS_INVALID_ARGUMENT,
                      "malformed FileInfoRequest");
    return;
  }
  const char *path = rq->file_path ? rq->file_path : "";
  if (bad_path_reply(s, c, path)) {
    file_info_request__free_unpacked(rq, NULL);
    return;
  }
  info_reply ir;
  mef3_file_info *info = NULL;
  char msg[1100];
  msg[0] = '\0';
  char token[MEF3__SERVER_TOKEN_MAX];
  mef3__server_token(&c->md, token, sizeof token);
  int rc = c->m == MEF3__M_CLOSE
               ? do_close(s, path, token, &ir, msg, sizeof msg)
               : do_info(s, path, token, &ir, &info, msg, sizeof msg);
  reply_info(c, &ir, rc, msg);
  info_reply_free(&ir);
  mef3_file_info_free(info);
  mef3__server_wipe(token, sizeof token);
  file_info_request__free_unpacked(rq, NULL);
}

void mef3__unary_list(mef3_server *s, mef3__call *c) {
  ListOpenFilesResponse r = LIST_OPEN_FILES_RESPONSE__INIT;
  char **paths = NULL;
  size_t n = 0;
  int rc = mef3_files_list(&paths, &n, s->fm);
  char msg[600] = "";
  if (rc)
    snprintf(msg, sizeof msg, "%s", mef3__server_err_msg(rc));
  r.file_paths = paths;
  r.n_file_paths = n;
  r.error_message = msg;
  grpc_byte_buffer *bb = mef3__rpc_pack(&r.base);
  mef3__server_log(s, MEF3_LOG_DEBUG, "list: %zu open files", n);
  if (!bb)
    mef3__call_finish(c, NULL, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  else
    mef3__call_finish(c, bb, mef3__rpc_status_of(rc), msg);
  mef3_files_list_free(paths, n);
}
