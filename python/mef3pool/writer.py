"""Writer: mef3io's writing API over the mef3pool C writer.

``Writer`` follows ``mef3io.Writer`` (bnelair/mef3io, docs/python.md):
``write`` (float data, NaN runs stored as gaps, ``precision``),
``write_int32`` (counts verbatim, ``valid`` mask), ``write_annotations``,
appends by further writes, a context manager.  Encoding runs with the GIL
released.  What differs from mef3io, and why:

* A session is written by one Writer from creation to close: the C writer
  creates the directory, so ``overwrite=False`` on an existing, non-empty
  session raises :class:`mef3pool.ExistsError` instead of reopening it
  for appending (``overwrite=True`` replaces it).
* Consecutive writes to a channel continue its blocks (a block may hold
  samples of two calls); samples of a partial block reach the disk at
  close, ``flush()`` or a new segment.
* ``precision`` inference lowers the precision until *both* ends of the
  data fit int32 (mef3io accepts data where one end overflows); values
  beyond int32 are clamped, never wrapped.
* ``write_annotations`` appends ``Note`` and ``Seiz`` records (other types
  raise :class:`mef3pool.UnsupportedError`).
"""
from __future__ import annotations

import os
import shutil
from typing import Optional

import numpy as np

from . import _core
from ._errors import InvalidArgumentError, UnsupportedError

_I32, _F64 = 2, 1
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


def infer_precision(data: np.ndarray) -> int:
    """Decimal precision for quantizing float data, as mef3io infers it:
    the number of decimal digits that brings the mean absolute difference
    of consecutive samples (NaN ignored) to at least 1000, lowered until
    the data fit int32."""
    d = np.abs(np.diff(data))
    d = d[~np.isnan(d)]
    mean = float(d.mean()) if d.size else 0.0
    p = 0
    while mean != 0.0 and mean < 1000.0:
        p += 1
        mean *= 10.0
    ok = data[~np.isnan(data)]
    if not ok.size:
        return 0
    lo, hi = float(ok.min()), float(ok.max())
    while p > 0 and (lo * 10.0**p < _INT32_MIN + 2 or hi * 10.0**p > _INT32_MAX - 1):
        p -= 1
    return p


def _runs(valid: np.ndarray):
    """[begin, end) of each run of true values."""
    v = np.concatenate(([False], valid.astype(bool), [False]))
    edges = np.flatnonzero(v[1:] != v[:-1])
    return list(zip(edges[0::2], edges[1::2]))


class Writer:
    """Write a new MEF 3.0 session, as ``mef3io.Writer``.

    Parameters
    ----------
    path : str or os.PathLike
        The session directory to create (must end in ``.mefd``).
    overwrite : bool
        Delete an existing session at ``path`` first.  Without it, an
        existing non-empty session is :class:`mef3pool.ExistsError`.
    password1, password2 : str
        Level-1 and level-2 passwords ("" for none; at most 15
        characters; a level-2 password needs a level-1 one).  Metadata
        sections 2 and 3 are encrypted with them.
    units : str, optional
        Units description of every channel (e.g. ``"uV"``).
    block_length : int, optional
        Samples per RED block; default ``fs`` samples for fs >= 5000 Hz,
        else ``10 * fs``, as mef3io.

    Examples
    --------
    >>> with mef3pool.Writer("rec.mefd", overwrite=True, units="uV") as w:
    ...     w.write("ch1", data, start_uutc, fs=256.0)    # NaN marks gaps
    """

    def __init__(self, path, overwrite: bool = False, password1: str = "",
                 password2: str = "", units: Optional[str] = None,
                 block_length: Optional[int] = None, n_threads: int = 0,
                 **options):
        self._path = os.fspath(path)
        if overwrite and os.path.isdir(self._path) and self._path.rstrip(
                "/").endswith(".mefd"):
            shutil.rmtree(self._path)
        self._w = _core.Writer(self._path, password1 or None, password2 or None,
                               **options)
        self._units = units
        self._block_length = None if block_length is None else int(block_length)
        self._ch = {}  # name -> dict(index, fs, ufact, segment, has_blocks)

    # ---- lifecycle ----
    def close(self) -> None:
        """Finish the session: pending samples become final blocks, all
        metadata is written.  Idempotent."""
        self._w.close()

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<mef3pool.Writer {self._path!r} ({len(self._ch)} channels)>"

    @property
    def path(self) -> str:
        """The session directory."""
        return self._path

    @property
    def channels(self) -> list:
        """Names of the channels written so far, in order of creation."""
        return list(self._ch)

    # ---- channels ----
    def _block_samples(self, fs):
        if self._block_length is not None:
            return self._block_length
        return int(fs) if fs >= 5000 else int(fs * 10)

    def _channel(self, name, fs, ufact, start_uutc, new_segment):
        name = str(name)
        c = self._ch.get(name)
        if c is None:
            idx = self._w.add_channel(name, float(fs), int(start_uutc),
                                      self._units, float(ufact),
                                      self._block_samples(fs))
            c = {"index": idx, "fs": float(fs), "ufact": float(ufact),
                 "segment": 0, "stored": 0}
            self._ch[name] = c
            return c
        if float(fs) != c["fs"]:
            raise InvalidArgumentError(
                f"{self._path}: channel {name}: fs {fs} differs from the "
                f"channel's {c['fs']}")
        if ufact is not None and not np.isclose(float(ufact), c["ufact"],
                                                rtol=1e-12, atol=0):
            raise InvalidArgumentError(
                f"{self._path}: channel {name}: conversion factor {ufact} "
                f"differs from the channel's {c['ufact']}")
        if new_segment and c["stored"]:
            self._w.new_segment(c["index"])
            c["segment"] += 1
        return c

    def _summary(self, c, before, n, runs):
        after = self._w.stats()
        return {"samples_written": int(n), "blocks": after["blocks"] - before["blocks"],
                "gaps_skipped": max(0, len(runs) - 1), "segment": c["segment"]}

    # ---- writes ----
    def write(self, channel, data, start_uutc, fs, precision: int = -1,
              new_segment: bool = False) -> dict:
        """Write float data in physical units; NaN runs become gaps.

        Values are stored as counts ``round(data * 10**precision)`` with the
        conversion factor ``10**-precision``; ``precision=-1`` infers it
        from the data on a channel's first write and reuses the channel's
        afterwards (also for a new segment: a channel has one factor).  ``start_uutc`` is the time of ``data[0]``; sample k
        stands for ``start_uutc + round(k * 1e6 / fs)``.  A start at the
        channel's next sample continues it; a later one begins a new
        contiguous run; an earlier one is InvalidArgumentError.

        Returns ``{"samples_written", "blocks", "gaps_skipped", "segment"}``
        (``blocks``: blocks completed by this call).
        """
        x = np.atleast_1d(np.ascontiguousarray(data, dtype=np.float64))
        if x.ndim != 1:
            raise InvalidArgumentError("data must be one-dimensional")
        c = self._ch.get(str(channel))
        if precision is None or int(precision) < 0:
            # a channel keeps one conversion factor, also across segments
            ufact = c["ufact"] if c is not None else 10.0 ** -infer_precision(x)
        else:
            ufact = 10.0 ** -int(precision)
        c = self._channel(channel, fs, ufact, start_uutc, new_segment)
        valid = ~np.isnan(x)
        runs = _runs(valid)
        before = self._w.stats()
        if runs:
            self._w.write(c["index"], int(start_uutc), _F64, x)
        c["stored"] += int(valid.sum())
        return self._summary(c, before, valid.sum(), runs)

    def write_int32(self, channel, data, ufact, start_uutc, fs, valid=None,
                    new_segment: bool = False) -> dict:
        """Write integer counts verbatim with conversion factor ``ufact``.

        ``data`` must be of an integer type within int32 (float data is a
        TypeError, values beyond int32 a ValueError: counts are never
        altered).  ``valid`` (same length; nonzero = a sample) marks gaps.
        Returns the summary of :meth:`write`.
        """
        a = np.atleast_1d(np.asarray(data))
        if not np.issubdtype(a.dtype, np.integer):
            raise TypeError(f"write_int32 stores counts verbatim and needs integer "
                            f"data; got {a.dtype} (use write() for float data)")
        if a.size and (int(a.min()) < _INT32_MIN or int(a.max()) > _INT32_MAX):
            raise ValueError(f"write_int32: values in [{a.min()}, {a.max()}] "
                             f"exceed int32")
        a = np.ascontiguousarray(a, dtype=np.int32)
        if valid is None:
            v = np.ones(a.shape, dtype=bool)
        else:
            v = np.atleast_1d(np.asarray(valid)) != 0
            if v.shape != a.shape:
                raise InvalidArgumentError("valid must have the length of data")
        c = self._channel(channel, fs, ufact, start_uutc, new_segment)
        runs = _runs(v)
        before = self._w.stats()
        fsf = float(fs)
        for b, e in runs:
            t = int(start_uutc) + int(np.floor(b * 1e6 / fsf + 0.5))
            self._w.write(c["index"], t, _I32, a[b:e])
        c["stored"] += int(v.sum())
        return self._summary(c, before, v.sum(), runs)

    def write_annotations(self, annotations, channel=None) -> None:
        """Add records: an iterable of dicts (or a pandas DataFrame) with
        ``time`` (µUTC), ``type`` (default ``"Note"``; ``"Seiz"`` also),
        ``text`` and, for seizures, ``duration`` (µs).  ``channel=None``
        writes them at session level."""
        if hasattr(annotations, "to_dict"):
            annotations = annotations.to_dict("records")
        if channel is None:
            idx = -1
        else:
            c = self._ch.get(str(channel))
            if c is None:
                raise InvalidArgumentError(
                    f"{self._path}: no channel {channel!r} written yet")
            idx = c["index"]
        for r in annotations:
            typ = r.get("type", "Note") or "Note"
            t = int(r["time"])
            text = r.get("text") or ""
            if typ == "Note":
                self._w.add_note(idx, t, str(text))
            elif typ == "Seiz":
                dur = int(r.get("duration") or 0)
                self._w.add_seizure(idx, t, t + dur, str(text))
            else:
                raise UnsupportedError(
                    f"{self._path}: record type {typ!r}: the writer makes "
                    f"Note and Seiz records")

    def flush(self, channel=None) -> None:
        """Write samples pending in partial blocks now (of one channel or
        all), as short blocks."""
        self._w.flush(-1 if channel is None else self._ch[str(channel)]["index"])

    def sync(self) -> None:
        """Checkpoint metadata and indices of every channel now."""
        self._w.sync()


__all__ = ["Writer", "infer_precision"]
