"""Type stubs of mef3pool._readers (the per-process reader cache)."""
from typing import ContextManager, Dict

from .reader import Reader

MAX_SESSIONS: int

def borrowed(path: str, password: str) -> ContextManager[Reader]: ...
def stats() -> Dict[str, int]: ...
def clear() -> None: ...

__all__: list[str]
