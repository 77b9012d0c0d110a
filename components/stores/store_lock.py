"""Tell whether another process holds an embedded vector store, without opening it.

An embedded store admits one process. Opening it is the real check, but it comes after the
models have loaded (seconds); these probes take the same operating-system lock that the store
takes, let go of it at once, and so refuse a second `docent ingest` before it loads anything.
"""

import fcntl
import os
from pathlib import Path

from components.errors import StoreError

# The file that each embedded kind locks (flock, exclusive) while a process has it open:
# Qdrant Edge locks the shard's write-ahead-log folder, qdrant-client's local mode `.lock`.
_LOCKED = {"qdrant_edge": "wal", "qdrant_local": ".lock"}


def ensure_store_free(kind: str, folder: Path) -> None:
    """Raise StoreError if another process holds the store at `folder` (the Edge shard's
    folder, or local mode's folder); do nothing for a server, or a store not created yet.

    Call it before opening the store, never in a process that holds it already (the lock
    would be taken from itself).
    """
    if kind not in _LOCKED:
        return
    path = folder / _LOCKED[kind]
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise StoreError(
            f"the vector store at {folder} is in use by another docent process; wait for it to "
            "finish"
        ) from None
    finally:
        os.close(fd)  # closing lets go of the lock, if it was taken
