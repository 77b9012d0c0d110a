"""The support backend over HTTP: a session keeps the conversation, a follow-up is read in it,
and a handoff reaches the webhook and the API with the conversation it hands over."""

import json
from pathlib import Path

import httpx
import pytest

from tests.pipelines.support_queries import SUPPORT_QUESTIONS
from tests.servers import post_recorder, running_app

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def webhook():
    """A help desk's webhook on loopback that records what it is sent."""
    with post_recorder("/hooks/docent", status=204) as (url, bodies):
        yield url, bodies


@pytest.fixture(scope="module")
def support(tmp_path_factory, webhook, monkeypatch_module):
    from pipelines.config import load_settings
    from pipelines.query.pipeline import QAPipeline
    from pipelines.service.app import create_app

    monkeypatch_module.setenv("DOCENT_DATA_DIR", str(tmp_path_factory.mktemp("support")))
    settings = load_settings(REPO / "configs" / "support.yaml")
    settings = settings.model_copy(
        update={"handoff": settings.handoff.model_copy(update={"webhook_url": webhook[0]})}
    )
    indexer = settings.open_indexer()
    try:
        indexer.ingest([REPO / "samples" / "support"])
    finally:
        indexer.close()
    app = create_app(lambda: QAPipeline.from_settings(settings), open_access=True)
    with running_app(app) as base:
        yield base


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def ask(base, question, session_id):
    response = httpx.post(
        f"{base}/v1/ask", json={"question": question, "session_id": session_id}, timeout=120
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_a_conversation_reads_follow_ups_in_context_and_hands_over(support, webhook):
    base = support
    session_id = httpx.post(f"{base}/v1/sessions").json()["session_id"]
    question, page, fact = SUPPORT_QUESTIONS[0]
    first = ask(base, question, session_id)
    # Answered with a span of the page, or an honest abstention quoting it.
    assert first["decision"] in ("pass", "abstain") and fact in first["answer"]
    assert first["conversation"] is None

    follow_up = ask(base, "And what if it has expired?", session_id)
    assert follow_up["conversation"]["follow_up_of"] == question
    assert "password reset link" in follow_up["conversation"]["read_as"]
    assert follow_up["citations"] and follow_up["citations"][0]["source"].endswith(page)

    handed = ask(base, "I want to talk to a human, my email is jane@example.com", session_id)
    assert handed["decision"] == "handoff"
    ticket = handed["handoff"]
    assert ticket["session_id"] == session_id
    [delivered] = [t for t in map(json.loads, webhook[1]) if t["id"] == ticket["id"]]
    assert delivered["session_id"] == session_id and "jane@" not in delivered["question"]

    shown = httpx.get(f"{base}/v1/handoffs/{ticket['id']}").json()
    turns = shown["conversation"]["turns"]
    assert [t["question"] for t in turns][:2] == [question, "And what if it has expired?"]
    assert len(turns) == 3 and turns[2]["decision"] == "handoff"
    assert ticket["id"] in [t["id"] for t in httpx.get(f"{base}/v1/handoffs").json()]
    assert httpx.get(f"{base}/v1/sessions/{session_id}").json()["turns"] == turns


def test_unknown_sessions_and_tickets_are_404(support):
    missing = httpx.post(
        f"{support}/v1/ask", json={"question": "Hi", "session_id": "nope"}, timeout=60
    )
    assert missing.status_code == 404 and "/v1/sessions" in missing.json()["detail"]
    assert httpx.get(f"{support}/v1/sessions/nope").status_code == 404
    assert httpx.get(f"{support}/v1/handoffs/nope").status_code == 404


def test_chat_messages_are_the_conversation_without_a_session(support):
    question, page, _ = SUPPORT_QUESTIONS[0]
    body = httpx.post(
        f"{support}/v1/chat/completions",
        json={
            "messages": [
                {"role": "user", "content": question},
                {"role": "assistant", "content": "30 minutes."},
                {"role": "user", "content": "And what if it has expired?"},
            ]
        },
        timeout=120,
    ).json()
    assert body["docent"]["conversation"]["follow_up_of"] == question
