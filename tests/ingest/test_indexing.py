"""Ingestion end to end: real files, real unstructured, real MiniLM, real Qdrant local mode."""

import shutil
from pathlib import Path

import pytest

from ingest.freshness import stale_sources
from pipelines.config import Settings
from tests.corpus import write_bad_files, write_corpus

# Chunks per file of the test corpus. Each title opens a chunk and every section is far below
# the 200-token budget, so a file gives one chunk per section that has body text.
EXPECTED_CHUNKS = {
    "brewing.md": 3,  # intro, Water temperature, Grind size
    "warranty.pdf": 2,  # title + Coverage, Exclusions (page 2)
    "shipping.docx": 2,  # title + Dispatch, Returns
    "loyalty.html": 2,  # title + Earning beans, Redeeming beans
    "roasting.pptx": 2,  # one per slide
    "prices.xlsx": 1,  # one table
    "faq.txt": 1,
    "contacts.csv": 1,  # one table
}


def _indexer(data_dir: Path):
    settings = Settings(data_dir=data_dir)
    return settings.open_indexer()


@pytest.fixture()
def indexer(tmp_path):
    indexer = _indexer(tmp_path / "data")
    yield indexer
    indexer.close()


def _stored(indexer) -> dict[str, list]:
    by_file: dict[str, list] = {}
    for document in indexer.store.filter_documents():
        by_file.setdefault(Path(document.meta["source"]).name, []).append(document)
    return by_file


def test_ingest_writes_the_expected_chunks_with_metadata(ingested, corpus_dir):
    _, report = ingested
    assert report.count("failed") == 0, report.failures
    assert {Path(f.source).name: f.chunks for f in report.files} == EXPECTED_CHUNKS
    assert report.chunks_written == sum(EXPECTED_CHUNKS.values())


def test_chunks_carry_source_type_page_section_hash_and_time(tmp_path, indexer):
    corpus = write_corpus(tmp_path / "corpus")
    indexer.ingest([corpus["warranty.pdf"], corpus["brewing.md"], corpus["shipping.docx"]])
    stored = _stored(indexer)
    pdf = sorted(stored["warranty.pdf"], key=lambda d: d.meta["chunk_index"])
    assert [d.meta["page"] for d in pdf] == [1, 2]
    assert pdf[0].meta["section"] == "Espresso Machine Warranty > Coverage"
    assert "27 months" in pdf[0].content
    md = sorted(stored["brewing.md"], key=lambda d: d.meta["chunk_index"])
    assert [d.meta["section"] for d in md] == [
        "Brewing Guide",
        "Brewing Guide > Water temperature",
        "Brewing Guide > Grind size",
    ]
    assert "page" not in md[0].meta
    docx = stored["shipping.docx"]
    assert {d.meta["section"] for d in docx} == {
        "Shipping Policy > Dispatch",
        "Shipping Policy > Returns",
    }
    for document in pdf + md + docx:
        meta = document.meta
        assert meta["source"] == str(Path(corpus[meta["file_name"]]).resolve())
        assert meta["file_type"] == meta["file_name"].rsplit(".", 1)[1]
        assert len(meta["content_hash"]) == 64 and meta["ingested_at"].startswith("20")
        assert 0 < meta["tokens"] <= 200


def test_second_ingest_adds_nothing_and_keeps_the_same_ids(tmp_path, indexer):
    corpus_dir = tmp_path / "corpus"
    write_corpus(corpus_dir)
    first = indexer.ingest([corpus_dir])
    ids = {d.id for d in indexer.store.filter_documents()}
    second = indexer.ingest([corpus_dir])
    assert second.count("unchanged") == len(EXPECTED_CHUNKS)
    assert second.chunks_written == 0 and second.chunks_removed == 0
    assert {d.id for d in indexer.store.filter_documents()} == ids
    assert len(ids) == first.chunks_written == sum(EXPECTED_CHUNKS.values())


def test_a_file_ingested_from_scratch_gets_the_same_ids(tmp_path, indexer):
    corpus = write_corpus(tmp_path / "corpus")
    indexer.ingest([corpus["brewing.md"]])
    ids = {d.id for d in indexer.store.filter_documents()}
    other = _indexer(tmp_path / "other")
    try:
        other.ingest([corpus["brewing.md"]])
        assert {d.id for d in other.store.filter_documents()} == ids
    finally:
        other.close()


def test_chunks_deleted_behind_the_manifest_are_restored(tmp_path, indexer):
    corpus = write_corpus(tmp_path / "corpus")
    indexer.ingest([corpus["brewing.md"], corpus["faq.txt"]])
    ids = {d.id for d in indexer.store.filter_documents()}
    brewing = [
        d.id for d in indexer.store.filter_documents() if d.meta["file_name"] == "brewing.md"
    ]
    indexer.store.delete_documents(brewing[:1])
    report = indexer.ingest([corpus["brewing.md"], corpus["faq.txt"]])
    assert {Path(f.source).name: f.status for f in report.files} == {
        "brewing.md": "ingested",
        "faq.txt": "unchanged",
    }
    assert {d.id for d in indexer.store.filter_documents()} == ids
    assert indexer.audit() == {"missing": [], "orphaned": [], "pending": []}


def test_a_changed_file_replaces_its_chunks_and_leaves_no_stale_one(tmp_path, indexer):
    corpus = write_corpus(tmp_path / "corpus")
    brewing = corpus["brewing.md"]
    indexer.ingest([tmp_path / "corpus"])
    brewing.write_text(
        "# Brewing Guide\n\n## Water temperature\n\nBrew with water at 91 degrees Celsius.\n",
        encoding="utf-8",
    )
    report = indexer.ingest([tmp_path / "corpus"])
    assert report.count("ingested") == 1 and report.count("unchanged") == len(EXPECTED_CHUNKS) - 1
    stored = _stored(indexer)
    assert [d.content for d in stored["brewing.md"]] == [
        "Brewing Guide\nWater temperature\nBrew with water at 91 degrees Celsius."
    ]
    assert report.chunks_removed == 3
    assert sum(len(v) for v in stored.values()) == sum(EXPECTED_CHUNKS.values()) - 2


def test_bad_files_are_reported_and_the_good_ones_ingested(tmp_path, indexer):
    bad = write_bad_files(tmp_path / "batch")
    shutil.copy(write_corpus(tmp_path / "good")["brewing.md"], tmp_path / "batch" / "brewing.md")
    report = indexer.ingest([tmp_path / "batch", tmp_path / "missing-folder"])
    reasons = {Path(f.source).name: f.reason for f in report.failures}
    assert set(reasons) == set(bad) | {"missing-folder"}
    assert "empty" in reasons["empty.md"]
    assert "not a valid PDF" in reasons["random.pdf"]
    assert "encrypted" in reasons["locked.pdf"]
    assert "not a valid DOCX" in reasons["notes.docx"] and "ZIP" in reasons["notes.docx"]
    assert "unsupported file type '.xyz'" in reasons["drawing.xyz"]
    assert "no such file or folder" in reasons["missing-folder"]
    assert report.count("ingested") == 1
    assert set(_stored(indexer)) == {"brewing.md"}


def test_a_failing_file_keeps_what_was_stored_before(tmp_path, indexer):
    corpus = write_corpus(tmp_path / "corpus")
    indexer.ingest([corpus["shipping.docx"]])
    before = {d.id for d in indexer.store.filter_documents()}
    corpus["shipping.docx"].write_text("overwritten with plain text", encoding="utf-8")
    report = indexer.ingest([corpus["shipping.docx"]])
    assert report.count("failed") == 1
    assert {d.id for d in indexer.store.filter_documents()} == before


def test_prune_removes_the_chunks_of_files_gone_from_the_folder(tmp_path, indexer):
    corpus = write_corpus(tmp_path / "corpus")
    outside = tmp_path / "elsewhere" / "note.md"
    outside.parent.mkdir()
    outside.write_text("# Note\n\nKept: it was not ingested from the pruned folder.\n")
    indexer.ingest([tmp_path / "corpus", outside])
    corpus["brewing.md"].unlink()
    outside.unlink()

    kept = indexer.ingest([tmp_path / "corpus"])
    assert "brewing.md" in _stored(indexer), "without --prune nothing is removed"
    assert kept.count("removed") == 0

    pruned = indexer.ingest([tmp_path / "corpus"], prune=True)
    stored = _stored(indexer)
    assert "brewing.md" not in stored and "note.md" in stored
    assert [Path(f.source).name for f in pruned.files if f.status == "removed"] == ["brewing.md"]
    assert pruned.chunks_removed == EXPECTED_CHUNKS["brewing.md"]
    assert pruned.to_dict()["removed"] == 1 and pruned.count("unchanged") == 7


def test_prune_of_a_missing_folder_removes_nothing(tmp_path, indexer):
    corpus = write_corpus(tmp_path / "corpus")
    indexer.ingest([tmp_path / "corpus"])
    shutil.rmtree(tmp_path / "corpus")
    report = indexer.ingest([tmp_path / "corpus"], prune=True)
    assert report.count("removed") == 0 and len(_stored(indexer)) == len(corpus)
    assert report.failures[0].reason == "no such file or folder"


def test_an_emptied_file_loses_its_chunks_and_stays_recorded(tmp_path, indexer):
    corpus = write_corpus(tmp_path / "corpus")
    indexer.ingest([corpus["brewing.md"], corpus["faq.txt"]])
    corpus["brewing.md"].write_bytes(b"")

    report = indexer.ingest([tmp_path / "corpus"])
    emptied = [f for f in report.files if f.status == "emptied"]
    assert [Path(f.source).name for f in emptied] == ["brewing.md"]
    assert "empty" in emptied[0].reason and report.failures == []
    assert "brewing.md" not in _stored(indexer)
    assert report.chunks_removed == EXPECTED_CHUNKS["brewing.md"]
    assert stale_sources(indexer.manifest.sources().values()) == []

    again = indexer.ingest([corpus["brewing.md"]])
    assert [f.status for f in again.files] == ["unchanged"]


def test_deleted_failing_and_unreadable_files_are_named_with_what_to_do(tmp_path, indexer):
    corpus = write_corpus(tmp_path / "corpus")
    indexer.ingest([tmp_path / "corpus"])
    corpus["brewing.md"].unlink()
    corpus["shipping.docx"].write_text("overwritten with plain text", encoding="utf-8")
    corpus["faq.txt"].unlink()
    corpus["faq.txt"].mkdir()  # a file that can no longer be read, even by root

    report = indexer.ingest([tmp_path / "corpus"])
    by_name = {Path(f.source).name: f for f in report.files}
    gone = by_name["brewing.md"]
    assert gone.status == "gone" and gone.kept == EXPECTED_CHUNKS["brewing.md"]
    assert "--prune" in gone.reason
    failed = by_name["shipping.docx"]
    assert failed.status == "failed" and failed.kept == EXPECTED_CHUNKS["shipping.docx"]
    assert "still served" in failed.reason
    assert report.to_dict()["gone"] == 2  # faq.txt is no longer a file either

    stale = {Path(s.source).name: s for s in stale_sources(indexer.manifest.sources().values())}
    assert {name: s.problem for name, s in stale.items()} == {
        "brewing.md": "deleted",
        "shipping.docx": "changed",
        "faq.txt": "unreadable",
    }
    assert all("ingest" in s.advice for s in stale.values())
