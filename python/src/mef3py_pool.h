/*
 * python/src/mef3py_pool.h - what pool.c and future.c share.
 */
#ifndef MEF3PY_POOL_H
#define MEF3PY_POOL_H

#include "mef3py.h"

enum { MEF3PY_TILES = 0, MEF3PY_WINDOW = 1 };

typedef struct {
  PyObject_HEAD mef3_future *f;
  int kind; /* MEF3PY_TILES or MEF3PY_WINDOW */
  Py_ssize_t n_items, stride; /* shape and stride of exported buffers */
  pid_t owner;                /* mef3py.h, fork() */
} FutureObject;

extern PyTypeObject mef3py_FutureType;

/* A new _core.Future owning `f` (freed on failure). */
PyObject *mef3py_future_new(mef3_future *f, int kind);

int mef3py_future_init(PyObject *m);

/* Wait with the GIL released: 1 done, 0 timed out, -1 exception. */
int mef3py_future_wait(FutureObject *self, double timeout);

#endif
