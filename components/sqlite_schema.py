"""SQLite files with forward-only migrations, shared by the manifest, handoffs and audit log."""

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def connect(
    path: Path, migrations: Sequence[str], pragmas: Sequence[str] = ()
) -> Iterator[sqlite3.Connection]:
    """A connection to `path` with the schema up to date; commits on success, always closes.

    `PRAGMA user_version` records how many of `migrations` have run; the rest run in order.
    `pragmas` (e.g. "journal_mode = WAL") are set first.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=30)
    try:
        for pragma in pragmas:
            db.execute(f"PRAGMA {pragma}")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        for number, statement in enumerate(migrations[version:], start=version + 1):
            db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")
        yield db
        db.commit()
    finally:
        db.close()
