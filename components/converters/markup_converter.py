"""Turn Markdown, HTML, reStructuredText and plain text into text elements by their markup."""

import re
from pathlib import Path
from typing import Any, NamedTuple

from haystack import Document, component, logging

from components.converters.conversion import BOMS, convert_each, element_meta, with_text
from components.converters.unstructured_converter import (
    SUPPORTED_TYPES,
    check_supported,
    strip_heading_attributes,
)
from components.errors import UnreadableFileError

logger = logging.getLogger(__name__)

# The extensions this converter reads; the others are unstructured's.
MARKUP_TYPES = frozenset({".md", ".markdown", ".html", ".htm", ".rst", ".txt", ".text"})
# The extensions Python-Markdown gives unstructured's partition_md: the same HTML as before.
_MARKDOWN_EXTENSIONS = ["tables", "fenced_code"]
_HEADINGS = {f"h{level}": level - 1 for level in range(1, 7)}
# Blocks that end the paragraph before them and start one of their own.
_BLOCKS = frozenset(
    "address article aside blockquote body center div dl dt footer header hgroup html main ol p "
    "section ul".split()
)
_LIST_ITEMS = frozenset({"li", "dd"})
# Content that is not document text: forms, navigation, media fallbacks, Inline XBRL's hidden
# facts (as unstructured's HTML partitioner removes them too); the text after them is kept.
_REMOVED = frozenset(
    "audio button canvas datalist details dialog figure form head hr iframe input label nav "
    "noembed noframes object select summary svg template textarea title video xml "
    "ix:header".split()
)
# A bullet opening a paragraph (unstructured's list), not doubled ("**bold**"); a dash only
# when a space follows it.
_BULLETS = (
    "\u0095\u2022\u2023\u2043\u3164\u204c\u204d\u2219\u25cb\u25cf\u25d8\u25e6\u2619\u2765"
    "\u2767\u29be\u29bf\uf0b7*\u00b7"
)
_BULLET = re.compile(f"^(?:[{_BULLETS}]|[-\u2013](?=\\s|$))(?![{_BULLETS}\\-\u2013])\\s*")
_NUMBERED = re.compile(r"^\(?\d{1,3}[.)]\s+\S")
_TITLE_MAX_WORDS = 12
_SHORT_LINE_WORDS = 5


class _Element(NamedTuple):
    category: str
    text: str
    depth: int | None = None


@component
class MarkupConverter:
    """Read Markdown, HTML, reStructuredText and plain text into elements, one Document each,
    taking the structure the markup gives instead of classifying every paragraph.

    Headings become `Title` elements with `title_depth` (h1 and `#` are 0), paragraphs
    `NarrativeText`, list items `ListItem`, code blocks `CodeSnippet` (their lines as written,
    without fence markers), tables `Table` (cell texts in reading order) and images `Image`
    (their alt text): the elements and metadata `UnstructuredConverter` gives, at a fraction of
    its cost, since unstructured runs spaCy on every paragraph to guess what the markup says.
    Markdown goes through Python-Markdown (tables, fenced code) as in unstructured,
    reStructuredText through pandoc; plain text is cut at blank lines (or at every line when it
    has almost none), and a short line that does not end like a sentence and is followed by
    text is a title.

    Usage:
    ```python
    converter = MarkupConverter()
    result = converter.run(sources=["docs/install.md"])
    result["documents"][0].meta["category"]   # "Title"
    result["failures"]                         # [{"source": ..., "reason": ..., "kind": ...}]
    ```
    """

    @component.output_types(documents=list[Document], failures=list[dict[str, str]])
    def run(self, sources: list[str | Path]) -> dict[str, Any]:
        """Convert each source file.

        :param sources: paths of Markdown, HTML, reStructuredText or plain text files.
        :returns: `documents`, the elements of every readable file in order, and `failures`,
            one `{"source", "reason", "kind"}` per file that could not be read.
        """
        return convert_each(sources, self._convert)

    def _convert(self, path: Path) -> list[Document]:
        check_supported(path)
        suffix = path.suffix.lower()
        if suffix not in MARKUP_TYPES:
            raise UnreadableFileError(
                str(path), f"'{suffix}' is not a markup type; UnstructuredConverter reads it"
            )
        kind = SUPPORTED_TYPES[suffix][1]
        try:
            data = path.read_bytes()
        except OSError as e:
            raise UnreadableFileError(
                str(path), f"cannot be opened: {e.strerror}", "damaged"
            ) from e
        if not data:
            raise UnreadableFileError(str(path), "the file is empty (0 bytes)", "empty")
        try:
            elements = _elements(path, suffix, data)
        # Python-Markdown, lxml, pandoc and the encoding detection raise their own errors for
        # a file they cannot read (ValueError, UnicodeError, RuntimeError, ...): each becomes a
        # per-file failure, as with unstructured.
        except Exception as e:
            detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UnreadableFileError(
                str(path), f"could not be parsed as {kind} ({detail[:200]})"
            ) from e
        documents = []
        for index, element in enumerate(elements):
            text = element.text.strip()
            if element.category == "Title":
                text = strip_heading_attributes(text)
            if not text:
                continue
            meta = element_meta(path, suffix, element.category, index)
            if element.category == "Title":
                meta["title_depth"] = element.depth or 0
            documents.append(Document(content=text, meta=meta))
        return with_text(documents, path, kind)


def _elements(path: Path, suffix: str, data: bytes) -> list[_Element]:
    if suffix == ".rst":
        import pypandoc

        # sandbox: an `include` directive must not read other files of the machine.
        return _html_elements(pypandoc.convert_file(str(path), "html", format="rst", sandbox=True))
    text = _decode(path, data)
    if suffix in {".md", ".markdown"}:
        import markdown

        return _html_elements(markdown.markdown(text, extensions=_MARKDOWN_EXTENSIONS))
    if suffix in {".html", ".htm"}:
        return _html_elements(text)
    return _text_elements(text)


def _decode(path: Path, data: bytes) -> str:
    """The file's text: by its byte-order mark, as UTF-8, or in the encoding detected."""
    for bom, encoding in BOMS:
        if data.startswith(bom):
            return data.decode(encoding)
    # NUL bytes decode as UTF-8 but mean UTF-16 or UTF-32 text without a byte-order mark.
    if b"\x00" not in data:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    # Rare: guess the encoding as unstructured does (UTF-16, cp1252, latin-1, ...).
    from unstructured.file_utils.encoding import detect_file_encoding

    return detect_file_encoding(filename=str(path))[1]


def _html_elements(html: str) -> list[_Element]:
    from lxml import etree

    if not html.strip():
        return []
    # lxml refuses a str that declares its encoding; the text is decoded already.
    html = re.sub(r"^\s*<\?xml[^>]*\?>", "", html)
    parser = etree.HTMLParser(remove_comments=True, remove_pis=True)
    root = etree.fromstring(html, parser)
    walker = _HtmlWalker()
    if root is not None:
        # Code, not text, wherever it stands (in a table cell too); the text after it stays.
        etree.strip_elements(root, "script", "style", with_tail=False)
        walker.block(root, "NarrativeText")
    return walker.elements


class _HtmlWalker:
    """Walks an HTML tree in document order: block tags end the text gathered so far and start
    an element of their own; inline tags only add their text."""

    def __init__(self) -> None:
        self.elements: list[_Element] = []
        self._parts: list[str] = []
        self._category = "NarrativeText"
        self._depth: int | None = None

    def block(self, node: Any, category: str, depth: int | None = None) -> None:
        """Emit the text of `node` and its inline children as one `category` element, and
        its blocks as elements of their own."""
        self._flush()
        outer = self._category, self._depth
        self._category, self._depth = category, depth
        self._parts.append(node.text or "")
        for child in node:
            self._visit(child)
        self._flush()
        self._category, self._depth = outer

    def _visit(self, node: Any) -> None:
        tag = node.tag.lower() if isinstance(node.tag, str) else ""
        if not tag or tag in _REMOVED:
            pass
        elif tag in _HEADINGS:
            self.block(node, "Title", _HEADINGS[tag])
        elif tag in _LIST_ITEMS:
            self.block(node, "ListItem")
        elif tag in _BLOCKS:
            # A paragraph inside a list item (a loose list) is that item's text.
            inner = "ListItem" if self._category == "ListItem" else "NarrativeText"
            self.block(node, inner)
        elif tag == "pre":
            self._flush()
            self._emit("CodeSnippet", _pre_text(node))
        elif tag == "table":
            self._flush()
            self._emit("Table", _table_text(node))
        elif tag == "img":
            self._flush()
            if (node.get("data-src") or node.get("src") or "").strip():
                self._emit("Image", (node.get("alt") or "").strip())
        elif tag == "br":
            self._parts.append("\n")
        else:
            self._parts.append(node.text or "")
            for child in node:
                self._visit(child)
        self._parts.append(node.tail or "")

    def _flush(self) -> None:
        text = " ".join("".join(self._parts).split())
        self._parts.clear()
        if self._category == "NarrativeText":
            if len(text) < 2:
                return
            if _BULLET.match(text):
                self._emit("ListItem", _BULLET.sub("", text))
                return
        self._emit(self._category, text, self._depth)

    def _emit(self, category: str, text: str, depth: int | None = None) -> None:
        if text.strip():
            self.elements.append(_Element(category, text, depth))


def _pre_text(node: Any) -> str:
    """A code block's text as written: only one newline at each end is dropped."""
    text = "".join(node.itertext())
    text = text[1:] if text.startswith("\n") else text
    return text[:-1] if text.endswith("\n") else text


def _table_text(table: Any) -> str:
    """The caption and the cells of a table, row by row, separated by spaces."""
    texts = []
    rows = []
    for child in table:
        tag = child.tag.lower() if isinstance(child.tag, str) else ""
        if tag == "caption":
            texts.append(_cell_text(child))
        elif tag == "tr":
            rows.append(child)
        elif tag in {"thead", "tbody", "tfoot"}:
            rows.extend(r for r in child if isinstance(r.tag, str) and r.tag.lower() == "tr")
    cells = [
        " ".join(t for t in (_cell_text(c) for c in row if c.tag in ("td", "th")) if t)
        for row in rows
    ]
    if not " ".join(cells).strip():
        return ""
    # Empty rows keep their place (a double space), as in unstructured's tables.
    return " ".join([t for t in texts if t] + cells).strip()


def _cell_text(node: Any) -> str:
    return " ".join(t.strip() for t in node.itertext() if t.strip())


def _text_elements(text: str) -> list[_Element]:
    """Paragraphs of plain text, cut at blank lines (their lines joined), or at every line when
    under a tenth of the lines are blank. As in unstructured's text partitioner, a line
    starting with a bullet is an item of its own, and so is each line of a block of short lines
    (an address, a letterhead)."""
    lines = text.splitlines()
    blank = sum(1 for line in lines if not line.strip())
    if lines and blank / len(lines) >= 0.1:
        paragraphs: list[str] = []
        for block in re.split(r"\n\s*\n", text):
            block_lines = [line.strip() for line in block.splitlines() if line.strip()]
            if all(len(line.split()) < _SHORT_LINE_WORDS for line in block_lines):
                paragraphs.extend(block_lines)
                continue
            current: list[str] = []
            for line in block_lines:
                if _BULLET.match(line) and current:
                    paragraphs.append(" ".join(current))
                    current = []
                current.append(line)
            paragraphs.append(" ".join(current))
    else:
        paragraphs = lines
    by_line = paragraphs is lines
    paragraphs = [" ".join(p.split()) for p in paragraphs]
    paragraphs = [p for p in paragraphs if p]
    elements = []
    for position, paragraph in enumerate(paragraphs):
        before = paragraphs[position - 1] if position else ""
        after = paragraphs[position + 1] if position + 1 < len(paragraphs) else ""
        if _BULLET.match(paragraph):
            elements.append(_Element("ListItem", _BULLET.sub("", paragraph)))
        elif _NUMBERED.match(paragraph):
            elements.append(_Element("ListItem", paragraph))
        elif _looks_like_title(paragraph, before, after, by_line):
            elements.append(_Element("Title", paragraph, 0))
        else:
            elements.append(_Element("NarrativeText", paragraph))
    return elements


def _looks_like_title(text: str, before: str, after: str, by_line: bool) -> bool:
    """A line shaped like a heading that is not a line of wrapped prose: the text before it
    ends a sentence (or, between blank lines, is shaped like a heading too: a title and its
    subtitle), and the text after it, which there must be, does not go on in lower case."""
    return (
        _heading_shape(text)
        and (not before or before[-1] in ".!?:" or (not by_line and _heading_shape(before)))
        and bool(after)
        and not after[0].islower()
    )


def _heading_shape(text: str) -> bool:
    """Short, starting with a capital or digit, with letters, not ending like a sentence or a
    clause."""
    return (
        0 < len(text.split()) <= _TITLE_MAX_WORDS
        and (text[0].isupper() or text[0].isdigit())
        and any(c.isalpha() for c in text)
        and text[-1] not in ".,;:!?"
    )
