"""Shared fixtures: a corpus in several formats, ingested once into a real Qdrant local store."""

from pathlib import Path

import pytest

import components  # noqa: F401  (offline defaults before any model library loads)
from tests.corpus import write_corpus

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory) -> Path:
    """The test corpus, written once per session."""
    folder = tmp_path_factory.mktemp("corpus")
    write_corpus(folder)
    return folder


@pytest.fixture(scope="session")
def ingested(tmp_path_factory, corpus_dir):
    """Settings whose store holds the test corpus, and the report of its first ingest."""
    from pipelines.config import Settings

    settings = Settings(data_dir=tmp_path_factory.mktemp("data"))
    indexer = settings.open_indexer()
    try:
        report = indexer.ingest([corpus_dir])
    finally:
        indexer.close()
    return settings, report


@pytest.fixture(scope="session")
def qa(ingested):
    """A question-answering pipeline over the ingested test corpus."""
    from pipelines.qa import QAPipeline

    settings, _ = ingested
    pipeline = QAPipeline.from_settings(settings)
    yield pipeline
    pipeline.close()


@pytest.fixture(scope="session")
def generative_qa(qa):
    """The same store with the shipped model writing its answers (`generation: generative`):
    for tests of what surrounds a free-text answer (streaming drafts, evaluation scores), as a
    capable model behind an endpoint would write them."""
    from pipelines.config import Settings
    from pipelines.qa import QAPipeline

    settings = Settings.model_validate(
        {
            "data_dir": str(qa.settings.data_path),
            "models": {"gemma-3-270m": {"generation": "generative"}},
        }
    )
    yield QAPipeline(settings, qa.store)
