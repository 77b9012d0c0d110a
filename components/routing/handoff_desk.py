"""Hand a conversation to a human: a ticket in SQLite and, if configured, a webhook call."""

import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from haystack import logging

from components.sqlite_schema import connect

logger = logging.getLogger(__name__)

# Forward-only migrations; `PRAGMA user_version` records how many have run.
_MIGRATIONS = [
    """CREATE TABLE handoffs (
        id TEXT PRIMARY KEY,
        created REAL NOT NULL,
        question TEXT NOT NULL,
        intent TEXT,
        reason TEXT NOT NULL,
        trace_id TEXT,
        webhook_status TEXT NOT NULL
    )""",
    "ALTER TABLE handoffs ADD COLUMN tenant TEXT",
    "ALTER TABLE handoffs ADD COLUMN session_id TEXT",
]


@dataclass
class HandoffTicket:
    """A recorded handoff; `webhook_status` is "not configured", "delivered (HTTP n)" or why
    delivery failed."""

    id: str
    created: float
    question: str
    intent: str | None
    reason: str
    trace_id: str | None
    webhook_status: str
    tenant: str | None = None
    session_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


class HandoffDesk:
    """Record handoffs to humans in a SQLite file and post each to a webhook when configured.

    The ticket is stored before the webhook is called, so a help desk that is down never loses
    a handoff: the ticket says the delivery failed, and can be listed and sent again.

    Usage:
    ```python
    desk = HandoffDesk(path=data_dir / "handoffs.sqlite", webhook_url="https://desk/hooks/x")
    ticket = desk.open_ticket(question="I want to talk to a person", intent="talk_to_human",
                              reason="asked for a human", trace_id="...")
    desk.tickets()   # newest first
    ```
    """

    def __init__(self, *, path: Path, webhook_url: str | None = None, timeout: float = 5.0):
        """Create the desk; the database is created on first use."""
        if webhook_url is not None and not webhook_url.startswith(("http://", "https://")):
            raise ValueError(f"webhook_url must be an http(s) URL (got {webhook_url!r})")
        self.path = Path(path)
        self.webhook_url = webhook_url
        self.timeout = timeout

    def open_ticket(
        self,
        *,
        question: str,
        intent: str | None,
        reason: str,
        trace_id: str | None,
        tenant: str | None = None,
        session_id: str | None = None,
    ) -> HandoffTicket:
        """Record a handoff, then deliver it to the webhook; returns the stored ticket.

        :param tenant: whose request it was; only that tenant sees the ticket through the API.
        :param session_id: the conversation handed over.
        """
        ticket = HandoffTicket(
            id=uuid.uuid4().hex,
            created=time.time(),
            question=question,
            intent=intent,
            reason=reason,
            trace_id=trace_id,
            webhook_status="not configured" if self.webhook_url is None else "pending",
            tenant=tenant,
            session_id=session_id,
        )
        with self._connect() as db:
            db.execute(
                "INSERT INTO handoffs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                tuple(asdict(ticket).values()),
            )
        if self.webhook_url is not None:
            ticket.webhook_status = self._deliver(ticket)
            with self._connect() as db:
                db.execute(
                    "UPDATE handoffs SET webhook_status = ? WHERE id = ?",
                    (ticket.webhook_status, ticket.id),
                )
        return ticket

    def tickets(self, limit: int = 100, tenant: str | None = None) -> list[HandoffTicket]:
        """The most recent tickets, newest first; of one tenant only when `tenant` is given."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM handoffs WHERE (? IS NULL OR tenant = ?) "
                "ORDER BY created DESC LIMIT ?",
                (tenant, tenant, limit),
            ).fetchall()
        return [HandoffTicket(*row) for row in rows]

    def ticket(self, ticket_id: str, tenant: str | None = None) -> HandoffTicket | None:
        """One ticket by id (None when unknown, or of another tenant than `tenant`)."""
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM handoffs WHERE id = ? AND (? IS NULL OR tenant = ?)",
                (ticket_id, tenant, tenant),
            ).fetchone()
        return HandoffTicket(*row) if row else None

    def _deliver(self, ticket: HandoffTicket) -> str:
        import httpx

        try:
            response = httpx.post(self.webhook_url, json=ticket.to_dict(), timeout=self.timeout)
        except httpx.HTTPError as e:
            # Documented fallback: the ticket is already stored; record why delivery failed.
            logger.warning("handoff webhook failed: {error}", error=repr(e))
            return f"failed: {type(e).__name__}"
        if response.is_success:
            return f"delivered (HTTP {response.status_code})"
        return f"failed: HTTP {response.status_code}"

    def _connect(self):
        """A connection with the schema up to date; commits on success, always closes."""
        return connect(self.path, _MIGRATIONS)
