"""Shared fixtures of the Python tests.

The tests run under CTest with PYTHONPATH pointing at the assembled
package in the build folder (python/CMakeLists.txt), MEF3_GOLDEN_DIR at
the golden sessions, MEF3_CLI at the built command and MEF3_TEST_TMP at a
scratch folder of the build; they also run by hand with the same
variables set.  Each pytest process gets its own temporary base folder
(mkdtemp), so test files run in parallel without sharing one.
"""
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

GOLDEN = Path(os.environ.get("MEF3_GOLDEN_DIR",
                             Path(__file__).resolve().parents[2].parent
                             / "shared" / "golden"))


def pytest_configure(config):
    if not config.option.basetemp:
        root = os.environ.get("MEF3_TEST_TMP") or None
        if root:
            os.makedirs(root, exist_ok=True)
        base = tempfile.mkdtemp(prefix="pytest mef3pool-1.0 ", dir=root)
        config.option.basetemp = base
        config._mef3_basetemp = base


def pytest_unconfigure(config):
    base = getattr(config, "_mef3_basetemp", None)
    if base:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def golden():
    if not GOLDEN.is_dir():
        pytest.fail(f"golden sessions not found at {GOLDEN} (set MEF3_GOLDEN_DIR)")
    return GOLDEN


def session_json(name):
    """The description of a golden session (sessions/NAME.json)."""
    with open(GOLDEN / "sessions" / f"{name}.json") as f:
        return json.load(f)


@pytest.fixture(scope="session")
def cli():
    path = os.environ.get("MEF3_CLI")
    if not path or not os.access(path, os.X_OK):
        pytest.fail("MEF3_CLI must name the built mef3pool command")
    return path


@contextlib.contextmanager
def served(cli, root, scratch, *args):
    """A real `mef3pool serve` of `root` on a free loopback port, with
    `args` added; yields its address "127.0.0.1:PORT" and, on leaving,
    stops it with SIGTERM and asserts that it exited cleanly (0)."""
    port_file = Path(scratch) / "port"
    p = subprocess.Popen([cli, "serve", "--port=0", "--bind=127.0.0.1",
                          "--port-file", str(port_file), "--root", str(root),
                          *args], stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            if port_file.exists() and port_file.read_text().strip():
                break
            assert p.poll() is None, "the server exited at start"
            time.sleep(0.05)
        yield f"127.0.0.1:{int(port_file.read_text())}"
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0


def gen(cli, out, channels=8, fs=256, duration="30m", gaps=0, password=None,
        seed=1):
    """A session made by `mef3pool gen` (deterministic for a seed)."""
    import subprocess
    args = [cli, "gen", str(out), "--channels", str(channels), "--fs", str(fs),
            "--duration", duration, "--seed", str(seed), "--gaps", str(gaps)]
    if password:
        args += ["--password", password]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return out


@pytest.fixture(scope="session")
def big_session(cli, tmp_path_factory):
    """8 channels x 256 Hz x 30 min with 3 gaps."""
    return gen(cli, tmp_path_factory.mktemp("gen") / "big.mefd", gaps=3)


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def worker_pids(worker_exe=None):
    """PIDs of running worker processes whose parent is this process."""
    me = os.getpid()
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            exe = os.readlink(f"/proc/{d}/exe")
        except OSError:
            continue
        if ppid == me and os.path.basename(exe).startswith("mef3pool-worker"):
            if worker_exe is None or exe == os.path.realpath(worker_exe):
                out.append(int(d))
    return out
