"""Turn files into text elements with unstructured, locally and offline."""

import re
import zipfile
from pathlib import Path
from typing import Any

from haystack import Document, component, logging

from components.converters.archive_limits import check_expansion
from components.converters.conversion import convert_each, element_meta, with_text
from components.errors import UnreadableFileError

logger = logging.getLogger(__name__)

# Extension -> (MIME type handed to unstructured, name shown to people). The MIME type is given
# explicitly so that a file is read as what its name claims: a text file renamed to .docx is
# reported as a broken DOCX instead of being ingested as something else.
SUPPORTED_TYPES: dict[str, tuple[str, str]] = {
    ".pdf": ("application/pdf", "PDF"),
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "DOCX"),
    ".pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", "PPTX"),
    ".xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "XLSX"),
    ".md": ("text/markdown", "Markdown"),
    ".markdown": ("text/markdown", "Markdown"),
    ".html": ("text/html", "HTML"),
    ".htm": ("text/html", "HTML"),
    ".eml": ("message/rfc822", "email"),
    ".msg": ("application/vnd.ms-outlook", "Outlook message"),
    ".epub": ("application/epub", "EPUB"),
    ".odt": ("application/vnd.oasis.opendocument.text", "ODT"),
    ".rtf": ("text/rtf", "RTF"),
    ".csv": ("text/csv", "CSV"),
    ".tsv": ("text/tsv", "TSV"),
    ".txt": ("text/plain", "text"),
    ".text": ("text/plain", "text"),
    ".rst": ("text/x-rst", "reStructuredText"),
    ".org": ("text/org", "Org"),
    ".json": ("application/json", "JSON"),
    ".ndjson": ("application/x-ndjson", "NDJSON"),
    ".xml": ("application/xml", "XML"),
    ".xls": ("application/vnd.ms-excel", "XLS"),
    ".yaml": ("text/plain", "YAML"),
    ".yml": ("text/plain", "YAML"),
}
# Types people will try, with why docent does not read them and what to do instead.
_UNREADABLE = {
    **dict.fromkeys(
        (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".gif", ".heic", ".webp"),
        "images need OCR, which docent does not include; ingest a text version",
    ),
    **dict.fromkeys(
        (".wav", ".mp3", ".m4a", ".ogg", ".flac", ".mp4", ".mov"),
        "audio and video need transcription, which docent does not include; ingest a transcript",
    ),
    **dict.fromkeys(
        (".doc", ".ppt"),
        "legacy Office formats need LibreOffice, which is not installed; save the file as "
        ".docx or .pptx and ingest that",
    ),
    **dict.fromkeys(
        (".zip", ".tar", ".gz", ".tgz", ".7z", ".rar"),
        "archives are not unpacked; extract it and ingest the folder",
    ),
}

_ZIP_BASED = {".docx", ".pptx", ".xlsx", ".epub", ".odt"}
# An encrypted .docx/.xlsx/.pptx is an OLE compound file holding an "EncryptionInfo" stream.
OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")
_ENCRYPTION_INFO = "EncryptionInfo".encode("utf-16-le")
_EMAIL = {".eml", ".msg"}
# Files named as a legacy Office format that are in fact the modern (ZIP) one are read as such.
_MODERN_FORM = {".doc": ".docx", ".ppt": ".pptx"}
# Markdown's attribute lists ("## Install { #install }") are markup, not title text.
_HEADING_ATTRIBUTES = re.compile(r"\s*\{\s*[#.][^{}]*\}\s*$")


def strip_heading_attributes(title: str) -> str:
    """`title` without a trailing Markdown attribute list ("Install { #install }": "Install")."""
    return _HEADING_ATTRIBUTES.sub("", title)


def check_supported(path: Path) -> None:
    """Raise `UnreadableFileError` unless `path` has an extension docent can parse."""
    suffix = _effective_suffix(path)
    if suffix in _UNREADABLE:
        raise UnreadableFileError(
            str(path), f"unsupported file type '{suffix}': {_UNREADABLE[suffix]}", "unsupported"
        )
    if suffix not in SUPPORTED_TYPES:
        kinds = ", ".join(sorted(SUPPORTED_TYPES))
        what = f"'{suffix}'" if suffix else "files without an extension"
        raise UnreadableFileError(
            str(path), f"unsupported file type {what}; docent reads {kinds}", "unsupported"
        )


@component
class UnstructuredConverter:
    """Partition files into text elements with unstructured, one Document per element.

    Elements keep their order and carry `source`, `file_type`, `category` (Title, NarrativeText,
    ListItem, Table, ...), `title_depth` for titles and `page_number` where the format has pages.
    A file that cannot be read goes to `failures` with a plain-language reason; the others go on.

    Usage:
    ```python
    converter = UnstructuredConverter()
    result = converter.run(sources=["handbook/policy.pdf"])
    result["documents"][0].meta["category"]   # "Title"
    result["failures"]                         # [{"source": ..., "reason": ...}]
    ```
    """

    def __init__(
        self,
        *,
        pdf_strategy: str = "fast",
        languages: list[str] | None = None,
        max_unzipped_mb: float = 500.0,
        max_zip_ratio: float = 100.0,
    ) -> None:
        """Create the converter.

        :param pdf_strategy: unstructured's PDF strategy; only "fast" works without OCR models.
        :param languages: ISO 639-3 codes of the documents' languages, e.g. ["eng"].
        :param max_unzipped_mb: a ZIP-based file (DOCX, PPTX, XLSX, ODT, EPUB) that expands
            to more is refused before parsing.
        :param max_zip_ratio: so is one with a part over 1 MB that expands more times than this.
        """
        if pdf_strategy != "fast":
            raise ValueError(f"pdf_strategy must be 'fast' (got {pdf_strategy!r})")
        if max_unzipped_mb <= 0 or max_zip_ratio <= 1:
            raise ValueError(
                "max_unzipped_mb must be positive and max_zip_ratio above 1 "
                f"(got {max_unzipped_mb} and {max_zip_ratio})"
            )
        self.pdf_strategy = pdf_strategy
        self.languages = list(languages or ["eng"])
        self.max_unzipped_mb = max_unzipped_mb
        self.max_zip_ratio = max_zip_ratio

    @component.output_types(documents=list[Document], failures=list[dict[str, str]])
    def run(self, sources: list[str | Path]) -> dict[str, Any]:
        """Partition each source file.

        :param sources: paths of files to read.
        :returns: `documents`, the elements of every readable file in order, and `failures`,
            one `{"source", "reason", "kind"}` per file that could not be read (`kind` as in
            `UnreadableFileError`).
        """
        return convert_each(sources, self._convert)

    def _convert(self, path: Path) -> list[Document]:
        check_supported(path)
        suffix = _effective_suffix(path)
        mime_type, kind = SUPPORTED_TYPES[suffix]
        try:
            size = path.stat().st_size
        except OSError as e:
            raise UnreadableFileError(
                str(path), f"cannot be opened: {e.strerror}", "damaged"
            ) from e
        if size == 0:
            raise UnreadableFileError(str(path), "the file is empty (0 bytes)", "empty")
        if suffix == ".pdf":
            _check_pdf(path)
        if suffix in _ZIP_BASED and not zipfile.is_zipfile(path):
            if _is_encrypted_office(path):
                raise UnreadableFileError(
                    str(path),
                    f"the {kind} file is encrypted (password-protected); remove the protection "
                    "and ingest it again",
                    "encrypted",
                )
            raise UnreadableFileError(
                str(path),
                f"not a valid {kind} file: a {kind} file is a ZIP package and this one is not "
                "(was it renamed from another format?)",
                "damaged",
            )
        if suffix in _ZIP_BASED:
            check_expansion(
                path,
                name=str(path),
                max_unzipped_mb=self.max_unzipped_mb,
                max_ratio=self.max_zip_ratio,
            )
        elements = self._partition(path, mime_type, kind)
        if suffix == ".pdf":
            _promote_pdf_headings(elements)
        documents = []
        for index, element in enumerate(elements):
            text = (element.text or "").strip()
            if element.category == "Title":
                text = strip_heading_attributes(text)
            if not text:
                continue
            meta = element_meta(path, suffix, element.category, index)
            page = getattr(element.metadata, "page_number", None)
            if page is not None:
                meta["page_number"] = page
            depth = getattr(element.metadata, "category_depth", None)
            if element.category == "Title":
                meta["title_depth"] = depth or 0
            documents.append(Document(content=text, meta=meta))
        return with_text(documents, path, kind)

    def _partition(self, path: Path, mime_type: str, kind: str) -> list[Any]:
        from unstructured.partition.auto import partition

        options = {}
        if path.suffix.lower() in _EMAIL:
            # Attachments would be partitioned with the same strategy, and one image or sound
            # attachment then fails the whole message: index the message itself.
            options["process_attachments"] = False
        try:
            return partition(
                filename=str(path),
                content_type=mime_type,
                strategy=self.pdf_strategy,
                languages=self.languages,
                **options,
            )
        # unstructured raises whatever its format library raises for a damaged file
        # (KeyError, ValueError, lxml and zip errors, ...); each becomes a per-file failure.
        except Exception as e:
            detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UnreadableFileError(
                str(path), f"could not be parsed as {kind} ({detail[:200]})"
            ) from e


_HEADING_MAX_WORDS = 10


def _promote_pdf_headings(elements: list[Any]) -> None:
    """Decide which lines of a PDF are headings.

    The fast PDF strategy reads text without fonts: headings come out as narrative text, or as
    a page "Header" when they open a page, while a wrapped line that opens a page may come out
    as a title. A capitalised line of at most ten words that does not end like a sentence and is
    not the last element is a heading in practice; the first one in the file is taken as the
    document title. Other titles become narrative text.
    """
    seen_title = False
    for position, element in enumerate(elements):
        if element.category not in {"NarrativeText", "UncategorizedText", "Header", "Title"}:
            continue
        text = (element.text or "").strip()
        looks_like_heading = (
            0 < len(text.split()) <= _HEADING_MAX_WORDS
            and text[0].isupper()
            and text[-1] not in ".,;:!?"
            and position < len(elements) - 1
        )
        if looks_like_heading:
            element.category = "Title"
            element.metadata.category_depth = 1 if seen_title else 0
            seen_title = True
        elif element.category == "Title":
            element.category = "NarrativeText"


def _check_pdf(path: Path) -> None:
    """unstructured returns no elements, silently, for encrypted or damaged PDFs: say why."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(str(path))
        # An owner password alone (restricted printing, say) leaves the text readable: only a
        # PDF that the empty user password cannot open is refused.
        locked = reader.is_encrypted and not reader.decrypt("")
        if not locked:
            len(reader.pages)
    except (PyPdfError, ValueError, OSError) as e:
        raise UnreadableFileError(
            str(path), f"not a valid PDF: the file is damaged or is not a PDF ({e})", "damaged"
        ) from e
    if locked:
        raise UnreadableFileError(
            str(path),
            "the PDF is encrypted (password-protected); remove the protection and ingest it again",
            "encrypted",
        )


def _effective_suffix(path: Path) -> str:
    """The extension, except that a .doc or .ppt that is really a ZIP package counts as the
    modern format it is."""
    suffix = path.suffix.lower()
    if suffix in _MODERN_FORM and path.is_file():
        # By its first bytes: an old binary file may hold an embedded ZIP (is_zipfile says yes).
        with path.open("rb") as f:
            if f.read(4) == b"PK\x03\x04":
                return _MODERN_FORM[suffix]
    return suffix


def _is_encrypted_office(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(32 << 20)  # the stream directory may lie anywhere in the file
    return head.startswith(OLE_MAGIC) and _ENCRYPTION_INFO in head
