"""The exception classes (made by the C extension, so that it raises the
same classes) and the warnings for damaged blocks and records."""
from ._core import (  # noqa: F401
    AccessError,
    BufferSizeError,
    CanceledError,
    CorruptError,
    CRCError,
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


class DamagedBlockWarning(UserWarning):
    """Blocks of a read could not be decoded (CRC, corrupt, missing file)
    and read as NaN.  The message names the file or channel, the blocks,
    their time range and the C library's message; the read itself
    succeeded."""


class DamagedRecordWarning(UserWarning):
    """A record (annotation) could not be decoded (bad CRC, a body too
    short for its type, cut off by the end of its file).  The message names
    the file, the record's index and byte offset; the record is still
    listed with its type, time and raw body, and the others are all
    there."""


__all__ = [
    "Error", "InvalidArgumentError", "NotFoundError", "CRCError", "PasswordError",
    "AccessError", "CorruptError", "UnsupportedError", "BufferSizeError",
    "CanceledError", "TimedOutError", "OutOfMemoryError", "InputOutputError",
    "WorkerError", "LimitError", "ExistsError", "DamagedBlockWarning",
    "DamagedRecordWarning",
]
