"""Reader and MefReader: mef3io's reading API over the mef3pool C reader.

``Reader`` follows ``mef3io.Reader`` (bnelair/mef3io, docs/python.md): the
same constructor, properties, methods, dictionary keys and semantics where
mef3io has them, plus what the C reader adds (``read`` of several channels
into one 2-D array, ``dtype=numpy.float32``, ``read_samples``).
``MefReader`` follows mef3io's ``mef_tools``-compatible class, which
mef3io-server calls.

Every read fills a numpy array Python owns, with the GIL released during
the decode; one reader serves one C call at a time (threads that share a
reader take turns; give each thread its own reader to decode in parallel).
Damaged blocks read as NaN and raise a :class:`DamagedBlockWarning`
naming the blocks, their time range and the C library's message.
"""
from __future__ import annotations

import os
import warnings
from typing import Optional, Sequence, Union

import numpy as np

from . import _core
from ._errors import (DamagedBlockWarning, DamagedRecordWarning,
                      InvalidArgumentError, NotFoundError)

F32, F64, I32 = 0, 1, 2
_DTYPES = {np.dtype(np.float32): F32, np.dtype(np.float64): F64,
           np.dtype(np.int32): I32}

# The packed block records of _core.Reader.blocks (48 bytes each).
_BLOCK_DTYPE = np.dtype([
    ("start_uutc", "<i8"), ("start_sample", "<i8"), ("file_offset", "<i8"),
    ("number_of_samples", "<u4"), ("bytes", "<u4"), ("segment", "<i4"),
    ("minimum_sample_value", "<i4"), ("maximum_sample_value", "<i4"),
    ("flags", "u1"), ("_pad", "V3")])
_DISCONTINUITY = 0x01


def _time(value, name):
    """A µUTC time argument as int (floats such as t0 + 10 * 1e6 are
    accepted when they are whole numbers)."""
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value) or value != np.floor(value):
            raise InvalidArgumentError(f"{name} must be a whole number of "
                                       f"microseconds, not {value!r}")
        return int(value)
    raise TypeError(f"{name} must be an int (µUTC), not {type(value).__name__}")


class Reader:
    """Read-only access to a MEF 3.0 session, as ``mef3io.Reader``.

    Parameters
    ----------
    path : str or os.PathLike
        A session directory (``NAME.mefd``) or one channel (``NAME.timd``).
    password : str, optional
        Level-1 or level-2 password of an encrypted session ("" for none).
        A level-1 password reads the signal and technical metadata; subject
        metadata (section 3) then stays locked and times are relative.
    check_crc : bool, optional
        Verify every data block's CRC (default True).

    Raises
    ------
    NotFoundError, PasswordError, CorruptError, CRCError, ...
        Subclasses of :class:`mef3pool.Error` with the C library's message.

    Examples
    --------
    >>> with mef3pool.Reader("rec.mefd") as r:
    ...     x = r.read(r.channels[0], t0, t1)     # float64, NaN in gaps
    """

    def __init__(self, path: Union[str, os.PathLike], password: str = "",
                 check_crc: bool = True, **_ignored):
        # mef3io's backend=, n_threads=, cache= are accepted and ignored:
        # the C reader needs none of them.
        self._path = os.fspath(path)
        self._r = _core.Reader(self._path, password or None, check_crc)
        n = self._r.channel_count()
        self._ch = [self._r.channel(i) for i in range(n)]
        self._index = {c["name"]: i for i, c in enumerate(self._ch)}
        self._blocks = {}

    # ---- lifecycle ----
    def close(self) -> None:
        """Close the reader and free what it holds (idempotent)."""
        self._r.close()

    def __enter__(self) -> "Reader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._r.closed else f"{len(self._ch)} channels"
        return f"<mef3pool.Reader {self._path!r} ({state})>"

    # ---- metadata ----
    @property
    def path(self) -> str:
        """The path the reader was opened with."""
        return self._path

    @property
    def channels(self) -> list:
        """Channel names, sorted (byte order)."""
        return [c["name"] for c in self._ch]

    @property
    def access_level(self) -> int:
        """What the password opened: 0 (none), 1 or 2."""
        return self._r.access_level

    def _ci(self, channel) -> int:
        if isinstance(channel, (int, np.integer)):
            i = int(channel)
            if not 0 <= i < len(self._ch):
                raise InvalidArgumentError(
                    f"{self._path}: channel index {i} out of range "
                    f"(0..{len(self._ch) - 1})")
            return i
        try:
            return self._index[channel]
        except (KeyError, TypeError):
            raise NotFoundError(f"{self._path}: no channel {channel!r}") from None

    def info(self, channel) -> dict:
        """Channel metadata, with mef3io's keys.

        Keys: ``name``, ``sampling_frequency`` (Hz),
        ``units_conversion_factor``, ``units_description``, ``start_time``
        / ``end_time`` (µUTC, end exclusive), ``number_of_samples`` (stored
        samples; gaps are not counted), ``recording_time_offset``,
        ``n_segments``, ``session_description``, ``channel_description``,
        ``reference_description``, ``acquisition_channel_number``,
        ``low_frequency_filter``, ``high_frequency_filter``,
        ``notch_filter``, ``line_frequency``, ``section3_available``,
        ``gmt_offset`` and the subject fields ``subject_name_1``,
        ``subject_name_2``, ``subject_id``, ``recording_location`` (None
        without section-3 access).  Also mef3pool's own: ``n_blocks``,
        ``n_contigua``, ``times_relative``, ``path``.
        """
        c = self._ch[self._ci(channel)]
        s3 = bool(c.get("section_3_available"))
        return {
            "name": c["name"],
            "sampling_frequency": c["fs"],
            "units_conversion_factor": c["units_conversion_factor"],
            "units_description": c["units_description"],
            "start_time": c["start_uutc"],
            "end_time": c["end_uutc"],
            "number_of_samples": c["n_samples"],
            "recording_time_offset": c.get("recording_time_offset", 0),
            "n_segments": c["n_segments"],
            "session_description": c.get("session_description", ""),
            "channel_description": c.get("channel_description", ""),
            "reference_description": c.get("reference_description", ""),
            "acquisition_channel_number": c.get("acquisition_channel_number", -1),
            "low_frequency_filter": c.get("low_frequency_filter_setting", -1.0),
            "high_frequency_filter": c.get("high_frequency_filter_setting", -1.0),
            "notch_filter": c.get("notch_filter_frequency_setting", -1.0),
            "line_frequency": c.get("ac_line_frequency", -1.0),
            "section3_available": s3,
            "gmt_offset": c.get("gmt_offset") if s3 else None,
            "subject_name_1": c.get("subject_name_1") if s3 else None,
            "subject_name_2": c.get("subject_name_2") if s3 else None,
            "subject_id": c.get("subject_id") if s3 else None,
            "recording_location": c.get("recording_location") if s3 else None,
            "n_blocks": c["n_blocks"],
            "n_contigua": c["n_contigua"],
            "times_relative": c["times_relative"],
            "path": c["path"],
        }

    def segments(self, channel) -> list:
        """One dict per segment: ``segment``, ``path``, ``start_time``,
        ``end_time`` (µUTC), ``start_sample`` (channel-wide),
        ``number_of_samples``, ``number_of_blocks``; from metadata only."""
        i = self._ci(channel)
        chpath = self._ch[i]["path"]
        name = self._ch[i]["name"]
        out = []
        for s in self._r.segments(i):
            d = dict(s)
            d.pop("first_block", None)
            d["path"] = os.path.join(chpath, f"{name}-{s['segment']:06d}.segd")
            out.append({k: d[k] for k in ("segment", "path", "start_time",
                                          "end_time", "start_sample",
                                          "number_of_samples",
                                          "number_of_blocks")})
        return out

    def _block_table(self, i) -> np.ndarray:
        t = self._blocks.get(i)
        if t is None:
            t = np.frombuffer(self._r.blocks(i), dtype=_BLOCK_DTYPE)
            self._blocks[i] = t
        return t

    def toc(self, channel) -> list:
        """One dict per RED block: ``start_uutc``, ``start_sample``,
        ``number_of_samples``, ``maximum_sample_value``,
        ``minimum_sample_value``, ``discontinuity``."""
        t = self._block_table(self._ci(channel))
        return [{"start_uutc": int(b["start_uutc"]),
                 "start_sample": int(b["start_sample"]),
                 "number_of_samples": int(b["number_of_samples"]),
                 "maximum_sample_value": int(b["maximum_sample_value"]),
                 "minimum_sample_value": int(b["minimum_sample_value"]),
                 "discontinuity": bool(b["flags"] & _DISCONTINUITY)}
                for b in t]

    def records(self, channel=None) -> list:
        """Records (annotations) at session level (``channel=None``) or of
        one channel: dicts with ``type``, ``time`` (µUTC) and, where the
        record has them, ``text``, ``duration``, ``earliest_onset`` /
        ``latest_offset`` (seizures).  A record that cannot be decoded is
        listed with ``undecodable`` True, its ``problem`` and raw ``body``,
        and raises a :class:`DamagedRecordWarning`."""
        name = None if channel is None else self._ch[self._ci(channel)]["name"]
        out = []
        for r in self._r.records():
            if name is None:
                if r["level"] != "session":
                    continue
            elif r["level"] == "session" or r["channel"] != name:
                continue
            d = {"type": r["type"], "time": r["time"]}
            if r["problem"] is not None:
                warnings.warn(r["problem"], DamagedRecordWarning, stacklevel=2)
                d.update(undecodable=True, problem=r["problem"], body=r["body"])
                out.append(d)
                continue
            if r["text"] is not None:
                d["text"] = r["text"]
            if r["type"] in ("EDFA", "Epoc") or (r["type"] != "Seiz"
                                                 and r["duration"]):
                d["duration"] = r["duration"]
            if r["type"] == "Seiz" and r["has_duration"]:
                d["earliest_onset"] = r["time"]
                d["latest_offset"] = r["end_time"]
                d["duration"] = r["end_time"] - r["time"]
            out.append(d)
        return out

    # ---- reads ----
    def _window(self, i, t0, t1):
        c = self._ch[i]
        a = c["start_uutc"] if t0 is None else _time(t0, "t0")
        b = c["end_uutc"] if t1 is None else _time(t1, "t1")
        return a, b

    def _warn(self, i, rep, what):
        n_bad = rep[2]
        if not n_bad:
            return
        t = self._block_table(i)
        fs = self._ch[i]["fs"]
        spans = []
        for b in rep[5]:
            s = int(t[b]["start_uutc"])
            e = s + int(round(int(t[b]["number_of_samples"]) * 1e6 / fs))
            spans.append(f"block {b} [{s}, {e})")
        more = "" if n_bad <= len(spans) else f" and {n_bad - len(spans)} more"
        warnings.warn(
            f"{self._path}: channel {self._ch[i]['name']}: {n_bad} damaged "
            f"block(s) read as NaN in {what}: {', '.join(spans)}{more}: "
            f"{rep[4]}", DamagedBlockWarning, stacklevel=3)

    def read(self, channel, t0=None, t1=None, n_threads=None, dtype=np.float64):
        """Samples in physical units on the uniform grid over ``[t0, t1)``.

        ``channel`` is a name (or index), or a list of them: then the result
        is 2-D, one row per channel in the order given (the channels must
        give windows of one length, i.e. share a rate, else
        InvalidArgumentError).  ``t0``/``t1`` default to the channel's
        start and end.  ``round((t1 - t0) * fs / 1e6)`` samples, NaN where
        there is no sample (gaps), values times the units conversion
        factor.  ``dtype`` is numpy.float64 (default) or numpy.float32.
        ``n_threads`` is accepted for mef3io compatibility and ignored.
        """
        typ = _DTYPES.get(np.dtype(dtype))
        if typ not in (F32, F64):
            raise InvalidArgumentError("dtype must be float32 or float64")
        if isinstance(channel, (list, tuple)):
            return self._read_multi(channel, t0, t1, dtype, typ)
        i = self._ci(channel)
        a, b = self._window(i, t0, t1)
        n = _core.window_samples(a, b, self._ch[i]["fs"])
        out = np.empty(n, dtype=dtype)
        rep = self._r.read_time(i, a, b, typ, out)
        self._warn(i, rep, f"[{a}, {b})")
        return out

    def _read_multi(self, channels, t0, t1, dtype, typ):
        if not channels:
            raise InvalidArgumentError("empty channel list")
        idx = [self._ci(c) for c in channels]
        a, b = self._window(idx[0], t0, t1)
        ns = {_core.window_samples(a, b, self._ch[i]["fs"]) for i in idx}
        if len(ns) != 1:
            raise InvalidArgumentError(
                f"{self._path}: channels {list(channels)!r} give windows of "
                f"different lengths {sorted(ns)} (different rates); read them "
                f"one at a time")
        n = ns.pop()
        out = np.empty((len(idx), n), dtype=dtype)
        reps = self._r.read_time_multi(idx, a, b, typ, out, n)
        for i, rep in zip(idx, reps):
            self._warn(i, rep, f"[{a}, {b})")
        return out

    def read_raw(self, channel, t0=None, t1=None, n_threads=None) -> dict:
        """Stored int32 counts on the grid with a validity mask, as mef3io:
        ``samples`` (int32; -2**31 where there is no sample), ``valid``
        (uint8, 0 in gaps), ``start_uutc``, ``sampling_frequency``,
        ``units_conversion_factor``."""
        i = self._ci(channel)
        a, b = self._window(i, t0, t1)
        c = self._ch[i]
        n = _core.window_samples(a, b, c["fs"])
        samples = np.empty(n, dtype=np.int32)
        valid = np.empty(n, dtype=np.uint8)
        rep = self._r.read_time(i, a, b, I32, samples, valid)
        self._warn(i, rep, f"[{a}, {b})")
        return {"samples": samples, "valid": valid, "start_uutc": a,
                "sampling_frequency": c["fs"],
                "units_conversion_factor": c["units_conversion_factor"]}

    def read_samples(self, channel, s0: int, s1: int, dtype=np.float64):
        """Stored samples ``[s0, s1)`` by channel-wide index (all segments,
        gaps not counted): float64/float32 physical units, or int32 raw
        counts with ``dtype=numpy.int32``.  Needs 0 <= s0 <= s1 <=
        number_of_samples (else InvalidArgumentError)."""
        typ = _DTYPES.get(np.dtype(dtype))
        if typ is None:
            raise InvalidArgumentError("dtype must be float32, float64 or int32")
        i = self._ci(channel)
        s0, s1 = int(s0), int(s1)
        if not 0 <= s0 <= s1 <= self._ch[i]["n_samples"]:
            raise InvalidArgumentError(
                f"{self._path}: channel {self._ch[i]['name']}: samples "
                f"[{s0}, {s1}) outside [0, {self._ch[i]['n_samples']})")
        out = np.empty(s1 - s0, dtype=dtype)
        rep = self._r.read_samples(i, s0, s1, typ, out)
        self._warn(i, rep, f"samples [{s0}, {s1})")
        return out


class MefReader:
    """mef3io's ``mef_tools``-compatible reader (``mef3io.MefReader``),
    which mef3io-server calls.

    ``MefReader(session_path, password2=None)``: the second argument is the
    password (``password=`` is accepted too).  ``get_data(channels, t0,
    t1)`` gives one float64 array for a channel name or a list of arrays
    for a list, NaN in gaps, physical units.
    """

    __version__ = "mef3pool"

    def __init__(self, session_path, password2: Optional[str] = None,
                 password: Optional[str] = None):
        self._r = Reader(session_path, password2 or password or "")
        self.bi = [self._basic_info(ch) for ch in self._r.channels]

    def _basic_info(self, channel):
        info = self._r.info(channel)
        return {
            "name": channel,
            "fsamp": [info["sampling_frequency"]],
            "nsamp": [info["number_of_samples"]],
            "ufact": [info["units_conversion_factor"]],
            "unit": [info["units_description"].encode()],
            "start_time": [info["start_time"]],
            "end_time": [info["end_time"]],
            "channel": channel,
        }

    @property
    def channels(self) -> list:
        """Channel names, sorted."""
        return self._r.channels

    @property
    def properties(self) -> list:
        """Keys of the per-channel basic info."""
        return sorted({k for ch in self.bi for k in ch})

    def get_property(self, property_name, channel=None):
        """One property of one channel, or of every channel as a list."""
        def one(ch):
            v = ch[property_name]
            return v[0] if isinstance(v, list) and len(v) == 1 else v
        if channel is None:
            return [one(ch) for ch in self.bi]
        for ch in self.bi:
            if ch["name"] == channel:
                return one(ch)
        return None

    def get_channel_info(self, channel=None):
        """The basic info dict of a channel, or the list of all."""
        if channel is None:
            return self.bi
        for ch in self.bi:
            if ch["name"] == channel:
                return ch
        return None

    def _pick(self, channels) -> list:
        chs = self.channels
        if isinstance(channels, (int, np.integer)):
            return [chs[int(channels)]]
        if isinstance(channels, str):
            if channels not in chs:
                raise ValueError("Channel name is not present in MEF file.")
            return [channels]
        picked = []
        for c in channels:
            if isinstance(c, (int, np.integer)):
                c = chs[int(c)]
            if isinstance(c, str) and c in chs and c not in picked:
                picked.append(c)
        return picked

    def get_raw_data(self, channels, t_stamp1=None, t_stamp2=None):
        """Raw counts as float64 with NaN in gaps, one array per channel."""
        out = []
        for ch in self._pick(channels):
            raw = self._r.read_raw(ch, t_stamp1, t_stamp2)
            x = raw["samples"].astype(np.float64)
            x[raw["valid"] == 0] = np.nan
            out.append(x)
        return out

    def get_data(self, channels, t_stamp1=None, t_stamp2=None):
        """Physical values (float64, NaN in gaps): an array for one channel,
        a list of arrays for a list of channels."""
        if isinstance(channels, (list, tuple)):
            return [self._r.read(ch, t_stamp1, t_stamp2)
                    for ch in self._pick(channels)]
        return self._r.read(self._pick(channels)[0], t_stamp1, t_stamp2)

    def get_annotations(self, channel=None):
        """Records of the session (or a channel), or None when they cannot
        be read."""
        try:
            return self._r.records(channel)
        except Exception:
            return None

    def close(self):
        """Close the reader."""
        self._r.close()


__all__ = ["Reader", "MefReader"]
