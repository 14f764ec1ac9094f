#!/usr/bin/env python3
"""bench/python/bench_wire.py - our server read the way the original's
users read it, beside our own clients, in the same run (issue 17).

One `mef3pool serve` on loopback serves a session made by `mef3pool gen`
(16 channels x 256 Hz x 1 h).  The original's client (mef3io-server's
Mef3Client) reads a window with grpcio: GetSignalRange, np.frombuffer per
chunk, np.concatenate; it is reproduced here call for call on stubs made
from proto/mef3pool.proto (the original itself is not installable here).

 (a) a warm 16 ch x 60 s window (read once before): the original's
     client (baseline), mef3pool.Client, and our C client alone
     (mef3_client_read, through bench/bench_pycompare); then where the
     original client's time goes: its own work on the received bytes
     (protobuf parse, frombuffer, concatenate, timed on a recorded
     response), a call's fixed cost (ListOpenFiles round trip), and the
     rest: the server and the wire;
 (b) a cold walk: consecutive 60 s windows nobody read, as the original
     client and as mef3pool.Client (each its own server, so neither
     warms the other's cache);
 (c) random 10 s windows inside ten minutes read before.
Against the recorded original server through its own client on this
machine (warm 4.8 ms, cold 29.8 ms, random 2.1 ms; not installable here:
recorded, not measured): the goal is a warm window >= 5x with
mef3pool.Client.

Each figure is the median of --reps calls (wall clock); ratios are
baseline / this (above 1 is faster).

usage: bench_wire.py [--cli PATH] [--c-bench PATH] [--dir DIR] [--reps N]
                     [--keep]
Needs Debian's python3-grpcio, protobuf-compiler and
protobuf-compiler-grpc (grpc_python_plugin); exits 77 without them.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_python import find_c_bench, find_cli, median_ms  # noqa: E402

try:
    import mef3pool
except ImportError:  # the build tree's package
    sys.path.insert(0, str(REPO / "build" / "python"))
    import mef3pool

WINDOW_US = 60_000_000
ORIGINAL = {"warm": 4.8, "cold": 29.8, "random": 2.1}  # ms, recorded


def line(label, ms, base=None):
    ratio = "" if base is None else f"   ratio {base / ms:8.2f}"
    print(f"  {label:<60} {ms:9.3f} ms{ratio}", flush=True)


def make_stubs(out):
    """grpcio stubs from our .proto, or None when the tools are missing."""
    plugin = shutil.which("grpc_python_plugin")
    if not plugin or not shutil.which("protoc"):
        return None
    try:
        import grpc  # noqa: F401
    except ImportError:
        return None
    subprocess.run(["protoc", f"--python_out={out}", f"--grpc_python_out={out}",
                    f"--plugin=protoc-gen-grpc_python={plugin}",
                    f"-I{REPO / 'proto'}", str(REPO / "proto/mef3pool.proto")],
                   check=True)
    sys.path.insert(0, str(out))
    import mef3pool_pb2
    import mef3pool_pb2_grpc
    return mef3pool_pb2, mef3pool_pb2_grpc


class Serve:
    """A `mef3pool serve` of `root` on a free loopback port."""

    def __init__(self, cli, root, scratch):
        self.port_file = Path(scratch) / "port"
        self.p = subprocess.Popen(
            [cli, "serve", "--port=0", "--bind=127.0.0.1", "--port-file",
             str(self.port_file), "--root", str(root)],
            stderr=subprocess.DEVNULL)
        for _ in range(600):
            if self.port_file.exists() and self.port_file.read_text().strip():
                break
            if self.p.poll() is not None:
                sys.exit("bench_wire: the server exited at start")
            time.sleep(0.05)
        self.addr = f"127.0.0.1:{int(self.port_file.read_text())}"

    def stop(self):
        self.p.terminate()
        self.p.wait(timeout=30)


class Original:
    """The original's Mef3Client, call for call."""

    def __init__(self, pb2, pb2_grpc, addr):
        import grpc
        self.pb2 = pb2
        self.ch = grpc.insecure_channel(addr)
        self.stub = pb2_grpc.gRPCMef3ServerStub(self.ch)

    def open(self, path):
        r = self.stub.OpenFile(self.pb2.OpenFileRequest(file_path=path))
        assert r.file_opened, r.error_message

    def chunks(self, path, t0, t1):
        req = self.pb2.SignalRangeRequest(file_path=path, start_uutc=t0,
                                          end_uutc=t1)
        return list(self.stub.GetSignalRange(req))

    @staticmethod
    def assemble(chunks):
        arrays = []
        for c in chunks:
            if c.error_message:
                raise RuntimeError(c.error_message)
            arrays.append(np.frombuffer(c.array_bytes, dtype=c.dtype)
                          .reshape(c.shape))
        return np.concatenate(arrays, axis=1)

    def read(self, path, t0, t1):
        return self.assemble(self.chunks(path, t0, t1))

    def list(self):
        return self.stub.ListOpenFiles(self.pb2.ListOpenFilesRequest())


def warm(orig, ours, addr, name, t0, reps, c_bench):
    t1 = t0 + WINDOW_US
    print("(a) a warm 16 ch x 60 s window: the original's client (baseline) "
          "against ours")
    want = orig.read(name, t0, t1)
    got = ours.get_signal_range(name, None, t0, t1)["array"]
    assert np.array_equal(got, want, equal_nan=True), "clients differ"
    base = median_ms(lambda: orig.read(name, t0, t1), reps)
    line("baseline: the original's client (grpcio, frombuffer, concatenate)",
         base)
    py = median_ms(lambda: ours.get_signal_range(name, None, t0, t1), reps)
    line("mef3pool.Client.get_signal_range", py, base)
    if c_bench:
        import json
        out = subprocess.run([c_bench, "--client", addr, name, str(t0),
                              str(reps)], check=True, capture_output=True,
                             text=True).stdout
        line("our C client alone (mef3_client_read)",
             json.loads(out)["client_window_ms"], base)
    # Where the original client's time goes.
    recorded = [type(c).FromString(c.SerializeToString())
                for c in orig.chunks(name, t0, t1)]
    raw = [c.SerializeToString() for c in recorded]
    cls = type(recorded[0])
    own = median_ms(lambda: Original.assemble([cls.FromString(b)
                                               for b in raw]), reps)
    call = median_ms(orig.list, reps)
    print(f"  of the original client's {base:.3f} ms: its own work on the "
          f"{sum(map(len, raw)) / 1e6:.2f} MB received (parse, frombuffer, "
          f"concatenate) {own:.3f} ms, a call's fixed cost (ListOpenFiles) "
          f"{call:.3f} ms, the server and the wire the rest, "
          f"{base - own - call:.3f} ms", flush=True)
    print(f"  against the original server through its own client (recorded "
          f"{ORIGINAL['warm']} ms): the original's client on ours "
          f"{ORIGINAL['warm'] / base:.1f}x, mef3pool.Client "
          f"{ORIGINAL['warm'] / py:.1f}x (goal >= 5x)", flush=True)


def cold(cli, root, scratch, pb2, pb2_grpc, name, t0, reps):
    print("(b) a cold walk: consecutive 60 s windows nobody read, the "
          "server's prefetch ahead at work as in use (a server of its own "
          "for each client)")
    res = {}
    for who in ("original", "mef3pool.Client"):
        d = Path(scratch) / who.replace(".", "_")
        d.mkdir(exist_ok=True)
        srv = Serve(cli, root, d)
        try:
            if who == "original":
                c = Original(pb2, pb2_grpc, srv.addr)
                c.open(name)
                fn = lambda a: c.read(name, a, a + WINDOW_US)  # noqa: E731
            else:
                c = mef3pool.Client(srv.addr)
                c.open_file(name)
                fn = lambda a: c.get_signal_range(  # noqa: E731
                    name, None, a, a + WINDOW_US)
            times = []
            for k in range(reps):
                a = t0 + k * WINDOW_US
                s = time.perf_counter()
                fn(a)
                times.append((time.perf_counter() - s) * 1e3)
            res[who] = statistics.median(times)
            if who != "original":
                c.shutdown()
        finally:
            srv.stop()
    line("baseline: the original's client", res["original"])
    line("mef3pool.Client", res["mef3pool.Client"], res["original"])
    print(f"  against the original server, cold walk (recorded "
          f"{ORIGINAL['cold']} ms): mef3pool.Client "
          f"{ORIGINAL['cold'] / res['mef3pool.Client']:.1f}x", flush=True)


def random_windows(orig, ours, name, t0, reps):
    print("(c) random 10 s windows inside ten minutes read before")
    span = 600_000_000
    for a in range(t0, t0 + span, WINDOW_US):
        orig.read(name, a, a + WINDOW_US)
    rng = np.random.default_rng(5)
    starts = [int(t0 + rng.integers(0, span - 10_000_000)) for _ in range(reps)]
    it = iter(starts * 2)
    base = median_ms(lambda: orig.read(name, (s := next(it)),
                                       s + 10_000_000), reps)
    it = iter(starts * 2)
    py = median_ms(lambda: ours.get_signal_range(name, None, (s := next(it)),
                                                 s + 10_000_000), reps)
    line("baseline: the original's client", base)
    line("mef3pool.Client", py, base)
    print(f"  against the original server (recorded {ORIGINAL['random']} "
          f"ms): mef3pool.Client {ORIGINAL['random'] / py:.1f}x", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli")
    ap.add_argument("--c-bench")
    ap.add_argument("--dir")
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    cli = find_cli(a.cli)
    scratch = Path(a.dir) if a.dir else Path(tempfile.mkdtemp(
        prefix="bench_wire "))
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        stubs = make_stubs(scratch)
        if stubs is None:
            print("bench_wire: skipped: no grpcio, protoc or "
                  "grpc_python_plugin")
            sys.exit(77)
        pb2, pb2_grpc = stubs
        root = scratch / "root"
        root.mkdir(exist_ok=True)
        name = "wire16.mefd"
        if not (root / name).is_dir():
            subprocess.run([cli, "gen", str(root / name), "--channels", "16",
                            "--fs", "256", "--duration", "1h", "--seed", "2"],
                           check=True, stdout=subprocess.DEVNULL)
        with mef3pool.Reader(root / name) as r:
            t0 = r.info(r.channels[0])["start_time"] + 600_000_000
        print(f"bench_wire: mef3pool {mef3pool.__version__}, "
              f"{os.cpu_count()} cores, 16 ch x 256 Hz x 1 h, median of "
              f"{a.reps}")
        srv = Serve(cli, root, scratch)
        try:
            orig = Original(pb2, pb2_grpc, srv.addr)
            orig.open(name)
            ours = mef3pool.Client(srv.addr)
            ours.open_file(name)
            warm(orig, ours, srv.addr, name, t0, a.reps,
                 find_c_bench(a.c_bench))
            random_windows(orig, ours, name, t0, a.reps)
            ours.shutdown()
        finally:
            srv.stop()
        cold(cli, root, scratch, pb2, pb2_grpc, name, t0 + 1200_000_000,
             min(a.reps, 30))
    finally:
        if not a.dir and not a.keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
