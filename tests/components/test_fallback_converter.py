"""FallbackConverter: Haystack's converters read what unstructured cannot."""

from pathlib import Path

import pytest

from components.converters.fallback_converter import FallbackConverter
from components.converters.unstructured_converter import UnstructuredConverter
from tests.components.helpers import round_trip
from tests.corpus import write_corpus

EXAMPLE_DOCS = Path(__file__).resolve().parents[3] / "shared" / "data" / "example_docs"


def test_a_utf16_csv_that_unstructured_cannot_read_is_read(tmp_path):
    path = tmp_path / "cups.csv"
    path.write_text("team,year\nRangers,1994\nOilers,1990\n", encoding="utf-16")
    assert UnstructuredConverter().run(sources=[path])["failures"]
    result = FallbackConverter().run(sources=[path])
    assert result["converter"] == "CSVToDocument"
    (document,) = result["documents"]
    assert "Rangers,1994" in document.content
    assert document.meta["source"] == str(path) and document.meta["file_type"] == "csv"


def test_pdf_pages_become_paragraphs_with_page_numbers(tmp_path):
    files = write_corpus(tmp_path)
    result = FallbackConverter().run(sources=[files["warranty.pdf"]])
    assert result["converter"] == "PyPDFToDocument"
    pages = {d.meta["page_number"] for d in result["documents"]}
    assert pages == {1, 2}
    assert "27 months" in " ".join(
        d.content for d in result["documents"] if d.meta["page_number"] == 1
    )
    assert [d.meta["element_index"] for d in result["documents"]] == list(
        range(len(result["documents"]))
    )


def test_types_without_a_fallback_give_nothing(tmp_path):
    (tmp_path / "notes.md").write_text("# Notes\n\nSome text.\n")
    assert FallbackConverter().run(sources=[tmp_path / "notes.md"]) == {
        "documents": [],
        "converter": "",
    }


def test_round_trip():
    restored, data = round_trip(FallbackConverter())
    assert data["init_parameters"] == {} and isinstance(restored, FallbackConverter)


@pytest.mark.slow  # a long real PDF read twice (unstructured, then the fallback): ~4 s
@pytest.mark.skipif(not EXAMPLE_DOCS.is_dir(), reason="../shared/data/example_docs is absent")
def test_a_text_pdf_unstructured_skips_as_too_complex_is_read():
    path = EXAMPLE_DOCS / "pdf" / "failure-after-repair.pdf"
    assert UnstructuredConverter().run(sources=[path])["failures"][0]["kind"] == "no_text"
    result = FallbackConverter().run(sources=[path])
    assert sum(len(d.content) for d in result["documents"]) > 50_000
