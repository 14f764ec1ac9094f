/*
 * python/src/future.c - _core.Future: one mef3_future and its result
 * memory, exported through the buffer protocol.
 *
 * The result of a pool request lies in the pool's shared memory (the
 * worker wrote it there); this object owns the mef3_future, and numpy
 * arrays made from it (numpy.frombuffer) hold a reference to it, so the
 * memory stays mapped and unchanged as long as any array views it, even
 * after the pool is closed.  The buffer is one float32 vector of
 * rows x cols values (tiles x samples_per_tile, or channels x samples),
 * writable: after completion the region belongs to the caller alone.
 *
 * Waits release the GIL and wake every 200 ms to let the main thread see
 * signals (Ctrl-C), which costs nothing when the future completes: the
 * wait returns at once.  Any thread may use a Future.
 */
#include "mef3py.h"

#include <math.h>

#include "mef3py_pool.h"

static void future_dealloc(FutureObject *self) {
  /* A queued request is canceled, a running one completes unseen; a
   * done-callback still registered holds a reference to our token, not
   * to us, so freeing here never races with it. */
  mef3_future *f = self->f;
  self->f = NULL;
  if (f && !MEF3PY_FORKED(self->owner)) { /* forked: forgotten (mef3py.h) */
    Py_BEGIN_ALLOW_THREADS mef3_future_free(f);
    Py_END_ALLOW_THREADS
  }
  Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Wait up to `timeout` seconds (negative: forever) with the GIL released.
 * 1 done, 0 timed out, -1 an exception (a signal handler raised). */
int mef3py_future_wait(FutureObject *self, double timeout) {
  if (MEF3PY_FORKED(self->owner)) {
    mef3py_raise_forked("pool future", self->owner);
    return -1;
  }
  if (mef3_future_done(self->f))
    return 1;
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    int64_t slice = 200;
    if (timeout >= 0) {
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      double left = timeout - ((double)(now.tv_sec - t0.tv_sec) +
                               (double)(now.tv_nsec - t0.tv_nsec) * 1e-9);
      if (left <= 0)
        return mef3_future_done(self->f) ? 1 : 0;
      int64_t ms = (int64_t)ceil(left * 1000.0);
      if (ms < slice)
        slice = ms;
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = mef3_future_wait(self->f, slice);
    Py_END_ALLOW_THREADS if (rc == 0) return 1;
    if (PyErr_CheckSignals() < 0)
      return -1;
  }
}

static PyObject *future_wait(FutureObject *self, PyObject *args) {
  MEF3PY_OWNED(self, "pool future");
  PyObject *timeout_obj = Py_None;
  if (!PyArg_ParseTuple(args, "|O", &timeout_obj))
    return NULL;
  double timeout = -1;
  if (timeout_obj != Py_None) {
    timeout = PyFloat_AsDouble(timeout_obj);
    if (timeout == -1 && PyErr_Occurred())
      return NULL;
    if (timeout < 0)
      timeout = 0;
  }
  int rc = mef3py_future_wait(self, timeout);
  if (rc < 0)
    return NULL;
  return PyBool_FromLong(rc);
}

static PyObject *future_done(FutureObject *self, PyObject *noargs) {
  MEF3PY_OWNED(self, "pool future");
  return PyBool_FromLong(mef3_future_done(self->f));
}

static PyObject *future_status(FutureObject *self, PyObject *noargs) {
  MEF3PY_OWNED(self, "pool future");
  if (!mef3_future_done(self->f))
    Py_RETURN_NONE;
  return PyLong_FromLong(mef3_future_status(self->f));
}

static PyObject *future_cancel(FutureObject *self, PyObject *noargs) {
  MEF3PY_OWNED(self, "pool future");
  return PyBool_FromLong(mef3_future_cancel(self->f) == 0);
}

/* The exception of a failed future (an instance, not raised), or None. */
static PyObject *future_error(FutureObject *self, PyObject *noargs) {
  MEF3PY_OWNED(self, "pool future");
  if (!mef3_future_done(self->f))
    Py_RETURN_NONE;
  int st = mef3_future_status(self->f);
  if (st == 0)
    Py_RETURN_NONE;
  mef3py_raise(st, mef3_future_message(self->f));
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  Py_XDECREF(type);
  Py_XDECREF(tb);
  return value;
}

static int result_shape(FutureObject *self, size_t *rows, size_t *cols,
                        const float **p) {
  if (!mef3_future_done(self->f) || mef3_future_status(self->f) != 0)
    return -1;
  *p = self->kind == MEF3PY_TILES ? mef3_future_tiles(rows, cols, self->f)
                                  : mef3_future_window(rows, cols, self->f);
  return *p ? 0 : -1;
}

/* (rows, cols) of the result once done successfully, else None. */
static PyObject *future_shape(FutureObject *self, PyObject *noargs) {
  MEF3PY_OWNED(self, "pool future");
  size_t rows, cols;
  const float *p;
  if (result_shape(self, &rows, &cols, &p))
    Py_RETURN_NONE;
  return Py_BuildValue("nn", (Py_ssize_t)rows, (Py_ssize_t)cols);
}

static int future_getbuffer(FutureObject *self, Py_buffer *view, int flags) {
  size_t rows, cols;
  const float *p;
  if (result_shape(self, &rows, &cols, &p)) {
    PyErr_SetString(PyExc_BufferError,
                    "the request has not completed successfully");
    view->obj = NULL;
    return -1;
  }
  /* One flat float32 vector; the caller reshapes. */
  self->n_items = (Py_ssize_t)(rows * cols);
  self->stride = sizeof(float);
  view->buf = (void *)p;
  view->obj = Py_NewRef((PyObject *)self);
  view->len = self->n_items * (Py_ssize_t)sizeof(float);
  view->readonly = 0;
  view->itemsize = sizeof(float);
  view->format = (flags & PyBUF_FORMAT) ? "f" : NULL;
  view->ndim = 1;
  view->shape = (flags & PyBUF_ND) ? &self->n_items : NULL;
  view->strides = (flags & PyBUF_STRIDES) ? &self->stride : NULL;
  view->suboffsets = NULL;
  view->internal = NULL;
  return 0;
}

static PyBufferProcs future_as_buffer = {(getbufferproc)future_getbuffer,
                                         NULL};

static PyObject *future_get_kind(FutureObject *self, void *c) {
  return PyUnicode_FromString(self->kind == MEF3PY_TILES ? "tiles" : "window");
}

static PyMethodDef future_methods[] = {
    {"wait", (PyCFunction)future_wait, METH_VARARGS,
     "wait(timeout=None) -> bool: True once completed (GIL released)."},
    {"done", (PyCFunction)future_done, METH_NOARGS, NULL},
    {"status", (PyCFunction)future_status, METH_NOARGS,
     "status() -> the C result code once done (0 success), else None."},
    {"cancel", (PyCFunction)future_cancel, METH_NOARGS,
     "cancel() -> True when the request was still queued and is canceled."},
    {"error", (PyCFunction)future_error, METH_NOARGS,
     "error() -> the mef3pool.Error of a failed request, or None."},
    {"shape", (PyCFunction)future_shape, METH_NOARGS,
     "shape() -> (rows, cols) of the result, or None."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef future_getset[] = {
    {"kind", (getter)future_get_kind, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject mef3py_FutureType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "mef3pool._core.Future",
    .tp_basicsize = sizeof(FutureObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One request of a _core.Pool and its result in shared memory "
              "(buffer protocol: float32).",
    .tp_dealloc = (destructor)future_dealloc,
    .tp_methods = future_methods,
    .tp_getset = future_getset,
    .tp_as_buffer = &future_as_buffer,
};

PyObject *mef3py_future_new(mef3_future *f, int kind) {
  FutureObject *self = PyObject_New(FutureObject, &mef3py_FutureType);
  if (!self) {
    mef3_future_free(f);
    return NULL;
  }
  self->f = f;
  self->kind = kind;
  self->owner = getpid();
  return (PyObject *)self;
}

int mef3py_future_init(PyObject *m) {
  if (PyType_Ready(&mef3py_FutureType) < 0)
    return -1;
  Py_INCREF(&mef3py_FutureType);
  if (PyModule_AddObject(m, "Future", (PyObject *)&mef3py_FutureType) < 0) {
    Py_DECREF(&mef3py_FutureType);
    return -1;
  }
  return 0;
}
