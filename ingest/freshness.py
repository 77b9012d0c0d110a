"""Whether the recorded sources still match the files on disk.

A file that was deleted, emptied, made unreadable or changed after its last ingest keeps its
chunks in the store (an ingest that fails to read a file keeps what it had), so answers can
cite text that no longer exists. `stale_sources` finds such files for `docent sources --check`.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ingest.manifest import SourceState

# The hash of a file with no bytes: one that was ingested and is now empty loses its chunks.
EMPTY_HASH = hashlib.sha256(b"").hexdigest()


def hash_file(path: Path) -> str:
    """The SHA-256 of the file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class StaleSource:
    """A recorded source whose stored chunks no longer match its file, and what to do."""

    source: str
    name: str
    problem: str  # "deleted", "unreadable", "empty" or "changed"
    chunks: int
    advice: str


def stale_sources(states: Iterable[SourceState]) -> list[StaleSource]:
    """The file sources among `states` that differ from their file on disk, by source.

    Records ingested as text (`<namespace>:<id>`) have no file and are not checked; a source
    already marked for re-ingestion (no hash) is reported as changed.
    """
    stale = []
    for state in sorted(states, key=lambda s: s.source):
        path = Path(state.source)
        if not path.is_absolute():
            continue
        found = _problem(path, state)
        if found:
            problem, advice = found
            stale.append(
                StaleSource(state.source, state.display_name, problem, len(state.chunk_ids), advice)
            )
    return stale


def _problem(path: Path, state: SourceState) -> tuple[str, str] | None:
    chunks = f"its {len(state.chunk_ids)} chunks are still served"
    try:
        current = hash_file(path)
    except FileNotFoundError:
        return "deleted", f"deleted from disk; {chunks}: ingest its folder with --prune"
    except OSError as e:
        return "unreadable", (
            f"cannot be read ({e.strerror}); {chunks}: make it readable and ingest it again, or "
            "delete it and ingest its folder with --prune"
        )
    if current == state.file_hash:
        return None
    if current == EMPTY_HASH and state.chunk_ids:
        return "empty", f"empty now; {chunks}: ingest it again to remove them"
    return "changed", (
        f"changed since its last ingest (or that ingest failed); {chunks}: ingest it again"
    )
