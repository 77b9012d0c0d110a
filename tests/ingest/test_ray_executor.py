"""Parsing as Ray tasks on a local Ray instance: the same chunks as the local pool, and the
same treatment of files that hang, crash or break the parser."""

from pathlib import Path

import pytest

from ingest.ray_executor import RayParsePool
from pipelines.config import Settings
from tests.corpus import write_corpus
from tests.ingest.parsers import MisbehavingParser
from tests.ingest.test_indexing import EXPECTED_CHUNKS

# Slow: each test starts a local Ray instance and its worker processes.
pytestmark = pytest.mark.slow


def test_an_ingest_on_ray_gives_the_same_chunks(tmp_path):
    import ray

    corpus = write_corpus(tmp_path / "corpus")
    settings = Settings(data_dir=tmp_path / "data", parsing={"executor": "ray", "workers": 2})
    indexer = settings.open_indexer()
    try:
        report = indexer.ingest([tmp_path / "corpus"])
        assert ray.is_initialized()
        assert {Path(f.source).name: f.chunks for f in report.files} == EXPECTED_CHUNKS
        assert indexer.audit() == {"missing": [], "orphaned": [], "pending": []}
        again = indexer.ingest([corpus["brewing.md"]])
        assert again.count("unchanged") == 1
    finally:
        indexer.close()
    assert not ray.is_initialized()


def test_hanging_crashing_and_buggy_files_are_reported(tmp_path):
    names = ["a.md", "hang.md", "crash.md", "bug.md", "b.md"]
    # The limit counts from submission: a new Ray worker first starts its parser process.
    with RayParsePool(MisbehavingParser(), workers=2, timeout=20) as pool:
        results = {Path(r.source).name: r for r in pool.parse(tmp_path / n for n in names)}
    assert set(results) == set(names)
    assert "longer than 20 s" in results["hang.md"].reason
    assert "crashed" in results["crash.md"].reason
    assert "KeyError" in results["bug.md"].reason
    assert results["a.md"].reason == results["b.md"].reason == ""


def test_a_task_has_the_memory_limit_of_a_local_worker(tmp_path):
    names = ["a.md", "hog.md", "b.md"]
    with RayParsePool(MisbehavingParser(), workers=1, timeout=30, memory_mb=2048) as pool:
        results = {Path(r.source).name: r for r in pool.parse(tmp_path / n for n in names)}
    assert "more than 2048 MB" in results["hog.md"].reason
    assert results["a.md"].reason == results["b.md"].reason == ""
