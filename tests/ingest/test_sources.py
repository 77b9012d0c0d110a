"""Odd file-system entries are reported with their real reason, never skipped or followed."""

import os
from pathlib import Path

import pytest

from ingest.sources import SIDECAR_SUFFIX, find_sources
from pipelines.config import Settings


@pytest.fixture()
def odd_folder(tmp_path) -> Path:
    """A folder with one good file and every kind of entry that is not a file to ingest."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.md").write_text("# Good\n\nThe office opens at 8:00.\n", encoding="utf-8")
    (tmp_path / "secret.md").write_text("# Secret\n\nNot part of the folder.\n")
    os.mkfifo(folder / "pipe")
    (folder / "loop").symlink_to(folder / "loop")
    (folder / "broken.md").symlink_to(folder / "nowhere.md")
    (folder / "null").symlink_to("/dev/null")
    (folder / "escape.md").symlink_to(tmp_path / "secret.md")
    (folder / "same.md").symlink_to(folder / "good.md")  # inside: found once, as good.md
    return folder


def test_each_odd_entry_is_refused_with_its_reason(odd_folder):
    found = find_sources([odd_folder])
    assert [found.names[f] for f in found.files] == ["docs/good.md"]
    reasons = {name: reason for name, reason in found.refused.values()}
    assert set(reasons) == {
        "docs/pipe",
        "docs/loop",
        "docs/broken.md",
        "docs/null",
        "docs/escape.md",
    }
    assert "named pipe (FIFO)" in reasons["docs/pipe"]
    assert "loops back on itself" in reasons["docs/loop"]
    assert "does not exist" in reasons["docs/broken.md"]
    assert "character device (through a link)" in reasons["docs/null"]
    assert "parsing.follow_outside_links" in reasons["docs/escape.md"]


def test_links_out_of_the_folder_are_followed_only_when_allowed(odd_folder):
    found = find_sources([odd_folder], follow_outside_links=True)
    assert sorted(found.names[f] for f in found.files) == ["docs/escape.md", "docs/good.md"]


def test_a_fifo_named_directly_is_not_called_missing(odd_folder):
    found = find_sources([odd_folder / "pipe", odd_folder / "absent.md"])
    assert found.missing == [odd_folder / "absent.md"]
    assert "named pipe (FIFO)" in found.refused[odd_folder / "pipe"][1]


def test_the_ingest_reports_them_as_failed_and_ingests_the_rest(tmp_path, odd_folder):
    indexer = Settings(data_dir=tmp_path / "data").open_indexer()
    try:
        report = indexer.ingest([odd_folder, odd_folder / "pipe"])
    finally:
        indexer.close()
    assert report.count("ingested") == 1
    failed = {f.name: f.reason for f in report.failures}
    # The pipe, named twice (in the folder and directly), is one entry.
    assert set(failed) == {
        "docs/pipe",
        "docs/loop",
        "docs/broken.md",
        "docs/null",
        "docs/escape.md",
    }
    assert all(reason for reason in failed.values())


def test_a_file_whose_sidecar_name_would_be_too_long_is_ingested(tmp_path):
    folder = tmp_path / "long"
    folder.mkdir()
    name = "n" * (253 - len(".md")) + ".md"
    assert len(name) == 253 and len(name + SIDECAR_SUFFIX) > 255
    (folder / name).write_text("# Long\n\nA legal file name of 253 bytes.\n", encoding="utf-8")
    indexer = Settings(data_dir=tmp_path / "data").open_indexer()
    try:
        report = indexer.ingest([folder])
    finally:
        indexer.close()
    assert report.failures == [] and report.count("ingested") == 1
