"""mef3pool.FileManager: the original's FileManager over the C file manager.

Every golden session through the manager (in process and with workers)
equal bit for bit to the C reader's own float32 reads of the same windows
(mef3pool.Reader), and to the golden truth; the original's return values
and errors; arrays that view the C result; threads reading at once with
the GIL released (shown by overlapping intervals, not by timing);
shutdown; tar sessions, passwords and a data root.
"""
import os
import subprocess
import tarfile
import threading
import time

import numpy as np
import pytest

import mef3pool
from conftest import session_json

SESSIONS = [
    ("sessions/a_single_256hz.mefd", None),
    ("sessions/b_multi_8ch.mefd", None),
    ("sessions/c_discontinuities.mefd", None),
    ("sessions/d_encrypted.mefd", "l2pass"),
    ("sessions/f_escapes_extremes.mefd", None),
    ("mef3io_golden/enc_both.mefd", "pass2"),
    ("mef3io_golden/fractional_fs.mefd", None),
    ("mef3io_golden/multi_segment.mefd", None),
    ("mef3io_golden/nan_gap_long.mefd", None),
]


def children():
    """Process ids of this process's children (from /proc)."""
    out = []
    for t in os.listdir(f"/proc/{os.getpid()}/task"):
        try:
            with open(f"/proc/{os.getpid()}/task/{t}/children") as f:
                out += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def wait_no_children(timeout=10.0):
    end = time.monotonic() + timeout
    while children() and time.monotonic() < end:
        time.sleep(0.05)
    return not children()


@pytest.fixture(params=[False, True], ids=["in-process", "pool"])
def fm(request):
    m = mef3pool.FileManager(use_process_pool=request.param,
                             reader_processes=2, prefetch_processes=1,
                             tile_duration_s=10, min_parallel_tiles=1)
    yield m
    m.shutdown()


def grid_windows(info, k):
    """Windows of channel k starting on its grid (where the manager is
    bit-identical to a direct read): whole channel, and a part."""
    fs, cs, ce = (info.channel_sampling_rates[k], info.channel_start_uutc[k],
                  info.channel_end_uutc[k])
    n = int(round((ce - cs) * fs / 1e6))
    part0 = cs + int(round((n // 3) * 1e6 / fs))
    return [(cs, ce), (part0, part0 + (ce - cs) // 4)]


@pytest.mark.parametrize("rel,pw", SESSIONS)
def test_every_channel_equals_the_c_reader(fm, golden, rel, pw):
    path = str(golden / rel)
    info = fm.open_file(path, password=pw)
    assert info.file_opened and info.error_message == "" and info.error_code == 0
    with mef3pool.Reader(path, password=pw or "") as r:
        assert info.channel_names == r.channels
        assert info.number_of_channels == len(r.channels)
        for k, ch in enumerate(r.channels):
            ci = r.info(ch)
            assert info.channel_sampling_rates[k] == ci["sampling_frequency"]
            assert info.channel_start_uutc[k] == ci["start_time"]
            assert info.channel_end_uutc[k] == ci["end_time"]
            assert info.channel_n_samples[k] == ci["number_of_samples"]
            for t0, t1 in grid_windows(info, k):
                got = fm.read_signal_range(path, [ch], t0, t1)
                want = r.read(ch, t0, t1, dtype=np.float32)
                assert set(got) == {"array", "channel_names", "fs",
                                    "start_uutc", "end_uutc"}
                assert got["channel_names"] == [ch]
                assert got["fs"] == ci["sampling_frequency"]
                assert (got["start_uutc"], got["end_uutc"]) == (t0, t1)
                a = got["array"]
                assert a.dtype == np.float32 and a.shape == (1, want.size)
                assert a.tobytes() == want.tobytes(), (rel, ch, t0, t1)
        assert info.start_uutc == min(info.channel_start_uutc)
        assert info.end_uutc == max(info.channel_end_uutc)
        assert info.duration_s == (info.end_uutc - info.start_uutc) / 1e6


def test_values_are_the_golden_truth(fm, golden):
    """a_single_256hz has no gap: its whole-channel read is every stored
    sample times the conversion factor, as float32."""
    js = session_json("a_single_256hz")
    name = list(js["channels"])[0]
    truth = np.fromfile(golden / "sessions/a_single_256hz.truth" /
                        f"{name}.i32", dtype="<i4")
    path = str(golden / "sessions/a_single_256hz.mefd")
    info = fm.open_file(path)
    k = info.channel_names.index(name)
    ucf = info.channel_units_conversion_factor[k]
    got = fm.read_signal_range(path, None, info.channel_start_uutc[k],
                               info.channel_end_uutc[k])
    assert got["array"].shape == (1, truth.size)
    assert np.array_equal(got["array"][0],
                          (truth.astype(np.float64) * ucf).astype(np.float32))


def test_all_channels_in_file_order_and_repeated_names(fm, golden):
    path = str(golden / "sessions/b_multi_8ch.mefd")
    info = fm.open_file(path)
    t0 = info.start_uutc
    # channels of one rate: ch01..ch03 are 256 Hz
    got = fm.read_signal_range(path, ["ch03", "ch01", "ch03"], t0,
                               t0 + 5_000_000)
    assert got["channel_names"] == ["ch03", "ch01", "ch03"]
    assert got["array"].shape == (3, 1280)
    assert np.array_equal(got["array"][0], got["array"][2], equal_nan=True)
    with pytest.raises(ValueError):  # all channels: rates differ
        fm.read_signal_range(path, None, t0, t0 + 1_000_000)


def test_errors_as_the_original(fm, golden, tmp_path):
    path = str(golden / "sessions/b_multi_8ch.mefd")
    missing = str(tmp_path / "missing.mefd")
    r = fm.open_file(missing)
    assert not r.file_opened and missing in r.error_message
    assert r.error_code == mef3pool.NotFoundError.code
    # reads of a file not open, an unknown channel: ValueError (and
    # NotFoundError) naming what is wrong
    with pytest.raises(ValueError) as e:
        fm.read_signal_range(path, ["ch01"], 0, 1_000_000)
    assert isinstance(e.value, mef3pool.NotFoundError)
    assert "not open" in str(e.value)
    info = fm.open_file(path)
    with pytest.raises(mef3pool.UnknownNameError, match="zz"):
        fm.read_signal_range(path, ["zz"], info.start_uutc,
                             info.start_uutc + 10**6)
    with pytest.raises(ValueError):  # empty window
        fm.read_signal_range(path, ["ch01"], info.start_uutc, info.start_uutc)
    with pytest.raises(mef3pool.InvalidArgumentError):  # differing rates
        fm.read_signal_range(path, ["ch01", "ch04"], info.start_uutc,
                             info.start_uutc + 10**6)
    again = fm.open_file(path)
    assert again.file_opened and again.error_message == \
        f"File already open: {path}"
    assert fm.get_file_info(missing).file_opened is False
    closed = fm.close_file(path)
    assert closed.file_opened is False and closed.error_message == ""
    assert fm.close_file(path).file_opened is False  # not open: no error
    assert fm.list_open_files() == []
    assert fm.get_file_info(path).file_opened is False


def test_raise_errors(golden, tmp_path):
    with mef3pool.FileManager(use_process_pool=False, raise_errors=True) as m:
        with pytest.raises(mef3pool.NotFoundError):
            m.open_file(tmp_path / "missing.mefd")
        with pytest.raises(mef3pool.PasswordError):
            m.open_file(golden / "sessions/d_encrypted.mefd", password="bad")
        with pytest.raises(mef3pool.NotFoundError):
            m.get_file_info(golden / "sessions/a_single_256hz.mefd")


def test_passwords(fm, golden):
    path = str(golden / "sessions/d_encrypted.mefd")
    r = fm.open_file(path)
    assert not r.file_opened and r.error_code == mef3pool.PasswordError.code
    assert "d_encrypted.mefd" in r.error_message
    assert "password is required" in r.error_message
    r = fm.open_file(path, password="l1pass")
    assert r.file_opened and r.access_level == 1 and r.times_relative
    fm.close_file(path)
    r = fm.open_file(path, password="l2pass")
    assert r.file_opened and r.access_level == 2 and not r.times_relative


def test_arrays_view_the_c_result(golden):
    with mef3pool.FileManager(use_process_pool=False) as m:
        path = str(golden / "sessions/b_multi_8ch.mefd")
        info = m.open_file(path)
        t0 = info.start_uutc
        got = m.read_signal_range(path, ["ch04", "ch05"], t0, t0 + 2_000_000)
        a = got["array"]
        assert not a.flags.owndata and a.flags.c_contiguous and a.flags.writeable
        base = a.base
        while not isinstance(base, mef3pool._core.Signal):
            base = base.obj if isinstance(base, memoryview) else base.base
        assert base.shape == a.shape
        # the same memory: a write through the array shows in a new view
        a[0, 0] = 12345.0
        assert np.asarray(base)[0, 0] == 12345.0
        # the cache is not that memory: a new read has the true value
        again = m.read_signal_range(path, ["ch04"], t0, t0 + 2_000_000)
        assert again["array"][0, 0] != 12345.0
        # the memory lives as long as the view
        del got, base
        assert a[0, 0] == 12345.0


def test_stats_count_hits_misses_and_lanes(golden):
    path = str(golden / "sessions/b_multi_8ch.mefd")
    for pool in (False, True):
        with mef3pool.FileManager(use_process_pool=pool, reader_processes=2,
                                  prefetch_processes=1, tile_duration_s=5,
                                  min_parallel_tiles=1,
                                  prefetch_ahead_windows=0,
                                  prefetch_behind_windows=0) as m:
            info = m.open_file(path)
            t0 = info.start_uutc
            m.read_signal_range(path, ["ch01"], t0, t0 + 20_000_000)
            s1 = m.stats()
            assert s1["misses"] == 4 and s1["hits"] == 0 and s1["tiles"] == 4
            assert (s1["pool_tiles"] if pool else s1["local_tiles"]) == 4
            m.read_signal_range(path, ["ch01"], t0, t0 + 20_000_000)
            s2 = m.stats()
            assert s2["hits"] == 4 and s2["misses"] == 4
            assert s2["reads"] == 2 and s2["open_files"] == 1
            assert s2["prefetched"] == 0


def test_budget_evicts(golden):
    path = str(golden / "sessions/b_multi_8ch.mefd")
    # one 5 s tile of a 5000 Hz channel is 100 kB: a 150 kB budget holds one
    with mef3pool.FileManager(use_process_pool=False, tile_duration_s=5,
                              tile_cache_bytes=150_000,
                              prefetch_ahead_windows=0,
                              prefetch_behind_windows=0) as m:
        info = m.open_file(path)
        k = info.channel_names.index("ch08")
        t0 = info.channel_start_uutc[k]
        m.read_signal_range(path, ["ch08"], t0, t0 + 5_000_000)
        m.read_signal_range(path, ["ch08"], t0 + 5_000_000, t0 + 10_000_000)
        s = m.stats()
        assert s["evictions"] >= 1 and s["bytes"] <= 150_000


def test_tar_session_equals_its_directory(fm, golden, tmp_path):
    src = golden / "sessions/c_discontinuities.mefd"
    tar = tmp_path / "c.mefd.tar"
    with tarfile.open(tar, "w", format=tarfile.GNU_FORMAT) as t:
        t.add(src, arcname="c_discontinuities.mefd")
    a = fm.open_file(str(src))
    b = fm.open_file(str(tar))
    assert a.file_opened and b.file_opened, b.error_message
    assert a.channel_names == b.channel_names
    for k, ch in enumerate(a.channel_names):
        for t0, t1 in grid_windows(a, k):
            x = fm.read_signal_range(str(src), [ch], t0, t1)["array"]
            y = fm.read_signal_range(str(tar), [ch], t0, t1)["array"]
            assert x.tobytes() == y.tobytes()


def test_data_root_confines_paths(golden, tmp_path):
    golden = golden.resolve()  # no ".." (refused outright under a root)
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(golden / "sessions/a_single_256hz.mefd", root / "link.mefd")
    with mef3pool.FileManager(use_process_pool=False, data_root=root) as m:
        r = m.open_file(str(golden / "sessions/a_single_256hz.mefd"))
        assert not r.file_opened and "outside the data root" in r.error_message
        assert r.error_code == mef3pool.InvalidArgumentError.code
        r = m.open_file("link.mefd")
        assert not r.file_opened and "outside the data root" in r.error_message


def long_session(tmp_path, cli, name):
    out = tmp_path / f"{name}.mefd"
    subprocess.run([cli, "gen", str(out), "--channels", "4", "--fs", "5000",
                    "--duration", "6m", "--seed", "3"], check=True,
                   capture_output=True)
    return str(out)


def test_threads_read_at_once_with_the_gil_released(tmp_path, cli):
    """Two threads, each a cold read of its own session: with the GIL
    released during the C call, the calls overlap in time (each thread
    stamps entering and leaving its call); with the GIL held the second
    could only enter after the first left."""
    paths = [long_session(tmp_path, cli, f"s{i}") for i in range(2)]
    with mef3pool.FileManager(use_process_pool=False, tile_duration_s=60,
                              prefetch_ahead_windows=0,
                              prefetch_behind_windows=0) as m:
        infos = [m.open_file(p) for p in paths]
        barrier = threading.Barrier(2)
        spans = [None, None]

        def run(i):
            barrier.wait()
            a = time.monotonic()
            m.read_signal_range(paths[i], None, infos[i].start_uutc,
                                infos[i].end_uutc)
            spans[i] = (a, time.monotonic())

        ts = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        (a0, b0), (a1, b1) = spans
        assert max(a0, a1) < min(b0, b1), spans


def test_shutdown_stops_workers_and_refuses_calls(golden):
    before = set(children())
    m = mef3pool.FileManager(reader_processes=2, prefetch_processes=1,
                             min_parallel_tiles=1, tile_duration_s=5)
    path = str(golden / "sessions/b_multi_8ch.mefd")
    info = m.open_file(path)
    m.read_signal_range(path, ["ch01"], info.start_uutc,
                        info.start_uutc + 20_000_000)
    assert m.stats()["pool_tiles"] > 0
    assert set(children()) - before  # workers run
    m.shutdown()
    m.shutdown()  # idempotent
    assert m.closed
    end = time.monotonic() + 10
    while set(children()) - before and time.monotonic() < end:
        time.sleep(0.05)
    assert not (set(children()) - before)
    with pytest.raises(mef3pool.InvalidArgumentError, match="shut down"):
        m.list_open_files()
    with pytest.raises(mef3pool.Error):
        m.read_signal_range(path, ["ch01"], 0, 1)


def test_shutdown_waits_for_a_read_in_flight(tmp_path, cli):
    path = long_session(tmp_path, cli, "inflight")
    m = mef3pool.FileManager(use_process_pool=False,
                             prefetch_ahead_windows=0,
                             prefetch_behind_windows=0)
    info = m.open_file(path)
    out = {}

    def read():
        try:
            out["r"] = m.read_signal_range(path, None, info.start_uutc,
                                           info.end_uutc)
        except mef3pool.Error as e:  # shut down before the read began
            out["e"] = e

    t = threading.Thread(target=read)
    t.start()
    m.shutdown()
    t.join()
    assert "r" in out or "shut down" in str(out["e"])
    if "r" in out:
        assert out["r"]["array"].shape[0] == 4
        assert np.isfinite(out["r"]["array"]).any()


def test_knobs_of_the_original(golden):
    m = mef3pool.FileManager(max_workers=2, tile_duration_s=30,
                             tile_cache_bytes=1 << 20, use_process_pool=True,
                             reader_processes=4, prefetch_processes=None,
                             min_parallel_tiles=3, prefetch_ahead_windows=2,
                             prefetch_behind_windows=0, cache_ttl_s=None)
    try:
        assert m.reader_processes == 4 and m.prefetch_processes == 2
        assert m.cache_ttl_s is None and m.tile_duration_s == 30
        assert m.prefetch_ahead_windows == 2 and m.min_parallel_tiles == 3
    finally:
        m.shutdown()
    # the original sizes a lane of one worker as two
    m = mef3pool.FileManager(reader_processes=1)
    assert m.reader_processes == 2 and m.prefetch_processes == 1
    m.shutdown()
    with pytest.raises(mef3pool.InvalidArgumentError):
        mef3pool.FileManager(tile_duration_s=0)
