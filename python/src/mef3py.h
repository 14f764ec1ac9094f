/*
 * python/src/mef3py.h - what the files of the extension mef3pool._core
 * share: the init function of each Python type (one C file per type) and
 * the error helpers.  Private to the extension; it uses the public C
 * headers of mef3pool only (include/mef3pool.h), the CPython C API and,
 * for arrays, the buffer protocol (numpy is never included: the Python
 * layer wraps buffers with numpy.frombuffer or hands numpy arrays in).
 */
#ifndef MEF3PY_H
#define MEF3PY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <mef3pool.h>
#include <unistd.h>

/* Each type file adds its names to the module; 0 or -1 with an exception
 * set.  core.c calls them in the order of its table. */
int mef3py_errors_init(PyObject *m);
int mef3py_reader_init(PyObject *m);
int mef3py_writer_init(PyObject *m);
int mef3py_pool_init(PyObject *m);
int mef3py_files_init(PyObject *m);
int mef3py_client_init(PyObject *m);

/*
 * Raise the mef3pool.Error subclass of `code` (a negative MEF3_E... code)
 * with `message` (NULL or "": mef3_strerror(code)).  The exception carries
 * .code, .name ("MEF3_ECRC") and .message.  Returns NULL, for
 * `return mef3py_raise(...)`.  Needs the GIL.
 */
PyObject *mef3py_raise(int code, const char *message);

/* Raise from this thread's mef3_error_last() when it holds `code`, else
 * with the code's description.  Call on the thread that made the failing
 * call (the detail is per thread), after re-taking the GIL. */
PyObject *mef3py_raise_last(int code);

/* The exception class of a code (borrowed), mef3pool.Error for unknown
 * ones. */
PyObject *mef3py_error_class(int code);

/*
 * fork().  A Files, Client or Pool and the futures of a pool own threads
 * and worker processes; a fork()ed child inherits the objects but not the
 * threads, and the workers serve the parent.  So each remembers the
 * process that made it (`owner`, getpid() at creation): in another
 * process its calls raise mef3py_raise_forked() (they would wait forever
 * on threads that are not there), and close or deallocation forgets the C
 * object instead of freeing it (freeing would join those threads and
 * stop the parent's workers).  The child makes objects of its own.
 */
#define MEF3PY_FORKED(owner) ((owner) != getpid())
/* First line of a method of such an object: raise in a forked child. */
#define MEF3PY_OWNED(self, what)                                               \
  do {                                                                         \
    if (MEF3PY_FORKED((self)->owner))                                          \
      return mef3py_raise_forked(what, (self)->owner);                         \
  } while (0)
PyObject *mef3py_raise_forked(const char *what, pid_t owner);

/* A path argument (str, bytes or os.PathLike) as a new bytes object in the
 * file system encoding, or NULL with an exception. */
PyObject *mef3py_path_bytes(PyObject *path);

#endif
