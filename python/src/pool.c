/*
 * python/src/pool.c - _core.Pool: one mef3_pool and its completion queue.
 *
 * The low level of mef3pool.ReaderProcessPool (mef3pool/pool.py).
 * Completion reaches Python through a queue: each submit with a token
 * (the Python-level concurrent.futures.Future) registers a done-callback
 * on the C future that runs on the pool's service thread, never touches
 * Python (no GIL there), and only appends a node with the token to this
 * object's queue and signals it.  One Python thread of the package
 * ("mef3pool-callbacks", started by pool.py) takes the nodes with
 * next_done(), which blocks with the GIL released, and resolves the
 * Python futures, which runs their done-callbacks with the GIL held.  A
 * node owns one reference to its token, taken at submit under the GIL and
 * handed to next_done's caller, so a token lives until its completion has
 * been seen even when the caller dropped it.
 *
 * close() frees the C pool with the GIL released: queued requests are
 * canceled and running ones waited for, so every callback has run when it
 * returns; the queue is then marked closed and next_done() returns None
 * once it is empty.  Every blocking call releases the GIL.
 */
#include "mef3py.h"

#include <pthread.h>

#include "mef3py_pool.h"

typedef struct node {
  struct node *next;
  PyObject *token;
  struct queue *q;
} node;

typedef struct queue {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  node *head, *tail;
  int closed;
  pthread_cond_t idle; /* users reached 0 */
  int users; /* calls using the C pool with the GIL released */
} queue;

typedef struct {
  PyObject_HEAD mef3_pool *pool;
  queue q;
  int q_ready;
  pid_t owner; /* mef3py.h, fork() */
} PoolObject;

/* The pool's service thread (or a canceling thread): no GIL, no Python. */
static void on_done(mef3_future *f, void *payload) {
  node *n = payload;
  queue *q = n->q;
  pthread_mutex_lock(&q->mu);
  n->next = NULL;
  if (q->tail)
    q->tail->next = n;
  else
    q->head = n;
  q->tail = n;
  pthread_cond_signal(&q->cv);
  pthread_mutex_unlock(&q->mu);
}

static int check_open(PoolObject *self) {
  if (!self->pool) {
    mef3py_raise(MEF3_EINVAL, "the pool is shut down");
    return -1;
  }
  return 0;
}

static PyObject *pool_new(PyTypeObject *type, PyObject *a, PyObject *k) {
  PoolObject *self = (PoolObject *)type->tp_alloc(type, 0);
  if (!self)
    return NULL;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_mutex_init(&self->q.mu, NULL);
  pthread_cond_init(&self->q.cv, &ca);
  pthread_cond_init(&self->q.idle, NULL);
  pthread_condattr_destroy(&ca);
  self->q_ready = 1;
  self->owner = getpid();
  return (PyObject *)self;
}

static int pool_init(PoolObject *self, PyObject *args, PyObject *kw) {
  static char *kwlist[] = {"max_workers", "worker_path", "name", "check_crc",
                           "max_readers_per_worker", NULL};
  int max_workers = 4, check_crc = 1, max_readers = 0;
  PyObject *wp_obj = Py_None, *wp = NULL;
  const char *name = NULL;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "|iOzpi", kwlist, &max_workers,
                                   &wp_obj, &name, &check_crc, &max_readers))
    return -1;
  if (self->pool) {
    PyErr_SetString(PyExc_RuntimeError, "Pool.__init__ called twice");
    return -1;
  }
  if (wp_obj != Py_None && !(wp = mef3py_path_bytes(wp_obj)))
    return -1;
  mef3_pool_options o = MEF3_POOL_OPTIONS_INIT;
  o.max_workers = max_workers < 1 ? 1 : max_workers;
  o.max_readers_per_worker = max_readers;
  o.worker_path = wp ? PyBytes_AS_STRING(wp) : NULL;
  o.name = name;
  o.check_block_crc = check_crc;
  int rc = mef3_pool_new(&self->pool, &o);
  Py_XDECREF(wp);
  if (rc) {
    self->pool = NULL;
    mef3py_raise_last(rc);
    return -1;
  }
  return 0;
}

/* Calls that use the C pool without the GIL (warmup) count as users, so
 * that close() frees it only once they have returned. */
static mef3_pool *use(PoolObject *self) {
  pthread_mutex_lock(&self->q.mu);
  self->q.users++;
  pthread_mutex_unlock(&self->q.mu);
  return self->pool;
}

static void unuse(PoolObject *self) {
  pthread_mutex_lock(&self->q.mu);
  if (--self->q.users == 0)
    pthread_cond_broadcast(&self->q.idle);
  pthread_mutex_unlock(&self->q.mu);
}

static void pool_free_released(PoolObject *self) {
  if (MEF3PY_FORKED(self->owner)) { /* the parent's: forgotten (mef3py.h) */
    self->pool = NULL;
    self->q.closed = 1;
    return;
  }
  mef3_pool *p = self->pool;
  self->pool = NULL; /* with the GIL: no new user can start */
  if (p) {
    Py_BEGIN_ALLOW_THREADS pthread_mutex_lock(&self->q.mu);
    while (self->q.users > 0)
      pthread_cond_wait(&self->q.idle, &self->q.mu);
    pthread_mutex_unlock(&self->q.mu);
    mef3_pool_free(p);
    Py_END_ALLOW_THREADS
  }
  pthread_mutex_lock(&self->q.mu);
  self->q.closed = 1;
  pthread_cond_broadcast(&self->q.cv);
  pthread_mutex_unlock(&self->q.mu);
}

static void pool_dealloc(PoolObject *self) {
  pool_free_released(self);
  /* Completions nobody took: drop their tokens (the GIL is held). */
  for (node *n = self->q.head, *nx; n; n = nx) {
    nx = n->next;
    Py_DECREF(n->token);
    PyMem_RawFree(n);
  }
  if (self->q_ready && !MEF3PY_FORKED(self->owner)) {
    pthread_mutex_destroy(&self->q.mu);
    pthread_cond_destroy(&self->q.cv);
    pthread_cond_destroy(&self->q.idle);
  }
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *pool_close(PoolObject *self, PyObject *noargs) {
  pool_free_released(self);
  Py_RETURN_NONE;
}

/* Wrap `f` (freed on failure) in a new _core.Future; with a token (not
 * None), set token._cf to it and queue the token when `f` completes. */
static PyObject *wrap(PoolObject *self, mef3_future *f, int kind,
                      PyObject *token) {
  PyObject *fut = mef3py_future_new(f, kind);
  if (!fut || token == Py_None)
    return fut;
  /* The token knows its C future before its completion can be seen. */
  if (PyObject_SetAttrString(token, "_cf", fut) < 0) {
    Py_DECREF(fut);
    return NULL;
  }
  node *n = PyMem_RawMalloc(sizeof *n);
  if (!n) {
    Py_DECREF(fut);
    return PyErr_NoMemory();
  }
  n->next = NULL;
  n->q = &self->q;
  n->token = Py_NewRef(token);
  /* Runs on_done at once when already complete (no GIL needed there). */
  if (mef3_future_on_done(f, on_done, n) != 0) {
    Py_DECREF(token);
    PyMem_RawFree(n);
    Py_DECREF(fut);
    return mef3py_raise(MEF3_ERROR, "cannot register the completion");
  }
  return fut;
}

/* A sequence of str as a NULL-terminated array of UTF-8 pointers borrowed
 * from `*keep` (a new list holding the bytes objects). */
static const char **str_array(PyObject *seq_obj, Py_ssize_t *n,
                              PyObject **keep) {
  PyObject *seq = PySequence_Fast(seq_obj, "channels must be a sequence");
  if (!seq)
    return NULL;
  *n = PySequence_Fast_GET_SIZE(seq);
  const char **a = PyMem_Calloc((size_t)*n + 1, sizeof *a);
  if (!a) {
    Py_DECREF(seq);
    PyErr_NoMemory();
    return NULL;
  }
  for (Py_ssize_t i = 0; i < *n; i++) {
    a[i] = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(seq, i));
    if (!a[i]) {
      PyMem_Free(a);
      Py_DECREF(seq);
      return NULL;
    }
  }
  *keep = seq; /* the str objects own the UTF-8 */
  return a;
}

static PyObject *pool_submit_tiles(PoolObject *self, PyObject *args) {
  MEF3PY_OWNED(self, "pool");
  PyObject *token, *path_obj, *blocks_obj;
  const char *channel;
  double fs;
  long long cs, spt;
  if (!PyArg_ParseTuple(args, "OOsOdLL", &token, &path_obj, &channel,
                        &blocks_obj, &fs, &cs, &spt))
    return NULL;
  if (check_open(self))
    return NULL;
  if (spt < 1)
    return mef3py_raise(MEF3_EINVAL, "samples_per_tile must be at least 1");
  PyObject *seq = PySequence_Fast(blocks_obj, "block_indices must be a sequence");
  if (!seq)
    return NULL;
  Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
  int64_t *b = PyMem_Malloc(((size_t)n + 1) * sizeof *b);
  PyObject *path = NULL, *out = NULL;
  if (!b) {
    PyErr_NoMemory();
    goto done;
  }
  for (Py_ssize_t i = 0; i < n; i++) {
    long long v = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(seq, i));
    if (v == -1 && PyErr_Occurred())
      goto done;
    b[i] = v;
  }
  if (!(path = mef3py_path_bytes(path_obj)))
    goto done;
  mef3_future *f;
  int rc = mef3_pool_submit_tiles(&f, self->pool, PyBytes_AS_STRING(path),
                                  channel, b, (size_t)n, fs, cs, spt);
  if (rc)
    mef3py_raise_last(rc);
  else
    out = wrap(self, f, MEF3PY_TILES, token);
done:
  PyMem_Free(b);
  Py_XDECREF(path);
  Py_DECREF(seq);
  return out;
}

static PyObject *pool_read_window(PoolObject *self, PyObject *args) {
  MEF3PY_OWNED(self, "pool");
  PyObject *token, *path_obj, *chs_obj, *keep = NULL, *path = NULL;
  long long t0, t1;
  int n_splits = 0;
  if (!PyArg_ParseTuple(args, "OOOLL|i", &token, &path_obj, &chs_obj, &t0, &t1,
                        &n_splits))
    return NULL;
  if (check_open(self))
    return NULL;
  Py_ssize_t n;
  const char **chs = str_array(chs_obj, &n, &keep);
  if (!chs)
    return NULL;
  PyObject *out = NULL;
  if ((path = mef3py_path_bytes(path_obj))) {
    mef3_future *f;
    /* The Python call names no rates: the pool learns them (NULL). */
    int rc = mef3_pool_read_window(&f, self->pool, PyBytes_AS_STRING(path), chs,
                                   NULL, (size_t)n, t0, t1, n_splits);
    if (rc)
      mef3py_raise_last(rc);
    else
      out = wrap(self, f, MEF3PY_WINDOW, token);
  }
  PyMem_Free(chs);
  Py_XDECREF(keep);
  Py_XDECREF(path);
  return out;
}

static PyObject *pool_warmup(PoolObject *self, PyObject *args) {
  MEF3PY_OWNED(self, "pool");
  PyObject *path_obj, *path;
  const char *channel;
  double timeout = -1;
  if (!PyArg_ParseTuple(args, "Os|d", &path_obj, &channel, &timeout))
    return NULL;
  if (check_open(self) || !(path = mef3py_path_bytes(path_obj)))
    return NULL;
  int64_t ms = timeout < 0 ? -1 : (int64_t)(timeout * 1000.0);
  int rc;
  const char *p = PyBytes_AS_STRING(path);
  mef3_pool *pool = use(self);
  Py_BEGIN_ALLOW_THREADS rc = mef3_pool_warmup(pool, p, channel, ms);
  Py_END_ALLOW_THREADS unuse(self);
  Py_DECREF(path);
  if (rc)
    return mef3py_raise_last(rc);
  Py_RETURN_NONE;
}

static PyObject *pool_set_password(PoolObject *self, PyObject *args) {
  MEF3PY_OWNED(self, "pool");
  PyObject *path_obj, *path;
  const char *pw = NULL;
  if (!PyArg_ParseTuple(args, "Oz", &path_obj, &pw))
    return NULL;
  if (check_open(self) || !(path = mef3py_path_bytes(path_obj)))
    return NULL;
  int rc = mef3_pool_set_password(self->pool, PyBytes_AS_STRING(path), pw);
  Py_DECREF(path);
  if (rc)
    return mef3py_raise_last(rc);
  Py_RETURN_NONE;
}

static PyObject *pool_forget(PoolObject *self, PyObject *arg) {
  MEF3PY_OWNED(self, "pool");
  PyObject *path;
  if (check_open(self) || !(path = mef3py_path_bytes(arg)))
    return NULL;
  int rc = mef3_pool_forget(self->pool, PyBytes_AS_STRING(path));
  Py_DECREF(path);
  if (rc)
    return mef3py_raise_last(rc);
  Py_RETURN_NONE;
}

static PyObject *pool_stats(PoolObject *self, PyObject *noargs) {
  MEF3PY_OWNED(self, "pool");
  if (check_open(self))
    return NULL;
  mef3_pool_stats s;
  mef3_pool_get_stats(&s, self->pool);
  return Py_BuildValue(
      "{s:K,s:K,s:K,s:K,s:K,s:K,s:I,s:I,s:I,s:K,s:i}", "requests",
      (unsigned long long)s.requests, "completed",
      (unsigned long long)s.completed, "failed", (unsigned long long)s.failed,
      "canceled", (unsigned long long)s.canceled, "bytes_decoded",
      (unsigned long long)s.bytes_decoded, "worker_restarts",
      (unsigned long long)s.worker_restarts, "queue_depth", s.queue_depth,
      "busy_workers", s.busy_workers, "live_workers", s.live_workers,
      "shm_bytes", (unsigned long long)s.shm_bytes, "max_workers",
      mef3_pool_size(self->pool));
}

/* next_done(timeout=None) -> list of tokens (empty on timeout), or None once
 * the pool is closed and every completion has been taken. */
static PyObject *pool_next_done(PoolObject *self, PyObject *args) {
  double timeout = -1;
  if (!PyArg_ParseTuple(args, "|d", &timeout))
    return NULL;
  node *got = NULL;
  int closed = 0;
  Py_BEGIN_ALLOW_THREADS pthread_mutex_lock(&self->q.mu);
  if (!self->q.head && !self->q.closed) {
    if (timeout < 0) {
      while (!self->q.head && !self->q.closed)
        pthread_cond_wait(&self->q.cv, &self->q.mu);
    } else {
      struct timespec dl;
      clock_gettime(CLOCK_MONOTONIC, &dl);
      long long ns = (long long)(timeout * 1e9);
      dl.tv_sec += ns / 1000000000LL;
      dl.tv_nsec += ns % 1000000000LL;
      if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
      }
      while (!self->q.head && !self->q.closed)
        if (pthread_cond_timedwait(&self->q.cv, &self->q.mu, &dl) != 0)
          break;
    }
  }
  got = self->q.head;
  self->q.head = self->q.tail = NULL;
  closed = self->q.closed;
  pthread_mutex_unlock(&self->q.mu);
  Py_END_ALLOW_THREADS

  if (!got && closed)
    Py_RETURN_NONE;
  PyObject *list = PyList_New(0);
  for (node *n = got, *nx; n; n = nx) {
    nx = n->next;
    if (list && PyList_Append(list, n->token) < 0)
      Py_CLEAR(list);
    Py_DECREF(n->token);
    PyMem_RawFree(n);
  }
  return list;
}

static PyObject *pool_get_closed(PoolObject *self, void *c) {
  return PyBool_FromLong(self->pool == NULL);
}

static PyMethodDef pool_methods[] = {
    {"submit_tiles", (PyCFunction)pool_submit_tiles, METH_VARARGS,
     "submit_tiles(token, path, channel, blocks, fs, cs, spt) -> Future"},
    {"read_window", (PyCFunction)pool_read_window, METH_VARARGS,
     "read_window(token, path, channels, t0, t1, n_splits=0) -> Future"},
    {"warmup", (PyCFunction)pool_warmup, METH_VARARGS,
     "warmup(path, channel, timeout=-1): start workers, open path in each."},
    {"set_password", (PyCFunction)pool_set_password, METH_VARARGS, NULL},
    {"forget", (PyCFunction)pool_forget, METH_O, NULL},
    {"stats", (PyCFunction)pool_stats, METH_NOARGS, NULL},
    {"next_done", (PyCFunction)pool_next_done, METH_VARARGS,
     "next_done(timeout=-1) -> [token] or None once closed and drained."},
    {"close", (PyCFunction)pool_close, METH_NOARGS,
     "close(): cancel queued requests, wait for running ones, end workers."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef pool_getset[] = {
    {"closed", (getter)pool_get_closed, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject PoolType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "mef3pool._core.Pool",
    .tp_basicsize = sizeof(PoolObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Low-level reader process pool (use "
              "mef3pool.ReaderProcessPool).",
    .tp_new = pool_new,
    .tp_init = (initproc)pool_init,
    .tp_dealloc = (destructor)pool_dealloc,
    .tp_methods = pool_methods,
    .tp_getset = pool_getset,
};

int mef3py_pool_init(PyObject *m) {
  if (mef3py_future_init(m) < 0 || PyType_Ready(&PoolType) < 0)
    return -1;
  Py_INCREF(&PoolType);
  if (PyModule_AddObject(m, "Pool", (PyObject *)&PoolType) < 0) {
    Py_DECREF(&PoolType);
    return -1;
  }
  return 0;
}
