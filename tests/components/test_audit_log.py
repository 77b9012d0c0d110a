"""AuditLog: one row per answer with its decision, scores, models, cost and timings."""

import json
import sqlite3

from components.gates.audit_log import AuditLog


def _answer(trace_id: str, decision: str, **extra) -> dict:
    return {
        "trace_id": trace_id,
        "question": "How long is the warranty?",
        "decision": decision,
        "intent": {"name": "question"},
        "route": "rag",
        "model": "gemma-3-270m",
        "citations": [{"score": 0.71}, {"score": 0.52}],
        "verification": {"score": 0.83},
        "cost": 0.0002,
        "tokens": {"prompt": 310, "completion": 12},
        "timings": {"total": 1.25},
        **extra,
    }


def test_decisions_are_recorded_and_listed_newest_first(tmp_path):
    log = AuditLog(path=tmp_path / "audit" / "audit.sqlite")
    assert log.recent() == []
    log.record(_answer("t1", "pass"))
    log.record(_answer("t2", "abstain", citations=[], verification={"score": 0.1}))
    first, second = log.recent()
    assert (first["trace_id"], first["decision"], first["verification_score"]) == (
        "t2",
        "abstain",
        0.1,
    )
    assert first["retrieval_score"] is None
    assert second["retrieval_score"] == 0.71 and second["intent"] == "question"
    assert (second["prompt_tokens"], second["completion_tokens"], second["seconds"]) == (
        310,
        12,
        1.25,
    )
    # The whole trace is kept for later inspection.
    with sqlite3.connect(log.path) as db:
        record = json.loads(
            db.execute("SELECT record FROM decisions WHERE trace_id='t1'").fetchone()[0]
        )
    assert record["citations"][0]["score"] == 0.71
    assert log.recent(1)[0]["trace_id"] == "t2"
