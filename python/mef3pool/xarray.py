"""mef3pool.xarray: a session as a labelled xarray.DataArray, its records
as a pandas.DataFrame.

``open_session(path)`` wraps mef3pool.dask.from_session's lazy array:
dims ("channel", "time"), the channel names and the time of every sample
(datetime64[ns] in UTC - numpy times carry no zone, so attrs say
"time_zone": "UTC") as coordinates, each channel's units and conversion
factor as coordinates along "channel", and attrs with the rate, the
window in µUTC, the access level and, when the password opens section 3,
the recording time offset.  Nothing is read until the data is computed;
the time coordinate itself is in memory (8 bytes a sample: 28 MB for an
hour at 1 kHz; select with from_session's t0/t1 for long recordings).
Mixed rates: as from_session, an error naming the groups, or
``groups=True`` for ``{rate: DataArray}``.

``records_frame(path)`` lists the session's and every channel's records
(annotations) in one DataFrame, in time order.

Needs xarray and pandas (Debian: python3-xarray, python3-pandas) besides
dask; the module imports without them.
"""
from __future__ import annotations

import os
from typing import Optional, Sequence

import numpy as np

from . import _chunks
from . import dask as _mdask


def _xr():
    try:
        import xarray as xr
    except ImportError as e:
        raise ImportError("mef3pool.xarray needs xarray (Debian: "
                          "python3-xarray)") from e
    return xr


def _pd():
    try:
        import pandas as pd
    except ImportError as e:
        raise ImportError("mef3pool.xarray needs pandas (Debian: "
                          "python3-pandas)") from e
    return pd


def _times(t0, n, fs):
    """datetime64[ns] of window slots 0..n-1: t0 + round(i * 1e6 / fs) µs,
    the time each slot stands for (grid.h's mef3_grid_time)."""
    us = t0 + _chunks._round_away_np(np.arange(n, dtype=np.float64) * 1e6 / fs)
    return (us * 1000).astype("datetime64[ns]")


def _data_array(g, data):
    xr = _xr()
    units = [i["units_description"] for i in g.infos]
    attrs = {
        "session": g.path,
        "sampling_frequency": g.fs,
        "start_uutc": g.t0,
        "end_uutc": g.t1,
        "time_zone": "UTC",
        "access_level": g.access_level,
        "times_relative": int(any(i["times_relative"] for i in g.infos)),
    }
    if len(set(units)) == 1:
        attrs["units"] = units[0]
    s3 = [i for i in g.infos if i["section3_available"]]
    if s3:
        attrs["recording_time_offset"] = s3[0]["recording_time_offset"]
    name = os.path.basename(g.path.rstrip(os.sep))
    if name.endswith(".mefd"):
        name = name[:-5]
    return xr.DataArray(
        data, dims=("channel", "time"), name=name, attrs=attrs,
        coords={
            "channel": list(g.names),
            "time": _times(g.t0, g.n, g.fs),
            "units": ("channel", units),
            "units_conversion_factor": (
                "channel", [i["units_conversion_factor"] for i in g.infos]),
        })


def open_session(path, channels: Optional[Sequence] = None, t0=None, t1=None,
                 chunk_s: float = 60, password: str = "", dtype=np.float32, *,
                 groups: bool = False, channels_per_chunk: Optional[int] = None):
    """A session as a lazy ``xarray.DataArray`` (channel, time); the
    arguments are mef3pool.dask.from_session's, and so are the values.

    Coordinates: ``channel`` (names), ``time`` (datetime64[ns], UTC),
    ``units`` and ``units_conversion_factor`` along channel.  Attributes:
    ``session``, ``sampling_frequency``, ``start_uutc``/``end_uutc`` (the
    window), ``time_zone`` ("UTC"), ``access_level``, ``times_relative``
    (1 when times are relative: section 3 locked), ``units`` (when every
    channel has the same), ``recording_time_offset`` (µs; only when the
    password opens section 3).  ``groups=True``: ``{rate: DataArray}``.
    """
    path = os.path.abspath(os.fspath(path))
    d = _mdask._dtype(dtype)
    gs = _mdask._groups_or_error(
        path, _mdask._describe(path, channels, t0, t1, chunk_s, password), groups)
    out = {g.fs: _data_array(g, _mdask._array(g, password, d, channels_per_chunk))
           for g in gs}
    return out if groups else out[gs[0].fs]


_COLUMNS = ["time", "time_uutc", "type", "level", "channel", "text",
            "duration_us", "earliest_onset_uutc", "latest_offset_uutc",
            "undecodable", "problem"]


def records_frame(path, password: str = ""):
    """The records (annotations) of a session and of its channels as a
    ``pandas.DataFrame``, one row a record, in time order: ``time``
    (datetime64[ns, UTC]), ``time_uutc``, ``type`` ("Note", "Seiz",
    "EDFA", ...), ``level`` ("session" or "channel"), ``channel`` (None at
    session level), ``text``, ``duration_us``, ``earliest_onset_uutc``,
    ``latest_offset_uutc`` (nullable integers where the type has none),
    ``undecodable`` and ``problem`` (a record that could not be decoded,
    which also raises a DamagedRecordWarning)."""
    from .reader import Reader
    pd = _pd()
    rows = []
    with Reader(path, password=password) as r:
        levels = [("session", None)] + [("channel", c) for c in r.channels]
        for level, ch in levels:
            for rec in r.records(ch):
                rows.append({
                    "time_uutc": rec["time"], "type": rec["type"],
                    "level": level, "channel": ch, "text": rec.get("text"),
                    "duration_us": rec.get("duration"),
                    "earliest_onset_uutc": rec.get("earliest_onset"),
                    "latest_offset_uutc": rec.get("latest_offset"),
                    "undecodable": bool(rec.get("undecodable", False)),
                    "problem": rec.get("problem")})
    df = pd.DataFrame(rows, columns=_COLUMNS[1:])
    for c in ("time_uutc", "duration_us", "earliest_onset_uutc",
              "latest_offset_uutc"):
        df[c] = df[c].astype("Int64")
    df.insert(0, "time", pd.to_datetime(df["time_uutc"].astype("int64"),
                                        unit="us", utc=True))
    return df.sort_values("time_uutc", kind="stable").reset_index(drop=True)


__all__ = ["open_session", "records_frame"]
