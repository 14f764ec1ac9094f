/*
 * python/src/reader.c - _core.Reader: one mef3_reader behind a lock.
 *
 * The low level of mef3pool.Reader / MefReader (mef3pool/reader.py holds
 * the mef3io-compatible API).  Reads fill buffers the caller owns (numpy
 * arrays, through the buffer protocol) with the GIL released; a per-object
 * lock keeps one C call on the reader at a time (the C reader is used by
 * one thread at a time), taken only after the GIL is released so a thread
 * waiting for the reader never holds up the interpreter.  Opening also
 * runs without the GIL.  Metadata calls are quick and run with the GIL
 * held (still under the lock).
 */
#include "mef3py.h"

#include <pythread.h>

typedef struct {
  PyObject_HEAD mef3_reader *r;
  PyThread_type_lock lock;
} ReaderObject;

/* Take the reader's lock without holding the GIL. */
#define LOCK(self)                                                             \
  do {                                                                         \
    if (!PyThread_acquire_lock((self)->lock, NOWAIT_LOCK)) {                   \
      Py_BEGIN_ALLOW_THREADS PyThread_acquire_lock((self)->lock, WAIT_LOCK);   \
      Py_END_ALLOW_THREADS                                                     \
    }                                                                          \
  } while (0)
#define UNLOCK(self) PyThread_release_lock((self)->lock)

static int check_open(ReaderObject *self) {
  if (!self->r) {
    mef3py_raise(MEF3_EINVAL, "the reader is closed");
    return -1;
  }
  return 0;
}

static int reader_init(ReaderObject *self, PyObject *args, PyObject *kw) {
  static char *kwlist[] = {"path", "password", "check_crc", NULL};
  PyObject *path_obj, *path = NULL;
  const char *password = NULL;
  int check_crc = 1;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O|zp", kwlist, &path_obj,
                                   &password, &check_crc))
    return -1;
  if (self->r) {
    PyErr_SetString(PyExc_RuntimeError, "Reader.__init__ called twice");
    return -1;
  }
  if (!(path = mef3py_path_bytes(path_obj)))
    return -1;
  mef3_reader_options o = MEF3_READER_OPTIONS_INIT;
  o.password = password;
  o.check_block_crc = check_crc;
  int rc;
  mef3_reader *r = NULL;
  const char *p = PyBytes_AS_STRING(path);
  Py_BEGIN_ALLOW_THREADS rc = mef3_reader_open(&r, p, &o);
  Py_END_ALLOW_THREADS Py_DECREF(path);
  if (rc) {
    mef3py_raise_last(rc);
    return -1;
  }
  self->r = r;
  return 0;
}

static PyObject *reader_new(PyTypeObject *type, PyObject *a, PyObject *k) {
  ReaderObject *self = (ReaderObject *)type->tp_alloc(type, 0);
  if (!self)
    return NULL;
  if (!(self->lock = PyThread_allocate_lock())) {
    Py_DECREF(self);
    return PyErr_NoMemory();
  }
  return (PyObject *)self;
}

static void reader_dealloc(ReaderObject *self) {
  mef3_reader_close(self->r); /* no one else can hold the lock now */
  if (self->lock)
    PyThread_free_lock(self->lock);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *reader_close(ReaderObject *self, PyObject *noargs) {
  LOCK(self);
  mef3_reader *r = self->r;
  self->r = NULL;
  UNLOCK(self);
  mef3_reader_close(r);
  Py_RETURN_NONE;
}

static PyObject *str_or_empty(const char *s) {
  return PyUnicode_DecodeUTF8(s ? s : "", s ? (Py_ssize_t)strlen(s) : 0,
                              "replace");
}

static PyObject *reader_get_path(ReaderObject *self, void *c) {
  if (check_open(self))
    return NULL;
  return PyUnicode_DecodeFSDefault(mef3_reader_path(self->r));
}

static PyObject *reader_get_session_name(ReaderObject *self, void *c) {
  if (check_open(self))
    return NULL;
  return str_or_empty(mef3_reader_session_name(self->r));
}

static PyObject *reader_get_access_level(ReaderObject *self, void *c) {
  if (check_open(self))
    return NULL;
  return PyLong_FromLong(mef3_reader_access_level(self->r));
}

static PyObject *reader_get_closed(ReaderObject *self, void *c) {
  return PyBool_FromLong(self->r == NULL);
}

static PyObject *reader_channel_count(ReaderObject *self, PyObject *noargs) {
  if (check_open(self))
    return NULL;
  return PyLong_FromSize_t(mef3_reader_channel_count(self->r));
}

/* Set d[key] = v, stealing v; -1 when v is NULL or the set fails. */
static int put(PyObject *d, const char *key, PyObject *v) {
  if (!v)
    return -1;
  int rc = PyDict_SetItemString(d, key, v);
  Py_DECREF(v);
  return rc;
}

static PyObject *channel_dict(const mef3_channel_info *c) {
  PyObject *d = PyDict_New();
  if (!d)
    return NULL;
  const mef3_metadata *m = c->metadata;
  int bad =
      put(d, "name", str_or_empty(c->name)) ||
      put(d, "path", PyUnicode_DecodeFSDefault(c->path)) ||
      put(d, "fs", PyFloat_FromDouble(c->fs)) ||
      put(d, "units_conversion_factor",
          PyFloat_FromDouble(c->units_conversion_factor)) ||
      put(d, "units_description", str_or_empty(c->units_description)) ||
      put(d, "start_uutc", PyLong_FromLongLong(c->start_uutc)) ||
      put(d, "end_uutc", PyLong_FromLongLong(c->end_uutc)) ||
      put(d, "n_samples", PyLong_FromLongLong(c->n_samples)) ||
      put(d, "n_blocks", PyLong_FromSize_t(c->n_blocks)) ||
      put(d, "n_segments", PyLong_FromSize_t(c->n_segments)) ||
      put(d, "n_contigua", PyLong_FromSize_t(c->n_contigua)) ||
      put(d, "max_block_samples", PyLong_FromUnsignedLong(c->max_block_samples)) ||
      put(d, "times_relative", PyBool_FromLong(c->times_relative)) ||
      put(d, "data_encryption", PyLong_FromLong(c->data_encryption)) ||
      put(d, "section_2_encryption", PyLong_FromLong(c->section_2_encryption)) ||
      put(d, "section_3_encryption", PyLong_FromLong(c->section_3_encryption));
  if (!bad && m) {
    bad = put(d, "section_2_available", PyBool_FromLong(m->section_2_available)) ||
          put(d, "section_3_available", PyBool_FromLong(m->section_3_available));
    if (!bad && m->section_2_available)
      bad = put(d, "channel_description", str_or_empty(m->channel_description)) ||
            put(d, "session_description", str_or_empty(m->session_description)) ||
            put(d, "reference_description",
                str_or_empty(m->reference_description)) ||
            put(d, "acquisition_channel_number",
                PyLong_FromLongLong(m->acquisition_channel_number)) ||
            put(d, "low_frequency_filter_setting",
                PyFloat_FromDouble(m->low_frequency_filter_setting)) ||
            put(d, "high_frequency_filter_setting",
                PyFloat_FromDouble(m->high_frequency_filter_setting)) ||
            put(d, "notch_filter_frequency_setting",
                PyFloat_FromDouble(m->notch_filter_frequency_setting)) ||
            put(d, "ac_line_frequency", PyFloat_FromDouble(m->ac_line_frequency));
    if (!bad && m->section_3_available)
      bad = put(d, "recording_time_offset",
                PyLong_FromLongLong(m->recording_time_offset)) ||
            put(d, "gmt_offset", PyLong_FromLong(m->gmt_offset)) ||
            put(d, "subject_name_1", str_or_empty(m->subject_name_1)) ||
            put(d, "subject_name_2", str_or_empty(m->subject_name_2)) ||
            put(d, "subject_id", str_or_empty(m->subject_id)) ||
            put(d, "recording_location", str_or_empty(m->recording_location));
  }
  if (bad) {
    Py_DECREF(d);
    return NULL;
  }
  return d;
}

static int get_channel(ReaderObject *self, PyObject *args, Py_ssize_t *ch) {
  if (!PyArg_ParseTuple(args, "n", ch))
    return -1;
  if (check_open(self))
    return -1;
  if (*ch < 0 || (size_t)*ch >= mef3_reader_channel_count(self->r)) {
    mef3py_raise(MEF3_EINVAL, "channel index out of range");
    return -1;
  }
  return 0;
}

static PyObject *reader_channel(ReaderObject *self, PyObject *args) {
  Py_ssize_t ch;
  if (get_channel(self, args, &ch))
    return NULL;
  return channel_dict(mef3_reader_channel(self->r, (size_t)ch));
}

static PyObject *reader_segments(ReaderObject *self, PyObject *args) {
  Py_ssize_t ch;
  if (get_channel(self, args, &ch))
    return NULL;
  const mef3_channel_info *c = mef3_reader_channel(self->r, (size_t)ch);
  PyObject *list = PyList_New((Py_ssize_t)c->n_segments);
  for (size_t s = 0; list && s < c->n_segments; s++) {
    const mef3_segment_info *g = mef3_reader_segment(self->r, (size_t)ch, s);
    PyObject *d = Py_BuildValue(
        "{s:i,s:L,s:L,s:L,s:L,s:n,s:n}", "segment", (int)g->number,
        "start_time", (long long)g->start_uutc, "end_time",
        (long long)g->end_uutc, "start_sample", (long long)g->start_sample,
        "number_of_samples", (long long)g->n_samples, "first_block",
        (Py_ssize_t)g->first_block, "number_of_blocks",
        (Py_ssize_t)g->n_blocks);
    if (!d) {
      Py_CLEAR(list);
      break;
    }
    PyList_SET_ITEM(list, (Py_ssize_t)s, d);
  }
  return list;
}

/* The block table as a bytes object of packed records (see reader.py,
 * which views it as a numpy structured array without a copy per block). */
static PyObject *reader_blocks(ReaderObject *self, PyObject *args) {
  Py_ssize_t ch;
  if (get_channel(self, args, &ch))
    return NULL;
  const mef3_block_info *b;
  size_t n;
  int rc = mef3_reader_blocks(&b, &n, self->r, (size_t)ch);
  if (rc)
    return mef3py_raise_last(rc);
  PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * 48));
  if (!out)
    return NULL;
  char *p = PyBytes_AS_STRING(out);
  for (size_t i = 0; i < n; i++, p += 48) {
    /* int64 start_uutc, start_sample, file_offset; uint32 n_samples,
     * bytes; int32 segment, min, max; uint8 flags, 3 pad */
    memcpy(p, &b[i].start_uutc, 8);
    memcpy(p + 8, &b[i].start_sample, 8);
    memcpy(p + 16, &b[i].file_offset, 8);
    memcpy(p + 24, &b[i].n_samples, 4);
    memcpy(p + 28, &b[i].bytes, 4);
    memcpy(p + 32, &b[i].segment, 4);
    memcpy(p + 36, &b[i].min, 4);
    memcpy(p + 40, &b[i].max, 4);
    memset(p + 44, 0, 4);
    p[44] = (char)b[i].flags;
  }
  return out;
}

static PyObject *reader_contigua(ReaderObject *self, PyObject *args) {
  Py_ssize_t ch;
  if (get_channel(self, args, &ch))
    return NULL;
  const mef3_contiguon *c;
  size_t n;
  int rc = mef3_reader_contigua(&c, &n, self->r, (size_t)ch);
  if (rc)
    return mef3py_raise_last(rc);
  PyObject *list = PyList_New((Py_ssize_t)n);
  for (size_t i = 0; list && i < n; i++) {
    PyObject *t = Py_BuildValue("LLLLnn", (long long)c[i].start_sample,
                                (long long)c[i].end_sample,
                                (long long)c[i].start_uutc,
                                (long long)c[i].end_uutc,
                                (Py_ssize_t)c[i].first_block,
                                (Py_ssize_t)c[i].n_blocks);
    if (!t) {
      Py_CLEAR(list);
      break;
    }
    PyList_SET_ITEM(list, (Py_ssize_t)i, t);
  }
  return list;
}

static PyObject *reader_find_channel(ReaderObject *self, PyObject *arg) {
  if (check_open(self))
    return NULL;
  const char *name = PyUnicode_AsUTF8(arg);
  if (!name)
    return NULL;
  int i = mef3_reader_find_channel(self->r, name);
  if (i < 0)
    return PyLong_FromLong(-1);
  return PyLong_FromLong(i);
}

static PyObject *report_tuple(const mef3_read_report *rep, size_t n_out) {
  size_t nb = rep->n_bad_blocks < MEF3_REPORT_MAX_BAD ? rep->n_bad_blocks
                                                      : MEF3_REPORT_MAX_BAD;
  PyObject *bad = PyList_New((Py_ssize_t)nb);
  for (size_t i = 0; bad && i < nb; i++) {
    PyObject *v = PyLong_FromSize_t(rep->bad_blocks[i]);
    if (!v) {
      Py_CLEAR(bad);
      break;
    }
    PyList_SET_ITEM(bad, (Py_ssize_t)i, v);
  }
  if (!bad)
    return NULL;
  PyObject *msg = str_or_empty(rep->first_message);
  if (!msg) {
    Py_DECREF(bad);
    return NULL;
  }
  return Py_BuildValue("nLniNN", (Py_ssize_t)n_out, (long long)rep->n_valid,
                       (Py_ssize_t)rep->n_bad_blocks, rep->first_error, msg,
                       bad);
}

static int get_out(PyObject *obj, Py_buffer *view, mef3_sample_type type,
                   size_t *cap) {
  if (PyObject_GetBuffer(obj, view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0)
    return -1;
  size_t sz = mef3_sample_size(type);
  if (!sz || (size_t)view->itemsize != sz) {
    PyBuffer_Release(view);
    mef3py_raise(MEF3_EINVAL, "output buffer item size does not match the "
                              "sample type");
    return -1;
  }
  *cap = (size_t)view->len / sz;
  return 0;
}

/* read_time(ch, t0, t1, type, out, valid=None) -> report tuple */
static PyObject *reader_read_time(ReaderObject *self, PyObject *args) {
  Py_ssize_t ch;
  long long t0, t1;
  int type;
  PyObject *out_obj, *valid_obj = Py_None;
  if (!PyArg_ParseTuple(args, "nLLiO|O", &ch, &t0, &t1, &type, &out_obj,
                        &valid_obj))
    return NULL;
  Py_buffer out, valid = {0};
  size_t cap;
  if (get_out(out_obj, &out, (mef3_sample_type)type, &cap))
    return NULL;
  if (valid_obj != Py_None) {
    if (PyObject_GetBuffer(valid_obj, &valid,
                           PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) {
      PyBuffer_Release(&out);
      return NULL;
    }
    if ((size_t)valid.len < cap) {
      PyBuffer_Release(&out);
      PyBuffer_Release(&valid);
      return mef3py_raise(MEF3_EINVAL, "valid mask shorter than the output");
    }
  }
  mef3_read_report rep;
  size_t n = 0;
  int rc = MEF3_EINVAL;
  LOCK(self);
  if (self->r) {
    Py_BEGIN_ALLOW_THREADS rc =
        mef3_reader_read_time(&n, &rep, self->r, (size_t)ch, t0, t1,
                              (mef3_sample_type)type, out.buf, cap, valid.buf);
    Py_END_ALLOW_THREADS
  }
  int open = self->r != NULL;
  UNLOCK(self);
  PyBuffer_Release(&out);
  if (valid.obj)
    PyBuffer_Release(&valid);
  if (!open)
    return mef3py_raise(MEF3_EINVAL, "the reader is closed");
  if (rc)
    return mef3py_raise_last(rc);
  return report_tuple(&rep, n);
}

/* read_samples(ch, s0, s1, type, out) -> report tuple */
static PyObject *reader_read_samples(ReaderObject *self, PyObject *args) {
  Py_ssize_t ch;
  long long s0, s1;
  int type;
  PyObject *out_obj;
  if (!PyArg_ParseTuple(args, "nLLiO", &ch, &s0, &s1, &type, &out_obj))
    return NULL;
  Py_buffer out;
  size_t cap;
  if (get_out(out_obj, &out, (mef3_sample_type)type, &cap))
    return NULL;
  mef3_read_report rep;
  size_t n = 0;
  int rc = MEF3_EINVAL;
  LOCK(self);
  if (self->r) {
    Py_BEGIN_ALLOW_THREADS rc =
        mef3_reader_read_samples(&n, &rep, self->r, (size_t)ch, s0, s1,
                                 (mef3_sample_type)type, out.buf, cap);
    Py_END_ALLOW_THREADS
  }
  int open = self->r != NULL;
  UNLOCK(self);
  PyBuffer_Release(&out);
  if (!open)
    return mef3py_raise(MEF3_EINVAL, "the reader is closed");
  if (rc)
    return mef3py_raise_last(rc);
  return report_tuple(&rep, n);
}

/* read_time_multi(channels, t0, t1, type, out, stride) -> list of report
 * tuples, one per channel, in order. */
static PyObject *reader_read_time_multi(ReaderObject *self, PyObject *args) {
  PyObject *chs_obj, *out_obj;
  long long t0, t1;
  int type;
  Py_ssize_t stride;
  if (!PyArg_ParseTuple(args, "OLLiOn", &chs_obj, &t0, &t1, &type, &out_obj,
                        &stride))
    return NULL;
  PyObject *seq = PySequence_Fast(chs_obj, "channels must be a sequence");
  if (!seq)
    return NULL;
  Py_ssize_t k = PySequence_Fast_GET_SIZE(seq);
  size_t *chs = PyMem_Calloc((size_t)k + 1, sizeof *chs);
  size_t *n_out = PyMem_Calloc((size_t)k + 1, sizeof *n_out);
  mef3_read_report *reps = PyMem_Calloc((size_t)k + 1, sizeof *reps);
  PyObject *result = NULL;
  Py_buffer out = {0};
  size_t cap = 0;
  if (!chs || !n_out || !reps) {
    PyErr_NoMemory();
    goto done;
  }
  for (Py_ssize_t i = 0; i < k; i++) {
    Py_ssize_t c = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(seq, i));
    if (c < 0) {
      if (!PyErr_Occurred())
        mef3py_raise(MEF3_EINVAL, "channel index out of range");
      goto done;
    }
    chs[i] = (size_t)c;
  }
  if (get_out(out_obj, &out, (mef3_sample_type)type, &cap))
    goto done;
  if (stride < 0 || (k > 0 && (size_t)stride * (size_t)k > cap)) {
    mef3py_raise(MEF3_EINVAL, "output buffer smaller than channels x stride");
    goto done;
  }
  int rc = MEF3_EINVAL;
  LOCK(self);
  if (self->r) {
    Py_BEGIN_ALLOW_THREADS rc = mef3_reader_read_time_multi(
        n_out, reps, self->r, chs, (size_t)k, t0, t1, (mef3_sample_type)type,
        out.buf, (size_t)stride);
    Py_END_ALLOW_THREADS
  }
  int open = self->r != NULL;
  UNLOCK(self);
  if (!open) {
    mef3py_raise(MEF3_EINVAL, "the reader is closed");
    goto done;
  }
  if (rc) {
    mef3py_raise_last(rc);
    goto done;
  }
  result = PyList_New(k);
  for (Py_ssize_t i = 0; result && i < k; i++) {
    PyObject *t = report_tuple(&reps[i], n_out[i]);
    if (!t) {
      Py_CLEAR(result);
      break;
    }
    PyList_SET_ITEM(result, i, t);
  }
done:
  if (out.obj)
    PyBuffer_Release(&out);
  PyMem_Free(chs);
  PyMem_Free(n_out);
  PyMem_Free(reps);
  Py_DECREF(seq);
  return result;
}

static const char *level_name(mef3_record_level l) {
  switch (l) {
  case MEF3_LEVEL_SESSION: return "session";
  case MEF3_LEVEL_CHANNEL: return "channel";
  default: return "segment";
  }
}

static PyObject *reader_records(ReaderObject *self, PyObject *args) {
  int strict = 0;
  if (!PyArg_ParseTuple(args, "|p", &strict))
    return NULL;
  if (check_open(self))
    return NULL;
  mef3_record *rec = NULL;
  size_t n = 0;
  int rc;
  LOCK(self);
  Py_BEGIN_ALLOW_THREADS rc = mef3_reader_records(&rec, &n, self->r, strict);
  Py_END_ALLOW_THREADS UNLOCK(self);
  if (rc)
    return mef3py_raise_last(rc);
  PyObject *list = PyList_New((Py_ssize_t)n);
  for (size_t i = 0; list && i < n; i++) {
    const mef3_record *x = &rec[i];
    PyObject *text = x->text ? str_or_empty(x->text) : Py_NewRef(Py_None);
    PyObject *d = text ? Py_BuildValue(
                             "{s:s,s:L,s:N,s:L,s:L,s:i,s:i,s:s,s:s,s:i,s:O,s:i,"
                             "s:y#,s:O,s:s,s:L,s:L}",
                             "type", x->type, "time", (long long)x->time,
                             "text", text, "duration", (long long)x->duration,
                             "end_time", (long long)x->end_time, "onset_code",
                             (int)x->onset_code, "number_of_channels",
                             (int)x->number_of_channels, "level",
                             level_name(x->level), "channel", x->channel,
                             "segment", (int)x->segment, "available",
                             x->available ? Py_True : Py_False, "encryption",
                             (int)x->encryption, "body", (const char *)x->body,
                             (Py_ssize_t)(x->body ? x->body_bytes : 0),
                             "has_duration",
                             x->has_duration ? Py_True : Py_False, "problem",
                             x->problem, "index", (long long)x->index,
                             "offset", (long long)x->offset)
                       : NULL;
    if (!d) {
      Py_CLEAR(list);
      break;
    }
    PyList_SET_ITEM(list, (Py_ssize_t)i, d);
  }
  mef3_records_free(rec, n);
  return list;
}

static PyMethodDef reader_methods[] = {
    {"close", (PyCFunction)reader_close, METH_NOARGS, "Close the reader."},
    {"channel_count", (PyCFunction)reader_channel_count, METH_NOARGS, NULL},
    {"channel", (PyCFunction)reader_channel, METH_VARARGS,
     "channel(i) -> dict of the channel's properties."},
    {"find_channel", (PyCFunction)reader_find_channel, METH_O,
     "find_channel(name) -> index, or -1."},
    {"segments", (PyCFunction)reader_segments, METH_VARARGS, NULL},
    {"blocks", (PyCFunction)reader_blocks, METH_VARARGS,
     "blocks(i) -> bytes of packed 48-byte block records."},
    {"contigua", (PyCFunction)reader_contigua, METH_VARARGS, NULL},
    {"read_time", (PyCFunction)reader_read_time, METH_VARARGS,
     "read_time(ch, t0, t1, type, out, valid=None) -> report"},
    {"read_samples", (PyCFunction)reader_read_samples, METH_VARARGS,
     "read_samples(ch, s0, s1, type, out) -> report"},
    {"read_time_multi", (PyCFunction)reader_read_time_multi, METH_VARARGS,
     "read_time_multi(chs, t0, t1, type, out, stride) -> [report]"},
    {"records", (PyCFunction)reader_records, METH_VARARGS,
     "records(strict=False) -> list of dicts, every level; an undecodable "
     "record has a 'problem' (else None) naming its file, index and offset."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef reader_getset[] = {
    {"path", (getter)reader_get_path, NULL, NULL, NULL},
    {"session_name", (getter)reader_get_session_name, NULL, NULL, NULL},
    {"access_level", (getter)reader_get_access_level, NULL, NULL, NULL},
    {"closed", (getter)reader_get_closed, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject ReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "mef3pool._core.Reader",
    .tp_basicsize = sizeof(ReaderObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Low-level reader (use mef3pool.Reader).",
    .tp_new = reader_new,
    .tp_init = (initproc)reader_init,
    .tp_dealloc = (destructor)reader_dealloc,
    .tp_methods = reader_methods,
    .tp_getset = reader_getset,
};

int mef3py_reader_init(PyObject *m) {
  if (PyType_Ready(&ReaderType) < 0)
    return -1;
  Py_INCREF(&ReaderType);
  if (PyModule_AddObject(m, "Reader", (PyObject *)&ReaderType) < 0) {
    Py_DECREF(&ReaderType);
    return -1;
  }
  return 0;
}
