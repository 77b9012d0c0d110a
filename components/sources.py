"""How a chunk's source is shown to people: never the path it was read from on the server."""

from pathlib import PurePath
from typing import Any


def source_name(meta: dict[str, Any]) -> str:
    """The chunk's source for people: `source_name` (the path relative to the folder it was
    ingested from, or an upload's name), else the file name of `source` (chunks written
    before names were recorded).

    Usage:
    ```python
    source_name({"source": "/srv/docs/handbook/leave.md", "source_name": "handbook/leave.md"})
    # "handbook/leave.md"
    ```
    """
    return meta.get("source_name") or PurePath(str(meta.get("source", ""))).name
