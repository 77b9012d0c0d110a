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
    check_task,
    check_workers,
    document_items,
    load_questions,
    make_task,
)
from pipelines.config import load_settings
from tests.cli import docent
from tests.corpus import QUESTIONS

REPO = Path(__file__).resolve().parents[3]


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


def test_a_generative_model_summarises_and_extracts_in_its_own_words(
    tmp_path, generative_qa, corpus_dir
):
    items = [i for i in document_items([corpus_dir]) if i[0] in ("shipping.docx", "brewing.md")]
    assert [i[0] for i in items] == ["brewing.md", "shipping.docx"]
    summarise = make_task("summarise", generative_qa)
    summary = summarise(items[0][1])
    assert summary["summary"] and summary["model"] == "gemma-3-270m"
    schema = {
        "type": "object",
        "properties": {"warehouse_city": {"type": ["string", "null"]}},
        "required": ["warehouse_city"],
    }
    extracted = make_task("extract", generative_qa, schema=schema)(items[1][1])
    assert set(extracted["data"]) == {"warehouse_city"}
    with pytest.raises(ConfigError, match="intents"):
        make_task("classify", generative_qa)(items[0][1])


EXPENSES = REPO / "samples" / "handbook" / "expense-policy.pdf"
SCHEMA = {
    "type": "object",
    "properties": {
        "hotel_limit": {
            "type": ["number", "null"],
            "description": "The most a hotel room may cost per night, in euros",
        },
        "deadline": {
            "type": ["string", "null"],
            "description": "Within how many days expense reports must be submitted",
        },
        "ceo_name": {
            "type": ["string", "null"],
            "description": "The name of the chief executive officer",
        },
        "cost": {"type": ["string", "null"], "description": "The name of the finance portal"},
    },
}


def test_an_extractive_model_extracts_spans_of_the_document_or_null(qa):
    record = make_task("extract", qa, schema=SCHEMA)(EXPENSES)
    data = record["data"]
    # Each value is the document's own text, typed; a field it does not give is null, never
    # the schema's description.
    assert data["ceo_name"] is None
    descriptions = {spec["description"].lower() for spec in SCHEMA["properties"].values()}
    for name, value in data.items():
        if value is None:
            continue
        assert str(value).lower() not in descriptions
        sentence = record["evidence"][name]["sentence"]
        assert str(value).removesuffix(".0") in sentence, (name, value, sentence)
        assert record["evidence"][name]["page"] >= 1
    assert data["hotel_limit"] in (None, 160)
    assert data["deadline"] in (None, "30 days", "30")
    assert sum(v is not None for v in data.values()) >= 1, "nothing extracted"


def test_an_extractive_summary_is_the_documents_central_sentences_in_order(qa):
    leave = REPO / "samples" / "handbook" / "leave-policy.md"
    record = make_task("summarise", qa)(leave)
    assert record["model"] is None and len(record["sentences"]) == 3
    text = " ".join(leave.read_text(encoding="utf-8").split())
    positions = [text.find(s["text"]) for s in record["sentences"]]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), positions
    assert record["summary"] == " ".join(s["text"] for s in record["sentences"])
    # A PDF's summary says on which page each sentence is.
    pdf = make_task("summarise", qa)(EXPENSES)
    assert all(s["page"] >= 1 for s in pdf["sentences"])
    assert f"{pdf['sentences'][0]['text']} (p. {pdf['sentences'][0]['page']})" in pdf["summary"]


def test_each_schema_field_gets_its_own_csv_column(tmp_path):
    env = {**os.environ, "DOCENT_DATA_DIR": str(tmp_path / "data")}
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA))
    out = tmp_path / "fields.csv"
    args = ["batch", "extract", "--quiet", "--schema", str(schema), "-o", str(out)]
    result = docent(*args, str(EXPENSES), env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    (row,) = list(csv.DictReader(out.open()))
    # "cost" is a column of the task's own: the schema's field of that name is prefixed.
    assert list(row) == ["id", "hotel_limit", "deadline", "ceo_name", "data.cost", "model", "cost"]
    assert row["id"] == "expense-policy.pdf" and row["ceo_name"] == ""


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


def test_ids_are_paths_below_the_common_root_of_the_given_paths(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder / "sub").mkdir(parents=True)
        (tmp_path / folder / "readme.md").write_text(f"# {folder}\n")
    (tmp_path / "a" / "sub" / "notes.md").write_text("# notes\n")
    a, b = tmp_path / "a", tmp_path / "b"
    ids = [i for i, _ in document_items([a, b])]
    assert ids == ["a/readme.md", "a/sub/notes.md", "b/readme.md"]
    assert [i for i, _ in document_items([a])] == ["readme.md", "sub/notes.md"]
    assert [i for i, _ in document_items([a / "readme.md"])] == ["readme.md"]
    two_files = document_items([a / "readme.md", a / "sub" / "notes.md"])
    assert [i for i, _ in two_files] == ["readme.md", "sub/notes.md"]


def test_classify_needs_intents_but_no_routes_and_keeps_same_named_files_apart(tmp_path):
    env = {**os.environ, "DOCENT_DATA_DIR": str(tmp_path / "data")}
    config = tmp_path / "classify.yaml"
    config.write_text(
        "intents:\n"
        "  examples:\n"
        "    billing: [I was charged twice, refund my payment, my invoice is wrong]\n"
        "    login: [I cannot log in, reset my password, my account is locked]\n"
    )
    for folder, text in (("a", "I was charged twice for my plan."), ("b", "I cannot log in.")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "ticket.md").write_text(text + "\n")
    out = tmp_path / "intents.jsonl"
    args = ["batch", "classify", "--json", "--quiet", "--config", str(config), "-o", str(out)]
    paths = [str(tmp_path / "a"), str(tmp_path / "b")]
    result = docent(*args, *paths, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["done"] == 2
    intents = {r["id"]: r["intent"] for r in map(json.loads, out.read_text().splitlines())}
    assert intents == {"a/ticket.md": "billing", "b/ticket.md": "login"}
    # The same paths resume: their ids are the same.
    again = docent(*args, *paths, env=env, timeout=300)
    assert json.loads(again.stdout)["already_done"] == 2
    # Answering follows an intent's route: there the missing routes are named.
    ask = docent("ask", "--config", str(config), "Refund please", env=env, timeout=300)
    assert ask.returncode == 2
    assert "no route for the intents 'billing', 'login'; add routes.billing" in ask.stderr


def test_extract_refuses_a_schema_without_fields(qa):
    with pytest.raises(ConfigError, match='the schema has no "properties"'):
        check_task("extract", qa, {"type": "object"})
    check_task("extract", qa, SCHEMA)
    check_task("summarise", qa)
