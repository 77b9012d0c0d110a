"""Evaluation set loaders: docent's JSON Lines, SQuAD v1, BEIR, intents."""

import json
from pathlib import Path

import pytest

from components.errors import ConfigError
from evaluation.datasets import load_beir, load_intents, load_jsonl, load_squad

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def test_jsonl_items_and_errors(tmp_path):
    path = tmp_path / "eval.jsonl"
    path.write_text(
        json.dumps({"question": "How long?", "reference": "27 months", "reference_ids": [3]})
        + "\n"
        + json.dumps({"id": "b", "question": "Where?", "reference": ["Rotterdam", "NL"]})
        + "\n"
    )
    first, second = load_jsonl(path)
    assert (first.id, first.references, first.reference_ids) == ("1", ("27 months",), ("3",))
    assert (second.id, second.references) == ("b", ("Rotterdam", "NL"))
    path.write_text('{"reference": "x"}\n')
    with pytest.raises(ConfigError, match='line 1: expected a JSON object with "question"'):
        load_jsonl(path)


def test_jsonl_key_answers_and_unanswerable_questions(tmp_path):
    path = tmp_path / "eval.jsonl"
    lines = [
        {"question": "How long?", "answers": ["27 months", "twenty-seven months"]},
        {"question": "Who is the CEO?", "unanswerable": True},
        {"question": "Where?", "reference": "Rotterdam", "answers": "Rotterdam"},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    keyed, unanswerable, both = load_jsonl(path)
    assert keyed.answers == ("27 months", "twenty-seven months") and not keyed.unanswerable
    assert unanswerable.unanswerable and unanswerable.answers == ()
    assert both.answers == ("Rotterdam",) and both.references == ("Rotterdam",)
    for bad in (
        {"question": "Q", "unanswerable": True, "answers": ["x"]},
        {"question": "Q", "answers": [""]},
        {"question": "Q", "unanswerable": "yes"},
    ):
        path.write_text(json.dumps(bad) + "\n")
        with pytest.raises(ConfigError, match="line 1"):
            load_jsonl(path)


def test_beir_and_intent_files(tmp_path):
    (tmp_path / "corpus.jsonl").write_text(
        '{"_id": "d1", "title": "T", "text": "one"}\n{"_id": "d2", "text": "two"}\n'
    )
    (tmp_path / "queries.jsonl").write_text(
        '{"_id": "q1", "text": "one?"}\n{"_id": "q2", "text": "x"}\n'
    )
    (tmp_path / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    beir = load_beir(tmp_path)
    assert beir.queries == {"q1": "one?"} and beir.qrels == {"q1": {"d1": 1}}
    assert beir.corpus["d2"] == {"title": "", "text": "two"}
    with pytest.raises(ConfigError, match="cannot read .*missing.corpus.jsonl"):
        load_beir(tmp_path / "missing")
    (tmp_path / "intents.json").write_text('{"train": [["hi", "greet"]]}')
    assert load_intents(tmp_path / "intents.json", "train") == [("hi", "greet")]
    with pytest.raises(ConfigError, match="choose a split: train"):
        load_intents(tmp_path / "intents.json")


@pytest.mark.skipif(not (DATA / "xquad_en").is_dir(), reason="../shared/data is absent")
def test_the_shared_sets_load():
    items, paragraphs = load_squad(DATA / "xquad_en" / "squad_v1.json")
    assert len(items) == 612 and len(paragraphs) == 120
    assert all(item.reference_ids[0] in paragraphs and item.references for item in items)
    scifact = load_beir(DATA / "scifact")
    assert len(scifact.corpus) == 5183 and len(scifact.queries) == 809
