#!/usr/bin/python3
"""bench_dask: epoch features (mean, line length, RMS per 10 s epoch) of a
generated 16 ch x 1 h session at 256 Hz through mef3pool.dask on a
dask.distributed LocalCluster of 1 and 2 worker processes, against a
direct loop over Reader.read in this process (the baseline, measured in
the same run), and against the ceilings: the C decode rate, and the
loop's rate, times the cores (what N processes would do with no Dask at
all).  The loop reads the file manager's 60 s tiles and computes the
same features (mef3pool.dask's kernel; the results are compared).  Each
figure is the best of --rounds runs after a warm-up (the workers'
imports and reader opens are left out, as in a long analysis), the runs
of all the figures interleaved with both clusters up: on a machine
shared with other work the best run is the one least disturbed, and a
drift in load falls on every figure alike.

Run from the repository root after a normal build:

    PYTHONPATH=build/python /usr/bin/python3 bench/python/bench_dask.py

The session is generated on first use into build/bench-data (--data) by
the built command (--cli, default build/mef3pool or $MEF3_CLI).
"""
import argparse
import contextlib
import logging
import os
import subprocess
import sys
import time
import warnings

import numpy as np


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cli", default=os.environ.get("MEF3_CLI", "build/mef3pool"))
    p.add_argument("--data", default="build/bench-data")
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--fs", type=float, default=256)
    p.add_argument("--duration", default="1h")
    p.add_argument("--chunk-s", default="60,300",
                   help="chunk lengths to try, seconds (default 60,300)")
    p.add_argument("--epoch-s", type=float, default=10)
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--worker-saturation", type=float, default=None,
                   help="the scheduler's distributed.scheduler.worker-saturation "
                        "(default: Dask's, 1.1 in 2022.12; inf sends every "
                        "chunk task to the workers at once)")
    return p.parse_args()


def session(a):
    os.makedirs(a.data, exist_ok=True)
    path = os.path.abspath(os.path.join(
        a.data, f"dask_{a.channels}ch_{a.duration}_{a.fs:g}hz.mefd"))
    if not os.path.isdir(path):
        subprocess.run([a.cli, "gen", path, "--channels", str(a.channels),
                        "--fs", f"{a.fs:g}", "--duration", a.duration,
                        "--seed", "16"], check=True, stdout=subprocess.DEVNULL)
    return path


def scheduler_idle(client):
    """Wait until the scheduler holds no task, so that a round recomputes
    everything (results of the last round are released asynchronously;
    a round started earlier could reuse them)."""
    def count(dask_scheduler):
        return len(dask_scheduler.tasks)
    while client.run_on_scheduler(count):
        time.sleep(0.01)


def main():
    a = parse()
    try:
        import distributed
    except ImportError as e:
        print(f"bench_dask: skipped, {e} (Debian: python3-distributed)")
        sys.exit(77)
    import mef3pool
    import mef3pool.dask as md

    path = session(a)
    chunk_lengths = [float(c) for c in a.chunk_s.split(",")]
    L = int(np.floor(a.epoch_s * a.fs + 0.5))
    # The loop reads the file manager's 60 s tiles, one Reader.read each.
    windows = [(c[0], c[1]) for c in md._describe(path, None, None, None,
                                                   60.0, "")[0].plan]
    with mef3pool.Reader(path) as r:
        chs = r.channels

        def loop(features=True):
            out = []
            for t0, t1 in windows:
                y = r.read(chs, t0, t1, dtype=np.float32)
                if features:
                    out.append(md._features_block(y, L))
            return out

        want = np.concatenate(loop(), axis=2)
        n_samples = len(chs) * sum(c[3] for c in md._describe(
            path, None, None, None, 60.0, "")[0].plan)

        # Both clusters stay up and the rounds interleave (loop, decode,
        # each cluster and chunk length in turn), so that a change in the
        # machine's load falls on every figure alike.
        # (the second cluster finds the first one's port 8787 taken and
        # says so; it takes another)
        warnings.filterwarnings("ignore", message="Port 8787 is already in use")
        with contextlib.ExitStack() as stack:
            clients = {}
            if a.worker_saturation is not None:
                import dask
                stack.enter_context(dask.config.set({
                    "distributed.scheduler.worker-saturation": a.worker_saturation}))
            for n in (1, 2):
                cluster = stack.enter_context(distributed.LocalCluster(
                    n_workers=n, processes=True, threads_per_worker=1,
                    host="127.0.0.1", dashboard_address=None,
                    silence_logs=logging.ERROR))
                clients[n] = stack.enter_context(distributed.Client(
                    cluster, set_as_default=False))
            runs = {"loop": loop, "decode": lambda: loop(False)}
            for n, client in clients.items():
                for cs in chunk_lengths:
                    f = md.epoch_features(md.from_session(path, chunk_s=cs),
                                          a.fs, a.epoch_s)
                    got = client.compute(f, sync=True)
                    if not np.array_equal(got, want):
                        sys.exit(f"bench_dask: {n} worker(s), {cs:g} s chunks: "
                                 f"the features differ from the loop's")
                    runs[n, cs] = (lambda c, f: lambda: c.compute(f, sync=True))(client, f)
            times = {k: [] for k in runs}
            for _ in range(a.rounds):
                for k, fn in runs.items():
                    if k not in ("loop", "decode"):
                        scheduler_idle(clients[k[0]])
                    t = time.perf_counter()
                    fn()
                    times[k].append(time.perf_counter() - t)
    med = {k: min(v) for k, v in times.items()}
    t_loop, t_decode = med["loop"], med["decode"]
    results = {k: v for k, v in med.items() if k not in ("loop", "decode")}

    cores = os.cpu_count() or 1
    ms = n_samples / 1e6
    print(f"bench_dask: epoch features ({a.epoch_s:g} s: mean, line length, "
          f"RMS) of {len(chs)} ch x {a.duration} at {a.fs:g} Hz "
          f"({ms:.1f} M samples); {cores} cores; best of {a.rounds} interleaved runs"
          + ("" if a.worker_saturation is None
             else f"; worker-saturation {a.worker_saturation:g}"))
    row = "  {:<52} {:7.3f} s {:6.1f} MS/s  x{:.2f} loop{}"
    print(row.format("direct loop, Reader.read of 60 s tiles + features",
                     t_loop, ms / t_loop, 1.0, "  (baseline)"))
    print(row.format("  of which C decode (Reader.read alone)", t_decode,
                     ms / t_decode, t_loop / t_decode, ""))
    print(row.format(f"ceiling: C decode rate x {cores} cores", t_decode / cores,
                     cores * ms / t_decode, cores * t_loop / t_decode, ""))
    print(row.format(f"ceiling with the features: loop rate x {cores} cores",
                     t_loop / cores, cores * ms / t_loop, float(cores), ""))
    for cs in chunk_lengths:
        for n in (1, 2):
            t = results[n, cs]
            extra = (f"  x{results[1, cs] / t:.2f} one worker (goal >= 1.7)"
                     if n == 2 else "")
            print(row.format(f"dask, {n} worker process(es), {cs:g} s chunks",
                             t, ms / t, t_loop / t, extra))
    load = os.getloadavg()[0]
    print(f"  (load average {load:.2f} at the end: other processes on these "
          f"{cores} cores lower the 2-worker figures)")


if __name__ == "__main__":
    main()
