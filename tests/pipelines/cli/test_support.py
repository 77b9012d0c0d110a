"""The customer-support preset end to end through the command line, offline."""

import json
from pathlib import Path

import pytest

from tests.pipelines.cli.test_cli import docent, offline_env  # noqa: F401  (a fixture)
from tests.pipelines.support_queries import SUPPORT_QUESTIONS

REPO = Path(__file__).resolve().parents[3]
SUPPORT = str(REPO / "configs" / "support.yaml")


@pytest.fixture()
def support_env(offline_env):  # noqa: F811
    """A fresh data directory holding the ingested support help centre."""
    env = {**offline_env, "DOCENT_CONFIG": SUPPORT}
    ingest = docent("ingest", "--quiet", str(REPO / "samples" / "support"), env=env)
    assert ingest.returncode == 0, ingest.stderr
    return env


def test_every_route_of_the_support_preset(support_env):
    question, page, fact = SUPPORT_QUESTIONS[0]
    messages = [
        "I would like to talk to a real person please, write me at jane.doe@example.com",
        "What's the weather in Paris?",
        "Hi there!",
        question,
    ]
    result = docent("ask", "--json", *messages, env=support_env)
    assert result.returncode == 0, result.stderr
    human, weather, hello, answered = (json.loads(line) for line in result.stdout.splitlines())

    assert human["intent"]["name"] == "talk_to_human" and human["decision"] == "handoff"
    assert human["handoff"]["webhook_status"] == "not configured"
    assert "jane.doe" not in human["handoff"]["question"], "personal data is masked in tickets"

    assert weather["intent"]["name"] == "out_of_scope" and weather["decision"] == "refuse"
    assert weather["models_tried"] == [] and weather["cost"] == 0

    assert hello["intent"]["name"] == "small_talk" and hello["decision"] == "direct"
    assert hello["answer"] and hello["model"] == "gemma-3-270m"

    assert answered["intent"]["name"] == "account_access" and answered["route"] == "rag"
    # Answered with a span of the page, or an honest abstention quoting it: cited either way.
    assert answered["decision"] in ("pass", "abstain") and fact in answered["answer"]
    assert Path(answered["citations"][0]["source"]).name == page
    if answered["decision"] == "pass":
        assert answered["verification"]["score"] >= answered["verification"]["threshold"]
    else:
        assert answered["verification"]["abstain_reason"] == "unverified"

    tickets = docent("handoffs", "--json", env=support_env)
    assert tickets.returncode == 0, tickets.stderr
    [ticket] = json.loads(tickets.stdout)
    assert ticket["id"] == human["handoff"]["id"] and "[EMAIL]" in ticket["question"]


def test_trace_output_names_the_route_and_models(support_env):
    result = docent("ask", "--trace", "How tall is the Eiffel Tower?", env=support_env)
    assert result.returncode == 0, result.stderr
    assert "Sorry, I can only help with Acme Cloud Notes" in result.stdout
    assert "route: refuse; decision: refuse" in result.stdout


def test_all_models_down_is_a_clear_error_without_a_traceback(tmp_path, offline_env):  # noqa: F811
    config = tmp_path / "down.yaml"
    config.write_text(
        "models:\n"
        "  remote:\n"
        "    provider: openai\n"
        "    base_url: http://127.0.0.1:9/v1\n"
        "    model: gpt-4o-mini\n"
        "    retries: 0\n"
        "routes:\n"
        "  question:\n"
        "    type: direct\n"
    )
    result = docent("ask", "--config", str(config), "Hello?", env=offline_env)
    assert result.returncode == 1
    assert "no model could answer (remote: connection" in result.stderr
    assert "Traceback" not in result.stderr
