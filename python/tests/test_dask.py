"""mef3pool.dask: lazy session arrays equal Reader.read sample for sample
(golden sessions, odd chunk lengths and windows, mixed rates by group),
their graphs pickle small with nothing but paths, times and passwords,
chunks are read by the process they land on with its own cached reader,
and epoch features computed by a dask.distributed LocalCluster of two
worker processes (one session, and a cohort of three in one graph) equal
the same computation on direct reads."""
import os
import pickle
import subprocess
import time
import warnings

import numpy as np
import pytest

dask = pytest.importorskip("dask")

import mef3pool
import mef3pool.dask as md
from mef3pool import _chunks, _readers
from conftest import gen

GOLDEN_SESSIONS = [
    ("sessions/a_single_256hz.mefd", ""),
    ("sessions/b_multi_8ch.mefd", ""),
    ("sessions/c_discontinuities.mefd", ""),
    ("sessions/d_encrypted.mefd", "l1pass"),
    ("sessions/f_escapes_extremes.mefd", ""),
    ("mef3io_golden/fractional_fs.mefd", ""),
    ("mef3io_golden/nan_gap_long.mefd", ""),
    ("mef3io_golden/multi_segment.mefd", ""),
]


def rate_groups(r):
    by = {}
    for c in r.channels:
        by.setdefault(r.info(c)["sampling_frequency"], []).append(c)
    return by


def features(x, fs, epoch_s=10):
    """Epoch features straight from a read (the reference)."""
    L = int(np.floor(epoch_s * fs + 0.5))
    n = x.shape[1] // L
    y = x[:, :n * L].astype(np.float64).reshape(x.shape[0], n, L)
    return {"mean": y.mean(axis=-1),
            "line_length": np.abs(np.diff(y, axis=-1)).sum(axis=-1),
            "rms": np.sqrt((y * y).mean(axis=-1))}


@pytest.mark.parametrize("rel,pw", GOLDEN_SESSIONS)
@pytest.mark.parametrize("chunk_s", [0.37, 1.7, 7.3, 60])
def test_equals_reader_read(golden, rel, pw, chunk_s):
    path = golden / rel
    warnings.simplefilter("ignore", mef3pool.DamagedBlockWarning)
    with mef3pool.Reader(path, password=pw) as r:
        for fs, chs in rate_groups(r).items():
            infos = [r.info(c) for c in chs]
            start = min(i["start_time"] for i in infos)
            end = max(i["end_time"] for i in infos)
            # The whole span, and windows starting off the grid and off
            # the tiles (before the recording too).
            for t0, t1 in ((None, None), (start + 1234567, end - 777),
                           (start - 5003, end), (start + 1953, start + 3907)):
                a = md.from_session(path, channels=chs, t0=t0, t1=t1,
                                    chunk_s=chunk_s, password=pw)
                want = r.read(chs, start if t0 is None else t0,
                              end if t1 is None else t1, dtype=np.float32)
                got = a.compute(scheduler="sync")
                assert got.dtype == np.float32 and got.shape == want.shape
                np.testing.assert_array_equal(got, want, err_msg=f"{fs} Hz [{t0}, {t1})")


def test_float64_and_channel_chunks(golden):
    path = golden / "sessions/b_multi_8ch.mefd"
    with mef3pool.Reader(path) as r:
        chs = rate_groups(r)[1000.0]
        want = r.read(chs, dtype=np.float64)
    a = md.from_session(path, channels=chs, dtype=np.float64, chunk_s=5,
                        channels_per_chunk=2)
    assert a.chunks[0] == (2, 1) and a.dtype == np.float64
    np.testing.assert_array_equal(a.compute(scheduler="threads"), want)
    # One channel by name or index: one row.
    one = md.from_session(path, channels="ch05", dtype=np.float64)
    np.testing.assert_array_equal(one.compute()[0], want[1])
    assert md.from_session(path, channels=4).shape == one.shape


def test_chunks_follow_the_tiles(golden):
    """60 s tiles from the channel's start: every cut is a tile boundary
    (mef3_tile_window) when the window starts on the recording's start."""
    path = golden / "sessions/a_single_256hz.mefd"
    with mef3pool.Reader(path) as r:
        cs = r.info(r.channels[0])["start_time"]
    a = md.from_session(path, chunk_s=60)
    S = 60 * 256
    assert a.chunks[1][:-1] == (S,) * (len(a.chunks[1]) - 1)
    plan = md._describe(os.fspath(path), None, None, None, 60, "")[0].plan
    for b, (t0, _, s, _) in enumerate(plan):
        assert t0 == mef3pool._core.tile_window(cs, 256.0, b, S)[0]
        assert s == b * S


def place(starts, lengths, a, n, fs):
    """The reader's placement rule (golden README): block k at the slot
    nearest its start, its samples after it; the slot -> (block, sample)
    map of a window of n slots from a."""
    out = np.full(n, -1, dtype=np.int64)
    for k, (s, ln) in enumerate(zip(starts, lengths)):
        i = _chunks.slot(int(s), a, fs)
        lo, hi = max(0, i), min(n, i + int(ln))
        if hi > lo:
            out[lo:hi] = k * 10**6 + np.arange(lo - i, hi - i)
    return out


def test_plan_is_exact_where_rounded_cuts_are_not():
    """Blocks starting anywhere (after gaps) at a rate whose chunk starts
    are rounded times: cutting at the rounded times misplaces some block
    by a slot; the plan's cuts never do."""
    rng = np.random.default_rng(7)
    fs, t0 = 499.7, 1_600_000_000_000_000
    naive_wrong = 0
    for _ in range(100):
        starts = t0 + np.sort(rng.integers(0, 60_000_000, 60))
        lengths = rng.integers(100, 600, 60)
        t1 = t0 + 61_000_000
        plan = _chunks.plan(t0, t1, fs, t0, 1.3, [(starts, lengths)])
        n = sum(c[3] for c in plan)
        assert n == mef3pool._core.window_samples(t0, t1, fs)
        whole = place(starts, lengths, t0, n, fs)
        got = np.concatenate([place(starts, lengths, a, k, fs)
                              for a, _, _, k in plan])
        np.testing.assert_array_equal(got, whole)
        naive = np.concatenate([place(starts, lengths,
                                      _chunks.grid_time(t0, s, fs), k, fs)
                                for _, _, s, k in plan])
        naive_wrong += not np.array_equal(naive, whole)
    assert naive_wrong > 0  # the check above had something to catch


def test_plan_merges_a_cut_that_cannot_be_exact():
    """Samples of 3.5 µs and a block starting at every microsecond: a cut
    at an odd sample s lies at 3.5 s µs, half a microsecond off every
    whole time, and every start tried moves some block by a slot; such
    cuts are merged away, the even ones (whole times) kept."""
    fs, t0 = 1e6 / 3.5, 0
    starts = np.arange(10, 400, dtype=np.int64)
    lengths = np.full(len(starts), 2)
    plan = _chunks.plan(t0, 400, fs, t0, 7 / fs, [(starts, lengths)])  # 7-sample tiles
    n = sum(c[3] for c in plan)
    whole = place(starts, lengths, t0, n, fs)
    got = np.concatenate([place(starts, lengths, a, k, fs) for a, _, _, k in plan])
    np.testing.assert_array_equal(got, whole)
    cuts = [s for _, _, s, _ in plan]
    assert cuts == list(range(0, n, 14)), cuts


def test_mixed_rates_error_names_the_groups(golden):
    path = golden / "sessions/b_multi_8ch.mefd"
    with pytest.raises(mef3pool.InvalidArgumentError) as e:
        md.from_session(path)
    msg = str(e.value)
    for part in ("b_multi_8ch.mefd", "4 sampling rates", "256 Hz: ch01, ch02, ch03",
                 "499.7 Hz: ch07", "1000 Hz: ch04, ch05, ch06", "5000 Hz: ch08",
                 "groups=True"):
        assert part in msg, (part, msg)
    with pytest.raises(mef3pool.InvalidArgumentError, match="2 sampling rates"):
        md.from_session(path, channels=["ch01", "ch08"])
    gs = md.from_session(path, groups=True)
    assert list(gs) == [256.0, 499.7, 1000.0, 5000.0]
    with mef3pool.Reader(path) as r:
        for fs, chs in rate_groups(r).items():
            assert gs[fs].shape[0] == len(chs)
            np.testing.assert_array_equal(gs[fs].compute(), r.read(chs, dtype=np.float32))
    one = md.from_session(path, channels=["ch02"], groups=True)
    assert list(one) == [256.0]


def test_arguments_are_checked(golden):
    path = golden / "sessions/a_single_256hz.mefd"
    with pytest.raises(mef3pool.InvalidArgumentError, match="dtype"):
        md.from_session(path, dtype=np.int32)
    with pytest.raises(mef3pool.InvalidArgumentError, match="chunk_s"):
        md.from_session(path, chunk_s=0)
    with pytest.raises(mef3pool.NotFoundError, match="nope"):
        md.from_session(path, channels=["nope"])
    with pytest.raises(mef3pool.InvalidArgumentError, match="before its start"):
        md.from_session(path, t0=2_000_000, t1=1_000_000)
    with pytest.raises(mef3pool.NotFoundError):
        md.from_session(golden / "sessions" / "missing.mefd")
    with pytest.raises(mef3pool.PasswordError):
        md.from_session(golden / "sessions/d_encrypted.mefd", password="wrong")


class Finder(pickle.Pickler):
    """A pickler that lists what it is handed beyond plain data (str,
    int, tuple, ... never reach reducer_override)."""

    def __init__(self, f):
        super().__init__(f, protocol=pickle.HIGHEST_PROTOCOL)
        self.types, self.functions, self.classes = set(), set(), set()

    def reducer_override(self, obj):
        self.types.add(type(obj))
        if isinstance(obj, type):
            self.classes.add(f"{obj.__module__}.{obj.__qualname__}")
        elif callable(obj) and hasattr(obj, "__qualname__"):
            self.functions.add(f"{obj.__module__}.{obj.__qualname__}")
        return NotImplemented


def pickled(obj):
    import io
    f = io.BytesIO()
    p = Finder(f)
    p.dump(obj)
    return f.getvalue(), p


def test_graph_pickles_small_with_no_reader(tmp_path, cli):
    from dask.optimization import SubgraphCallable
    path = gen(cli, tmp_path / "pickle me.mefd", channels=16, duration="10m")
    before = _readers.stats()
    a = md.from_session(path, password="")
    assert _readers.stats() == before  # building opened nothing cached
    graph = dict(a.__dask_graph__())
    assert len(graph) == 10
    # Path, password, 16 names, times: well under a kilobyte a task,
    # against 16 x 15360 float32 samples (983 KB) a chunk.
    blob, p = pickled(graph)
    assert len(blob) < 400 * len(graph), len(blob)
    # Plain data, dask's wrapper of the task function, and the one
    # function: no Reader, no array, nothing else of ours.
    import types
    assert p.types <= {types.FunctionType, SubgraphCallable, type}, p.types
    assert p.classes <= {"dask.optimization.SubgraphCallable"}, p.classes
    assert p.functions <= {"mef3pool.dask._read_chunk"} | {
        f for f in p.functions if f.startswith("dask.")}, p.functions
    assert "mef3pool.dask._read_chunk" in p.functions
    restored = pickle.loads(blob)
    np.testing.assert_array_equal(
        dask.get(restored, list(restored)[3]),
        a.blocks[0, 3].compute(scheduler="sync"))
    # The high-level graph as it is (what dask.distributed packs), and
    # the features' graph: as small, with no Reader either.
    hblob, hp = pickled(a.__dask_graph__())
    assert len(hblob) < 400 * len(graph), len(hblob)
    assert not any(issubclass(t, (mef3pool.Reader, np.ndarray, mef3pool._core.Reader))
                   for t in hp.types), hp.types
    f2 = md.epoch_features(a, 256.0)
    import cloudpickle
    blob2 = cloudpickle.dumps(dict(dask.optimize(f2)[0].__dask_graph__()))
    assert len(blob2) < 1000 * len(graph), len(blob2)
    assert b"Reader" not in blob2


def test_a_process_reads_with_its_own_cached_reader(tmp_path, cli):
    path = gen(cli, tmp_path / "cache.mefd", channels=4, duration="5m")
    key = os.path.abspath(path)
    _readers.clear()
    a = md.from_session(path, chunk_s=10)
    assert len(a.chunks[1]) == 30
    a.compute(scheduler="sync")
    assert _readers.stats() == {key: 1}  # one reader for 30 chunks
    a.compute(scheduler="threads", num_workers=2)
    assert 1 <= _readers.stats()[key] <= 3  # at most one more per thread
    _readers.clear()


def test_epoch_features_equal_direct(golden):
    path = golden / "sessions/a_single_256hz.mefd"
    with mef3pool.Reader(path) as r:
        start = r.info(r.channels[0])["start_time"]
        end = r.info(r.channels[0])["end_time"]
        for t0 in (start, start + 12_345_678):  # the second: re-cut chunks
            x = r.read(r.channels, t0, end, dtype=np.float32)
            want = features(x, 256.0)
            f = md.epoch_features(md.from_session(path, t0=t0), 256.0)
            got = dict(zip(md.FEATURES, f.compute()))
            for k in want:
                np.testing.assert_array_equal(got[k], want[k], err_msg=k)


def wait_children_gone(pids, limit_s=30):
    """Poll until none of `pids` lives (not a timing assertion: the
    deadline only bounds a hang)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        alive = [p for p in pids if os.path.exists(f"/proc/{p}")
                 and open(f"/proc/{p}/stat").read().split()[2] != "Z"]
        if not alive:
            return []
        time.sleep(0.1)
    return alive


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def children():
    me = os.getpid()
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                st = open(f"/proc/{d}/stat").read()
            except OSError:
                continue
            if int(st[st.rindex(")") + 2:].split()[1]) == me:
                out.append(int(d))
    return out


def test_distributed_cluster_features_and_cohort(tmp_path, cli):
    distributed = pytest.importorskip("distributed")
    folder = tmp_path / "cohort folder"
    folder.mkdir()
    big = gen(cli, tmp_path / "one hour of 16.mefd", channels=16, fs=256,
              duration="10m", seed=3)
    cohort = [gen(cli, folder / f"patient {k}.mefd", channels=4,
                  fs=(256, 512, 200)[k], duration="3m", gaps=1, seed=10 + k)
              for k in range(3)]
    before = set(children())
    _readers.clear()
    with distributed.LocalCluster(n_workers=2, processes=True,
                                  threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        # One session: 16 channels, per-channel features of 10 s epochs.
        a = md.from_session(big)
        got = dict(zip(md.FEATURES, md.epoch_features(a, 256.0).compute()))
        with mef3pool.Reader(big) as r:
            want = features(r.read(r.channels, dtype=np.float32), 256.0)
        for k in want:
            assert got[k].shape == (16, 60)
            np.testing.assert_array_equal(got[k], want[k], err_msg=k)
        # The chunks were read in the workers, each opening the session
        # once, none in this process.
        opened = client.run(_readers.stats)
        assert len(opened) == 2
        key = os.path.abspath(big)
        counts = [s.get(key, 0) for s in opened.values()]
        assert sum(counts) >= 1 and max(counts) == 1, opened
        assert _readers.stats() == {}
        pids = client.run(os.getpid)
        assert os.getpid() not in pids.values()

        # A cohort (a folder of three sessions at three rates) in one graph.
        arrays = md.from_sessions(folder)
        assert sorted(arrays) == sorted(os.fspath(p) for p in cohort)
        rates = {p: fs for p, fs in zip(map(os.fspath, cohort), (256.0, 512.0, 200.0))}
        lazy = {p: md.epoch_features(x, rates[p]) for p, x in arrays.items()}
        (got,) = dask.compute(lazy)
        got = {p: dict(zip(md.FEATURES, f)) for p, f in got.items()}
        for p in cohort:
            with mef3pool.Reader(p) as r:
                want = features(r.read(r.channels, dtype=np.float32),
                                rates[os.fspath(p)])
            for k in want:
                # Gaps read as NaN: the epochs they touch are NaN both ways.
                np.testing.assert_array_equal(got[os.fspath(p)][k], want[k],
                                              err_msg=f"{p} {k}")
        worker_pids = list(pids.values())
    assert wait_children_gone(worker_pids) == []
    # (multiprocessing's resource tracker lives until the interpreter
    # exits, by design; it is no worker)
    new = [p for p in set(children()) - before
           if b"resource_tracker" not in cmdline(p)]
    left = wait_children_gone(new)
    assert left == [], [cmdline(p) for p in left]
