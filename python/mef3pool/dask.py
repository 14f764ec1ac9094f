"""mef3pool.dask: MEF 3.0 sessions as lazy Dask arrays.

``from_session(path)`` gives a ``dask.array`` of shape (channels,
samples): sample i of row c is what ``Reader.read(channels, t0, t1)``
gives at slot i (physical units, NaN in gaps), read chunk by chunk only
when computed.  Chunks follow the file manager's tiles (``chunk_s``
seconds, 60 as its ``tile_duration_s``, counted from the start of the
earliest channel; mef3pool/_chunks.py says how the cut stays exact).

What a graph holds: for every chunk the session's path, its password,
the channel names, the chunk's times and sample count, and the name of
a function of this module - nothing else (no Reader, no array), so it
pickles small and travels to any Dask scheduler.  The process a chunk
lands on (a ``dask.distributed`` worker, or this one under the local
schedulers) opens the session with its own Reader, kept in a cache of
that process (mef3pool/_readers.py) for the next chunk.  The password
travels in the graph: use it on machines and networks you trust.

One array holds one sampling rate.  A selection of channels at several
rates is an error naming the groups, unless ``groups=True`` asks for a
dict ``{rate: array}``, one array per rate group, each on its own grid.

``from_sessions(folder)`` gives ``{path: array}`` for a cohort, to
compute in one graph; ``epoch_features(x, fs)`` the mean, line length
and RMS of 10 s epochs, one task per chunk.

Needs dask (Debian: python3-dask; for clusters python3-distributed).
The module imports without it and says so when an array is asked for.
"""
from __future__ import annotations

import glob
import os
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from . import _chunks, _readers
from ._errors import InvalidArgumentError

PathLike = Union[str, "os.PathLike[str]"]

# A chunk of all channels is split along channels above this many bytes.
_MAX_CHUNK_BYTES = 128 << 20


def _dask():
    try:
        import dask.array as da
        from dask.highlevelgraph import HighLevelGraph
        from dask.base import tokenize
    except ImportError as e:
        raise ImportError("mef3pool.dask needs dask (Debian: python3-dask, "
                          "pip: dask[array])") from e
    return da, HighLevelGraph, tokenize


class _Group:
    """Channels of one rate over one window, and the chunk plan."""

    def __init__(self, path, fs, names, infos, t0, t1, plan, reader):
        self.path, self.fs, self.names, self.infos = path, fs, names, infos
        self.t0, self.t1, self.plan = t0, t1, plan
        self.n = sum(c[3] for c in plan)
        self.access_level = reader.access_level


def _fmt_rate(fs):
    return f"{fs:g} Hz"


def _rate_groups(path, reader, channels):
    """[(fs, [name, ...])] of the selected channels, rates ascending,
    channels in the order given."""
    if isinstance(channels, (str, int, np.integer)):
        channels = [channels]  # one channel, not its name's letters
    names = reader.channels if channels is None else \
        [reader.channels[reader._ci(c)] for c in channels]
    if not names:
        raise InvalidArgumentError(f"{path}: no channels selected")
    by = {}
    for n in names:
        by.setdefault(reader.info(n)["sampling_frequency"], []).append(n)
    return sorted(by.items())


def _describe(path, channels, t0, t1, chunk_s, password) -> List[_Group]:
    """The rate groups of a session selection, each with its chunk plan
    (from metadata and block tables; the reader is closed after)."""
    from .reader import Reader, _time
    if not (isinstance(chunk_s, (int, float)) and chunk_s > 0):
        raise InvalidArgumentError(f"chunk_s must be a positive number of "
                                   f"seconds, not {chunk_s!r}")
    with Reader(path, password=password) as r:
        out = []
        for fs, names in _rate_groups(path, r, channels):
            infos = [r.info(n) for n in names]
            live = [i for i in infos if i["number_of_samples"] > 0]
            if (t0 is None or t1 is None) and not live:
                raise InvalidArgumentError(
                    f"{path}: channels {names} hold no samples; pass t0 and t1")
            a = min(i["start_time"] for i in live) if t0 is None else _time(t0, "t0")
            b = max(i["end_time"] for i in live) if t1 is None else _time(t1, "t1")
            if b < a:
                raise InvalidArgumentError(
                    f"{path}: window end {b} is before its start {a}")
            origin = min((i["start_time"] for i in live), default=a)
            blocks = []
            for n in names:
                t = r._block_table(r._ci(n))
                blocks.append((t["start_uutc"], t["number_of_samples"]))
            plan = _chunks.plan(a, b, fs, origin, float(chunk_s), blocks)
            out.append(_Group(path, fs, names, infos, a, b, plan, r))
        return out


def _read_chunk(path: str, password: str, chunk: tuple, dtype: str) -> np.ndarray:
    """One chunk, in the process the task runs in (the graph's only
    function): `chunk` is (channels, t0, t1, n), n samples of [t0, t1)."""
    channels, t0, t1, n = chunk
    with _readers.borrowed(path, password) as r:
        x = r.read(list(channels), t0, t1, dtype=np.dtype(dtype))
    if x.shape[1] != n:
        raise InvalidArgumentError(
            f"{path}: the chunk [{t0}, {t1}) read {x.shape[1]} samples where "
            f"the graph expects {n} (did the session change since?)")
    return x


def _channel_chunks(names, longest, itemsize, channels_per_chunk):
    if channels_per_chunk is None:
        per = max(1, _MAX_CHUNK_BYTES // max(1, longest * itemsize))
        k = -(-len(names) // per)            # groups needed
        per = -(-len(names) // k)            # evened out
    else:
        per = int(channels_per_chunk)
        if per < 1:
            raise InvalidArgumentError(
                f"channels_per_chunk must be at least 1, not {channels_per_chunk!r}")
    return [tuple(names[i:i + per]) for i in range(0, len(names), per)]


def _array(g: _Group, password, dtype, channels_per_chunk):
    da, HighLevelGraph, tokenize = _dask()
    from dask.blockwise import BlockwiseDepDict, blockwise
    longest = max(c[3] for c in g.plan)
    rows = _channel_chunks(g.names, longest, dtype.itemsize, channels_per_chunk)
    name = "mef3pool-read-" + tokenize(g.path, password, rows, g.plan, dtype.str)
    # One Blockwise layer whose per-chunk argument is (channels, t0, t1,
    # n), path, password and dtype stated once: a computation on the
    # array (map_blocks, reductions) fuses into the same task as the read,
    # where a dictionary of read tasks would leave a task per chunk (and
    # an alias task after fusing), each costing a scheduler round trip.
    chunks_of = BlockwiseDepDict(
        {(j, k): (chs, a, b, n) for j, chs in enumerate(rows)
         for k, (a, b, _, n) in enumerate(g.plan)},
        numblocks=(len(rows), len(g.plan)))
    layer = blockwise(_read_chunk, name, "ij", g.path, None, password, None,
                      chunks_of, "ij", dtype.name, None, numblocks={})
    graph = HighLevelGraph.from_collections(name, layer, dependencies=())
    chunks = (tuple(len(c) for c in rows), tuple(c[3] for c in g.plan))
    return da.Array(graph, name, chunks, dtype=dtype,
                    meta=np.empty((0, 0), dtype=dtype))


def _dtype(dtype):
    d = np.dtype(dtype)
    if d not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise InvalidArgumentError(f"dtype must be float32 or float64, not {d}")
    return d


def _groups_or_error(path, groups, want_groups):
    if want_groups or len(groups) == 1:
        return groups
    listing = "; ".join(f"{_fmt_rate(g.fs)}: {', '.join(g.names)}" for g in groups)
    raise InvalidArgumentError(
        f"{path}: the channels have {len(groups)} sampling rates ({listing}); "
        f"an array holds one rate: pass channels= of one rate, or "
        f"groups=True for one array per rate ({{rate: array}})")


def from_session(path: PathLike, channels: Optional[Sequence] = None,
                 t0=None, t1=None, chunk_s: float = 60, password: str = "",
                 dtype=np.float32, *, groups: bool = False,
                 channels_per_chunk: Optional[int] = None):
    """A session (or a selection of its channels) as a lazy dask array.

    Parameters
    ----------
    path : str or os.PathLike
        A session directory (``NAME.mefd``).
    channels : list of names or indices, or one name or index, optional
        The rows, in this order (default: every channel, sorted).
    t0, t1 : int, optional
        The window [t0, t1) in µUTC (default: from the earliest start to
        the latest end of the channels, per rate group).
    chunk_s : float
        Chunk length in seconds along time: the file manager's tiles of
        this length (60, its default tile_duration_s).  A chunk may be
        longer where a tile boundary cannot be cut exactly.
    password : str
        Level-1 or level-2 password ("" for none).  It is part of the
        graph.
    dtype : numpy.float32 (default) or numpy.float64
    groups : bool
        False: the channels must share one rate (else InvalidArgumentError
        naming the groups).  True: a dict ``{rate: array}`` (Hz, ascending),
        even for a single rate.
    channels_per_chunk : int, optional
        Rows per chunk (default: all, unless a chunk would pass 128 MiB).

    Returns
    -------
    dask.array.Array of shape (channels, samples), or ``{rate: array}``
    with ``groups=True``.  Computing it equals ``Reader(path,
    password).read(channels, t0, t1, dtype=dtype)`` sample for sample.
    """
    path = os.path.abspath(os.fspath(path))
    d = _dtype(dtype)
    gs = _groups_or_error(path, _describe(path, channels, t0, t1, chunk_s,
                                          password), groups)
    arrays = {g.fs: _array(g, password, d, channels_per_chunk) for g in gs}
    return arrays if groups else arrays[gs[0].fs]


def session_paths(folder: PathLike) -> List[str]:
    """The sessions (``*.mefd``) directly inside `folder`, sorted."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise InvalidArgumentError(f"{folder}: not a folder")
    return sorted(p for p in glob.glob(os.path.join(glob.escape(folder), "*.mefd"))
                  if os.path.isdir(p))


def from_sessions(paths, **kwargs) -> Dict[str, object]:
    """Several sessions (a cohort) as lazy arrays: ``{path: array}`` (or
    ``{path: {rate: array}}`` with ``groups=True``).  `paths` is a list of
    sessions or a folder holding them (``*.mefd``); the other arguments
    are from_session's.  Compute many at once (``dask.compute(...)``) to
    run them in one graph."""
    if isinstance(paths, (str, os.PathLike)):
        paths = session_paths(paths)
    return {os.fspath(p): from_session(p, **kwargs) for p in paths}


# Samples of one channel reduced at a time, in float64 scratch allocated
# once per chunk: about 256 KiB that stays in the cache, and no
# allocation per step - dask.distributed starts its workers with
# MALLOC_TRIM_THRESHOLD_=65536, under which every large temporary is
# memory handed back to the system and faulted in again (numpy's
# temporaries made the features twice as slow in a worker as here).
_PIECE = 1 << 15


def _features_block(x, L):
    n = x.shape[1] // L
    out = np.empty((3, x.shape[0], n))
    g = max(1, min(n, _PIECE // L))
    y = np.empty((g, L))
    d = np.empty((g, L - 1))
    for c in range(x.shape[0]):
        for e in range(0, n, g):
            k = min(g, n - e)
            yk, dk = y[:k], d[:k]
            np.copyto(yk, x[c, e * L:(e + k) * L].reshape(k, L))
            np.mean(yk, axis=-1, out=out[0, c, e:e + k])
            np.subtract(yk[:, 1:], yk[:, :-1], out=dk)  # np.diff
            np.abs(dk, out=dk)
            np.sum(dk, axis=-1, out=out[1, c, e:e + k])
            np.multiply(yk, yk, out=yk)
            np.mean(yk, axis=-1, out=out[2, c, e:e + k])
    np.sqrt(out[2], out=out[2])
    return out


FEATURES = ("mean", "line_length", "rms")


def epoch_features(x, fs: float, epoch_s: float = 10):
    """Per-channel features of consecutive epochs of `epoch_s` seconds
    (round(epoch_s * fs) samples from the array's first sample; a last,
    shorter epoch is left out): a lazy float64 array (3, channels,
    epochs), its first axis the FEATURES ("mean", "line_length", "rms"),
    so that ``mean, ll, rms = f.compute()``.  Line length is the sum of
    absolute differences within the epoch.  An epoch holding NaN (a gap)
    has NaN features.  One task per chunk reads and reduces it (the
    features are not three arrays: each would add a task per chunk, and
    on a cluster a task costs milliseconds).  Chunks are re-cut to whole
    epochs when they are not already (60 s tiles hold whole 10 s
    epochs)."""
    _dask()
    L = _chunks.tile_samples(epoch_s, fs)
    n_ep = x.shape[1] // L
    if n_ep == 0:
        raise InvalidArgumentError(
            f"{x.shape[1]} samples hold no epoch of {L} samples")
    # Every chunk but the last must hold whole epochs; the last one's
    # remainder is dropped by the block function.
    c = x.chunks[1]
    if any(k % L for k in c[:-1]):
        per = max(1, round(max(c) / L)) * L
        x = x.rechunk({1: per})
    return x.map_blocks(_features_block, L, dtype=np.float64, new_axis=0,
                        chunks=((3,), x.chunks[0],
                                tuple(k // L for k in x.chunks[1])))


__all__ = ["from_session", "from_sessions", "session_paths", "epoch_features",
           "FEATURES"]
