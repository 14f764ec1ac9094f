"""Interoperability of `mef3pool serve` with a Python gRPC client.

Run by tests/cli_server_python.sh with: the mef3pool command, the folder
of the stubs generated from proto/mef3pool.proto at test time, the server's
address, its data root, and a scratch folder.  The client does what the
original mef3io-server's Python client does (open, info, get_signal_range
reassembling the chunks into one array, list, close) and compares with
direct reads by `mef3pool read`.  Prints "N passed, N failed".
"""
import concurrent.futures
import os
import subprocess
import sys

import grpc
import numpy as np

cli, stubs, address, root, scratch = sys.argv[1:6]
sys.path.insert(0, stubs)
import mef3pool_pb2 as pb2  # noqa: E402
import mef3pool_pb2_grpc as pb2_grpc  # noqa: E402

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAILED: {what}", file=sys.stderr)


def get_signal_range(stub, path, channels, start, end):
    """As the original client: chunks reassembled along the sample axis."""
    req = pb2.SignalRangeRequest(file_path=path,
                                 channel_names=list(channels or []),
                                 start_uutc=int(start), end_uutc=int(end))
    arrays, names, fs, error, chunks = [], None, None, "", []
    for chunk in stub.GetSignalRange(req):
        if chunk.error_message:
            return None, chunk.error_message, chunks
        arr = np.frombuffer(chunk.array_bytes, dtype=chunk.dtype)
        arrays.append(arr.reshape(chunk.shape))
        names, fs = list(chunk.channel_names), chunk.fs
        chunks.append(chunk)
    if not arrays:
        return None, "No data returned.", chunks
    a = np.concatenate(arrays, axis=1) if len(arrays) > 1 else arrays[0]
    return (a, names, fs), error, chunks


def direct(path, channels, start, end):
    out = os.path.join(scratch, "direct.npy")
    args = [cli, "read", os.path.join(root, path), "--start", str(start),
            "--end", str(end), "--format", "npy", "-o", out]
    if channels:
        args[3:3] = ["--channels", ",".join(channels)]
    subprocess.run(args, check=True)
    return np.load(out)


channel = grpc.insecure_channel(address)
stub = pb2_grpc.gRPCMef3ServerStub(channel)
stub2 = pb2_grpc.gRPCMef3ServerStub(grpc.insecure_channel(address))

b8 = "b_multi_8ch.mefd"
check(b8 not in stub.ListOpenFiles(pb2.ListOpenFilesRequest()).file_paths,
      "nothing open at first")
info = stub.OpenFile(pb2.OpenFileRequest(file_path=b8))
check(info.file_opened and info.file_path == b8 and not info.error_message,
      f"open: {info.error_message}")
nch = info.number_of_channels
check(nch == 8, "8 channels")
for f in ("channel_names", "channel_sampling_rates", "channel_start_uutc",
          "channel_end_uutc", "channel_fs", "channel_units"):
    check(len(getattr(info, f)) == nch, f"{f} has one entry per channel")
check(info.start_uutc == min(info.channel_start_uutc), "global start")
check(info.end_uutc == max(info.channel_end_uutc), "global end")
check(abs(info.duration_s - (info.end_uutc - info.start_uutc) / 1e6) < 1e-9,
      "duration")
# The original's test: an OpenFile reply equals the FileInfo reply.
check(stub.FileInfo(pb2.FileInfoRequest(file_path=b8)) == info,
      "OpenFile reply == FileInfo reply")
# Rates: float32 as in the original, exact doubles in our addition.
i7 = list(info.channel_names).index("ch07")
check(info.channel_fs[i7] == 499.7, "exact 499.7 Hz in channel_fs")
check(info.channel_sampling_rates[i7] == np.float32(499.7),
      "float32 rates as the original")
again = stub.OpenFile(pb2.OpenFileRequest(file_path=b8))
check(again.file_opened and "already open" in again.error_message,
      "a second open says so, as the original")

# Windows compared with direct reads (starts on the channels' grid).
cs = info.channel_start_uutc[0]
for chans, t0, t1 in ((["ch01", "ch02", "ch03"], cs, cs + 60_000_000),
                      (["ch04", "ch05", "ch06"], cs + 2_000_000,
                       cs + 33_000_000),
                      (["ch08"], cs, cs + 50_000_000),
                      (["ch07"], cs, cs + 20_000_000)):
    res, err, chunks = get_signal_range(stub, b8, chans, t0, t1)
    check(res is not None and err == "", f"read {chans}: {err}")
    if res is None:
        continue
    a, names, fs = res
    check(names == chans, "channel names in the requested order")
    check(all(c.dtype == "float32" for c in chunks), "dtype float32")
    check(chunks[0].start_uutc == t0 and chunks[-1].end_uutc == t1,
          "chunk spans cover the window")
    ref = direct(b8, chans, t0, t1)
    check(a.shape == ref.shape, f"shape {a.shape} == {ref.shape}")
    if a.shape == ref.shape:
        check(np.array_equal(a, ref, equal_nan=True),
              f"{chans} equal to the direct read")

# Empty channel list: all channels (single-rate session).
a1 = "a_single_256hz.mefd"
i1 = stub.OpenFile(pb2.OpenFileRequest(file_path=a1))
res, err, _ = get_signal_range(stub, a1, None, i1.start_uutc, i1.end_uutc)
check(res is not None and res[0].shape == (1, 46080), f"all channels: {err}")
if res is not None:
    check(np.array_equal(res[0], direct(a1, None, i1.start_uutc, i1.end_uutc),
                         equal_nan=True), "whole channel equal")

# A generated session: windows of several 2.5 MiB chunks.
g = "gen16.mefd"
if os.path.isdir(os.path.join(root, g)):
    gi = stub.OpenFile(pb2.OpenFileRequest(file_path=g))
    t0 = gi.start_uutc
    res, err, chunks = get_signal_range(stub, g, [], t0, t0 + 600_000_000)
    check(res is not None and len(chunks) >= 4, f"multi-chunk read: {err}")
    check(all(len(c.array_bytes) <= 2621440 for c in chunks),
          "chunks of at most 2.5 MiB")
    if res is not None:
        check(np.array_equal(res[0], direct(g, None, t0, t0 + 600_000_000),
                             equal_nan=True), "10 min x 16 ch equal")
    # Two clients at once get identical results.
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
        futs = [ex.submit(get_signal_range, s, g, [], t0 + 60_000_000,
                          t0 + 360_000_000) for s in (stub, stub2)]
        r = [f.result() for f in futs]
    check(r[0][0] is not None and r[1][0] is not None and
          np.array_equal(r[0][0][0], r[1][0][0]), "two clients identical")
    stub.CloseFile(pb2.FileInfoRequest(file_path=g))
else:
    print("generated session: skipped (no mef3pool gen)")

# Errors come as one chunk with error_message; the server goes on.
for what, args in (("not open", ("nope.mefd", ["a"], 0, 1_000_000)),
                   ("unknown channel", (b8, ["zz"], cs, cs + 1_000_000)),
                   ("reversed", (b8, ["ch01"], cs + 10, cs)),
                   ("mixed rates", (b8, ["ch01", "ch04"], cs,
                                    cs + 1_000_000))):
    req = pb2.SignalRangeRequest(file_path=args[0], channel_names=args[1],
                                 start_uutc=args[2], end_uutc=args[3])
    got = []
    try:
        for chunk in stub.GetSignalRange(req):
            got.append(chunk)
    except grpc.RpcError as e:  # a status after the error chunk
        check(e.code() in (grpc.StatusCode.INVALID_ARGUMENT,),
              f"{what}: status {e.code()}")
    check(len(got) == 1 and got[0].error_message, f"{what}: one error chunk")
bad = stub.OpenFile(pb2.OpenFileRequest(file_path="missing.mefd"))
check(not bad.file_opened and bad.error_message, "open missing: an error")
check(stub.FileInfo(pb2.FileInfoRequest(file_path="missing.mefd")).file_opened
      is False, "info of a file not open")

# Drop-in details: answers as the original's.
def samples(path, chan, s0, s1):
    out = os.path.join(scratch, "samples.f32")
    subprocess.run([cli, "read", os.path.join(root, path), "--channels", chan,
                    "--samples", f"{s0}:{s1}", "--format", "f32", "-o", out],
                   check=True)
    return np.fromfile(out, dtype="<f4")


# Half-sample ties round to even, as Python's round(): 1000 Hz, 2500 µs is
# 2 samples (not 3); 250 Hz, a start 2 ms after the first sample is grid
# sample 0 (not 1) and 10.002 s is 2500 samples (not 2501).
c4 = info.channel_start_uutc[list(info.channel_names).index("ch04")]
res, err, _ = get_signal_range(stub, b8, ["ch04"], c4 + 10_000_000,
                               c4 + 10_002_500)
check(res is not None and res[0].shape == (1, 2) and
      np.array_equal(res[0][0], samples(b8, "ch04", 10000, 10002)),
      f"1000 Hz, 2500 µs: 2 samples from 10000: {err}")
g250 = "gen250.mefd"
gi = stub.OpenFile(pb2.OpenFileRequest(file_path=g250))
t = gi.channel_start_uutc[0]
res, err, _ = get_signal_range(stub, g250, [], t + 2000, t + 10_004_000)
n_py = int(round((10_004_000 - 2000) * 250.0 / 1e6))
check(n_py == 2500 and res is not None and res[0].shape == (1, 2500) and
      np.array_equal(res[0][0], samples(g250, "ch01", 0, 2500)),
      f"250 Hz, [T+2 ms, +10.002 s): 2500 samples from 0: {err}")

# ListOpenFiles in opening order; closed and opened again goes last.
lst = lambda: list(stub.ListOpenFiles(pb2.ListOpenFilesRequest()).file_paths)
check(lst() == [b8, a1, g250], f"opening order: {lst()}")
stub.CloseFile(pb2.FileInfoRequest(file_path=a1))
stub.OpenFile(pb2.OpenFileRequest(file_path=a1))
check(lst() == [b8, g250, a1], f"reopened goes last: {lst()}")

# An empty path or a NUL byte: answered in the reply, status OK (the
# original's client raises on any other status).
for p, want in (("", "File does not exist: "),
                ("a_single_256hz.mefd\0/../x", "NUL byte")):
    try:
        r = stub.OpenFile(pb2.OpenFileRequest(file_path=p))
        check(not r.file_opened and want in r.error_message,
              f"OpenFile {p!r}: {r.error_message}")
        r = stub.FileInfo(pb2.FileInfoRequest(file_path=p))
        check(not r.file_opened and r.error_message,
              f"FileInfo {p!r}: {r.error_message}")
    except grpc.RpcError as e:
        check(False, f"{p!r}: status {e.code()}")

# Error texts start as the original's.
r = stub.OpenFile(pb2.OpenFileRequest(file_path="missing.mefd"))
check(r.error_message.startswith("File does not exist: missing.mefd"),
      r.error_message)
_, err, _ = get_signal_range(stub, "nope.mefd", [], 0, 1_000_000)
check(err.startswith("File not open: nope.mefd"), err)
_, err, _ = get_signal_range(stub, b8, ["ch01", "ch04"], cs, cs + 1_000_000)
check(err.startswith("Requested channels do not share a sampling rate: "
                     "{256.0, 1000.0}"), err)

# The command-line client: names with spaces, an unknown one listing the
# channels, and a window outside the recording noted on stderr.
run = lambda *a: subprocess.run([cli, "client", address, *a],
                                capture_output=True, text=True)
p = run("read", b8, "--channels", " ch01 , ch02 ", "--start", "0s", "--end",
        "1s", "--format", "summary")
check(p.returncode == 0 and "2 channels x 256 samples" in p.stdout,
      f"client --channels with spaces: {p.stderr}")
p = run("read", b8, "--channels", "ch01,zz", "--start", "0s", "--end", "1s",
        "--format", "f32", "-o", os.devnull)
check(p.returncode == 1 and 'no channel named "zz"; it has 8: ch01, ch02'
      in p.stderr, f"client unknown channel: {p.stderr}")
p = run("read", b8, "--channels", "ch01", "--start", "5", "--end", "9000",
        "--format", "summary")
check(p.returncode == 0 and p.stderr.count("\n") == 1 and
      "outside the recording" in p.stderr, f"client outside: {p.stderr}")

# Close and list.
check(b8 in stub.ListOpenFiles(pb2.ListOpenFilesRequest()).file_paths,
      "listed while open")
closed = stub.CloseFile(pb2.FileInfoRequest(file_path=b8))
check(not closed.file_opened and not closed.error_message, "closed")
check(b8 not in stub.ListOpenFiles(pb2.ListOpenFilesRequest()).file_paths,
      "not listed once closed")
res, err, _ = get_signal_range(stub, b8, ["ch01"], cs, cs + 1_000_000)
check(res is None and err, "a closed file cannot be read")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
