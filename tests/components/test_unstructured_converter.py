"""UnstructuredConverter on real files of each format."""

from pathlib import Path

import pytest

from components.converters.unstructured_converter import UnstructuredConverter
from tests.components.helpers import round_trip
from tests.corpus import write_bad_files, write_corpus


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("corpus"))


def test_every_format_of_the_corpus_gives_elements_in_order(files):
    result = UnstructuredConverter().run(sources=list(files.values()))
    assert result["failures"] == []
    by_file = {}
    for document in result["documents"]:
        by_file.setdefault(document.meta["file_type"], []).append(document)
    assert set(by_file) == {"md", "pdf", "docx", "html", "pptx", "xlsx", "txt", "csv"}
    for elements in by_file.values():
        indexes = [e.meta["element_index"] for e in elements]
        assert indexes == sorted(indexes) and all(e.content.strip() for e in elements)
    assert "Rotterdam" in " ".join(e.content for e in by_file["docx"])
    assert any(e.meta["category"] == "Table" for e in by_file["xlsx"])


def test_pdf_headings_are_found_and_pages_kept(files):
    elements = UnstructuredConverter().run(sources=[files["warranty.pdf"]])["documents"]
    titles = [(e.content, e.meta["title_depth"]) for e in elements if e.meta["category"] == "Title"]
    assert titles == [("Espresso Machine Warranty", 0), ("Coverage", 1), ("Exclusions", 1)]
    assert {e.meta["page_number"] for e in elements} == {1, 2}


def test_markdown_heading_attributes_are_dropped(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Install { #install }\n\nRun the installer.\n")
    elements = UnstructuredConverter().run(sources=[page])["documents"]
    assert elements[0].content == "Install" and elements[0].meta["category"] == "Title"


def test_unreadable_files_fail_with_a_reason_each(tmp_path):
    bad = write_bad_files(tmp_path)
    result = UnstructuredConverter().run(sources=list(bad.values()))
    assert result["documents"] == []
    reasons = {f["source"].rsplit("/", 1)[1]: f["reason"] for f in result["failures"]}
    assert reasons.keys() == bad.keys()
    assert reasons["locked.pdf"].startswith("the PDF is encrypted")


def test_a_pdf_protected_only_by_an_owner_password_is_read(tmp_path, files):
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=str(files["warranty.pdf"]))
    writer.encrypt(user_password="", owner_password="owner")
    with (tmp_path / "restricted.pdf").open("wb") as f:
        writer.write(f)
    result = UnstructuredConverter().run(sources=[tmp_path / "restricted.pdf"])
    assert result["failures"] == []
    assert "27 months" in " ".join(d.content for d in result["documents"])


def test_round_trip():
    restored, data = round_trip(UnstructuredConverter(languages=["eng", "deu"]))
    assert data["init_parameters"] == {"pdf_strategy": "fast", "languages": ["eng", "deu"]}
    assert restored.languages == ["eng", "deu"]


def test_only_the_fast_strategy_is_accepted():
    with pytest.raises(ValueError, match="pdf_strategy"):
        UnstructuredConverter(pdf_strategy="hi_res")


EXAMPLE_DOCS = Path(__file__).resolve().parents[3] / "shared" / "data" / "example_docs"


@pytest.mark.skipif(not EXAMPLE_DOCS.is_dir(), reason="../shared/data/example_docs is absent")
@pytest.mark.parametrize(
    "name", ["fake-doc.rtf", "fake-email.eml", "fake-email.msg", "fake.odt", "winter-sports.epub"]
)
def test_real_files_of_the_other_formats_give_text(name):
    result = UnstructuredConverter().run(sources=[EXAMPLE_DOCS / name])
    assert result["failures"] == []
    assert sum(len(d.content) for d in result["documents"]) > 20
