"""The same question on the same store gets the same answer in every process.

Each `docent ask` runs in a fresh process, as a user (or a cron job) would run it: nothing
carries over between them but the data directory.
"""

import json
import shutil
from pathlib import Path

from tests.cli import docent

SAMPLES = Path(__file__).resolve().parents[3] / "samples"
QUESTIONS = [
    "How many days per week can employees work remotely?",
    "What is the minimum length of a password?",
    "Within how many days must expense reports be submitted?",
]
# What legitimately differs between two runs of the same question.
RUN_FIELDS = {"trace_id", "timings", "seconds"}


def _without_run_fields(value):
    if isinstance(value, dict):
        return {k: _without_run_fields(v) for k, v in value.items() if k not in RUN_FIELDS}
    if isinstance(value, list):
        return [_without_run_fields(v) for v in value]
    return value


def _ask(env: dict, questions: list[str]) -> dict[str, dict]:
    result = docent("ask", "--json", *questions, env=env)
    assert result.returncode == 0, result.stderr
    answers = [_without_run_fields(json.loads(line)) for line in result.stdout.splitlines()]
    return {answer["question"]: answer for answer in answers}


def _ingest(env: dict, folder: Path) -> None:
    result = docent("ingest", "--json", str(folder), env=env)
    assert result.returncode == 0, result.stderr


def test_fresh_processes_answer_alike_and_an_unrelated_edit_changes_nothing(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DOCENT_DATA_DIR": str(tmp_path / "data")}
    handbook = shutil.copytree(SAMPLES / "handbook", tmp_path / "handbook")
    _ingest(env, handbook)

    first = _ask(env, QUESTIONS)
    assert all(a["citations"] for a in first.values()), "the questions must be answerable"
    # Another process, the questions in another order (a model's cache must not leak
    # from one question into the next), and a third like the first.
    assert _ask(env, QUESTIONS[::-1]) == first
    assert _ask(env, QUESTIONS) == first

    # An edit of a file that none of the questions is about, re-ingested.
    leave = handbook / "leave-policy.md"
    leave.write_text(
        leave.read_text(encoding="utf-8") + "\n\n## Sabbaticals\n\nAfter five years of "
        "service, employees may take an unpaid sabbatical of up to three months.\n",
        encoding="utf-8",
    )
    _ingest(env, handbook)
    assert _ask(env, QUESTIONS) == first
