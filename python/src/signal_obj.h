/*
 * python/src/signal_obj.h - what the file manager (files_obj.c) and the
 * client (client_obj.c) types share: a window of signal handed to Python
 * without a copy, file info and envelopes as dicts.  Private to the extension.
 */
#ifndef MEF3PY_SIGNAL_OBJ_H
#define MEF3PY_SIGNAL_OBJ_H

#include "mef3py.h"

#include <mef3pool/client.h>

#include <pthread.h>

/*
 * A new _core.Signal owning `s` (freed with it, also on failure): a
 * writable C-contiguous (channels, samples) float32 buffer over s->data,
 * so numpy.asarray views it without a copy; attributes channel_names
 * (list), fs, start_uutc, end_uutc.  Needs the GIL.
 */
PyObject *mef3py_signal_wrap(mef3_signal *s);

/* Ready the Signal type and add it to the module (idempotent). */
int mef3py_signal_ready(PyObject *m);

/* `info` as a dict (see the keys in signal_obj.c); NULL with an exception.
 * Needs the GIL. */
PyObject *mef3py_file_info_dict(const mef3_file_info *info);

/* An envelope (taken: freed here, also on failure) as a dict: min and
 * max as bytes of (channels, columns) native float32, n_columns, fs,
 * samples_per_column, level, start_uutc, end_uutc, channel_names,
 * first_sample and first_uutc (lists, one per channel); NULL with an
 * exception.  Needs the GIL. */
PyObject *mef3py_envelope_dict(mef3_envelope *e);

/* Channel names from None, a str (one channel) or a sequence of str:
 * `*out` is an array of `*n` UTF-8 strings (PyMem_Free it) pointing into
 * `*keep` (a list of bytes objects to release with Py_XDECREF), with None
 * or an empty sequence giving n = 0 (all channels).  0 or -1 with an
 * exception. */
int mef3py_channel_list(PyObject *obj, const char ***out, size_t *n,
                        PyObject **keep);

/*
 * The guard of a handle that one call frees while others may use it: a
 * reader-writer lock taken for reading by every call (without the GIL)
 * and for writing by the closing call, so the handle is freed only after
 * every call in flight has returned.
 */
typedef struct {
  pthread_rwlock_t rw;
  int ready;
} mef3py_guard;

int mef3py_guard_init(mef3py_guard *g);
void mef3py_guard_dispose(mef3py_guard *g);

#endif
