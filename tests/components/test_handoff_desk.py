"""HandoffDesk: tickets are stored first, then posted to a real webhook on loopback."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from components.routing.handoff_desk import HandoffDesk


class Webhook:
    """A help desk on loopback that records what it receives and answers `status`."""

    def __init__(self, status=201):
        received = self.received = []
        self.status = status
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["content-length"])
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(owner.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/handoff"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.close()


def test_a_ticket_is_stored_and_delivered(tmp_path, webhook):
    desk = HandoffDesk(path=tmp_path / "h.sqlite", webhook_url=webhook.url)
    ticket = desk.open_ticket(
        question="I want a human", intent="talk_to_human", reason="asked", trace_id="t1"
    )
    assert ticket.webhook_status == "delivered (HTTP 201)"
    assert webhook.received == [ticket.to_dict() | {"webhook_status": "pending"}]
    assert [t.id for t in desk.tickets()] == [ticket.id]
    assert desk.tickets()[0].webhook_status == "delivered (HTTP 201)"


def test_a_failing_help_desk_never_loses_the_ticket(tmp_path, webhook):
    webhook.status = 503
    desk = HandoffDesk(path=tmp_path / "h.sqlite", webhook_url=webhook.url)
    first = desk.open_ticket(question="help", intent=None, reason="r", trace_id=None)
    webhook.close()
    second = desk.open_ticket(question="again", intent=None, reason="r", trace_id=None)
    assert first.webhook_status == "failed: HTTP 503"
    assert second.webhook_status == "failed: ConnectError"
    assert {t.question for t in desk.tickets()} == {"help", "again"}


def test_without_a_webhook_tickets_are_only_stored(tmp_path):
    desk = HandoffDesk(path=tmp_path / "sub" / "h.sqlite")
    ticket = desk.open_ticket(question="q", intent="x", reason="r", trace_id=None)
    assert ticket.webhook_status == "not configured"
    with pytest.raises(ValueError, match="http"):
        HandoffDesk(path=tmp_path / "h.sqlite", webhook_url="ftp://desk")
