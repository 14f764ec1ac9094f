"""Type stubs of mef3pool.dask (sessions as lazy Dask arrays)."""
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

_Path = Union[str, "os.PathLike[str]"]
_Time = Union[int, float, None]
_DType = Union[type, np.dtype, str]

def from_session(path: _Path, channels: Union[str, int, Sequence[Union[str, int]], None] = ...,
                 t0: _Time = ..., t1: _Time = ..., chunk_s: float = ...,
                 password: str = ..., dtype: _DType = ..., *,
                 groups: bool = ...,
                 channels_per_chunk: Optional[int] = ...) -> Any: ...
def session_paths(folder: _Path) -> List[str]: ...
def from_sessions(paths: Union[_Path, Sequence[_Path]],
                  **kwargs: Any) -> Dict[str, Any]: ...
FEATURES: Tuple[str, str, str]

def epoch_features(x: Any, fs: float, epoch_s: float = ...) -> Any: ...

__all__: list[str]
