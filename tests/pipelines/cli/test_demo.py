"""The main job of `make demo`: the sample handbook's questions are answered with citations."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
# The questions `make demo` asks, the fact each answer must hold, and the file it must cite.
DEMO = [
    ("How many days per week can employees work remotely?", "three", "remote-work-policy.md"),
    ("Within how many days must expense reports be submitted?", "30 days", "expense-policy.pdf"),
    ("What is the minimum length of a password?", "14", "security-guidelines.docx"),
]


@pytest.fixture(scope="module")
def handbook_qa(tmp_path_factory):
    from pipelines.config import Settings
    from pipelines.query.pipeline import QAPipeline

    settings = Settings(data_dir=tmp_path_factory.mktemp("demo"))
    indexer = settings.open_indexer()
    try:
        indexer.ingest([REPO / "samples" / "handbook"])
    finally:
        indexer.close()
    qa = QAPipeline.from_settings(settings)
    yield qa
    qa.close()


@pytest.mark.parametrize(("question", "fact", "file_name"), DEMO)
def test_demo_questions_are_answered_and_cited(handbook_qa, question, fact, file_name):
    answer = handbook_qa.ask(question)
    # A span the model picked, shown in the documents' words, or an honest abstention that
    # quotes the sentence holding the fact: the fact is shown and cited either way.
    assert answer.decision in ("pass", "abstain"), answer.verification
    if answer.decision == "abstain":
        assert answer.verification["abstain_reason"] == "unverified"
    assert fact in answer.answer
    assert Path(answer.citations[0].source).name == file_name
