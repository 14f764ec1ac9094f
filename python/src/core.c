/*
 * python/src/core.c - the module mef3pool._core: its definition and init.
 *
 * Each Python type lives in its own C file (errors.c, reader.c, writer.c,
 * pool.c, ...) with one init function that adds its names to the module;
 * the table below calls them in order (errors first: the others raise
 * them).  A file for a new type adds one line to the table and its
 * prototype to mef3py.h.  The module is single-phase initialized and keeps
 * its exception classes in static storage (one interpreter per process).
 */
#include "mef3py.h"

static PyObject *core_version(PyObject *self, PyObject *noargs) {
  return PyUnicode_FromString(mef3_version());
}

static PyObject *core_strerror(PyObject *self, PyObject *arg) {
  int code = (int)PyLong_AsLong(arg);
  if (PyErr_Occurred())
    return NULL;
  return Py_BuildValue("ss", mef3_errname(code), mef3_strerror(code));
}

static PyObject *core_window_samples(PyObject *self, PyObject *args) {
  long long t0, t1;
  double fs;
  if (!PyArg_ParseTuple(args, "LLd", &t0, &t1, &fs))
    return NULL;
  return PyLong_FromLongLong(mef3_window_samples(t0, t1, fs));
}

static PyObject *core_tile_window(PyObject *self, PyObject *args) {
  long long cs, b, S;
  double fs;
  if (!PyArg_ParseTuple(args, "LdLL", &cs, &fs, &b, &S))
    return NULL;
  int64_t t0, t1;
  mef3_tile_window(cs, fs, b, S, &t0, &t1);
  return Py_BuildValue("LL", (long long)t0, (long long)t1);
}

static PyMethodDef core_methods[] = {
    {"version", core_version, METH_NOARGS,
     "version() -> str\n\nVersion of the mef3pool C library."},
    {"strerror", core_strerror, METH_O,
     "strerror(code) -> (name, description)\n\nThe symbolic name and "
     "description of a MEF3_E... code."},
    {"window_samples", core_window_samples, METH_VARARGS,
     "window_samples(t0, t1, fs) -> int\n\nSamples of the window [t0, t1) at "
     "fs: round((t1 - t0) * fs / 1e6), 0 when t1 <= t0."},
    {"tile_window", core_tile_window, METH_VARARGS,
     "tile_window(channel_start_uutc, fs, block_index, samples_per_tile) -> "
     "(t0, t1)\n\nThe time window of one tile."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT, "mef3pool._core",
    "The C extension of mef3pool (private: use the mef3pool package).", -1,
    core_methods, NULL, NULL, NULL, NULL};

typedef int (*init_fn)(PyObject *m);
static const init_fn inits[] = {
    mef3py_errors_init, /* first: the others raise its classes */
    mef3py_reader_init,
    mef3py_writer_init,
    mef3py_pool_init,
    mef3py_files_init,
    mef3py_client_init,
    NULL,
};

PyMODINIT_FUNC PyInit__core(void) {
  PyObject *m = PyModule_Create(&core_module);
  if (!m)
    return NULL;
  for (const init_fn *f = inits; *f; f++)
    if ((*f)(m) < 0) {
      Py_DECREF(m);
      return NULL;
    }
  return m;
}
