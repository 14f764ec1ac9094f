/*
 * python/src/errors.c - the exception hierarchy of mef3pool.
 *
 * Every MEF3_E... code of the C library has one exception class, all
 * subclasses of mef3pool.Error; where Python has a built-in meaning for
 * the same failure the class also derives from it, so generic handlers
 * work (invalid argument is a ValueError, a timeout a TimeoutError, out
 * of memory a MemoryError, not found a LookupError, an I/O failure an
 * OSError).  Each instance carries the C code (.code, negative), its
 * symbolic name (.name) and the one-line message of the C library
 * (.message, also str(e)).  The classes are created once at import and
 * never change; raising needs the GIL.
 */
#include "mef3py.h"

typedef struct {
  int code;
  const char *class_name; /* attribute name in the module */
  PyObject *builtin;      /* second base, or NULL (set in init) */
  const char *doc;
  PyObject *cls;
} error_class;

enum { N_CLASSES = 16 };
static error_class classes[N_CLASSES] = {
    {MEF3_ERROR, "Error", NULL, NULL, NULL}, /* the base, first */
    {MEF3_EINVAL, "InvalidArgumentError", NULL,
     "An argument is out of range or malformed (also a ValueError).", NULL},
    {MEF3_ENOTFOUND, "NotFoundError", NULL,
     "No such file, channel or key (also a LookupError).", NULL},
    {MEF3_ECRC, "CRCError", NULL, "A CRC does not match.", NULL},
    {MEF3_EPASSWORD, "PasswordError", NULL, "Password missing or wrong.",
     NULL},
    {MEF3_EACCESS, "AccessError", NULL,
     "The password does not open data encrypted at this level.", NULL},
    {MEF3_ECORRUPT, "CorruptError", NULL,
     "A file is corrupt or inconsistent with the rest of the session.", NULL},
    {MEF3_EUNSUPPORTED, "UnsupportedError", NULL,
     "A format feature mef3pool does not support.", NULL},
    {MEF3_EBUFSIZE, "BufferSizeError", NULL, "A buffer is too small.", NULL},
    {MEF3_ECANCELED, "CanceledError", NULL, "The request was canceled.", NULL},
    {MEF3_ETIMEDOUT, "TimedOutError", NULL,
     "A wait timed out (also a TimeoutError).", NULL},
    {MEF3_ENOMEM, "OutOfMemoryError", NULL,
     "Memory ran out (also a MemoryError).", NULL},
    {MEF3_EIO, "InputOutputError", NULL,
     "A read or write of a file failed (also an OSError).", NULL},
    {MEF3_EWORKER, "WorkerError", NULL,
     "A worker process of the pool died while serving the request.", NULL},
    {MEF3_ELIMIT, "LimitError", NULL,
     "A resource limit was reached (descriptors, sizes).", NULL},
    {MEF3_EEXIST, "ExistsError", NULL, "The file or name already exists.",
     NULL},
};

static const char base_doc[] =
    "Base class of every error mef3pool raises.\n\n"
    "Attributes: code (the C library's negative MEF3_E... code), name (its\n"
    "symbolic name, e.g. 'MEF3_ECRC') and message (the C library's one-line\n"
    "message naming the file and what is wrong; also str(e)).";

PyObject *mef3py_error_class(int code) {
  for (int i = 1; i < N_CLASSES; i++)
    if (classes[i].code == code)
      return classes[i].cls;
  return classes[0].cls;
}

PyObject *mef3py_raise(int code, const char *message) {
  if (!message || !*message)
    message = mef3_strerror(code);
  PyObject *cls = mef3py_error_class(code);
  PyObject *exc = PyObject_CallFunction(cls, "s", message);
  if (!exc)
    return NULL;
  /* .code and .name are class attributes; the message is the instance's. */
  PyObject *msg =
      PyUnicode_DecodeUTF8(message, (Py_ssize_t)strlen(message), "replace");
  int bad = !msg || PyObject_SetAttrString(exc, "message", msg) < 0;
  Py_XDECREF(msg);
  if (!bad)
    PyErr_SetObject(cls, exc);
  Py_DECREF(exc);
  return NULL;
}

PyObject *mef3py_raise_forked(const char *what, pid_t owner) {
  char m[256];
  snprintf(m, sizeof m,
           "this %s was made by process %ld, and this process (%ld) is a "
           "fork of it: its threads and worker processes are the parent's; "
           "make a new %s here",
           what, (long)owner, (long)getpid(), what);
  return mef3py_raise(MEF3_EINVAL, m);
}

PyObject *mef3py_raise_last(int code) {
  const mef3_error *e = mef3_error_last();
  return mef3py_raise(code, e->code == code ? e->message : NULL);
}

PyObject *mef3py_path_bytes(PyObject *path) {
  PyObject *out = NULL;
  if (!PyUnicode_FSConverter(path, &out))
    return NULL;
  return out;
}

int mef3py_errors_init(PyObject *m) {
  for (int i = 0; i < N_CLASSES; i++) {
    error_class *c = &classes[i];
    switch (c->code) {
    case MEF3_EINVAL: c->builtin = PyExc_ValueError; break;
    case MEF3_ENOTFOUND: c->builtin = PyExc_LookupError; break;
    case MEF3_ETIMEDOUT: c->builtin = PyExc_TimeoutError; break;
    case MEF3_ENOMEM: c->builtin = PyExc_MemoryError; break;
    case MEF3_EIO: c->builtin = PyExc_OSError; break;
    default: break;
    }
    char qual[96];
    snprintf(qual, sizeof qual, "mef3pool.%s", c->class_name);
    PyObject *bases;
    if (i == 0)
      bases = PyTuple_Pack(1, PyExc_Exception);
    else if (c->builtin)
      bases = PyTuple_Pack(2, classes[0].cls, c->builtin);
    else
      bases = PyTuple_Pack(1, classes[0].cls);
    if (!bases)
      return -1;
    c->cls = PyErr_NewExceptionWithDoc(qual, i == 0 ? base_doc : c->doc,
                                       bases, NULL);
    Py_DECREF(bases);
    if (!c->cls)
      return -1;
    PyObject *code = PyLong_FromLong(c->code);
    PyObject *name = PyUnicode_FromString(mef3_errname(c->code));
    int bad = !code || !name || PyObject_SetAttrString(c->cls, "code", code) ||
              PyObject_SetAttrString(c->cls, "name", name) ||
              PyObject_SetAttrString(c->cls, "message", Py_None);
    Py_XDECREF(code);
    Py_XDECREF(name);
    if (bad)
      return -1;
    Py_INCREF(c->cls); /* one reference kept here, one given to m */
    if (PyModule_AddObject(m, c->class_name, c->cls) < 0) {
      Py_DECREF(c->cls);
      return -1;
    }
  }
  return 0;
}
