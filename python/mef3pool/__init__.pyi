"""Type stubs of mef3pool (the public names, re-exported)."""
from ._errors import (
    AccessError as AccessError,
    BufferSizeError as BufferSizeError,
    CanceledError as CanceledError,
    CorruptError as CorruptError,
    CRCError as CRCError,
    DamagedBlockWarning as DamagedBlockWarning,
    DamagedRecordWarning as DamagedRecordWarning,
    Error as Error,
    ExistsError as ExistsError,
    InputOutputError as InputOutputError,
    InvalidArgumentError as InvalidArgumentError,
    LimitError as LimitError,
    NotFoundError as NotFoundError,
    OutOfMemoryError as OutOfMemoryError,
    PasswordError as PasswordError,
    TimedOutError as TimedOutError,
    UnsupportedError as UnsupportedError,
    WorkerError as WorkerError,
)
from .pool import PoolFuture as PoolFuture, ReaderProcessPool as ReaderProcessPool
from .reader import MefReader as MefReader, Reader as Reader
from .writer import Writer as Writer
from .files import (FileInfo as FileInfo, FileManager as FileManager,
                    UnknownNameError as UnknownNameError)
from .client import Client as Client, Mef3Client as Mef3Client

__version__: str
__all__: list[str]
