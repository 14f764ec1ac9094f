"""mef3pool.ReaderProcessPool: the original's API over the C pool, results
equal to the C reader's, arrays that are views of shared memory, real
concurrent.futures semantics, and a pool that survives its workers."""
import concurrent.futures as cf
import gc
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import mef3pool
from mef3pool import _core
from conftest import rss_bytes, worker_pids


def expected_tile(reader, ch, b, S):
    """A tile as the C reader reads it: the tile window, NaN-padded to S."""
    i = reader.info(ch)
    t0, t1 = _core.tile_window(i["start_time"], i["sampling_frequency"], b, S)
    x = reader.read(ch, t0, t1, dtype=np.float32)[:S]
    return np.concatenate([x, np.full(S - len(x), np.nan, np.float32)])


@pytest.fixture
def pool():
    p = mef3pool.ReaderProcessPool(max_workers=2)
    yield p
    p.shutdown()


def test_tiles_equal_the_c_reader_on_golden_sessions(golden, pool):
    for name in ("a_single_256hz", "b_multi_8ch", "c_discontinuities",
                 "f_escapes_extremes"):
        path = str(golden / "sessions" / f"{name}.mefd")
        with mef3pool.Reader(path) as r:
            for ch in r.channels:
                i = r.info(ch)
                fs, cs = i["sampling_frequency"], i["start_time"]
                S = max(1, round(10 * fs))  # 10 s tiles
                n = -(-int((i["end_time"] - cs) * fs / 1e6) // S)
                blocks = list(range(n + 2)) + [-3, 10**6]  # beyond both ends
                got = pool.submit_read_tiles(path, ch, blocks, fs, cs, S).result(60)
                assert sorted(got) == sorted(set(blocks))
                for b in blocks:
                    t = got[b]
                    assert t.dtype == np.float32 and t.shape == (S,)
                    np.testing.assert_array_equal(t, expected_tile(r, ch, b, S),
                                                  err_msg=f"{name} {ch} tile {b}")
                assert np.isnan(got[10**6]).all() and np.isnan(got[-3]).all()


def test_tiles_equal_the_golden_truth(golden, pool):
    """Tile 0 of 180 s of a_single_256hz is every stored sample."""
    import json
    d = json.load(open(golden / "sessions" / "a_single_256hz.json"))
    c = d["channels"]["ch01"]
    truth = np.fromfile(golden / c["truth_file"], dtype="<i4")
    path = str(golden / "sessions" / "a_single_256hz.mefd")
    with mef3pool.Reader(path) as r:
        i = r.info("ch01")
    S = len(truth)
    got = pool.submit_read_tiles(path, "ch01", [0], i["sampling_frequency"],
                                 i["start_time"], S).result(60)[0]
    np.testing.assert_array_equal(got, (truth * c["units_conversion_factor"]).astype(np.float32))


def test_read_window_equals_the_c_reader_order_kept(big_session, pool):
    with mef3pool.Reader(big_session) as r:
        chs = r.channels[::-1]  # not sorted: the order must be kept
        i = r.info(chs[0])
        t0 = i["start_time"] + 1_234_567
        t1 = t0 + 60_000_000
        ref = r.read(chs, t0, t1, dtype=np.float32)
        for n_splits in (None, 1, 3, 8, 100):
            got = pool.read_window(str(big_session), chs, t0, t1, n_splits=n_splits)
            assert got.dtype == np.float32 and got.shape == ref.shape
            np.testing.assert_array_equal(got, ref)
        # a window over a gap has NaN there, as the reader has
        whole = pool.read_window(big_session, chs, i["start_time"], i["end_time"])
        np.testing.assert_array_equal(
            whole, r.read(chs, i["start_time"], i["end_time"], dtype=np.float32))
        assert np.isnan(whole).any()


def test_read_window_trims_ragged_edges(golden, pool):
    path = str(golden / "sessions" / "b_multi_8ch.mefd")
    with mef3pool.Reader(path) as r:
        chs = r.channels
        fs = {c: r.info(c)["sampling_frequency"] for c in chs}
        same = [c for c in chs if fs[c] == fs[chs[0]]]
        t0 = r.info(chs[0])["start_time"]
        t1 = t0 + 20_000_000
        got = pool.read_window(path, same, t0, t1)
        n = min(_core.window_samples(t0, t1, fs[c]) for c in same)
        assert got.shape == (len(same), n)
        for k, c in enumerate(same):
            np.testing.assert_array_equal(got[k], r.read(c, t0, t1, dtype=np.float32)[:n])


def test_read_window_empty_channels_is_value_error(pool, big_session):
    with pytest.raises(ValueError):
        pool.read_window(big_session, [], 0, 1)


def test_errors_are_mef3pool_errors(pool, golden, tmp_path):
    with pytest.raises(mef3pool.NotFoundError) as ei:
        pool.read_window(str(tmp_path / "none.mefd"), ["a"], 0, 10**6)
    assert "none.mefd" in str(ei.value)
    enc = str(golden / "sessions" / "d_encrypted.mefd")
    with pytest.raises(mef3pool.PasswordError):
        pool.read_window(enc, ["ch01"], 0, 10**6)


def test_password_per_file(pool, golden):
    enc = str(golden / "sessions" / "d_encrypted.mefd")
    with mef3pool.Reader(enc, password="l2pass") as r:
        ch = r.channels[0]
        i = r.info(ch)
        t0, t1 = i["start_time"], i["start_time"] + 5_000_000
        ref = r.read([ch], t0, t1, dtype=np.float32)
    pool.set_password(enc, "l2pass")
    np.testing.assert_array_equal(pool.read_window(enc, [ch], t0, t1), ref)


def test_prefetch_chunks(pool, big_session):
    with mef3pool.Reader(big_session) as r:
        chs = r.channels[:3]
        t0 = r.info(chs[0])["start_time"]
        ref = r.read(chs, t0, t0 + 10_000_000, dtype=np.float32)
    key = ("chunk", 0)
    assert not pool.is_scheduled(key)
    pool.prefetch_chunk(key, big_session, chs, t0, t0 + 10_000_000)
    pool.prefetch_chunk(key, big_session, chs[:1], t0, t0 + 1)  # no-op
    assert pool.is_scheduled(key)
    assert pool.stats()["prefetched"] == 1
    got = pool.take_chunk(key)
    np.testing.assert_array_equal(got, ref)
    assert not pool.is_scheduled(key)
    assert pool.take_chunk(key) is None
    assert pool.take_chunk("never") is None


def maps_of(addr):
    """The /proc/self/maps line of the mapping holding `addr`."""
    with open("/proc/self/maps") as f:
        for line in f:
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            if lo <= addr < hi:
                return line
    return None


def test_results_are_views_of_shared_memory(pool, big_session):
    with mef3pool.Reader(big_session) as r:
        ch = r.channels[0]
        i = r.info(ch)
    tiles = pool.submit_read_tiles(big_session, ch, [0, 1, 2], i["sampling_frequency"],
                                   i["start_time"], 2560).result(60)
    a = tiles[0]
    # not an array owning its data: a view of the future's buffer
    assert not a.flags.owndata
    base = a
    while isinstance(base, np.ndarray):
        base = base.base
    assert isinstance(base, _core.Future)
    # the three tiles are consecutive slices of one block of memory
    addr = [t.__array_interface__["data"][0] for t in (tiles[0], tiles[1], tiles[2])]
    assert addr[1] - addr[0] == 2560 * 4 and addr[2] - addr[1] == 2560 * 4
    # ... which is a mapping of the pool's memfd, not the heap
    line = maps_of(addr[0])
    assert line is not None and "memfd:" in line, line
    w = pool.read_window(big_session, [ch], i["start_time"], i["start_time"] + 10**6)
    assert "memfd:" in maps_of(w.__array_interface__["data"][0])


def test_memory_lives_as_long_as_an_array_views_it(big_session):
    with mef3pool.Reader(big_session) as r:
        ch = r.channels[1]
        i = r.info(ch)
    p = mef3pool.ReaderProcessPool(max_workers=1)
    fut = p.submit_read_tiles(big_session, ch, [3], i["sampling_frequency"],
                              i["start_time"], 5000)
    t = fut.result(60)[3]
    copy = t.copy()
    del fut
    p.shutdown()
    del p
    gc.collect()
    # the pool is gone; its workers too; the view still reads the same
    assert worker_pids() == []
    np.testing.assert_array_equal(t, copy)
    assert "memfd:" in maps_of(t.__array_interface__["data"][0])
    addr = t.__array_interface__["data"][0]
    del t
    gc.collect()
    line = maps_of(addr)
    assert line is None or "memfd:" not in line  # the last view freed it


def test_as_completed_wait_and_timeouts(pool, big_session):
    with mef3pool.Reader(big_session) as r:
        chs = r.channels
        i = r.info(chs[0])
    fs, cs = i["sampling_frequency"], i["start_time"]
    futs = {pool.submit_read_tiles(big_session, c, range(b, b + 4), fs, cs, 2560): (c, b)
            for c in chs for b in (0, 40)}
    seen = set()
    for f in cf.as_completed(futs, timeout=120):
        assert f.done() and f.exception() is None
        c, b = futs[f]
        assert sorted(f.result()) == [b, b + 1, b + 2, b + 3]
        seen.add(f)
    assert seen == set(futs)
    done, not_done = cf.wait(futs, timeout=0)
    assert done == set(futs) and not not_done


def test_result_timeout_on_a_queued_request(big_session):
    p = mef3pool.ReaderProcessPool(max_workers=1)
    try:
        with mef3pool.Reader(big_session) as r:
            chs = r.channels
            i = r.info(chs[0])
        fs, cs = i["sampling_frequency"], i["start_time"]
        big = [p.submit_read_tiles(big_session, c, range(0, 180), fs, cs, 2560)
               for c in chs]
        last = big[-1]
        with pytest.raises(cf.TimeoutError):
            last.result(timeout=0)
        with pytest.raises(cf.TimeoutError):
            last.exception(timeout=0)
        assert len(last.result(timeout=120)) == 180
    finally:
        p.shutdown()


def test_cancel_queued_requests(big_session):
    p = mef3pool.ReaderProcessPool(max_workers=1)
    try:
        with mef3pool.Reader(big_session) as r:
            chs = r.channels
            i = r.info(chs[0])
        fs, cs = i["sampling_frequency"], i["start_time"]
        futs = [p.submit_read_tiles(big_session, c, range(0, 180), fs, cs, 2560)
                for c in chs * 3]
        calls = []
        futs[-1].add_done_callback(lambda f: calls.append(f.cancelled()))
        assert futs[-1].cancel()  # queued behind 23 requests on one worker
        assert futs[-1].cancelled() and futs[-1].done()
        assert calls == [True]
        with pytest.raises(cf.CancelledError):
            futs[-1].result()
        # as_completed and wait see it as finished
        done = list(cf.as_completed(futs, timeout=120))
        assert len(done) == len(futs)
        # a finished one cannot be canceled
        assert not futs[0].cancel() and futs[0].result()
        st = p.stats()
        assert st["canceled"] >= 1 and st["completed"] == len(futs) - st["canceled"]
    finally:
        p.shutdown()


def test_shutdown_cancels_queued_futures(big_session):
    p = mef3pool.ReaderProcessPool(max_workers=1)
    with mef3pool.Reader(big_session) as r:
        chs = r.channels
        i = r.info(chs[0])
    fs, cs = i["sampling_frequency"], i["start_time"]
    futs = [p.submit_read_tiles(big_session, c, range(0, 180), fs, cs, 2560)
            for c in chs * 2]
    p.shutdown()
    assert all(f.done() for f in futs)
    assert any(f.cancelled() for f in futs)
    for f in futs:
        if not f.cancelled():
            assert len(f.result()) == 180
    with pytest.raises(RuntimeError):
        p.submit_read_tiles(big_session, chs[0], [0], fs, cs, 10)
    p.shutdown()  # idempotent


def test_done_callbacks_run_on_the_callback_thread_and_may_raise(pool, big_session, caplog):
    with mef3pool.Reader(big_session) as r:
        ch = r.channels[0]
        i = r.info(ch)
    fs, cs = i["sampling_frequency"], i["start_time"]
    threads, results = [], []
    ev = threading.Event()

    def bad(f):
        threads.append(threading.current_thread().name)
        raise RuntimeError("callback failure")

    def good(f):
        threads.append(threading.current_thread().name)
        results.append(len(f.result()))
        ev.set()

    gate = threading.Event()
    # keep the future pending until both callbacks are registered
    blocker = [pool.submit_read_tiles(big_session, ch, range(0, 180), fs, cs, 2560)
               for _ in range(4)]
    f = pool.submit_read_tiles(big_session, ch, range(10, 30), fs, cs, 2560)
    f.add_done_callback(bad)
    f.add_done_callback(good)
    assert ev.wait(120)
    assert results == [20]
    assert f.result() and len(f.result()) == 20
    if threads:  # both ran, on the pool's thread (unless already done)
        assert set(threads) <= {"mef3pool-callbacks", threading.current_thread().name}
    assert any("callback failure" in str(rec.exc_info[1]) for rec in caplog.records
               if rec.exc_info)
    # the pool goes on
    assert len(pool.submit_read_tiles(big_session, ch, [1], fs, cs, 10).result(60)) == 1
    for b in blocker:
        b.result(120)
    # after completion, a callback runs at once in the adding thread
    here = []
    f.add_done_callback(lambda g: here.append(threading.current_thread().name))
    assert here == [threading.current_thread().name]


def test_callbacks_registered_before_completion_use_the_callback_thread(big_session):
    p = mef3pool.ReaderProcessPool(max_workers=1)
    try:
        with mef3pool.Reader(big_session) as r:
            chs = r.channels
            i = r.info(chs[0])
        fs, cs = i["sampling_frequency"], i["start_time"]
        futs = [p.submit_read_tiles(big_session, c, range(0, 180), fs, cs, 2560)
                for c in chs]
        names = []
        futs[-1].add_done_callback(lambda f: names.append(threading.current_thread().name))
        futs[-1].result(120)  # a waiter does not run the callback itself
        deadline = time.monotonic() + 60
        while not names and time.monotonic() < deadline:
            time.sleep(0.01)
        assert names == ["mef3pool-callbacks"]
    finally:
        p.shutdown()


def ticker():
    """A thread that counts while it can take the GIL."""
    state = {"n": 0, "stop": False}

    def run():
        while not state["stop"]:
            state["n"] += 1
            time.sleep(0.0002)  # releases the GIL, so the main thread gets it

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return state, t


def test_waits_release_the_gil(pool, big_session):
    with mef3pool.Reader(big_session) as r:
        chs = r.channels
        i = r.info(chs[0])
    pool.warmup(big_session, chs[0])
    old = sys.getswitchinterval()
    # With a switch interval this long, no other thread runs unless the
    # main thread releases the GIL itself.
    sys.setswitchinterval(1000)
    try:
        state, t = ticker()
        time.sleep(0.05)  # let it start (sleep releases the GIL)
        before = state["n"]
        w = pool.read_window(big_session, chs, i["start_time"], i["end_time"])
        during = state["n"] - before
        before = state["n"]
        x = sum(range(2_000_000))  # pure Python: holds the GIL throughout
        held = state["n"] - before
        state["stop"] = True
    finally:
        sys.setswitchinterval(old)
    t.join()
    assert w.shape[0] == len(chs) and x > 0
    assert held == 0          # the measurement works: no release, no ticks
    assert during > 0         # the wait released the GIL


def test_worker_killed_during_reads_fails_one_future(big_session):
    p = mef3pool.ReaderProcessPool(max_workers=1)
    try:
        with mef3pool.Reader(big_session) as r:
            chs = r.channels
            i = r.info(chs[0])
        fs, cs = i["sampling_frequency"], i["start_time"]
        p.warmup(big_session, chs[0])
        pids = worker_pids()
        assert len(pids) == 1
        futs = [p.submit_read_tiles(big_session, c, range(0, 180), fs, cs, 2560)
                for c in chs * 20]
        deadline = time.monotonic() + 60
        while p.stats()["busy_workers"] == 0 and time.monotonic() < deadline:
            time.sleep(0.001)
        os.kill(pids[0], signal.SIGKILL)
        errors = []
        for f in futs:
            e = f.exception(timeout=120)
            if e is not None:
                errors.append(e)
            else:
                assert len(f.result()) == 180
        assert len(errors) == 1, errors
        assert isinstance(errors[0], mef3pool.WorkerError)
        assert errors[0].code == -14 and str(pids[0]) in errors[0].message
        st = p.stats()
        assert st["worker_restarts"] == 1 and st["live_workers"] == 1
        assert worker_pids() != pids
        # and goes on
        assert len(p.submit_read_tiles(big_session, chs[0], [0], fs, cs, 10).result(60)) == 1
    finally:
        p.shutdown()
    assert worker_pids() == []


@pytest.mark.skipif(bool(os.environ.get("MEF3_ASAN")),
                    reason="ASan's quarantine keeps freed memory: RSS measures no leak")
def test_ten_thousand_reads_keep_rss_flat(big_session):
    with mef3pool.Reader(big_session) as r:
        chs = r.channels
        i = r.info(chs[0])
    fs, cs = i["sampling_frequency"], i["start_time"]
    with mef3pool.ReaderProcessPool(max_workers=2) as p:
        def burst(n):
            for k in range(n // 10):
                fs_ = [p.submit_read_tiles(big_session, chs[j % len(chs)],
                                           [(k * 10 + j) % 100], fs, cs, 2560)
                       for j in range(10)]
                for f in fs_:
                    assert f.result(60)
        burst(1000)  # warm: slabs, readers, allocator arenas
        gc.collect()
        r0 = rss_bytes()
        burst(10_000)
        gc.collect()
        r1 = rss_bytes()
        assert p.stats()["completed"] >= 11_000
    assert r1 - r0 < 4 * 2**20, (r0, r1)


def run_python(code, env=None, timeout=120):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=timeout, env=e)


def test_interpreter_exit_with_queued_work_leaves_no_worker(big_session, tmp_path):
    # a private copy of the worker, so its processes can be found by path
    import shutil
    worker = tmp_path / "mef3pool-worker-exit"
    src = os.path.join(os.path.dirname(mef3pool.__file__), "mef3pool-worker")
    shutil.copy2(src, worker)
    code = f"""
        import mef3pool, os, sys
        p = mef3pool.ReaderProcessPool(max_workers=2)
        r = mef3pool.Reader({str(big_session)!r})
        i = r.info(r.channels[0])
        futs = [p.submit_read_tiles({str(big_session)!r}, c, range(0, 180),
                                    i["sampling_frequency"], i["start_time"], 2560)
                for c in r.channels * 10]
        futs[0].add_done_callback(lambda f: None)
        print(len(futs), flush=True)
        # exits with most of the work still queued, no shutdown()
    """
    res = run_python(code, env={"MEF3POOL_WORKER": str(worker)})
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "80"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        left = [d for d in os.listdir("/proc") if d.isdigit()
                and _exe(d) == str(worker)]
        if not left:
            break
        time.sleep(0.05)
    assert not left


def _exe(pid):
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def test_constructor_is_cheap_and_workers_start_on_first_use(big_session):
    p = mef3pool.ReaderProcessPool(max_workers=3)
    try:
        assert p.max_workers == 3
        assert worker_pids() == []
        assert p.stats()["live_workers"] == 0
        p.warmup(big_session, "ch01")
        assert len(worker_pids()) == 3
    finally:
        p.shutdown()
    assert worker_pids() == []
