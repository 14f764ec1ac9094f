"""What the file manager and the client share: the file-info record the
original's ``FileInfoResponse`` is, and turning C results into it."""
from __future__ import annotations

from typing import List, Optional

import numpy as np

from ._errors import Error, NotFoundError

# The fields of the original's FileInfoResponse, in its order.
_FIELDS = ("file_path", "file_opened", "number_of_channels", "channel_names",
           "channel_sampling_rates", "start_uutc", "end_uutc", "duration_s",
           "channel_start_uutc", "channel_end_uutc", "error_message")


class FileInfo:
    """What ``FileManager.open_file`` / ``get_file_info`` / ``close_file``
    return: the fields of mef3io-server's ``FileInfoResponse`` as
    attributes (``file_path``, ``file_opened``, ``number_of_channels``,
    ``channel_names``, ``channel_sampling_rates``, ``start_uutc``,
    ``end_uutc``, ``duration_s``, ``channel_start_uutc``,
    ``channel_end_uutc``, ``error_message``), plus ``error_code`` (0, or
    the C library's negative code when ``error_message`` reports a
    failure) and what the C file manager adds: ``real_path``,
    ``access_level`` (0, 1, 2), ``times_relative``, and per channel
    ``channel_n_samples``, ``channel_units``,
    ``channel_units_conversion_factor``.  ``to_dict()`` gives them as a
    dict (the keys of the original client's dict first).

    ``channel_sampling_rates`` are the exact rates (float64); the
    original's protobuf field is float32, so its values may differ in the
    last digits.
    """

    __slots__ = _FIELDS + ("error_code", "real_path", "access_level",
                           "times_relative", "channel_n_samples",
                           "channel_units", "channel_units_conversion_factor")

    def __init__(self, file_path: str, file_opened: bool = False,
                 error_message: str = "", error_code: int = 0, info=None):
        self.file_path = file_path
        self.file_opened = bool(file_opened)
        self.error_message = error_message
        self.error_code = error_code
        i = info or {}
        self.number_of_channels = i.get("number_of_channels", 0)
        self.channel_names = list(i.get("channel_names", []))
        self.channel_sampling_rates = list(i.get("channel_sampling_rates", []))
        self.start_uutc = i.get("start_uutc", 0)
        self.end_uutc = i.get("end_uutc", 0)
        self.duration_s = i.get("duration_s", 0.0)
        self.channel_start_uutc = list(i.get("channel_start_uutc", []))
        self.channel_end_uutc = list(i.get("channel_end_uutc", []))
        self.real_path = i.get("real_path", "")
        self.access_level = i.get("access_level", 0)
        self.times_relative = i.get("times_relative", False)
        self.channel_n_samples = list(i.get("channel_n_samples", []))
        self.channel_units = list(i.get("channel_units", []))
        self.channel_units_conversion_factor = list(
            i.get("channel_units_conversion_factor", []))

    def to_dict(self) -> dict:
        """The fields as a dict."""
        return {k: getattr(self, k) for k in self.__slots__}

    def __eq__(self, other):
        if not isinstance(other, FileInfo):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __repr__(self):
        state = "open" if self.file_opened else "not open"
        extra = f", error_message={self.error_message!r}" \
            if self.error_message else ""
        return (f"FileInfo({self.file_path!r}, {state}, "
                f"{self.number_of_channels} channels{extra})")


def signal_dict(sig, channels_asked) -> dict:
    """A _core.Signal as the original's read result (a view, no copy)."""
    return {
        "array": np.asarray(sig),
        "channel_names": list(sig.channel_names),
        "fs": sig.fs,
        "start_uutc": int(sig.start_uutc),
        "end_uutc": int(sig.end_uutc),
    }


def envelope_dict(d: dict) -> dict:
    """A _core envelope dict with its min and max as (channels, columns)
    float32 arrays and first_sample / first_uutc as int64 arrays."""
    shape = (len(d["channel_names"]), d["n_columns"])
    out = dict(d)
    for k in ("min", "max"):
        out[k] = np.frombuffer(d[k], dtype=np.float32).reshape(shape)
    for k in ("first_sample", "first_uutc"):
        out[k] = np.asarray(d[k], dtype=np.int64)
    del out["n_columns"]
    return out


class UnknownNameError(NotFoundError, ValueError):
    """A file that is not open, or a channel the file does not have, named
    in a read.  A :class:`NotFoundError` (code MEF3_ENOTFOUND) and, as the
    original's ``read_signal_range`` raises for these, a ``ValueError``."""


def as_value_error(e: Error) -> Error:
    """NotFoundError re-raised as UnknownNameError (same code and message)."""
    if isinstance(e, NotFoundError) and not isinstance(e, ValueError):
        n = UnknownNameError(e.message)
        n.message = e.message
        return n
    return e


def _paths(obj) -> Optional[List[str]]:
    if obj is None:
        return None
    if isinstance(obj, str):
        return [obj]
    return list(obj)


for _c in (FileInfo, UnknownNameError):
    _c.__module__ = "mef3pool"
del _c


__all__ = ["FileInfo", "UnknownNameError"]
