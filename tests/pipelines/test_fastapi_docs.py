"""Acceptance on a realistic knowledge base: the FastAPI documentation (155 Markdown pages)."""

from pathlib import Path

import pytest

FASTAPI_DOCS = Path(__file__).resolve().parents[3] / "shared" / "data" / "fastapi_docs"


@pytest.mark.skipif(not FASTAPI_DOCS.is_dir(), reason="../shared/data/fastapi_docs is absent")
def test_path_parameter_question_cites_a_page_about_path_parameters(tmp_path):
    from pipelines.config import Settings
    from pipelines.qa import QAPipeline

    settings = Settings(data_dir=tmp_path)
    indexer = settings.open_indexer()
    try:
        report = indexer.ingest([FASTAPI_DOCS])
    finally:
        indexer.store.close()
    assert report.count("failed") == 0 and report.chunks_written > 1000
    qa = QAPipeline.from_settings(settings)
    try:
        answer = qa.ask("How do I declare a path parameter?")
    finally:
        qa.close()
    assert answer.citations, answer
    assert "path-params" in Path(answer.citations[0].source).name
    assert "path parameter" in answer.answer.lower()
