"""ReaderProcessPool: mef3io-server's reader process pool over the C pool.

A drop-in for ``mef3io_server.server.reader_pool.ReaderProcessPool``: the
same constructor, methods, arguments and results, with the C library's
pool underneath (worker processes started with posix_spawn of the
``mef3pool-worker`` program shipped in this package, or the installed one
of the C library when the package has none, as Debian's
python3-mef3pool; results written by the workers straight into shared
memory).

Results are numpy arrays that *view* the pool's shared memory: nothing is
copied from the worker to the caller.  The memory of one request stays
mapped as long as any array made from it lives (also after shutdown);
the arrays are writable, as the original's were.

Threads.  Any thread may call any method.  Waiting (``Future.result``,
``read_window``, ``take_chunk``, ``warmup``, ``shutdown``) releases the
GIL.  Each pool has one Python thread named ``mef3pool-callbacks`` that
completes its futures: done-callbacks added with ``add_done_callback``
before a request completes run there, with the GIL held, one after
another (keep them short: they delay the completion of the pool's other
futures); a callback added after completion runs at once in the thread
that adds it, and ``cancel()`` runs them in the canceling thread, as
``concurrent.futures`` does.  An exception in a callback is logged by
``concurrent.futures`` (logger ``concurrent.futures``) and changes
nothing else.  A thread that waits in ``result()`` on a future without
callbacks completes it itself, which saves a thread switch.

Exit.  Pools still open at interpreter exit are shut down by an atexit
handler (queued requests canceled, running ones finished); workers also
end by themselves when their socket to the host closes, so none outlives
the process, however it ends.  A worker that dies (killed, crashed)
fails the request it was serving with :class:`mef3pool.WorkerError`; the
pool replaces it and goes on.

Fork.  In a fork()ed child, a pool made before the fork (and its pending
futures) raises :class:`mef3pool.InvalidArgumentError` on every call: its
threads are not in the child and its workers serve the parent.  Shutting
it down in the child, or the child's exit, leaves the parent's pool
untouched.  Make a new pool in the child.
"""
from __future__ import annotations

import atexit
import concurrent.futures as cf
import logging
import os
import threading
import time
import weakref
from concurrent.futures._base import CANCELLED, CANCELLED_AND_NOTIFIED, FINISHED, PENDING

import numpy as np

from . import _core

_log = logging.getLogger("mef3pool")
_ECANCELED = -10
_TILES, _WINDOW = 0, 1


def _worker_path():
    """The worker program: $MEF3POOL_WORKER, else the one in this package,
    else None (the C library searches its install locations)."""
    env = os.environ.get("MEF3POOL_WORKER")
    if env:
        return env
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "mef3pool-worker")
    return here if os.access(here, os.X_OK) else None


class PoolFuture(cf.Future):
    """The future of one pool request: a ``concurrent.futures.Future``
    (``result(timeout)``, ``exception()``, ``done()``, ``cancel()``,
    ``add_done_callback``, usable with ``concurrent.futures.wait`` and
    ``as_completed``).

    ``cancel()`` succeeds while the request is still queued (not yet
    handed to a worker).  A request that fails raises its
    :class:`mef3pool.Error` subclass from ``result()``; one canceled by
    ``shutdown()`` is cancelled (``result()`` raises
    ``concurrent.futures.CancelledError``).
    """

    def __init__(self, kind, blocks=None):
        super().__init__()
        self._cf = None          # the _core.Future, set by the C submit
        self._kind = kind
        self._blocks = blocks
        self._claimed = False

    def _value(self):
        rows, cols = self._cf.shape()
        arr = np.frombuffer(self._cf, dtype=np.float32).reshape(rows, cols)
        if self._kind == _WINDOW:
            return arr
        return {b: arr[i] for i, b in enumerate(self._blocks)}

    def _claim(self):
        """Under the condition lock: True when this caller completes it."""
        if self._state != PENDING or self._claimed:
            return False
        self._claimed = True
        return True

    def _finish(self):
        """Complete from the C future's outcome (claimed, lock not held)."""
        st = self._cf.status()
        try:
            if st == 0:
                self.set_result(self._value())
            elif st == _ECANCELED:
                if cf.Future.cancel(self):
                    self.set_running_or_notify_cancel()
            else:
                self.set_exception(self._cf.error())
        except Exception as e:  # noqa: BLE001 - must complete whatever happens
            if not self.done():
                self.set_exception(e)

    def _resolve(self):
        """Called on the callback thread once the C future completed."""
        with self._condition:
            mine = self._claim()
        if mine:
            self._finish()

    def _wait_inline(self, timeout):
        """Wait for the C future with the GIL released; complete it here
        when no callback is registered (else the callback thread does).
        Returns the time left of `timeout` (None: no limit)."""
        if self._state != PENDING:
            return timeout
        t0 = time.monotonic()
        if not self._cf.wait(timeout):
            raise cf.TimeoutError()
        with self._condition:
            if self._done_callbacks or not self._claim():
                mine = False
            else:
                mine = True
                # Hold the lock through completion: no callback can be
                # added meanwhile, so none runs on this thread.
                self._finish()
        if timeout is None or mine:
            return timeout
        return max(0.0, timeout - (time.monotonic() - t0))

    def result(self, timeout=None):
        """The result: ``{block_index: float32 array}`` for tiles, a 2-D
        float32 array for a window; waits up to ``timeout`` seconds
        (``concurrent.futures.TimeoutError`` after that)."""
        return super().result(self._wait_inline(timeout))

    def exception(self, timeout=None):
        """The exception of a failed request, or None; waits as result()."""
        return super().exception(self._wait_inline(timeout))

    def cancel(self):
        """Cancel the request if it is still queued; True on success."""
        with self._condition:
            if self._state in (CANCELLED, CANCELLED_AND_NOTIFIED):
                return True
            if self._state == FINISHED or self._claimed:
                return False
            if not self._cf.cancel():
                return False
            self._claimed = True
        if cf.Future.cancel(self):
            self.set_running_or_notify_cancel()
        return True


_live = weakref.WeakSet()
_live_lock = threading.Lock()


@atexit.register
def _shutdown_all():
    with _live_lock:
        pools = list(_live)
    for p in pools:
        try:
            p.shutdown()
        except Exception:  # noqa: BLE001 - exit must go on
            _log.exception("mef3pool: shutting down a pool at exit")


def _dispatch(cpool):
    """Body of the mef3pool-callbacks thread: complete futures as the C
    pool reports them, until the pool is closed and drained."""
    while True:
        tokens = cpool.next_done()
        if tokens is None:
            return
        for t in tokens:
            try:
                t._resolve()
            except Exception:  # noqa: BLE001 - keep serving the others
                _log.exception("mef3pool: completing a future")


class ReaderProcessPool:
    """A pool of worker processes that decode MEF 3.0 data in parallel.

    The class of mef3io-server (``ReaderProcessPool(max_workers=4)``),
    name for name.  Cheap to create: workers start on first use (or with
    :meth:`warmup`).

    Parameters
    ----------
    max_workers : int
        Worker processes (at least 1).
    worker_path : str, optional
        The worker program; default ``$MEF3POOL_WORKER``, else the one
        installed in this package.
    check_crc : bool
        Workers verify every block's CRC (default True).
    name : str, optional
        Shown in error messages.
    """

    def __init__(self, max_workers=4, *, worker_path=None, check_crc=True,
                 name=None):
        self.max_workers = max(1, int(max_workers))
        self._pool = _core.Pool(self.max_workers, worker_path or _worker_path(),
                                name, bool(check_crc))
        self._prefetched = {}
        self._lock = threading.Lock()
        self._thread = None
        with _live_lock:
            _live.add(self)

    # ---- internals ----
    def _check(self):
        if self._pool.closed:
            raise RuntimeError("cannot schedule new futures after shutdown")

    def _ensure_thread(self):
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    t = threading.Thread(target=_dispatch, args=(self._pool,),
                                         name="mef3pool-callbacks", daemon=True)
                    t.start()
                    self._thread = t

    def _submit_window(self, actual_path, channels, t_start, t_end, n_splits):
        channels = [str(c) for c in channels]
        if not channels:
            raise ValueError("channels must be non-empty")
        self._check()
        self._ensure_thread()
        fut = PoolFuture(_WINDOW)
        self._pool.read_window(fut, actual_path, channels, int(t_start),
                               int(t_end), int(n_splits or 0))
        return fut

    # ---- the original's API ----
    def submit_read_tiles(self, actual_path, channel, block_indices, fs,
                          channel_start_uutc, samples_per_tile):
        """Submit a decode of tiles of one channel; returns a Future.

        The Future resolves to ``{block_index: float32 array of
        samples_per_tile}``: tile ``b`` is the window ``[cs +
        round(b*S*1e6/fs), cs + round((b+1)*S*1e6/fs))`` read with the
        window rule (NaN in gaps) and NaN-padded to ``S`` samples; a block
        outside the recording (or one that cannot be read) is all NaN.
        """
        blocks = [int(b) for b in block_indices]
        self._check()
        if not blocks:
            fut = PoolFuture(_TILES, blocks)
            fut.set_result({})
            return fut
        self._ensure_thread()
        fut = PoolFuture(_TILES, blocks)
        self._pool.submit_tiles(fut, actual_path, str(channel), blocks,
                                float(fs), int(channel_start_uutc),
                                int(samples_per_tile))
        return fut

    def warmup(self, actual_path, channel):
        """Start every worker and open ``actual_path`` in each, so the first
        read pays no start-up.  Errors are ignored, as in the original
        (the reads that follow report them)."""
        self._check()
        try:
            self._pool.warmup(actual_path, str(channel))
        except _core.Error as e:
            _log.debug("mef3pool: warmup of %s: %s", actual_path, e)

    def read_window(self, actual_path, channels, t_start, t_end, n_splits=None):
        """Read ``channels`` over ``[t_start, t_end)``, split by channel
        into up to ``n_splits`` groups (default: the number of workers)
        decoded in parallel.

        Returns a ``(len(channels), n_samples)`` float32 array, channel
        order kept, ``n_samples`` the shortest channel's window (ragged
        edges trimmed).  ``ValueError`` for an empty channel list.
        """
        return self._submit_window(actual_path, channels, t_start, t_end,
                                   n_splits).result()

    def prefetch_chunk(self, chunk_key, actual_path, channels, t_start, t_end):
        """Schedule a background read of one time chunk of ``channels``
        under ``chunk_key`` (any hashable).  Idempotent per key."""
        with self._lock:
            if chunk_key in self._prefetched:
                return
        fut = self._submit_window(actual_path, channels, t_start, t_end, 1)
        with self._lock:
            if chunk_key in self._prefetched:
                fut.cancel()
                return
            self._prefetched[chunk_key] = fut

    def is_scheduled(self, chunk_key):
        """True when ``chunk_key`` is scheduled and not yet taken."""
        with self._lock:
            return chunk_key in self._prefetched

    def take_chunk(self, chunk_key):
        """The prefetched chunk (blocking until ready) as a float32 2-D
        array, or None for an unknown key.  The key is forgotten."""
        with self._lock:
            fut = self._prefetched.pop(chunk_key, None)
        if fut is None:
            return None
        return fut.result()

    def shutdown(self, wait=True, *, cancel_futures=True):
        """Cancel queued work, wait for running decodes, end the workers.

        Futures of canceled requests are cancelled; results already
        handed out stay valid.  Idempotent.  (``wait`` and
        ``cancel_futures`` are accepted for ``Executor`` compatibility;
        the pool always waits for running requests and cancels queued
        ones.)
        """
        with self._lock:
            self._prefetched.clear()
        self._pool.close()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join()
        with _live_lock:
            _live.discard(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()

    def __del__(self):
        pool = getattr(self, "_pool", None)
        if pool is not None and not pool.closed:
            pool.close()

    # ---- mef3pool's additions ----
    def set_password(self, path, password):
        """Remember the password of a session (or channel) path for every
        worker; None or "" forgets it."""
        self._pool.set_password(path, password or None)

    def forget(self, path):
        """Make every worker close its readers of ``path``."""
        self._pool.forget(path)

    def stats(self):
        """Counters as a dict: ``requests``, ``completed``, ``failed``,
        ``canceled``, ``bytes_decoded``, ``worker_restarts``,
        ``queue_depth``, ``busy_workers``, ``live_workers``,
        ``shm_bytes``, ``max_workers``, ``prefetched`` (chunks waiting)."""
        s = self._pool.stats() if not self._pool.closed else {}
        with self._lock:
            s["prefetched"] = len(self._prefetched)
        return s

    counters = stats


__all__ = ["ReaderProcessPool", "PoolFuture"]
