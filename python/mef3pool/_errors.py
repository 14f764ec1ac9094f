"""The exception classes (made by the C extension, so that it raises the
same classes) and the warning for damaged blocks."""
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
