"""The ingest manifest: what each source file contributed to a collection, kept in SQLite.

The manifest and the vector store are two databases, so a write to both cannot be one
transaction. Instead every change of a source's chunks is journaled first: `begin` records the
intended state (new hash, settings, chunk ids) in `pending`; then the chunks are written and
the stale ones deleted; then `commit` makes the intended state the recorded one. A process
killed between the two leaves a pending row, and the next run settles it from what the store
holds (`Indexer.recover`): if every new chunk arrived, the change is finished; otherwise the
new-only chunks are removed and the source is marked for re-ingestion, its old chunks kept.
Either way the store and the manifest agree, with no chunk lost or duplicated.
"""

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from components.errors import StoreError
from components.sqlite_schema import connect

# Forward-only migrations; `PRAGMA user_version` records how many have run.
_MIGRATIONS = [
    """CREATE TABLE collections (
        collection TEXT PRIMARY KEY,
        embedding_model TEXT NOT NULL,
        dimension INTEGER NOT NULL,
        created REAL NOT NULL
    )""",
    """CREATE TABLE sources (
        collection TEXT NOT NULL,
        source TEXT NOT NULL,
        file_hash TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        chunk_ids TEXT NOT NULL,
        converter TEXT NOT NULL,
        tenant TEXT,
        updated REAL NOT NULL,
        PRIMARY KEY (collection, source)
    )""",
    """CREATE TABLE pending (
        collection TEXT NOT NULL,
        source TEXT NOT NULL,
        file_hash TEXT,
        fingerprint TEXT,
        chunk_ids TEXT NOT NULL,
        converter TEXT,
        tenant TEXT,
        PRIMARY KEY (collection, source)
    )""",
    # The name a source is shown by (relative to the folder it was ingested from).
    "ALTER TABLE sources ADD COLUMN name TEXT",
    "ALTER TABLE pending ADD COLUMN name TEXT",
]


@dataclass(frozen=True)
class SourceState:
    """A source's chunks as recorded: the bytes and settings they came from, and their ids.

    In a pending change, `file_hash` is None when the source is being removed. `name` is
    what people are shown instead of the path (None for sources recorded before names were).
    """

    source: str
    file_hash: str | None
    fingerprint: str | None
    chunk_ids: frozenset[str]
    converter: str | None = None
    tenant: str | None = None
    name: str | None = None

    @property
    def display_name(self) -> str:
        """The source's name for people: its recorded name, else its file name."""
        return self.name or Path(self.source).name

    def matches(self, file_hash: str, fingerprint: str) -> bool:
        """True when these chunks came from exactly these bytes and settings."""
        return self.file_hash == file_hash and self.fingerprint == fingerprint


class Manifest:
    """The record of one collection's sources, with a journal that makes writes crash-safe.

    Usage:
    ```python
    manifest = Manifest(data_dir / "manifest.sqlite", collection="docent")
    manifest.bind_model("all-MiniLM-L6-v2", 384)
    manifest.begin([SourceState(source, file_hash, fingerprint, ids)])
    ...  # write the chunks, delete the stale ones
    manifest.commit([source])
    ```
    """

    def __init__(self, path: Path, collection: str) -> None:
        """Use the manifest at `path` (created on first use) for `collection`."""
        self.path = Path(path)
        self.collection = collection

    def bind_model(self, embedding_model: str, dimension: int) -> None:
        """Record which embedding model fills the collection, or check it is the same one.

        Raises:
            StoreError: the collection holds vectors of another model; mixing them would make
                similarity search meaningless.
        """
        with self._connect() as db:
            row = db.execute(
                "SELECT embedding_model, dimension FROM collections WHERE collection = ?",
                (self.collection,),
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO collections VALUES (?, ?, ?, ?)",
                    (self.collection, embedding_model, dimension, time.time()),
                )
            elif tuple(row) != (embedding_model, dimension):
                raise StoreError(
                    f"the collection {self.collection!r} holds vectors of the embedding model "
                    f"{row[0]!r} ({row[1]} dimensions), but the configuration asks for "
                    f"{embedding_model!r} ({dimension} dimensions); vectors of two models "
                    "cannot be searched together. Set store.collection to a new name, or run "
                    "`docent ingest --rebuild PATH...` to re-embed everything with the new model"
                )

    def bound_model(self) -> tuple[str, int] | None:
        """The embedding model and dimension the collection was filled with, if recorded."""
        with self._connect() as db:
            row = db.execute(
                "SELECT embedding_model, dimension FROM collections WHERE collection = ?",
                (self.collection,),
            ).fetchone()
        return tuple(row) if row else None

    def sources(self) -> dict[str, SourceState]:
        """Every recorded source of the collection, by path."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT source, file_hash, fingerprint, chunk_ids, converter, tenant, name "
                "FROM sources WHERE collection = ?",
                (self.collection,),
            ).fetchall()
        return {row[0]: _state(row) for row in rows}

    def pending(self) -> list[SourceState]:
        """The changes begun and not committed: the intended state of each source."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT source, file_hash, fingerprint, chunk_ids, converter, tenant, name "
                "FROM pending WHERE collection = ? ORDER BY source",
                (self.collection,),
            ).fetchall()
        return [_state(row) for row in rows]

    def begin(self, changes: Iterable[SourceState]) -> None:
        """Journal the intended state of sources before their chunks are written or deleted."""
        with self._connect() as db:
            db.executemany(
                "INSERT OR REPLACE INTO pending (collection, source, file_hash, fingerprint, "
                "chunk_ids, converter, tenant, name) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        self.collection,
                        c.source,
                        c.file_hash,
                        c.fingerprint,
                        json.dumps(sorted(c.chunk_ids)),
                        c.converter,
                        c.tenant,
                        c.name,
                    )
                    for c in changes
                ],
            )

    def commit(self, sources: Iterable[str]) -> None:
        """Make the journaled state of `sources` the recorded one, in one transaction."""
        sources = list(sources)
        marks = ",".join("?" * len(sources))
        with self._connect() as db:
            where = f"collection = ? AND source IN ({marks})"
            db.execute(f"DELETE FROM sources WHERE {where}", (self.collection, *sources))
            db.execute(
                "INSERT INTO sources (collection, source, file_hash, fingerprint, chunk_ids, "
                "converter, tenant, updated, name) SELECT collection, source, file_hash, "
                f"fingerprint, chunk_ids, converter, tenant, ?, name FROM pending WHERE {where} "
                "AND file_hash IS NOT NULL",
                (time.time(), self.collection, *sources),
            )
            db.execute(f"DELETE FROM pending WHERE {where}", (self.collection, *sources))

    def abandon(self, source: str) -> None:
        """Drop a pending change after its new-only chunks were removed from the store.

        The recorded chunks stay, but the source is marked for re-ingestion: some of them may
        have been rewritten by the abandoned change.
        """
        with self._connect() as db:
            db.execute(
                "UPDATE sources SET file_hash = '' WHERE collection = ? AND source = ?",
                (self.collection, source),
            )
            db.execute(
                "DELETE FROM pending WHERE collection = ? AND source = ?",
                (self.collection, source),
            )

    def adopt(self, states: Iterable[SourceState]) -> None:
        """Record sources found in a store that predates the manifest (a one-time migration)."""
        states = list(states)
        self.begin(states)
        self.commit(s.source for s in states)

    def drop(self) -> None:
        """Forget the collection: its model, sources and pending changes (for a rebuild)."""
        with self._connect() as db:
            for table in ("collections", "sources", "pending"):
                db.execute(f"DELETE FROM {table} WHERE collection = ?", (self.collection,))

    def _connect(self):
        """A connection with the schema up to date; commits on success, always closes.

        WAL keeps a committed transaction durable across a killed process and lets readers
        (docent ask) go on while an ingest writes.
        """
        return connect(self.path, _MIGRATIONS, ["journal_mode = WAL", "synchronous = FULL"])


def _state(row: tuple) -> SourceState:
    source, file_hash, fingerprint, ids, converter, tenant, name = row
    return SourceState(
        source, file_hash, fingerprint, frozenset(json.loads(ids)), converter, tenant, name
    )
