"""Every real file of ../shared/data/example_docs gives chunks or a clear reason: no crash,
no hang, no silent skip. The four largest files are left to `bench/robustness.py`."""

from pathlib import Path

import pytest

from components.shipped_models import embedding_model_path
from ingest.config import ChunkingSettings, ParsingSettings
from ingest.parse_pool import ParsePool
from ingest.parsing import FileParser
from ingest.sources import find_sources

EXAMPLE_DOCS = (Path(__file__).resolve().parents[3] / "shared" / "data" / "example_docs").resolve()
LARGEST = {
    "book-war-and-peace-1225p.txt",
    "DA-619p.pdf",
    "pdf2image-memory-error-test-400p.pdf",
    "handbook-872p.docx",
}
# Reasons a person understands, by the kind of trouble.
CLEAR_REASONS = (
    "unsupported file type",
    "the file is empty",
    "encrypted (password-protected)",
    "no text could be extracted",
    "not a valid",
    "the extracted text looks garbled",
)

# Slow: some 240 files parsed in two worker processes.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not EXAMPLE_DOCS.is_dir(), reason="example_docs is absent"),
]


@pytest.fixture(scope="module")
def outcomes():
    paths = [p for p in find_sources([EXAMPLE_DOCS]).files if p.name not in LARGEST]
    parse = FileParser(
        parsing=ParsingSettings(),
        chunking=ChunkingSettings(),
        tokenizer=embedding_model_path("all-MiniLM-L6-v2"),
    )
    with ParsePool(parse, workers=2, timeout=120) as pool:
        results = {
            Path(r.source).relative_to(EXAMPLE_DOCS).as_posix(): r for r in pool.parse(paths)
        }
    assert len(results) == len(paths)
    return results


def test_every_file_gives_chunks_or_a_clear_reason(outcomes):
    for name, parsed in outcomes.items():
        if parsed.reason:
            assert parsed.reason.startswith(CLEAR_REASONS) or "encrypted" in parsed.reason, name
        else:
            assert parsed.chunks and all(c.content.strip() for c in parsed.chunks), name
    ingested = sum(1 for p in outcomes.values() if not p.reason)
    assert ingested >= 191, ingested


def test_known_cases_end_the_right_way(outcomes):
    assert "encrypted" in outcomes["pdf/password.pdf"].reason
    assert "encrypted" in outcomes["password_protected.xlsx"].reason
    assert outcomes["pdf/failure-after-repair.pdf"].converter == "haystack:PyPDFToDocument"
    assert outcomes["stanley-cups-utf-16.csv"].converter == "haystack:CSVToDocument"
    assert outcomes["eml/fake-email-image-embedded.eml"].converter == "unstructured"
    assert outcomes["language-docs/eng_spa_mult.doc"].chunks  # a .docx named .doc
    assert "OCR" in outcomes["img/example.jpg"].reason
    # Text that is not text: UTF-16 mails read as 8-bit (a NUL between letters) and a page
    # rotated by 90 degrees, extracted letter by letter.
    for garbled in (
        "eml/fake-email-utf-16.eml",
        "eml/fake-email-utf-16-be.eml",
        "eml/fake-email-utf-16-le.eml",
        "rotated-page-90.pdf",
    ):
        assert "parsing.min_text_quality" in outcomes[garbled].reason, garbled
