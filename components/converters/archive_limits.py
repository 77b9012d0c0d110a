"""Refuse ZIP packages (DOCX, PPTX, XLSX, ODT, EPUB) that would expand beyond a limit.

A 3.5 MB DOCX whose `document.xml` expands to 1.2 GB makes a parser grow by tens of GB. The
sizes a ZIP's directory declares are an upper bound on what Python's `zipfile` (and so every
parser here) will ever expand a member to, so checking them costs a directory read, not a
decompression.
"""

import zipfile
from pathlib import Path
from typing import IO

from components.errors import UnreadableFileError

# Members smaller than this expand harmlessly whatever their ratio (XML compresses 10-30x).
_RATIO_FLOOR_BYTES = 1 << 20


def check_expansion(
    source: str | Path | IO[bytes], *, name: str, max_unzipped_mb: float, max_ratio: float
) -> None:
    """Raise `UnreadableFileError` (kind "too_large") when the ZIP package `source` expands
    to more than `max_unzipped_mb` in all, or holds a member of over 1 MB that expands more
    than `max_ratio` times its compressed size. Not a ZIP package: nothing to check.

    :param source: a path, or a binary file object (an upload in memory).
    :param name: the file's name, for the message.
    """
    try:
        with zipfile.ZipFile(source) as package:
            members = package.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # not a ZIP package: the converter says what it is
    total = sum(m.file_size for m in members)
    if total > max_unzipped_mb * 1024 * 1024:
        raise UnreadableFileError(
            str(name),
            f"the package expands to {total / 1048576:,.0f} MB, above the limit of "
            f"{max_unzipped_mb:g} MB (parsing.max_unzipped_mb); it may be a ZIP bomb, or "
            "split the document",
            "too_large",
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > _RATIO_FLOOR_BYTES and ratio > max_ratio:
            raise UnreadableFileError(
                str(name),
                f"its part {member.filename} expands {ratio:,.0f} times "
                f"({member.compress_size:,} bytes to {member.file_size:,}), above "
                f"parsing.max_zip_ratio ({max_ratio:g}); such a file is a ZIP bomb",
                "too_large",
            )
