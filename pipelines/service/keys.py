"""API keys for `docent serve`: stored hashed, each with scopes and an optional tenant."""

import hashlib
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from components.errors import ConfigError
from components.sqlite_schema import connect

SCOPES = ("ask", "ingest", "admin")
# Look-ups remembered at most (unknown keys included), before the memory starts afresh.
_REMEMBERED = 4096
PREFIX = "dk_"
_MIGRATIONS = [
    """CREATE TABLE keys (
        id TEXT PRIMARY KEY,
        hash TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        tenant TEXT,
        scopes TEXT NOT NULL,
        created REAL NOT NULL,
        revoked REAL
    )""",
]


@dataclass(frozen=True)
class Caller:
    """Who a request comes from: the key's id, its tenant (None: every chunk) and scopes."""

    key_id: str | None
    tenant: str | None
    scopes: frozenset[str]
    # The local operator: the CLI on the server's machine, with the token of `serve.json`.
    operator: bool = False

    def allows(self, scope: str) -> bool:
        """Whether the key may use `scope` ("admin" may use every scope)."""
        return scope in self.scopes or "admin" in self.scopes

    @property
    def queue(self) -> str:
        """Whose turn a request waits for: its key (callers of an open service share one)."""
        return self.key_id or "open"


OPEN = Caller(None, None, frozenset(SCOPES))
OPERATOR = Caller("operator", None, frozenset({"admin"}), operator=True)


class KeyStore:
    """API keys in a SQLite file: only a SHA-256 hash of each key is kept, never the key.

    Keys are 32 random bytes (`dk_` + URL-safe base64), so a plain hash is enough: there is
    nothing to guess. A key with a tenant only ever searches that tenant's chunks; a key
    without one searches every chunk (a single-team deployment).

    Look-ups are remembered until the file changes (any create or revoke, from any process,
    changes it), so a flood of requests costs a `stat` each, and a revoked key is refused at
    once.

    Usage:
    ```python
    store = KeyStore(data_dir / "keys.sqlite")
    key_id, key = store.create("help desk", scopes=["ask"], tenant="acme")  # show key once
    store.check(key)   # Caller(key_id, "acme", {"ask"}), or None for an unknown/revoked key
    ```
    """

    def __init__(self, path: Path) -> None:
        """Use the SQLite file at `path` (created with the first key)."""
        self.path = Path(path)
        self._seen: dict[str, Caller | None] = {}
        self._version: tuple[int, int, int] | None = None
        self._lock = threading.Lock()

    def create(self, name: str, scopes: list[str], tenant: str | None = None) -> tuple[str, str]:
        """A new key: its id (for listing and revoking) and the key itself, shown only now.

        Raises:
            ConfigError: an unknown scope, or no scope.
        """
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown or not scopes:
            raise ConfigError(
                f"scopes must be some of {', '.join(SCOPES)} (got {', '.join(scopes) or 'none'})"
            )
        if tenant is not None and not tenant.strip():
            raise ConfigError("the tenant must not be empty; leave it out for every chunk")
        key = PREFIX + secrets.token_urlsafe(32)
        key_id = secrets.token_hex(4)
        with connect(self.path, _MIGRATIONS) as db:
            db.execute(
                "INSERT INTO keys VALUES (?,?,?,?,?,?,NULL)",
                (key_id, _hash(key), name, tenant, ",".join(sorted(set(scopes))), time.time()),
            )
        return key_id, key

    def check(self, key: str) -> Caller | None:
        """The caller a presented key belongs to, or None when it is unknown or revoked."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        digest = _hash(key)
        version = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        with self._lock:
            if version != self._version or len(self._seen) >= _REMEMBERED:
                self._seen, self._version = {}, version
            if digest in self._seen:
                return self._seen[digest]
        with connect(self.path, _MIGRATIONS) as db:
            row = db.execute(
                "SELECT id, tenant, scopes FROM keys WHERE hash = ? AND revoked IS NULL",
                (digest,),
            ).fetchone()
        caller = None if row is None else Caller(row[0], row[1], frozenset(row[2].split(",")))
        with self._lock:
            if version == self._version:
                self._seen[digest] = caller
        return caller

    def ever_held(self) -> bool:
        """Whether the store has ever held a key, revoked or not: once it has, the service
        stays closed, so revoking the last key never opens it."""
        if not self.path.exists():
            return False
        with connect(self.path, _MIGRATIONS) as db:
            return db.execute("SELECT 1 FROM keys LIMIT 1").fetchone() is not None

    def list(self) -> list[dict]:
        """Every key's id, name, tenant, scopes, creation and revocation time (never a key)."""
        if not self.path.exists():
            return []
        with connect(self.path, _MIGRATIONS) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(
                "SELECT id, name, tenant, scopes, created, revoked FROM keys ORDER BY created"
            ).fetchall()
        return [dict(row) for row in rows]

    def revoke(self, key_id: str) -> bool:
        """Revoke a key by id; False when no active key has that id."""
        with connect(self.path, _MIGRATIONS) as db:
            cursor = db.execute(
                "UPDATE keys SET revoked = ? WHERE id = ? AND revoked IS NULL",
                (time.time(), key_id),
            )
        return cursor.rowcount == 1


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
