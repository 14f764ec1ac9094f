"""FileManager: mef3io-server's FileManager over the mef3pool C file manager
(``files.h``).

``FileManager`` takes the knobs of
``mef3io_server.server.file_manager.FileManager`` (tile duration, cache
bytes, idle TTL, process pool on/off, worker counts, prefetch ahead and
behind) and has its methods with their return values: ``open_file``,
``close_file`` and ``get_file_info`` return a :class:`FileInfo` with the
fields of the original's ``FileInfoResponse`` (failures reported in
``error_message``, as the original does), ``list_open_files`` a list,
``read_signal_range`` the dict ``{"array", "channel_names", "fs",
"start_uutc", "end_uutc"}`` (raising ``ValueError`` subclasses where the
original raises ``ValueError``), plus ``stats()`` and ``shutdown()``.

Everything runs in C: one tile cache for every open file, a foreground
and a prefetch lane of worker processes (or in-process decoding with
``use_process_pool=False``), window prefetch ahead and behind.  Every call
releases the GIL for its whole C call, so threads read in parallel; the
array of a read is a view of the C result (no copy), alive as long as any
view of it.
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence, Union

from . import _core
from ._errors import Error
from .pool import _worker_path
from ._fileinfo import (FileInfo, UnknownNameError, as_value_error,
                        envelope_dict, signal_dict)

PathLike = Union[str, "os.PathLike[str]"]


def _channels(channels):
    """None (all), one name, or a list of names."""
    if not channels:
        return None
    return channels if isinstance(channels, str) else list(channels)


def _lanes(reader_processes, prefetch_processes):
    """Worker counts as the original sizes its two lanes: ``total`` (None:
    cpu_count - 1, at least 1), prefetch lane ``prefetch_processes`` (None:
    half), foreground lane the rest and at least 1."""
    total = int(reader_processes) if reader_processes else \
        max(1, (os.cpu_count() or 2) - 1)
    prefetch = max(1, int(prefetch_processes)) \
        if prefetch_processes is not None else max(1, total // 2)
    foreground = max(1, total - prefetch)
    return foreground + prefetch, prefetch


class FileManager:
    """Open MEF 3.0 sessions and read any channels over any time window
    through a shared tile cache, as mef3io-server's ``FileManager``.

    Parameters (those of the original, same defaults)
    ----------
    max_workers : int
        Threads of the in-process prefetch when the process pool is off.
    tile_duration_s : float
        Tile length, seconds (60).
    tile_cache_bytes : int
        Byte budget of the tile cache (512 MiB).
    use_process_pool : bool
        Decode in worker processes (True) or in process.
    reader_processes : int or None
        Worker processes of both lanes; None: ``os.cpu_count() - 1``.
    prefetch_processes : int or None
        Of those, the prefetch lane; None: half.  The foreground lane keeps
        at least one (as in the original, the total grows to make room).
    min_parallel_tiles : int
        Use the pool only when at least this many tiles miss (2).
    prefetch_ahead_windows, prefetch_behind_windows : int
        Windows of the same length prefetched ahead of and behind each
        read (1, 1).
    cache_ttl_s : float or None
        Drop tiles idle this long (1800); None or 0: never.

    Added by mef3pool (keyword only)
    --------------------------------
    data_root : path, optional
        Confine every path to this folder (as ``mef3pool serve --root``).
    worker_path : path, optional
        The worker program; by default the one inside this package.
    max_open_files : int
        0: no limit; else opening more raises :class:`LimitError`.
    raise_errors : bool
        False (the original's behaviour): ``open_file``, ``close_file`` and
        ``get_file_info`` report failures in ``error_message``.  True:
        they raise the :class:`mef3pool.Error` subclass of the failure.

    Cheap to make: worker processes start at the first read that needs
    them.  Use as a context manager, or call :meth:`shutdown`.
    """

    def __init__(self, max_workers: int = 4, tile_duration_s: float = 60,
                 tile_cache_bytes: int = 512 * 1024 * 1024,
                 use_process_pool: bool = True,
                 reader_processes: Optional[int] = None,
                 prefetch_processes: Optional[int] = None,
                 min_parallel_tiles: int = 2,
                 prefetch_ahead_windows: int = 1,
                 prefetch_behind_windows: int = 1,
                 cache_ttl_s: Optional[float] = 1800, *,
                 data_root: Optional[PathLike] = None,
                 worker_path: Optional[PathLike] = None,
                 max_open_files: int = 0, raise_errors: bool = False):
        total, prefetch = _lanes(reader_processes, prefetch_processes)
        if use_process_pool and worker_path is None:
            worker_path = _worker_path()  # as ReaderProcessPool finds it
        self.tile_duration_s = tile_duration_s
        self.tile_cache_bytes = int(tile_cache_bytes)
        self.cache_ttl_s = float(cache_ttl_s) if cache_ttl_s and \
            cache_ttl_s > 0 else None
        self.use_process_pool = bool(use_process_pool)
        self.min_parallel_tiles = max(1, int(min_parallel_tiles))
        self.prefetch_ahead_windows = max(0, int(prefetch_ahead_windows))
        self.prefetch_behind_windows = max(0, int(prefetch_behind_windows))
        self.reader_processes = total
        self.prefetch_processes = prefetch
        self.raise_errors = bool(raise_errors)
        self._fm = _core.Files(
            tile_duration_s=float(tile_duration_s),
            tile_cache_bytes=self.tile_cache_bytes,
            cache_ttl_s=self.cache_ttl_s or 0.0,
            use_process_pool=self.use_process_pool,
            reader_processes=total, prefetch_processes=prefetch,
            min_parallel_tiles=self.min_parallel_tiles,
            prefetch_ahead_windows=self.prefetch_ahead_windows,
            prefetch_behind_windows=self.prefetch_behind_windows,
            prefetch_threads=max(1, int(max_workers)),
            data_root=data_root, worker_path=worker_path,
            max_open_files=int(max_open_files))

    # -- open, close, info, list --------------------------------------
    def open_file(self, file_path: PathLike,
                  password: Optional[str] = None) -> FileInfo:
        """Open a session (``.mefd``, ``.timd`` or ``.mefd.tar``), with a
        password for encrypted ones.

        Returns its :class:`FileInfo` (``file_opened`` True).  A file open
        already keeps its state and comes back with ``error_message``
        "File already open: PATH", as in the original.  A failure (no such
        file, wrong password, damaged files, ...) comes back with
        ``file_opened`` False and the C library's message, or raises with
        ``raise_errors``.
        """
        path = os.fspath(file_path)
        try:
            already = self._fm.open(path, password or None)
            info = self._fm.info(path)
        except Error as e:
            if self.raise_errors:
                raise
            return FileInfo(path, False, e.message or str(e), e.code)
        fi = FileInfo(path, True, info=info)
        if already:
            fi.error_message = f"File already open: {path}"
        return fi

    def close_file(self, file_path: PathLike) -> FileInfo:
        """Close an open session and drop its tiles.  Returns a
        :class:`FileInfo` with ``file_opened`` False (closing a file that
        is not open is not an error, as in the original)."""
        path = os.fspath(file_path)
        try:
            self._fm.close_file(path)
        except _core.NotFoundError:
            pass
        except Error as e:
            if self.raise_errors:
                raise
            return FileInfo(path, False, e.message or str(e), e.code)
        return FileInfo(path, False)

    def get_file_info(self, file_path: PathLike) -> FileInfo:
        """The :class:`FileInfo` of an open session; ``file_opened`` False
        when it is not open."""
        path = os.fspath(file_path)
        try:
            info = self._fm.info(path)
        except _core.NotFoundError as e:
            if self.raise_errors:
                raise
            return FileInfo(path, False)
        except Error as e:
            if self.raise_errors:
                raise
            return FileInfo(path, False, e.message or str(e), e.code)
        return FileInfo(path, True, info=info)

    def list_open_files(self) -> List[str]:
        """The paths of the open sessions, as first opened, sorted."""
        return self._fm.list()

    # -- reads ----------------------------------------------------------
    def read_signal_range(self, file_path: PathLike,
                          channels: Optional[Sequence[str]],
                          start_uutc: int, end_uutc: int,
                          prefetch: bool = True) -> Dict:
        """Read ``channels`` (None or empty: all, in the file's order; a
        str: that one channel) over
        ``[start_uutc, end_uutc)`` µUTC through the tile cache.

        Returns ``{"array": (n_channels, n_samples) float32 ndarray,
        "channel_names", "fs", "start_uutc", "end_uutc"}``, with
        ``n_samples = round((end - start) * fs / 1e6)`` and NaN where there
        is no sample.  The array views the C result (no copy).

        Raises :class:`UnknownNameError` (a ``ValueError`` and a
        :class:`NotFoundError`) for a file not open or an unknown channel,
        :class:`InvalidArgumentError` (a ``ValueError``) for an empty
        window or channels of different rates, as the original raises
        ``ValueError`` for these.

        ``prefetch`` is accepted for compatibility; prefetch follows
        ``prefetch_ahead_windows`` / ``prefetch_behind_windows`` of the
        manager (set both to 0 for none).
        """
        path = os.fspath(file_path)
        try:
            sig = self._fm.read(path, _channels(channels),
                                int(start_uutc), int(end_uutc))
        except Error as e:
            raise as_value_error(e) from None
        return signal_dict(sig, channels)

    def get_envelope(self, file_path: PathLike,
                     channels: Optional[Sequence[str]], start_uutc: int,
                     end_uutc: int, columns: int) -> Dict:
        """``channels`` (None or empty: all; a str: that one; one rate) over
        ``[start_uutc, end_uutc)`` reduced to at most ``columns`` (1 to
        1048576) columns of (min, max) per channel, for overviews: from a
        min/max pyramid built once per tile and cached apart from the
        tiles, so an overview of hours costs about what a short read costs.

        Returns ``{"min", "max": (n_channels, n_columns) float32 ndarrays,
        "channel_names", "fs", "samples_per_column", "level",
        "first_sample", "first_uutc": (n_channels,) int64 ndarrays,
        "start_uutc", "end_uutc"}``.
        Column ``j`` of channel ``i`` covers its grid samples
        ``first_sample[i] + j * samples_per_column`` onwards
        (``samples_per_column`` of them), from ``first_uutc[i] + j *
        samples_per_column * 1e6 / fs`` µUTC; its min and max equal those
        of a direct read of those samples that are not NaN, NaN in both
        where there is none (a gap stays a gap).  ``level`` is the
        pyramid level used (-1: reduced from the samples).

        Raises as :meth:`read_signal_range` does, and
        :class:`InvalidArgumentError` for ``columns`` out of range.
        """
        path = os.fspath(file_path)
        try:
            d = self._fm.envelope(path, _channels(channels),
                                  int(start_uutc), int(end_uutc),
                                  int(columns))
        except Error as e:
            raise as_value_error(e) from None
        return envelope_dict(d)

    # -- counters, shutdown ---------------------------------------------
    def stats(self) -> Dict[str, int]:
        """Counters of the tile cache, the lanes and prefetch: hits,
        misses, bytes, tiles, evictions, expirations, prefetched,
        prefetch_used, prefetch_wasted, reads, open_files, waits,
        pool_tiles, local_tiles, prefetch_failed."""
        return self._fm.stats()

    def shutdown(self) -> None:
        """Stop prefetch, the worker processes and the TTL sweeper and close
        every session.  Waits for calls in flight on other threads; calls
        after it raise :class:`InvalidArgumentError`.  Idempotent."""
        self._fm.close()

    @property
    def closed(self) -> bool:
        """True after :meth:`shutdown`."""
        return self._fm.closed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()

    def __repr__(self):
        state = "shut down" if self.closed else \
            f"{len(self.list_open_files())} open files"
        return (f"FileManager(tile_duration_s={self.tile_duration_s}, "
                f"use_process_pool={self.use_process_pool}, {state})")


FileManager.__module__ = "mef3pool"

__all__ = ["FileManager", "FileInfo", "UnknownNameError"]
