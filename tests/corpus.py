"""A small corpus in several formats, written by the tests; each fact lives in exactly one file."""

from pathlib import Path

import docx
import openpyxl
import pptx
from fpdf import FPDF

# question -> (fact the answer must contain, file that holds it)
QUESTIONS = {
    "What water temperature should be used for brewing coffee?": ("94", "brewing.md"),
    "How long does the espresso machine warranty last?": ("27 months", "warranty.pdf"),
    "Which warehouse do orders ship from?": ("Rotterdam", "shipping.docx"),
    "How many beans do loyalty members earn per euro spent?": ("7", "loyalty.html"),
}

BREWING_MD = """# Brewing Guide

Orbital Coffee Roasters recommends the following for filter coffee.

## Water temperature

Brew with water at 94 degrees Celsius. Water that is boiling scorches the grounds and makes the
coffee bitter.

## Grind size

Use a medium grind, similar to coarse sand, for pour-over brewers.
"""

WARRANTY = [
    ("Espresso Machine Warranty", None),
    (
        "Coverage",
        "The espresso machine warranty lasts 27 months from the date of delivery. It covers "
        "the pump, the boiler and the electronics.",
    ),
    (
        "Exclusions",
        "Damage caused by limescale is not covered. Descale the machine every two months "
        "with the supplied descaling powder.",
    ),
]

SHIPPING = [
    ("Shipping Policy", None),
    ("Dispatch", "Orders ship from the Rotterdam warehouse within two business days of payment."),
    ("Returns", "Unopened bags of coffee may be returned within 14 days for a full refund."),
]

LOYALTY_HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Loyalty Programme</title></head>
<body>
<h1>Loyalty Programme</h1>
<h2>Earning beans</h2>
<p>Members earn 7 beans per euro spent in our shops and online.</p>
<h2>Redeeming beans</h2>
<p>Every 500 beans can be exchanged for a free bag of house blend.</p>
</body></html>
"""

FAQ_TXT = (
    "Frequently asked questions\n\nDo you sell gift cards? Yes, in values of 25 and 50 euros.\n"
)
CONTACTS_CSV = "team,email\nwholesale,wholesale@orbital.example\npress,press@orbital.example\n"


def write_pdf(path: Path, sections: list[tuple[str, str | None]]) -> None:
    """A PDF with a title, headings and paragraphs; the last section starts page 2."""
    pdf = FPDF()
    pdf.add_page()
    for index, (heading, text) in enumerate(sections):
        if index == len(sections) - 1 and index > 1:
            pdf.add_page()
        pdf.set_font("Helvetica", "B", 16 if text is None else 13)
        pdf.multi_cell(0, 9, heading, new_x="LMARGIN", new_y="NEXT")
        if text:
            pdf.set_font("Helvetica", "", 11)
            pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    pdf.output(str(path))


def write_docx(path: Path, sections: list[tuple[str, str | None]]) -> None:
    """A DOCX with heading styles and paragraphs."""
    document = docx.Document()
    for heading, text in sections:
        document.add_heading(heading, level=1 if text is None else 2)
        if text:
            document.add_paragraph(text)
    document.save(str(path))


def write_pptx(path: Path) -> None:
    """A two-slide deck."""
    deck = pptx.Presentation()
    for title, body in [
        ("Roasting Schedule", "Light roasts are roasted on Mondays."),
        ("Tasting Sessions", "Public cuppings take place on the first Friday of each month."),
    ]:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    deck.save(str(path))


def write_xlsx(path: Path) -> None:
    """A small price list."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Blend", "Price per kilogram"])
    sheet.append(["House blend", 24])
    sheet.append(["Single origin Ethiopia", 38])
    book.save(str(path))


def write_corpus(folder: Path) -> dict[str, Path]:
    """Write the corpus into `folder`; return file name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "brewing.md").write_text(BREWING_MD, encoding="utf-8")
    write_pdf(folder / "warranty.pdf", WARRANTY)
    write_docx(folder / "shipping.docx", SHIPPING)
    (folder / "loyalty.html").write_text(LOYALTY_HTML, encoding="utf-8")
    write_pptx(folder / "roasting.pptx")
    write_xlsx(folder / "prices.xlsx")
    (folder / "faq.txt").write_text(FAQ_TXT, encoding="utf-8")
    (folder / "contacts.csv").write_text(CONTACTS_CSV, encoding="utf-8")
    return {p.name: p for p in sorted(folder.iterdir())}


def write_bad_files(folder: Path) -> dict[str, Path]:
    """Files that cannot be ingested, one per kind of problem; return file name -> path."""
    import os

    from pypdf import PdfWriter

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.md").write_bytes(b"")
    (folder / "random.pdf").write_bytes(os.urandom(4096))
    (folder / "notes.docx").write_text("just text, not a Word document", encoding="utf-8")
    (folder / "drawing.xyz").write_bytes(b"\x00\x01 unknown format")
    write_pdf(folder / "plain.pdf.tmp", WARRANTY)
    writer = PdfWriter(clone_from=str(folder / "plain.pdf.tmp"))
    (folder / "plain.pdf.tmp").unlink()
    writer.encrypt(user_password="secret", owner_password="owner")
    with (folder / "locked.pdf").open("wb") as f:
        writer.write(f)
    return {p.name: p for p in sorted(folder.iterdir())}


def write_zip_bomb(path: Path, megabytes: int) -> Path:
    """A real DOCX whose `word/document.xml` expands to `megabytes` MB (a paragraph of the
    same text over and over, which deflate packs about a thousand times over)."""
    import zipfile

    write_docx(path.with_suffix(".seed.docx"), [("Bomb", "A paragraph.")])
    paragraph = b"<w:p><w:r><w:t>all work and no play makes a dull parser</w:t></w:r></w:p>"
    block = paragraph * ((1 << 20) // len(paragraph))
    with (
        zipfile.ZipFile(path.with_suffix(".seed.docx")) as seed,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb,
    ):
        for member in seed.infolist():
            if member.filename != "word/document.xml":
                bomb.writestr(member, seed.read(member))
                continue
            head, tail = seed.read(member).split(b"<w:body>")
            with bomb.open("word/document.xml", "w", force_zip64=True) as xml:
                xml.write(head + b"<w:body>")
                for _ in range(megabytes):
                    xml.write(block)
                xml.write(tail)
    path.with_suffix(".seed.docx").unlink()
    return path
