"""Ingest jobs of `docent serve`, kept in SQLite so that they survive a restart."""

import json
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from components.sqlite_schema import connect

_MIGRATIONS = [
    """CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        tenant TEXT,
        caller TEXT NOT NULL,
        files TEXT NOT NULL,
        status TEXT NOT NULL,
        created REAL NOT NULL,
        finished REAL,
        summary TEXT,
        error TEXT
    )""",
]
UNFINISHED = ("queued", "running")


@dataclass
class JobFile:
    """One file of a job: the name people see, where it is ingested from, and, for an upload,
    where it waits until the job runs (`staged`; None for a server-side path)."""

    name: str
    path: str
    staged: str | None = None


@dataclass
class IngestJob:
    """An ingest job: queued, running, done or failed, with its summary."""

    id: str
    tenant: str | None
    caller: str
    files: list[JobFile]
    status: str = "queued"
    created: float = field(default_factory=time.time)
    finished: float | None = None
    summary: dict[str, Any] | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """What a client sees: names, never server paths, and not who queued it."""
        record = asdict(self)
        record["files"] = [f.name for f in self.files]
        del record["caller"]
        return record


class JobStore:
    """Ingest jobs in a SQLite file: a job is recorded before it is queued and updated as it
    runs, so a server that stops with jobs queued or running resumes them when it starts.

    Usage:
    ```python
    jobs = JobStore(data_dir / "jobs.sqlite")
    job = IngestJob(uuid4().hex, "acme", "key-id", [JobFile("faq.md", "/srv/.../faq.md")])
    jobs.add(job)
    job.status = "done"; jobs.update(job)
    jobs.get(job.id, "acme"); jobs.unfinished()
    ```
    """

    def __init__(self, path: Path) -> None:
        """Use the SQLite file at `path` (created with the first job)."""
        self.path = Path(path)

    def add(self, job: IngestJob) -> None:
        """Record a new job."""
        with self._connect() as db:
            db.execute(
                "INSERT INTO jobs (id, tenant, caller, files, status, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (job.id, job.tenant, job.caller, _files(job.files), job.status, job.created),
            )

    def update(self, job: IngestJob) -> None:
        """Store the job's status, summary and error."""
        with self._connect() as db:
            db.execute(
                "UPDATE jobs SET status = ?, finished = ?, summary = ?, error = ? WHERE id = ?",
                (
                    job.status,
                    job.finished,
                    None if job.summary is None else json.dumps(job.summary),
                    job.error,
                    job.id,
                ),
            )

    def delete(self, job_id: str) -> None:
        """Forget a job that was never queued."""
        with self._connect() as db:
            db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def get(self, job_id: str, tenant: str | None) -> IngestJob | None:
        """A job by id, when it is the tenant's (a caller without a tenant sees all)."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        job = None if row is None else _job(row)
        return job if job is not None and tenant in (None, job.tenant) else None

    def unfinished(self) -> list[IngestJob]:
        """The jobs left queued or running, oldest first."""
        with self._connect() as db:
            rows = db.execute(
                f"SELECT * FROM jobs WHERE status IN {UNFINISHED} ORDER BY created"
            ).fetchall()
        return [_job(row) for row in rows]

    def _connect(self):
        return connect(self.path, _MIGRATIONS, ["journal_mode = WAL", "synchronous = FULL"])


def _files(files: list[JobFile]) -> str:
    return json.dumps([asdict(f) for f in files])


def _job(row: sqlite3.Row | tuple) -> IngestJob:
    job_id, tenant, caller, files, status, created, finished, summary, error = row
    return IngestJob(
        job_id,
        tenant,
        caller,
        [JobFile(**f) for f in json.loads(files)],
        status,
        created,
        finished,
        None if summary is None else json.loads(summary),
        error,
    )
