"""Support conversations: a session keeps its turns in SQLite, so follow-ups read in context."""

import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

from components.sqlite_schema import connect
from pipelines.answer import Answer

_MIGRATIONS = [
    """CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        tenant TEXT,
        created REAL NOT NULL
    )""",
    """CREATE TABLE turns (
        session_id TEXT NOT NULL REFERENCES sessions (id),
        number INTEGER NOT NULL,
        created REAL NOT NULL,
        question TEXT NOT NULL,
        read_as TEXT NOT NULL,
        answer TEXT NOT NULL,
        decision TEXT NOT NULL,
        trace_id TEXT NOT NULL,
        PRIMARY KEY (session_id, number)
    )""",
]
HISTORY_TURNS = 5


class SessionStore:
    """Conversations in a SQLite file: each session belongs to one tenant and lists its turns.

    Usage:
    ```python
    sessions = SessionStore(data_dir / "sessions.sqlite")
    session_id = sessions.create(tenant="acme")
    answer = qa.ask(question, tenant="acme", history=sessions.history(session_id, "acme"))
    sessions.append(session_id, answer)
    sessions.get(session_id, "acme")["turns"]
    ```
    """

    def __init__(self, path: Path) -> None:
        """Use the SQLite file at `path` (created with the first session)."""
        self.path = Path(path)

    def create(self, tenant: str | None = None) -> str:
        """A new, empty session of `tenant`; its id."""
        session_id = uuid.uuid4().hex
        with connect(self.path, _MIGRATIONS) as db:
            db.execute("INSERT INTO sessions VALUES (?, ?, ?)", (session_id, tenant, time.time()))
        return session_id

    def exists(self, session_id: str, tenant: str | None) -> bool:
        """Whether the session exists and `tenant` may use it (a caller without a tenant may
        use any)."""
        if not self.path.exists():
            return False
        with connect(self.path, _MIGRATIONS) as db:
            row = db.execute(
                "SELECT 1 FROM sessions WHERE id = ? AND (? IS NULL OR tenant IS ?)",
                (session_id, tenant, tenant),
            ).fetchone()
        return row is not None

    def history(self, session_id: str, limit: int = HISTORY_TURNS) -> list[str]:
        """The last `limit` questions of the session as they were read, oldest first."""
        with connect(self.path, _MIGRATIONS) as db:
            rows = db.execute(
                "SELECT read_as FROM turns WHERE session_id = ? ORDER BY number DESC LIMIT ?",
                (session_id, limit),
            ).fetchall()
        return [row[0] for row in reversed(rows)]

    def append(self, session_id: str, answer: Answer) -> None:
        """Add an answered turn to the session."""
        read_as = (answer.conversation or {}).get("read_as", answer.question)
        with connect(self.path, _MIGRATIONS) as db:
            # Numbered in the one statement that inserts it: turns of one session answered at
            # once on several threads each take the next number (SQLite writes one at a time).
            db.execute(
                "INSERT INTO turns SELECT ?, COALESCE(MAX(number), 0) + 1, ?, ?, ?, ?, ?, ? "
                "FROM turns WHERE session_id = ?",
                (
                    session_id,
                    time.time(),
                    answer.question,
                    read_as,
                    answer.answer,
                    answer.decision,
                    answer.trace_id,
                    session_id,
                ),
            )

    def get(self, session_id: str, tenant: str | None) -> dict[str, Any] | None:
        """The session with its turns, or None when unknown or another tenant's."""
        if not self.exists(session_id, tenant):
            return None
        with connect(self.path, _MIGRATIONS) as db:
            db.row_factory = sqlite3.Row
            session = db.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
            turns = db.execute(
                "SELECT number, created, question, read_as, answer, decision, trace_id "
                "FROM turns WHERE session_id = ? ORDER BY number",
                (session_id,),
            ).fetchall()
        return {
            "session_id": session_id,
            "created": session["created"],
            "turns": [dict(turn) for turn in turns],
        }
