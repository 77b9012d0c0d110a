"""What docent's file converters share: converting each source with failures collected, and
recognising a text file's encoding by its byte-order mark."""

import codecs
from collections.abc import Callable
from pathlib import Path
from typing import Any

from haystack import Document, logging

from components.errors import UnreadableFileError

logger = logging.getLogger(__name__)

# Byte-order marks and their codecs, longest first (UTF-32 LE starts like UTF-16 LE).
BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]


def convert_each(
    sources: list[str | Path], convert: Callable[[Path], list[Document]]
) -> dict[str, Any]:
    """`convert` each source; a file it cannot read becomes a failure, the others go on.

    :returns: `documents`, the elements of every readable file in order, and `failures`,
        one `{"source", "reason", "kind"}` per file that could not be read (`kind` as in
        `UnreadableFileError`).
    """
    documents: list[Document] = []
    failures: list[dict[str, str]] = []
    for source in sources:
        path = Path(source).resolve()
        try:
            documents.extend(convert(path))
        except UnreadableFileError as e:
            logger.info("Skipping {source}: {reason}", source=e.path, reason=e.reason)
            failures.append({"source": e.path, "reason": e.reason, "kind": e.kind})
    return {"documents": documents, "failures": failures}


def element_meta(path: Path, suffix: str, category: str, index: int) -> dict[str, Any]:
    """The metadata every converted element carries: its file, the file's type (`suffix`,
    the extension it was read as), the element's category and its place in the file."""
    return {
        "source": str(path),
        "file_type": suffix.lstrip("."),
        "category": category,
        "element_index": index,
    }


def with_text(documents: list[Document], path: Path, kind: str) -> list[Document]:
    """`documents`, the elements of the `kind` file at `path`, unless there are none.

    Raises:
        UnreadableFileError: ("no_text") nothing in the file held text.
    """
    if not documents:
        raise UnreadableFileError(
            str(path),
            f"no text could be extracted from this {kind} file (it may be empty, hold only "
            "images, or be damaged)",
            "no_text",
        )
    return documents
