/*
 * client/client.c - the C client of gRPCMef3Server (see client.h): the
 * client object, the access tokens it keeps, and the unary methods.
 * Calls go through client_call.c; GetSignalRange is client_range.c.
 *
 * One gRPC channel per client, shared by every thread (gRPC makes it
 * thread-safe); gRPC is initialized once per client and shut down with
 * it.  Access tokens: the token an OpenFile returns is kept per path (as
 * the caller spelled it, under `mu`) and sent as the metadata
 * "mef3-access-token" on every later FileInfo, GetSignalRange and
 * CloseFile of that path; a close forgets it.  Paths opened without a
 * password have none and send none, as the original's clients do.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_impl.h"
#include "util/version.h"

/* ---- tokens ---- */

void mef3__client_wipe(void *p, size_t n) {
  volatile unsigned char *b = p;
  while (n--)
    *b++ = 0;
}

void mef3__client_token_of(mef3_client *c, const char *path,
                           char out[MEF3_FILES_TOKEN_CHARS + 1]) {
  out[0] = '\0';
  pthread_mutex_lock(&c->mu);
  for (mef3__client_token *t = c->tokens; t; t = t->next)
    if (!strcmp(t->path, path)) {
      memcpy(out, t->token, sizeof t->token);
      break;
    }
  pthread_mutex_unlock(&c->mu);
}

int mef3_client_token_set(mef3_client *c, const char *path, const char *token) {
  if (!c || !path)
    return mef3__error(MEF3_EINVAL, "client: no client or path");
  if (token && *token && strlen(token) != MEF3_FILES_TOKEN_CHARS)
    return mef3__error(MEF3_EINVAL, "client: an access token has %d characters",
                       MEF3_FILES_TOKEN_CHARS);
  mef3__client_token *fresh = NULL;
  if (token && *token) {
    fresh = calloc(1, sizeof *fresh);
    if (!fresh || !(fresh->path = strdup(path))) {
      free(fresh);
      return mef3__error(MEF3_ENOMEM, "client: out of memory");
    }
    memcpy(fresh->token, token, sizeof fresh->token);
  }
  pthread_mutex_lock(&c->mu);
  for (mef3__client_token **pp = &c->tokens; *pp; pp = &(*pp)->next)
    if (!strcmp((*pp)->path, path)) {
      mef3__client_token *old = *pp;
      *pp = old->next;
      mef3__client_wipe(old->token, sizeof old->token);
      free(old->path);
      free(old);
      break;
    }
  if (fresh) {
    fresh->next = c->tokens;
    c->tokens = fresh;
  }
  pthread_mutex_unlock(&c->mu);
  return 0;
}

int mef3_client_token_get(mef3_client *c, const char *path,
                          char out[MEF3_FILES_TOKEN_CHARS + 1]) {
  out[0] = '\0';
  if (!c || !path)
    return mef3__error(MEF3_EINVAL, "client: no client or path");
  mef3__client_token_of(c, path, out);
  return out[0] ? 0 : mef3__error(MEF3_ENOTFOUND, "%s: no access token", path);
}

/* ---- the client ---- */

/* The thread's last error under the client's older name (client.h). */
const mef3_error *mef3_client_error_last(void) {
  return mef3_error_last();
}

/* gRPC is initialized once per client and shut down with it. */
int mef3_client_new(mef3_client **out, const char *address,
                    const mef3_client_options *opts) {
  *out = NULL;
  mef3_client_options d = MEF3_CLIENT_OPTIONS_INIT;
  if (!opts)
    opts = &d;
  if (!address || !*address)
    return mef3__error(MEF3_EINVAL, "client: an address HOST:PORT is needed");
  if (mef3__version_check("mef3_client_options", opts->version,
                          MEF3_CLIENT_OPTIONS_VERSION))
    return MEF3_EINVAL;
  /* Version 1 ends before the TLS files: plain text, as it always was. */
  mef3_client_options full = MEF3_CLIENT_OPTIONS_INIT;
  memcpy(&full, opts,
         opts->version >= 2 ? sizeof full
                            : offsetof(mef3_client_options, tls_ca_file));
  opts = &full;
  mef3_client *c = calloc(1, sizeof *c);
  if (!c || !(c->address = strdup(address))) {
    free(c);
    return mef3__error(MEF3_ENOMEM, "client: out of memory");
  }
  grpc_init();
  grpc_channel_credentials *cred;
  int rc = mef3__client_creds(opts, &cred, &c->tls);
  if (rc) {
    free(c->address);
    free(c);
    grpc_shutdown();
    return rc;
  }
  grpc_arg args[3];
  args[0].type = GRPC_ARG_INTEGER;
  args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
  args[0].value.integer = 64 << 20;
  /* Let a whole window arrive without waiting for flow-control updates
   * (the default 64 KiB start makes a 1 MB reply wait on round trips). */
  args[1].type = GRPC_ARG_INTEGER;
  args[1].key = GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES;
  args[1].value.integer = 8 << 20;
  /* The BDP probe grows the window a new stream starts with past 64 KiB
   * within a few reads; without it the first 64 KiB of every window waits
   * for a WINDOW_UPDATE round trip (warm 60 s window, median: 1.1-1.2 ms
   * with it, 1.5 ms without, measured in one run). */
  args[2].type = GRPC_ARG_INTEGER;
  args[2].key = GRPC_ARG_HTTP2_BDP_PROBE;
  args[2].value.integer = 1;
  grpc_channel_args ca = {3, args};
  c->ch = grpc_channel_create(address, cred, &ca);
  grpc_channel_credentials_release(cred);
  c->timeout_ms = opts->timeout_ms;
  pthread_mutex_init(&c->mu, NULL);
  *out = c;
  return 0;
}

void mef3_client_free(mef3_client *c) {
  if (!c)
    return;
  grpc_channel_destroy(c->ch);
  free(c->address);
  while (c->tokens) {
    mef3__client_token *t = c->tokens;
    c->tokens = t->next;
    mef3__client_wipe(t->token, sizeof t->token);
    free(t->path);
    free(t);
  }
  pthread_mutex_destroy(&c->mu);
  free(c);
  grpc_shutdown();
}
/* ---- the unary methods ---- */

static int info_from_reply(const FileInfoResponse *r, mef3_file_info **out) {
  mef3_file_info *fi = mef3_calloc(1, sizeof *fi);
  size_t n = r->n_channel_names;
  if (!fi || !(fi->path = mef3_strdup(r->file_path ? r->file_path : "")) ||
      !(fi->channels = mef3_calloc(n ? n : 1, sizeof *fi->channels))) {
    mef3_file_info_free(fi);
    return mef3__error(MEF3_ENOMEM, "client: out of memory");
  }
  fi->n_channels = n;
  for (size_t i = 0; i < n; i++) {
    mef3_file_channel *ch = &fi->channels[i];
    snprintf(ch->name, sizeof ch->name, "%s", r->channel_names[i]);
    /* Exact rates when the server sends them (our addition). */
    ch->fs = i < r->n_channel_fs ? r->channel_fs[i]
             : i < r->n_channel_sampling_rates
                 ? (double)r->channel_sampling_rates[i]
                 : 0;
    ch->start_uutc =
        i < r->n_channel_start_uutc ? r->channel_start_uutc[i] : r->start_uutc;
    ch->end_uutc =
        i < r->n_channel_end_uutc ? r->channel_end_uutc[i] : r->end_uutc;
    ch->n_samples = i < r->n_channel_n_samples ? r->channel_n_samples[i] : 0;
    ch->units_conversion_factor = 1.0; /* values come in physical units */
    if (i < r->n_channel_units)
      snprintf(ch->units, sizeof ch->units, "%s", r->channel_units[i]);
  }
  fi->start_uutc = r->start_uutc;
  fi->end_uutc = r->end_uutc;
  fi->duration_s = r->duration_s;
  *out = fi;
  return 0;
}

int mef3_client_open(mef3_file_info **out, int *already_open, mef3_client *c,
                     const char *path, const char *password) {
  if (out)
    *out = NULL;
  if (already_open)
    *already_open = 0;
  OpenFileRequest req = OPEN_FILE_REQUEST__INIT;
  req.file_path = (char *)path;
  req.password = (char *)(password ? password : "");
  int rc;
  FileInfoResponse *r = (FileInfoResponse *)mef3__client_unary(
      c, MEF3_RPC_OPEN, path, &req.base, &file_info_response__descriptor, &rc);
  if (!r)
    return rc;
  int already = r->file_opened && r->error_code &&
                !strcmp(r->error_code, mef3_errname(MEF3_EEXIST));
  /* The original says "File already open" without a code. */
  if (r->file_opened && r->error_message &&
      !strncmp(r->error_message, "File already open", 17))
    already = 1;
  if (!r->file_opened)
    rc = mef3__client_server_error(r->error_message && *r->error_message
                                       ? r->error_message
                                       : "the server did not open the file",
                                   r->error_code);
  else if (r->error_message && *r->error_message && !already)
    rc = mef3__client_server_error(r->error_message, r->error_code);
  if (!rc && already_open)
    *already_open = already;
  /* The token of this open (none: the session needs no password). */
  if (!rc)
    rc = mef3_client_token_set(c, path,
                               r->access_token && strlen(r->access_token) ==
                                                      MEF3_FILES_TOKEN_CHARS
                                   ? r->access_token
                                   : NULL);
  if (!rc && out)
    rc = info_from_reply(r, out);
  if (r->access_token)
    mef3__client_wipe(r->access_token, strlen(r->access_token));
  file_info_response__free_unpacked(r, NULL);
  return rc;
}

int mef3_client_info(mef3_file_info **out, mef3_client *c, const char *path) {
  *out = NULL;
  FileInfoRequest req = FILE_INFO_REQUEST__INIT;
  req.file_path = (char *)path;
  int rc;
  FileInfoResponse *r = (FileInfoResponse *)mef3__client_unary(
      c, MEF3_RPC_INFO, path, &req.base, &file_info_response__descriptor, &rc);
  if (!r)
    return rc;
  if (r->error_message && *r->error_message)
    rc = mef3__client_server_error(r->error_message, r->error_code);
  else if (!r->file_opened)
    rc = mef3__error(MEF3_ENOTFOUND, "%s: not open", path);
  else
    rc = info_from_reply(r, out);
  file_info_response__free_unpacked(r, NULL);
  return rc;
}

int mef3_client_close_file(mef3_client *c, const char *path) {
  FileInfoRequest req = FILE_INFO_REQUEST__INIT;
  req.file_path = (char *)path;
  int rc;
  FileInfoResponse *r = (FileInfoResponse *)mef3__client_unary(
      c, MEF3_RPC_CLOSE, path, &req.base, &file_info_response__descriptor, &rc);
  if (!r)
    return rc;
  if (r->error_message && *r->error_message)
    rc = mef3__client_server_error(r->error_message, r->error_code);
  if (!rc) /* a closed view's token is dead */
    mef3_client_token_set(c, path, NULL);
  file_info_response__free_unpacked(r, NULL);
  return rc;
}

int mef3_client_list(char ***out, size_t *n, mef3_client *c) {
  *out = NULL;
  *n = 0;
  ListOpenFilesRequest req = LIST_OPEN_FILES_REQUEST__INIT;
  int rc;
  ListOpenFilesResponse *r = (ListOpenFilesResponse *)mef3__client_unary(
      c, MEF3_RPC_LIST, NULL, &req.base, &list_open_files_response__descriptor,
      &rc);
  if (!r)
    return rc;
  if (r->error_message && *r->error_message) {
    rc = mef3__client_server_error(r->error_message, NULL);
  } else {
    char **v = mef3_calloc(r->n_file_paths ? r->n_file_paths : 1, sizeof *v);
    if (!v)
      rc = mef3__error(MEF3_ENOMEM, "client: out of memory");
    for (size_t i = 0; v && i < r->n_file_paths; i++)
      if (!(v[i] = mef3_strdup(r->file_paths[i]))) {
        mef3_files_list_free(v, i);
        v = NULL;
        rc = mef3__error(MEF3_ENOMEM, "client: out of memory");
      }
    if (v) {
      *out = v;
      *n = r->n_file_paths;
    }
  }
  list_open_files_response__free_unpacked(r, NULL);
  return rc;
}
