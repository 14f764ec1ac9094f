"""Type stubs of mef3pool._fileinfo (FileInfo, UnknownNameError)."""
from typing import List

from ._errors import NotFoundError

class FileInfo:
    file_path: str
    file_opened: bool
    number_of_channels: int
    channel_names: List[str]
    channel_sampling_rates: List[float]
    start_uutc: int
    end_uutc: int
    duration_s: float
    channel_start_uutc: List[int]
    channel_end_uutc: List[int]
    error_message: str
    error_code: int
    real_path: str
    access_level: int
    times_relative: bool
    channel_n_samples: List[int]
    channel_units: List[str]
    channel_units_conversion_factor: List[float]
    def __init__(self, file_path: str, file_opened: bool = ...,
                 error_message: str = ..., error_code: int = ...,
                 info: object = ...) -> None: ...
    def to_dict(self) -> dict: ...

class UnknownNameError(NotFoundError, ValueError): ...
