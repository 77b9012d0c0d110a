"""Acceptance on a realistic knowledge base: the FastAPI documentation (155 Markdown pages)."""

from pathlib import Path

import pytest

FASTAPI_DOCS = Path(__file__).resolve().parents[4] / "shared" / "data" / "fastapi_docs"


@pytest.mark.skipif(not FASTAPI_DOCS.is_dir(), reason="../shared/data/fastapi_docs is absent")
def test_fastapi_docs_retrieval_and_weak_answers_are_not_passed_off(tmp_path):
    from pipelines.config import Settings
    from pipelines.query.pipeline import QAPipeline

    settings = Settings(data_dir=tmp_path)
    indexer = settings.open_indexer()
    try:
        report = indexer.ingest([FASTAPI_DOCS])
    finally:
        indexer.close()
    assert report.count("failed") == 0 and report.chunks_written > 1000
    qa = QAPipeline.from_settings(settings)
    try:
        found = qa.search("How do I declare a path parameter?")
        # Whatever the 270M model answers to this one, an answer that fails verification is
        # not passed off: the reader gets the most relevant passage, cited, and is told so.
        echo = qa.ask("Which class do you raise to return an HTTP error response?")
    finally:
        qa.close()
    assert "path-params.md" in {Path(d.meta["source"]).name for d in found}
    verification = echo.verification
    if echo.decision == "pass":
        assert echo.citations and verification["score"] >= verification["threshold"]
    else:
        assert echo.decision == "abstain" and verification["abstain_reason"] == "unverified"
        assert echo.answer.startswith("I could not verify an answer")
        assert len(echo.citations) == 1 and verification["rejected"]["draft"]
        assert verification["score"] < verification["threshold"]
