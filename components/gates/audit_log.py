"""The audit log: every answer's gate decision with its scores, models, cost and timings."""

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from components.sqlite_schema import connect

# Forward-only migrations; `PRAGMA user_version` records how many have run.
_MIGRATIONS = [
    """CREATE TABLE decisions (
        trace_id TEXT PRIMARY KEY,
        created REAL NOT NULL,
        question TEXT NOT NULL,
        decision TEXT NOT NULL,
        intent TEXT,
        route TEXT,
        model TEXT,
        retrieval_score REAL,
        verification_score REAL,
        cost REAL NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        seconds REAL,
        record TEXT NOT NULL
    )""",
    "CREATE INDEX decisions_created ON decisions (created)",
    "ALTER TABLE decisions ADD COLUMN tenant TEXT",
    "ALTER TABLE decisions ADD COLUMN feedback TEXT",
    "ALTER TABLE decisions ADD COLUMN feedback_comment TEXT",
    "ALTER TABLE decisions ADD COLUMN feedback_at REAL",
]
RATINGS = ("up", "down")


class AuditLog:
    """Appends one row per answered request to a SQLite file; `recent` reads them back.

    Usage:
    ```python
    log = AuditLog(path=data_dir / "audit.sqlite")
    log.record(answer.to_dict())
    log.recent(10)[0]["decision"]      # "pass", "abstain", "handoff", ...
    log.feedback(answer.trace_id, "up")  # a person's rating, stored with the decision
    ```
    """

    def __init__(self, *, path: Path) -> None:
        """Use the SQLite file at `path`, created with its folder on the first record."""
        self.path = Path(path)

    def record(self, answer: dict[str, Any], tenant: str | None = None) -> None:
        """Store an answer's decision: the fields to query by, and the whole trace as JSON.

        :param tenant: whose request it was; only that tenant may rate it.
        """
        verification = answer.get("verification") or {}
        retrieval = answer.get("retrieval") or {}
        scores = [c["score"] for c in answer.get("citations", []) if c.get("score") is not None]
        if retrieval.get("top_similarity") is not None:
            scores = [retrieval["top_similarity"]]
        intent = answer.get("intent") or {}
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO decisions VALUES "
                "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,NULL,NULL,NULL)",
                (
                    answer["trace_id"],
                    time.time(),
                    answer["question"],
                    answer["decision"],
                    intent.get("name"),
                    answer.get("route"),
                    answer.get("model"),
                    max(scores) if scores else None,
                    verification.get("score"),
                    answer.get("cost", 0.0),
                    answer["tokens"]["prompt"],
                    answer["tokens"]["completion"],
                    answer.get("timings", {}).get("total"),
                    json.dumps(answer, ensure_ascii=False, default=str),
                    tenant,
                ),
            )

    def feedback(
        self, trace_id: str, rating: str, comment: str = "", tenant: str | None = None
    ) -> bool:
        """Store a rating ("up" or "down") and comment with a recorded answer; a later rating
        replaces an earlier one.

        :param tenant: the rater's tenant: only an answer of that tenant can be rated (None:
            any answer).
        :returns: False when no answer with this trace id is recorded (for that tenant).
        """
        if rating not in RATINGS:
            raise ValueError(f"rating must be one of {', '.join(RATINGS)} (got {rating!r})")
        if not self.path.exists():
            return False
        with self._connect() as db:
            cursor = db.execute(
                "UPDATE decisions SET feedback = ?, feedback_comment = ?, feedback_at = ? "
                "WHERE trace_id = ? AND (? IS NULL OR tenant = ?)",
                (rating, comment, time.time(), trace_id, tenant, tenant),
            )
        return cursor.rowcount == 1

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest `limit` decisions, newest first, as dicts of the queryable fields."""
        if not self.path.exists():
            return []
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(
                "SELECT * FROM decisions ORDER BY created DESC LIMIT ?", (limit,)
            ).fetchall()
        return [{k: row[k] for k in row.keys() if k != "record"} for row in rows]

    def _connect(self):
        return connect(self.path, _MIGRATIONS)
