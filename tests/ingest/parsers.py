"""A stand-in parser for testing the worker pool's wiring: it misbehaves on named files.

The real parser is tested everywhere else; only a stand-in can hang, crash or raise on cue.
"""

import os
import time
from pathlib import Path

from ingest.parsing import Parsed


class MisbehavingParser:
    """Hangs on `hang*` files, kills its process on `crash*`, raises on `bug*`, takes 8 GB of
    memory on `hog*`, else parses nothing but reports the file name as one chunk-free
    success."""

    def __call__(self, path: Path) -> Parsed:
        name = Path(path).name
        if name.startswith("hang"):
            time.sleep(3600)
        if name.startswith("crash"):
            os._exit(11)
        if name.startswith("bug"):
            raise KeyError("no such element")
        if name.startswith("hog"):
            hoard = bytearray(8 << 30)
            return Parsed(str(path), converter=f"held {len(hoard)} bytes")
        return Parsed(str(path), converter=f"pid {os.getpid()}")
