"""mef3pool: fast MEF 3.0 reading and writing over the mef3pool C library.

The public names:

* :class:`ReaderProcessPool` - the reader process pool of mef3io-server
  (``mef3io_server.server.reader_pool.ReaderProcessPool``), name for name:
  decodes in worker processes, results as numpy views of shared memory,
  real ``concurrent.futures.Future`` objects.
* :class:`Reader`, :class:`MefReader`, :class:`Writer` - mef3io's API
  (``mef3io.Reader``, ``mef3io.MefReader``, ``mef3io.Writer``).
* :class:`FileManager`, :class:`Client` - mef3io-server's ``FileManager``
  and ``Mef3Client`` over the C file manager (tile cache, two lanes of
  workers, prefetch) and the C gRPC client.
* :class:`Error` and its subclasses - every failure of the C library, with
  the C code (``.code``, ``.name``) and message (``.message``).
* :class:`DamagedBlockWarning` - damaged blocks read as NaN.
* :class:`DamagedRecordWarning` - records that could not be decoded.

Times are µUTC integers (microseconds since 1970, UTC); windows are
half-open ``[t0, t1)``.
"""
from . import _core
from ._errors import (
    AccessError,
    BufferSizeError,
    CanceledError,
    CorruptError,
    CRCError,
    DamagedBlockWarning,
    DamagedRecordWarning,
    Error,
    ExistsError,
    InputOutputError,
    InvalidArgumentError,
    LimitError,
    NotFoundError,
    OutOfMemoryError,
    PasswordError,
    TimedOutError,
    UnsupportedError,
    WorkerError,
)
from .pool import PoolFuture, ReaderProcessPool
from .reader import MefReader, Reader
from .writer import Writer
from .files import FileInfo, FileManager, UnknownNameError
from .client import Client, Mef3Client

__version__ = _core.version()

__all__ = [
    "ReaderProcessPool", "PoolFuture", "Reader", "MefReader", "Writer",
    "FileManager", "FileInfo", "Client", "Mef3Client", "UnknownNameError",
    "Error", "InvalidArgumentError", "NotFoundError", "CRCError",
    "PasswordError", "AccessError", "CorruptError", "UnsupportedError",
    "BufferSizeError", "CanceledError", "TimedOutError", "OutOfMemoryError",
    "InputOutputError", "WorkerError", "LimitError", "ExistsError",
    "DamagedBlockWarning",
    "DamagedRecordWarning",
]
