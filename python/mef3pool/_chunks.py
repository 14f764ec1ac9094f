"""The chunk plan of a lazy session array: where a window [t0, t1) of
channels of one rate is cut so that reading each chunk on its own gives
exactly the samples of one Reader.read of the whole window.

A reader places each block at the slot nearest its start time relative to
the window's start (halves away from zero, grid.h's MEF3_ROUND_AWAY) and
its samples in the following slots; the window's end only fixes the
count.  So a chunk that starts at sample s of the window and is read from
time a gives the whole read's samples iff every block it touches lands
on slot(start, a) == slot(start, t0) - s.  With a on the exact grid of t0
(integer rates, chunk seconds whole) that always holds; otherwise a is a
rounded time and a block starting within that rounding of a half-sample
tie could land one slot off.  The plan therefore checks every chunk
against the channels' block tables, tries a few microseconds around its
ideal start, and when none fits merges the chunk into the one before
(the first chunk, read from t0 itself, always fits): the chunks are
exact by construction, never "nearly".

Boundaries are the file manager's tile boundaries (grid.h's
mef3_tile_window, tiles of round(chunk_s * fs) samples from the start of
the group's earliest channel), so a chunk covers whole tiles.

Pure functions of the metadata; run once, where the graph is built.
"""
from __future__ import annotations

import math

import numpy as np

from . import _core


def round_away(x: float) -> int:
    """x rounded to the nearest integer, halves away from zero (C's llround,
    which util/timemath.h's sat_round calls)."""
    a = abs(x)
    f = math.floor(a)
    r = f + (1 if a - f >= 0.5 else 0)  # a - floor(a) is exact
    return int(r if x >= 0 else -r)


def _round_away_np(x: np.ndarray) -> np.ndarray:
    a = np.abs(x)
    f = np.floor(a)
    r = f + (a - f >= 0.5)
    return np.where(x >= 0, r, -r).astype(np.int64)


def slot(t: int, t0: int, fs: float) -> int:
    """grid.h's mef3_grid_slot(t, t0, fs, MEF3_ROUND_AWAY), as the reader
    computes it: a double (t - t0) times fs over 1e6."""
    return round_away(float(t - t0) * fs / 1e6)


def grid_time(t0: int, i: int, fs: float) -> int:
    """grid.h's mef3_grid_time: t0 + round(i * 1e6 / fs)."""
    return t0 + round_away(float(i) * 1e6 / fs)


def tile_samples(seconds: float, fs: float) -> int:
    """grid.h's mef3_tile_samples: max(1, round(seconds * fs))."""
    return max(1, round_away(seconds * fs))


class _Blocks:
    """One channel's blocks as the window from t0 places them: their first
    slot and length, sorted by first slot."""

    def __init__(self, starts: np.ndarray, lengths: np.ndarray, t0: int,
                 fs: float):
        order = np.argsort(starts, kind="stable")
        self.starts = starts[order].astype(np.int64)
        self.lengths = lengths[order].astype(np.int64)
        self.slots = _round_away_np((self.starts - t0).astype(np.float64)
                                    * fs / 1e6)
        order = np.argsort(self.slots, kind="stable")
        self.starts, self.lengths, self.slots = (
            self.starts[order], self.lengths[order], self.slots[order])
        self.longest = int(self.lengths.max()) if len(self.lengths) else 0

    def agree(self, a: int, s: int, e: int, fs: float) -> bool:
        """Whether reading from time a puts every block that touches
        samples [s, e) of the window where the whole read puts it (one
        slot of margin either side: a block that moved would touch)."""
        lo = np.searchsorted(self.slots, s - self.longest - 1, side="left")
        hi = np.searchsorted(self.slots, e + 1, side="right")
        if lo >= hi:
            return True
        here = _round_away_np((self.starts[lo:hi] - a).astype(np.float64)
                              * fs / 1e6)
        return bool(np.array_equal(here, self.slots[lo:hi] - s))


# Microseconds tried around a chunk's ideal start and end.
_STEPS = (0, 1, -1, 2, -2, 3, -3)


def plan(t0: int, t1: int, fs: float, origin: int, chunk_s: float,
         blocks: list) -> list:
    """The chunks of the window [t0, t1) at rate fs: a list of (a, b, s, n),
    chunk k being samples [s, s + n) of the whole window, read as the
    window [a, b).  `origin` is the start of the tile grid, `blocks` one
    (start_uutc, number_of_samples) pair of arrays per channel."""
    total = _core.window_samples(t0, t1, fs)
    if total <= 0:
        return [(t0, t1, 0, 0)]
    S = tile_samples(chunk_s, fs)
    # Tile boundaries inside the window, as sample indices of the window.
    period = S * 1e6 / fs
    b_lo = math.floor((t0 - origin) / period) - 1
    b_hi = math.ceil((t1 - origin) / period) + 1
    cuts = []
    for b in range(b_lo, b_hi + 1):
        tb = _core.tile_window(origin, fs, b, S)[0]
        if t0 < tb < t1:
            s = slot(tb, t0, fs)
            if 0 < s < total and (not cuts or s > cuts[-1]):
                cuts.append(s)
    spans = list(zip([0] + cuts, cuts + [total]))
    chans = [_Blocks(np.asarray(st), np.asarray(ln), t0, fs)
             for st, ln in blocks]

    def fit(s, e):
        """(a, b) reading samples [s, e) exactly, or None."""
        if s == 0:
            starts = (t0,)  # the whole read's own grid
        else:
            ideal = grid_time(t0, s, fs)
            starts = tuple(ideal + d for d in _STEPS)
        for a in starts:
            if not all(c.agree(a, s, e, fs) for c in chans):
                continue
            end = grid_time(a, e - s, fs)
            for d in _STEPS:
                if _core.window_samples(a, end + d, fs) == e - s:
                    return a, end + d
        return None

    out, pending = [], None
    for s, e in spans:
        s = s if pending is None else pending
        got = fit(s, e)
        while got is None and out:  # merge into the chunk before
            s = out.pop()[2]
            got = fit(s, e)
        if got is None:  # the first chunk found no end: extend it
            pending = s
            continue
        pending = None
        out.append((got[0], got[1], s, e - s))
    if pending is not None:  # no cut fits: the window read whole
        out = [(t0, t1, 0, total)]
    return out

__all__ = ["plan", "slot", "grid_time", "tile_samples", "round_away"]
