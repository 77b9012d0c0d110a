"""Crash safety: SIGKILL a real `docent ingest` while it parses, embeds, writes or prunes,
run it again, and require exactly the chunks a clean run gives, with the manifest agreeing."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from pipelines.config import load_settings

DOCENT = Path(sys.executable).with_name("docent")
# Enough pages that an ingest is still running when the kill comes (Markdown parses fast).
FILES = 48
TOPICS = ["pumps", "boilers", "grinders", "filters", "kettles", "scales", "tampers", "cups"]


def _write_corpus(folder: Path, files: int, version: int) -> None:
    """`files` Markdown pages of three sections each; `version` changes every third page."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(files):
        edit = version if n % 3 == 0 else 0
        topic = TOPICS[n % len(TOPICS)]
        sections = "\n\n".join(
            f"## {topic.title()} part {part}\n\n"
            f"Page {n} explains {topic} in revision {edit}, part {part}. "
            + " ".join(
                f"Step {step}: check the {topic} seal number {n * 10 + step}." for step in range(8)
            )
            for part in range(3 + edit)
        )
        (folder / f"page-{n:02d}.md").write_text(f"# Guide {n}\n\n{sections}\n")


def _config(tmp_path: Path, name: str) -> Path:
    config = tmp_path / f"{name}.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(tmp_path / name),
                "embedding": {"write_batch": 24},
                "parsing": {"workers": 1},
            }
        )
    )
    return config


def _ingest_in_process(config: Path, corpus: Path, prune: bool = False) -> dict:
    indexer = load_settings(config).open_indexer()
    try:
        report = indexer.ingest([corpus], prune=prune)
        assert not report.failures, report.failures
        documents = indexer.store.filter_documents()
        recorded = {i for state in indexer.manifest.sources().values() for i in state.chunk_ids}
        return {
            # What a chunk is, independent of where the corpus folder lies.
            "chunks": {
                (d.meta["file_name"], d.meta["chunk_index"], d.meta["content_hash"])
                for d in documents
            },
            "ids": {d.id for d in documents},
            "count": len(documents),
            "recorded": recorded,
            "audit": indexer.audit(),
        }
    finally:
        indexer.close()


def _recover(config: Path) -> int:
    """Settle what a killed run left, without ingesting; the store must then agree with the
    manifest source by source. Returns how many journaled changes there were."""
    indexer = load_settings(config).open_indexer()
    try:
        settled = indexer.recover()
        assert indexer.audit() == {"missing": [], "orphaned": [], "pending": []}
        by_source: dict[str, set[str]] = {}
        for document in indexer.store.filter_documents():
            by_source.setdefault(document.meta["source"], set()).add(document.id)
        recorded = {s: set(state.chunk_ids) for s, state in indexer.manifest.sources().items()}
        assert by_source == {s: ids for s, ids in recorded.items() if ids}
        return settled
    finally:
        indexer.close()


def _kill_during(config: Path, corpus: Path, marker: str, delay: float, prune: bool) -> bool:
    """Start `docent ingest`; SIGKILL it `delay` s after `marker` appears in its log.

    Returns whether the kill happened before the run finished on its own.
    """
    env = {**os.environ, "DOCENT_LOG_LEVEL": "INFO"}
    args = [str(DOCENT), "ingest", "--quiet", "--config", str(config), str(corpus)]
    process = subprocess.Popen(
        args + (["--prune"] if prune else []),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    seen = threading.Event()

    def watch() -> None:
        for line in process.stderr:
            if marker in line:
                seen.set()
        seen.set()

    threading.Thread(target=watch, daemon=True).start()
    assert seen.wait(timeout=300), f"no {marker!r} in the log"
    time.sleep(delay)
    killed = process.poll() is None
    # The whole group: the parser workers and their fork server die with the ingest.
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    return killed


@pytest.fixture(scope="module")
def expected(tmp_path_factory):
    """The chunks of clean ingests of the corpus: FILES pages, then one fewer in version 2."""
    base = tmp_path_factory.mktemp("clean")
    result = {}
    for version, files in ((1, FILES), (2, FILES - 1)):
        corpus = base / f"corpus-{version}"
        _write_corpus(corpus, files=files, version=version)
        result[version] = _ingest_in_process(_config(base, f"v{version}"), corpus)["chunks"]
    return result


def _check(state: dict, expected: set) -> None:
    assert state["chunks"] == expected
    assert state["count"] == len(expected)  # no chunk twice under two ids
    assert state["recorded"] == state["ids"]
    assert state["audit"] == {"missing": [], "orphaned": [], "pending": []}


@pytest.mark.parametrize(
    ("marker", "delay", "journaled"),
    [
        ("Parsing", 1.0, False),  # parser workers busy, nothing written yet
        ("Embedding", 0.05, True),  # a batch journaled and being embedded (24 take ~0.25 s)
        ("Writing", 0.0, True),  # a batch being written to Qdrant
        ("Recorded", 0.0, None),  # between two batches
    ],
)
def test_a_killed_first_ingest_is_completed_exactly_by_the_next_run(
    tmp_path, expected, marker, delay, journaled
):
    corpus = tmp_path / "corpus"
    _write_corpus(corpus, files=FILES, version=1)
    config = _config(tmp_path, "data")
    assert _kill_during(config, corpus, marker, delay, prune=False)
    settled = _recover(config)
    if journaled is not None:
        assert bool(settled) == journaled
    _check(_ingest_in_process(config, corpus), expected[1])


@pytest.mark.parametrize(
    ("marker", "delay", "journaled"),
    [
        ("Embedding", 0.05, True),  # changed files journaled, their new chunks not yet written
        ("Writing", 0.0, True),  # new chunks being written, stale ones not yet deleted
        ("Writing", 0.4, None),  # later: deleting stale chunks, the next batch, or pruning
    ],
)
def test_a_killed_update_with_prune_ends_with_the_new_chunks_only(
    tmp_path, expected, marker, delay, journaled
):
    corpus = tmp_path / "corpus"
    _write_corpus(corpus, files=FILES, version=1)
    config = _config(tmp_path, "data")
    _ingest_in_process(config, corpus)
    _write_corpus(corpus, files=FILES - 1, version=2)  # every third page changes
    (corpus / f"page-{FILES - 1:02d}.md").unlink()  # and one page goes away
    assert _kill_during(config, corpus, marker, delay, prune=True)
    settled = _recover(config)
    if journaled is not None:
        assert bool(settled) == journaled
    _check(_ingest_in_process(config, corpus, prune=True), expected[2])
