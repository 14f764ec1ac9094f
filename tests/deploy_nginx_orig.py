"""The original's protocol through nginx, for tests/test_deploy_nginx.c.

Arguments: the folder of stubs generated from proto/mef3pool.proto, the
proxy's address, the folder of expected windows (sK.mefd.f32: float32,
channels one after another, [start + 20 s, start + 50 s)), the number of
sessions, channels per session, the rate, and nginx's access log.

Sixteen clients, each a gRPC channel of its own (one connection: no
subchannel shared between them) sending no session header, as the
original's Python client: OpenFile, FileInfo, GetSignalRange reassembled
from its chunks, CloseFile.  Then the access log: each such connection's
calls went to one node, and the connections were spread over more than
one (16 connections all hashed to one of 3 nodes: odds 3^-15).  Prints
"N passed, N failed"; exits 1 on any failure.
"""
import sys

import grpc
import numpy as np

stubs, proxy, expected, n_sess, nch, fs, access_log = sys.argv[1:8]
n_sess, nch, fs = int(n_sess), int(nch), float(fs)
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


def read(stub, path, start, end):
    req = pb2.SignalRangeRequest(file_path=path, start_uutc=start,
                                 end_uutc=end)
    arrays = []
    for chunk in stub.GetSignalRange(req, timeout=60):
        if chunk.error_message:
            raise RuntimeError(chunk.error_message)
        arrays.append(np.frombuffer(chunk.array_bytes, dtype=chunk.dtype)
                      .reshape(chunk.shape))
    return np.concatenate(arrays, axis=1)


for i in range(16):
    path = f"s{i % n_sess}.mefd"
    # A channel of its own: gRPC would otherwise share one connection
    # between channels to the same address.
    with grpc.insecure_channel(
            proxy, options=[("grpc.use_local_subchannel_pool", 1)]) as ch:
        stub = pb2_grpc.gRPCMef3ServerStub(ch)
        info = stub.OpenFile(pb2.OpenFileRequest(file_path=path), timeout=60)
        check(info.file_opened, f"{path}: OpenFile: {info.error_message}")
        info = stub.FileInfo(pb2.FileInfoRequest(file_path=path), timeout=60)
        check(info.file_opened and len(info.channel_names) == nch,
              f"{path}: FileInfo on the same connection: "
              f"{info.error_message}")
        start = info.start_uutc
        want = np.fromfile(f"{expected}/{path}.f32", dtype=np.float32)
        want = want.reshape(nch, -1)
        try:
            got = read(stub, path, start + 20_000_000, start + 50_000_000)
            check(got.shape == want.shape and
                  np.array_equal(got, want, equal_nan=True),
                  f"{path}: window through the proxy differs")
        except RuntimeError as e:
            check(False, f"{path}: read: {e}")
        stub.CloseFile(pb2.FileInfoRequest(file_path=path), timeout=60)

# The access log: upstream|session header|client port|status|uri
by_port = {}
for line in open(access_log):
    up, sess, port, status, uri = line.rstrip("\n").split("|", 4)
    if sess in ("", "-"):
        by_port.setdefault(port, set()).add(up)
check(len(by_port) >= 16,
      f"{len(by_port)} header-less connections in the log, wanted 16")
check(all(len(u) == 1 for u in by_port.values()),
      f"a header-less connection's calls went to several nodes: {by_port}")
nodes = set().union(*by_port.values()) if by_port else set()
check(len(nodes) >= 2, f"header-less connections all went to {nodes}")
print(f"the original's protocol through the proxy: {passed} passed, "
      f"{failed} failed")
sys.exit(1 if failed else 0)
