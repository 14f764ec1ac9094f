"""fork(): a child of a process that holds a FileManager with worker
processes, a ReaderProcessPool (with a future still pending) and a Client.

The child inherits the objects but not their threads, and the workers
serve the parent.  Each scenario runs in its own interpreter (a script
here, run with the test's environment) that forks: in the child every
call of an inherited object raises mef3pool.Error naming the fork
(before, a read waited forever), objects made in the child work, and a
normal exit (atexit handlers, finalizers of the parent's objects) ends
with status 0 (before, it could hang or crash); the parent's objects go
on reading, with the same workers, after the child is gone.  A hang is
bounded (the child is killed after 60 s and the test fails), never timed.
"""
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import served

SCRIPT = textwrap.dedent(r'''
    import os, sys, time
    import numpy as np
    import mef3pool

    path, addr, stuck_worker = sys.argv[1], sys.argv[2], sys.argv[3]
    fm = mef3pool.FileManager(reader_processes=2, prefetch_processes=1,
                              min_parallel_tiles=1, tile_duration_s=5)
    info = fm.open_file(path)
    t0 = info.start_uutc
    first = fm.read_signal_range(path, ["ch01"], t0, t0 + 20_000_000)["array"]
    pool = mef3pool.ReaderProcessPool(2)
    window = pool.read_window(path, ["ch02"], t0, t0 + 10_000_000)
    client = mef3pool.Client(addr)
    client.open_file(os.path.basename(path))

    def workers():
        me = os.getpid()
        out = set()
        for t in os.listdir(f"/proc/{me}/task"):
            with open(f"/proc/{me}/task/{t}/children") as f:
                out |= set(f.read().split())
        return out

    # A pool whose one worker never answers: its future stays pending.
    others = workers()
    stuck = mef3pool.ReaderProcessPool(1, worker_path=stuck_worker)
    pending = stuck._submit_window(path, ["ch03"], t0, t0 + 10**6, 1)
    end = time.monotonic() + 60
    while not workers() - others and time.monotonic() < end:
        time.sleep(0.05)
    stuck_pid = int(min(workers() - others))
    assert not pending.done()
    before = workers()
    pid = os.fork()
    if pid == 0:
        bad = []
        for name, call in [
                ("FileManager.read_signal_range",
                 lambda: fm.read_signal_range(path, ["ch01"], t0, t0 + 10**6)),
                ("FileManager.list_open_files", fm.list_open_files),
                ("FileManager.get_envelope",
                 lambda: fm.get_envelope(path, ["ch01"], t0, t0 + 10**7, 10)),
                ("ReaderProcessPool.read_window",
                 lambda: pool.read_window(path, ["ch02"], t0, t0 + 10**6)),
                ("future.result", lambda: pending.result(timeout=30)),
                ("Client.list_open_files", client.list_open_files)]:
            try:
                call()
                bad.append(f"{name}: answered in the child")
            except mef3pool.Error as e:
                if "fork" not in str(e):
                    bad.append(f"{name}: {e}")
        # (the original's way: the failure in error_message)
        env = client.get_envelope(path, ["ch01"], t0, t0 + 10**7, 10)
        if env["min"] is not None or "fork" not in env["error_message"]:
            bad.append(f"Client.get_envelope: {env['error_message']}")
        # Objects made in the child work.
        m2 = mef3pool.FileManager(reader_processes=1, prefetch_processes=1,
                                  min_parallel_tiles=1, tile_duration_s=5)
        m2.open_file(path)
        again = m2.read_signal_range(path, ["ch01"], t0, t0 + 20_000_000)
        if not np.array_equal(again["array"], first, equal_nan=True):
            bad.append("a manager made in the child read other values")
        m2.shutdown()
        for b in bad:
            print("child:", b, flush=True)
        sys.exit(3 if bad else 0)  # a normal exit: atexit, finalizers
    end = time.monotonic() + 60
    while True:
        got, status = os.waitpid(pid, os.WNOHANG)
        if got:
            break
        if time.monotonic() > end:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            sys.exit("the child hung")
        time.sleep(0.05)
    assert os.WIFEXITED(status), f"the child died: status {status}"
    assert os.WEXITSTATUS(status) == 0, f"the child exited {os.WEXITSTATUS(status)}"
    # The parent's objects go on, with the same workers.
    assert workers() == before, (workers(), before)
    x = fm.read_signal_range(path, ["ch03"], t0 + 30_000_000, t0 + 40_000_000)
    assert x["array"].shape == (1, 2560)
    assert window.shape == (1, 2560)
    os.kill(stuck_pid, 9)  # a killed worker fails its future
    assert isinstance(pending.exception(timeout=30), mef3pool.Error)
    stuck.shutdown()
    assert client.list_open_files() == [os.path.basename(path)]
    client.shutdown()
    pool.shutdown()
    fm.shutdown()
    print("ok")
''')


def test_fork_child_of_objects_with_workers(golden, cli, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    src = golden / "sessions/b_multi_8ch.mefd"
    dst = root / "b_multi_8ch.mefd"
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)
    stuck = tmp_path / "stuck worker"
    stuck.write_text("#!/bin/sh\nexec sleep 600\n")
    stuck.chmod(0o755)
    with served(cli, root, tmp_path) as addr:
        p = subprocess.run([sys.executable, "-c", SCRIPT, str(dst), addr,
                            str(stuck)],
                           capture_output=True, text=True, timeout=300,
                           env=os.environ)
    assert p.returncode == 0 and p.stdout.strip().endswith("ok"), \
        f"rc {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
