"""The per-process cache of open readers behind lazy session arrays.

A task of a mef3pool.dask graph names a session by path and password
only; the process it runs in (a Dask worker, or the client with the
local schedulers) opens the session once and keeps the Reader here for
the next chunk.  A reader serves one call at a time, so each key (path,
password) keeps a list of idle readers: a task borrows one (opening a new
one when all are busy, as with several threads per worker) and gives it
back.  At most MAX_SESSIONS keys stay open, least recently used closed
first, so a cohort of many sessions does not run out of descriptors.

Threads: any, under one lock (held only around the dictionary, never
during an open or a read).  A forked child starts with an empty cache:
the parent's readers are the parent's.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from contextlib import contextmanager

MAX_SESSIONS = 16

_lock = threading.Lock()
_idle: "OrderedDict[tuple, list]" = OrderedDict()
_opened = {}  # key -> readers opened in this process (for tests, stats())


def _reset_after_fork():
    global _lock, _idle, _opened
    _lock = threading.Lock()
    _idle = OrderedDict()
    _opened = {}


os.register_at_fork(after_in_child=_reset_after_fork)


def _open(path, password):
    from .reader import Reader  # (the package imports this module lazily)
    return Reader(path, password=password)


@contextmanager
def borrowed(path: str, password: str):
    """A Reader of `path` opened with `password`, for the duration of the
    with-block: an idle cached one, or a new one."""
    key = (path, password)
    with _lock:
        idle = _idle.get(key)
        r = idle.pop() if idle else None
        if idle is not None:
            _idle.move_to_end(key)
    if r is None:
        r = _open(path, password)
        with _lock:
            _opened[key] = _opened.get(key, 0) + 1
    try:
        yield r
    finally:
        closing = []
        with _lock:
            _idle.setdefault(key, []).append(r)
            _idle.move_to_end(key)
            while len(_idle) > MAX_SESSIONS:
                closing += _idle.popitem(last=False)[1]
        for c in closing:
            c.close()


def stats() -> dict:
    """{path: readers opened in this process} (passwords left out)."""
    with _lock:
        out = {}
        for (path, _), n in _opened.items():
            out[path] = out.get(path, 0) + n
        return out


def clear() -> None:
    """Close every idle reader of this process and forget the counts
    (readers busy in a task come back to the cache when it ends)."""
    with _lock:
        closing = [r for rs in _idle.values() for r in rs]
        _idle.clear()
        _opened.clear()
    for r in closing:
        r.close()


__all__ = ["borrowed", "stats", "clear", "MAX_SESSIONS"]
