"""Type stubs of mef3pool.xarray (sessions as xarray.DataArray, records
as pandas.DataFrame)."""
import os
from typing import Any, Optional, Sequence, Union

import numpy as np

_Path = Union[str, "os.PathLike[str]"]
_Time = Union[int, float, None]
_DType = Union[type, np.dtype, str]

def open_session(path: _Path, channels: Union[str, int, Sequence[Union[str, int]], None] = ...,
                 t0: _Time = ..., t1: _Time = ..., chunk_s: float = ...,
                 password: str = ..., dtype: _DType = ..., *,
                 groups: bool = ...,
                 channels_per_chunk: Optional[int] = ...) -> Any: ...
def records_frame(path: _Path, password: str = ...) -> Any: ...

__all__: list[str]
