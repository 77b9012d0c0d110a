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
        if db.execute("PRAGMA user_version").fetchone()[0] < len(migrations):
            _migrate(db, migrations)
        yield db
        db.commit()
    finally:
        db.close()


def _migrate(db: sqlite3.Connection, migrations: Sequence[str]) -> None:
    """Run the missing migrations and record them in one transaction: all or nothing.

    Python's sqlite3 runs DDL outside a transaction unless one is open, so without the explicit
    `BEGIN` a process killed between a `CREATE TABLE` and its `user_version` left a file that
    failed on every later open ("table already exists"). `IMMEDIATE` takes the write lock
    first, so two processes opening a new file migrate it once, one after the other.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        for number, statement in enumerate(migrations[version:], start=version + 1):
            db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
