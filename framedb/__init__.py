"""framedb: find repeated and reused footage in video.

Ingest every frame once (PyAV decode, perceptual hashes, one SQL row per frame, a FAISS binary
index), then ask many times: where else does this frame appear, which segments loop, what is shared.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["FrameDB", "FrameDBError", "__version__"]

if TYPE_CHECKING:
    from framedb.api import FrameDB
    from framedb.errors import FrameDBError


def __getattr__(name: str) -> Any:
    # Imported lazily so that `import framedb` (and the CLI's start-up) stays cheap.
    if name == "FrameDB":
        from framedb.api import FrameDB

        return FrameDB
    if name == "FrameDBError":
        from framedb.errors import FrameDBError

        return FrameDBError
    raise AttributeError(name)
