"""Regenerate the PDF, DOCX and HTML files of the sample handbook.

The Markdown files are written by hand; the other formats are generated here so that the
sample corpus covers every format the demo claims to read. Run it from the repository root:

    .venv/bin/python samples/make_samples.py
"""

from html import escape
from pathlib import Path

import docx
from fpdf import FPDF

HERE = Path(__file__).parent / "handbook"

EXPENSES = (
    "Travel and Expense Policy",
    [
        (
            "Submitting expenses",
            [
                "Expense reports must be submitted within 30 days of the purchase through the "
                "finance portal. Reports submitted later are only reimbursed with the approval of "
                "the CFO.",
                "A receipt is required for every expense above 25 euros.",
            ],
        ),
        (
            "Meals and lodging",
            [
                "While travelling for work, meals are reimbursed up to 45 euros per day. Hotel "
                "rooms are booked through the travel desk and may cost at most 160 euros per "
                "night.",
            ],
        ),
        (
            "Approval",
            [
                "Every expense report is approved by the employee's direct manager. Expenses above "
                "2,000 euros also need the approval of the finance team.",
            ],
        ),
    ],
)

SECURITY = (
    "Information Security Guidelines",
    [
        (
            "Passwords",
            [
                "Passwords must be at least 14 characters long and must not be reused across "
                "services. Use the company password manager to generate and store them.",
                "Multi-factor authentication is mandatory for email, the code repository and the "
                "finance portal.",
            ],
        ),
        (
            "Lost or stolen devices",
            [
                "Report a lost or stolen laptop or phone to the IT help desk within one hour, by "
                "calling extension 4242. IT will lock and wipe the device remotely.",
            ],
        ),
        (
            "Phishing",
            [
                "Forward suspicious emails to phishing@lumenlabs.example and do not click their "
                "links. The security team answers every report within one working day.",
            ],
        ),
    ],
)

ONBOARDING = (
    "Onboarding: Your First Week",
    [
        (
            "Before day one",
            [
                "IT ships your laptop to your home address five working days before your start "
                "date. Your accounts are activated on the morning of your first day.",
            ],
        ),
        (
            "Your buddy",
            [
                "Every new employee is paired with an onboarding buddy from another team. Your "
                "buddy meets you for lunch on your first day and answers questions during your "
                "first three months.",
            ],
        ),
        (
            "Office access",
            [
                "Collect your access badge from the reception desk on the ground floor of the "
                "Lisbon office; bring an identity document.",
            ],
        ),
    ],
)


def write_pdf(path: Path, title: str, sections: list) -> None:
    """Write a PDF with one section per page, so that page numbers are meaningful."""
    pdf = FPDF()
    pdf.set_auto_page_break(auto=True, margin=15)
    for index, (heading, paragraphs) in enumerate(sections):
        pdf.add_page()
        if index == 0:
            pdf.set_font("Helvetica", "B", 18)
            pdf.multi_cell(0, 10, title)
            pdf.ln(4)
        pdf.set_font("Helvetica", "B", 14)
        pdf.multi_cell(0, 8, heading)
        pdf.ln(2)
        pdf.set_font("Helvetica", "", 11)
        for paragraph in paragraphs:
            pdf.multi_cell(0, 6, paragraph)
            pdf.ln(3)
    pdf.output(str(path))


def write_docx(path: Path, title: str, sections: list) -> None:
    """Write a DOCX with real heading styles, as a person writing in Word would."""
    document = docx.Document()
    document.add_heading(title, level=1)
    for heading, paragraphs in sections:
        document.add_heading(heading, level=2)
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)
    document.save(str(path))


def write_html(path: Path, title: str, sections: list) -> None:
    """Write a small HTML page with h1/h2 headings and paragraphs."""
    body = [f"<h1>{escape(title)}</h1>"]
    for heading, paragraphs in sections:
        body.append(f"<h2>{escape(heading)}</h2>")
        body.extend(f"<p>{escape(paragraph)}</p>" for paragraph in paragraphs)
    path.write_text(
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>'
        f"{escape(title)}</title></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    write_pdf(HERE / "expense-policy.pdf", *EXPENSES)
    write_docx(HERE / "security-guidelines.docx", *SECURITY)
    write_html(HERE / "onboarding.html", *ONBOARDING)
