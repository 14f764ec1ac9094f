/*
 * python/src/signal_obj.c - _core.Signal: a window of signal the C
 * library allocated (mef3_signal, from the file manager or the client),
 * handed to Python without a copy.
 *
 * The object owns the mef3_signal and exports its samples through the
 * buffer protocol as a writable C-contiguous (channels, samples) float32
 * array; numpy.asarray(signal) is a view, and the memory lives as long as
 * any view of it (numpy keeps the exporter alive).  Also here: file info
 * as a dict, channel-list arguments and the guard that lets a handle be
 * freed while other threads may still be inside a call on it.
 */
#include "signal_obj.h"

#include <structmember.h>

typedef struct {
  PyObject_HEAD mef3_signal *s;
  Py_ssize_t shape[2], strides[2];
  PyObject *names;
} SignalObject;

static void signal_dealloc(SignalObject *self) {
  mef3_signal_free(self->s);
  Py_XDECREF(self->names);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static int signal_getbuffer(SignalObject *self, Py_buffer *view, int flags) {
  view->obj = (PyObject *)self;
  Py_INCREF(self);
  view->buf = self->s->data;
  view->len = self->shape[0] * self->shape[1] * (Py_ssize_t)sizeof(float);
  view->readonly = 0;
  view->itemsize = sizeof(float);
  view->format = (flags & PyBUF_FORMAT) ? "f" : NULL;
  view->ndim = 2;
  view->shape = (flags & PyBUF_ND) ? self->shape : NULL;
  view->strides = (flags & PyBUF_STRIDES) ? self->strides : NULL;
  view->suboffsets = NULL;
  view->internal = NULL;
  return 0;
}

static PyBufferProcs signal_as_buffer = {(getbufferproc)signal_getbuffer, NULL};

static PyObject *signal_get_fs(SignalObject *self, void *c) {
  return PyFloat_FromDouble(self->s->fs);
}
static PyObject *signal_get_start(SignalObject *self, void *c) {
  return PyLong_FromLongLong(self->s->start_uutc);
}
static PyObject *signal_get_end(SignalObject *self, void *c) {
  return PyLong_FromLongLong(self->s->end_uutc);
}
static PyObject *signal_get_names(SignalObject *self, void *c) {
  Py_INCREF(self->names);
  return self->names;
}
static PyObject *signal_get_shape(SignalObject *self, void *c) {
  return Py_BuildValue("nn", self->shape[0], self->shape[1]);
}

static PyGetSetDef signal_getset[] = {
    {"fs", (getter)signal_get_fs, NULL, "Sampling rate, Hz.", NULL},
    {"start_uutc", (getter)signal_get_start, NULL, "Window start, µUTC.", NULL},
    {"end_uutc", (getter)signal_get_end, NULL, "Window end, µUTC.", NULL},
    {"channel_names", (getter)signal_get_names, NULL,
     "Channel names, one per row.", NULL},
    {"shape", (getter)signal_get_shape, NULL, "(channels, samples)", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject SignalType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "mef3pool._core.Signal",
    .tp_basicsize = sizeof(SignalObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A window of float32 signal owned by the C library, exported "
              "as a (channels, samples) buffer (numpy.asarray views it).",
    .tp_dealloc = (destructor)signal_dealloc,
    .tp_as_buffer = &signal_as_buffer,
    .tp_getset = signal_getset,
};

static PyObject *utf8(const char *s) {
  return PyUnicode_DecodeUTF8(s ? s : "", s ? (Py_ssize_t)strlen(s) : 0,
                              "replace");
}

PyObject *mef3py_signal_wrap(mef3_signal *s) {
  PyObject *names = PyList_New((Py_ssize_t)s->n_channels);
  if (!names) {
    mef3_signal_free(s);
    return NULL;
  }
  for (size_t i = 0; i < s->n_channels; i++) {
    PyObject *n = utf8(s->channel_names[i]);
    if (!n) {
      Py_DECREF(names);
      mef3_signal_free(s);
      return NULL;
    }
    PyList_SET_ITEM(names, (Py_ssize_t)i, n);
  }
  SignalObject *self = PyObject_New(SignalObject, &SignalType);
  if (!self) {
    Py_DECREF(names);
    mef3_signal_free(s);
    return NULL;
  }
  self->s = s;
  self->names = names;
  self->shape[0] = (Py_ssize_t)s->n_channels;
  self->shape[1] = (Py_ssize_t)s->n_samples;
  self->strides[1] = (Py_ssize_t)sizeof(float);
  self->strides[0] = self->shape[1] * (Py_ssize_t)sizeof(float);
  return (PyObject *)self;
}

int mef3py_signal_ready(PyObject *m) {
  if (PyType_Ready(&SignalType) < 0)
    return -1;
  if (PyObject_HasAttrString(m, "Signal"))
    return 0;
  Py_INCREF(&SignalType);
  if (PyModule_AddObject(m, "Signal", (PyObject *)&SignalType) < 0) {
    Py_DECREF(&SignalType);
    return -1;
  }
  return 0;
}

/* Set d[key] = v (stealing v); -1 when v is NULL or the set fails. */
static int put(PyObject *d, const char *key, PyObject *v) {
  if (!v)
    return -1;
  int rc = PyDict_SetItemString(d, key, v);
  Py_DECREF(v);
  return rc;
}

PyObject *mef3py_file_info_dict(const mef3_file_info *info) {
  PyObject *d = PyDict_New();
  if (!d)
    return NULL;
  size_t n = info->n_channels;
  PyObject *names = PyList_New((Py_ssize_t)n), *fs = PyList_New((Py_ssize_t)n);
  PyObject *st = PyList_New((Py_ssize_t)n), *en = PyList_New((Py_ssize_t)n);
  PyObject *ns = PyList_New((Py_ssize_t)n), *uc = PyList_New((Py_ssize_t)n);
  PyObject *un = PyList_New((Py_ssize_t)n);
  int bad = !names || !fs || !st || !en || !ns || !uc || !un;
  for (size_t i = 0; !bad && i < n; i++) {
    const mef3_file_channel *c = &info->channels[i];
    PyObject *v[7] = {utf8(c->name),
                      PyFloat_FromDouble(c->fs),
                      PyLong_FromLongLong(c->start_uutc),
                      PyLong_FromLongLong(c->end_uutc),
                      PyLong_FromLongLong(c->n_samples),
                      PyFloat_FromDouble(c->units_conversion_factor),
                      utf8(c->units)};
    PyObject *lists[7] = {names, fs, st, en, ns, uc, un};
    for (int k = 0; k < 7; k++) {
      if (!v[k]) {
        bad = 1;
        continue;
      }
      PyList_SET_ITEM(lists[k], (Py_ssize_t)i, v[k]);
    }
  }
  if (bad) {
    Py_XDECREF(names);
    Py_XDECREF(fs);
    Py_XDECREF(st);
    Py_XDECREF(en);
    Py_XDECREF(ns);
    Py_XDECREF(uc);
    Py_XDECREF(un);
    Py_DECREF(d);
    return NULL;
  }
  if (put(d, "file_path",
          PyUnicode_DecodeFSDefault(info->path ? info->path : "")) ||
      put(d, "real_path",
          PyUnicode_DecodeFSDefault(info->real_path ? info->real_path : "")) ||
      put(d, "number_of_channels", PyLong_FromSize_t(n)) ||
      put(d, "channel_names", names) || put(d, "channel_sampling_rates", fs) ||
      put(d, "channel_start_uutc", st) || put(d, "channel_end_uutc", en) ||
      put(d, "channel_n_samples", ns) ||
      put(d, "channel_units_conversion_factor", uc) ||
      put(d, "channel_units", un) ||
      put(d, "start_uutc", PyLong_FromLongLong(info->start_uutc)) ||
      put(d, "end_uutc", PyLong_FromLongLong(info->end_uutc)) ||
      put(d, "duration_s", PyFloat_FromDouble(info->duration_s)) ||
      put(d, "access_level", PyLong_FromLong(info->access_level)) ||
      put(d, "times_relative", PyBool_FromLong(info->times_relative))) {
    Py_DECREF(d);
    return NULL;
  }
  return d;
}

/* A list of n int64 as Python ints. */
static PyObject *int_list(const int64_t *v, size_t n) {
  PyObject *l = PyList_New((Py_ssize_t)n);
  for (size_t i = 0; l && i < n; i++) {
    PyObject *x = PyLong_FromLongLong(v[i]);
    if (!x) {
      Py_CLEAR(l);
      break;
    }
    PyList_SET_ITEM(l, (Py_ssize_t)i, x);
  }
  return l;
}

PyObject *mef3py_envelope_dict(mef3_envelope *e) {
  size_t n = e->n_channels, nb = n * e->n_columns * sizeof(float);
  PyObject *d = PyDict_New();
  PyObject *names = PyList_New((Py_ssize_t)n);
  int bad = !d || !names;
  for (size_t i = 0; !bad && i < n; i++) {
    PyObject *x = utf8(e->channel_names[i]);
    if (!x)
      bad = 1;
    else
      PyList_SET_ITEM(names, (Py_ssize_t)i, x);
  }
  if (bad) {
    Py_XDECREF(names);
    Py_XDECREF(d);
    mef3_envelope_free(e);
    return NULL;
  }
  if (put(d, "channel_names", names) ||
      put(d, "min", PyBytes_FromStringAndSize((const char *)e->min,
                                              (Py_ssize_t)nb)) ||
      put(d, "max", PyBytes_FromStringAndSize((const char *)e->max,
                                              (Py_ssize_t)nb)) ||
      put(d, "n_columns", PyLong_FromSize_t(e->n_columns)) ||
      put(d, "fs", PyFloat_FromDouble(e->fs)) ||
      put(d, "samples_per_column", PyLong_FromLongLong(e->samples_per_column)) ||
      put(d, "level", PyLong_FromLong(e->level)) ||
      put(d, "start_uutc", PyLong_FromLongLong(e->start_uutc)) ||
      put(d, "end_uutc", PyLong_FromLongLong(e->end_uutc)) ||
      put(d, "first_sample", int_list(e->first_sample, n)) ||
      put(d, "first_uutc", int_list(e->first_uutc, n))) {
    Py_DECREF(d);
    d = NULL;
  }
  mef3_envelope_free(e);
  return d;
}

int mef3py_channel_list(PyObject *obj, const char ***out, size_t *n,
                        PyObject **keep) {
  *out = NULL;
  *n = 0;
  *keep = NULL;
  if (obj == Py_None)
    return 0;
  PyObject *seq;
  if (PyUnicode_Check(obj))
    seq = PyTuple_Pack(1, obj);
  else
    seq = PySequence_Fast(obj, "channels must be None, a str or a sequence "
                               "of str");
  if (!seq)
    return -1;
  Py_ssize_t k = PySequence_Fast_GET_SIZE(seq);
  PyObject *list = PyList_New(k);
  const char **names = PyMem_Calloc(k ? (size_t)k : 1, sizeof *names);
  if (!list || !names) {
    Py_DECREF(seq);
    Py_XDECREF(list);
    PyMem_Free(names);
    PyErr_NoMemory();
    return -1;
  }
  for (Py_ssize_t i = 0; i < k; i++) {
    PyObject *it = PySequence_Fast_GET_ITEM(seq, i);
    if (!PyUnicode_Check(it)) {
      PyErr_Format(PyExc_TypeError, "channel names must be str, not %.100s",
                   Py_TYPE(it)->tp_name);
      goto fail;
    }
    PyObject *b = PyUnicode_AsUTF8String(it);
    if (!b)
      goto fail;
    if ((size_t)PyBytes_GET_SIZE(b) != strlen(PyBytes_AS_STRING(b))) {
      Py_DECREF(b);
      PyErr_SetString(PyExc_ValueError, "a channel name holds a NUL");
      goto fail;
    }
    PyList_SET_ITEM(list, i, b);
    names[i] = PyBytes_AS_STRING(b);
  }
  Py_DECREF(seq);
  *out = names;
  *n = (size_t)k;
  *keep = list;
  return 0;
fail:
  Py_DECREF(seq);
  Py_DECREF(list);
  PyMem_Free(names);
  return -1;
}

int mef3py_guard_init(mef3py_guard *g) {
  pthread_rwlockattr_t a;
  pthread_rwlockattr_init(&a);
  /* a closing call waiting for the lock is not starved by new calls */
  pthread_rwlockattr_setkind_np(&a,
                                PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  int rc = pthread_rwlock_init(&g->rw, &a);
  pthread_rwlockattr_destroy(&a);
  if (rc) {
    PyErr_NoMemory();
    return -1;
  }
  g->ready = 1;
  return 0;
}

void mef3py_guard_dispose(mef3py_guard *g) {
  if (g->ready)
    pthread_rwlock_destroy(&g->rw);
  g->ready = 0;
}
