"""Garbled extraction ("Decem b er /1/9/9/5") is refused; real prose in any language and code
documentation are not."""

import re
from pathlib import Path

import pytest
from fpdf import FPDF
from haystack import Document

from components.converters.text_quality import page_qualities, text_quality
from components.shipped_models import embedding_model_path
from ingest.config import ChunkingSettings, ParsingSettings
from ingest.parsing import FileParser

REPO = Path(__file__).resolve().parents[2]
SHARED = (REPO.parent / "shared" / "data").resolve()
THRESHOLD = ParsingSettings().min_text_quality

REPORT = """\
Technical Report CS-95-17, December 1995.

We describe a new approach to the problem of finding the best approximation of a
function by piecewise polynomials. The method is based on the observation that the error
of the approximation can be bounded above by a sum of local terms, each of which depends
only on the behaviour of the function within one interval. This allows us to work with
each interval separately and to combine the results afterwards. In Section 2 we give the
definitions and some basic properties; Section 3 presents the algorithm, and Section 4
reports on our experiments with 1024 test functions, where the new method was between
1.5 and 3 times faster than the previous one. We also show how to choose the knots so
that the total error stays below a given bound, and we discuss why the approach works
well for functions with a few sharp peaks but less well for those that oscillate.
"""

# Computer Modern's kern pairs (a left letter and the letters it is kerned against), the
# gaps at which a PDF of old TeX output extracts with a space inside the word.
KERNS = {
    "a": "vjyw", "b": "eoxdcqvjyw", "c": "hk", "h": "tubyvw", "k": "aeoc", "m": "tubyvw",
    "n": "tubyvw", "o": "eoxdcqvjyw", "p": "eoxdcqvjyw", "t": "yw", "u": "w", "v": "aeoc",
    "w": "eaoc", "y": "oea", "T": "yeoruaw", "V": "eoa", "W": "eoa", "Y": "eoa", "P": "oea",
}  # fmt: skip


def tex_garbled(text: str) -> str:
    """`text` as extracted from a PDF of 1995 TeX output whose Type 3 fonts have no map to
    characters: words split at the kerns ("Decem b er"), ligatures lost, and digits as glyph
    codes ("/1/9/9/5")."""
    text = re.sub("ffi|ffl|ff|fi|fl", "", text)
    out = []
    for char, following in zip(text, text[1:] + " "):
        out.append(f"/{char}" if char.isdigit() else char)
        if following in KERNS.get(char, ""):
            out.append(" ")
    return "".join(out)


def test_tex_output_without_a_text_map_is_garbled():
    garbled = tex_garbled(REPORT)
    assert "Decem b er /1/9/9/5" in garbled
    assert text_quality(REPORT).score == 1.0
    assert text_quality(garbled).score < THRESHOLD - 0.1


def test_other_extraction_garbage_is_garbled():
    # Glyph names (pypdf), CIDs (pdfminer), UTF-16 read as 8-bit text, replacement characters.
    names = " ".join("/a68/a105/a115/a112 /a101/a110/a115/a101" for _ in range(20))
    cids = " ".join("(cid:12)(cid:7)(cid:3) (cid:45)(cid:8)" for _ in range(20))
    utf16 = "\x00".join(REPORT)
    replaced = re.sub("[aeiou]", "\ufffd", REPORT)
    for garbage in (names, cids, utf16, replaced):
        assert text_quality(garbage).score < 0.5, garbage[:40]


def test_real_prose_in_many_languages_is_words():
    german = (
        "Die Würde des Menschen ist unantastbar. Sie zu achten und zu schützen ist "
        "Verpflichtung aller staatlichen Gewalt. Das Deutsche Volk bekennt sich darum zu "
        "unverletzlichen und unveräußerlichen Menschenrechten als Grundlage jeder "
        "menschlichen Gemeinschaft, des Friedens und der Gerechtigkeit in der Welt. "
    ) * 2
    spanish = "Juan y María viven en Madrid o en Sevilla, y trabajan a veces en Málaga. " * 5
    polish = "W tym roku z przyjaciółmi jedziemy w góry i nad morze, a potem do domu. " * 5
    assert text_quality(german).score == 1.0
    assert text_quality(spanish).score == 1.0
    assert text_quality(polish).score == 1.0
    scripts = [
        "人人生而自由，在尊严和权利上一律平等。他们赋有理性和良心，并应以兄弟关系的精神相对待。",
        "すべての人間は、生まれながらにして自由であり、かつ、尊厳と権利とについて平等である。",
        "모든 인간은 태어날 때부터 자유로우며 그 존엄과 권리에 있어 동등하다. 인간은 천부적으로",
        "Все люди рождаются свободными и равными в своем достоинстве и правах. Они наделены",
        "Όλοι οι άνθρωποι γεννιούνται ελεύθεροι και ίσοι στην αξιοπρέπεια και τα δικαιώματα.",
        "يولد جميع الناس أحرارًا متساوين في الكرامة والحقوق. وقد وهبوا عقلاً وضميرًا",
    ]
    for text in scripts:
        quality = text_quality(text)
        assert quality.words == quality.tokens, text


def test_code_heavy_markdown_is_words():
    doc = """\
# Query Parameters

When you declare other function parameters that are not part of the path parameters, they
are automatically interpreted as "query" parameters.

```Python
from fastapi import FastAPI

app = FastAPI()

@app.get("/items/{item_id}")
async def read_item(item_id: str, q: str | None = None, short: bool = False):
    item = {"item_id": item_id}
    if q:
        item.update({"q": q})
    return item
```

Go to http://127.0.0.1:8000/items/foo?short=1 or https://cdn.example.com/parts/1/9/9/4/a.png
and run `pip install "fastapi[standard]"`, then `cd app && ls -la` and `rm -rf build/`.
The parameter `q` is optional (`str | None`), `x**2 + y` is an expression, 5 mm is small.
"""
    assert text_quality(doc).score >= 0.95


def test_tables_and_data_files_may_hold_lone_letters():
    cells = Document(content=" ".join("x b c d" for _ in range(40)), meta={"category": "Table"})
    sheet = Document(content=cells.content, meta={"category": "Title", "file_type": "xlsx"})
    prose = Document(content=cells.content, meta={"category": "NarrativeText"})
    assert page_qualities([cells])[None].score in (None, 1.0)
    assert page_qualities([sheet])[None].score in (None, 1.0)
    assert page_qualities([prose])[None].score < 0.5


def test_pages_are_judged_apart():
    good = Document(content=REPORT, meta={"page_number": 1})
    bad = Document(content=tex_garbled(REPORT), meta={"page_number": 2})
    pages = page_qualities([good, bad])
    assert pages[1].score == 1.0 and pages[2].score < THRESHOLD


@pytest.fixture(scope="module")
def parse():
    return FileParser(
        parsing=ParsingSettings(),
        chunking=ChunkingSettings(),
        tokenizer=embedding_model_path("all-MiniLM-L6-v2"),
    )


def test_a_garbled_file_is_refused_with_what_to_do(parse, tmp_path):
    path = tmp_path / "report-1995.txt"
    path.write_text(tex_garbled(REPORT) * 3, encoding="utf-8")
    parsed = parse(path)
    assert not parsed.chunks
    assert parsed.quality is not None and parsed.quality < THRESHOLD
    assert "garbled" in parsed.reason and "parsing.min_text_quality" in parsed.reason
    assert f"{parsed.quality:.0%} real words" in parsed.reason

    lenient = FileParser(
        parsing=ParsingSettings(min_text_quality=0),
        chunking=ChunkingSettings(),
        tokenizer=embedding_model_path("all-MiniLM-L6-v2"),
    )
    assert lenient(path).chunks  # 0 turns the check off


def test_a_pdf_with_garbled_pages_is_refused_page_by_page(parse, tmp_path):
    pdf = FPDF()
    pdf.set_font("Helvetica", "", 11)
    for text in (REPORT, tex_garbled(REPORT), tex_garbled(REPORT)):
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    path = tmp_path / "report-1995.pdf"
    pdf.output(str(path))
    parsed = parse(path)
    assert not parsed.chunks
    assert "2 of 3 pages with text below it" in parsed.reason
    assert "the PDF's fonts" in parsed.reason


@pytest.mark.parametrize(
    "name", ["samples/handbook/expense-policy.pdf", "samples/support/billing.md"]
)
def test_sample_files_pass(parse, name):
    parsed = parse(REPO / name)
    assert not parsed.reason and parsed.chunks
    assert parsed.quality is not None and parsed.quality >= THRESHOLD + 0.1


@pytest.mark.skipif(not (SHARED / "fastapi_docs").is_dir(), reason="fastapi_docs is absent")
def test_real_code_documentation_passes(parse):
    parsed = parse(SHARED / "fastapi_docs" / "tutorial" / "query-params-str-validations.md")
    assert not parsed.reason and parsed.quality >= THRESHOLD + 0.1


@pytest.mark.skipif(not (SHARED / "example_docs").is_dir(), reason="example_docs is absent")
def test_the_first_article_of_human_rights_in_500_languages_is_words():
    text = (SHARED / "example_docs" / "language-docs" / "UDHR_first_article_all.txt").read_text()
    assert text_quality(text).score >= 0.99
