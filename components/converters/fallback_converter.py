"""Read a file with Haystack's own lighter converters when unstructured cannot."""

from pathlib import Path
from typing import Any

from haystack import Document, component, logging

from components.converters.conversion import BOMS

logger = logging.getLogger(__name__)

# Extension -> the Haystack converter that reads it.
FALLBACKS = {
    ".pdf": "PyPDFToDocument",
    ".docx": "DOCXToDocument",
    ".pptx": "PPTXToDocument",
    ".xlsx": "XLSXToDocument",
    ".msg": "MSGToDocument",
    ".csv": "CSVToDocument",
    ".tsv": "CSVToDocument",
    ".txt": "TextFileToDocument",
    ".text": "TextFileToDocument",
}


@component
class FallbackConverter:
    """Convert a file with the Haystack converter for its type, into paragraph elements.

    The output has the shape of `UnstructuredConverter`'s: one Document per paragraph, with
    `source`, `file_type`, `category` ("NarrativeText") and, for PDFs, `page_number`, so the
    same chunker takes it. Structure (titles, lists, tables) is lost; the text is not.

    Usage:
    ```python
    fallback = FallbackConverter()
    result = fallback.run(sources=["report.pdf"])
    result["documents"], result["converter"]   # [...], "PyPDFToDocument"
    ```
    """

    @component.output_types(documents=list[Document], converter=str)
    def run(self, sources: list[str | Path]) -> dict[str, Any]:
        """Convert each file whose type has a fallback; files without one give nothing.

        :param sources: paths of files to read.
        :returns: `documents`, the paragraphs of every file read, and `converter`, the name of
            the last converter used ("" when none applied).
        """
        documents: list[Document] = []
        used = ""
        for source in sources:
            path = Path(source).resolve()
            name = FALLBACKS.get(path.suffix.lower())
            if name is None:
                continue
            used = name
            for converted in _converter(name, path).run(sources=[path])["documents"]:
                documents.extend(_paragraphs(converted.content or "", path, name))
        return {"documents": documents, "converter": used}


def _converter(name: str, path: Path) -> Any:
    from haystack.components import converters

    cls = getattr(converters, name)
    if name in ("CSVToDocument", "TextFileToDocument"):
        return cls(encoding=_encoding(path))
    return cls()


def _encoding(path: Path) -> str:
    """The encoding its byte-order mark declares, else UTF-8 (unstructured missed UTF-16 CSV)."""
    with path.open("rb") as f:
        head = f.read(4)
    return next((name for bom, name in BOMS if head.startswith(bom)), "utf-8")


def _paragraphs(text: str, path: Path, converter: str) -> list[Document]:
    """Blank-line separated paragraphs; PyPDF separates pages with form feeds."""
    paged = converter == "PyPDFToDocument"
    documents: list[Document] = []
    for page_number, page in enumerate(text.split("\f") if paged else [text], start=1):
        for paragraph in page.split("\n\n"):
            paragraph = paragraph.strip()
            if not any(ch.isalnum() for ch in paragraph):  # e.g. '""' of an empty sheet
                continue
            meta: dict[str, Any] = {
                "source": str(path),
                "file_type": path.suffix.lower().lstrip("."),
                "category": "NarrativeText",
                "element_index": len(documents),
            }
            if paged:
                meta["page_number"] = page_number
            documents.append(Document(content=paragraph, meta=meta))
    return documents
