/*
 * python/src/client_obj.c - _core.Client: one mef3_client (client.h), the
 * low level of mef3pool.Client (mef3pool/client.py holds the API of the
 * original's Mef3Client).
 *
 * The C client may be used by any number of threads at once, so every
 * call runs with the GIL released for the whole exchange with the server
 * (the read included: chunks are reassembled in C).  As for the file
 * manager, each call holds the object's guard for reading and close()
 * takes it for writing, so the connection is freed only after the calls
 * in flight have returned.  The detail of a failure is the library's
 * per-thread error (mef3_error_last), read on the calling thread.
 */
#include "signal_obj.h"

typedef struct {
  PyObject_HEAD mef3_client *c;
  mef3py_guard guard;
  pid_t owner; /* mef3py.h, fork() */
} ClientObject;

#define ENTER(self) pthread_rwlock_rdlock(&(self)->guard.rw)
#define LEAVE(self) pthread_rwlock_unlock(&(self)->guard.rw)

static PyObject *closed_error(void) {
  return mef3py_raise(MEF3_EINVAL, "the client is closed");
}

static PyObject *raise_client(int rc) {
  const mef3_error *e = mef3_error_last();
  return mef3py_raise(rc, e->code == rc ? e->message : NULL);
}

static PyObject *client_new(PyTypeObject *type, PyObject *a, PyObject *k) {
  ClientObject *self = (ClientObject *)type->tp_alloc(type, 0);
  if (!self)
    return NULL;
  self->owner = getpid();
  if (mef3py_guard_init(&self->guard) < 0) {
    Py_DECREF(self);
    return NULL;
  }
  return (PyObject *)self;
}

static int client_init(ClientObject *self, PyObject *args, PyObject *kw) {
  static char *kwlist[] = {"address", "timeout_ms", "tls_ca",
                           "tls_cert", "tls_key", NULL};
  const char *address, *tls_ca = NULL, *tls_cert = NULL, *tls_key = NULL;
  long long timeout_ms = 60000;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "s|Lzzz", kwlist, &address,
                                   &timeout_ms, &tls_ca, &tls_cert, &tls_key))
    return -1;
  if (self->c) {
    PyErr_SetString(PyExc_RuntimeError, "Client.__init__ called twice");
    return -1;
  }
  mef3_client_options o = MEF3_CLIENT_OPTIONS_INIT;
  o.timeout_ms = timeout_ms;
  o.tls_ca_file = tls_ca; /* PEM files: TLS when a CA is given */
  o.tls_cert_file = tls_cert;
  o.tls_key_file = tls_key;
  mef3_client *c = NULL;
  int rc;
  Py_BEGIN_ALLOW_THREADS rc = mef3_client_new(&c, address, &o);
  Py_END_ALLOW_THREADS if (rc) {
    raise_client(rc);
    return -1;
  }
  self->c = c;
  return 0;
}

static void client_dealloc(ClientObject *self) {
  mef3_client *c = self->c;
  self->c = NULL;
  if (MEF3PY_FORKED(self->owner)) {
    c = NULL; /* the parent's: forgotten, its guard too (mef3py.h) */
  } else {
    mef3py_guard_dispose(&self->guard);
  }
  if (c) {
    Py_BEGIN_ALLOW_THREADS mef3_client_free(c);
    Py_END_ALLOW_THREADS
  }
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *client_close(ClientObject *self, PyObject *noargs) {
  mef3_client *c;
  if (MEF3PY_FORKED(self->owner)) { /* the parent's: forgotten (mef3py.h) */
    self->c = NULL;
    Py_RETURN_NONE;
  }
  Py_BEGIN_ALLOW_THREADS pthread_rwlock_wrlock(&self->guard.rw);
  c = self->c;
  self->c = NULL;
  pthread_rwlock_unlock(&self->guard.rw);
  mef3_client_free(c);
  Py_END_ALLOW_THREADS Py_RETURN_NONE;
}

/* A path argument as UTF-8 bytes: paths name files on the server, whose
 * protocol carries them as strings. */
static PyObject *wire_path(PyObject *obj) {
  PyObject *fs = PyOS_FSPath(obj);
  if (!fs)
    return NULL;
  PyObject *b =
      PyUnicode_Check(fs) ? PyUnicode_AsUTF8String(fs) : (Py_INCREF(fs), fs);
  Py_DECREF(fs);
  if (b && (!PyBytes_Check(b) ||
            (size_t)PyBytes_GET_SIZE(b) != strlen(PyBytes_AS_STRING(b)))) {
    Py_DECREF(b);
    PyErr_SetString(PyExc_ValueError, "a path must be str or bytes "
                                      "without NUL");
    return NULL;
  }
  return b;
}

static PyObject *client_open(ClientObject *self, PyObject *args, PyObject *kw) {
  MEF3PY_OWNED(self, "client");
  static char *kwlist[] = {"path", "password", NULL};
  PyObject *path_obj, *path;
  const char *password = NULL;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O|z", kwlist, &path_obj,
                                   &password))
    return NULL;
  if (!(path = wire_path(path_obj)))
    return NULL;
  int rc, already = 0, closed = 0;
  mef3_file_info *info = NULL;
  const char *p = PyBytes_AS_STRING(path);
  Py_BEGIN_ALLOW_THREADS ENTER(self);
  if (self->c)
    rc = mef3_client_open(&info, &already, self->c, p, password);
  else
    closed = 1, rc = 0;
  LEAVE(self);
  Py_END_ALLOW_THREADS Py_DECREF(path);
  if (closed)
    return closed_error();
  if (rc)
    return raise_client(rc);
  PyObject *d = mef3py_file_info_dict(info);
  mef3_file_info_free(info);
  if (!d)
    return NULL;
  return Py_BuildValue("(NN)", d, PyBool_FromLong(already));
}

static PyObject *client_info(ClientObject *self, PyObject *path_obj) {
  MEF3PY_OWNED(self, "client");
  PyObject *path = wire_path(path_obj);
  if (!path)
    return NULL;
  int rc, closed = 0;
  mef3_file_info *info = NULL;
  const char *p = PyBytes_AS_STRING(path);
  Py_BEGIN_ALLOW_THREADS ENTER(self);
  if (self->c)
    rc = mef3_client_info(&info, self->c, p);
  else
    closed = 1, rc = 0;
  LEAVE(self);
  Py_END_ALLOW_THREADS Py_DECREF(path);
  if (closed)
    return closed_error();
  if (rc)
    return raise_client(rc);
  PyObject *d = mef3py_file_info_dict(info);
  mef3_file_info_free(info);
  return d;
}

static PyObject *client_close_file(ClientObject *self, PyObject *path_obj) {
  MEF3PY_OWNED(self, "client");
  PyObject *path = wire_path(path_obj);
  if (!path)
    return NULL;
  int rc, closed = 0;
  const char *p = PyBytes_AS_STRING(path);
  Py_BEGIN_ALLOW_THREADS ENTER(self);
  if (self->c)
    rc = mef3_client_close_file(self->c, p);
  else
    closed = 1, rc = 0;
  LEAVE(self);
  Py_END_ALLOW_THREADS Py_DECREF(path);
  if (closed)
    return closed_error();
  if (rc)
    return raise_client(rc);
  Py_RETURN_NONE;
}

static PyObject *client_list(ClientObject *self, PyObject *noargs) {
  MEF3PY_OWNED(self, "client");
  int rc, closed = 0;
  char **paths = NULL;
  size_t n = 0;
  Py_BEGIN_ALLOW_THREADS ENTER(self);
  if (self->c)
    rc = mef3_client_list(&paths, &n, self->c);
  else
    closed = 1, rc = 0;
  LEAVE(self);
  Py_END_ALLOW_THREADS if (closed) return closed_error();
  if (rc)
    return raise_client(rc);
  PyObject *l = PyList_New((Py_ssize_t)n);
  for (size_t i = 0; l && i < n; i++) {
    PyObject *s = PyUnicode_DecodeUTF8(paths[i], (Py_ssize_t)strlen(paths[i]),
                                       "surrogateescape");
    if (!s) {
      Py_CLEAR(l);
      break;
    }
    PyList_SET_ITEM(l, (Py_ssize_t)i, s);
  }
  mef3_files_list_free(paths, n);
  return l;
}

static PyObject *client_read(ClientObject *self, PyObject *args) {
  MEF3PY_OWNED(self, "client");
  PyObject *path_obj, *ch_obj, *path, *keep = NULL;
  long long t0, t1;
  if (!PyArg_ParseTuple(args, "OOLL", &path_obj, &ch_obj, &t0, &t1))
    return NULL;
  const char **names = NULL;
  size_t n = 0;
  if (mef3py_channel_list(ch_obj, &names, &n, &keep) < 0)
    return NULL;
  if (!(path = wire_path(path_obj))) {
    PyMem_Free(names);
    Py_XDECREF(keep);
    return NULL;
  }
  int rc, closed = 0;
  mef3_signal *s = NULL;
  const char *p = PyBytes_AS_STRING(path);
  Py_BEGIN_ALLOW_THREADS ENTER(self);
  if (self->c)
    rc = mef3_client_read(&s, self->c, p, (const char *const *)names, n, t0, t1,
                          NULL, NULL);
  else
    closed = 1, rc = 0;
  LEAVE(self);
  Py_END_ALLOW_THREADS Py_DECREF(path);
  PyMem_Free(names);
  Py_XDECREF(keep);
  if (closed)
    return closed_error();
  if (rc)
    return raise_client(rc);
  return mef3py_signal_wrap(s);
}

static PyObject *client_envelope(ClientObject *self, PyObject *args) {
  MEF3PY_OWNED(self, "client");
  PyObject *path_obj, *ch_obj, *path, *keep = NULL;
  long long t0, t1, cols;
  if (!PyArg_ParseTuple(args, "OOLLL", &path_obj, &ch_obj, &t0, &t1, &cols))
    return NULL;
  if (cols < 1) /* (the server says what the range is) */
    cols = 0;
  const char **names = NULL;
  size_t n = 0;
  if (mef3py_channel_list(ch_obj, &names, &n, &keep) < 0)
    return NULL;
  if (!(path = wire_path(path_obj))) {
    PyMem_Free(names);
    Py_XDECREF(keep);
    return NULL;
  }
  int rc, closed = 0;
  mef3_envelope *e = NULL;
  const char *p = PyBytes_AS_STRING(path);
  Py_BEGIN_ALLOW_THREADS ENTER(self);
  if (self->c)
    rc = mef3_client_envelope(&e, self->c, p, (const char *const *)names, n,
                              t0, t1, (size_t)cols);
  else
    closed = 1, rc = 0;
  LEAVE(self);
  Py_END_ALLOW_THREADS Py_DECREF(path);
  PyMem_Free(names);
  Py_XDECREF(keep);
  if (closed)
    return closed_error();
  if (rc)
    return raise_client(rc);
  return mef3py_envelope_dict(e);
}

/* The access token kept for a path (str), or None. */
static PyObject *client_token_get(ClientObject *self, PyObject *path_obj) {
  MEF3PY_OWNED(self, "client");
  PyObject *path = wire_path(path_obj);
  if (!path)
    return NULL;
  char tok[MEF3_FILES_TOKEN_CHARS + 1] = "";
  int rc = 0, closed = 0;
  ENTER(self);
  if (self->c)
    rc = mef3_client_token_get(self->c, PyBytes_AS_STRING(path), tok);
  else
    closed = 1;
  LEAVE(self);
  Py_DECREF(path);
  if (closed)
    return closed_error();
  if (rc == MEF3_ENOTFOUND)
    Py_RETURN_NONE;
  if (rc)
    return raise_client(rc);
  PyObject *r = PyUnicode_FromString(tok);
  memset(tok, 0, sizeof tok); /* a credential: no copy left on the stack */
  return r;
}

/* Keep `token` for a path (None or "": forget it). */
static PyObject *client_token_set(ClientObject *self, PyObject *args) {
  MEF3PY_OWNED(self, "client");
  PyObject *path_obj, *path;
  const char *token = NULL;
  if (!PyArg_ParseTuple(args, "Oz", &path_obj, &token))
    return NULL;
  if (!(path = wire_path(path_obj)))
    return NULL;
  int rc = 0, closed = 0;
  ENTER(self);
  if (self->c)
    rc = mef3_client_token_set(self->c, PyBytes_AS_STRING(path), token);
  else
    closed = 1;
  LEAVE(self);
  Py_DECREF(path);
  if (closed)
    return closed_error();
  if (rc)
    return raise_client(rc);
  Py_RETURN_NONE;
}

static PyObject *client_get_closed(ClientObject *self, void *c) {
  return PyBool_FromLong(self->c == NULL);
}

static PyMethodDef client_methods[] = {
    {"open", (PyCFunction)(void (*)(void))client_open,
     METH_VARARGS | METH_KEYWORDS,
     "open(path, password=None) -> (dict, bool)\n\nOpenFile: the file's info "
     "and whether it was open already."},
    {"info", (PyCFunction)client_info, METH_O,
     "info(path) -> dict\n\nFileInfo of an open file."},
    {"close_file", (PyCFunction)client_close_file, METH_O,
     "close_file(path)\n\nCloseFile."},
    {"list", (PyCFunction)client_list, METH_NOARGS,
     "list() -> list[str]\n\nListOpenFiles."},
    {"read", (PyCFunction)client_read, METH_VARARGS,
     "read(path, channels, start_uutc, end_uutc) -> Signal\n\nGetSignalRange "
     "reassembled into one (channels, samples) float32 window."},
    {"envelope", (PyCFunction)client_envelope, METH_VARARGS,
     "envelope(path, channels, start_uutc, end_uutc, columns) -> dict\n\n"
     "GetEnvelope: at most columns columns of (min, max) per channel."},
    {"token_get", (PyCFunction)client_token_get, METH_O,
     "token_get(path) -> str or None\n\nThe access token kept for path."},
    {"token_set", (PyCFunction)client_token_set, METH_VARARGS,
     "token_set(path, token)\n\nKeep token for path (None: forget it)."},
    {"close", (PyCFunction)client_close, METH_NOARGS,
     "close()\n\nClose the connection; waits for calls in flight."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef client_getset[] = {
    {"closed", (getter)client_get_closed, NULL, "True after close().", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject ClientType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "mef3pool._core.Client",
    .tp_basicsize = sizeof(ClientObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Low-level gRPC client (use mef3pool.Client).",
    .tp_new = client_new,
    .tp_init = (initproc)client_init,
    .tp_dealloc = (destructor)client_dealloc,
    .tp_methods = client_methods,
    .tp_getset = client_getset,
};

int mef3py_client_init(PyObject *m) {
  if (mef3py_signal_ready(m) < 0 || PyType_Ready(&ClientType) < 0)
    return -1;
  Py_INCREF(&ClientType);
  if (PyModule_AddObject(m, "Client", (PyObject *)&ClientType) < 0) {
    Py_DECREF(&ClientType);
    return -1;
  }
  return 0;
}
