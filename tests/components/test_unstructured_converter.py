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
    converter = UnstructuredConverter(languages=["eng", "deu"], max_zip_ratio=50)
    restored, data = round_trip(converter)
    assert data["init_parameters"] == {
        "pdf_strategy": "fast",
        "languages": ["eng", "deu"],
        "max_unzipped_mb": 500.0,
        "max_zip_ratio": 50,
    }
    assert restored.languages == ["eng", "deu"] and restored.max_zip_ratio == 50


def test_only_the_fast_strategy_is_accepted():
    with pytest.raises(ValueError, match="pdf_strategy"):
        UnstructuredConverter(pdf_strategy="hi_res")


EXAMPLE_DOCS = Path(__file__).resolve().parents[3] / "shared" / "data" / "example_docs"


@pytest.mark.skipif(not EXAMPLE_DOCS.is_dir(), reason="../shared/data/example_docs is absent")
@pytest.mark.parametrize(
    "name",
    [
        "fake-doc.rtf",
        "fake-email.eml",
        "fake-email.msg",
        "fake.odt",
        pytest.param("winter-sports.epub", marks=pytest.mark.slow),  # converted by pandoc: ~5 s
    ],
)
def test_real_files_of_the_other_formats_give_text(name):
    result = UnstructuredConverter().run(sources=[EXAMPLE_DOCS / name])
    assert result["failures"] == []
    assert sum(len(d.content) for d in result["documents"]) > 20


def test_an_email_with_an_image_attachment_gives_its_body(tmp_path):
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.com", "b@example.com", "Trip"
    message.set_content("The offsite moves to Porto on the 14th of March.")
    message.add_attachment(b"\x89PNG\r\n\x1a\n" + b"0" * 64, maintype="image", subtype="png")
    (tmp_path / "trip.eml").write_bytes(message.as_bytes())
    result = UnstructuredConverter().run(sources=[tmp_path / "trip.eml"])
    assert result["failures"] == []
    assert "Porto" in " ".join(d.content for d in result["documents"])


def test_types_docent_cannot_read_say_why_and_what_to_do(tmp_path, files):
    (tmp_path / "scan.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "old.doc").write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 512)
    (tmp_path / "bundle.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    (tmp_path / "renamed.doc").write_bytes(files["shipping.docx"].read_bytes())
    sources = [tmp_path / n for n in ("scan.png", "old.doc", "bundle.zip", "renamed.doc")]
    result = UnstructuredConverter().run(sources=sources)
    reasons = {Path(f["source"]).name: (f["kind"], f["reason"]) for f in result["failures"]}
    assert reasons["scan.png"][0] == "unsupported" and "OCR" in reasons["scan.png"][1]
    assert "save the file as .docx" in reasons["old.doc"][1]
    assert "extract it and ingest the folder" in reasons["bundle.zip"][1]
    # A .doc that is really a .docx is read as one.
    assert "renamed.doc" not in reasons
    assert "Rotterdam" in " ".join(d.content for d in result["documents"])


@pytest.mark.skipif(not EXAMPLE_DOCS.is_dir(), reason="../shared/data/example_docs is absent")
def test_an_encrypted_office_file_says_so():
    result = UnstructuredConverter().run(sources=[EXAMPLE_DOCS / "password_protected.xlsx"])
    (failure,) = result["failures"]
    assert failure["kind"] == "encrypted" and "password-protected" in failure["reason"]


def test_a_zip_bomb_is_refused_before_parsing(tmp_path, files):
    from tests.corpus import write_zip_bomb

    bomb = write_zip_bomb(tmp_path / "bomb.docx", megabytes=40)
    assert bomb.stat().st_size < 1_000_000
    converter = UnstructuredConverter(max_unzipped_mb=20)
    result = converter.run(sources=[bomb, files["shipping.docx"]])
    (failure,) = result["failures"]
    assert failure["kind"] == "too_large" and "parsing.max_unzipped_mb" in failure["reason"]
    assert {d.meta["source"] for d in result["documents"]} == {str(files["shipping.docx"])}
    by_ratio = UnstructuredConverter().run(sources=[bomb])["failures"][0]
    assert "parsing.max_zip_ratio" in by_ratio["reason"]
    assert "word/document.xml" in by_ratio["reason"]
