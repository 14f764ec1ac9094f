"""Type stubs of mef3pool.files (FileManager)."""
import os
from typing import Dict, List, Optional, Sequence, Union

from ._fileinfo import FileInfo as FileInfo, UnknownNameError as UnknownNameError

_Path = Union[str, "os.PathLike[str]"]

class FileManager:
    tile_duration_s: float
    tile_cache_bytes: int
    cache_ttl_s: Optional[float]
    use_process_pool: bool
    min_parallel_tiles: int
    prefetch_ahead_windows: int
    prefetch_behind_windows: int
    reader_processes: int
    prefetch_processes: int
    raise_errors: bool
    def __init__(self, max_workers: int = ..., tile_duration_s: float = ...,
                 tile_cache_bytes: int = ..., use_process_pool: bool = ...,
                 reader_processes: Optional[int] = ...,
                 prefetch_processes: Optional[int] = ...,
                 min_parallel_tiles: int = ...,
                 prefetch_ahead_windows: int = ...,
                 prefetch_behind_windows: int = ...,
                 cache_ttl_s: Optional[float] = ..., *,
                 data_root: Optional[_Path] = ...,
                 worker_path: Optional[_Path] = ...,
                 max_open_files: int = ..., raise_errors: bool = ...) -> None: ...
    def open_file(self, file_path: _Path,
                  password: Optional[str] = ...) -> FileInfo: ...
    def close_file(self, file_path: _Path) -> FileInfo: ...
    def get_file_info(self, file_path: _Path) -> FileInfo: ...
    def list_open_files(self) -> List[str]: ...
    def read_signal_range(self, file_path: _Path,
                          channels: Optional[Sequence[str]], start_uutc: int,
                          end_uutc: int, prefetch: bool = ...) -> Dict: ...
    def get_envelope(self, file_path: _Path,
                     channels: Optional[Sequence[str]], start_uutc: int,
                     end_uutc: int, columns: int) -> Dict: ...
    def stats(self) -> Dict[str, int]: ...
    def shutdown(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def __enter__(self) -> "FileManager": ...
    def __exit__(self, *exc: object) -> None: ...
