/*
 * python/src/files_obj.c - _core.Files: one mef3_files (files.h), the low
 * level of mef3pool.FileManager (mef3pool/files.py holds the API of the
 * original's FileManager).
 *
 * The C file manager is thread-safe, so calls from any number of Python
 * threads run at once, each with the GIL released for the whole C call
 * (opening, reading, closing: decodes and waits for workers).  Freeing
 * must come after every other call has returned: each call holds the
 * object's guard for reading, close() takes it for writing, so close()
 * waits for calls in flight and later calls raise.  Reads return a
 * _core.Signal owning the C result (no copy).
 *
 * Access tokens (files.h, Access): the token an open with a password
 * returns is kept per path (bytes, as given; a dict used with the GIL
 * held) and passed with every later info, read and close of that path;
 * a close forgets it.
 */
#include "signal_obj.h"

typedef struct {
  PyObject_HEAD mef3_files *fm;
  mef3py_guard guard;
  PyObject *tokens; /* path bytes -> token bytes */
  pid_t owner;      /* mef3py.h, fork() */
} FilesObject;

/* The token kept for `path` (borrowed C string, valid while the dict
 * holds it and the caller keeps a reference to the value), or NULL. */
static PyObject *token_of(FilesObject *self, PyObject *path) {
  PyObject *t = self->tokens ? PyDict_GetItem(self->tokens, path) : NULL;
  Py_XINCREF(t);
  return t;
}

/* Enter a call: the guard for reading, without the GIL. */
#define ENTER(self) pthread_rwlock_rdlock(&(self)->guard.rw)
#define LEAVE(self) pthread_rwlock_unlock(&(self)->guard.rw)

static PyObject *closed_error(void) {
  return mef3py_raise(MEF3_EINVAL, "the file manager is shut down");
}

static PyObject *files_new(PyTypeObject *type, PyObject *a, PyObject *k) {
  FilesObject *self = (FilesObject *)type->tp_alloc(type, 0);
  if (!self)
    return NULL;
  self->owner = getpid();
  if (mef3py_guard_init(&self->guard) < 0) {
    Py_DECREF(self);
    return NULL;
  }
  return (PyObject *)self;
}

static int files_init(FilesObject *self, PyObject *args, PyObject *kw) {
  static char *kwlist[] = {"tile_duration_s",
                           "tile_cache_bytes",
                           "cache_ttl_s",
                           "use_process_pool",
                           "reader_processes",
                           "prefetch_processes",
                           "min_parallel_tiles",
                           "prefetch_ahead_windows",
                           "prefetch_behind_windows",
                           "prefetch_threads",
                           "data_root",
                           "worker_path",
                           "max_open_files",
                           NULL};
  mef3_files_options o = MEF3_FILES_OPTIONS_INIT;
  long long budget = o.tile_cache_bytes, max_open = 0;
  PyObject *root = Py_None, *worker = Py_None;
  if (!PyArg_ParseTupleAndKeywords(
          args, kw, "|dLdpiiiiiiOOL", kwlist, &o.tile_duration_s, &budget,
          &o.cache_ttl_s, &o.use_process_pool, &o.reader_processes,
          &o.prefetch_processes, &o.min_parallel_tiles,
          &o.prefetch_ahead_windows, &o.prefetch_behind_windows,
          &o.prefetch_threads, &root, &worker, &max_open))
    return -1;
  if (self->fm) {
    PyErr_SetString(PyExc_RuntimeError, "Files.__init__ called twice");
    return -1;
  }
  o.tile_cache_bytes = budget;
  o.max_open_files = max_open;
  PyObject *rb = NULL, *wb = NULL;
  if ((root != Py_None && !(rb = mef3py_path_bytes(root))) ||
      (worker != Py_None && !(wb = mef3py_path_bytes(worker)))) {
    Py_XDECREF(rb);
    return -1;
  }
  o.data_root = rb ? PyBytes_AS_STRING(rb) : NULL;
  o.worker_path = wb ? PyBytes_AS_STRING(wb) : NULL;
  mef3_files *fm = NULL;
  int rc;
  Py_BEGIN_ALLOW_THREADS rc = mef3_files_new(&fm, &o);
  Py_END_ALLOW_THREADS Py_XDECREF(rb);
  Py_XDECREF(wb);
  if (rc) {
    mef3py_raise_last(rc);
    return -1;
  }
  self->fm = fm;
  return 0;
}

static void files_dealloc(FilesObject *self) {
  /* no call can be in flight: each holds a reference */
  mef3_files *fm = self->fm;
  self->fm = NULL;
  if (MEF3PY_FORKED(self->owner)) {
    fm = NULL; /* the parent's: forgotten, its guard too (mef3py.h) */
  } else {
    mef3py_guard_dispose(&self->guard);
  }
  if (fm) {
    Py_BEGIN_ALLOW_THREADS mef3_files_free(fm);
    Py_END_ALLOW_THREADS
  }
  Py_CLEAR(self->tokens);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *files_close(FilesObject *self, PyObject *noargs) {
  mef3_files *fm;
  if (MEF3PY_FORKED(self->owner)) { /* the parent's: forgotten (mef3py.h) */
    self->fm = NULL;
    Py_RETURN_NONE;
  }
  Py_BEGIN_ALLOW_THREADS pthread_rwlock_wrlock(&self->guard.rw);
  fm = self->fm;
  self->fm = NULL;
  pthread_rwlock_unlock(&self->guard.rw);
  mef3_files_free(fm);
  Py_END_ALLOW_THREADS Py_RETURN_NONE;
}

static PyObject *files_open(FilesObject *self, PyObject *args, PyObject *kw) {
  MEF3PY_OWNED(self, "file manager");
  static char *kwlist[] = {"path", "password", NULL};
  PyObject *path_obj, *path;
  const char *password = NULL;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O|z", kwlist, &path_obj,
                                   &password))
    return NULL;
  if (!(path = mef3py_path_bytes(path_obj)))
    return NULL;
  int rc, already = 0, closed = 0;
  const char *p = PyBytes_AS_STRING(path);
  mef3_files_access acc;
  Py_BEGIN_ALLOW_THREADS ENTER(self);
  if (self->fm)
    rc = mef3_files_open_as(&acc, &already, self->fm, p, password);
  else
    closed = 1, rc = 0;
  LEAVE(self);
  Py_END_ALLOW_THREADS;
  if (closed || rc) {
    Py_DECREF(path);
    return closed ? closed_error() : mef3py_raise_last(rc);
  }
  if (!self->tokens && !(self->tokens = PyDict_New())) {
    Py_DECREF(path);
    return NULL;
  }
  int bad = 0;
  if (acc.token[0]) {
    PyObject *t = PyBytes_FromString(acc.token);
    bad = !t || PyDict_SetItem(self->tokens, path, t) < 0;
    Py_XDECREF(t);
  }
  for (volatile char *c = acc.token; *c; c++)
    *c = 0;
  Py_DECREF(path);
  if (bad)
    return NULL;
  return PyBool_FromLong(already);
}

static PyObject *files_close_file(FilesObject *self, PyObject *path_obj) {
  MEF3PY_OWNED(self, "file manager");
  PyObject *path = mef3py_path_bytes(path_obj);
  if (!path)
    return NULL;
  int rc, closed = 0;
  const char *p = PyBytes_AS_STRING(path);
  PyObject *tok = token_of(self, path);
  const char *t = tok ? PyBytes_AS_STRING(tok) : NULL;
  Py_BEGIN_ALLOW_THREADS ENTER(self);
  if (self->fm)
    rc = mef3_files_close_as(self->fm, p, t);
  else
    closed = 1, rc = 0;
  LEAVE(self);
  Py_END_ALLOW_THREADS;
  Py_XDECREF(tok);
  if (!rc && !closed && self->tokens && PyDict_Contains(self->tokens, path) == 1)
    PyDict_DelItem(self->tokens, path);
  Py_DECREF(path);
  if (closed)
    return closed_error();
  if (rc)
    return mef3py_raise_last(rc);
  Py_RETURN_NONE;
}

static PyObject *files_info(FilesObject *self, PyObject *path_obj) {
  MEF3PY_OWNED(self, "file manager");
  PyObject *path = mef3py_path_bytes(path_obj);
  if (!path)
    return NULL;
  int rc, closed = 0;
  mef3_file_info *info = NULL;
  const char *p = PyBytes_AS_STRING(path);
  PyObject *tok = token_of(self, path);
  const char *t = tok ? PyBytes_AS_STRING(tok) : NULL;
  Py_BEGIN_ALLOW_THREADS ENTER(self);
  if (self->fm)
    rc = mef3_files_info_as(&info, self->fm, p, t);
  else
    closed = 1, rc = 0;
  LEAVE(self);
  Py_END_ALLOW_THREADS Py_XDECREF(tok);
  Py_DECREF(path);
  if (closed)
    return closed_error();
  if (rc)
    return mef3py_raise_last(rc);
  PyObject *d = mef3py_file_info_dict(info);
  mef3_file_info_free(info);
  return d;
}

static PyObject *files_list(FilesObject *self, PyObject *noargs) {
  MEF3PY_OWNED(self, "file manager");
  int rc, closed = 0;
  char **paths = NULL;
  size_t n = 0;
  Py_BEGIN_ALLOW_THREADS ENTER(self);
  if (self->fm)
    rc = mef3_files_list(&paths, &n, self->fm);
  else
    closed = 1, rc = 0;
  LEAVE(self);
  Py_END_ALLOW_THREADS if (closed) return closed_error();
  if (rc)
    return mef3py_raise_last(rc);
  PyObject *l = PyList_New((Py_ssize_t)n);
  for (size_t i = 0; l && i < n; i++) {
    PyObject *s = PyUnicode_DecodeFSDefault(paths[i]);
    if (!s) {
      Py_CLEAR(l);
      break;
    }
    PyList_SET_ITEM(l, (Py_ssize_t)i, s);
  }
  mef3_files_list_free(paths, n);
  return l;
}

static PyObject *files_read(FilesObject *self, PyObject *args) {
  MEF3PY_OWNED(self, "file manager");
  PyObject *path_obj, *ch_obj, *path, *keep = NULL;
  long long t0, t1;
  if (!PyArg_ParseTuple(args, "OOLL", &path_obj, &ch_obj, &t0, &t1))
    return NULL;
  const char **names = NULL;
  size_t n = 0;
  if (mef3py_channel_list(ch_obj, &names, &n, &keep) < 0)
    return NULL;
  if (!(path = mef3py_path_bytes(path_obj))) {
    PyMem_Free(names);
    Py_XDECREF(keep);
    return NULL;
  }
  int rc, closed = 0;
  mef3_signal *s = NULL;
  const char *p = PyBytes_AS_STRING(path);
  PyObject *tok = token_of(self, path);
  const char *t = tok ? PyBytes_AS_STRING(tok) : NULL;
  Py_BEGIN_ALLOW_THREADS ENTER(self);
  if (self->fm)
    rc = mef3_files_read_as(&s, self->fm, p, t, (const char *const *)names, n,
                            t0, t1);
  else
    closed = 1, rc = 0;
  LEAVE(self);
  Py_END_ALLOW_THREADS Py_XDECREF(tok);
  Py_DECREF(path);
  PyMem_Free(names);
  Py_XDECREF(keep);
  if (closed)
    return closed_error();
  if (rc)
    return mef3py_raise_last(rc);
  return mef3py_signal_wrap(s);
}

static PyObject *files_envelope(FilesObject *self, PyObject *args) {
  MEF3PY_OWNED(self, "file manager");
  PyObject *path_obj, *ch_obj, *path, *keep = NULL;
  long long t0, t1, cols;
  if (!PyArg_ParseTuple(args, "OOLLL", &path_obj, &ch_obj, &t0, &t1, &cols))
    return NULL;
  if (cols < 1) /* (the file manager says what the range is) */
    cols = 0;
  const char **names = NULL;
  size_t n = 0;
  if (mef3py_channel_list(ch_obj, &names, &n, &keep) < 0)
    return NULL;
  if (!(path = mef3py_path_bytes(path_obj))) {
    PyMem_Free(names);
    Py_XDECREF(keep);
    return NULL;
  }
  int rc, closed = 0;
  mef3_envelope *e = NULL;
  const char *p = PyBytes_AS_STRING(path);
  PyObject *tok = token_of(self, path);
  const char *t = tok ? PyBytes_AS_STRING(tok) : NULL;
  Py_BEGIN_ALLOW_THREADS ENTER(self);
  if (self->fm)
    rc = mef3_files_envelope_as(&e, self->fm, p, t, (const char *const *)names,
                                n, t0, t1, (size_t)cols);
  else
    closed = 1, rc = 0;
  LEAVE(self);
  Py_END_ALLOW_THREADS Py_XDECREF(tok);
  Py_DECREF(path);
  PyMem_Free(names);
  Py_XDECREF(keep);
  if (closed)
    return closed_error();
  if (rc)
    return mef3py_raise_last(rc);
  return mef3py_envelope_dict(e);
}

static PyObject *files_stats(FilesObject *self, PyObject *noargs) {
  MEF3PY_OWNED(self, "file manager");
  mef3_files_stats st;
  int closed = 0;
  Py_BEGIN_ALLOW_THREADS ENTER(self);
  if (self->fm)
    mef3_files_get_stats(&st, self->fm);
  else
    closed = 1;
  LEAVE(self);
  Py_END_ALLOW_THREADS if (closed) return closed_error();
  return Py_BuildValue(
      "{sKsKsKsKsKsKsKsKsKsKsKsKsKsKsK}", "hits", (unsigned long long)st.hits,
      "misses", (unsigned long long)st.misses, "bytes",
      (unsigned long long)st.bytes, "tiles", (unsigned long long)st.tiles,
      "evictions", (unsigned long long)st.evictions, "expirations",
      (unsigned long long)st.expirations, "prefetched",
      (unsigned long long)st.prefetched, "prefetch_used",
      (unsigned long long)st.prefetch_used, "prefetch_wasted",
      (unsigned long long)st.prefetch_wasted, "reads",
      (unsigned long long)st.reads, "open_files",
      (unsigned long long)st.open_files, "waits", (unsigned long long)st.waits,
      "pool_tiles", (unsigned long long)st.pool_tiles, "local_tiles",
      (unsigned long long)st.local_tiles, "prefetch_failed",
      (unsigned long long)st.prefetch_failed);
}

static PyObject *files_get_closed(FilesObject *self, void *c) {
  return PyBool_FromLong(self->fm == NULL);
}

static PyMethodDef files_methods[] = {
    {"open", (PyCFunction)(void (*)(void))files_open,
     METH_VARARGS | METH_KEYWORDS,
     "open(path, password=None) -> bool\n\nOpen a session; True when it was "
     "open already (nothing changes then)."},
    {"close_file", (PyCFunction)files_close_file, METH_O,
     "close_file(path)\n\nClose an open session (NotFoundError if not open)."},
    {"info", (PyCFunction)files_info, METH_O,
     "info(path) -> dict\n\nWhat an open session holds."},
    {"list", (PyCFunction)files_list, METH_NOARGS,
     "list() -> list[str]\n\nThe open sessions, sorted."},
    {"read", (PyCFunction)files_read, METH_VARARGS,
     "read(path, channels, start_uutc, end_uutc) -> Signal\n\nChannels (None: "
     "all) over [start, end) through the tile cache."},
    {"envelope", (PyCFunction)files_envelope, METH_VARARGS,
     "envelope(path, channels, start_uutc, end_uutc, columns) -> dict\n\n"
     "At most columns columns of (min, max) per channel (the pyramid)."},
    {"stats", (PyCFunction)files_stats, METH_NOARGS,
     "stats() -> dict\n\nThe manager's counters."},
    {"close", (PyCFunction)files_close, METH_NOARGS,
     "close()\n\nStop the pools and threads, close every session; waits for "
     "calls in flight.  Later calls raise."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef files_getset[] = {
    {"closed", (getter)files_get_closed, NULL, "True after close().", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject FilesType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "mef3pool._core.Files",
    .tp_basicsize = sizeof(FilesObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Low-level file manager (use mef3pool.FileManager).",
    .tp_new = files_new,
    .tp_init = (initproc)files_init,
    .tp_dealloc = (destructor)files_dealloc,
    .tp_methods = files_methods,
    .tp_getset = files_getset,
};

int mef3py_files_init(PyObject *m) {
  if (mef3py_signal_ready(m) < 0 || PyType_Ready(&FilesType) < 0)
    return -1;
  Py_INCREF(&FilesType);
  if (PyModule_AddObject(m, "Files", (PyObject *)&FilesType) < 0) {
    Py_DECREF(&FilesType);
    return -1;
  }
  return 0;
}
