/*
 * python/src/writer.c - _core.Writer: one mef3_writer behind a lock.
 *
 * The low level of mef3pool.Writer (mef3pool/writer.py holds mef3io's
 * API: channels created on first write, precision, NaN gaps, masks).
 * Sample writes read the caller's buffer (numpy arrays through the buffer
 * protocol) and encode with the GIL released; the per-object lock keeps
 * one C call at a time on the writer, taken after the GIL is released.
 */
#include "mef3py.h"

#include <pythread.h>

typedef struct {
  PyObject_HEAD mef3_writer *w;
  PyThread_type_lock lock;
} WriterObject;

#define LOCK(self)                                                             \
  do {                                                                         \
    if (!PyThread_acquire_lock((self)->lock, NOWAIT_LOCK)) {                   \
      Py_BEGIN_ALLOW_THREADS PyThread_acquire_lock((self)->lock, WAIT_LOCK);   \
      Py_END_ALLOW_THREADS                                                     \
    }                                                                          \
  } while (0)
#define UNLOCK(self) PyThread_release_lock((self)->lock)

static PyObject *closed_error(void) {
  return mef3py_raise(MEF3_EINVAL, "the writer is closed");
}

static PyObject *writer_new(PyTypeObject *type, PyObject *a, PyObject *k) {
  WriterObject *self = (WriterObject *)type->tp_alloc(type, 0);
  if (!self)
    return NULL;
  if (!(self->lock = PyThread_allocate_lock())) {
    Py_DECREF(self);
    return PyErr_NoMemory();
  }
  return (PyObject *)self;
}

static int writer_init(WriterObject *self, PyObject *args, PyObject *kw) {
  static char *kwlist[] = {"path",           "password1",  "password2",
                           "data_encryption", "uuid_seed", "gmt_offset",
                           "session_description", "subject_name_1",
                           "subject_name_2", "subject_id", "recording_location",
                           NULL};
  PyObject *path_obj, *path;
  const char *pw1 = NULL, *pw2 = NULL, *desc = NULL, *s1 = NULL, *s2 = NULL,
             *sid = NULL, *loc = NULL;
  int data_enc = 0, gmt = MEF3_GMT_OFFSET_NO_ENTRY;
  unsigned long long seed = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O|zziKizzzzz", kwlist, &path_obj,
                                   &pw1, &pw2, &data_enc, &seed, &gmt, &desc,
                                   &s1, &s2, &sid, &loc))
    return -1;
  if (self->w) {
    PyErr_SetString(PyExc_RuntimeError, "Writer.__init__ called twice");
    return -1;
  }
  if (!(path = mef3py_path_bytes(path_obj)))
    return -1;
  mef3_writer_options o = MEF3_WRITER_OPTIONS_INIT;
  o.level_1_password = pw1;
  o.level_2_password = pw2;
  o.data_encryption = data_enc;
  o.uuid_seed = seed;
  o.gmt_offset = gmt;
  o.session_description = desc;
  o.subject_name_1 = s1;
  o.subject_name_2 = s2;
  o.subject_id = sid;
  o.recording_location = loc;
  int rc;
  const char *p = PyBytes_AS_STRING(path);
  mef3_writer *w = NULL;
  Py_BEGIN_ALLOW_THREADS rc = mef3_writer_open(&w, p, &o);
  Py_END_ALLOW_THREADS Py_DECREF(path);
  if (rc) {
    mef3py_raise_last(rc);
    return -1;
  }
  self->w = w;
  return 0;
}

static void writer_dealloc(WriterObject *self) {
  if (self->w) {
    mef3_writer *w = self->w;
    self->w = NULL;
    Py_BEGIN_ALLOW_THREADS mef3_writer_close(w);
    Py_END_ALLOW_THREADS
  }
  if (self->lock)
    PyThread_free_lock(self->lock);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *writer_close(WriterObject *self, PyObject *noargs) {
  LOCK(self);
  mef3_writer *w = self->w;
  self->w = NULL;
  int rc = 0;
  if (w) {
    Py_BEGIN_ALLOW_THREADS rc = mef3_writer_close(w);
    Py_END_ALLOW_THREADS
  }
  UNLOCK(self);
  if (rc)
    return mef3py_raise_last(rc);
  Py_RETURN_NONE;
}

/* add_channel(name, fs, start_uutc, units, ufact, block_samples) -> index */
static PyObject *writer_add_channel(WriterObject *self, PyObject *args,
                                    PyObject *kw) {
  static char *kwlist[] = {"name",      "fs",          "start_uutc",
                           "units",     "ufact",       "block_samples",
                           "data_encryption", NULL};
  const char *name, *units = NULL;
  double fs, ufact = 1.0;
  long long start;
  unsigned int block = 0;
  int enc = -1;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "sdL|zdIi", kwlist, &name, &fs,
                                   &start, &units, &ufact, &block, &enc))
    return NULL;
  mef3_channel_options c = MEF3_CHANNEL_OPTIONS_INIT;
  c.name = name;
  c.fs = fs;
  c.start_uutc = start;
  c.units_description = units;
  c.units_conversion_factor = ufact;
  c.block_samples = block;
  c.data_encryption = enc;
  size_t idx = 0;
  int rc = MEF3_EINVAL;
  LOCK(self);
  if (self->w) {
    Py_BEGIN_ALLOW_THREADS rc = mef3_writer_add_channel(&idx, self->w, &c);
    Py_END_ALLOW_THREADS
  }
  int open = self->w != NULL;
  UNLOCK(self);
  if (!open)
    return closed_error();
  if (rc)
    return mef3py_raise_last(rc);
  return PyLong_FromSize_t(idx);
}

/* write(ch, start_uutc or None, type, buffer): type 2 int32, 1 float64. */
static PyObject *writer_write(WriterObject *self, PyObject *args) {
  Py_ssize_t ch;
  PyObject *start_obj, *buf_obj;
  int type;
  if (!PyArg_ParseTuple(args, "nOiO", &ch, &start_obj, &type, &buf_obj))
    return NULL;
  long long start = MEF3_UUTC_NO_ENTRY;
  if (start_obj != Py_None) {
    start = PyLong_AsLongLong(start_obj);
    if (start == -1 && PyErr_Occurred())
      return NULL;
  }
  if (ch < 0)
    return mef3py_raise(MEF3_EINVAL, "channel index out of range");
  Py_buffer b;
  if (PyObject_GetBuffer(buf_obj, &b, PyBUF_C_CONTIGUOUS) < 0)
    return NULL;
  size_t want = type == MEF3_I32 ? 4 : type == MEF3_F64 ? 8 : 0;
  if (!want || (size_t)b.itemsize != want) {
    PyBuffer_Release(&b);
    return mef3py_raise(MEF3_EINVAL, "sample buffer of the wrong item size");
  }
  size_t n = (size_t)b.len / want;
  int rc = MEF3_EINVAL;
  LOCK(self);
  if (self->w) {
    Py_BEGIN_ALLOW_THREADS if (type == MEF3_I32) rc =
        mef3_writer_write_i32(self->w, (size_t)ch, start, b.buf, n);
    else rc = mef3_writer_write_f64(self->w, (size_t)ch, start, b.buf, n);
    Py_END_ALLOW_THREADS
  }
  int open = self->w != NULL;
  UNLOCK(self);
  PyBuffer_Release(&b);
  if (!open)
    return closed_error();
  if (rc)
    return mef3py_raise_last(rc);
  Py_RETURN_NONE;
}

typedef int (*ch_fn)(mef3_writer *, size_t);

static PyObject *per_channel(WriterObject *self, PyObject *args, ch_fn fn) {
  Py_ssize_t ch;
  if (!PyArg_ParseTuple(args, "n", &ch))
    return NULL;
  int rc = MEF3_EINVAL;
  LOCK(self);
  if (self->w) {
    size_t c = ch < 0 ? MEF3_WRITER_ALL_CHANNELS : (size_t)ch;
    Py_BEGIN_ALLOW_THREADS rc = fn(self->w, c);
    Py_END_ALLOW_THREADS
  }
  int open = self->w != NULL;
  UNLOCK(self);
  if (!open)
    return closed_error();
  if (rc)
    return mef3py_raise_last(rc);
  Py_RETURN_NONE;
}

static PyObject *writer_new_segment(WriterObject *self, PyObject *args) {
  return per_channel(self, args, mef3_writer_new_segment);
}

static PyObject *writer_flush(WriterObject *self, PyObject *args) {
  return per_channel(self, args, mef3_writer_flush);
}

static PyObject *writer_sync(WriterObject *self, PyObject *noargs) {
  int rc = MEF3_EINVAL;
  LOCK(self);
  if (self->w) {
    Py_BEGIN_ALLOW_THREADS rc = mef3_writer_sync(self->w);
    Py_END_ALLOW_THREADS
  }
  int open = self->w != NULL;
  UNLOCK(self);
  if (!open)
    return closed_error();
  if (rc)
    return mef3py_raise_last(rc);
  Py_RETURN_NONE;
}

/* add_note(ch or -1 for the session, time, text) */
static PyObject *writer_add_note(WriterObject *self, PyObject *args) {
  Py_ssize_t ch;
  long long t;
  const char *text;
  if (!PyArg_ParseTuple(args, "nLs", &ch, &t, &text))
    return NULL;
  int rc = MEF3_EINVAL;
  LOCK(self);
  if (self->w)
    rc = mef3_writer_add_note(self->w, ch < 0 ? MEF3_WRITER_SESSION : (size_t)ch,
                              t, text);
  int open = self->w != NULL;
  UNLOCK(self);
  if (!open)
    return closed_error();
  if (rc)
    return mef3py_raise_last(rc);
  Py_RETURN_NONE;
}

/* add_seizure(ch or -1, onset, offset, annotation, onset_code) */
static PyObject *writer_add_seizure(WriterObject *self, PyObject *args) {
  Py_ssize_t ch;
  long long on, off;
  const char *text = NULL;
  int code = -1;
  if (!PyArg_ParseTuple(args, "nLL|zi", &ch, &on, &off, &text, &code))
    return NULL;
  mef3_seizure s = MEF3_SEIZURE_INIT;
  s.onset_uutc = on;
  s.offset_uutc = off;
  s.annotation = text;
  s.onset_code = code;
  int rc = MEF3_EINVAL;
  LOCK(self);
  if (self->w)
    rc = mef3_writer_add_seizure(
        self->w, ch < 0 ? MEF3_WRITER_SESSION : (size_t)ch, &s);
  int open = self->w != NULL;
  UNLOCK(self);
  if (!open)
    return closed_error();
  if (rc)
    return mef3py_raise_last(rc);
  Py_RETURN_NONE;
}

static PyObject *writer_stats(WriterObject *self, PyObject *noargs) {
  mef3_writer_stats s = {0};
  LOCK(self);
  int open = self->w != NULL;
  if (open)
    mef3_writer_get_stats(&s, self->w);
  UNLOCK(self);
  if (!open)
    return closed_error();
  return Py_BuildValue("{s:L,s:L,s:K}", "samples", (long long)s.samples,
                       "blocks", (long long)s.blocks, "bytes",
                       (unsigned long long)s.bytes);
}

static PyObject *writer_get_closed(WriterObject *self, void *c) {
  return PyBool_FromLong(self->w == NULL);
}

static PyMethodDef writer_methods[] = {
    {"close", (PyCFunction)writer_close, METH_NOARGS,
     "Finish the session (pending samples as final blocks)."},
    {"add_channel", (PyCFunction)(void (*)(void))writer_add_channel,
     METH_VARARGS | METH_KEYWORDS,
     "add_channel(name, fs, start_uutc, units=None, ufact=1.0, "
     "block_samples=0, data_encryption=-1) -> index"},
    {"write", (PyCFunction)writer_write, METH_VARARGS,
     "write(ch, start_uutc or None, type, buffer): 2 int32 counts, 1 "
     "float64 values (NaN: gap)."},
    {"new_segment", (PyCFunction)writer_new_segment, METH_VARARGS, NULL},
    {"flush", (PyCFunction)writer_flush, METH_VARARGS, NULL},
    {"sync", (PyCFunction)writer_sync, METH_NOARGS, NULL},
    {"add_note", (PyCFunction)writer_add_note, METH_VARARGS, NULL},
    {"add_seizure", (PyCFunction)writer_add_seizure, METH_VARARGS, NULL},
    {"stats", (PyCFunction)writer_stats, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef writer_getset[] = {
    {"closed", (getter)writer_get_closed, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject WriterType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "mef3pool._core.Writer",
    .tp_basicsize = sizeof(WriterObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Low-level writer (use mef3pool.Writer).",
    .tp_new = writer_new,
    .tp_init = (initproc)writer_init,
    .tp_dealloc = (destructor)writer_dealloc,
    .tp_methods = writer_methods,
    .tp_getset = writer_getset,
};

int mef3py_writer_init(PyObject *m) {
  if (PyType_Ready(&WriterType) < 0)
    return -1;
  Py_INCREF(&WriterType);
  if (PyModule_AddObject(m, "Writer", (PyObject *)&WriterType) < 0) {
    Py_DECREF(&WriterType);
    return -1;
  }
  return 0;
}
