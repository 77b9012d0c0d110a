"""Batch jobs with the real pipeline: questions, summaries, extraction, classification."""

import csv
import json
import os
from pathlib import Path

import pytest

from components.errors import ConfigError
from ingest.batch_runner import BatchRunner
from pipelines.batch import (
    FIELDS,
    check_workers,
    document_items,
    load_questions,
    make_task,
)
from pipelines.config import load_settings
from tests.cli import docent
from tests.corpus import QUESTIONS

REPO = Path(__file__).resolve().parents[2]


def test_questions_are_answered_with_citations_and_resumed(tmp_path, qa):
    questions = list(QUESTIONS.items())[:2]
    source = tmp_path / "questions.jsonl"
    source.write_text(
        "".join(
            json.dumps({"id": f"q{n}", "question": q}) + "\n" for n, (q, _) in enumerate(questions)
        )
    )
    items = load_questions(source)
    out = tmp_path / "answers.jsonl"
    runner = BatchRunner(out, fields=FIELDS["ask"])
    report = runner.run(items[:1], make_task("ask", qa))
    assert report.done == 1
    report = runner.run(items, make_task("ask", qa))
    assert (report.done, report.already_done) == (1, 1)
    records = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    for n, (_, (fact, file_name)) in enumerate(questions):
        record = records[f"q{n}"]
        assert fact in record["answer"]
        assert Path(record["citations"][0]["source"]).name == file_name


def test_documents_are_summarised_and_fields_extracted(tmp_path, qa, corpus_dir):
    items = [i for i in document_items([corpus_dir]) if i[0] in ("shipping.docx", "brewing.md")]
    assert [i[0] for i in items] == ["brewing.md", "shipping.docx"]
    summarise = make_task("summarise", qa)
    summary = summarise(items[0][1])
    assert summary["summary"] and summary["model"] == "gemma-3-270m"
    schema = {
        "type": "object",
        "properties": {"warehouse_city": {"type": ["string", "null"]}},
        "required": ["warehouse_city"],
    }
    extracted = make_task("extract", qa, schema=schema)(items[1][1])
    assert set(extracted["data"]) == {"warehouse_city"}
    with pytest.raises(ConfigError, match="intents"):
        make_task("classify", qa)(items[0][1])


def test_bad_inputs_say_what_to_do(tmp_path):
    bad = tmp_path / "questions.jsonl"
    bad.write_text('{"id": 1, "question": "ok?"}\n{"q": "no question key"}\n')
    with pytest.raises(ConfigError, match='line 2: expected a JSON object with "question"'):
        load_questions(bad)
    with pytest.raises(ConfigError, match="no such file or folder"):
        document_items([tmp_path / "missing"])
    with pytest.raises(ConfigError, match="--workers 2.*gemma-3-270m"):
        check_workers(load_settings(None), 2)


def test_batch_classify_from_the_command_line_resumes(tmp_path):
    env = {**os.environ, "DOCENT_DATA_DIR": str(tmp_path / "data")}
    out = tmp_path / "intents.csv"
    support = REPO / "samples" / "support"
    first_two = sorted(support.iterdir())[:2]

    def run(*paths) -> dict:
        args = ["batch", "classify", "--json", "--quiet", "-o", str(out)]
        result = docent(
            *args,
            "--config",
            str(REPO / "configs/support.yaml"),
            *map(str, paths),
            env=env,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    assert run(*first_two)["done"] == 2
    summary = run(support)
    assert (summary["done"], summary["already_done"], summary["failed"]) == (2, 2, 0)
    rows = list(csv.DictReader(out.open()))
    assert sorted(r["id"] for r in rows) == sorted(p.name for p in support.iterdir())
    assert all(r["intent"] and 0 <= float(r["confidence"]) <= 1 for r in rows)
