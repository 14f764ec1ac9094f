"""A stand-in for the Python mef3io-server, to test our C client against a
server that sends what the original sends (float32 rates, no additions,
chunks of int(2.5 MiB / (channels * 4)) samples, errors as one chunk).

It serves one made-up file, "fake.mefd": 3 channels at 499.7 Hz of known
values.  Usage: server_interop_pyserver.py STUBS_DIR PORT_FILE SCRATCH
Writes the port it listens on (127.0.0.1) to PORT_FILE and the array it
serves to SCRATCH/fake.npy; runs until SIGTERM.
"""
import signal
import sys
import threading
from concurrent import futures

import grpc
import numpy as np

sys.path.insert(0, sys.argv[1])
import mef3pool_pb2 as pb2  # noqa: E402
import mef3pool_pb2_grpc as pb2_grpc  # noqa: E402

FS = 499.7
START = 1_600_000_000_000_000
N = 700_000  # 8.4 MB: four chunks
names = ["a1", "b2", "c3"]
data = (np.arange(3 * N, dtype=np.float32).reshape(3, N) % 1000) / 7
np.save(sys.argv[3] + "/fake.npy", data)
end = START + int(round(N * 1e6 / FS))


class Original(pb2_grpc.gRPCMef3ServerServicer):
    open = set()

    def info(self, path):
        if path not in self.open:
            return pb2.FileInfoResponse(file_path=path, file_opened=False)
        return pb2.FileInfoResponse(
            file_path=path, file_opened=True, number_of_channels=3,
            channel_names=names, channel_sampling_rates=[FS] * 3,
            start_uutc=START, end_uutc=end, duration_s=(end - START) / 1e6,
            channel_start_uutc=[START] * 3, channel_end_uutc=[end] * 3)

    def OpenFile(self, req, ctx):
        if req.file_path != "fake.mefd":
            return pb2.FileInfoResponse(
                file_path=req.file_path, file_opened=False,
                error_message=f"File does not exist: {req.file_path}")
        self.open.add(req.file_path)
        return self.info(req.file_path)

    def FileInfo(self, req, ctx):
        return self.info(req.file_path)

    def CloseFile(self, req, ctx):
        self.open.discard(req.file_path)
        return pb2.FileInfoResponse(file_path=req.file_path,
                                    file_opened=False, error_message="")

    def ListOpenFiles(self, req, ctx):
        return pb2.ListOpenFilesResponse(file_paths=sorted(self.open))

    def GetSignalRange(self, req, ctx):
        if req.file_path not in self.open:
            yield pb2.SignalChunk(file_path=req.file_path,
                                  error_message=f"File not open: {req.file_path}")
            return
        chans = list(req.channel_names) or names
        i0 = int(round((req.start_uutc - START) * FS / 1e6))
        n = int(round((req.end_uutc - req.start_uutc) * FS / 1e6))
        rows = [names.index(c) for c in chans]
        arr = np.full((len(rows), n), np.nan, dtype=np.float32)
        a, b = max(i0, 0), min(i0 + n, N)
        if b > a:
            arr[:, a - i0:b - i0] = data[rows, a:b]
        per = max(int(int(2.5 * 1024 * 1024) / (len(rows) * 4)), 1)
        span = req.end_uutc - req.start_uutc
        for s in range(0, n, per):
            e = min(s + per, n)
            tile = np.ascontiguousarray(arr[:, s:e])
            yield pb2.SignalChunk(
                file_path=req.file_path, array_bytes=tile.tobytes(),
                dtype="float32", shape=list(tile.shape),
                start_uutc=int(req.start_uutc + (s / n) * span),
                end_uutc=int(req.start_uutc + (e / n) * span), fs=FS,
                channel_names=chans, error_message="")


server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
pb2_grpc.add_gRPCMef3ServerServicer_to_server(Original(), server)
port = server.add_insecure_port("127.0.0.1:0")
server.start()
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(f"{port}\n")
import os  # noqa: E402
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
done = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: done.set())
done.wait()
server.stop(0)
